/* Llama-family transformer over GGUF weights: llama (RMSNorm, RoPE on adjacent pairs as in
 * llama.cpp's GGUF convention, SwiGLU, grouped-query attention, tied or untied output), qwen2
 * (plus Q/K/V biases, RoPE on halves) and qwen3 (plus per-head Q/K RMSNorm, RoPE on halves).
 * Activations and the KV cache are f32.
 *
 * A model is immutable after loading and may be shared by any number of contexts; a context
 * (KV cache, scratch, thread pool) is used by one thread at a time. */
#ifndef COCOON_ENGINE_MODEL_H
#define COCOON_ENGINE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/gguf.h"
#include "engine/kern.h"

#define MODEL_MAX_EMBD 65536u
#define MODEL_MAX_LAYERS 1024u
#define MODEL_MAX_VOCAB (1u << 21)
#define MODEL_MAX_HEAD_DIM 1024u
#define MODEL_MAX_HEADS 1024u
#define MODEL_MAX_FF (1u << 20)
#define MODEL_MAX_CTX (1u << 20)
/* Tokens per forward chunk during prefill. */
#define MODEL_BATCH 128u

typedef enum { MODEL_ARCH_LLAMA, MODEL_ARCH_QWEN2, MODEL_ARCH_QWEN3 } model_arch;

typedef struct {
    model_arch arch;
    uint32_t n_vocab;
    uint32_t n_ctx_train;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_ff;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;
    uint32_t rope_dim;
    bool rope_neox; /* rotate (i, i + d/2) instead of (2i, 2i + 1) */
    float rope_base;
    float rms_eps;
} model_hparams;

typedef struct model model;
typedef struct model_ctx model_ctx;

/* Takes ownership of g on success (the model keeps the mapping alive). */
MUST_CHECK err_t model_from_gguf(gguf *g, model **out);
MUST_CHECK err_t model_load(const char *path, model **out);
void model_free(model *m);
const model_hparams *model_params(const model *m);
const gguf *model_gguf(const model *m);

typedef struct {
    uint32_t n_ctx;       /* 0: the training context length */
    unsigned n_threads;   /* 0: 1 */
    const kern_ops *kern; /* NULL: kern_best() */
} model_ctx_opts;

MUST_CHECK err_t model_ctx_new(const model *m, const model_ctx_opts *o, model_ctx **out);
void model_ctx_free(model_ctx *c);
uint32_t model_ctx_n_ctx(const model_ctx *c);
/* Tokens already in the KV cache. */
uint32_t model_ctx_n_past(const model_ctx *c);
/* Forget everything after the first n_past tokens (n_past <= current). */
void model_ctx_truncate(model_ctx *c, uint32_t n_past);

/* Runs tokens through the model after the cached ones and writes the logits of the last one
 * (n_vocab floats) to logits when non-NULL. ERR_TOO_MANY when the context would overflow,
 * ERR_MALFORMED for a token id outside the vocabulary; the cache is unchanged on failure. */
MUST_CHECK err_t model_eval(model_ctx *c, const int32_t *tokens, size_t n, float *logits);

#endif
