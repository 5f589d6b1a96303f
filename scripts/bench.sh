#!/usr/bin/env bash
# Whole-process figures for BENCHMARKS.md: agent RSS and CPU while idle watching
# 50 containers with healthchecks every 2 s, GET /api/containers under load (wrk),
# and the dashboard's wasm + js size. Needs the release agent and dist/ built
# (./scripts/run.sh builds both). Traffic goes to 127.0.0.1 only.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
apt_install wrk
ensure_dockerd
cd "$ROOT"
N=${N:-50}
IDLE_SECS=${IDLE_SECS:-60}
BIN="$ROOT/target/release/vantage"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p vantage-agent" >&2; exit 1; }
docker image inspect vantage-test/busybox:latest >/dev/null 2>&1 || {
  echo "test image missing: run ./scripts/test.sh once (it builds vantage-test/busybox)" >&2; exit 1; }

DATA=$(mktemp -d)
PORT=18787
cleanup() {
  [ -n "${AGENT:-}" ] && kill "$AGENT" 2>/dev/null || true
  docker ps -aq --filter label=vantage-bench=1 | xargs -r docker rm -f >/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT

log "starting $N containers with a healthcheck every 2 s"
for i in $(seq 1 "$N"); do
  docker run -d --label vantage-bench=1 --name "vbench-$i" --health-cmd true --health-interval 2s \
    vantage-test/busybox:latest sleep 3600 >/dev/null
done

"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >/dev/null 2>"$DATA/agent.log" &
AGENT=$!
sleep 2
TOKEN=$(cat "$DATA/admin.token")

log "warming up 20 s, then sampling for $IDLE_SECS s"
sleep 20
ticks() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }
HZ=$(getconf CLK_TCK)
T0=$(ticks); sleep "$IDLE_SECS"; T1=$(ticks)
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$AGENT/status")
HWM_KB=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT/status")
CPU=$(awk -v a="$T0" -v b="$T1" -v hz="$HZ" -v s="$IDLE_SECS" 'BEGIN { printf "%.2f", (b - a) / hz / s * 100 }')
RECORDS=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/overview" | python3 -c 'import json,sys; print(json.load(sys.stdin)["history_records"])')
echo "idle_rss_mib=$(awk -v k="$RSS_KB" 'BEGIN{printf "%.1f", k/1024}') peak_rss_mib=$(awk -v k="$HWM_KB" 'BEGIN{printf "%.1f", k/1024}') idle_cpu_percent=$CPU containers=$N history_records=$RECORDS"

log "GET /api/containers under load (wrk -t2 -c16 -d15s)"
wrk -t2 -c16 -d15s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/containers" | sed -n '/Latency Distribution/,$p'
echo "rss_after_load_mib=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$AGENT/status")"

log "GET /api/overview under load (wrk -t2 -c4 -d10s): it diagnoses every container"
wrk -t2 -c4 -d10s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/overview" | sed -n '/Latency Distribution/,$p'

log "dashboard bundle size"
for f in dist/*.wasm dist/*.js; do
  printf '%s raw=%d gzip=%d\n' "$(basename "$f")" "$(wc -c <"$f")" "$(gzip -9 -c "$f" | wc -c)"
done
