#include "tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode.h"

typedef enum { KIND_GPT2, KIND_SPM } tok_kind;
typedef enum { PRE_GPT2, PRE_LLAMA3, PRE_QWEN2 } pre_kind;

struct tok {
    tok_kind kind;
    pre_kind pre;
    uint32_t n;
    gguf_str *text;
    uint8_t *type;
    float *score;
    uint8_t *eog;
    char *pieces;
    uint32_t *piece_off; /* n + 1 offsets */
    uint32_t *vhash;     /* id + 1, 0 = empty */
    uint32_t vmask;
    uint64_t *mkey; /* (left << 32 | right) + 1, 0 = empty */
    uint32_t *mrank;
    int32_t *mres;
    uint32_t mmask;
    int32_t byte_tok[256];
    int32_t *special; /* control and user-defined tokens, longest text first */
    size_t n_special;
    uint8_t special_first[32]; /* bitmap of their first bytes */
    int32_t bos, eos, eot, unk;
    bool add_bos;
    bool add_space_prefix;
};

/* ---- vectors ---- */

void tok_vec_free(tok_vec *v) {
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}

err_t tok_vec_push(tok_vec *v, int32_t id) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = realloc(v->ids, cap * sizeof(*p));
        if (!p) {
            return err_fail(ERR_NOMEM, "token vector");
        }
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return ERR_OK;
}

/* ---- hashing ---- */

static uint64_t fnv(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * 1099511628211ull;
    }
    return h;
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

int32_t tok_find(const tok *t, const char *s, size_t len) {
    uint32_t i = (uint32_t)fnv(s, len) & t->vmask;
    while (t->vhash[i]) {
        uint32_t id = t->vhash[i] - 1;
        if (t->text[id].len == len && memcmp(t->text[id].p, s, len) == 0) {
            return (int32_t)id;
        }
        i = (i + 1) & t->vmask;
    }
    return -1;
}

static bool merge_find(const tok *t, int32_t l, int32_t r, uint32_t *rank, int32_t *res) {
    if (!t->mkey || l < 0 || r < 0) {
        return false;
    }
    uint64_t key = (((uint64_t)(uint32_t)l << 32) | (uint32_t)r) + 1;
    uint32_t i = (uint32_t)mix(key) & t->mmask;
    while (t->mkey[i]) {
        if (t->mkey[i] == key) {
            *rank = t->mrank[i];
            *res = t->mres[i];
            return true;
        }
        i = (i + 1) & t->mmask;
    }
    return false;
}

/* ---- GPT-2 byte alphabet (GPT-2 encoder.py bytes_to_unicode) ---- */

static uint32_t byte_cp(uint8_t b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) {
        return b;
    }
    /* the other 68 bytes map, in order, to 256, 257, ... */
    uint32_t k = 0;
    for (uint32_t x = 0; x < b; x++) {
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) {
            k++;
        }
    }
    return 256 + k;
}

static int cp_byte(uint32_t cp) {
    if (cp < 256) {
        uint8_t b = (uint8_t)cp;
        return byte_cp(b) == cp ? (int)b : -1;
    }
    if (cp < 256 + 68) {
        for (int b = 0; b < 256; b++) {
            if (byte_cp((uint8_t)b) == cp) {
                return b;
            }
        }
    }
    return -1;
}

/* ---- loading ---- */

void tok_free(tok *t) {
    if (!t) {
        return;
    }
    free(t->text);
    free(t->type);
    free(t->score);
    free(t->eog);
    free(t->pieces);
    free(t->piece_off);
    free(t->vhash);
    free(t->mkey);
    free(t->mrank);
    free(t->mres);
    free(t->special);
    free(t);
}

static uint32_t pow2_above(uint64_t n) {
    uint32_t s = 16;
    while (s < n * 2) {
        s <<= 1;
    }
    return s;
}

