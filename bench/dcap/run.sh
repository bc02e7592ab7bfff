#!/usr/bin/env bash
# DCAP verification benchmark in one go: cocoon's C verifier (bench/dcap/dcap_bench, warm and
# cold collateral) beside @phala/dcap-qvl (tests/dcap, `npm run bench`) on the same real quotes,
# then the ratio per quote.
#
#   bench/dcap/run.sh [SECONDS]        (default 2 per measurement)
#   DCAP_BENCH=path/to/dcap_bench      (default: the newest of build/, build-dev/, build-asan/;
#                                       build it first: cmake --build --preset release --target dcap_bench)
# The release build is the one to quote figures from; an ASan build is several times slower.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SECONDS_PER="${1:-2}"

bin="${DCAP_BENCH:-}"
if [ -z "$bin" ]; then
    bin="$(ls -t "$ROOT"/build/bench/dcap/dcap_bench "$ROOT"/build-dev/bench/dcap/dcap_bench \
        "$ROOT"/build-asan/bench/dcap/dcap_bench 2>/dev/null | head -n1 || true)"
fi
[ -n "$bin" ] && [ -x "$bin" ] || {
    echo "run.sh: no dcap_bench binary; build it (cmake --build --preset release --target dcap_bench) or set DCAP_BENCH" >&2
    exit 2
}
command -v node >/dev/null || { echo "run.sh: node is required for the dcap-qvl side" >&2; exit 2; }
if [ ! -d "$ROOT/tests/dcap/node_modules/@phala/dcap-qvl" ]; then
    (cd "$ROOT/tests/dcap" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
echo "== cocoon ($bin)"
"$bin" "$SECONDS_PER" | tee -a "$out" | grep -v '^result '
echo "== @phala/dcap-qvl"
(cd "$ROOT/tests/dcap" && node bench.js "$SECONDS_PER") | tee -a "$out" | grep -v '^result '
echo "== per quote (ms) and how many times faster cocoon is"
printf "%-22s %10s %10s %10s %10s %12s %12s\n" quote "2xP-256" warm cold dcap-qvl qvl/warm qvl/cold
awk '$1 == "result" { v[$2 "," $3] = $4; names[$2] = 1 }
END {
    for (n in names) {
        if (!((n ",qvl") in v)) continue
        f = v[n ",p256x2"]; w = v[n ",warm"]; c = v[n ",cold"]; q = v[n ",qvl"]
        printf "%-22s %10.4f %10.4f %10.4f %10.4f %11.1fx %11.1fx\n", n, f, w, c, q, q / w, q / c
    }
}' "$out" | sort
