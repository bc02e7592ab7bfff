#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "quant.h"

typedef struct {
    uint32_t type;
    const uint8_t *data;
    uint64_t rows;
    uint64_t cols;
    uint64_t row_bytes;
} wmat;

typedef struct {
    wmat wq, wk, wv, wo, gate, up, down;
    float *attn_norm, *ffn_norm;
    float *bq, *bk, *bv;    /* qwen2, else NULL */
    float *q_norm, *k_norm; /* qwen3, else NULL */
} layer;

struct model {
    gguf *g;
    model_hparams hp;
    wmat tok_embd;
    wmat output;
    float *output_norm;
    layer *layers;
};

struct model_ctx {
    const model *m;
    const kern_ops *k;
    pool *pool;
    uint32_t n_ctx;
    uint32_t n_past;
    float *kcache; /* [layer][pos][kv_dim] */
    float *vcache;
    float *rope_cos; /* [pos][rope_dim / 2] */
    float *rope_sin;
    /* per-batch activations */
    float *x, *xn, *q, *kv_k, *kv_v, *att, *ff_g, *ff_u;
    /* per-worker scratch: a dequantized weight row, and attention scores */
    float *wrow;
    size_t wrow_len;
    int8_t *xq; /* one token's activations at 8 bits, and their block scales */
    float *xd;
    float *scores;
};

static err_t tensor_fail(const char *name, const char *why) {
    return err_fail(ERR_MALFORMED, "tensor '%s': %s", name, why);
}

static err_t get_mat(const gguf *g, const char *name, uint64_t cols, uint64_t rows, bool optional,
                     wmat *out) {
    memset(out, 0, sizeof(*out));
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) {
        if (optional) {
            return ERR_OK;
        }
        return err_fail(ERR_NOT_FOUND, "tensor '%s' is missing", name);
    }
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows) {
        char why[128];
        snprintf(why, sizeof(why), "shape [%llu, %llu] (%u dims), expected [%llu, %llu]",
                 (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], t->n_dims,
                 (unsigned long long)cols, (unsigned long long)rows);
        return tensor_fail(name, why);
    }
    if (!kern_type_supported(t->type)) {
        const char *tn = "?";
        (void)ggml_type_info(t->type, &tn, NULL, NULL);
        return err_fail(ERR_MALFORMED, "tensor '%s' has type %s, which the engine does not support",
                        name, tn);
    }
    out->type = t->type;
    out->data = t->data;
    out->rows = rows;
    out->cols = cols;
    out->row_bytes = ggml_row_bytes(t->type, cols);
    return ERR_OK;
}

static err_t get_vec(const gguf *g, const char *name, uint64_t n, bool optional, float **out) {
    *out = NULL;
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (!t) {
        if (optional) {
            return ERR_OK;
        }
        return err_fail(ERR_NOT_FOUND, "tensor '%s' is missing", name);
    }
    if (t->n_dims != 1 || t->ne[0] != n) {
        return tensor_fail(name, "wrong shape for a vector");
    }
    if (t->type != GGML_T_F32 && t->type != GGML_T_F16 && t->type != GGML_T_BF16) {
        return tensor_fail(name, "vector type must be F32, F16 or BF16");
    }
    float *v = malloc(n * sizeof(float));
    if (!v) {
        return err_fail(ERR_NOMEM, "tensor '%s'", name);
    }
    dequant_row(t->type, t->data, v, n);
    *out = v;
    return ERR_OK;
}

static err_t get_hp_u32(const gguf *g, const char *arch, const char *key, uint32_t lo, uint32_t hi,
                        bool optional, uint32_t dflt, uint32_t *out) {
    char k[128];
    snprintf(k, sizeof(k), "%s.%s", arch, key);
    if (optional && !gguf_find(g, k)) {
        *out = dflt;
        return ERR_OK;
    }
    TRY(gguf_get_u32(g, k, out));
    if (*out < lo || *out > hi) {
        return err_fail(ERR_MALFORMED, "%s = %u outside [%u, %u]", k, *out, lo, hi);
    }
    return ERR_OK;
}

