#include "quantize.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "kern.h"
#include "quant.h"

/* llama.cpp's llama_ftype values */
#define FTYPE_MOSTLY_Q4_0 2u
#define FTYPE_MOSTLY_Q8_0 7u

static bool should_quantize(const gguf_tensor *t) {
    return t->n_dims == 2 && t->ne[0] % QK == 0 && kern_type_supported(t->type);
}

static err_t write_all(FILE *f, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, f) != n) {
        return err_fail(ERR_IO, "write: %s", strerror(errno));
    }
    return ERR_OK;
}

err_t model_quantize(const char *in, const char *out, uint32_t type, quantize_stats *stats) {
    memset(stats, 0, sizeof(*stats));
    if (type != GGML_T_Q8_0 && type != GGML_T_Q4_0) {
        return err_fail(ERR_CONFIG, "quantization type must be q8_0 or q4_0");
    }
    gguf *g = NULL;
    FILE *f = NULL;
    char tmp[4096];
    bool tmp_made = false;
    buf kvs;
    buf hdr;
    buf_init(&kvs, (size_t)1 << 30);
    buf_init(&hdr, (size_t)1 << 30);
    gguf_wtensor *wt = NULL;
    uint64_t *offs = NULL;
    float *row = NULL;
    uint8_t *qrow = NULL;
    char(*names)[GGUF_MAX_NAME_LEN + 1] = NULL;
    err_t e = gguf_open(in, &g);
    if (e != ERR_OK) {
        goto out;
    }
    uint32_t ftype = type == GGML_T_Q8_0 ? FTYPE_MOSTLY_Q8_0 : FTYPE_MOSTLY_Q4_0;
    bool have_ftype = false;
    for (size_t i = 0; i < gguf_kv_count(g); i++) {
        const gguf_kv *kv = gguf_kv_at(g, i);
        if (gguf_str_eq(kv->key, "general.file_type")) {
            e = gguf_write_kv_u32(&kvs, "general.file_type", ftype);
            have_ftype = true;
        } else {
            e = buf_append(&kvs, kv->raw, kv->raw_len);
        }
        if (e != ERR_OK) {
            goto out;
        }
    }
    if (!have_ftype && (e = gguf_write_kv_u32(&kvs, "general.file_type", ftype)) != ERR_OK) {
        goto out;
    }
    size_t nt = gguf_tensor_count(g);
    wt = calloc(nt ? nt : 1, sizeof(*wt));
    offs = calloc(nt ? nt : 1, sizeof(*offs));
    names = calloc(nt ? nt : 1, sizeof(*names));
    uint64_t max_row = 1;
    for (size_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (t->ne[0] > max_row) {
            max_row = t->ne[0];
        }
    }
    row = malloc(max_row * sizeof(float));
    qrow = malloc(max_row * sizeof(float));
    if (!wt || !offs || !names || !row || !qrow) {
        e = err_fail(ERR_NOMEM, "quantize tables");
        goto out;
    }
    for (size_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        memcpy(names[i], t->name.p, t->name.len);
        wt[i].name = names[i];
        wt[i].n_dims = t->n_dims;
        memcpy(wt[i].ne, t->ne, sizeof(t->ne));
        wt[i].type = should_quantize(t) ? type : t->type; /* same type: copied */
    }
    uint32_t align = gguf_alignment(g);
    e = gguf_write_header(&hdr, gguf_kv_count(g) + (have_ftype ? 0 : 1), &kvs, wt, nt, align, offs);
    if (e != ERR_OK) {
        goto out;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", out, (long)getpid());
    f = fopen(tmp, "wb");
    if (!f) {
        e = err_fail(ERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    tmp_made = true;
    if ((e = write_all(f, hdr.data, hdr.len)) != ERR_OK) {
        goto out;
    }
    uint64_t pos = 0;
    static const uint8_t zeros[64] = {0};
    for (size_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        while (pos < offs[i]) {
            size_t n = offs[i] - pos < sizeof(zeros) ? (size_t)(offs[i] - pos) : sizeof(zeros);
            if ((e = write_all(f, zeros, n)) != ERR_OK) {
                goto out;
            }
            pos += n;
        }
        stats->bytes_in += t->n_bytes;
        if (wt[i].type == t->type) {
            stats->n_copied++;
            e = write_all(f, t->data, t->n_bytes);
            pos += t->n_bytes;
            stats->bytes_out += t->n_bytes;
        } else {
            stats->n_quantized++;
            uint64_t rows = t->n_elements / t->ne[0];
            uint64_t ib = ggml_row_bytes(t->type, t->ne[0]);
            uint64_t ob = ggml_row_bytes(type, t->ne[0]);
            for (uint64_t r = 0; r < rows && e == ERR_OK; r++) {
                dequant_row(t->type, t->data + r * ib, row, t->ne[0]);
                if (type == GGML_T_Q8_0) {
                    quant_q8_0_row(row, qrow, t->ne[0]);
                } else {
                    quant_q4_0_row(row, qrow, t->ne[0]);
                }
                e = write_all(f, qrow, ob);
            }
            pos += rows * ob;
            stats->bytes_out += rows * ob;
        }
        if (e != ERR_OK) {
            goto out;
        }
    }
    while (pos % align) {
        if ((e = write_all(f, zeros, 1)) != ERR_OK) {
            goto out;
        }
        pos++;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        e = err_fail(ERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        e = err_fail(ERR_IO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    f = NULL;
    if (rename(tmp, out) != 0) {
        e = err_fail(ERR_IO, "rename to %s: %s", out, strerror(errno));
        goto out;
    }
    tmp_made = false;
out:
    if (f) {
        fclose(f);
    }
    if (tmp_made) {
        unlink(tmp);
    }
    free(wt);
    free(offs);
    free(names);
    free(row);
    free(qrow);
    buf_free(&kvs);
    buf_free(&hdr);
    gguf_free(g);
    return e;
}
