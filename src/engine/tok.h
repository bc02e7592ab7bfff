/* Tokenizers built from GGUF metadata (`tokenizer.ggml.*`, llama.cpp's naming):
 *
 *  - "gpt2": byte-level BPE. Text is split by the pre-tokenizer named in tokenizer.ggml.pre
 *    (GPT-2's regex, or the Llama 3 / Qwen2 one), each piece's bytes are mapped to GPT-2's
 *    byte-to-unicode alphabet and merged by rank from tokenizer.ggml.merges.
 *  - "llama": SentencePiece-style BPE. Spaces become U+2581, a leading one is added
 *    (tokenizer.ggml.add_space_prefix, default true), pieces merge by highest score, and
 *    characters outside the vocabulary fall back to <0xXX> byte tokens.
 *
 * The regexes are implemented by hand over Unicode classes (unicode.h); merging uses a heap
 * so a long piece costs O(n log n). */
#ifndef COCOON_ENGINE_TOK_H
#define COCOON_ENGINE_TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/gguf.h"

/* Token types (llama.cpp's llama_token_type). */
enum {
    TOK_T_NORMAL = 1,
    TOK_T_UNKNOWN = 2,
    TOK_T_CONTROL = 3,
    TOK_T_USER_DEFINED = 4,
    TOK_T_UNUSED = 5,
    TOK_T_BYTE = 6,
};

#define TOK_MAX_TEXT (16u << 20)

typedef struct tok tok;

typedef struct {
    int32_t *ids;
    size_t n;
    size_t cap;
} tok_vec;

void tok_vec_free(tok_vec *v);
MUST_CHECK err_t tok_vec_push(tok_vec *v, int32_t id);

MUST_CHECK err_t tok_from_gguf(const gguf *g, tok **out);
void tok_free(tok *t);
uint32_t tok_n_vocab(const tok *t);
/* -1 when the model defines none. */
int32_t tok_bos(const tok *t);
int32_t tok_eos(const tok *t);
bool tok_add_bos(const tok *t);
/* End of generation: EOS, EOT and the usual end-of-turn control tokens. */
bool tok_is_eog(const tok *t, int32_t id);
bool tok_is_control(const tok *t, int32_t id);
/* Id of a token by its exact vocabulary text; -1 when absent. */
int32_t tok_find(const tok *t, const char *text, size_t len);

/* Appends the ids of text (UTF-8; invalid bytes are tokenized as raw bytes) to out. With
 * parse_special, the texts of control and user-defined tokens become those tokens; without
 * it they are tokenized as ordinary text (untrusted input can never forge a turn boundary).
 * ERR_TOO_LARGE past TOK_MAX_TEXT bytes. Does not add BOS. */
MUST_CHECK err_t tok_encode(const tok *t, const char *text, size_t len, bool parse_special,
                            tok_vec *out);
/* The bytes a token stands for (control tokens: their text). Empty for an unknown id. */
const char *tok_piece(const tok *t, int32_t id, size_t *len);

#endif