static err_t load_hparams(const gguf *g, model_hparams *hp) {
    gguf_str a;
    TRY(gguf_get_str(g, "general.architecture", &a));
    const char *arch;
    if (gguf_str_eq(a, "llama")) {
        hp->arch = MODEL_ARCH_LLAMA;
        arch = "llama";
    } else if (gguf_str_eq(a, "qwen2")) {
        hp->arch = MODEL_ARCH_QWEN2;
        arch = "qwen2";
    } else if (gguf_str_eq(a, "qwen3")) {
        hp->arch = MODEL_ARCH_QWEN3;
        arch = "qwen3";
    } else {
        return err_fail(ERR_MALFORMED, "architecture '%.*s' is not supported (llama, qwen2, qwen3)",
                        (int)(a.len > 64 ? 64 : a.len), a.p);
    }
    hp->rope_neox = hp->arch != MODEL_ARCH_LLAMA;
    TRY(get_hp_u32(g, arch, "embedding_length", 1, MODEL_MAX_EMBD, false, 0, &hp->n_embd));
    TRY(get_hp_u32(g, arch, "block_count", 1, MODEL_MAX_LAYERS, false, 0, &hp->n_layer));
    TRY(get_hp_u32(g, arch, "feed_forward_length", 1, MODEL_MAX_FF, false, 0, &hp->n_ff));
    TRY(get_hp_u32(g, arch, "context_length", 1, MODEL_MAX_CTX, false, 0, &hp->n_ctx_train));
    TRY(get_hp_u32(g, arch, "attention.head_count", 1, MODEL_MAX_HEADS, false, 0, &hp->n_head));
    TRY(get_hp_u32(g, arch, "attention.head_count_kv", 1, hp->n_head, true, hp->n_head,
                   &hp->n_head_kv));
    if (hp->n_head % hp->n_head_kv != 0) {
        return err_fail(ERR_MALFORMED, "%u heads are not a multiple of %u KV heads", hp->n_head,
                        hp->n_head_kv);
    }
    uint32_t hd_default = hp->n_embd % hp->n_head == 0 ? hp->n_embd / hp->n_head : 0;
    TRY(get_hp_u32(g, arch, "attention.key_length", 1, MODEL_MAX_HEAD_DIM, hd_default != 0,
                   hd_default, &hp->head_dim));
    uint32_t vlen;
    TRY(get_hp_u32(g, arch, "attention.value_length", 1, MODEL_MAX_HEAD_DIM, true, hp->head_dim,
                   &vlen));
    if (vlen != hp->head_dim) {
        return err_fail(ERR_MALFORMED, "value_length %u differs from key_length %u", vlen,
                        hp->head_dim);
    }
    TRY(get_hp_u32(g, arch, "rope.dimension_count", 2, hp->head_dim, true, hp->head_dim,
                   &hp->rope_dim));
    if (hp->rope_dim % 2 != 0) {
        return err_fail(ERR_MALFORMED, "odd rope.dimension_count %u", hp->rope_dim);
    }
    char k[128];
    snprintf(k, sizeof(k), "%s.rope.freq_base", arch);
    hp->rope_base = 10000.0f;
    if (gguf_find(g, k)) {
        TRY(gguf_get_f32(g, k, &hp->rope_base));
    }
    snprintf(k, sizeof(k), "%s.attention.layer_norm_rms_epsilon", arch);
    TRY(gguf_get_f32(g, k, &hp->rms_eps));
    if (!(hp->rope_base > 1.0f && hp->rope_base < 1e12f) ||
        !(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f)) {
        return err_fail(ERR_MALFORMED, "rope base %g or rms epsilon %g out of range",
                        (double)hp->rope_base, (double)hp->rms_eps);
    }
    snprintf(k, sizeof(k), "%s.rope.scaling.type", arch);
    gguf_str st;
    if (gguf_get_str(g, k, &st) == ERR_OK && !gguf_str_eq(st, "none")) {
        return err_fail(ERR_MALFORMED, "RoPE scaling '%.*s' is not supported",
                        (int)(st.len > 32 ? 32 : st.len), st.p);
    }
    const gguf_tensor *te = gguf_find_tensor(g, "token_embd.weight");
    if (!te) {
        return err_fail(ERR_NOT_FOUND, "tensor 'token_embd.weight' is missing");
    }
    if (te->n_dims != 2 || te->ne[1] == 0 || te->ne[1] > MODEL_MAX_VOCAB) {
        return tensor_fail("token_embd.weight", "bad shape");
    }
    hp->n_vocab = (uint32_t)te->ne[1];
    return ERR_OK;
}

