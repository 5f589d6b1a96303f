#!/usr/bin/env bash
# Builds the Debian package target/debian/vantage_<version>-1_amd64.deb: the dashboard,
# the release agent, then cargo-deb (installed from crates.io on first use).
# Usage: ./scripts/build-deb.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_toolchain
build_dashboard
build_deb
ls -l "$ROOT"/target/debian/*.deb
