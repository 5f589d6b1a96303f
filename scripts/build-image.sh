#!/usr/bin/env bash
# Builds the container image `vantage:latest` (or the tag given): the dashboard, the
# static agent, then `docker build` of the FROM scratch Dockerfile. Nothing is pulled.
# Usage: ./scripts/build-image.sh [TAG]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
setup_toolchain
build_dashboard
build_static
ensure_dockerd
build_image "${1:-vantage:latest}"
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "${1:-vantage:latest}"
