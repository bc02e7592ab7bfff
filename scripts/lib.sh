# Shared by scripts/up and scripts/test: idempotent installation of every dependency.
# Sourced, not executed.

COCOON_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian 12 packages the build, the tests and the tools need.
APT_PACKAGES=(
    build-essential cmake ninja-build pkg-config git ca-certificates curl
    libssl-dev openssl libevent-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
    libcmocka-dev clang nginx-light
)

# Directories holding a package.json + package-lock.json whose dependencies are pinned.
NODE_DIRS=(contracts localton tests/ton tests/engine tests/dcap)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

install_apt() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "run as root (or install sudo) to install: ${missing[*]}"
        sudo=sudo
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq || die "apt-get update failed"
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install failed for: ${missing[*]}"
}

check_node() {
    command -v node >/dev/null 2>&1 \
        || die "Node.js >= 20 is required but 'node' is not installed (see README: Requirements)"
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "Node.js >= 20 is required, found $(node --version)"
    command -v npm >/dev/null 2>&1 || die "npm is required alongside Node.js"
}

install_node() {
    check_node
    for d in "${NODE_DIRS[@]}"; do
        local dir="$COCOON_ROOT/$d"
        [ -f "$dir/package-lock.json" ] || continue
        # npm ci is slow; skip it when node_modules matches the lock file already.
        local stamp="$dir/node_modules/.cocoon-lock.sha256"
        local want
        want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
        if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
            continue
        fi
        say "installing npm packages in $d"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
            || die "npm ci failed in $d"
        echo "$want" >"$stamp"
    done
    # cocoon up's local chain deploys the contracts compiled here (contracts/build, git-ignored);
    # compiled once now so the first `cocoon up` does not wait for the Tolk compiler.
    if [ -d "$COCOON_ROOT/contracts/node_modules" ] && [ ! -f "$COCOON_ROOT/contracts/build/root.json" ]; then
        say "compiling the contracts"
        (cd "$COCOON_ROOT/contracts" && node scripts/build.js >/dev/null) || die "contract build failed"
    fi
}

install_all() {
    install_apt
    install_node
}

build_preset() {
    local preset="$1"
    say "building ($preset)"
    (cd "$COCOON_ROOT" && cmake --preset "$preset" >/dev/null && cmake --build --preset "$preset") \
        || die "build failed ($preset)"
}
