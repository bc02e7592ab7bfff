/* Every byte of the DER of every certificate of a quote's PCK chain matters: the chain is
 * carried as PEM, so each flip is made on the decoded DER and re-encoded in place (same length,
 * same line breaks), then the quote must fail signature-level verification. Done on a fake
 * quote (against its fake root) and on the real cocoon quote (against Intel's root, at a time
 * inside its PCK certificate's validity). */
#include "testutil.h"

#include "attest/fake.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "base/codec.h"

#define MAX_DER 4096

typedef struct {
    size_t start; /* offset of the base64 body within the quote */
    size_t end;
} pem_block;

/* Finds the PEM bodies inside the quote's PCK chain. */
static size_t find_blocks(const uint8_t *q, const quote *qq, size_t base, pem_block *out,
                          size_t max)
{
    static const char BEGIN[] = "-----BEGIN CERTIFICATE-----\n";
    static const char END[] = "-----END CERTIFICATE-----";
    size_t n = 0;
    size_t off = base;
    size_t stop = base + qq->pck_chain.len;
    while (n < max) {
        const uint8_t *b = memmem(q + off, stop - off, BEGIN, sizeof(BEGIN) - 1);
        if (!b) {
            break;
        }
        size_t s = (size_t)(b - q) + sizeof(BEGIN) - 1;
        const uint8_t *e = memmem(q + s, stop - s, END, sizeof(END) - 1);
        assert_non_null(e);
        out[n].start = s;
        out[n].end = (size_t)(e - q);
        n++;
        off = out[n - 1].end;
    }
    return n;
}

/* Base64 text of [start, end) without its newlines. */
static size_t gather(const uint8_t *q, const pem_block *b, char *text)
{
    size_t n = 0;
    for (size_t i = b->start; i < b->end; i++) {
        if (q[i] != '\n') {
            text[n++] = (char)q[i];
        }
    }
    return n;
}

/* Writes base64 text back over [start, end), keeping the newlines where they were. */
static void scatter(uint8_t *q, const pem_block *b, const char *text)
{
    size_t k = 0;
    for (size_t i = b->start; i < b->end; i++) {
        if (q[i] != '\n') {
            q[i] = (uint8_t)text[k++];
        }
    }
}

static void flip_every_der_byte(const uint8_t *orig, size_t len, const uint8_t (*root)[64],
                                int64_t now)
{
    quote qq;
    assert_int_equal(quote_parse(orig, len, &qq), ERR_OK);
    uint8_t id[48];
    assert_int_equal(quote_verify_signatures(&qq, root, 1, now, id), ERR_OK);
    size_t base = (size_t)(qq.pck_chain.p - orig);
    pem_block blocks[4];
    size_t nb = find_blocks(orig, &qq, base, blocks, 4);
    assert_int_equal(nb, 3);

    uint8_t *q = malloc(len);
    char *text = malloc(MAX_DER * 2);
    uint8_t *der = malloc(MAX_DER);
    assert_non_null(q);
    assert_non_null(text);
    assert_non_null(der);
    size_t flips = 0;
    attest_chain_memo_enable(false);
    for (size_t b = 0; b < nb; b++) {
        size_t tn = gather(orig, &blocks[b], text);
        size_t dn = 0;
        assert_int_equal(b64_decode(text, tn, der, MAX_DER, &dn, false), ERR_OK);
        for (size_t i = 0; i < dn; i++) {
            der[i] ^= 0x01;
            char *enc = malloc(b64_encoded_len(dn) + 1);
            assert_non_null(enc);
            b64_encode(der, dn, enc, false);
            assert_int_equal(strlen(enc), tn);
            memcpy(q, orig, len);
            scatter(q, &blocks[b], enc);
            free(enc);
            der[i] ^= 0x01;
            quote m;
            err_t e = quote_parse(q, len, &m);
            if (e == ERR_OK) {
                e = quote_verify_signatures(&m, root, 1, now, id);
            }
            if (e == ERR_OK) {
                fail_msg("certificate %zu, DER byte %zu: a flipped chain still verifies", b, i);
            }
            flips++;
        }
    }
    attest_chain_memo_enable(true);
    assert_true(flips > 1000);
    free(q);
    free(text);
    free(der);
}

static void test_fake_quote_chain_der(void **state)
{
    (void)state;
    char dir[] = "/tmp/cocoon-chainflip-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ca_dir[64];
    snprintf(ca_dir, sizeof(ca_dir), "%s/ca", dir);
    int64_t now = 1795600000;
    fake_ca *ca;
    assert_int_equal(fake_ca_open(ca_dir, now, &ca), ERR_OK);
    fake_td_config cfg;
    fake_td_config_default(&cfg);
    fake_td *td;
    assert_int_equal(fake_td_new(ca, &cfg, &td), ERR_OK);
    uint8_t rd[64] = {1};
    buf q;
    buf_init(&q, QUOTE_MAX_SIZE);
    assert_int_equal(fake_td_quote(td, rd, &q), ERR_OK);
    flip_every_der_byte(q.data, q.len, (const uint8_t(*)[64])fake_ca_root_pub(ca), now);
    buf_free(&q);
    fake_td_free(td);
    fake_ca_free(ca);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_real_quote_chain_der(void **state)
{
    (void)state;
    buf q;
    td_read("tdx/cocoon_quote_v4.dat", &q);
    /* 2026-03-05T00:00:00Z: inside the PCK certificate's validity (tests/data/tdx/SOURCE.md) */
    flip_every_der_byte(q.data, q.len, &ATTEST_INTEL_ROOT_PUB, 1772668800);
    buf_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_quote_chain_der),
        cmocka_unit_test(test_real_quote_chain_der),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
