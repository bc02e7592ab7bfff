/* Framer and link-layer harness. Input byte 0 picks the role and the feed chunk size; the rest
 * is a received byte stream. Invariants: every frame returned re-encodes (with a fresh encoder
 * numbering from 0) to exactly the bytes consumed for it; the decoder never returns a payload
 * outside [4, max]; the same stream through an rpc state machine never crashes or leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    uint8_t ctl = data[0];
    data++;
    size--;
    size_t chunk = (size_t)(ctl >> 1) + 1;
    size_t max = 4096;

    frame_dec d;
    frame_dec_init(&d, max);
    frame_enc e;
    frame_enc_init(&e, max);
    buf re;
    buf_init(&re, BUF_DEFAULT_MAX);
    size_t off = 0;
    size_t frame_start = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used;
        frame f;
        err_t err = frame_dec_feed(&d, data + off, n, &used, &f);
        off += used;
        if (err == ERR_AGAIN) {
            continue;
        }
        if (err != ERR_OK) {
            break;
        }
        if (f.len < PROTO_FRAME_MIN || f.len > max) {
            abort();
        }
        buf_reset(&re);
        if (frame_enc_write(&e, &re, f.payload, f.len) != ERR_OK || re.len != off - frame_start ||
            memcmp(re.data, data + frame_start, re.len) != 0) {
            abort();
        }
        frame_start = off;
    }
    buf_free(&re);
    frame_dec_free(&d);

    rpc_config cfg = {.role = (ctl & 1) ? RPC_DIALER : RPC_ACCEPTOR, .frame_max_in = max};
    rpc *r = rpc_new(&cfg, 0);
    if (!r) {
        return 0;
    }
    uint64_t now = 0;
    off = 0;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        size_t used;
        rpc_event ev;
        err_t err = rpc_recv(r, data + off, n, &used, now, &ev);
        off += used;
        now += 1000;
        if (err != ERR_OK && err != ERR_AGAIN) {
            break;
        }
        if (err == ERR_OK && ev.kind == RPC_EV_QUERY &&
            rpc_answer(r, ev.query_id, ev.data.p, ev.data.len) != ERR_OK) {
            break;
        }
        if (rpc_tick(r, now, &ev) != ERR_OK) {
            break;
        }
        buf_consume(rpc_output(r), rpc_output(r)->len);
    }
    rpc_free(r);
    return 0;
}
