#!/usr/bin/env bash
# cocoon attest as a user runs it: gen-cert writes the three files; show prints every real
# quote's fields; verify accepts a fake certificate only against the fake root and refuses
# expired or DEBUG certificates with their reason.
source "$(dirname "$0")/lib.sh"
TD="$COCOON_TESTDATA/tdx"

"$COCOON" attest gen-cert --provider fake --out "$WORK/p" --valid 2 >"$WORK/gen.out" 2>"$WORK/gen.err" \
    && pass "gen-cert --provider fake" || { fail "gen-cert"; cat "$WORK/gen.err"; }
for f in p_cert.pem p_key.pem p_image_hash.b64; do
    [ -s "$WORK/$f" ] && pass "wrote $f" || fail "missing $f"
done
[ "$(stat -c %a "$WORK/p_key.pem")" = 600 ] && pass "key file is 0600" || fail "key file mode"
b64="$(cat "$WORK/p_image_hash.b64")"
hex="$(echo "$b64" | base64 -d | od -An -tx1 | tr -d ' \n')"
expect_line "$WORK/gen.out" "^image_hash: $hex\$" "image_hash.b64 holds the printed image hash"

"$COCOON" attest show "$WORK/p_cert.pem" >"$WORK/show.out" 2>&1
expect_line "$WORK/show.out" "^image_hash: $hex\$" "show prints the certificate's quote"
expect_line "$WORK/show.out" '^debug: false$' "show prints the DEBUG attribute"

if "$COCOON" attest verify --cert "$WORK/p_cert.pem" >"$WORK/v1.out" 2>&1; then
    fail "fake certificate accepted against Intel's root"
else
    expect_line "$WORK/v1.out" '^error: CHAIN_UNTRUSTED$' "fake quote rejected against the real Intel root"
fi
"$COCOON" attest verify --cert "$WORK/p_cert.pem" --fake-ca "$COCOON_HOME/fake-ca" >"$WORK/v2.out" 2>&1 \
    && pass "verify with the fake root pinned" || { fail "verify with fake root"; cat "$WORK/v2.out"; }
"$COCOON" attest verify --cert "$WORK/p_cert.pem" --fake-ca "$COCOON_HOME/fake-ca" \
    --at $(( $(date +%s) + 3 * 3600 )) >"$WORK/v3.out" 2>&1
expect_line "$WORK/v3.out" '^error: CERT_EXPIRED$' "verify later than notAfter: CERT_EXPIRED"

cat >"$WORK/debug.json" <<'JSON'
{"td_attributes": "0100001000000000", "mrtd": "aa0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"}
JSON
"$COCOON" attest gen-cert --provider fake --fake-config "$WORK/debug.json" --out "$WORK/d" >/dev/null 2>&1 \
    || fail "gen-cert with a DEBUG config"
"$COCOON" attest verify --cert "$WORK/d_cert.pem" --fake-ca "$COCOON_HOME/fake-ca" >"$WORK/v4.out" 2>&1
expect_line "$WORK/v4.out" '^error: DEBUG_TD$' "DEBUG TD refused"
"$COCOON" attest verify --cert "$WORK/d_cert.pem" --fake-ca "$COCOON_HOME/fake-ca" --allow-debug >"$WORK/v5.out" 2>&1
expect_line "$WORK/v5.out" '^verdict: ok$' "DEBUG TD accepted only with --allow-debug"

echo '{"image_hashes": ["'"$b64"'"]}' >"$WORK/policy.json"
"$COCOON" attest verify --cert "$WORK/d_cert.pem" --fake-ca "$COCOON_HOME/fake-ca" --allow-debug \
    --policy "$WORK/policy.json" >"$WORK/v6.out" 2>&1
expect_line "$WORK/v6.out" '^error: IMAGE_NOT_ALLOWED$' "another image hash is refused by the policy"

# every real quote in the test data, v4 and v5, TDX and SGX
declare -A WANT=(
  [cocoon_quote_v4.dat]=04b3afd931d28680af91a15b09d672c40ad6b141f7f9089a8d67d595220f7436
  [dcapqvl_tdx_quote_v4.dat]=b260fa9168ca9f28e7f15f128a45ac31c419705b31a60feac30b322ee06bc752
  [dcapqvl_tdx_quote_outdated.dat]=571b21ee55a24c3adab8b2ff2973b1fce7de566dedbacc3b31e7bb82fe168913
  [gotdx_quote_v5.dat]=3bb83abe8ee891c2b848d51b0fc6a33beaa326b8f15b7bf917ecbb78ed5c04ec
  [cos-113-tdx-quote.dat]=650008ebb5eca49031b6b76e07ba4a88b8602371e46edcc7d8a6175a0e1e9101
  [dcapqvl_sgx_quote_v3.dat]=cba04309da9fa401dba0f7f5a2ff3bc73e0fd15f934a19d1ce37db118e77f6c4
)
for q in "${!WANT[@]}"; do
    "$COCOON" attest show "$TD/$q" >"$WORK/q.out" 2>&1
    expect_line "$WORK/q.out" "^image_hash: ${WANT[$q]}\$" "show $q"
done
expect_line <("$COCOON" attest show "$TD/gotdx_quote_v5.dat") '^rtmr3: [0-9a-f]{96}$' "v5 quote shows its RTMRs"
expect_line <("$COCOON" attest show "$TD/dcapqvl_sgx_quote_v3.dat") '^mrenclave: [0-9a-f]{64}$' "SGX quote shows MRENCLAVE"
for notq in gotdx_tdreport.dat ccel_table.dat; do
    if "$COCOON" attest show "$TD/$notq" >"$WORK/n.out" 2>&1; then
        fail "$notq shown as a quote"
    else
        expect_line "$WORK/n.out" 'not a certificate or a TD/SGX quote' "$notq refused cleanly"
    fi
done
finish
