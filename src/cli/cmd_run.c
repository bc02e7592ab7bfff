/* cocoon run MODEL.gguf "prompt" [options]: one generation with the built-in engine.
 *   --chat          apply the model's chat template (the prompt is the user message; its text
 *                   is never parsed for special tokens)
 *   --greedy        argmax decoding; with -n N prints the text of up to N tokens and nothing
 *                   else, stopping early at an end-of-generation token (not printed)
 *   -n N            maximum tokens to generate (default 256)
 *   --threads T     compute threads (default 1)
 *   --temp F --top-k K --top-p F --min-p F --seed S   sampling (defaults 0.8, 40, 0.95, 0.05,
 *                   random seed)
 *   --stop TEXT     stop sequence (repeatable, up to 8)
 *   --ctx N         context length (default: the model's)
 *   --system TEXT   system message for --chat
 *   --portable      use the portable kernels even where AVX2 is available
 *   --stats         print token counts and speeds to stderr
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "crypto/rand.h"
#include "engine/engine.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: cocoon run MODEL.gguf PROMPT [--chat] [--system TEXT] [--greedy] [-n N]\n"
               "                  [--threads T] [--temp F] [--top-k K] [--top-p F] [--min-p F]\n"
               "                  [--seed S] [--stop TEXT]... [--ctx N] [--portable] [--stats]\n");
}

static int print_text(void *user, const char *text, size_t len)
{
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return ferror(stdout) ? 1 : 0;
}

static int parse_float(const char *s, float lo, float hi, float *out)
{
    char *end;
    float v = strtof(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) {
        return 0;
    }
    *out = v;
    return 1;
}

int cmd_run(int argc, char **argv)
{
    enum {
        O_CHAT = 256,
        O_GREEDY,
        O_THREADS,
        O_TEMP,
        O_TOPK,
        O_TOPP,
        O_MINP,
        O_SEED,
        O_STOP,
        O_CTX,
        O_SYSTEM,
        O_PORTABLE,
        O_STATS
    };
    static const struct option opts[] = {
        {"chat", no_argument, 0, O_CHAT},
        {"greedy", no_argument, 0, O_GREEDY},
        {"threads", required_argument, 0, O_THREADS},
        {"temp", required_argument, 0, O_TEMP},
        {"top-k", required_argument, 0, O_TOPK},
        {"top-p", required_argument, 0, O_TOPP},
        {"min-p", required_argument, 0, O_MINP},
        {"seed", required_argument, 0, O_SEED},
        {"stop", required_argument, 0, O_STOP},
        {"ctx", required_argument, 0, O_CTX},
        {"system", required_argument, 0, O_SYSTEM},
        {"portable", no_argument, 0, O_PORTABLE},
        {"stats", no_argument, 0, O_STATS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bool chat = false;
    bool stats = false;
    bool portable = false;
    bool seeded = false;
    const char *system = NULL;
    long n = 256;
    long threads = 1;
    long ctx = 0;
    long v;
    const char *stops[ENGINE_MAX_STOP];
    size_t n_stop = 0;
    sample_params sp = {.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case O_CHAT:
            chat = true;
            break;
        case O_GREEDY:
            sp.temperature = 0.0f;
            break;
        case 'n':
            if (!cli_parse_long(optarg, 1, 1 << 20, &n)) {
                goto bad;
            }
            break;
        case O_THREADS:
            if (!cli_parse_long(optarg, 1, 64, &threads)) {
                goto bad;
            }
            break;
        case O_CTX:
            if (!cli_parse_long(optarg, 1, 1 << 20, &ctx)) {
                goto bad;
            }
            break;
        case O_TEMP:
            if (!parse_float(optarg, 0.0f, 100.0f, &sp.temperature)) {
                goto bad;
            }
            break;
        case O_TOPK:
            if (!cli_parse_long(optarg, 0, 1 << 21, &v)) {
                goto bad;
            }
            sp.top_k = (uint32_t)v;
            break;
        case O_TOPP:
            if (!parse_float(optarg, 1e-6f, 1.0f, &sp.top_p)) {
                goto bad;
            }
            break;
        case O_MINP:
            if (!parse_float(optarg, 0.0f, 1.0f, &sp.min_p)) {
                goto bad;
            }
            break;
        case O_SEED: {
            char *end;
            sp.seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end) {
                goto bad;
            }
            seeded = true;
            break;
        }
        case O_STOP:
            if (n_stop == ENGINE_MAX_STOP) {
                goto bad;
            }
            stops[n_stop++] = optarg;
            break;
        case O_SYSTEM:
            system = optarg;
            break;
        case O_PORTABLE:
            portable = true;
            break;
        case O_STATS:
            stats = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto bad;
        }
    }
    if (argc - optind != 2) {
        goto bad;
    }
    if (!seeded) {
        rand_bytes(&sp.seed, sizeof(sp.seed));
    }
    const char *path = argv[optind];
    const char *prompt = argv[optind + 1];
    engine *e;
    err_t r = engine_open(path, &e);
    if (r != ERR_OK) {
        return cli_fail("run", r, path);
    }
    engine_session *s;
    engine_session_opts so = {.n_ctx = (uint32_t)ctx,
                              .n_threads = (unsigned)threads,
                              .kern = portable ? kern_portable() : NULL};
    r = engine_session_new(e, &so, &s);
    if (r != ERR_OK) {
        engine_free(e);
        return cli_fail("run", r, "session");
    }
    chat_msg msgs[2];
    size_t nm = 0;
    if (system) {
        msgs[nm++] = (chat_msg){"system", system};
    }
    msgs[nm++] = (chat_msg){"user", prompt};
    engine_request req = {
        .messages = chat ? msgs : NULL,
        .n_messages = nm,
        .prompt = prompt,
        .prompt_len = strlen(prompt),
        .sampling = sp,
        .max_tokens = (uint32_t)n,
        .stop = stops,
        .n_stop = n_stop,
        .on_text = print_text,
    };
    engine_usage u;
    r = engine_generate(s, &req, &u);
    int rc = 0;
    if (r != ERR_OK) {
        rc = cli_fail("run", r, "generate");
    } else if (stats) {
        fprintf(stderr,
                "\nprompt %u tokens (%.1f tok/s), completion %u tokens (%.1f tok/s), finish %s, "
                "kernels %s, %ld thread(s)\n",
                u.prompt_tokens, u.prefill_seconds > 0 ? u.prompt_tokens / u.prefill_seconds : 0.0,
                u.completion_tokens,
                u.decode_seconds > 0 ? u.completion_tokens / u.decode_seconds : 0.0,
                engine_finish_name(u.finish), portable ? "portable" : kern_best()->name, threads);
    }
    engine_session_free(s);
    engine_free(e);
    return rc;
bad:
    usage(stderr);
    return 2;
}
