#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "engine/gguf.h"
#include "engine/kern.h"
#include "engine/quant.h"

static void test_fp16_conversion(void **state) {
    (void)state;
    static const struct {
        float f;
        uint16_t h;
    } cases[] = {
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
        {1.0f, 0x3c00},
        {-2.0f, 0xc000},
        {65504.0f, 0x7bff},
        {65520.0f, 0x7c00},
        {0x1p-24f, 0x0001},
        {0x1p-25f, 0x0000},
        {0x1.8p-25f, 0x0001},
        {0x1p-14f, 0x0400},
        {1.0f + 0x1p-11f, 0x3c00},
        {1.0f + 0x3p-11f, 0x3c02},
        {INFINITY, 0x7c00},
        {0.1f, 0x2e66},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(f32_to_fp16(cases[i].f), cases[i].h);
    }
    /* every finite half converts to f32 and back unchanged */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
            continue; /* NaN */
        }
        assert_int_equal(f32_to_fp16(fp16_to_f32((uint16_t)h)), h);
    }
    assert_true(bf16_to_f32(0x3f80) == 1.0f);
}

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static float rnd(uint32_t *s) {
    return (float)lcg(s) / (float)(1u << 24) * 2.0f - 1.0f;
}

/* Quantize-dequantize error is at most half a step (Q8_0: amax/254; Q4_0: |max|/16). */
static void test_quant_round_trip(void **state) {
    (void)state;
    uint32_t s = 1;
    float x[256];
    float y[256];
    uint8_t q[256 * 2];
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < 256; i++) {
            x[i] = rnd(&s) * (float)(rep + 1);
        }
        x[5] = 0.0f;
        quant_q8_0_row(x, q, 256);
        dequant_row(GGML_T_Q8_0, q, y, 256);
        for (int b = 0; b < 8; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = fmaxf(amax, fabsf(x[b * 32 + j]));
            }
            for (int j = 0; j < 32; j++) {
                /* half a step, plus the f16 rounding of the scale (2^-11 relative, times 127) */
                assert_true(fabsf(x[b * 32 + j] - y[b * 32 + j]) <= amax / 127.0f * 0.57f + 1e-6f);
            }
        }
        quant_q4_0_row(x, q, 256);
        dequant_row(GGML_T_Q4_0, q, y, 256);
        for (int b = 0; b < 8; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = fmaxf(amax, fabsf(x[b * 32 + j]));
            }
            for (int j = 0; j < 32; j++) {
                assert_true(fabsf(x[b * 32 + j] - y[b * 32 + j]) <= amax / 8.0f * 1.01f + 1e-6f);
            }
        }
    }
    /* an all-zero block has scale 0 and decodes to zeros */
    memset(x, 0, sizeof(x));
    quant_q4_0_row(x, q, 32);
    dequant_row(GGML_T_Q4_0, q, y, 32);
    for (int j = 0; j < 32; j++) {
        assert_true(y[j] == 0.0f);
    }
}

/* For each kernel table and type: dot(w, x) == dot_f32(dequant(w), x) bit for bit, and both
 * are close to a double-precision reference. */
static void test_dot_consistency(void **state) {
    (void)state;
    const kern_ops *ks[2] = {kern_portable(), kern_avx2()};
    uint32_t types[] = {GGML_T_F32, GGML_T_F16, GGML_T_BF16, GGML_T_Q8_0, GGML_T_Q4_0};
    size_t lens[] = {32, 64, 288, 768, 40, 7};
    uint32_t s = 3;
    static float x[1024];
    static float w[1024];
    static float wd[1024];
    static uint8_t raw[4096];
    for (int ki = 0; ki < 2; ki++) {
        if (!ks[ki]) {
            continue;
        }
        const kern_ops *k = ks[ki];
        for (size_t ti = 0; ti < 5; ti++) {
            for (size_t li = 0; li < 6; li++) {
                size_t n = lens[li];
                uint32_t t = types[ti];
                if ((t == GGML_T_Q8_0 || t == GGML_T_Q4_0) && n % 32) {
                    continue;
                }
                for (size_t i = 0; i < n; i++) {
                    x[i] = rnd(&s);
                    w[i] = rnd(&s);
                }
                switch (t) {
                case GGML_T_F32:
                    memcpy(raw, w, n * 4);
                    break;
                case GGML_T_F16:
                    for (size_t i = 0; i < n; i++) {
                        uint16_t h = f32_to_fp16(w[i]);
                        memcpy(raw + 2 * i, &h, 2);
                    }
                    break;
                case GGML_T_BF16:
                    for (size_t i = 0; i < n; i++) {
                        uint32_t b;
                        memcpy(&b, &w[i], 4);
                        uint16_t h = (uint16_t)(b >> 16);
                        memcpy(raw + 2 * i, &h, 2);
                    }
                    break;
                case GGML_T_Q8_0:
                    quant_q8_0_row(w, raw, n);
                    break;
                default:
                    quant_q4_0_row(w, raw, n);
                    break;
                }
                k->dequant(t, raw, wd, n);
                float ref_deq[1024];
                dequant_row(t, raw, ref_deq, n);
                assert_memory_equal(wd, ref_deq, n * sizeof(float));
                float a = k->dot(t, raw, x, n);
                float b = k->dot_f32(wd, x, n);
                assert_true(a == b);
                double r = 0;
                double mag = 0;
                for (size_t i = 0; i < n; i++) {
                    r += (double)wd[i] * x[i];
                    mag += fabs((double)wd[i] * x[i]);
                }
                assert_true(fabs(a - r) <= 1e-5 * mag + 1e-7);
            }
        }
    }
}

