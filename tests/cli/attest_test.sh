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
# verify --quote: full DCAP verification with collateral from a file (exit 0/1/2)
COLL26="$TD/dcapqvl_collateral_2026-02.json"
AT26=2026-03-05T12:00:00Z
"$COCOON" attest verify --quote "$TD/cocoon_quote_v4.dat" --collateral "$COLL26" --time $AT26 >"$WORK/d1.out" 2>&1
rc=$?
[ $rc -eq 0 ] && pass "verify --quote --collateral: exit 0" || fail "verify --quote --collateral: exit $rc"
expect_line "$WORK/d1.out" '^status: UpToDate$' "cocoon quote is UpToDate"
expect_line "$WORK/d1.out" '^collateral_expiry: 2026-03-20T10:41:15Z$' "collateral expiry printed"
expect_line "$WORK/d1.out" '^image_hash: 04b3afd931d28680af91a15b09d672c40ad6b141f7f9089a8d67d595220f7436$' "image hash printed"
"$COCOON" attest verify --quote "$TD/cocoon_quote_v4.dat" --collateral "$COLL26" --time 2026-03-20T10:41:15Z >"$WORK/d2.out" 2>&1
rc=$?
[ $rc -eq 1 ] && pass "at the collateral's expiry: exit 1" || fail "at expiry: exit $rc"
expect_line "$WORK/d2.out" '^error: COLLATERAL_EXPIRED$' "expired collateral named"
"$COCOON" attest verify --quote "$TD/dcapqvl_tdx_quote_outdated.dat" --collateral "$COLL26" --time $AT26 >"$WORK/d3.out" 2>&1
[ $? -eq 1 ] && pass "outdated quote rejected" || fail "outdated quote not rejected"
expect_line "$WORK/d3.out" '^error: TCB_NOT_SUPPORTED$' "outdated quote: no matching TCB level"
SGXC="$TD/dcapqvl_sgx_quote_collateral.json"
"$COCOON" attest verify --quote "$TD/dcapqvl_sgx_quote_v3.dat" --collateral "$SGXC" --time 2025-07-01T00:00:00Z >"$WORK/d4.out" 2>&1
[ $? -eq 1 ] && pass "SGX quote rejected by the default policy" || fail "SGX quote accepted by default"
expect_line "$WORK/d4.out" '^status: ConfigurationAndSWHardeningNeeded$' "SGX status in Intel's name"
expect_line "$WORK/d4.out" '^advisories: INTEL-SA-00289,INTEL-SA-00615$' "SGX advisories"
"$COCOON" attest verify --quote "$TD/dcapqvl_sgx_quote_v3.dat" --collateral "$SGXC" --time 2025-07-01T00:00:00Z \
    --accept UpToDate,ConfigurationAndSWHardeningNeeded >/dev/null 2>&1 \
    && pass "--accept widens the policy" || fail "--accept not honoured"
"$COCOON" attest verify --quote "$TD/intel-fake-root/quote.dat" --collateral "$TD/intel-fake-root" >"$WORK/d5.out" 2>&1
[ $? -eq 1 ] && pass "Intel's fake-root sample rejected" || fail "fake-root sample not rejected"
"$COCOON" attest verify --quote "$TD/ccel_table.dat" --collateral "$COLL26" >/dev/null 2>&1
[ $? -eq 2 ] && pass "not a quote: exit 2" || fail "not a quote: wrong exit"
"$COCOON" attest verify --quote "$TD/cocoon_quote_v4.dat" >/dev/null 2>&1
[ $? -eq 2 ] && pass "no collateral source: exit 2" || fail "no collateral source: wrong exit"
printf '%s\n' "$TD/cocoon_quote_v4.dat" "$TD/gotdx_quote_v5.dat" "$TD/dcapqvl_tdx_quote_outdated.dat" "$TD/ccel_table.dat" >"$WORK/list"
"$COCOON" attest verify --quotes-from "$WORK/list" --collateral "$COLL26" --time $AT26 >"$WORK/d6.out" 2>&1
expect_line "$WORK/d6.out" "cocoon_quote_v4.dat	ok	UpToDate\$" "batch: v4 quote UpToDate"
expect_line "$WORK/d6.out" "gotdx_quote_v5.dat	ok	UpToDate\$" "batch: v5 quote UpToDate"
expect_line "$WORK/d6.out" "outdated.dat	rejected	TCB_NOT_SUPPORTED\$" "batch: outdated rejected"
expect_line "$WORK/d6.out" "ccel_table.dat	unreadable	" "batch: non-quote unreadable"

# verify --quote --pccs: a fixture PCCS on 127.0.0.1 answering Intel's v4 endpoints with Intel's
# headers (the same collateral split into its HTTP responses); cached until nextUpdate.
if command -v node >/dev/null 2>&1; then
    cat >"$WORK/pccs.js" <<'JS'