void model_free(model *m) {
    if (!m) {
        return;
    }
    if (m->layers) {
        for (uint32_t i = 0; i < m->hp.n_layer; i++) {
            layer *l = &m->layers[i];
            free(l->attn_norm);
            free(l->ffn_norm);
            free(l->bq);
            free(l->bk);
            free(l->bv);
            free(l->q_norm);
            free(l->k_norm);
        }
    }
    free(m->layers);
    free(m->output_norm);
    gguf_free(m->g);
    free(m);
}

err_t model_from_gguf(gguf *g, model **out) {
    *out = NULL;
    err_t e;
    model *m = calloc(1, sizeof(*m));
    if (!m) {
        return err_fail(ERR_NOMEM, "model");
    }
    model_hparams *hp = &m->hp;
    e = load_hparams(g, hp);
    if (e != ERR_OK) {
        goto out;
    }
    uint64_t d = hp->n_embd;
    uint64_t qd = (uint64_t)hp->n_head * hp->head_dim;
    uint64_t kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    e = get_mat(g, "token_embd.weight", d, hp->n_vocab, false, &m->tok_embd);
    if (e != ERR_OK) {
        goto out;
    }
    e = get_mat(g, "output.weight", d, hp->n_vocab, true, &m->output);
    if (e != ERR_OK) {
        goto out;
    }
    if (!m->output.data) {
        m->output = m->tok_embd; /* tied embeddings */
    }
    e = get_vec(g, "output_norm.weight", d, false, &m->output_norm);
    if (e != ERR_OK) {
        goto out;
    }
    m->layers = calloc(hp->n_layer, sizeof(layer));
    if (!m->layers) {
        e = err_fail(ERR_NOMEM, "layers");
        goto out;
    }
    for (uint32_t i = 0; i < hp->n_layer; i++) {
        layer *l = &m->layers[i];
        char n[96];
        bool q2 = hp->arch == MODEL_ARCH_QWEN2;
        bool q3 = hp->arch == MODEL_ARCH_QWEN3;
#define MAT(field, nm, cols, rows)                                                                 \
    snprintf(n, sizeof(n), "blk.%u." nm ".weight", i);                                             \
    if ((e = get_mat(g, n, cols, rows, false, &l->field)) != ERR_OK) {                             \
        goto out;                                                                                  \
    }
#define VEC(field, nm, len, opt)                                                                   \
    snprintf(n, sizeof(n), "blk.%u." nm, i);                                                       \
    if ((e = get_vec(g, n, len, opt, &l->field)) != ERR_OK) {                                      \
        goto out;                                                                                  \
    }
        MAT(wq, "attn_q", d, qd);
        MAT(wk, "attn_k", d, kvd);
        MAT(wv, "attn_v", d, kvd);
        MAT(wo, "attn_output", qd, d);
        MAT(gate, "ffn_gate", d, hp->n_ff);
        MAT(up, "ffn_up", d, hp->n_ff);
        MAT(down, "ffn_down", hp->n_ff, d);
        VEC(attn_norm, "attn_norm.weight", d, false);
        VEC(ffn_norm, "ffn_norm.weight", d, false);
        /* qwen2 has Q/K/V biases; llama files may carry them too (optional there) */
        VEC(bq, "attn_q.bias", qd, !q2);
        VEC(bk, "attn_k.bias", kvd, !q2);
        VEC(bv, "attn_v.bias", kvd, !q2);
        if (q3) {
            VEC(q_norm, "attn_q_norm.weight", hp->head_dim, false);
            VEC(k_norm, "attn_k_norm.weight", hp->head_dim, false);
        }
#undef MAT
#undef VEC
    }
    m->g = g;
    *out = m;
    m = NULL;
out:
    model_free(m);
    return e;
}

