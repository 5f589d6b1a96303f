#!/usr/bin/env bash
# The full suite (what CI runs): installs what the tests need, starts what must run,
# and runs every test: formatting and lints, unit and router tests, wasm builds, and
# the tiers behind switches: end-to-end tests against the real Docker engine, nginx,
# network namespaces and headless Chromium (`vantage-e2e/e2e`), and the GPU kernel
# compiled by the real NVRTC (`vantage-agent/nvrtc-tests`). The quick tier, a plain
# `cargo test`, needs none of these (docs/development.md, "Test tiers").
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_toolchain
install_test_needs
install_schemathesis
ensure_dockerd
cd "$ROOT"
# A one-shot run gains nothing from incremental state, which is the largest part of
# target/ (tens of GB over a full run); CI's disk is shared, so leave it out.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
report_disk
# The switches for the tiers that need real parts.
FULL_TIERS=(--features vantage-e2e/e2e,vantage-agent/nvrtc-tests)
# The GPU module's tests compile the blur kernel with the real NVRTC (no GPU needed).
NVRTC_DIR="$(nvrtc_lib_dir)"
[ -n "$NVRTC_DIR" ] || { echo "NVRTC missing after install_nvrtc" >&2; exit 1; }
export LD_LIBRARY_PATH="$NVRTC_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

log "cargo fmt --check"
cargo fmt --all -- --check
log "clippy (native, -D warnings)"
cargo clippy --locked --workspace --exclude vantage-frontend --all-targets "${FULL_TIERS[@]}" -- -D warnings
log "clippy (dashboard, wasm32, -D warnings)"
cargo clippy --locked -p vantage-frontend --target wasm32-unknown-unknown -- -D warnings
log "shared builds for wasm32"
cargo build --locked -p vantage-shared --target wasm32-unknown-unknown

build_dashboard
log "building the agent"
cargo build --locked -p vantage-agent
# The image and package tests start from what users install: the static agent (the
# image is built from it in the test) and the Debian package from the release agent.
build_static
build_deb

log "dashboard unit tests (native) and component tests (wasm, headless Chromium)"
cargo test --locked -p vantage-frontend
CHROMEDRIVER=/usr/bin/chromedriver cargo test --locked -p vantage-frontend --target wasm32-unknown-unknown

log "cargo test (unit, router, end-to-end, browser)"
cargo test --locked --workspace --exclude vantage-frontend "${FULL_TIERS[@]}"
report_disk
