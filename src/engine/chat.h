/* Chat templates: the model's `tokenizer.chat_template` (Jinja) is recognised, not executed,
 * and mapped to one of the formats implemented here. A conversation becomes tokens with the
 * turn markers inserted as token ids and every role and content string tokenized as plain
 * text, so message text can never forge a turn marker.
 *
 *  ChatML:  <|im_start|>{role}\n{content}<|im_end|>\n ... [<|im_start|>assistant\n]
 *  Llama 3: <|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}
 *           <|eot_id|> ... [<|start_header_id|>assistant<|end_header_id|>\n\n]
 */
#ifndef COCOON_ENGINE_CHAT_H
#define COCOON_ENGINE_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "engine/gguf.h"
#include "engine/tok.h"

typedef enum { CHAT_CHATML, CHAT_LLAMA3 } chat_format;

typedef struct {
    const char *role;
    const char *content;
} chat_msg;

/* From the template text (NULL/absent: ChatML when the vocabulary has <|im_start|>).
 * ERR_MALFORMED for a template we do not recognise. */
MUST_CHECK err_t chat_detect(const gguf *g, const tok *t, chat_format *out);
const char *chat_format_name(chat_format f);
/* Roles are limited to system, user, assistant and tool. */
MUST_CHECK err_t chat_tokenize(chat_format f, const tok *t, const chat_msg *msgs, size_t n,
                               bool add_generation_prompt, tok_vec *out);
/* The same conversation as the text the Jinja template renders (for display and tests). */
MUST_CHECK err_t chat_render(chat_format f, const chat_msg *msgs, size_t n,
                             bool add_generation_prompt, buf *out);

#endif
