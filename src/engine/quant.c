#include "quant.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "gguf.h"

float fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            /* subnormal: value = man * 2^-24, exact in f32 */
            float f = (float)man * 0x1p-24f;
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) { /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
    }
    if (ax >= 0x477ff000u) { /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00u);
    }
    if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        float a;
        memcpy(&a, &ax, 4);
        /* a * 2^24 is the subnormal mantissa; nearbyint rounds half to even */
        float m = nearbyintf(a * 0x1p24f);
        return (uint16_t)(sign | (uint16_t)m);
    }
    uint32_t mant = ax & 0x7fffffu;
    uint32_t e = (ax >> 23) - 112;
    uint32_t h = (e << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) {
        h++; /* may carry into the exponent, which is still correct */
    }
    return (uint16_t)(sign | h);
}

float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void quant_q8_0_row(const float *x, uint8_t *out, size_t n) {
    for (size_t b = 0; b < n / QK; b++) {
        const float *v = x + b * QK;
        uint8_t *o = out + b * Q8_0_BYTES;
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) {
            amax = fmaxf(amax, fabsf(v[j]));
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = f32_to_fp16(d);
        o[0] = (uint8_t)dh;
        o[1] = (uint8_t)(dh >> 8);
        for (int j = 0; j < QK; j++) {
            o[2 + j] = (uint8_t)(int8_t)roundf(v[j] * id);
        }
    }
}

void quant_act_q8(const float *x, int8_t *q, float *d, size_t n) {
    for (size_t b = 0; b < n / QK; b++) {
        const float *v = x + b * QK;
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) {
            amax = fmaxf(amax, fabsf(v[j]));
        }
        float db = amax / 127.0f;
        float id = db != 0.0f ? 1.0f / db : 0.0f;
        d[b] = fp16_to_f32(f32_to_fp16(db));
        for (int j = 0; j < QK; j++) {
            q[b * QK + j] = (int8_t)roundf(v[j] * id);
        }
    }
}

void quant_q4_0_row(const float *x, uint8_t *out, size_t n) {
    for (size_t b = 0; b < n / QK; b++) {
        const float *v = x + b * QK;
        uint8_t *o = out + b * Q4_0_BYTES;
        /* the scale maps the value of largest magnitude to -8, keeping its sign */
        float amax = 0.0f;
        float max = 0.0f;
        for (int j = 0; j < QK; j++) {
            if (fabsf(v[j]) > amax) {
                amax = fabsf(v[j]);
                max = v[j];
            }
        }
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = f32_to_fp16(d);
        o[0] = (uint8_t)dh;
        o[1] = (uint8_t)(dh >> 8);
        for (int j = 0; j < QK / 2; j++) {
            float a = v[j] * id + 8.5f;
            float c = v[j + QK / 2] * id + 8.5f;
            int qa = (int)a;
            int qc = (int)c;
            qa = qa < 0 ? 0 : (qa > 15 ? 15 : qa);
            qc = qc < 0 ? 0 : (qc > 15 ? 15 : qc);
            o[2 + j] = (uint8_t)(qa | (qc << 4));
        }
    }
}

static uint16_t rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

/* Every half value, converted once: the portable kernels' F16 path is a table lookup. */
static float f16_table[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;

static void f16_init(void) {
    for (uint32_t i = 0; i < 65536; i++) {
        f16_table[i] = fp16_to_f32((uint16_t)i);
    }
}

void dequant_row(uint32_t type, const void *w, float *out, size_t n) {
    const uint8_t *p = w;
    pthread_once(&f16_once, f16_init);
    switch (type) {
    case GGML_T_F32:
        memcpy(out, w, n * sizeof(float));
        return;
    case GGML_T_F16:
        for (size_t i = 0; i < n; i++) {
            out[i] = f16_table[rd16(p + 2 * i)];
        }
        return;
    case GGML_T_BF16:
        for (size_t i = 0; i < n; i++) {
            out[i] = bf16_to_f32(rd16(p + 2 * i));
        }
        return;
    case GGML_T_Q8_0:
        for (size_t b = 0; b < n / QK; b++) {
            const uint8_t *blk = p + b * Q8_0_BYTES;
            float d = f16_table[rd16(blk)];
            for (int j = 0; j < QK; j++) {
                out[b * QK + j] = (float)(int8_t)blk[2 + j] * d;
            }
        }
        return;
    case GGML_T_Q4_0:
        for (size_t b = 0; b < n / QK; b++) {
            const uint8_t *blk = p + b * Q4_0_BYTES;
            float d = f16_table[rd16(blk)];
            for (int j = 0; j < QK / 2; j++) {
                out[b * QK + j] = (float)((int)(blk[2 + j] & 0xf) - 8) * d;
                out[b * QK + j + QK / 2] = (float)((int)(blk[2 + j] >> 4) - 8) * d;
            }
        }
        return;
    default:
        memset(out, 0, n * sizeof(float));
        return;
    }
}
