/* HashmapE dictionaries (tvm.pdf §3.3; ../shared/reference/contracts.md §C.6): keys are
 * fixed-width big-endian bit strings, values are the rest of a leaf cell.
 *
 * The writer picks labels the way @ton/core does (short unless long or same is strictly
 * shorter), so the cells and their hashes match the JS tooling bit for bit. */
#ifndef COCOON_TON_DICT_H
#define COCOON_TON_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "cell.h"

#define TON_DICT_MAX_KEY_BITS TON_CELL_MAX_BITS

/* A key is key_bits bits MSB-first in ceil(key_bits/8) bytes. */

/* Look up key in a dictionary whose root is `root` (NULL = empty). On a hit *found is true and
 * *value is the leaf's remaining bits and refs. ERR_MALFORMED for an invalid tree. */
MUST_CHECK err_t ton_dict_get(const ton_cell *root, unsigned key_bits, const uint8_t *key,
                              ton_slice *value, bool *found);

/* Calls fn for every entry in ascending key order; a non-OK return stops and is returned. */
typedef err_t (*ton_dict_visit_fn)(void *ctx, const uint8_t *key, unsigned key_bits,
                                   ton_slice *value);
MUST_CHECK err_t ton_dict_foreach(const ton_cell *root, unsigned key_bits, ton_dict_visit_fn fn,
                                  void *ctx);

typedef struct {
    uint8_t key[(TON_DICT_MAX_KEY_BITS + 7) / 8];
    ton_slice value; /* bits and refs stored in the leaf */
} ton_dict_item;

/* Build the Hashmap root for items (any order; sorted in place). n == 0 gives *root = NULL
 * (hme_empty). Duplicate keys are ERR_MALFORMED. */
MUST_CHECK err_t ton_dict_build(ton_dict_item *items, size_t n, unsigned key_bits, ton_cell **root);

/* HashmapE in a slice / builder: Maybe ^Hashmap. *root is borrowed (or NULL when empty). */
MUST_CHECK err_t ts_dict(ton_slice *s, ton_cell **root);
MUST_CHECK err_t tb_dict(ton_builder *b, ton_cell *root);

#endif