static err_t opt_id(const gguf *g, const char *key, uint32_t n, int32_t *out) {
    *out = -1;
    if (!gguf_find(g, key)) {
        return ERR_OK;
    }
    uint32_t v;
    TRY(gguf_get_u32(g, key, &v));
    if (v >= n) {
        return err_fail(ERR_MALFORMED, "%s = %u is outside the vocabulary of %u", key, v, n);
    }
    *out = (int32_t)v;
    return ERR_OK;
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* "<0xAB>" -> 0xAB, else -1 */
static int byte_token_value(const uint8_t *s, size_t len) {
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') {
        return -1;
    }
    int hi = hexval(s[3]);
    int lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static err_t build_pieces(tok *t) {
    size_t total = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        total += t->text[i].len;
    }
    if (total > UINT32_MAX - 1) {
        return err_fail(ERR_TOO_LARGE, "vocabulary text of %zu bytes", total);
    }
    t->pieces = malloc(total + 1);
    t->piece_off = malloc((t->n + 1) * sizeof(uint32_t));
    if (!t->pieces || !t->piece_off) {
        return err_fail(ERR_NOMEM, "token pieces");
    }
    size_t o = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        t->piece_off[i] = (uint32_t)o;
        const uint8_t *s = (const uint8_t *)t->text[i].p;
        size_t len = t->text[i].len;
        if (t->type[i] == TOK_T_CONTROL) {
            memcpy(t->pieces + o, s, len);
            o += len;
            continue;
        }
        if (t->kind == KIND_SPM) {
            int hx = byte_token_value(s, len);
            if (t->type[i] == TOK_T_BYTE && hx >= 0) {
                t->pieces[o++] = (char)hx;
                continue;
            }
            for (size_t k = 0; k < len;) {
                /* U+2581 LOWER ONE EIGHTH BLOCK stands for a space in SentencePiece */
                if (k + 3 <= len && s[k] == 0xe2 && s[k + 1] == 0x96 && s[k + 2] == 0x81) {
                    t->pieces[o++] = ' ';
                    k += 3;
                } else {
                    t->pieces[o++] = (char)s[k++];
                }
            }
            continue;
        }
        for (size_t k = 0; k < len;) {
            uint32_t cp;
            size_t l = uni_decode(s + k, len - k, &cp);
            int b = cp == UNI_INVALID ? -1 : cp_byte(cp);
            if (b >= 0) {
                t->pieces[o++] = (char)b;
            } else {
                memcpy(t->pieces + o, s + k, l);
                o += l;
            }
            k += l;
        }
    }
    t->piece_off[t->n] = (uint32_t)o;
    return ERR_OK;
}

static int cmp_special(const void *a, const void *b, void *arg) {
    const tok *t = arg;
    size_t la = t->text[*(const int32_t *)a].len;
    size_t lb = t->text[*(const int32_t *)b].len;
    if (la != lb) {
        return la > lb ? -1 : 1;
    }
    return *(const int32_t *)a - *(const int32_t *)b;
}

static const char *const EOG_TEXTS[] = {
    "<|endoftext|>",   "<|im_end|>", "<|eot_id|>", "<|eom_id|>",
    "<|end_of_text|>", "<|end|>",    "</s>",       "<end_of_turn>",
};

