/* TL message decoder harness. Input: a boxed TL object (any constructor the project declares).
 * Invariant: whatever decodes re-encodes to exactly the bytes it was decoded from (the decoder
 * is strict: canonical lengths, zero padding, known Bool values), and every polymorphic type
 * either decodes the same prefix or refuses it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/cur.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/tl.h"
#include "proto/tlobj.h"

static void check_roundtrip(const tlo_desc *d, const uint8_t *data, size_t size) {
    void *obj = malloc(d->size);
    if (!obj) {
        return;
    }
    cur c;
    cur_init(&c, data, size);
    if (tlo_decode(&c, d, obj) == ERR_OK) {
        buf b;
        buf_init(&b, BUF_DEFAULT_MAX);
        if (tlo_encode(&b, d, obj) != ERR_OK || b.len != c.pos ||
            memcmp(b.data, data, b.len) != 0) {
            abort();
        }
        buf_free(&b);
        tlo_free(d, obj);
    } else if (c.pos != 0) {
        abort(); /* a failed decode must leave the cursor alone */
    }
    free(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cur c;
    cur_init(&c, data, size);
    uint32_t id;
    if (tl_read_u32(&c, &id) == ERR_OK) {
        const tlo_desc *d = cm_find(id);
        if (d) {
            check_roundtrip(d, data, size);
        }
    }
    for (size_t i = 0; i < cm_all_types_count; i++) {
        const tlo_type *t = cm_all_types[i];
        void *obj = malloc(t->size);
        if (!obj) {
            break;
        }
        cur_init(&c, data, size);
        if (tlo_type_decode(&c, t, obj) == ERR_OK) {
            buf b;
            buf_init(&b, BUF_DEFAULT_MAX);
            if (tlo_type_encode(&b, t, obj) != ERR_OK || b.len != c.pos ||
                memcmp(b.data, data, b.len) != 0) {
                abort();
            }
            buf_free(&b);
            tlo_type_free(t, obj);
        }
        free(obj);
    }
    /* the primitive string reader on its own */
    cur_init(&c, data, size);
    tl_bytes s;
    while (tl_read_bytes(&c, PROTO_MAX_STRING, &s) == ERR_OK) {
        buf b;
        buf_init(&b, BUF_DEFAULT_MAX);
        if (tl_write_bytes(&b, s.p, s.len) != ERR_OK || b.len != tl_bytes_size(s.len)) {
            abort();
        }
        buf_free(&b);
    }
    return 0;
}
