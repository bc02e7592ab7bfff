/* TON cells: immutable, reference-counted nodes of up to 1023 data bits and 4 references,
 * with a bit-level builder and slice.
 *
 * Format facts come from the TON whitepaper ("tvm.pdf" §3.1, "tblkch.pdf" §5 on exotic cells)
 * and the reference DataCell logic as @ton/core reproduces it: a cell's representation hash at
 * level i is SHA-256 of d1(mask applied to i) ‖ d2 ‖ data-or-previous-hash ‖ child depths ‖
 * child hashes; Merkle proofs and updates look one level deeper into their children; a pruned
 * branch carries the hashes and depths of the levels it hides.
 *
 * A ton_cell is shared: ton_cell_ref/ton_cell_unref manage an atomic count, so cells may be
 * read from several threads. Every constructor validates (exotic layouts, levels, depth <= 1024)
 * so a cell that exists is well-formed.
 */
#ifndef COCOON_TON_CELL_H
#define COCOON_TON_CELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define TON_CELL_MAX_BITS 1023
#define TON_CELL_MAX_BYTES 128
#define TON_CELL_MAX_REFS 4
#define TON_CELL_MAX_LEVEL 3
/* The node rejects deeper cells (vm/cells: max_depth = 1024). */
#define TON_CELL_MAX_DEPTH 1024
#define TON_HASH_LEN 32

typedef enum {
    TON_CELL_ORDINARY = 0,
    TON_CELL_PRUNED = 1,
    TON_CELL_LIBRARY = 2,
    TON_CELL_MERKLE_PROOF = 3,
    TON_CELL_MERKLE_UPDATE = 4,
} ton_cell_type;

typedef struct ton_cell ton_cell;

/* Create a cell from bits (MSB first, `bits` of them) and refs (each gains a reference).
 * For exotic=true the first byte is the exotic type and its layout is checked
 * (ERR_MALFORMED on any violation). ERR_TOO_LARGE over 1023 bits, 4 refs or depth 1024. */
MUST_CHECK err_t ton_cell_create(bool exotic, const uint8_t *data, unsigned bits,
                                 ton_cell *const *refs, unsigned nrefs, ton_cell **out);

ton_cell *ton_cell_ref(ton_cell *c);
void ton_cell_unref(ton_cell *c); /* NULL-safe */

ton_cell_type ton_cell_kind(const ton_cell *c);
bool ton_cell_is_exotic(const ton_cell *c);
unsigned ton_cell_bits(const ton_cell *c);
/* ceil(bits/8) bytes; bits past the end are zero. */
const uint8_t *ton_cell_data(const ton_cell *c);
unsigned ton_cell_nrefs(const ton_cell *c);
ton_cell *ton_cell_child(const ton_cell *c, unsigned i);
unsigned ton_cell_level_mask(const ton_cell *c);
unsigned ton_cell_level(const ton_cell *c);
/* Hash and depth at a level 0..3 (levels above the cell's own level give its representation
 * hash). The representation hash is ton_cell_hash(c, TON_CELL_MAX_LEVEL). */
const uint8_t *ton_cell_hash(const ton_cell *c, unsigned level);
uint16_t ton_cell_depth(const ton_cell *c, unsigned level);
/* Representation hash and depth (the values used for BOC, addresses and signatures). */
const uint8_t *ton_cell_repr_hash(const ton_cell *c);
uint16_t ton_cell_repr_depth(const ton_cell *c);
/* Same bits, same refs, same type. */
bool ton_cell_equal(const ton_cell *a, const ton_cell *b);

/* ---- builder ---- */

typedef struct {
    uint8_t data[TON_CELL_MAX_BYTES];
    unsigned bits;
    unsigned nrefs;
    ton_cell *refs[TON_CELL_MAX_REFS]; /* owned */
} ton_builder;

void tb_init(ton_builder *b);
/* Drops the builder's references (for error paths; tb_finish does it too). */
void tb_clear(ton_builder *b);
unsigned tb_bits_left(const ton_builder *b);
/* All appends fail with ERR_TOO_LARGE (builder unchanged) when the cell would overflow. */
MUST_CHECK err_t tb_bit(ton_builder *b, bool v);
/* Unsigned value in n <= 64 bits; ERR_MALFORMED if v does not fit. */
MUST_CHECK err_t tb_uint(ton_builder *b, uint64_t v, unsigned n);
/* Two's complement signed value in 1 <= n <= 64 bits; ERR_MALFORMED if v does not fit. */
MUST_CHECK err_t tb_int(ton_builder *b, int64_t v, unsigned n);
MUST_CHECK err_t tb_zeros(ton_builder *b, unsigned n);
/* n bits of src starting at bit offset `off` (MSB-first). */
MUST_CHECK err_t tb_bits(ton_builder *b, const uint8_t *src, unsigned off, unsigned n);
MUST_CHECK err_t tb_bytes(ton_builder *b, const void *src, size_t n);
/* Adds a reference to c (the caller keeps its own). */
MUST_CHECK err_t tb_ref(ton_builder *b, ton_cell *c);
/* Finish into an ordinary (or exotic) cell; the builder is reset either way. */
MUST_CHECK err_t tb_finish(ton_builder *b, ton_cell **out);
MUST_CHECK err_t tb_finish_exotic(ton_builder *b, ton_cell **out);

/* ---- slice: a read cursor over a cell's bits and refs ---- */

typedef struct {
    const ton_cell *cell;
    unsigned bit_pos, bit_end;
    unsigned ref_pos, ref_end;
} ton_slice;

/* Reads the raw bits of any cell (exotic ones included). */
void ts_init(ton_slice *s, const ton_cell *c);
unsigned ts_bits_left(const ton_slice *s);
unsigned ts_refs_left(const ton_slice *s);
/* All reads fail with ERR_TRUNCATED (TVM "cell underflow") and leave the slice unchanged. */
MUST_CHECK err_t ts_bit(ton_slice *s, bool *out);
MUST_CHECK err_t ts_uint(ton_slice *s, unsigned n, uint64_t *out);
MUST_CHECK err_t ts_int(ton_slice *s, unsigned n, int64_t *out);
MUST_CHECK err_t ts_skip(ton_slice *s, unsigned n);
/* n bits MSB-first into out (ceil(n/8) bytes, unused low bits zeroed). */
MUST_CHECK err_t ts_bits(ton_slice *s, unsigned n, uint8_t *out);
MUST_CHECK err_t ts_bytes(ton_slice *s, size_t n, uint8_t *out);
/* Borrowed pointer: valid while the slice's cell is alive. */
MUST_CHECK err_t ts_ref(ton_slice *s, ton_cell **out);
/* Peek without consuming. */
MUST_CHECK err_t ts_peek_uint(const ton_slice *s, unsigned n, uint64_t *out);
/* Append the slice's remaining bits and refs to a builder. */
MUST_CHECK err_t tb_slice(ton_builder *b, const ton_slice *s);
/* ERR_TRAILING unless no bits and no refs remain (the contracts' end_parse). */
MUST_CHECK err_t ts_expect_end(const ton_slice *s);

#endif
