/* Registry refresh thread and its hand-over to the registry's owner (see refresher.h). */
#include "refresher.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"

struct registry_refresher {
    registry_source src;
    char api_key[REGISTRY_REFRESH_API_KEY_MAX];
    bool have_key;
    unsigned every_s;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit;             /* under mu */
    registry *pending;     /* under mu: a fresh read not yet polled */
    char pending_err[512]; /* under mu: why the last read failed, "" when it did not */
    bool failing;          /* poller's thread: inside a streak of failed reads */
};

static void *refresher_main(void *arg) {
    registry_refresher *rf = arg;
    const char *key = rf->have_key ? rf->api_key : NULL;
    pthread_mutex_lock(&rf->mu);
    while (!rf->quit) {
        /* The condition variable runs on CLOCK_MONOTONIC: a wall clock step neither
         * hurries nor stalls the next read. */
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += rf->every_s;
        while (!rf->quit && pthread_cond_timedwait(&rf->cv, &rf->mu, &until) == 0) {
        }
        if (rf->quit) {
            break;
        }
        pthread_mutex_unlock(&rf->mu);
        registry *fresh = NULL;
        err_t e = registry_source_load(&rf->src, key, REGISTRY_REFRESH_TIMEOUT_MS, &fresh);
        pthread_mutex_lock(&rf->mu);
        registry_free(rf->pending);
        rf->pending = fresh;
        if (e != ERR_OK) {
            snprintf(rf->pending_err, sizeof(rf->pending_err), "%s", err_describe(e));
        } else {
            rf->pending_err[0] = 0;
        }
    }
    pthread_mutex_unlock(&rf->mu);
    return NULL;
}

err_t registry_refresher_start(const registry_source *src, unsigned every_s, const char *api_key,
                               registry_refresher **out) {
    *out = NULL;
    if (every_s == 0) {
        return err_fail(ERR_USAGE, "registry refresh: the period must be at least 1 s");
    }
    if (api_key && strlen(api_key) >= REGISTRY_REFRESH_API_KEY_MAX) {
        return err_fail(ERR_TOO_LARGE, "registry refresh: TON API key longer than %d bytes",
                        REGISTRY_REFRESH_API_KEY_MAX - 1);
    }
    registry_refresher *rf = calloc(1, sizeof(*rf));
    if (!rf) {
        return ERR_NOMEM;
    }
    err_t e = ERR_OK;
    rf->src = *src;
    rf->every_s = every_s;
    if (api_key) {
        snprintf(rf->api_key, sizeof(rf->api_key), "%s", api_key);
        rf->have_key = true;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&rf->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        e = err_fail(ERR_INTERNAL, "registry refresh: pthread_cond_init failed");
        goto out;
    }
    pthread_mutex_init(&rf->mu, NULL);
    if (pthread_create(&rf->th, NULL, refresher_main, rf) != 0) {
        pthread_cond_destroy(&rf->cv);
        pthread_mutex_destroy(&rf->mu);
        e = err_fail(ERR_INTERNAL, "registry refresh thread");
        goto out;
    }
    *out = rf;
    rf = NULL;
out:
    if (rf) {
        mem_wipe(rf->api_key, sizeof(rf->api_key));
        free(rf);
    }
    return e;
}

bool registry_refresher_poll(registry_refresher *rf, registry *reg, const char *log_module) {
    if (!rf) {
        return false;
    }
    char why[sizeof(rf->pending_err)];
    pthread_mutex_lock(&rf->mu);
    registry *fresh = rf->pending;
    rf->pending = NULL;
    snprintf(why, sizeof(why), "%s", rf->pending_err);
    rf->pending_err[0] = 0;
    pthread_mutex_unlock(&rf->mu);
    if (why[0]) {
        if (!rf->failing) {
            LOGW(log_module, "registry refresh failed, keeping version %lld: %s",
                 (long long)registry_version(reg), why);
        }
        rf->failing = true;
        return false;
    }
    if (!fresh) {
        return false;
    }
    if (rf->failing) {
        LOGI(log_module, "registry refresh works again");
        rf->failing = false;
    }
    if (registry_equal(reg, fresh)) {
        registry_free(fresh);
        return false;
    }
    int64_t was = registry_version(reg);
    registry_replace(reg, fresh);
    LOGI(log_module, "registry updated: version %lld -> %lld", (long long)was,
         (long long)registry_version(reg));
    return true;
}

void registry_refresher_free(registry_refresher *rf) {
    if (!rf) {
        return;
    }
    pthread_mutex_lock(&rf->mu);
    rf->quit = true;
    pthread_cond_signal(&rf->cv);
    pthread_mutex_unlock(&rf->mu);
    pthread_join(rf->th, NULL);
    registry_free(rf->pending);
    pthread_cond_destroy(&rf->cv);
    pthread_mutex_destroy(&rf->mu);
    mem_wipe(rf->api_key, sizeof(rf->api_key));
    free(rf);
}
