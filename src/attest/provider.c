#include "provider.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/fake.h"
#include "attest/quote.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"

#define MOD "attest"
#define SMALL_FILE_MAX 64

struct attest_provider {
    attest_provider_kind kind;
    pthread_mutex_t mu;
    /* tdx */
    char tsm_dir[1024];
    char rtmr_dir[1024];
    unsigned retries;
    attest_tsm_hook hook;
    void *hook_arg;
    /* fake */
    fake_ca *ca;
    fake_td *td;
};

err_t attest_provider_kind_parse(const char *s, attest_provider_kind *out) {
    if (strcmp(s, "none") == 0) {
        *out = ATTEST_PROVIDER_NONE;
    } else if (strcmp(s, "tdx") == 0) {
        *out = ATTEST_PROVIDER_TDX;
    } else if (strcmp(s, "fake") == 0) {
        *out = ATTEST_PROVIDER_FAKE;
    } else {
        return err_fail(ERR_CONFIG, "unknown quote provider \"%s\" (tdx|fake|none)", s);
    }
    return ERR_OK;
}

static err_t copy_path(char *dst, size_t cap, const char *src, const char *def) {
    const char *s = src ? src : def;
    if ((size_t)snprintf(dst, cap, "%s", s) >= cap) {
        return err_fail(ERR_CONFIG, "path too long: %s", s);
    }
    return ERR_OK;
}

static err_t open_fake(attest_provider *p, const attest_provider_config *cfg) {
    if (!cfg->fake_ca_dir) {
        return err_fail(ERR_CONFIG, "fake provider needs a CA directory");
    }
    fake_td_config tc;
    if (cfg->fake_config) {
        TRY(fake_td_config_load(cfg->fake_config, &tc));
    } else {
        fake_td_config_default(&tc);
    }
    TRY(fake_ca_open(cfg->fake_ca_dir, cfg->now ? cfg->now : clock_unix(), &p->ca));
    return fake_td_new(p->ca, &tc, &p->td);
}

err_t attest_provider_open(const attest_provider_config *cfg, attest_provider **out) {
    *out = NULL;
    attest_provider *p = calloc(1, sizeof(*p));
    if (!p) {
        return err_fail(ERR_NOMEM, "attest_provider");
    }
    p->kind = cfg->kind;
    pthread_mutex_init(&p->mu, NULL);
    err_t e = ERR_OK;
    switch (cfg->kind) {
    case ATTEST_PROVIDER_TDX:
        if (cfg->tsm_retries > ATTEST_TSM_MAX_RETRIES) {
            e = err_fail(ERR_CONFIG, "tsm_retries %u above %d", cfg->tsm_retries,
                         ATTEST_TSM_MAX_RETRIES);
            break;
        }
        p->retries = cfg->tsm_retries ? cfg->tsm_retries : ATTEST_TSM_DEFAULT_RETRIES;
        p->hook = cfg->tsm_hook;
        p->hook_arg = cfg->tsm_hook_arg;
        if ((e = copy_path(p->tsm_dir, sizeof(p->tsm_dir), cfg->tsm_dir, ATTEST_TSM_DEFAULT_DIR)) ==
            ERR_OK) {
            e = copy_path(p->rtmr_dir, sizeof(p->rtmr_dir), cfg->rtmr_dir, ATTEST_RTMR_DEFAULT_DIR);
        }
        break;
    case ATTEST_PROVIDER_FAKE:
        e = open_fake(p, cfg);
        if (e == ERR_OK) {
            LOGW(MOD,
                 "fake quote provider: quotes are signed by the local CA in %s, NOT by "
                 "Intel; only peers pinning that CA accept them",
                 cfg->fake_ca_dir);
        }
        break;
    case ATTEST_PROVIDER_NONE:
        LOGW(MOD, "**************************************************************");
        LOGW(MOD, "quote provider 'none': THIS NODE PRODUCES NO ATTESTATION.");
        LOGW(MOD, "Development only. Attested peers will refuse it.");
        LOGW(MOD, "**************************************************************");
        break;
    default:
        e = err_fail(ERR_CONFIG, "unknown provider kind %d", (int)cfg->kind);
    }
    if (e != ERR_OK) {
        attest_provider_free(p);
        return e;
    }
    *out = p;
    return ERR_OK;
}

