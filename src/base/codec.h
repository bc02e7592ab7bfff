/* Text encodings of binary data: lowercase hex and RFC 4648 base64 (standard and URL-safe).
 * Decoders are strict: canonical padding only, no whitespace, no mixed alphabets. */
#ifndef COCOON_BASE_CODEC_H
#define COCOON_BASE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* out must hold 2*n+1 chars; NUL-terminated, lowercase. */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Accepts upper and lower case. ERR_BAD_ENCODING on odd length or a non-hex char,
 * ERR_TOO_LARGE if the result would exceed cap. */
MUST_CHECK err_t hex_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

size_t b64_encoded_len(size_t n);
/* out must hold b64_encoded_len(n)+1 chars; NUL-terminated. */
void b64_encode(const uint8_t *in, size_t n, char *out, bool url);
/* Strict: length multiple of 4 with '=' padding (url=false), or unpadded/padded url alphabet
 * (url=true). Non-zero unused trailing bits are rejected (canonical form). */
MUST_CHECK err_t b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len,
                            bool url);

#endif
