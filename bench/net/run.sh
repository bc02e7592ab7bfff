#!/usr/bin/env bash
# Network benchmark in one go, all on 127.0.0.1: the same OpenAI request (chat completion, JSON
# and then SSE) sent
#   direct      to a fast upstream fixture (bench/net/net_upstream, answers at once),
#   nginx-tls   through nginx as a TLS reverse proxy in front of that upstream (the anchor:
#               one TLS proxy hop, 1 worker process, keep-alive both sides),
#   cocoon      through `cocoon up` (client HTTP API → RA-TLS → proxy → RA-TLS → worker →
#               upstream: three daemons, two TLS hops, evidence signed and verified),
#   cocoon-lib  through libcocoon-client into the same proxy (no HTTP hop to a client daemon),
#   relay3      through three chained plain TCP relays (bench/net/net_relay, one process each,
#               blocking read/write): the floor — what three extra process hops cost on this
#               machine before any TLS, framing or HTTP work.
# Latency: one request at a time, targets interleaved; added = target - direct.
# Throughput: C connections (or requests in flight) per target for S seconds, R rounds with the
# targets alternating; each target's median round counts.
#
#   bench/net/run.sh [-n REQUESTS] [-c CONCURRENCY] [-s SECONDS] [-r ROUNDS]
#   COCOON_BUILD=dir   (default build/, the release preset; built here when missing)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N=2000 C=32 S=3 R=3
while getopts "n:c:s:r:" o; do
    case "$o" in
    n) N="$OPTARG" ;; c) C="$OPTARG" ;; s) S="$OPTARG" ;; r) R="$OPTARG" ;;
    *) echo "usage: run.sh [-n REQUESTS] [-c CONCURRENCY] [-s SECONDS] [-r ROUNDS]" >&2; exit 2 ;;
    esac
done
B="${COCOON_BUILD:-$ROOT/build}"
if [ ! -x "$B/cocoon" ] || [ ! -x "$B/bench/net/net_bench" ] || [ ! -x "$B/bench/net/net_upstream" ] ||
    [ ! -x "$B/bench/net/net_relay" ]; then
    [ "$B" = "$ROOT/build" ] || { echo "run.sh: $B lacks cocoon/net_bench/net_upstream" >&2; exit 2; }
    (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j2 \
        --target cocoon net_bench net_upstream net_relay >/dev/null)
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$NGINX" ] || { echo "run.sh: nginx is required (scripts/setup installs nginx-light)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "run.sh: openssl is required" >&2; exit 2; }

T="$(mktemp -d /tmp/cocoon-netbench-XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "run.sh: timed out waiting for $1" >&2; exit 1; }

# Upstream fixture.
"$B/bench/net/net_upstream" "$T/upstream.port" & PIDS+=($!)
wait_file "$T/upstream.port"
UP="$(cat "$T/upstream.port")"

# Three plain TCP relays in a row in front of the upstream (the floor anchor).
NEXT="$UP"
for i in 3 2 1; do
    "$B/bench/net/net_relay" "$T/relay$i.port" "$NEXT" & PIDS+=($!)
    wait_file "$T/relay$i.port"
    NEXT="$(cat "$T/relay$i.port")"
done
RELAY="$NEXT"