err_t model_load(const char *path, model **out) {
    gguf *g;
    TRY(gguf_open(path, &g));
    err_t e = model_from_gguf(g, out);
    if (e != ERR_OK) {
        gguf_free(g);
    }
    return e;
}

const model_hparams *model_params(const model *m) {
    return &m->hp;
}

const gguf *model_gguf(const model *m) {
    return m->g;
}

/* ---- context ---- */

void model_ctx_free(model_ctx *c) {
    if (!c) {
        return;
    }
    pool_free(c->pool);
    free(c->kcache);
    free(c->vcache);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->x);
    free(c->xn);
    free(c->q);
    free(c->kv_k);
    free(c->kv_v);
    free(c->att);
    free(c->ff_g);
    free(c->ff_u);
    free(c->wrow);
    free(c->xq);
    free(c->xd);
    free(c->scores);
    free(c);
}

static float *falloc(size_t n) {
    return malloc((n ? n : 1) * sizeof(float));
}

err_t model_ctx_new(const model *m, const model_ctx_opts *o, model_ctx **out) {
    *out = NULL;
    const model_hparams *hp = &m->hp;
    uint32_t n_ctx = o && o->n_ctx ? o->n_ctx : hp->n_ctx_train;
    unsigned nt = o && o->n_threads ? o->n_threads : 1;
    if (n_ctx > MODEL_MAX_CTX) {
        return err_fail(ERR_TOO_LARGE, "context of %u tokens (max %u)", n_ctx, MODEL_MAX_CTX);
    }
    size_t kvd = (size_t)hp->n_head_kv * hp->head_dim;
    size_t qd = (size_t)hp->n_head * hp->head_dim;
    size_t cache = (size_t)hp->n_layer * n_ctx * kvd;
    /* a cache above 64 GiB is a configuration mistake, not something to try */
    if (cache > ((size_t)16 << 30)) {
        return err_fail(ERR_TOO_LARGE, "KV cache of %zu floats", cache);
    }
    err_t e = ERR_OK;
    model_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        return err_fail(ERR_NOMEM, "context");
    }
    c->m = m;
    c->k = o && o->kern ? o->kern : kern_best();
    c->n_ctx = n_ctx;
    e = pool_new(nt, &c->pool);
    if (e != ERR_OK) {
        goto out;
    }
    size_t B = MODEL_BATCH;
    size_t wl = hp->n_embd;
    if (hp->n_ff > wl) {
        wl = hp->n_ff;
    }
    if (qd > wl) {
        wl = qd;
    }
    c->wrow_len = wl;
    c->kcache = falloc(cache);
    c->vcache = falloc(cache);
    c->rope_cos = falloc((size_t)n_ctx * hp->rope_dim / 2);
    c->rope_sin = falloc((size_t)n_ctx * hp->rope_dim / 2);
    c->x = falloc(B * hp->n_embd);
    c->xn = falloc(B * hp->n_embd);
    c->q = falloc(B * qd);
    c->kv_k = falloc(B * kvd);
    c->kv_v = falloc(B * kvd);
    c->att = falloc(B * qd);
    c->ff_g = falloc(B * hp->n_ff);
    c->ff_u = falloc(B * hp->n_ff);
    c->wrow = falloc(nt * wl * 4); /* GEMM_ROWS rows per worker */
    c->scores = falloc((size_t)nt * n_ctx);
    c->xq = malloc(wl);
    c->xd = falloc(wl / 32 + 1);
    if (!c->kcache || !c->vcache || !c->rope_cos || !c->rope_sin || !c->x || !c->xn || !c->q ||
        !c->kv_k || !c->kv_v || !c->att || !c->ff_g || !c->ff_u || !c->wrow || !c->scores ||
        !c->xq || !c->xd) {
        e = err_fail(ERR_NOMEM, "context buffers");
        goto out;
    }
    /* RoPE: pair i of position p turns by p * base^(-2i / rope_dim). */
    for (uint32_t p = 0; p < n_ctx; p++) {
        for (uint32_t i = 0; i < hp->rope_dim / 2; i++) {
            double th = (double)p * pow((double)hp->rope_base, -2.0 * i / hp->rope_dim);
            c->rope_cos[(size_t)p * hp->rope_dim / 2 + i] = (float)cos(th);
            c->rope_sin[(size_t)p * hp->rope_dim / 2 + i] = (float)sin(th);
        }
    }
    *out = c;
    c = NULL;
