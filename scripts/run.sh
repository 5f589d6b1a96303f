#!/usr/bin/env bash
# Sets up the toolchain, builds the dashboard and the agent, and runs the agent.
# Extra arguments go to `vantage serve` (e.g. --listen 0.0.0.0:8787).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_toolchain
build_dashboard
log "building the agent (cargo build --release)"
(cd "$ROOT" && cargo build --release --locked -p vantage-agent)
exec "$ROOT/target/release/vantage" serve "$@"