static err_t load(const gguf *g, tok *t) {
    gguf_str model;
    TRY(gguf_get_str(g, "tokenizer.ggml.model", &model));
    if (gguf_str_eq(model, "gpt2")) {
        t->kind = KIND_GPT2;
    } else if (gguf_str_eq(model, "llama")) {
        t->kind = KIND_SPM;
    } else {
        return err_fail(ERR_MALFORMED, "tokenizer model '%.*s' is not supported (gpt2, llama)",
                        (int)(model.len > 32 ? 32 : model.len), model.p);
    }
    t->pre = PRE_GPT2;
    gguf_str pre;
    if (t->kind == KIND_GPT2 && gguf_get_str(g, "tokenizer.ggml.pre", &pre) == ERR_OK) {
        /* llama.cpp's names for the pre-tokenizer regexes */
        if (gguf_str_eq(pre, "gpt-2") || gguf_str_eq(pre, "default")) {
            t->pre = PRE_GPT2;
        } else if (gguf_str_eq(pre, "llama-bpe") || gguf_str_eq(pre, "llama3") ||
                   gguf_str_eq(pre, "smaug-bpe")) {
            t->pre = PRE_LLAMA3;
        } else if (gguf_str_eq(pre, "qwen2")) {
            t->pre = PRE_QWEN2;
        } else {
            return err_fail(ERR_MALFORMED, "pre-tokenizer '%.*s' is not supported",
                            (int)(pre.len > 32 ? 32 : pre.len), pre.p);
        }
    }
    const gguf_kv *toks;
    TRY(gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_T_STRING, &toks));
    if (toks->arr_len == 0 || toks->arr_len > (1u << 21)) {
        return err_fail(ERR_MALFORMED, "vocabulary of %llu tokens",
                        (unsigned long long)toks->arr_len);
    }
    t->n = (uint32_t)toks->arr_len;
    t->text = calloc(t->n, sizeof(*t->text));
    t->type = malloc(t->n);
    t->score = calloc(t->n, sizeof(float));
    t->eog = calloc(t->n, 1);
    uint32_t vs = pow2_above(t->n);
    t->vhash = calloc(vs, sizeof(uint32_t));
    t->vmask = vs - 1;
    if (!t->text || !t->type || !t->score || !t->eog || !t->vhash) {
        return err_fail(ERR_NOMEM, "vocabulary");
    }
    cur c;
    cur_init(&c, toks->arr_data, toks->arr_bytes);
    for (uint32_t i = 0; i < t->n; i++) {
        TRY(gguf_next_str(&c, &t->text[i]));
        t->type[i] = TOK_T_NORMAL;
    }
    const gguf_kv *types = gguf_find(g, "tokenizer.ggml.token_type");
    if (types) {
        if (types->type != GGUF_T_ARRAY || types->arr_type != GGUF_T_I32 ||
            types->arr_len != t->n) {
            return err_fail(ERR_MALFORMED, "tokenizer.ggml.token_type must be %u int32", t->n);
        }
        cur_init(&c, types->arr_data, types->arr_bytes);
        for (uint32_t i = 0; i < t->n; i++) {
            int32_t v;
            TRY(cur_i32le(&c, &v));
            if (v < TOK_T_NORMAL || v > TOK_T_BYTE) {
                return err_fail(ERR_MALFORMED, "token %u has type %d", i, v);
            }
            t->type[i] = (uint8_t)v;
        }
    }
    const gguf_kv *scores = gguf_find(g, "tokenizer.ggml.scores");
    if (scores) {
        if (scores->type != GGUF_T_ARRAY || scores->arr_type != GGUF_T_F32 ||
            scores->arr_len != t->n) {
            return err_fail(ERR_MALFORMED, "tokenizer.ggml.scores must be %u float32", t->n);
        }
        cur_init(&c, scores->arr_data, scores->arr_bytes);
        for (uint32_t i = 0; i < t->n; i++) {
            uint32_t bits;
            TRY(cur_u32le(&c, &bits));
            memcpy(&t->score[i], &bits, 4);
        }
    }
    /* the first of two identical texts wins, as in llama.cpp's token_to_id map */
    for (uint32_t i = 0; i < t->n; i++) {
        if (tok_find(t, t->text[i].p, t->text[i].len) >= 0) {
            continue;
        }
        uint32_t h = (uint32_t)fnv(t->text[i].p, t->text[i].len) & t->vmask;
        while (t->vhash[h]) {
            h = (h + 1) & t->vmask;
        }
        t->vhash[h] = i + 1;
    }
    TRY(build_pieces(t));
    for (int b = 0; b < 256; b++) {
        char s[8];
        size_t len;
        if (t->kind == KIND_GPT2) {
            len = uni_encode(byte_cp((uint8_t)b), (uint8_t *)s);
        } else {
            len = (size_t)snprintf(s, sizeof(s), "<0x%02X>", b);
        }
        t->byte_tok[b] = tok_find(t, s, len);
    }
    if (t->kind == KIND_GPT2) {
        const gguf_kv *merges;
        TRY(gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_T_STRING, &merges));
        uint32_t ms = pow2_above(merges->arr_len);
        t->mkey = calloc(ms, sizeof(uint64_t));
        t->mrank = calloc(ms, sizeof(uint32_t));
        t->mres = calloc(ms, sizeof(int32_t));
        t->mmask = ms - 1;
        if (!t->mkey || !t->mrank || !t->mres) {
            return err_fail(ERR_NOMEM, "merges");
        }
        cur_init(&c, merges->arr_data, merges->arr_bytes);
        char tmp[1024];
        for (uint32_t r = 0; r < merges->arr_len; r++) {
            gguf_str m;
            TRY(gguf_next_str(&c, &m));
            const char *sp = memchr(m.p, ' ', m.len);
            if (!sp || sp == m.p || sp == m.p + m.len - 1 || m.len > sizeof(tmp)) {
                return err_fail(ERR_MALFORMED, "merge %u is not \"left right\"", r);
            }
            size_t ll = (size_t)(sp - m.p);
            size_t rl = m.len - ll - 1;
            int32_t l = tok_find(t, m.p, ll);
            int32_t rr = tok_find(t, sp + 1, rl);
            memcpy(tmp, m.p, ll);
            memcpy(tmp + ll, sp + 1, rl);
            int32_t res = tok_find(t, tmp, ll + rl);
            uint32_t r0;
            int32_t x0;
            /* a merge into nothing can never apply; the first rank wins; and plain text must
             * never merge into a control token (a forged turn marker) */
            if (l < 0 || rr < 0 || res < 0 || t->type[res] == TOK_T_CONTROL ||
                merge_find(t, l, rr, &r0, &x0)) {
                continue;
            }
            uint64_t key = (((uint64_t)(uint32_t)l << 32) | (uint32_t)rr) + 1;
            uint32_t h = (uint32_t)mix(key) & t->mmask;
            while (t->mkey[h]) {
                h = (h + 1) & t->mmask;
            }
            t->mkey[h] = key;
            t->mrank[h] = r;
            t->mres[h] = res;
        }
    }
    TRY(opt_id(g, "tokenizer.ggml.bos_token_id", t->n, &t->bos));
    TRY(opt_id(g, "tokenizer.ggml.eos_token_id", t->n, &t->eos));
    TRY(opt_id(g, "tokenizer.ggml.eot_token_id", t->n, &t->eot));
    TRY(opt_id(g, "tokenizer.ggml.unknown_token_id", t->n, &t->unk));
    t->add_bos = t->kind == KIND_SPM;
    if (gguf_find(g, "tokenizer.ggml.add_bos_token")) {
        TRY(gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos));
    }
    t->add_space_prefix = t->kind == KIND_SPM;
    if (gguf_find(g, "tokenizer.ggml.add_space_prefix")) {
        TRY(gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix));
    }
    if (t->eos >= 0) {
        t->eog[t->eos] = 1;
    }
    if (t->eot >= 0) {
        t->eog[t->eot] = 1;
    }
    size_t ns = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if ((t->type[i] == TOK_T_CONTROL || t->type[i] == TOK_T_USER_DEFINED) && t->text[i].len) {
            ns++;
        }
        if (t->type[i] == TOK_T_CONTROL) {
            for (size_t k = 0; k < sizeof(EOG_TEXTS) / sizeof(EOG_TEXTS[0]); k++) {
                if (gguf_str_eq(t->text[i], EOG_TEXTS[k])) {
                    t->eog[i] = 1;
                }
            }
        }
    }
    t->special = malloc((ns ? ns : 1) * sizeof(int32_t));
    if (!t->special) {
        return err_fail(ERR_NOMEM, "special tokens");
    }
    for (uint32_t i = 0; i < t->n; i++) {
        if ((t->type[i] == TOK_T_CONTROL || t->type[i] == TOK_T_USER_DEFINED) && t->text[i].len) {
            t->special[t->n_special++] = (int32_t)i;
            uint8_t fb = (uint8_t)t->text[i].p[0];
            t->special_first[fb / 8] |= (uint8_t)(1u << (fb % 8));
        }
    }
    qsort_r(t->special, t->n_special, sizeof(int32_t), cmp_special, t);
    return ERR_OK;
}

