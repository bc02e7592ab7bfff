/* Shared helpers of the engine tests: paths of the shipped model and its vectors. */
#ifndef COCOON_TEST_ENGINE_COMMON_H
#define COCOON_TEST_ENGINE_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

static inline const char *models_path(const char *file) {
    static char path[4096];
    const char *dir = getenv("COCOON_MODELS");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "models", file);
    return path;
}

static inline json_t *load_json(const char *file) {
    json_error_t je;
    json_t *j = json_load_file(models_path(file), 0, &je);
    if (!j) {
        fprintf(stderr, "%s: %s (line %d)\n", models_path(file), je.text, je.line);
    }
    return j;
}

#define DEMO_GGUF "fortune-llama-7m-f16.gguf"

#endif
