/* Streams one chat completion through the COCOON network with libcocoon-client.
 *
 *   cocoon-stream --registry FILE|chain:API_URL#ROOT [--fake-ca DIR] [--model NAME]
 *                 [--max-tokens N] PROMPT
 *
 * The answer's SSE events are written to stdout as they arrive; the usage the worker signed
 * goes to stderr at the end. The registry is named as the daemons name it: a JSON file
 * (file:PATH or PATH) or the root contract on chain (chain:API_URL#ROOT). Against
 * `cocoon up --state DIR`: --registry DIR/registry.json --fake-ca DIR/fake-ca (with
 * `cocoon up --chain`, also chain:http://127.0.0.1:PORT/api/v2#ROOT from the localton address
 * and root it prints). */
#include <cocoon/client.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
} waiter;

static void on_chunk(void *arg, const char *data, size_t len) {
    (void)arg;
    fwrite(data, 1, len, stdout);
    fflush(stdout);
}

static void on_done(void *arg, int status, const char *error, const cocoon_usage *u) {
    waiter *w = arg;
    if (error) {
        fprintf(stderr, "error %d: %s\n", status, error);
    } else if (u && u->known) {
        fprintf(stderr, "usage: prompt %lld, completion %lld, total %lld tokens\n",
                (long long)u->prompt_tokens, (long long)u->completion_tokens,
                (long long)u->total_tokens);
    }
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->status = error ? status : 0;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Appends s to out as a JSON string body (quotes and control characters escaped). */
static void json_str(char *out, size_t cap, const char *s) {
    size_t n = strlen(out);
    for (; *s && n + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            n += (size_t)snprintf(out + n, cap - n, "\\%c", ch);
        } else if (ch < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
        } else {
            out[n++] = (char)ch;
            out[n] = 0;
        }
    }
}

int main(int argc, char **argv) {
    cocoon_client_config cfg;
    cocoon_client_config_init(&cfg);
    const char *model = "fortune-llama-7m", *prompt = NULL;
    int max_tokens = 64;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--registry") == 0 && i + 1 < argc) {
            cfg.registry = argv[++i];
        } else if (strcmp(argv[i], "--fake-ca") == 0 && i + 1 < argc) {
            cfg.fake_ca_dir = argv[++i];
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            model = argv[++i];
        } else if (strcmp(argv[i], "--max-tokens") == 0 && i + 1 < argc) {
            max_tokens = atoi(argv[++i]);
        } else if (!prompt && argv[i][0] != '-') {
            prompt = argv[i];
        } else {
            prompt = NULL;
            break;
        }
    }
    if (!cfg.registry || !prompt) {
        fprintf(stderr, "usage: cocoon-stream --registry FILE|chain:API_URL#ROOT [--fake-ca DIR] "
                        "[--model NAME] [--max-tokens N] PROMPT\n");
        return 2;
    }
    cocoon_client *c = NULL;
    char err[512];
    if (cocoon_client_new(&cfg, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "cocoon-stream: %s\n", err);
        return 1;
    }
    if (!cocoon_client_wait_ready(c, 30000)) {
        fprintf(stderr, "cocoon-stream: no proxy ready after 30 s\n");
        cocoon_client_free(c);
        return 1;
    }
    char body[8192] = "";
    snprintf(body, sizeof(body), "{\"model\":\"");
    json_str(body, sizeof(body), model);
    snprintf(body + strlen(body), sizeof(body) - strlen(body),
             "\",\"stream\":true,\"max_tokens\":%d,\"messages\":[{\"role\":\"user\",\"content\":\"",
             max_tokens);
    json_str(body, sizeof(body), prompt);
    snprintf(body + strlen(body), sizeof(body) - strlen(body), "\"}]}");

    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    cocoon_callbacks cb = {NULL, on_chunk, on_done};
    if (!cocoon_client_submit(c, "/v1/chat/completions", body, strlen(body), &cb, &w)) {
        fprintf(stderr, "cocoon-stream: not submitted\n");
        cocoon_client_free(c);
        return 1;
    }
    pthread_mutex_lock(&w.mu);
    while (!w.done) {
        pthread_cond_wait(&w.cv, &w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    cocoon_client_free(c);
    return w.status ? 1 : 0;
}
