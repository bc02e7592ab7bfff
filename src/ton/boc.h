/* Bag of cells (serialized_boc#b5ee9c72, TON crypto/vm/boc.cpp; TL-B in tvm.pdf §5.3 and
 * ../shared/reference/contracts.md §C.5): the wire and storage form of cell trees.
 *
 * The writer produces exactly what @ton/core writes (same cell order, size fields, index and
 * CRC32C), so hashes of BOCs and of external messages agree with the JS tooling. The reader is
 * strict: anything @ton/core or the node would refuse, or that is not canonical (trailing bytes,
 * unsorted cells, non-canonical padding, stored hashes that do not match), is an error.
 */
#ifndef COCOON_TON_BOC_H
#define COCOON_TON_BOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "cell.h"

#define TON_BOC_MAGIC 0xb5ee9c72u
/* Legacy magics readers must still accept (tonlib does). */
#define TON_BOC_MAGIC_IDX 0x68ff65f3u
#define TON_BOC_MAGIC_IDX_CRC 0xacc3a728u

/* Default ceilings for a BOC from the network; callers may pass tighter ones. */
#define TON_BOC_DEFAULT_MAX_CELLS 65536u
#define TON_BOC_DEFAULT_MAX_ROOTS 16u

typedef struct {
    uint32_t max_cells; /* ERR_TOO_MANY above */
    uint32_t max_roots; /* ERR_TOO_MANY above */
} ton_boc_limits;

/* CRC-32C (Castagnoli, reflected 0x82f63b78, init/xorout 0xffffffff). */
uint32_t ton_crc32c(const void *data, size_t n);

/* Serialize a single-root BOC, appended to out. */
MUST_CHECK err_t ton_boc_serialize(const ton_cell *root, bool with_index, bool with_crc32c,
                                   buf *out);
/* Serialize and base64-encode (standard alphabet) into a malloc'd NUL-terminated string. */
MUST_CHECK err_t ton_boc_to_base64(const ton_cell *root, char **out);

/* Parse a BOC holding exactly one root. limits NULL means the defaults. On success *root holds
 * a reference the caller releases with ton_cell_unref. */
MUST_CHECK err_t ton_boc_parse(const uint8_t *data, size_t len, const ton_boc_limits *limits,
                               ton_cell **root);
/* Parse a BOC with 1..max roots; roots[0..*nroots) receive references. */
MUST_CHECK err_t ton_boc_parse_multi(const uint8_t *data, size_t len, const ton_boc_limits *limits,
                                     ton_cell **roots, size_t max, size_t *nroots);
/* base64 (standard or URL-safe alphabet) or hex text of a single-root BOC. */
MUST_CHECK err_t ton_boc_parse_text(const char *text, size_t len, const ton_boc_limits *limits,
                                    ton_cell **root);

#endif
