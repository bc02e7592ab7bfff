/* `cocoon model quantize`: rewrites a GGUF model with its 2-D weight matrices in Q8_0 or
 * Q4_0 (ggml's reference rounding, so llama.cpp loads the result). Every other tensor (norms,
 * biases, matrices whose rows are not whole blocks) is copied unchanged, as are all metadata
 * pairs except general.file_type, which is set to llama.cpp's MOSTLY_Q8_0 (7) or MOSTLY_Q4_0
 * (2). The output is written to a temporary file and renamed into place. */
#ifndef COCOON_ENGINE_QUANTIZE_H
#define COCOON_ENGINE_QUANTIZE_H

#include <stdint.h>

#include "base/err.h"

typedef struct {
    uint32_t n_quantized;
    uint32_t n_copied;
    uint64_t bytes_in;
    uint64_t bytes_out;
} quantize_stats;

/* type: GGML_T_Q8_0 or GGML_T_Q4_0 */
MUST_CHECK err_t model_quantize(const char *in, const char *out, uint32_t type,
                                quantize_stats *stats);

#endif
