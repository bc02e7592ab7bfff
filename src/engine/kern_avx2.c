/* AVX2 + FMA + F16C kernels. Each function carries a target attribute instead of the whole
 * file being built with -mavx2, so nothing here runs unless kern_avx2() found the features.
 *
 * Sum order: element i of a row goes to lane i % 8 of accumulator (i / 8) % 4; the four
 * accumulators are added (0+1)+(2+3) and the lanes reduced pairwise; elements past the last
 * multiple of 32 are added one by one to a scalar, then to the total. dot() and dot_f32() on
 * dequantized rows follow exactly this order. */
#include "kern.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 lo = _mm256_castps256_ps128(s);
    __m128 hi = _mm256_extractf128_ps(s, 1);
    __m128 q = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehl_ps(q, q);
    q = _mm_add_ps(q, sh);
    sh = _mm_shuffle_ps(q, q, 0x55);
    q = _mm_add_ss(q, sh);
    return _mm_cvtss_f32(q);
}

AVX2 static float a_dot_f32(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    float tail = 0.0f;
    for (; i < n; i++) {
        tail += a[i] * b[i];
    }
    return hsum(s0, s1, s2, s3) + tail;
}

AVX2 static inline float hsum1(__m256 s) {
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 0x55));
    return _mm_cvtss_f32(q);
}

/* gemm order for every (row, token): one 8-lane accumulator over the row in steps of 8, the
 * lanes reduced by hsum1, then the last n % 8 products added one by one. */
AVX2 static float gemm_one(const float *w, const float *x, size_t n) {
    __m256 a = _mm256_setzero_ps();
    size_t n8 = n / 8 * 8;
    for (size_t i = 0; i < n8; i += 8) {
        a = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a);
    }
    float s = hsum1(a);
    for (size_t i = n8; i < n; i++) {
        s += w[i] * x[i];
    }
    return s;
}

/* 4 rows x 3 tokens: 12 accumulators, 3 activation registers and one weight register. */
AVX2 static void gemm_4x3(const float *w, const float *x, size_t xs, size_t n, float *y,
                          size_t ys) {
    const float *w0 = w, *w1 = w + n, *w2 = w + 2 * n, *w3 = w + 3 * n;
    const float *x0 = x, *x1 = x + xs, *x2 = x + 2 * xs;
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
    __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
    size_t n8 = n / 8 * 8;
    for (size_t i = 0; i < n8; i += 8) {
        __m256 v0 = _mm256_loadu_ps(x0 + i);
        __m256 v1 = _mm256_loadu_ps(x1 + i);
        __m256 v2 = _mm256_loadu_ps(x2 + i);
        __m256 wv = _mm256_loadu_ps(w0 + i);
        a00 = _mm256_fmadd_ps(wv, v0, a00);
        a01 = _mm256_fmadd_ps(wv, v1, a01);
        a02 = _mm256_fmadd_ps(wv, v2, a02);
        wv = _mm256_loadu_ps(w1 + i);
        a10 = _mm256_fmadd_ps(wv, v0, a10);
        a11 = _mm256_fmadd_ps(wv, v1, a11);
        a12 = _mm256_fmadd_ps(wv, v2, a12);
        wv = _mm256_loadu_ps(w2 + i);
        a20 = _mm256_fmadd_ps(wv, v0, a20);
        a21 = _mm256_fmadd_ps(wv, v1, a21);
        a22 = _mm256_fmadd_ps(wv, v2, a22);
        wv = _mm256_loadu_ps(w3 + i);
        a30 = _mm256_fmadd_ps(wv, v0, a30);
        a31 = _mm256_fmadd_ps(wv, v1, a31);
        a32 = _mm256_fmadd_ps(wv, v2, a32);
    }
    __m256 acc[4][3] = {{a00, a01, a02}, {a10, a11, a12}, {a20, a21, a22}, {a30, a31, a32}};
    const float *ws[4] = {w0, w1, w2, w3};
    const float *xv[3] = {x0, x1, x2};
    for (int r = 0; r < 4; r++) {
        for (int t = 0; t < 3; t++) {
            float s = hsum1(acc[r][t]);
            for (size_t i = n8; i < n; i++) {
                s += ws[r][i] * xv[t][i];
            }
            y[t * ys + r] = s;
        }
    }
}

AVX2 static void a_gemm(const float *w, size_t n_rows, const float *x, size_t xs, size_t n_tok,
                        size_t n, float *y, size_t ys) {
    size_t r = 0;
    for (; r + 4 <= n_rows; r += 4) {
        size_t t = 0;
        for (; t + 3 <= n_tok; t += 3) {
            gemm_4x3(w + r * n, x + t * xs, xs, n, y + t * ys + r, ys);
        }
        for (; t < n_tok; t++) {
            for (size_t k = r; k < r + 4; k++) {
                y[t * ys + k] = gemm_one(w + k * n, x + t * xs, n);
            }
        }
    }
    for (; r < n_rows; r++) {
        for (size_t t = 0; t < n_tok; t++) {
            y[t * ys + r] = gemm_one(w + r * n, x + t * xs, n);
        }
    }
}