/* ---- tdx: configfs-tsm ---- */

static err_t read_small(const char *dir, const char *name, char *out, size_t cap) {
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    buf b;
    buf_init(&b, SMALL_FILE_MAX);
    err_t e = file_read(path, SMALL_FILE_MAX, &b);
    if (e == ERR_OK) {
        size_t n = b.len;
        while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\0')) {
            n--;
        }
        if (n >= cap || memchr(b.data, 0, n) != NULL) {
            e = err_fail(ERR_PROVIDER, "%s: unexpected content", path);
        } else {
            memcpy(out, b.data, n);
            out[n] = '\0';
        }
    } else {
        e = err_fail(ERR_PROVIDER, "configfs-tsm %s: %s", path, err_detail());
    }
    buf_free(&b);
    return e;
}

static err_t read_generation(const char *entry, uint64_t *out) {
    char s[32];
    TRY(read_small(entry, "generation", s, sizeof(s)));
    if (s[0] == '\0') {
        return err_fail(ERR_PROVIDER, "configfs-tsm generation is empty");
    }
    uint64_t v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9' || v > (UINT64_MAX - 9) / 10) {
            return err_fail(ERR_PROVIDER, "configfs-tsm generation \"%s\" is not a number", s);
        }
        v = v * 10 + (uint64_t)(*c - '0');
    }
    *out = v;
    return ERR_OK;
}

/* TDX returns EINVAL for any inblob length but 64: write it in one call and insist on it. */
static err_t write_exact(const char *path, const uint8_t *data, size_t n) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return err_fail(ERR_PROVIDER, "%s: %s", path, strerror(errno));
    }
    ssize_t w;
    do {
        w = write(fd, data, n);
    } while (w < 0 && errno == EINTR);
    int en = errno;
    int rc = close(fd);
    if (w < 0) {
        return err_fail(ERR_PROVIDER, "%s: %s", path, strerror(en));
    }
    if ((size_t)w != n || rc != 0) {
        return err_fail(ERR_PROVIDER, "%s: short write (%zd of %zu)", path, w, n);
    }
    return ERR_OK;
}

static err_t tsm_attempt(attest_provider *p, const char *entry, const uint8_t report_data[64],
                         buf *quote_out) {
    if (p->hook) {
        TRY(p->hook(p->hook_arg, ATTEST_TSM_AFTER_MKDIR, entry));
    }
    char prov[SMALL_FILE_MAX];
    TRY(read_small(entry, "provider", prov, sizeof(prov)));
    if (strcmp(prov, "tdx_guest") != 0) {
        return err_fail(ERR_PROVIDER, "configfs-tsm provider is \"%s\", not tdx_guest", prov);
    }
    uint64_t g0 = 0;
    uint64_t g1 = 0;
    TRY(read_generation(entry, &g0));
    char path[2048];
    snprintf(path, sizeof(path), "%s/inblob", entry);
    TRY(write_exact(path, report_data, 64));
    if (p->hook) {
        TRY(p->hook(p->hook_arg, ATTEST_TSM_AFTER_INBLOB, entry));
    }
    snprintf(path, sizeof(path), "%s/outblob", entry);
    buf q;
    buf_init(&q, QUOTE_MAX_SIZE);
    err_t e = file_read(path, QUOTE_MAX_SIZE, &q);
    if (e == ERR_OK && q.len == 0) {
        e = err_fail(ERR_PROVIDER, "configfs-tsm returned an empty quote");
    } else if (e != ERR_OK && e != ERR_TOO_LARGE) {
        e = err_fail(ERR_PROVIDER, "configfs-tsm outblob: %s", err_detail());
    }
    /* The generation must have moved by exactly our one write; anything else means another
     * writer changed inblob between our write and read, and the quote may carry ITS
     * REPORTDATA (attestation.md §2.1). */
    if (e == ERR_OK && (e = read_generation(entry, &g1)) == ERR_OK && g1 != g0 + 1) {
        e = err_fail(ERR_GENERATION_RACE, "generation %llu -> %llu", (unsigned long long)g0,
                     (unsigned long long)g1);
    }
    if (e == ERR_OK) {
        e = buf_append(quote_out, q.data, q.len);
    }
    buf_free(&q);
    return e;
}

