/* Compute kernels behind a table of function pointers, chosen at run time: a portable C
 * version, and an AVX2/FMA/F16C version compiled with per-function target attributes so the
 * binary still runs on CPUs without them.
 *
 * Weight rows are in a ggml type (F32, F16, BF16, Q8_0, Q4_0); activations are f32. For a
 * given table, dot(type, w, x) returns exactly dot_f32(dequant(w), x), so a row gives the same
 * result whether it is used for one token (fused) or dequantized first. */
#ifndef COCOON_ENGINE_KERN_H
#define COCOON_ENGINE_KERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;
    float (*dot)(uint32_t type, const void *w, const float *x, size_t n);
    void (*dequant)(uint32_t type, const void *w, float *out, size_t n);
    float (*dot_f32)(const float *a, const float *b, size_t n);
    /* Batch product for prefill: y[t * ys + r] = w_r . x_t for r < n_rows, t < n_tok, with
     * w_r = w + r * n and x_t = x + t * xs (rows of n floats). Each result depends only on
     * its own row and token (never on n_rows, n_tok or the position in the batch), so any
     * split of a batch gives identical numbers; it may differ from dot_f32 in rounding. */
    void (*gemm)(const float *w, size_t n_rows, const float *x, size_t xs, size_t n_tok, size_t n,
                 float *y, size_t ys);
    /* A Q8_0 or Q4_0 row against activations quantized by quant_act_q8 (xq values, xd one
     * scale per block of 32): integer products summed exactly per block, then scaled. The
     * tables differ only in how the scaled block sums are added. */
    float (*dot_q8)(uint32_t type, const void *w, const int8_t *xq, const float *xd, size_t n);
    /* y += a * x */
    void (*axpy)(float a, const float *x, float *y, size_t n);
} kern_ops;

const kern_ops *kern_portable(void);
/* NULL when this CPU lacks AVX2, FMA or F16C. */
const kern_ops *kern_avx2(void);
/* The fastest table this CPU supports. */
const kern_ops *kern_best(void);
/* Whether kernels exist for weights of this ggml type. */
bool kern_type_supported(uint32_t type);

#endif