# nginx: TLS 1.3 (self-signed P-256 certificate made now), proxy_pass with upstream keep-alive,
# unprivileged (nobody when this script runs as root), 127.0.0.1 only.
mkdir -p "$T/nginx"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -keyout "$T/nginx/key.pem" -out "$T/nginx/cert.pem" 2>/dev/null
NGX="$(free_port)"
cat > "$T/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    upstream up { server 127.0.0.1:$UP; keepalive 256; }
    server {
        listen 127.0.0.1:$NGX ssl;
        ssl_certificate $T/nginx/cert.pem;
        ssl_certificate_key $T/nginx/key.pem;
        ssl_protocols TLSv1.3;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
CONF
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
    chown -R 65534:65534 "$T/nginx"
    chmod 755 "$T"
    RUNAS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
"${RUNAS[@]}" "$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" & PIDS+=($!)
for _ in $(seq 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$NGX/" && break
    sleep 0.1
done

# cocoon up: one proxy, one worker, one client.
EXTRA=()
"$B/cocoon" up --help 2>&1 | grep -q -- '--registry-file' && EXTRA=(--registry-file)
"$B/cocoon" up "${EXTRA[@]}" --upstream "http://127.0.0.1:$UP" --model bench-model --workers 1 \
    --state "$T/up" > "$T/up.out" 2> "$T/up.err" & PIDS+=($!)
for _ in $(seq 300); do grep -q '^api_key:' "$T/up.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^api_key:' "$T/up.out" || { echo "run.sh: cocoon up did not start" >&2; cat "$T/up.err" >&2; exit 1; }
BASE="$(sed -n 's/^base_url: //p' "$T/up.out")"
UPPID="${PIDS[-1]}"
NGXPID="${PIDS[-2]}"
KEY="$(sed -n 's/^api_key: //p' "$T/up.out")"

echo "== machine: $(nproc) CPUs, $(uname -r); $(nginx -v 2>&1); cocoon $B"
echo "== load: $N sequential requests per target (after 200 warm-up), then $C concurrent for ${S}s, $R rounds alternating (median)"
for mode in json stream; do
    flag=()
    [ "$mode" = stream ] && flag=(--stream)
    out="$T/$mode.txt"
    "$B/bench/net/net_bench" --requests "$N" --concurrency "$C" --seconds "$S" --rounds "$R" \
        "${flag[@]}" \
        --lib "$T/up/registry.json" "$T/up/fake-ca" \
        "direct,http://127.0.0.1:$UP/v1/chat/completions" \
        "nginx-tls,https://127.0.0.1:$NGX/v1/chat/completions" \
        "relay3,http://127.0.0.1:$RELAY/v1/chat/completions" \
        "cocoon,$BASE/chat/completions,$KEY" > "$out"
    echo
    echo "== $mode answers"
    awk -v mode="$mode" '
    function verdict(ok) { return ok ? "met" : "NOT met" }
    $1 == "latency" { p50[$2] = $3; p99[$2] = $4; mean[$2] = $5; lerr[$2] = $7; names[++n] = $2 }
    $1 == "throughput" { nr[$2]++; all[$2, nr[$2]] = $3; terr[$2] += $5 }
    END {
        for (t in nr) { # median of the rounds (insertion sort: a handful of values)
            k = nr[t]
            for (i = 1; i <= k; i++) v[i] = all[t, i]
            for (i = 2; i <= k; i++) { x = v[i]; j = i - 1; while (j > 0 && v[j] > x) { v[j + 1] = v[j]; j-- } v[j + 1] = x }
            rps[t] = k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
        }
        printf "%-11s %9s %9s %9s %12s %12s %10s %8s\n", "target", "p50 ms", "p99 ms", "mean ms", "+p50 ms", "+p99 ms", "req/s", "errors"
        for (i = 1; i <= n; i++) {
            t = names[i]
            printf "%-11s %9.3f %9.3f %9.3f %12.3f %12.3f %10.0f %8d\n", t, p50[t] / 1000, p99[t] / 1000, mean[t] / 1000,
                (p50[t] - p50["direct"]) / 1000, (p99[t] - p99["direct"]) / 1000, rps[t], lerr[t] + terr[t]
        }
        add = (p50["cocoon"] - p50["direct"]) / 1000
        addl = (p50["cocoon-lib"] - p50["direct"]) / 1000
        ratio = rps["cocoon"] / rps["nginx-tls"]
        ratiol = rps["cocoon-lib"] / rps["nginx-tls"]
        printf "goal: added p50 over all hops <= 0.150 ms: cocoon %.3f ms (%s), cocoon-lib %.3f ms (%s)\n", add, verdict(add <= 0.15), addl, verdict(addl <= 0.15)
        printf "goal: full-path throughput >= 0.5x one nginx TLS hop: cocoon %.2fx (%s), cocoon-lib %.2fx (%s)\n", ratio, verdict(ratio >= 0.5), ratiol, verdict(ratiol >= 0.5)
        floor = (p50["relay3"] - p50["direct"]) / 1000
        ngx = (p50["nginx-tls"] - p50["direct"]) / 1000
        printf "anchors: three plain TCP relays (the floor for three process hops) add %.3f ms; one nginx TLS hop adds %.3f ms\n", floor, ngx
        printf "per hop: cocoon %.3f ms (3 hops), cocoon-lib %.3f ms (2 hops), plain relay %.3f ms, nginx TLS %.3f ms\n", add / 3, addl / 2, floor / 3, ngx
    }' "$out"
done

# Where the CPU goes: each process's user+system time over a throughput run of one target,
# divided by the answers it served (clock ticks from /proc, so +-10 ms per process).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
role_of() { tr '\0' ' ' < "/proc/$1/cmdline" | awk '{ print $2 }'; }
cpu_pass() { # NAME TARGET-SPEC PID:LABEL...
    local name="$1" spec="$2"; shift 2
    declare -A before
    for pl in "$@"; do before[$pl]="$(cpu_ticks "${pl%%:*}")"; done
    local line
    line="$("$B/bench/net/net_bench" --requests 1 --warmup 0 --concurrency "$C" --seconds "$S" "$spec" | awk '$1 == "throughput"')"
    local n hz
    n="$(echo "$line" | awk '{ print $4 }')"
    hz="$(getconf CLK_TCK)"
    printf "%-10s %7d answers:" "$name" "$n"
    for pl in "$@"; do
        local d=$(( $(cpu_ticks "${pl%%:*}") - ${before[$pl]} ))
        awk -v d="$d" -v n="$n" -v hz="$hz" -v l="${pl#*:}" 'BEGIN { printf "  %s %.0f us", l, d / hz * 1e6 / (n ? n : 1) }'
    done
    echo
}
echo
echo "== CPU per answer (JSON, $C concurrent, ${S}s each)"
UPSTREAM_PID="${PIDS[0]}"
NGX_WORKER="$(pgrep -P "$NGXPID" | head -n1 || true)"
[ -n "$NGX_WORKER" ] || NGX_WORKER="$(pgrep -f "nginx: worker process" | head -n1 || true)"
procs=()
for p in $(pgrep -P "$UPPID"); do procs+=("$p:$(role_of "$p")"); done
cpu_pass direct "direct,http://127.0.0.1:$UP/v1/chat/completions" "$UPSTREAM_PID:upstream"
cpu_pass nginx-tls "nginx-tls,https://127.0.0.1:$NGX/v1/chat/completions" "$NGX_WORKER:nginx" "$UPSTREAM_PID:upstream"
cpu_pass cocoon "cocoon,$BASE/chat/completions,$KEY" "${procs[@]}" "$UPSTREAM_PID:upstream"
