#!/usr/bin/env bash
# Scheduled probes at scale, for BENCHMARKS.md: the release agent with 1,000 loopback HTTP
# targets at the default 60 s interval, left alone for DURATION seconds (default 600).
# Prints the agent's CPU time per minute (share of one core), its RSS per minute, and how
# many results it stored. The targets are 1,000 URLs on one loopback server (Python's
# threading http.server), so the agent's own process is what is measured.
# Usage: ./scripts/bench-schedule.sh          DURATION=120 ./scripts/bench-schedule.sh
# Traffic goes to 127.0.0.1 only.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
DURATION=${DURATION:-600}
N=${N:-1000}
BIN="$ROOT/target/release/vantage"
[ -x "$BIN" ] || { echo "build first: cargo build --release -p vantage-agent" >&2; exit 1; }

DATA=$(mktemp -d)
WWW=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TPORT=$(free_port)
APORT=$(free_port)
cleanup() {
  [ -n "${AGENT:-}" ] && kill "$AGENT" 2>/dev/null || true
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
  rm -rf "$DATA" "$WWW"
}
trap cleanup EXIT

echo ok >"$WWW/health"
python3 -m http.server --bind 127.0.0.1 "$TPORT" --directory "$WWW" >/dev/null 2>&1 &
SERVER=$!
{
  for i in $(seq 1 "$N"); do
    printf '[[targets]]\nname = "t%04d"\nurl = "http://127.0.0.1:%s/health?t=%d"\ninterval = "60s"\n' "$i" "$TPORT" "$i"
  done
} >"$DATA/vantage.toml"

VANTAGE_DOCKER_HOST=unix:///nonexistent/docker.sock "$BIN" serve --listen "127.0.0.1:$APORT" \
  --data-dir "$DATA" --config "$DATA/vantage.toml" >/dev/null 2>"$DATA/agent.log" &
AGENT=$!
for _ in $(seq 1 50); do [ -s "$DATA/admin.token" ] && break; sleep 0.2; done
TOKEN=$(cat "$DATA/admin.token")
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }
rss_mib() { awk '/^VmRSS/{printf "%.1f", $2/1024}' "/proc/$AGENT/status"; }
stored() {
  curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$APORT/api/targets/t0001/history?limit=1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}

log "$N targets every 60 s; sampling every 60 s for $DURATION s (agent pid $AGENT)"
printf '%-8s %-16s %-10s %s\n' minute "cpu (% of core)" "rss MiB" "results of t0001"
START_T=$(ticks); START_S=$(date +%s.%N); PREV_T=$START_T; PREV_S=$START_S
for m in $(seq 1 $((DURATION / 60))); do
  sleep 60
  T=$(ticks); S=$(date +%s.%N)
  CPU=$(python3 -c "print(f'{100*($T-$PREV_T)/$HZ/($S-$PREV_S):.2f}')")
  printf '%-8s %-16s %-10s %s\n' "$m" "$CPU" "$(rss_mib)" "$(stored)"
  PREV_T=$T; PREV_S=$S
done
TOTAL=$(python3 -c "print(f'{100*($(ticks)-$START_T)/$HZ/($(date +%s.%N)-$START_S):.2f}')")
log "whole run: $TOTAL % of one core; final RSS $(rss_mib) MiB"
echo "error lines in the agent's log: $(grep -ci error "$DATA/agent.log" || true)"
