/* BOC parser: arbitrary bytes must parse or fail cleanly; anything accepted must survive a
 * serialize -> parse round trip with the same root hash (in every flag combination), and its
 * cells must be walkable as dictionaries and messages without faults. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "ton/boc.h"
#include "ton/cell.h"
#include "ton/cocoon.h"
#include "ton/dict.h"
#include "ton/msg.h"

static err_t count_entry(void *ctx, const uint8_t *key, unsigned key_bits, ton_slice *value) {
    (void)key;
    (void)key_bits;
    (void)value;
    (*(size_t *)ctx)++;
    return ERR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ton_boc_limits lim = {4096, 4};
    ton_cell *roots[4];
    size_t n = 0;
    if (ton_boc_parse_multi(data, size, &lim, roots, 4, &n) != ERR_OK) {
        return 0;
    }
    for (size_t r = 0; r < n; r++) {
        for (int flags = 0; flags < 4; flags++) {
            buf b;
            buf_init(&b, 1 << 24);
            if (ton_boc_serialize(roots[r], flags & 1, flags & 2, &b) != ERR_OK) {
                abort();
            }
            ton_cell *again;
            if (ton_boc_parse(b.data, b.len, &lim, &again) != ERR_OK) {
                abort();
            }
            if (memcmp(ton_cell_repr_hash(again), ton_cell_repr_hash(roots[r]), 32) != 0) {
                abort();
            }
            ton_cell_unref(again);
            buf_free(&b);
        }
        size_t entries = 0;
        err_t e = ton_dict_foreach(roots[r], 32, count_entry, &entries);
        ton_msg_info mi;
        e = ton_msg_parse(roots[r], &mi);
        cocoon_root root;
        if (cocoon_root_parse(roots[r], &root) == ERR_OK) {
            cocoon_root_clear(&root);
        }
        cocoon_params params;
        if (cocoon_params_parse(roots[r], &params) == ERR_OK) {
            cocoon_params_clear(&params);
        }
        static const uint8_t pub[32] = {1};
        ton_cell *payload;
        e = cocoon_signed_verify(pub, roots[r], &payload);
        (void)e; /* all may reject the tree: only faults matter here */
        ton_cell_unref(roots[r]);
    }
    return 0;
}
