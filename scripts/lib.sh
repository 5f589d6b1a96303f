# Shared helpers for run.sh, test.sh and bench.sh. Every install step is skipped
# when what it installs is already there, so re-running costs seconds.
# Versions are pinned: see docs/development.md for why each one.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION="0.21.14"
# Must equal the wasm-bindgen version in Cargo.lock (pinned in frontend/Cargo.toml).
WASM_BINDGEN_VERSION="0.2.130"
BINARYEN_NPM_VERSION="132.0.0"

export PATH="$ROOT/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Free space where target/ lives, and what target/ takes: a full run from a clean
# checkout needs about FULL_RUN_GIB (5 GiB measured, docs/development.md); a full disk fails late
# with "No space left on device", so say it at the start.
FULL_RUN_GIB=8
report_disk() {
  local dir="${CARGO_TARGET_DIR:-$ROOT/target}" free used
  mkdir -p "$dir"
  free=$(df -P -BG "$dir" | awk 'NR==2 {sub("G", "", $4); print $4}')
  used=$(du -s -BG "$dir" 2>/dev/null | awk '{sub("G", "", $1); print $1}')
  log "disk: target/ holds ${used} GiB, ${free} GiB free"
  if [ "$free" -lt "$FULL_RUN_GIB" ] && [ "$used" -lt "$FULL_RUN_GIB" ]; then
    echo "warning: a full run from a clean target/ needs about $FULL_RUN_GIB GiB; only $free GiB are free" >&2
  fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What the end-to-end tests drive for real: Docker, a static busybox for test images,
# headless Chromium and its driver, network namespaces with a firewall (iproute2,
# iptables), nginx as the proxy and API under test, HAProxy with active health checks and
# its admin endpoints, curl for the harness self-tests, aiosmtpd and openssl for e-mail
# over TLS, Prometheus (with promtool) scraping the agent.
TEST_APT_PACKAGES=(docker.io busybox-static chromium chromium-driver iproute2 iptables nftables nginx haproxy curl python3-aiosmtpd openssl prometheus)

# NVRTC for the GPU kernel-compile tests: it runs without a GPU (docs/development.md).
# NVIDIA's wheel goes into a venv under .tools/ (gitignored), because Debian's pip refuses
# system-wide installs; the tests find libnvrtc.so.12 through LD_LIBRARY_PATH (nvrtc_lib_dir).
NVRTC_WHEEL="nvidia-cuda-nvrtc-cu12==12.9.86"
NVRTC_VENV="$ROOT/.tools/nvrtc-venv"

# The directory holding libnvrtc.so.12, or nothing when it is not installed.
nvrtc_lib_dir() {
  local lib
  lib=$(compgen -G "$NVRTC_VENV/lib/python3*/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12" | head -n1 || true)
  [ -n "$lib" ] && dirname "$lib"
  return 0
}

install_nvrtc() {
  [ -n "$(nvrtc_lib_dir)" ] && return 0
  apt_install python3-venv
  log "pip install $NVRTC_WHEEL into .tools/nvrtc-venv"
  python3 -m venv "$NVRTC_VENV"
  "$NVRTC_VENV/bin/pip" install --quiet --disable-pip-version-check "$NVRTC_WHEEL"
}

install_test_needs() {
  install_nvrtc
  local missing=()
  for pkg in "${TEST_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  # The tests start their own nginx and Prometheus on free ports: keep the packages'
  # services from starting on :80 and :9090 during the install (policy-rc.d exit 101 =
  # "not allowed").
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
    created_policy=1
  fi
  local rc=0
  apt_install "${missing[@]}" || rc=$?
  if [ "$created_policy" -eq 1 ]; then as_root rm -f "$policy"; fi
  return "$rc"
}

# The Rust side of the toolchain: wasm target, trunk, wasm-bindgen-cli, wasm-opt.
setup_toolchain() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first (https://rustup.rs)" >&2; exit 1; }
  # brotli: the dashboard's assets are compressed at build time (scripts/compress-dist.sh).
  apt_install pkg-config gcc brotli
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
    # trunk 0.22 needs a newer rustc than this machine has; --locked keeps its deps buildable.
    log "cargo install trunk $TRUNK_VERSION (about 10 minutes, once)"
    cargo install trunk --version "$TRUNK_VERSION" --locked
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    # Without --locked: its lockfile pins a webpki-roots the registry no longer has.
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  if ! "$ROOT/.tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version ${BINARYEN_NPM_VERSION%%.*}"; then
    # Debian's binaryen 108 silently breaks the wasm (externref table); npm's 132 works.
    command -v npm >/dev/null || apt_install nodejs npm
    log "npm install binaryen@$BINARYEN_NPM_VERSION into .tools/"
    npm install --silent --no-fund --no-audit --prefix "$ROOT/.tools" "binaryen@$BINARYEN_NPM_VERSION"
  fi
}

# Whether dist/ is newer than everything the dashboard is built from, so an unchanged
# tree starts in seconds (wasm-opt and brotli alone take a minute).
dashboard_fresh() {
  local stamp="$ROOT/dist/phone/index.html"
  [ -f "$stamp" ] && [ -f "$ROOT/dist/index.html" ] || return 1
  local newer
  newer=$(cd "$ROOT" && find frontend shared public index.html phone.html Trunk.toml \
    Cargo.lock scripts/compress-dist.sh -newer "$stamp" -print -quit 2>/dev/null)
  [ -z "$newer" ]
}

# Builds the dashboard into dist/ (Trunk runs offline; fetch crates first).
build_dashboard() {
  if dashboard_fresh; then
    log "dashboard up to date (dist/ is newer than its sources)"
    return 0
  fi
  log "building the dashboard (trunk build --release), then the phone page's own bundle"
  # The phone bundle second: the dashboard's build empties dist/, the phone's only dist/phone/.
  (cd "$ROOT" && cargo fetch --locked >/dev/null && trunk build --release \
    && trunk build phone.html --release --dist dist/phone --public-url /phone/)
}

# Starts dockerd when the socket does not answer.
ensure_dockerd() {
  if docker version >/dev/null 2>&1; then return 0; fi
  log "starting dockerd"
  as_root sh -c 'nohup dockerd >/var/log/vantage-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "dockerd did not start; see /var/log/vantage-dockerd.log" >&2
  exit 1
}

# Schemathesis, the schema-based API fuzzer that tests/tests/api_schema.rs runs against a
# live agent (docs/api.md, "Contract"). From PyPI into a venv under .tools/ (gitignored),
# like NVRTC: Debian's pip refuses system-wide installs. 4.x needs Python 3.9 or newer.
SCHEMATHESIS_VERSION="4.32.5"
SCHEMATHESIS_VENV="$ROOT/.tools/schemathesis-venv"

install_schemathesis() {
  if "$SCHEMATHESIS_VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    return 0
  fi
  apt_install python3-venv
  log "pip install schemathesis==$SCHEMATHESIS_VERSION into .tools/schemathesis-venv"
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

# The static (musl) agent for the container image, with the dashboard embedded (build
# the dashboard first). Statically linked, it cannot load the NVIDIA driver: GPU
# benchmarks need the glibc build (the Debian package, or `cargo build`).
MUSL_TARGET=x86_64-unknown-linux-musl
STATIC_BIN="$ROOT/target/$MUSL_TARGET/release/vantage"

build_static() {
  apt_install musl-tools
  if ! rustup target list --installed | grep -qx "$MUSL_TARGET"; then
    log "rustup target add $MUSL_TARGET"
    rustup target add "$MUSL_TARGET"
  fi
  log "building the static agent (cargo build --release --target $MUSL_TARGET)"
  (cd "$ROOT" && cargo build --release --locked -p vantage-agent --target "$MUSL_TARGET")
  # The symbols are a sixth of the file and no use in an image.
  strip "$STATIC_BIN"
}

# The image from the static binary: FROM scratch, so nothing is pulled.
build_image() {
  local tag="${1:-vantage:latest}"
  log "docker build -t $tag"
  (cd "$ROOT" && docker build --quiet -t "$tag" . >/dev/null)
}

# The Debian package from the release (glibc) agent; cargo-deb from crates.io, built once.
CARGO_DEB_VERSION="3.8.0"

build_deb() {
  apt_install dpkg-dev liblzma-dev
  if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    log "cargo install cargo-deb $CARGO_DEB_VERSION (a few minutes, once)"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
  fi
  log "building the release agent and the Debian package (cargo deb)"
  (cd "$ROOT" && cargo build --release --locked -p vantage-agent \
    && cargo deb --no-build -p vantage-agent >/dev/null)
}
