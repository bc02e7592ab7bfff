/* Token sampling: temperature, top-k, min-p, top-p over the logits of one position, with a
 * seeded generator so a request with a seed is reproducible. Temperature 0 is greedy (argmax,
 * lowest id on ties). The filters apply in this order: temperature, top-k, softmax, min-p
 * (relative to the most likely token), top-p (smallest set whose mass reaches p). */
#ifndef COCOON_ENGINE_SAMPLE_H
#define COCOON_ENGINE_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct {
    float temperature; /* <= 0: greedy */
    uint32_t top_k;    /* 0: off */
    float top_p;       /* >= 1: off */
    float min_p;       /* <= 0: off */
    uint64_t seed;
} sample_params;

typedef struct sampler sampler;

/* ERR_CONFIG for out-of-range parameters (negative or NaN values, top_p <= 0). */
MUST_CHECK err_t sampler_new(const sample_params *p, uint32_t n_vocab, sampler **out);
void sampler_free(sampler *s);
int32_t sampler_next(sampler *s, const float *logits);
int32_t sample_argmax(const float *logits, size_t n);

#endif