AVX2 static inline __m256 load_f16(const uint8_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

AVX2 static inline __m256 load_bf16(const uint8_t *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

AVX2 static inline float scale_of(const uint8_t *blk) {
    uint16_t h;
    memcpy(&h, blk, 2);
    return _cvtsh_ss(h);
}

/* 8 int8 -> 8 f32 times d */
AVX2 static inline __m256 q8x8(const uint8_t *q, __m256 d) {
    __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)q);
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)), d);
}

/* Q4_0 block: 32 values as four vectors of 8 (elements 0-7, 8-15, 16-23, 24-31). */
AVX2 static inline void q4x32(const uint8_t *blk, __m256 out[4]) {
    __m256 d = _mm256_set1_ps(scale_of(blk));
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
    __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(0x0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f));
    __m128i eight = _mm_set1_epi8(8);
    lo = _mm_sub_epi8(lo, eight);
    hi = _mm_sub_epi8(hi, eight);
    out[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d);
    out[1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d);
    out[2] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d);
    out[3] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d);
}

AVX2 static float a_dot(uint32_t type, const void *w, const float *x, size_t n) {
    const uint8_t *p = w;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    float tail = 0.0f;
    switch (type) {
    case GGML_T_F32:
        return a_dot_f32(w, x, n);
    case GGML_T_F16:
        for (; i + 32 <= n; i += 32) {
            const uint8_t *q = p + 2 * i;
            s0 = _mm256_fmadd_ps(load_f16(q), _mm256_loadu_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(load_f16(q + 16), _mm256_loadu_ps(x + i + 8), s1);
            s2 = _mm256_fmadd_ps(load_f16(q + 32), _mm256_loadu_ps(x + i + 16), s2);
            s3 = _mm256_fmadd_ps(load_f16(q + 48), _mm256_loadu_ps(x + i + 24), s3);
        }
        for (; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            tail += _cvtsh_ss(h) * x[i];
        }
        break;
    case GGML_T_BF16:
        for (; i + 32 <= n; i += 32) {
            const uint8_t *q = p + 2 * i;
            s0 = _mm256_fmadd_ps(load_bf16(q), _mm256_loadu_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(load_bf16(q + 16), _mm256_loadu_ps(x + i + 8), s1);
            s2 = _mm256_fmadd_ps(load_bf16(q + 32), _mm256_loadu_ps(x + i + 16), s2);
            s3 = _mm256_fmadd_ps(load_bf16(q + 48), _mm256_loadu_ps(x + i + 24), s3);
        }
        for (; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            tail += bf16_to_f32(h) * x[i];
        }
        break;
    case GGML_T_Q8_0:
        for (; i + 32 <= n; i += 32) {
            const uint8_t *blk = p + (i / QK) * Q8_0_BYTES;
            __m256 d = _mm256_set1_ps(scale_of(blk));
            s0 = _mm256_fmadd_ps(q8x8(blk + 2, d), _mm256_loadu_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(q8x8(blk + 10, d), _mm256_loadu_ps(x + i + 8), s1);
            s2 = _mm256_fmadd_ps(q8x8(blk + 18, d), _mm256_loadu_ps(x + i + 16), s2);
            s3 = _mm256_fmadd_ps(q8x8(blk + 26, d), _mm256_loadu_ps(x + i + 24), s3);
        }
        break;
    case GGML_T_Q4_0:
        for (; i + 32 <= n; i += 32) {
            __m256 v[4];
            q4x32(p + (i / QK) * Q4_0_BYTES, v);
            s0 = _mm256_fmadd_ps(v[0], _mm256_loadu_ps(x + i), s0);
            s1 = _mm256_fmadd_ps(v[1], _mm256_loadu_ps(x + i + 8), s1);
            s2 = _mm256_fmadd_ps(v[2], _mm256_loadu_ps(x + i + 16), s2);
            s3 = _mm256_fmadd_ps(v[3], _mm256_loadu_ps(x + i + 24), s3);
        }
        break;
    default:
        return 0.0f;
    }
    return hsum(s0, s1, s2, s3) + tail;
}

/* sum over 32 int8 pairs as 8 int32 lanes: |w| (unsigned) times x with w's sign */
AVX2 static inline __m256 i8dot(__m256i w, __m256i x) {
    __m256i aw = _mm256_sign_epi8(w, w);
    __m256i sx = _mm256_sign_epi8(x, w);
    __m256i p16 = _mm256_maddubs_epi16(aw, sx);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

AVX2 static inline __m256i q4_block(const uint8_t *blk) {
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)(blk + 2));
    __m128i lo = _mm_and_si128(raw, _mm_set1_epi8(0x0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f));
    return _mm256_sub_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1),
                           _mm256_set1_epi8(8));
}

