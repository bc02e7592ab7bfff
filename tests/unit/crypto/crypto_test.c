/* Known-answer tests for the crypto facade. Vectors: FIPS 180-2 ("abc"), RFC 4231 case 2,
 * RFC 5869 case 1, RFC 8032 §7.1 test 1, RFC 7748 §6.1, and self-consistency for ECDSA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/codec.h"
#include "crypto/aead.h"
#include "crypto/ct.h"
#include "crypto/ecdsa.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "crypto/x25519.h"

static void unhex(const char *s, uint8_t *out, size_t want) {
    size_t n = 0;
    assert_int_equal(hex_decode(s, strlen(s), out, want, &n), ERR_OK);
    assert_int_equal(n, want);
}

static void assert_hex(const uint8_t *d, size_t n, const char *expect) {
    char s[257];
    hex_encode(d, n, s);
    assert_string_equal(s, expect);
}

static void test_sha2(void **state) {
    (void)state;
    uint8_t h[64];
    sha256("abc", 3, h);
    assert_hex(h, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha384("abc", 3, h);
    assert_hex(h, 48,
               "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358b"
               "aeca134c825a7");
    sha512("abc", 3, h);
    assert_hex(h, 64,
               "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836b"
               "a3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    hash_ctx *c = hash_new(HASH_SHA256);
    hash_update(c, "a", 1);
    hash_update(c, "bc", 2);
    hash_final_free(c, h);
    assert_hex(h, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_hmac_hkdf(void **state) {
    (void)state;
    uint8_t out[64];
    assert_int_equal(hmac(HASH_SHA256, "Jefe", 4, "what do ya want for nothing?", 28, out), ERR_OK);
    assert_hex(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 2 for the other digests, then keys that change between calls (the
     * per-thread context is re-keyed), and the empty key. */
    assert_int_equal(hmac(HASH_SHA384, "Jefe", 4, "what do ya want for nothing?", 28, out), ERR_OK);
    assert_hex(out, 48,
               "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b"
               "3239ecfab21649");
    assert_int_equal(hmac(HASH_SHA512, "Jefe", 4, "what do ya want for nothing?", 28, out), ERR_OK);
    assert_hex(
        out, 64,
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d03"
        "4f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    uint8_t a1[32], b1[32], a2[32];
    assert_int_equal(hmac(HASH_SHA256, "key-a", 5, "m", 1, a1), ERR_OK);
    assert_int_equal(hmac(HASH_SHA256, "key-b", 5, "m", 1, b1), ERR_OK);
    assert_int_equal(hmac(HASH_SHA256, "key-a", 5, "m", 1, a2), ERR_OK);
    assert_memory_not_equal(a1, b1, 32);
    assert_memory_equal(a1, a2, 32);
    assert_int_equal(hmac(HASH_SHA256, "", 0, "", 0, out), ERR_OK);
    assert_hex(out, 32, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    uint8_t ikm[22];
    memset(ikm, 0x0b, sizeof(ikm));
    uint8_t salt[13];
    unhex("000102030405060708090a0b0c", salt, 13);
    uint8_t info[10];
    unhex("f0f1f2f3f4f5f6f7f8f9", info, 10);
    assert_int_equal(hkdf(HASH_SHA256, salt, 13, ikm, 22, info, 10, out, 42), ERR_OK);
    assert_hex(
        out, 42,
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

static void test_ed25519_rfc8032(void **state) {
    (void)state;
    uint8_t seed[32];
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
    ed25519_key k;
    assert_int_equal(ed25519_from_seed(&k, seed), ERR_OK);
    assert_hex(k.pub, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    uint8_t sig[64];
    assert_int_equal(ed25519_sign(&k, "", 0, sig), ERR_OK);
    assert_hex(
        sig, 64,
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3"
        "9701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    assert_int_equal(ed25519_verify(k.pub, "", 0, sig), ERR_OK);
    sig[10] ^= 1;
    assert_int_equal(ed25519_verify(k.pub, "", 0, sig), ERR_BAD_SIGNATURE);
    sig[10] ^= 1;
    assert_int_equal(ed25519_verify(k.pub, "x", 1, sig), ERR_BAD_SIGNATURE);
    ed25519_wipe(&k);
    static const uint8_t zero[32];
    assert_memory_equal(k.seed, zero, 32);
}

static void test_x25519_rfc7748(void **state) {
    (void)state;
    x25519_key a;
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a.priv, 32);
    uint8_t bob_pub[32];
    unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", bob_pub, 32);
    uint8_t shared[32];
    assert_int_equal(x25519_shared(&a, bob_pub, shared), ERR_OK);
    assert_hex(shared, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    static const uint8_t zero_point[32];
    assert_int_equal(x25519_shared(&a, zero_point, shared), ERR_BAD_KEY);
}

static void test_aes_gcm(void **state) {
    (void)state;
    /* NIST GCM test case 2 (AES-128, zero key, zero IV, one zero block) */
    uint8_t key[16] = {0};
    uint8_t nonce[12] = {0};
    uint8_t pt[16] = {0};
    uint8_t ct[32];
    assert_int_equal(aead_seal(key, 16, nonce, NULL, 0, pt, 16, ct), ERR_OK);
    assert_hex(ct, 32, "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
    uint8_t back[16];
    assert_int_equal(aead_open(key, 16, nonce, NULL, 0, ct, 32, back), ERR_OK);
    assert_memory_equal(back, pt, 16);
    ct[31] ^= 1;
    assert_int_equal(aead_open(key, 16, nonce, NULL, 0, ct, 32, back), ERR_AEAD_AUTH);
    ct[31] ^= 1;
    assert_int_equal(aead_open(key, 16, nonce, "a", 1, ct, 32, back), ERR_AEAD_AUTH);
    assert_int_equal(aead_seal(key, 15, nonce, NULL, 0, pt, 16, ct), ERR_BAD_KEY);
    assert_int_equal(aead_open(key, 16, nonce, NULL, 0, ct, 8, back), ERR_TRUNCATED);
}

static void test_ecdsa_p256(void **state) {
    (void)state;
    p256_key k;
    assert_int_equal(p256_generate(&k), ERR_OK);
    uint8_t sig[64];
    assert_int_equal(p256_sign(&k, "quote", 5, sig), ERR_OK);
    assert_int_equal(ecdsa_verify(ECDSA_P256_SHA256, k.pub, "quote", 5, sig), ERR_OK);
    assert_int_equal(ecdsa_verify(ECDSA_P256_SHA256, k.pub, "quotf", 5, sig), ERR_BAD_SIGNATURE);
    sig[63] ^= 0x80;
    assert_int_equal(ecdsa_verify(ECDSA_P256_SHA256, k.pub, "quote", 5, sig), ERR_BAD_SIGNATURE);
    uint8_t bad_pub[64];
    memcpy(bad_pub, k.pub, 64);
    bad_pub[63] ^= 1; /* off the curve */
    assert_int_equal(ecdsa_verify(ECDSA_P256_SHA256, bad_pub, "quote", 5, sig), ERR_BAD_KEY);
}

static void test_ct_and_rand(void **state) {
    (void)state;
    assert_true(ct_eq("abc", "abc", 3));
    assert_false(ct_eq("abc", "abd", 3));
    uint8_t a[32] = {0};
    uint8_t b[32] = {0};
    rand_bytes(a, 32);
    rand_bytes(b, 32);
    assert_false(ct_eq(a, b, 32));
    ct_wipe(a, 32);
    assert_true(ct_eq(a, (uint8_t[32]){0}, 32));
}

/* Request ids from the pool: distinct across pool refills, and a forked child never hands
 * out the bytes its parent will (the pool is dropped in the child). */
static void test_rand_id_pool_and_fork(void **state) {
    (void)state;
    enum { N = 300 }; /* 300 x 32 bytes: two refills of the 4 KiB pool */
    static uint8_t ids[N][32];
    for (int i = 0; i < N; i++) {
        rand_id(ids[i], 32);
        for (int j = 0; j < i; j++) {
            assert_memory_not_equal(ids[i], ids[j], 32);
        }
    }
    uint8_t odd[7], zero[7] = {0};
    rand_id(odd, sizeof(odd)); /* an odd size leaves the pool unaligned */
    assert_memory_not_equal(odd, zero, sizeof(odd));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t c[32];
        rand_id(c, 32);
        ssize_t w = write(fds[1], c, 32);
        _exit(w == 32 ? 0 : 1);
    }
    uint8_t parent[32], child[32];
    rand_id(parent, 32);
    assert_int_equal(read(fds[0], child, 32), 32);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_memory_not_equal(parent, child, 32);
    close(fds[0]);
    close(fds[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha2),           cmocka_unit_test(test_rand_id_pool_and_fork),
        cmocka_unit_test(test_hmac_hkdf),      cmocka_unit_test(test_ed25519_rfc8032),
        cmocka_unit_test(test_x25519_rfc7748), cmocka_unit_test(test_aes_gcm),
        cmocka_unit_test(test_ecdsa_p256),     cmocka_unit_test(test_ct_and_rand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
