/* The OpenAI-shape parsers that see hostile bytes: a request body as the worker rewrites it
 * (from any client, through the proxy), the client's peek, usage read from an answer stream fed
 * in two pieces at a data-chosen split, and the registry JSON. Properties: no crash, no leak,
 * a rewritten body parses again to the same verdict with the same caps, usage never negative,
 * and the usage scan of a whole answer agrees with the full parse of any valid document. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "http/openai.h"
#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) {
        return 0;
    }
    uint8_t sel = data[0];
    data++;
    size--;
    if (sel & 1) {
        openai_req_info a;
        if (openai_peek_request(data, size, &a) == ERR_OK && a.model[0] == 0) {
            __builtin_trap(); /* a peeked model is never empty */
        }
        buf out;
        buf_init(&out, OPENAI_BODY_MAX + 4096);
        openai_kind k = (sel & 2) ? OPENAI_CHAT : OPENAI_COMPLETIONS;
        if (openai_rewrite_request(k, data, size, "M", 64, &out, &a) == ERR_OK) {
            /* Idempotent: the rewritten body passes again with the same outcome. */
            buf again;
            buf_init(&again, OPENAI_BODY_MAX + 4096);
            openai_req_info b;
            if (openai_rewrite_request(k, out.data, out.len, "M", 64, &again, &b) != ERR_OK ||
                b.stream != a.stream || b.max_tokens != a.max_tokens || a.max_tokens > 64) {
                __builtin_trap();
            }
            buf_free(&again);
        }
        buf_free(&out);
    } else if (sel & 2) {
        registry *r = NULL;
        if (registry_from_json((const char *)data, size, &r) == ERR_OK) {
            uint8_t h[32] = {0};
            err_t e1 = registry_check_worker_image(r, h);
            err_t e2 = registry_check_model(r, "M", 1);
            if ((e1 != ERR_OK && e1 != ERR_IMAGE_NOT_ALLOWED) ||
                (e2 != ERR_OK && e2 != ERR_NOT_FOUND)) {
                __builtin_trap();
            }
        }
        registry_free(r);
    } else {
        size_t cut = size ? (size_t)data[0] * size / 256 : 0;
        openai_usage_counter c;
        openai_usage_init(&c, (sel & 4) != 0);
        openai_usage_feed(&c, data, cut);
        openai_usage_feed(&c, data + cut, size - cut);
        openai_usage u;
        openai_usage_finish(&c, &u);
        if (u.prompt < 0 || u.completion < 0 || u.cached > u.prompt || u.reasoning > u.completion ||
            u.total < u.prompt + u.completion) {
            __builtin_trap();
        }
        openai_usage_free(&c);
        /* The scan that finds a whole answer's usage agrees with parsing the whole document
         * whenever the document is valid JSON. */
        json_t *doc = json_loadb((const char *)data, size, 0, NULL);
        if (doc) {
            openai_usage fast, full;
            bool sf = openai_usage_of_json(data, size, false, &fast);
            bool sl = openai_usage_of_json(data, size, true, &full);
            if (sf != sl || memcmp(&fast, &full, sizeof(fast)) != 0) {
                __builtin_trap();
            }
            json_decref(doc);
        }
    }
    return 0;
}
