# Helpers for the CLI tests: a private COCOON_HOME, assertions, background processes.
set -u
COCOON="$1"
WORK="$(mktemp -d /tmp/cocoon-cli-XXXXXX)"
export COCOON_HOME="$WORK/home"
mkdir -p "$COCOON_HOME"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
FAILS=0
PASSES=0
pass() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }
expect_line() { # file regex description
    if grep -Eq "$2" "$1"; then pass "$3"; else fail "$3 (no line matching '$2' in $1)"; sed 's/^/    /' "$1"; fi
}
wait_file() {
    for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done
    return 1
}
finish() {
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}