err_t tok_from_gguf(const gguf *g, tok **out) {
    *out = NULL;
    tok *t = calloc(1, sizeof(*t));
    if (!t) {
        return err_fail(ERR_NOMEM, "tokenizer");
    }
    t->bos = t->eos = t->eot = t->unk = -1;
    err_t e = load(g, t);
    if (e != ERR_OK) {
        tok_free(t);
        return e;
    }
    *out = t;
    return ERR_OK;
}

uint32_t tok_n_vocab(const tok *t) {
    return t->n;
}
int32_t tok_bos(const tok *t) {
    return t->bos;
}
int32_t tok_eos(const tok *t) {
    return t->eos;
}
bool tok_add_bos(const tok *t) {
    return t->add_bos && t->bos >= 0;
}
bool tok_is_eog(const tok *t, int32_t id) {
    return id >= 0 && (uint32_t)id < t->n && t->eog[id];
}
bool tok_is_control(const tok *t, int32_t id) {
    return id >= 0 && (uint32_t)id < t->n && t->type[id] == TOK_T_CONTROL;
}

const char *tok_piece(const tok *t, int32_t id, size_t *len) {
    if (id < 0 || (uint32_t)id >= t->n) {
        *len = 0;
        return "";
    }
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->pieces + t->piece_off[id];
}

