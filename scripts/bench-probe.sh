#!/usr/bin/env bash
# Probe engine figures for BENCHMARKS.md:
#  1. 1,000 loopback HTTP targets probed at once: wall time, CPU time (probe side and the
#     test servers separately), per-probe latency; then criterion's measurement of a round.
#  2. The agent's phase timings next to curl's on the same loopback target: N runs each,
#     medians per phase, and the difference.
# Usage: ./scripts/bench-probe.sh            (N=50 runs per client by default)
#        N=200 ./scripts/bench-probe.sh
# Traffic goes to 127.0.0.1 only. Needs curl (installed when missing).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
N=${N:-50}

command -v curl >/dev/null || apt_install curl

# 1,000 listeners + 2,000 connection ends at once: raise the descriptor limit as far as allowed.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
log "file descriptor limit: $(ulimit -n)"

log "building the probe benchmark (release)"
BIN=$(cargo bench -p vantage-agent --bench probe --no-run --message-format=json 2>/dev/null \
  | grep '"kind":\["bench"\]' | grep '"name":"probe"' \
  | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
[ -x "$BIN" ] || { echo "could not find the probe bench binary" >&2; exit 1; }

log "1,000 concurrent loopback targets"
"$BIN" --bench

log "phase timings: agent vs curl -w, $N runs each, same loopback server"
PORTFILE=$(mktemp)
"$BIN" serve >"$PORTFILE" &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; rm -f "$PORTFILE" "${AGENT_OUT:-}" "${CURL_OUT:-}"; }
trap cleanup EXIT
for _ in $(seq 1 50); do grep -q '^PORT ' "$PORTFILE" && break; sleep 0.1; done
PORT=$(awk '/^PORT /{print $2}' "$PORTFILE")
[ -n "$PORT" ] || { echo "test server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT/health"

AGENT_OUT=$(mktemp)
CURL_OUT=$(mktemp)
"$BIN" phases "$URL" "$N" | grep -v '^#' >"$AGENT_OUT"
# One unmeasured curl first, as the agent's helper does.
curl -s -o /dev/null "$URL"
for _ in $(seq 1 "$N"); do
  # curl reports cumulative seconds; turned into per-phase milliseconds below, the way the
  # agent reports them (dns, connect, tls, request→first byte, total).
  curl -s -o /dev/null -w '%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}\n' "$URL"
done | awk '{
  dns = $1 * 1000; conn = ($2 - $1) * 1000;
  tls = ($3 > 0) ? ($3 - $2) * 1000 : 0;
  ready = ($3 > 0) ? $3 : $2;
  fb = ($4 - ready) * 1000; total = $5 * 1000;
  printf "%.3f %.3f %.3f %.3f %.3f\n", dns, conn, tls, fb, total
}' >"$CURL_OUT"

median() { # column file
  awk -v c="$1" '{print $c}' "$2" | sort -g | awk '{v[NR]=$1} END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2] + v[NR/2+1]) / 2 }'
}
printf '\n%-16s %12s %12s %12s\n' "phase (median)" "agent ms" "curl ms" "agent-curl"
col=1
for phase in dns connect tls first_byte total; do
  a=$(median "$col" "$AGENT_OUT"); c=$(median "$col" "$CURL_OUT")
  awk -v p="$phase" -v a="$a" -v c="$c" 'BEGIN { printf "%-16s %12.3f %12.3f %+12.3f\n", p, a, c, a - c }'
  col=$((col + 1))
done
echo
echo "(${N} runs each against $URL, one process each: the agent's helper probes in a loop,"
echo " curl starts a process per run, which its -w figures do not include. Both totals end"
echo " with the last body byte. The target is an IP literal, so DNS is only the parse.)"
