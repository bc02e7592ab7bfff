/* GGUF container (versions 2 and 3): strict parser over bytes, mmap loader, and a writer.
 *
 * Format: ggml's docs/gguf.md. A file is a header (magic "GGUF", version, tensor count,
 * key/value count), the key/value metadata, the tensor infos, padding up to the alignment
 * (`general.alignment`, default 32) and the tensor data section. Everything is
 * little-endian. Every length, count, offset, dimension and type read from the file is
 * checked before it is used, so a parsed gguf only holds in-bounds, non-overlapping,
 * aligned tensors of known types.
 */
#ifndef COCOON_ENGINE_GGUF_H
#define COCOON_ENGINE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cur.h"
#include "base/err.h"

/* Limits (far above any real model, far below what could exhaust memory). */
#define GGUF_MAX_TENSORS 65536u
#define GGUF_MAX_KV 65536u
#define GGUF_MAX_KEY_LEN 65535u
#define GGUF_MAX_STRING_LEN (64u << 20)
#define GGUF_MAX_ARRAY_LEN (64u << 20)
/* ggml's GGML_MAX_NAME: tensor names are shorter than 64 bytes. */
#define GGUF_MAX_NAME_LEN 63u
#define GGUF_MAX_DIMS 4u
#define GGUF_MAX_ALIGNMENT 65536u
#define GGUF_DEFAULT_ALIGNMENT 32u
/* A single tensor may hold at most 2^40 elements (a 4 TiB F32 tensor). */
#define GGUF_MAX_ELEMENTS ((uint64_t)1 << 40)

/* Metadata value types (gguf.md, "gguf_metadata_value_type"). */
typedef enum {
    GGUF_T_U8 = 0,
    GGUF_T_I8 = 1,
    GGUF_T_U16 = 2,
    GGUF_T_I16 = 3,
    GGUF_T_U32 = 4,
    GGUF_T_I32 = 5,
    GGUF_T_F32 = 6,
    GGUF_T_BOOL = 7,
    GGUF_T_STRING = 8,
    GGUF_T_ARRAY = 9,
    GGUF_T_U64 = 10,
    GGUF_T_I64 = 11,
    GGUF_T_F64 = 12,
} gguf_vtype;

/* ggml tensor types whose layout we know (ggml.h enum ggml_type). */
typedef enum {
    GGML_T_F32 = 0,
    GGML_T_F16 = 1,
    GGML_T_Q4_0 = 2,
    GGML_T_Q4_1 = 3,
    GGML_T_Q5_0 = 6,
    GGML_T_Q5_1 = 7,
    GGML_T_Q8_0 = 8,
    GGML_T_Q8_1 = 9,
    GGML_T_Q2_K = 10,
    GGML_T_Q3_K = 11,
    GGML_T_Q4_K = 12,
    GGML_T_Q5_K = 13,
    GGML_T_Q6_K = 14,
    GGML_T_Q8_K = 15,
    GGML_T_I8 = 24,
    GGML_T_I16 = 25,
    GGML_T_I32 = 26,
    GGML_T_I64 = 27,
    GGML_T_F64 = 28,
    GGML_T_BF16 = 30,
} ggml_type;

/* Name, elements per block and bytes per block of a ggml type; false for unknown types. */
bool ggml_type_info(uint32_t type, const char **name, uint32_t *block, uint32_t *block_bytes);
/* Bytes of a row of n elements (n must be a multiple of the block size). */
uint64_t ggml_row_bytes(uint32_t type, uint64_t n);

/* A string borrowed from the file (not NUL-terminated). */
typedef struct {
    const char *p;
    size_t len;
} gguf_str;

typedef struct {
    gguf_str key;
    uint32_t type;
    /* scalars (integers are widened; bool is 0/1) */
    union {
        uint64_t u;
        int64_t i;
        double f;
    } v;
    gguf_str str;
    /* arrays: element type, count, and the raw bytes of the elements */
    uint32_t arr_type;
    uint64_t arr_len;
    const uint8_t *arr_data;
    size_t arr_bytes;
    /* the raw encoding of the whole pair (key included), for copying it into a new file */
    const uint8_t *raw;
    size_t raw_len;
} gguf_kv;

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    uint32_t type;
    uint64_t offset; /* relative to the data section */
    uint64_t n_elements;
    uint64_t n_bytes;
    const uint8_t *data;
} gguf_tensor;

typedef struct gguf gguf;

/* Parses a whole file held in memory (borrowed: it must outlive the gguf). */
MUST_CHECK err_t gguf_parse(const void *data, size_t len, gguf **out);
/* Maps the file read-only and parses it. */
MUST_CHECK err_t gguf_open(const char *path, gguf **out);
void gguf_free(gguf *g);

uint32_t gguf_version(const gguf *g);
uint32_t gguf_alignment(const gguf *g);
size_t gguf_kv_count(const gguf *g);
const gguf_kv *gguf_kv_at(const gguf *g, size_t i);
size_t gguf_tensor_count(const gguf *g);
const gguf_tensor *gguf_tensor_at(const gguf *g, size_t i);
/* Offset of the data section from the start of the file. */
size_t gguf_data_offset(const gguf *g);

/* NULL when absent. */
const gguf_kv *gguf_find(const gguf *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf *g, const char *name);

/* Typed getters: ERR_NOT_FOUND when absent, ERR_MALFORMED when of another type. get_u32
 * accepts any integer type whose value fits; get_f32 accepts F32 or F64. */
MUST_CHECK err_t gguf_get_u32(const gguf *g, const char *key, uint32_t *out);
MUST_CHECK err_t gguf_get_f32(const gguf *g, const char *key, float *out);
MUST_CHECK err_t gguf_get_bool(const gguf *g, const char *key, bool *out);
MUST_CHECK err_t gguf_get_str(const gguf *g, const char *key, gguf_str *out);
/* An array of the given element type. */
MUST_CHECK err_t gguf_get_arr(const gguf *g, const char *key, uint32_t arr_type,
                              const gguf_kv **out);
/* Iterating the strings of an array: init a cursor over arr_data, then call next arr_len
 * times (the parser has already validated every element). */
MUST_CHECK err_t gguf_next_str(cur *c, gguf_str *out);
bool gguf_str_eq(gguf_str s, const char *z);

/* Writer: header, metadata pairs and tensor infos into out; the caller appends the data. */
typedef struct {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint32_t type;
} gguf_wtensor;

MUST_CHECK err_t gguf_write_str(buf *b, const char *s, size_t len);
/* Writes header + kvs (each already encoded, e.g. raw bytes copied from gguf_kv or built with
 * the helpers below) + tensor infos with offsets laid out at `alignment`, padded to the data
 * section. tensor_offsets receives each tensor's offset. */
MUST_CHECK err_t gguf_write_header(buf *b, uint64_t n_kv, const buf *kvs, const gguf_wtensor *ts,
                                   size_t n_tensors, uint32_t alignment, uint64_t *tensor_offsets);
MUST_CHECK err_t gguf_write_kv_u32(buf *b, const char *key, uint32_t v);

#endif