/* ---- BPE merging over symbols ---- */

typedef struct {
    uint32_t off, len;
    int32_t id;
    int32_t prev, next;
} sym;

typedef struct {
    double key;
    uint32_t pos;
    int32_t l, r;
    uint32_t llen, rlen;
    int32_t res;
} cand;

typedef struct {
    cand *v;
    size_t n, cap;
} heap;

static bool cand_less(const cand *a, const cand *b) {
    return a->key < b->key || (a->key == b->key && a->pos < b->pos);
}

static err_t heap_push(heap *h, cand c) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        cand *p = realloc(h->v, cap * sizeof(*p));
        if (!p) {
            return err_fail(ERR_NOMEM, "bpe heap");
        }
        h->v = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    h->v[i] = c;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&h->v[i], &h->v[p])) {
            break;
        }
        cand tmp = h->v[p];
        h->v[p] = h->v[i];
        h->v[i] = tmp;
        i = p;
    }
    return ERR_OK;
}

static cand heap_pop(heap *h) {
    cand top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        size_t r = l + 1;
        size_t m = i;
        if (l < h->n && cand_less(&h->v[l], &h->v[m])) {
            m = l;
        }
        if (r < h->n && cand_less(&h->v[r], &h->v[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        cand tmp = h->v[m];
        h->v[m] = h->v[i];
        h->v[i] = tmp;
        i = m;
    }
    return top;
}

typedef struct {
    const tok *t;
    const char *s; /* the text the symbols span */
    sym *sy;
    heap h;
} bpe;

static err_t try_pair(bpe *b, int32_t l, int32_t r) {
    if (l < 0 || r < 0) {
        return ERR_OK;
    }
    const sym *a = &b->sy[l];
    const sym *c = &b->sy[r];
    cand cd = {.pos = a->off, .l = l, .r = r, .llen = a->len, .rlen = c->len};
    if (b->t->kind == KIND_GPT2) {
        uint32_t rank;
        if (!merge_find(b->t, a->id, c->id, &rank, &cd.res)) {
            return ERR_OK;
        }
        cd.key = rank;
    } else {
        cd.res = tok_find(b->t, b->s + a->off, a->len + c->len);
        if (cd.res < 0 || b->t->type[cd.res] == TOK_T_CONTROL) {
            return ERR_OK;
        }
        cd.key = -(double)b->t->score[cd.res];
    }
    return heap_push(&b->h, cd);
}

/* Merges the symbols sy[0..n) (a linked list over consecutive spans of s). */
static err_t bpe_merge(bpe *b, size_t n) {
    b->h.n = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        TRY(try_pair(b, (int32_t)i, (int32_t)i + 1));
    }
    while (b->h.n) {
        cand cd = heap_pop(&b->h);
        sym *a = &b->sy[cd.l];
        if (a->len == 0 || a->next != cd.r || a->len != cd.llen || b->sy[cd.r].len != cd.rlen) {
            continue; /* stale: one side has merged since */
        }
        sym *c = &b->sy[cd.r];
        a->len += c->len;
        a->id = cd.res;
        a->next = c->next;
        if (c->next >= 0) {
            b->sy[c->next].prev = cd.l;
        }
        c->len = 0;
        TRY(try_pair(b, a->prev, cd.l));
        TRY(try_pair(b, cd.l, a->next));
    }
    return ERR_OK;
}

static err_t grow_syms(bpe *b, size_t n, size_t *cap) {
    if (n <= *cap) {
        return ERR_OK;
    }
    sym *p = realloc(b->sy, n * sizeof(sym));
    if (!p) {
        return err_fail(ERR_NOMEM, "bpe symbols");
    }
    b->sy = p;
    *cap = n;
    return ERR_OK;
}

/* GPT-2 byte-level: one symbol per byte of the piece. */
static err_t encode_bytes_piece(bpe *b, size_t *cap, const char *s, size_t len, tok_vec *out) {
    TRY(grow_syms(b, len, cap));
    b->s = s;
    for (size_t i = 0; i < len; i++) {
        b->sy[i] = (sym){.off = (uint32_t)i,
                         .len = 1,
                         .id = b->t->byte_tok[(uint8_t)s[i]],
                         .prev = (int32_t)i - 1,
                         .next = i + 1 < len ? (int32_t)i + 1 : -1};
    }
    TRY(bpe_merge(b, len));
    for (int32_t i = 0; i >= 0; i = b->sy[i].next) {
        int32_t id = b->sy[i].id;
        if (id < 0) {
            id = b->t->unk;
        }
        if (id >= 0) {
            TRY(tok_vec_push(out, id));
        }
    }
    return ERR_OK;
}

/* ---- pre-tokenizers (hand-written forms of the split regexes) ---- */

static int cls(uint32_t cp) {
    return cp == UNI_INVALID ? UNI_OTHER : uni_class(cp);
}

static bool is_space(uint32_t cp) {
    return cp != UNI_INVALID && uni_is_space(cp);
}

static bool is_other(uint32_t cp) {
    return !is_space(cp) && cls(cp) == UNI_OTHER;
}

static uint32_t ascii_lower(uint32_t c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive; returns the end or 0 */
static size_t contraction(const uint32_t *cp, size_t n, size_t i, bool fold) {
    if (cp[i] != '\'' || i + 1 >= n) {
        return 0;
    }
    uint32_t a = fold ? ascii_lower(cp[i + 1]) : cp[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') {
        return i + 2;
    }
    if (i + 2 < n) {
        uint32_t b = fold ? ascii_lower(cp[i + 2]) : cp[i + 2];
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
            return i + 3;
        }
    }
    return 0;
}

/* \s+(?!\S)|\s+ at a white-space character */
static size_t space_run(const uint32_t *cp, size_t n, size_t i) {
    size_t k = i;
    while (k < n && is_space(cp[k])) {
        k++;
    }
    if (k == n || k - i == 1) {
        return k;
    }
    return k - 1; /* leave the last space to prefix the next word */
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t split_gpt2(const uint32_t *cp, size_t n, size_t i) {
    size_t e = contraction(cp, n, i, false);
    if (e) {
        return e;
    }
    size_t j = cp[i] == ' ' ? i + 1 : i;
    if (j < n) {
        int c = cls(cp[j]);
        if (c == UNI_LETTER || c == UNI_NUMBER) {
            while (j < n && cls(cp[j]) == c) {
                j++;
            }
            return j;
        }
        if (!is_space(cp[j])) {
            while (j < n && is_other(cp[j])) {
                j++;
            }
            return j;
        }
    }
    return space_run(cp, n, i);
}

/* Llama 3 (max_digits 3) and Qwen2 (max_digits 1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t split_llama3(const uint32_t *cp, size_t n, size_t i, size_t max_digits) {
    size_t e = contraction(cp, n, i, true);
    if (e) {
        return e;
    }
    uint32_t c = cp[i];
    size_t j = i;
    if (cls(c) != UNI_LETTER && c != '\r' && c != '\n' && cls(c) != UNI_NUMBER && i + 1 < n &&
        cls(cp[i + 1]) == UNI_LETTER) {
        j = i + 1;
    }
    if (cls(cp[j]) == UNI_LETTER) {
        while (j < n && cls(cp[j]) == UNI_LETTER) {
            j++;
        }
        return j;
    }
    if (cls(c) == UNI_NUMBER) {
        j = i;
        while (j < n && j - i < max_digits && cls(cp[j]) == UNI_NUMBER) {
            j++;
        }
        return j;
    }
    j = c == ' ' ? i + 1 : i;
    if (j < n && is_other(cp[j])) {
        while (j < n && is_other(cp[j])) {
            j++;
        }
        while (j < n && (cp[j] == '\r' || cp[j] == '\n')) {
            j++;
        }
        return j;
    }
    size_t k = i;
    size_t last_nl = 0;
    bool nl = false;
    while (k < n && is_space(cp[k])) {
        if (cp[k] == '\r' || cp[k] == '\n') {
            last_nl = k;
            nl = true;
        }
        k++;
    }
    if (nl) {
        return last_nl + 1;
    }
    return space_run(cp, n, i);
}

static err_t encode_gpt2_text(const tok *t, bpe *b, size_t *cap, const char *s, size_t len,
                              tok_vec *out) {
    if (len == 0) {
        return ERR_OK;
    }
    err_t e = ERR_OK;
    uint32_t *cp = malloc(len * sizeof(uint32_t));
    uint32_t *off = malloc((len + 1) * sizeof(uint32_t));
    if (!cp || !off) {
        e = err_fail(ERR_NOMEM, "pre-tokenizer");
        goto out;
    }
    size_t n = 0;
    for (size_t k = 0; k < len;) {
        off[n] = (uint32_t)k;
        k += uni_decode((const uint8_t *)s + k, len - k, &cp[n]);
        n++;
    }
    off[n] = (uint32_t)len;
    for (size_t i = 0; i < n;) {
        size_t j;
        switch (t->pre) {
        case PRE_LLAMA3:
            j = split_llama3(cp, n, i, 3);
            break;
        case PRE_QWEN2:
            j = split_llama3(cp, n, i, 1);
            break;
        default:
            j = split_gpt2(cp, n, i);
            break;
        }
        e = encode_bytes_piece(b, cap, s + off[i], off[j] - off[i], out);
        if (e != ERR_OK) {
            goto out;
        }
        i = j;
    }
out:
    free(cp);
    free(off);
    return e;
}

/* SentencePiece BPE: symbols are UTF-8 characters of the text with spaces as U+2581. */
static err_t encode_spm_text(const tok *t, bpe *b, size_t *cap, const char *s, size_t len,
                             bool prefix, tok_vec *out) {
    size_t wl = len * 3 + 3;
    char *w = malloc(wl);
    if (!w) {
        return err_fail(ERR_NOMEM, "spm text");
    }
    size_t n = 0;
    if (prefix) {
        memcpy(w, "\xe2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            memcpy(w + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            w[n++] = s[i];
        }
    }
    err_t e = grow_syms(b, n, cap);
    size_t ns = 0;
    for (size_t k = 0; e == ERR_OK && k < n;) {
        uint32_t cpv;
        size_t l = uni_decode((const uint8_t *)w + k, n - k, &cpv);
        int32_t id = tok_find(t, w + k, l);
        if (id >= 0 && t->type[id] == TOK_T_CONTROL) {
            id = -1; /* falls back to byte tokens */
        }
        b->sy[ns] = (sym){
            .off = (uint32_t)k, .len = (uint32_t)l, .id = id, .prev = (int32_t)ns - 1, .next = -1};
        if (ns > 0) {
            b->sy[ns - 1].next = (int32_t)ns;
        }
        ns++;
        k += l;
    }
    b->s = w;
    if (e == ERR_OK && ns) {
        e = bpe_merge(b, ns);
    }
    for (int32_t i = 0; e == ERR_OK && ns && i >= 0; i = b->sy[i].next) {
        const sym *y = &b->sy[i];
        if (y->id >= 0) {
            e = tok_vec_push(out, y->id);
            continue;
        }
        for (uint32_t k = 0; e == ERR_OK && k < y->len; k++) {
            int32_t id = t->byte_tok[(uint8_t)w[y->off + k]];
            if (id < 0) {
                id = t->unk;
            }
            if (id >= 0) {
                e = tok_vec_push(out, id);
            }
        }
    }
    free(w);
    return e;
}

static int32_t match_special(const tok *t, const char *s, size_t len) {
    uint8_t fb = (uint8_t)s[0];
    if (!(t->special_first[fb / 8] & (1u << (fb % 8)))) {
        return -1;
    }
    for (size_t k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        const gguf_str *x = &t->text[id];
        if (x->len <= len && memcmp(x->p, s, x->len) == 0) {
            return id;
        }
    }
    return -1;
}

err_t tok_encode(const tok *t, const char *text, size_t len, bool parse_special, tok_vec *out) {
    if (len > TOK_MAX_TEXT) {
        return err_fail(ERR_TOO_LARGE, "text of %zu bytes (max %u)", len, TOK_MAX_TEXT);
    }
    bpe b = {.t = t};
    size_t cap = 0;
    err_t e = ERR_OK;
    size_t start = 0;
    bool prev_special = true;
    for (size_t i = 0; i <= len && e == ERR_OK;) {
        int32_t sp = -1;
        if (i < len && parse_special) {
            sp = match_special(t, text + i, len - i);
        }
        if (i < len && sp < 0) {
            i++;
            continue;
        }
        if (i > start) {
            if (t->kind == KIND_GPT2) {
                e = encode_gpt2_text(t, &b, &cap, text + start, i - start, out);
            } else {
                e = encode_spm_text(t, &b, &cap, text + start, i - start,
                                    t->add_space_prefix && prev_special, out);
            }
            prev_special = false;
        }
        if (e != ERR_OK || i == len) {
            break;
        }
        e = tok_vec_push(out, sp);
        prev_special = true;
        i += t->text[sp].len;
        start = i;
    }
    free(b.sy);
    free(b.h.v);
    return e;
}
