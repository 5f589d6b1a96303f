#!/bin/sh
# Trunk's post_build hook: writes NAME.gz and NAME.br beside every compressible asset in
# the staging directory, so the agent serves them precompressed. gzip and brotli at their
# best levels: this runs once per build, not per request.
set -eu
dir="${TRUNK_STAGING_DIR:?run by trunk build}"
command -v brotli >/dev/null || { echo "brotli not found: apt-get install brotli (scripts/run.sh does)" >&2; exit 1; }
find "$dir" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' -o -name '*.svg' -o -name '*.json' \) |
while read -r f; do
  gzip -9 -n -k -f "$f"
  brotli -q 11 -k -f "$f"
done