out:
    model_ctx_free(c);
    return e;
}

uint32_t model_ctx_n_ctx(const model_ctx *c) {
    return c->n_ctx;
}

uint32_t model_ctx_n_past(const model_ctx *c) {
    return c->n_past;
}

void model_ctx_truncate(model_ctx *c, uint32_t n_past) {
    if (n_past < c->n_past) {
        c->n_past = n_past;
    }
}

/* ---- forward pass ---- */

#define ROWS_PER_TASK 16
/* weight rows dequantized together for one gemm call during prefill */
#define GEMM_ROWS 4

typedef struct {
    const wmat *w;
    float *y; /* [n][w->rows] */
} mm_out;

typedef struct {
    model_ctx *c;
    const float *x;   /* [n][cols] */
    const int8_t *xq; /* x quantized for Q8_0/Q4_0 rows when n == 1, else NULL */
    const float *xd;
    size_t n;
    mm_out outs[3];
    size_t n_outs;
    size_t tasks[3]; /* tasks per output */
} mm_job;

static void mm_task(void *arg, size_t task, unsigned worker) {
    mm_job *j = arg;
    size_t o = 0;
    while (task >= j->tasks[o]) {
        task -= j->tasks[o];
        o++;
    }
    const wmat *w = j->outs[o].w;
    float *y = j->outs[o].y;
    const kern_ops *k = j->c->k;
    size_t r0 = task * ROWS_PER_TASK;
    size_t r1 = r0 + ROWS_PER_TASK;
    if (r1 > w->rows) {
        r1 = w->rows;
    }
    size_t cols = w->cols;
    if (j->n == 1 && j->xq && (w->type == GGML_T_Q8_0 || w->type == GGML_T_Q4_0)) {
        for (size_t r = r0; r < r1; r++) {
            y[r] = k->dot_q8(w->type, w->data + r * w->row_bytes, j->xq, j->xd, cols);
        }
        return;
    }
    if (j->n == 1) {
        for (size_t r = r0; r < r1; r++) {
            y[r] = k->dot(w->type, w->data + r * w->row_bytes, j->x, cols);
        }
        return;
    }
    float *rows = j->c->wrow + (size_t)worker * j->c->wrow_len * GEMM_ROWS;
    for (size_t r = r0; r < r1; r += GEMM_ROWS) {
        size_t nr = r1 - r < GEMM_ROWS ? r1 - r : GEMM_ROWS;
        for (size_t i = 0; i < nr; i++) {
            k->dequant(w->type, w->data + (r + i) * w->row_bytes, rows + i * cols, cols);
        }
        k->gemm(rows, nr, j->x, cols, j->n, cols, y + r, w->rows);
    }
}

/* y_i[n][rows_i] = x[n][cols] . W_i^T for up to three matrices sharing the input. */
static void matmul(model_ctx *c, const float *x, size_t n, const wmat *w0, float *y0,
                   const wmat *w1, float *y1, const wmat *w2, float *y2) {
    mm_job j = {.c = c, .x = x, .n = n};
    const wmat *ws[3] = {w0, w1, w2};
    float *ys[3] = {y0, y1, y2};
    size_t total = 0;
    for (int i = 0; i < 3 && ws[i]; i++) {
        j.outs[i].w = ws[i];
        j.outs[i].y = ys[i];
        j.tasks[i] = (ws[i]->rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        total += j.tasks[i];
        j.n_outs++;
        /* one token against 4/8-bit weights: quantize the activations once for all rows */
        if (n == 1 && !j.xq && (ws[i]->type == GGML_T_Q8_0 || ws[i]->type == GGML_T_Q4_0)) {
            quant_act_q8(x, c->xq, c->xd, ws[i]->cols);
            j.xq = c->xq;
            j.xd = c->xd;
        }
    }
    pool_run(c->pool, total, mm_task, &j);
}

static void rmsnorm(float *out, const float *x, const float *w, size_t n, float eps) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        ss += (double)x[i] * x[i];
    }
    float scale = (float)(1.0 / sqrt(ss / (double)n + (double)eps));
    for (size_t i = 0; i < n; i++) {
        out[i] = x[i] * scale * w[i];
    }
}

