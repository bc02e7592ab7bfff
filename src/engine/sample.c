#include "sample.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct {
    float v;
    int32_t id;
} cand;

struct sampler {
    sample_params p;
    uint32_t n;
    uint64_t s[4];
    cand *c;
};

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64 */
static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(sampler *s) {
    uint64_t r = rotl(s->s[1] * 5, 7) * 9;
    uint64_t t = s->s[1] << 17;
    s->s[2] ^= s->s[0];
    s->s[3] ^= s->s[1];
    s->s[1] ^= s->s[2];
    s->s[0] ^= s->s[3];
    s->s[2] ^= t;
    s->s[3] = rotl(s->s[3], 45);
    return r;
}

/* uniform in [0, 1) with 53 bits */
static double next_unit(sampler *s) {
    return (double)(next_u64(s) >> 11) * 0x1p-53;
}

err_t sampler_new(const sample_params *p, uint32_t n_vocab, sampler **out) {
    *out = NULL;
    if (!(p->temperature >= 0.0f && p->temperature <= 100.0f) ||
        !(p->top_p > 0.0f && p->top_p <= 1.0f) || !(p->min_p >= 0.0f && p->min_p <= 1.0f) ||
        n_vocab == 0) {
        return err_fail(ERR_CONFIG,
                        "sampling parameters out of range (temperature %g, top_p %g, "
                        "min_p %g)",
                        (double)p->temperature, (double)p->top_p, (double)p->min_p);
    }
    sampler *s = calloc(1, sizeof(*s));
    if (!s) {
        return err_fail(ERR_NOMEM, "sampler");
    }
    s->c = malloc(n_vocab * sizeof(cand));
    if (!s->c) {
        free(s);
        return err_fail(ERR_NOMEM, "sampler");
    }
    s->p = *p;
    s->n = n_vocab;
    uint64_t x = p->seed;
    for (int i = 0; i < 4; i++) {
        s->s[i] = splitmix(&x);
    }
    *out = s;
    return ERR_OK;
}

void sampler_free(sampler *s) {
    if (!s) {
        return;
    }
    free(s->c);
    free(s);
}

int32_t sample_argmax(const float *logits, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++) {
        if (logits[i] > logits[b]) {
            b = i;
        }
    }
    return (int32_t)b;
}

static int cmp_desc(const void *a, const void *b) {
    const cand *x = a;
    const cand *y = b;
    if (x->v != y->v) {
        return x->v > y->v ? -1 : 1;
    }
    return x->id - y->id;
}

int32_t sampler_next(sampler *s, const float *logits) {
    if (s->p.temperature <= 0.0f) {
        return sample_argmax(logits, s->n);
    }
    size_t n = s->n;
    for (size_t i = 0; i < n; i++) {
        s->c[i].v = logits[i] / s->p.temperature;
        s->c[i].id = (int32_t)i;
    }
    bool sorted = false;
    if (s->p.top_k > 0 && s->p.top_k < n) {
        qsort(s->c, n, sizeof(cand), cmp_desc);
        sorted = true;
        n = s->p.top_k;
    }
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        mx = s->c[i].v > mx ? s->c[i].v : mx;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        s->c[i].v = expf(s->c[i].v - mx);
        sum += s->c[i].v;
    }
    if (s->p.min_p > 0.0f) {
        /* the most likely token has weight exp(0) = 1 */
        size_t k = 0;
        sum = 0.0;
        for (size_t i = 0; i < n; i++) {
            if (s->c[i].v >= s->p.min_p) {
                s->c[k++] = s->c[i];
                sum += s->c[i].v;
            }
        }
        n = k;
    }
    if (s->p.top_p < 1.0f) {
        if (!sorted) {
            qsort(s->c, n, sizeof(cand), cmp_desc);
        }
        double acc = 0.0;
        size_t k = 0;
        while (k < n) {
            acc += s->c[k].v;
            k++;
            if (acc >= s->p.top_p * sum) {
                break;
            }
        }
        n = k;
        sum = acc;
    }
    double r = next_unit(s) * sum;
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        acc += s->c[i].v;
        if (r < acc) {
            return s->c[i].id;
        }
    }
    return s->c[n - 1].id;
}
