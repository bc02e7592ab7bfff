#!/bin/sh
# CTest entry for the @ton/core cross-check: skips (77) when node or the pinned packages are
# missing (install them with `npm ci` in this directory), otherwise runs the node suite.
here=$(dirname "$0")
command -v node >/dev/null 2>&1 || { echo "node not installed: skipped"; exit 77; }
[ -d "$here/node_modules/@ton/core" ] || { echo "run 'npm ci' in tests/ton: skipped"; exit 77; }
cd "$here" && exec node --test crosscheck.test.mjs