static void rope(const model_ctx *c, float *v, uint32_t pos) {
    const model_hparams *hp = &c->m->hp;
    uint32_t half = hp->rope_dim / 2;
    const float *cs = c->rope_cos + (size_t)pos * half;
    const float *sn = c->rope_sin + (size_t)pos * half;
    for (uint32_t i = 0; i < half; i++) {
        uint32_t a = hp->rope_neox ? i : 2 * i;
        uint32_t b = hp->rope_neox ? i + half : 2 * i + 1;
        float x0 = v[a];
        float x1 = v[b];
        v[a] = x0 * cs[i] - x1 * sn[i];
        v[b] = x0 * sn[i] + x1 * cs[i];
    }
}

typedef struct {
    model_ctx *c;
    uint32_t layer;
    uint32_t pos0;
    size_t n;
} att_job;

static void att_task(void *arg, size_t task, unsigned worker) {
    att_job *j = arg;
    model_ctx *c = j->c;
    const model_hparams *hp = &c->m->hp;
    const kern_ops *k = c->k;
    size_t t = task / hp->n_head;
    uint32_t h = (uint32_t)(task % hp->n_head);
    uint32_t kvh = h / (hp->n_head / hp->n_head_kv);
    size_t hd = hp->head_dim;
    size_t kvd = (size_t)hp->n_head_kv * hd;
    size_t qd = (size_t)hp->n_head * hd;
    uint32_t pos = j->pos0 + (uint32_t)t;
    const float *q = c->q + t * qd + h * hd;
    const float *kc = c->kcache + (size_t)j->layer * c->n_ctx * kvd + kvh * hd;
    const float *vc = c->vcache + (size_t)j->layer * c->n_ctx * kvd + kvh * hd;
    float *sc = c->scores + (size_t)worker * c->n_ctx;
    float scale = 1.0f / sqrtf((float)hd);
    float mx = -INFINITY;
    for (uint32_t p = 0; p <= pos; p++) {
        sc[p] = k->dot_f32(q, kc + (size_t)p * kvd, hd) * scale;
        if (sc[p] > mx) {
            mx = sc[p];
        }
    }
    float sum = 0.0f;
    for (uint32_t p = 0; p <= pos; p++) {
        sc[p] = expf(sc[p] - mx);
        sum += sc[p];
    }
    float *o = c->att + t * qd + h * hd;
    memset(o, 0, hd * sizeof(float));
    float inv = 1.0f / sum;
    for (uint32_t p = 0; p <= pos; p++) {
        k->axpy(sc[p] * inv, vc + (size_t)p * kvd, o, hd);
    }
}

static float silu(float x) {
    return x / (1.0f + expf(-x));
}

