/* GGUF parser, and the tokenizer and model loaders over whatever it accepts: no input may
 * crash, leak or read out of bounds; an accepted file's tensors lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf *g;
    if (gguf_parse(data, size, &g) != ERR_OK) {
        return 0;
    }
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (t->data < data || t->n_bytes > size || t->data + t->n_bytes > data + size) {
            abort();
        }
    }
    tok *t;
    if (tok_from_gguf(g, &t) == ERR_OK) {
        tok_vec v = {0};
        if (tok_encode(t, "Hello, world! <|im_start|> 123", 30, true, &v) == ERR_OK) {
            for (size_t i = 0; i < v.n; i++) {
                size_t len;
                (void)tok_piece(t, v.ids[i], &len);
            }
        }
        tok_vec_free(&v);
        tok_free(t);
    }
    model *m;
    if (model_from_gguf(g, &m) == ERR_OK) {
        model_free(m);
    } else {
        gguf_free(g);
    }
    return 0;
}
