/* cocoon model: GGUF model files.
 *   quantize IN.gguf OUT.gguf q8_0|q4_0   2-D weights to Q8_0 / Q4_0 (llama.cpp-compatible)
 *   info MODEL.gguf                       metadata and tensors
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "engine/gguf.h"
#include "engine/quantize.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: cocoon model quantize IN.gguf OUT.gguf q8_0|q4_0\n"
               "       cocoon model info MODEL.gguf\n");
}

static void print_kv(const gguf_kv *kv)
{
    printf("  %.*s = ", (int)kv->key.len, kv->key.p);
    switch (kv->type) {
    case GGUF_T_STRING:
        if (kv->str.len > 60) {
            printf("\"%.60s...\" (%zu bytes)\n", kv->str.p, kv->str.len);
        } else {
            printf("\"%.*s\"\n", (int)kv->str.len, kv->str.p);
        }
        break;
    case GGUF_T_ARRAY:
        printf("[%llu elements of type %u]\n", (unsigned long long)kv->arr_len, kv->arr_type);
        break;
    case GGUF_T_F32:
    case GGUF_T_F64:
        printf("%g\n", kv->v.f);
        break;
    case GGUF_T_I8:
    case GGUF_T_I16:
    case GGUF_T_I32:
    case GGUF_T_I64:
        printf("%lld\n", (long long)kv->v.i);
        break;
    default:
        printf("%llu\n", (unsigned long long)kv->v.u);
        break;
    }
}

static int info(const char *path)
{
    gguf *g;
    err_t e = gguf_open(path, &g);
    if (e != ERR_OK) {
        return cli_fail("model", e, path);
    }
    printf("GGUF v%u, alignment %u, data at %zu\nmetadata (%zu):\n", gguf_version(g),
           gguf_alignment(g), gguf_data_offset(g), gguf_kv_count(g));
    for (size_t i = 0; i < gguf_kv_count(g); i++) {
        print_kv(gguf_kv_at(g, i));
    }
    printf("tensors (%zu):\n", gguf_tensor_count(g));
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        const char *tn = "?";
        (void)ggml_type_info(t->type, &tn, NULL, NULL);
        printf("  %-28.*s %-5s [", (int)t->name.len, t->name.p, tn);
        for (uint32_t d = 0; d < t->n_dims; d++) {
            printf(d ? ", %llu" : "%llu", (unsigned long long)t->ne[d]);
        }
        printf("] %llu bytes\n", (unsigned long long)t->n_bytes);
    }
    gguf_free(g);
    return 0;
}

int cmd_model(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "info") == 0) {
        return info(argv[2]);
    }
    if (argc == 5 && strcmp(argv[1], "quantize") == 0) {
        uint32_t type;
        if (strcmp(argv[4], "q8_0") == 0) {
            type = GGML_T_Q8_0;
        } else if (strcmp(argv[4], "q4_0") == 0) {
            type = GGML_T_Q4_0;
        } else {
            usage(stderr);
            return 2;
        }
        quantize_stats st;
        err_t e = model_quantize(argv[2], argv[3], type, &st);
        if (e != ERR_OK) {
            return cli_fail("model", e, "quantize");
        }
        fprintf(stderr, "%u tensors quantized, %u copied, %.2f MB -> %.2f MB\n", st.n_quantized,
                st.n_copied, (double)st.bytes_in / 1e6, (double)st.bytes_out / 1e6);
        return 0;
    }
    usage(stderr);
    return 2;
}
