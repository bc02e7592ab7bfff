/* Number formats of weights: IEEE half and bfloat16 conversion, and ggml's Q8_0 and Q4_0
 * blocks (ggml-common.h: block_q8_0 = f16 scale + 32 int8; block_q4_0 = f16 scale + 16 bytes
 * of 4-bit values, low nibbles holding elements 0..15 and high nibbles 16..31, value
 * (q - 8) * d). */
#ifndef COCOON_ENGINE_QUANT_H
#define COCOON_ENGINE_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define QK 32
#define Q8_0_BYTES 34
#define Q4_0_BYTES 18

float fp16_to_f32(uint16_t h);
/* Round to nearest even, saturating to infinity like IEEE conversion. */
uint16_t f32_to_fp16(float f);
float bf16_to_f32(uint16_t h);

/* n must be a multiple of QK. Output is n / QK blocks. */
void quant_q8_0_row(const float *x, uint8_t *out, size_t n);
void quant_q4_0_row(const float *x, uint8_t *out, size_t n);

/* Activations to 8 bits for the Q8_0/Q4_0 dot products, as llama.cpp does (its vec_dot_type
 * for both is Q8_0): per block of 32, d = amax / 127 rounded to half precision, q = round(x / d)
 * using the unrounded d. n must be a multiple of QK. */
void quant_act_q8(const float *x, int8_t *q, float *d, size_t n);

/* Portable dequantization of one row of n elements of ggml type `type` (F32, F16, BF16, Q8_0,
 * Q4_0). Exact: every value it produces is representable in f32. */
void dequant_row(uint32_t type, const void *w, float *out, size_t n);

#endif
