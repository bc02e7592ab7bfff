#include "kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "gguf.h"
#include "quant.h"

bool kern_type_supported(uint32_t type) {
    return type == GGML_T_F32 || type == GGML_T_F16 || type == GGML_T_BF16 || type == GGML_T_Q8_0 ||
           type == GGML_T_Q4_0;
}

/* Eight independent partial sums (element i goes to sum i % 8) keep the dependency chain
 * short and let the compiler vectorise without reassociating. */
static float p_dot_f32(const float *a, const float *b, size_t n) {
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int k = 0; k < 8; k++) {
            s[k] += a[i + k] * b[i + k];
        }
    }
    for (; i < n; i++) {
        s[0] += a[i] * b[i];
    }
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static float p_dot(uint32_t type, const void *w, const float *x, size_t n) {
    if (type == GGML_T_F32) {
        return p_dot_f32(w, x, n);
    }
    /* dequantize in chunks so the sum order matches p_dot_f32 on the whole row */
    float s[8] = {0};
    float tmp[256];
    const uint8_t *p = w;
    size_t i = 0;
    uint64_t chunk_bytes = ggml_row_bytes(type, 256);
    for (; i + 256 <= n; i += 256, p += chunk_bytes) {
        dequant_row(type, p, tmp, 256);
        for (size_t j = 0; j < 256; j += 8) {
            for (int k = 0; k < 8; k++) {
                s[k] += tmp[j + k] * x[i + j + k];
            }
        }
    }
    size_t rest = n - i;
    if (rest) {
        dequant_row(type, p, tmp, rest);
        size_t j = 0;
        for (; j + 8 <= rest; j += 8) {
            for (int k = 0; k < 8; k++) {
                s[k] += tmp[j + k] * x[i + j + k];
            }
        }
        for (; j < rest; j++) {
            s[0] += tmp[j] * x[i + j];
        }
    }
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static void p_gemm(const float *w, size_t n_rows, const float *x, size_t xs, size_t n_tok, size_t n,
                   float *y, size_t ys) {
    for (size_t t = 0; t < n_tok; t++) {
        for (size_t r = 0; r < n_rows; r++) {
            y[t * ys + r] = p_dot_f32(w + r * n, x + t * xs, n);
        }
    }
}

static float p_dot_q8(uint32_t type, const void *w, const int8_t *xq, const float *xd, size_t n) {
    const uint8_t *p = w;
    float s = 0.0f;
    for (size_t b = 0; b < n / QK; b++) {
        int32_t isum = 0;
        float dw;
        if (type == GGML_T_Q8_0) {
            const uint8_t *blk = p + b * Q8_0_BYTES;
            dw = fp16_to_f32((uint16_t)(blk[0] | (blk[1] << 8)));
            for (int j = 0; j < QK; j++) {
                isum += (int8_t)blk[2 + j] * xq[b * QK + j];
            }
        } else {
            const uint8_t *blk = p + b * Q4_0_BYTES;
            dw = fp16_to_f32((uint16_t)(blk[0] | (blk[1] << 8)));
            for (int j = 0; j < QK / 2; j++) {
                isum += ((blk[2 + j] & 0xf) - 8) * xq[b * QK + j];
                isum += ((blk[2 + j] >> 4) - 8) * xq[b * QK + j + QK / 2];
            }
        }
        s += (float)isum * (dw * xd[b]);
    }
    return s;
}

static void p_axpy(float a, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        y[i] += a * x[i];
    }
}

static const kern_ops PORTABLE = {
    .name = "portable",
    .dot = p_dot,
    .dequant = dequant_row,
    .dot_f32 = p_dot_f32,
    .gemm = p_gemm,
    .dot_q8 = p_dot_q8,
    .axpy = p_axpy,
};

const kern_ops *kern_portable(void) {
    return &PORTABLE;
}

const kern_ops *kern_avx2_table(void);

const kern_ops *kern_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    unsigned a = 0;
    unsigned b = 0;
    unsigned c = 0;
    unsigned d = 0;
    /* Intel SDM vol. 2A, CPUID leaf 1: ECX bit 29 is F16C (not every compiler's
     * __builtin_cpu_supports knows it; avx2 and fma there also check the OS saves YMM) */
    bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    if (f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return kern_avx2_table();
    }
#endif
    return NULL;
}

const kern_ops *kern_best(void) {
    const kern_ops *k = kern_avx2();
    return k ? k : &PORTABLE;
}
