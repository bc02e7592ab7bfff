/* engine_bench MODEL.gguf [--threads T] [--prompt N] [--gen N] [--portable] [--reps R]
 *
 * Prefill and decode speed of the built-in engine on one model: a prompt of N tokens (taken
 * from a fixed text, cycled), then N greedy tokens (EOG ignored, so every run decodes the same
 * count). Prints one JSON line: tokens/s for each phase (best of R repetitions) and the
 * process's peak RSS. tests/engine/bench.mjs runs it next to llama.cpp and prints the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/engine.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: engine_bench MODEL.gguf [--threads T] [--prompt N] [--gen N] "
                        "[--portable] [--reps R]\n");
        return 2;
    }
    unsigned threads = 1;
    int n_prompt = 128;
    int n_gen = 128;
    int reps = 3;
    bool portable = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--prompt") == 0 && i + 1 < argc) {
            n_prompt = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--gen") == 0 && i + 1 < argc) {
            n_gen = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--portable") == 0) {
            portable = true;
        } else {
            fprintf(stderr, "engine_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    engine *e;
    err_t r = engine_open(argv[1], &e);
    if (r != ERR_OK) {
        fprintf(stderr, "engine_bench: %s\n", err_describe(r));
        return 1;
    }
    const model_hparams *hp = model_params(engine_model(e));
    if (n_prompt < 1 || n_gen < 1 || reps < 1 || (uint32_t)(n_prompt + n_gen) > hp->n_ctx_train) {
        fprintf(stderr, "engine_bench: prompt + gen must fit the context of %u\n", hp->n_ctx_train);
        return 2;
    }
    static const char TEXT[] =
        "The quick brown fox jumps over the lazy dog. A computer is a machine that follows "
        "instructions, and the meaning of life is a question that programmers ask at night. ";
    tok_vec text = {0};
    if (tok_encode(engine_tok(e), TEXT, sizeof(TEXT) - 1, false, &text) != ERR_OK || !text.n) {
        fprintf(stderr, "engine_bench: tokenize failed\n");
        return 1;
    }
    int32_t *prompt = malloc((size_t)n_prompt * sizeof(int32_t));
    for (int i = 0; i < n_prompt; i++) {
        prompt[i] = text.ids[(size_t)i % text.n];
    }
    model_ctx_opts o = {.n_ctx = (uint32_t)(n_prompt + n_gen),
                        .n_threads = threads,
                        .kern = portable ? kern_portable() : NULL};
    model_ctx *c;
    r = model_ctx_new(engine_model(e), &o, &c);
    if (r != ERR_OK) {
        fprintf(stderr, "engine_bench: %s\n", err_describe(r));
        return 1;
    }
    float *lg = malloc(hp->n_vocab * sizeof(float));
    double best_pp = 0;
    double best_tg = 0;
    for (int rep = 0; rep < reps; rep++) {
        model_ctx_truncate(c, 0);
        double t0 = now_s();
        if (model_eval(c, prompt, (size_t)n_prompt, lg) != ERR_OK) {
            return 1;
        }
        double t1 = now_s();
        for (int i = 0; i < n_gen; i++) {
            int32_t t = sample_argmax(lg, hp->n_vocab);
            if (model_eval(c, &t, 1, lg) != ERR_OK) {
                return 1;
            }
        }
        double t2 = now_s();
        double pp = n_prompt / (t1 - t0);
        double tg = n_gen / (t2 - t1);
        best_pp = pp > best_pp ? pp : best_pp;
        best_tg = tg > best_tg ? tg : best_tg;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"engine\":\"cocoon\",\"kernels\":\"%s\",\"threads\":%u,\"prompt\":%d,\"gen\":%d,"
           "\"prefill_tps\":%.1f,\"decode_tps\":%.1f,\"peak_rss_mb\":%.1f}\n",
           portable ? "portable" : kern_best()->name, threads, n_prompt, n_gen, best_pp, best_tg,
           (double)ru.ru_maxrss / 1024.0);
    free(lg);
    free(prompt);
    tok_vec_free(&text);
    model_ctx_free(c);
    engine_free(e);
    return 0;
}
