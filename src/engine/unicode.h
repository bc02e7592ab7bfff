/* Just enough Unicode for tokenizers: UTF-8 decoding and the letter / number / white-space
 * classes used by pre-tokenizer regexes (\p{L}, \p{N}, \s). */
#ifndef COCOON_ENGINE_UNICODE_H
#define COCOON_ENGINE_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t lo;
    uint32_t hi;
    uint8_t cls;
} uni_range;

enum { UNI_OTHER = 0, UNI_LETTER = 1, UNI_NUMBER = 2 };

extern const uni_range UNI_RANGES[];
extern const size_t UNI_RANGES_N;

/* UNI_LETTER (general category L*), UNI_NUMBER (N*) or UNI_OTHER. */
int uni_class(uint32_t cp);
/* The White_Space property (what \s matches in Unicode-aware regex engines). */
bool uni_is_space(uint32_t cp);
/* Decodes one UTF-8 sequence of s[0..n) (n >= 1) and returns its length. An invalid or
 * truncated sequence yields *cp = UNI_INVALID and length 1, so every input byte is covered
 * exactly once. */
#define UNI_INVALID 0xFFFFFFFFu
size_t uni_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* Encodes cp as UTF-8 into out (4 bytes room); returns the length. */
size_t uni_encode(uint32_t cp, uint8_t *out);

#endif