/* A batch result depends only on its row and token: the whole 9 x 7 product equals every
 * 1 x 1 product bit for bit, and matches double precision closely. */
static void test_gemm_split_invariant(void **state) {
    (void)state;
    const kern_ops *ks[2] = {kern_portable(), kern_avx2()};
    size_t lens[] = {288, 300, 8, 5};
    uint32_t s = 11;
    static float w[9 * 300];
    static float x[7 * 300];
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        w[i] = rnd(&s);
    }
    for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++) {
        x[i] = rnd(&s);
    }
    for (int ki = 0; ki < 2; ki++) {
        if (!ks[ki]) {
            continue;
        }
        for (size_t li = 0; li < 4; li++) {
            size_t n = lens[li];
            float y[7 * 9];
            ks[ki]->gemm(w, 9, x, n, 7, n, y, 9);
            for (size_t t = 0; t < 7; t++) {
                for (size_t r = 0; r < 9; r++) {
                    float one;
                    ks[ki]->gemm(w + r * n, 1, x + t * n, n, 1, n, &one, 1);
                    assert_true(one == y[t * 9 + r]);
                    double ref = 0;
                    double mag = 0;
                    for (size_t i = 0; i < n; i++) {
                        ref += (double)w[r * n + i] * x[t * n + i];
                        mag += fabs((double)w[r * n + i] * x[t * n + i]);
                    }
                    assert_true(fabs(one - ref) <= 1e-5 * mag + 1e-7);
                }
            }
        }
    }
}

/* 8-bit activation dot products: the per-block integer sums are exact, so the portable and
 * AVX2 tables agree to float rounding, and both are within quantization error of f32. */
static void test_dot_q8(void **state) {
    (void)state;
    const kern_ops *ks[2] = {kern_portable(), kern_avx2()};
    uint32_t s = 5;
    static float x[1024];
    static float w[1024];
    static float wd[1024];
    static uint8_t raw[2048];
    static int8_t xq[1024];
    static float xd[32];
    for (int rep = 0; rep < 50; rep++) {
        size_t n = 32 * (size_t)(1 + rep % 9);
        for (size_t i = 0; i < n; i++) {
            x[i] = rnd(&s) * (float)(1 + rep % 3);
            w[i] = rnd(&s);
        }
        quant_act_q8(x, xq, xd, n);
        for (size_t i = 0; i < n; i++) {
            assert_true(xq[i] >= -127 && xq[i] <= 127);
        }
        uint32_t types[2] = {GGML_T_Q8_0, GGML_T_Q4_0};
        for (int ti = 0; ti < 2; ti++) {
            if (types[ti] == GGML_T_Q8_0) {
                quant_q8_0_row(w, raw, n);
            } else {
                quant_q4_0_row(w, raw, n);
            }
            dequant_row(types[ti], raw, wd, n);
            double ref = 0;
            double mag = 0;
            for (size_t i = 0; i < n; i++) {
                ref += (double)wd[i] * x[i];
                mag += fabs((double)wd[i] * x[i]);
            }
            float p = ks[0]->dot_q8(types[ti], raw, xq, xd, n);
            /* activations at 8 bits: relative error of a term at most ~1/127 */
            assert_true(fabs(p - ref) <= mag / 100.0);
            if (ks[1]) {
                float a = ks[1]->dot_q8(types[ti], raw, xq, xd, n);
                assert_true(fabsf(a - p) <= 1e-5f * (float)mag + 1e-6f);
            }
        }
    }
}

static void test_axpy(void **state) {
    (void)state;
    const kern_ops *ks[2] = {kern_portable(), kern_avx2()};
    for (int ki = 0; ki < 2; ki++) {
        if (!ks[ki]) {
            continue;
        }
        float x[19];
        float y[19];
        for (int i = 0; i < 19; i++) {
            x[i] = (float)i;
            y[i] = 1.0f;
        }
        ks[ki]->axpy(0.5f, x, y, 19);
        for (int i = 0; i < 19; i++) {
            assert_true(y[i] == 1.0f + 0.5f * (float)i);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_conversion), cmocka_unit_test(test_quant_round_trip),
        cmocka_unit_test(test_dot_consistency), cmocka_unit_test(test_gemm_split_invariant),
        cmocka_unit_test(test_dot_q8),          cmocka_unit_test(test_axpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