const http = require('http'), fs = require('fs');
const [coll, portFile, tamper] = process.argv.slice(2);
const c = JSON.parse(fs.readFileSync(coll, 'utf8'));
const enc = (pem) => encodeURIComponent(pem);
let tcb = `{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature}"}`;
if (tamper === 'tamper') tcb = tcb.replace('"UpToDate"', '"UpToDate" ');
const qe = `{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature}"}`;
const srv = http.createServer((req, res) => {
    const u = req.url;
    if (u.startsWith('/sgx/certification/v4/pckcrl?ca=')) {
        res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': enc(c.pck_crl_issuer_chain) });
        res.end(Buffer.from(c.pck_crl, 'hex'));
    } else if (u.startsWith('/tdx/certification/v4/tcb?fmspc=')) {
        res.writeHead(200, { 'TCB-Info-Issuer-Chain': enc(c.tcb_info_issuer_chain),
                             'Content-Type': 'application/json' });
        res.end(tcb);
    } else if (u === '/tdx/certification/v4/qe/identity') {
        res.writeHead(200, { 'SGX-Enclave-Identity-Issuer-Chain': enc(c.qe_identity_issuer_chain) });
        res.end(qe);
    } else if (u === '/sgx/certification/v4/rootcacrl') {
        res.writeHead(200);
        res.end(c.root_ca_crl);
    } else {
        res.writeHead(404);
        res.end();
    }
});
srv.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(srv.address().port)));
setTimeout(() => process.exit(0), 60000).unref();
setTimeout(() => srv.close(), 60000);
JS
    node "$WORK/pccs.js" "$COLL26" "$WORK/port" & PCCS_PID=$!
    PIDS+=("$PCCS_PID")
    if wait_file "$WORK/port"; then
        URL="http://127.0.0.1:$(cat "$WORK/port")"
        "$COCOON" attest verify --quote "$TD/cocoon_quote_v4.dat" --pccs "$URL" --time $AT26 >"$WORK/p1.out" 2>&1
        rc=$?
        [ $rc -eq 0 ] && pass "verify --pccs: exit 0" || { fail "verify --pccs: exit $rc"; cat "$WORK/p1.out"; }
        expect_line "$WORK/p1.out" '^collateral_source: pccs$' "first run fetches from the PCCS"
        expect_line "$WORK/p1.out" '^status: UpToDate$' "fetched collateral gives UpToDate"
        [ -n "$(ls "$COCOON_HOME/pccs-cache" 2>/dev/null)" ] && pass "cache written under COCOON_HOME" || fail "no cache file"
        kill "$PCCS_PID"; wait "$PCCS_PID" 2>/dev/null
        "$COCOON" attest verify --quote "$TD/gotdx_quote_v5.dat" --pccs "$URL" --time $AT26 >"$WORK/p2.out" 2>&1
        expect_line "$WORK/p2.out" '^collateral_source: cache$' "server stopped: answered from the cache"
        expect_line "$WORK/p2.out" '^verdict: ok$' "cached collateral verifies"
        "$COCOON" attest verify --quote "$TD/cocoon_quote_v4.dat" --pccs "$URL" --time 2026-03-20T10:41:15Z >"$WORK/p3.out" 2>&1
        [ $? -eq 2 ] && pass "stale cache not served, server down: exit 2" || fail "stale cache served"
        rm -f "$WORK/port"
        node "$WORK/pccs.js" "$COLL26" "$WORK/port" tamper & PCCS_PID=$!
        PIDS+=("$PCCS_PID")
        wait_file "$WORK/port" || fail "tampering fixture did not start"
        "$COCOON" attest verify --quote "$TD/cocoon_quote_v4.dat" --pccs "http://127.0.0.1:$(cat "$WORK/port")" \
            --pccs-cache "$WORK/cache2" --time $AT26 >"$WORK/p4.out" 2>&1
        [ $? -eq 1 ] && pass "tampered TCB info from the PCCS: exit 1" || fail "tampered TCB info accepted"
        expect_line "$WORK/p4.out" '^error: COLLATERAL_SIG$' "tampered TCB info: COLLATERAL_SIG"
        [ -z "$(ls "$WORK/cache2" 2>/dev/null)" ] && pass "tampered collateral not cached" || fail "tampered collateral cached"
        kill "$PCCS_PID"; wait "$PCCS_PID" 2>/dev/null
    else
        fail "fixture PCCS did not start"
    fi
else
    echo "ok - # SKIP verify --pccs (node not installed)"
fi

# eventlog: the CCEL log of cos-113 replays to its quote's RTMRs; a changed digest does not
"$COCOON" attest eventlog --log "$TD/ccel_data.dat" --table "$TD/ccel_table.dat" --quote "$TD/cos-113-tdx-quote.dat" >"$WORK/e1.out" 2>&1
[ $? -eq 0 ] && pass "eventlog replays to the quote: exit 0" || fail "eventlog: wrong exit"
expect_line "$WORK/e1.out" '^verdict: ok$' "eventlog verdict ok"
expect_line "$WORK/e1.out" '^rtmr2: 4969684dc87381fc' "eventlog prints the replayed RTMR2"
"$COCOON" attest eventlog --log "$TD/ccel_data.dat" --table "$TD/ccel_table.dat" --quote "$TD/cocoon_quote_v4.dat" >"$WORK/e2.out" 2>&1
[ $? -eq 1 ] && pass "eventlog against another quote: exit 1" || fail "eventlog mismatch not reported"
expect_line "$WORK/e2.out" '^verdict: mismatch$' "eventlog verdict mismatch"
finish
