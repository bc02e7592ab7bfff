/* Table-driven TL object codec.
 *
 * Each TL constructor the project declares is described by a static const tlo_desc (generated
 * into msg.c by tools/tlgen from tools/tlgen/cocoon.tl): its constructor id, the C struct size,
 * and one tlo_field per schema field with the member offset, wire kind and limit. One walker
 * encodes, decodes, compares and frees every message, so the rules (limits before allocation,
 * optional fields under flags, strict Bool/constructor checks) are written once.
 *
 * C representation:
 *   int/long/double   int32_t / int64_t / double
 *   int128/int256     uint8_t[16] / uint8_t[32]
 *   string/bytes      tl_bytes, BORROWED from the decoder's input (valid while it lives)
 *   Bool              bool;  flags:#  uint32_t
 *   bare constructor  the struct itself; boxed polymorphic type: a tlo_type union
 *   (vector T)        T *name plus uint32_t name_count, heap-allocated by the decoder
 *   flags.N?T         a plain member, meaningful (and on the wire) only while bit N is set
 * A decoded object owns only its vectors; tlo_free releases them (and is NULL-safe, idempotent
 * on a zeroed object). For encoding, the caller's object may point anywhere.
 */
#ifndef COCOON_PROTO_TLOBJ_H
#define COCOON_PROTO_TLOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cur.h"
#include "base/err.h"
#include "proto/tl.h"

typedef enum {
    TLO_INT,
    TLO_LONG,
    TLO_DOUBLE,
    TLO_INT128,
    TLO_INT256,
    TLO_BYTES,
    TLO_BOOL,
    TLO_FLAGS,
    TLO_BARE,   /* bare constructor (lowercase type in the schema) */
    TLO_BOXED,  /* boxed polymorphic type (capitalised type in the schema) */
    TLO_VECTOR, /* bare vector; `item` describes the elements */
} tlo_kind;

typedef struct tlo_desc tlo_desc;
typedef struct tlo_type tlo_type;

typedef struct {
    tlo_kind kind;
    size_t max;            /* TLO_BYTES: max length; TLO_VECTOR: max count */
    const tlo_desc *bare;  /* TLO_BARE */
    const tlo_type *boxed; /* TLO_BOXED */
} tlo_elem;

typedef struct {
    const char *name;
    tlo_elem t;
    tlo_elem item;     /* TLO_VECTOR only */
    size_t off;        /* member offset (vector: the items pointer) */
    size_t count_off;  /* TLO_VECTOR: offset of the uint32_t count */
    int flags_field;   /* index of the flags:# field guarding this one, or -1 */
    uint32_t flag_bit; /* bit number within that flags field */
} tlo_field;

struct tlo_desc {
    const char *name; /* schema name, e.g. "tcp.queryAnswer" */
    uint32_t id;
    size_t size;     /* sizeof the C struct */
    size_t min_wire; /* smallest bare encoding, for vector count checks */
    const tlo_field *fields;
    size_t nfields;
};

/* A boxed polymorphic type: C struct { uint32_t id; union { ... } u; } at union_off. */
struct tlo_type {
    const char *name; /* e.g. "tcp.Packet" */
    size_t size;
    size_t union_off;
    const tlo_desc *const *ctors;
    size_t nctors;
};

/* Size of one element of kind e in C. */
size_t tlo_elem_size(const tlo_elem *e);

/* Boxed encode (constructor id, then fields) / bare encode. On failure b is left as it was.
 * Strings and vectors above their limit are refused (ERR_TOO_LARGE / ERR_TOO_MANY) so that we
 * never send what a peer applying the same limits would reject. */
MUST_CHECK err_t tlo_encode(buf *b, const tlo_desc *d, const void *obj);
MUST_CHECK err_t tlo_encode_bare(buf *b, const tlo_desc *d, const void *obj);
/* Boxed decode: ERR_BAD_CONSTRUCTOR unless the id matches. On failure the cursor is unchanged
 * and obj is zeroed with nothing left allocated. Trailing input is left to the caller. */
MUST_CHECK err_t tlo_decode(cur *c, const tlo_desc *d, void *obj);
MUST_CHECK err_t tlo_decode_bare(cur *c, const tlo_desc *d, void *obj);
void tlo_free(const tlo_desc *d, void *obj);
bool tlo_eq(const tlo_desc *d, const void *a, const void *b);

/* The constructor of type t with id `id`, or NULL. */
const tlo_desc *tlo_type_ctor(const tlo_type *t, uint32_t id);
/* Polymorphic values: ERR_BAD_CONSTRUCTOR for an id that is not a constructor of t. */
MUST_CHECK err_t tlo_type_encode(buf *b, const tlo_type *t, const void *obj);
MUST_CHECK err_t tlo_type_decode(cur *c, const tlo_type *t, void *obj);
void tlo_type_free(const tlo_type *t, void *obj);
bool tlo_type_eq(const tlo_type *t, const void *a, const void *b);

#endif