static err_t tdx_quote(attest_provider *p, const uint8_t report_data[64], buf *quote_out) {
    static atomic_uint counter;
    err_t e = ERR_OK;
    for (unsigned attempt = 0; attempt <= p->retries; attempt++) {
        char entry[1200];
        snprintf(entry, sizeof(entry), "%s/cocoon.%ld.%u", p->tsm_dir, (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        if (mkdir(entry, 0700) != 0) {
            return err_fail(errno == ENOENT ? ERR_PROVIDER : ERR_IO,
                            "configfs-tsm mkdir %s: %s (is configfs mounted and tsm_report "
                            "loaded?)",
                            entry, strerror(errno));
        }
        e = tsm_attempt(p, entry, report_data, quote_out);
        err_t he = ERR_OK;
        if (p->hook) {
            he = p->hook(p->hook_arg, ATTEST_TSM_BEFORE_RMDIR, entry);
        }
        if (rmdir(entry) != 0 && e == ERR_OK) {
            e = he != ERR_OK
                    ? he
                    : err_fail(ERR_IO, "configfs-tsm rmdir %s: %s", entry, strerror(errno));
        }
        if (e != ERR_GENERATION_RACE) {
            return e;
        }
        LOGW(MOD, "configfs-tsm: %s (attempt %u of %u)", err_detail(), attempt + 1, p->retries + 1);
    }
    return e;
}

static err_t tdx_extend(attest_provider *p, unsigned idx, const uint8_t digest[48]) {
    char path[1200];
    snprintf(path, sizeof(path), "%s/rtmr%u:sha384", p->rtmr_dir, idx);
    err_t e = write_exact(path, digest, 48);
    if (e != ERR_OK) {
        return err_fail(ERR_PROVIDER, "RTMR%u extension: %s (needs Linux >= 6.16)", idx,
                        err_detail());
    }
    return ERR_OK;
}

/* ---- dispatch ---- */

err_t attest_provider_quote(attest_provider *p, const uint8_t report_data[64], buf *quote_out) {
    err_t e;
    pthread_mutex_lock(&p->mu);
    switch (p->kind) {
    case ATTEST_PROVIDER_TDX:
        e = tdx_quote(p, report_data, quote_out);
        break;
    case ATTEST_PROVIDER_FAKE:
        e = fake_td_quote(p->td, report_data, quote_out);
        break;
    default:
        e = err_fail(ERR_NO_QUOTE, "quote provider 'none' produces no quote");
    }
    pthread_mutex_unlock(&p->mu);
    return e;
}

err_t attest_provider_extend_rtmr(attest_provider *p, unsigned idx, const uint8_t digest[48]) {
    if (idx > 3) {
        return err_fail(ERR_CONFIG, "RTMR index %u (0..3)", idx);
    }
    err_t e = ERR_OK;
    pthread_mutex_lock(&p->mu);
    switch (p->kind) {
    case ATTEST_PROVIDER_TDX:
        e = tdx_extend(p, idx, digest);
        break;
    case ATTEST_PROVIDER_FAKE:
        e = fake_td_extend_rtmr(p->td, idx, digest);
        break;
    default:
        LOGW(MOD, "quote provider 'none': RTMR%u extension ignored", idx);
    }
    pthread_mutex_unlock(&p->mu);
    return e;
}

const char *attest_provider_name(const attest_provider *p) {
    switch (p->kind) {
    case ATTEST_PROVIDER_TDX:
        return "tdx";
    case ATTEST_PROVIDER_FAKE:
        return "fake";
    default:
        return "none";
    }
}

bool attest_provider_has_quotes(const attest_provider *p) {
    return p->kind != ATTEST_PROVIDER_NONE;
}

const uint8_t *attest_provider_fake_root(const attest_provider *p) {
    return p->kind == ATTEST_PROVIDER_FAKE && p->ca ? fake_ca_root_pub(p->ca) : NULL;
}

void attest_provider_free(attest_provider *p) {
    if (p) {
        fake_td_free(p->td);
        fake_ca_free(p->ca);
        pthread_mutex_destroy(&p->mu);
        free(p);
    }
}