static void forward_chunk(model_ctx *c, const int32_t *tokens, size_t n, float *logits) {
    const model *m = c->m;
    const model_hparams *hp = &m->hp;
    size_t d = hp->n_embd;
    size_t hd = hp->head_dim;
    size_t qd = (size_t)hp->n_head * hd;
    size_t kvd = (size_t)hp->n_head_kv * hd;
    uint32_t pos0 = c->n_past;
    for (size_t t = 0; t < n; t++) {
        c->k->dequant(m->tok_embd.type,
                      m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes, c->x + t * d,
                      d);
    }
    for (uint32_t li = 0; li < hp->n_layer; li++) {
        const layer *l = &m->layers[li];
        for (size_t t = 0; t < n; t++) {
            rmsnorm(c->xn + t * d, c->x + t * d, l->attn_norm, d, hp->rms_eps);
        }
        matmul(c, c->xn, n, &l->wq, c->q, &l->wk, c->kv_k, &l->wv, c->kv_v);
        for (size_t t = 0; t < n; t++) {
            float *q = c->q + t * qd;
            float *kk = c->kv_k + t * kvd;
            float *vv = c->kv_v + t * kvd;
            if (l->bq) {
                for (size_t i = 0; i < qd; i++) {
                    q[i] += l->bq[i];
                }
            }
            if (l->bk) {
                for (size_t i = 0; i < kvd; i++) {
                    kk[i] += l->bk[i];
                }
            }
            if (l->bv) {
                for (size_t i = 0; i < kvd; i++) {
                    vv[i] += l->bv[i];
                }
            }
            for (uint32_t h = 0; h < hp->n_head; h++) {
                if (l->q_norm) {
                    rmsnorm(q + h * hd, q + h * hd, l->q_norm, hd, hp->rms_eps);
                }
                rope(c, q + h * hd, pos0 + (uint32_t)t);
            }
            for (uint32_t h = 0; h < hp->n_head_kv; h++) {
                if (l->k_norm) {
                    rmsnorm(kk + h * hd, kk + h * hd, l->k_norm, hd, hp->rms_eps);
                }
                rope(c, kk + h * hd, pos0 + (uint32_t)t);
            }
            size_t at = ((size_t)li * c->n_ctx + pos0 + t) * kvd;
            memcpy(c->kcache + at, kk, kvd * sizeof(float));
            memcpy(c->vcache + at, vv, kvd * sizeof(float));
        }
        att_job aj = {.c = c, .layer = li, .pos0 = pos0, .n = n};
        pool_run(c->pool, n * hp->n_head, att_task, &aj);
        /* output projection into xn (free now), then the residual */
        matmul(c, c->att, n, &l->wo, c->xn, NULL, NULL, NULL, NULL);
        for (size_t i = 0; i < n * d; i++) {
            c->x[i] += c->xn[i];
        }
        for (size_t t = 0; t < n; t++) {
            rmsnorm(c->xn + t * d, c->x + t * d, l->ffn_norm, d, hp->rms_eps);
        }
        matmul(c, c->xn, n, &l->gate, c->ff_g, &l->up, c->ff_u, NULL, NULL);
        for (size_t i = 0; i < n * hp->n_ff; i++) {
            c->ff_g[i] = silu(c->ff_g[i]) * c->ff_u[i];
        }
        matmul(c, c->ff_g, n, &l->down, c->xn, NULL, NULL, NULL, NULL);
        for (size_t i = 0; i < n * d; i++) {
            c->x[i] += c->xn[i];
        }
    }
    c->n_past += (uint32_t)n;
    if (logits) {
        const float *last = c->x + (n - 1) * d;
        rmsnorm(c->xn, last, m->output_norm, d, hp->rms_eps);
        matmul(c, c->xn, 1, &m->output, logits, NULL, NULL, NULL, NULL);
    }
}

err_t model_eval(model_ctx *c, const int32_t *tokens, size_t n, float *logits) {
    const model_hparams *hp = &c->m->hp;
    if (n == 0) {
        return err_fail(ERR_MALFORMED, "no tokens to evaluate");
    }
    if (n > c->n_ctx - c->n_past) {
        return err_fail(ERR_TOO_MANY, "%zu tokens after %u exceed the context of %u", n, c->n_past,
                        c->n_ctx);
    }
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= hp->n_vocab) {
            return err_fail(ERR_MALFORMED, "token id %d outside the vocabulary of %u", tokens[i],
                            hp->n_vocab);
        }
    }
    for (size_t i = 0; i < n; i += MODEL_BATCH) {
        size_t len = n - i < MODEL_BATCH ? n - i : MODEL_BATCH;
        forward_chunk(c, tokens + i, len, i + len == n ? logits : NULL);
    }
    return ERR_OK;
}