/* Block b goes to accumulator b % 4 so that four FMA chains run in parallel. */
#define DOT_Q8_LOOP(LOADW, BYTES)                                                                  \
    for (; b + 4 <= nb; b += 4) {                                                                  \
        const uint8_t *k0 = p + b * (BYTES);                                                       \
        const int8_t *x0 = xq + b * QK;                                                            \
        a0 = _mm256_fmadd_ps(i8dot(LOADW(k0), _mm256_loadu_si256((const __m256i *)(x0))),          \
                             _mm256_set1_ps(scale_of(k0) * xd[b]), a0);                            \
        a1 = _mm256_fmadd_ps(                                                                      \
            i8dot(LOADW(k0 + (BYTES)), _mm256_loadu_si256((const __m256i *)(x0 + QK))),            \
            _mm256_set1_ps(scale_of(k0 + (BYTES)) * xd[b + 1]), a1);                               \
        a2 = _mm256_fmadd_ps(                                                                      \
            i8dot(LOADW(k0 + 2 * (BYTES)), _mm256_loadu_si256((const __m256i *)(x0 + 2 * QK))),    \
            _mm256_set1_ps(scale_of(k0 + 2 * (BYTES)) * xd[b + 2]), a2);                           \
        a3 = _mm256_fmadd_ps(                                                                      \
            i8dot(LOADW(k0 + 3 * (BYTES)), _mm256_loadu_si256((const __m256i *)(x0 + 3 * QK))),    \
            _mm256_set1_ps(scale_of(k0 + 3 * (BYTES)) * xd[b + 3]), a3);                           \
    }                                                                                              \
    for (; b < nb; b++) {                                                                          \
        const uint8_t *k0 = p + b * (BYTES);                                                       \
        __m256 t =                                                                                 \
            _mm256_fmadd_ps(i8dot(LOADW(k0), _mm256_loadu_si256((const __m256i *)(xq + b * QK))),  \
                            _mm256_set1_ps(scale_of(k0) * xd[b]),                                  \
                            b % 4 == 0   ? a0                                                      \
                            : b % 4 == 1 ? a1                                                      \
                                         : a2);                                                    \
        if (b % 4 == 0) {                                                                          \
            a0 = t;                                                                                \
        } else if (b % 4 == 1) {                                                                   \
            a1 = t;                                                                                \
        } else {                                                                                   \
            a2 = t;                                                                                \
        }                                                                                          \
    }

AVX2 static inline __m256i q8_load(const uint8_t *blk) {
    return _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
}

AVX2 static float a_dot_q8(uint32_t type, const void *w, const int8_t *xq, const float *xd,
                           size_t n) {
    const uint8_t *p = w;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t nb = n / QK;
    size_t b = 0;
    if (type == GGML_T_Q8_0) {
        DOT_Q8_LOOP(q8_load, Q8_0_BYTES)
    } else {
        DOT_Q8_LOOP(q4_block, Q4_0_BYTES)
    }
    return hsum(a0, a1, a2, a3);
}
#undef DOT_Q8_LOOP

AVX2 static void a_dequant(uint32_t type, const void *w, float *out, size_t n) {
    const uint8_t *p = w;
    size_t i = 0;
    switch (type) {
    case GGML_T_F16:
        for (; i + 8 <= n; i += 8) {
            _mm256_storeu_ps(out + i, load_f16(p + 2 * i));
        }
        break;
    case GGML_T_Q8_0:
        for (; i + 32 <= n; i += 32) {
            const uint8_t *blk = p + (i / QK) * Q8_0_BYTES;
            __m256 d = _mm256_set1_ps(scale_of(blk));
            for (int k = 0; k < 4; k++) {
                _mm256_storeu_ps(out + i + 8 * k, q8x8(blk + 2 + 8 * k, d));
            }
        }
        return;
    case GGML_T_Q4_0:
        for (; i + 32 <= n; i += 32) {
            __m256 v[4];
            q4x32(p + (i / QK) * Q4_0_BYTES, v);
            for (int k = 0; k < 4; k++) {
                _mm256_storeu_ps(out + i + 8 * k, v[k]);
            }
        }
        return;
    default:
        break;
    }
    if (i < n) {
        dequant_row(type, p + ggml_row_bytes(type, i), out + i, n - i);
    }
}

AVX2 static void a_axpy(float a, const float *x, float *y, size_t n) {
    __m256 va = _mm256_set1_ps(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) {
        y[i] += a * x[i];
    }
}

static const kern_ops AVX2_OPS = {
    .name = "avx2",
    .dot = a_dot,
    .dequant = a_dequant,
    .dot_f32 = a_dot_f32,
    .gemm = a_gemm,
    .dot_q8 = a_dot_q8,
    .axpy = a_axpy,
};

const kern_ops *kern_avx2_table(void);
const kern_ops *kern_avx2_table(void) {
    return &AVX2_OPS;
}

#endif
