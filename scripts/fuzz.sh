#!/usr/bin/env bash
# Fuzzes every parser and evaluator (fuzz/README.md): builds the cargo-fuzz targets once,
# then runs each for SECONDS (default 60), one after another, and fails if any target
# found a crash, printing where the crashing input was saved and how to replay it.
#
#   scripts/fuzz.sh [SECONDS-PER-TARGET] [TARGET...]
#
# Environment:
#   FUZZ_NO_AGENT=1   skip the agent_config target (builds without the agent crate, which
#                     is most of the build time)
#   FUZZ_SANITIZER    address (default) or none (faster, catches only panics)
#   FUZZ_JOBS         libFuzzer workers per target (default 1)
#   FUZZ_KEEP_GOING=1 do not stop at the first crash of a target: fork mode with
#                     -ignore_crashes, so one run collects every distinct crash
#
# Only stable rustc is installed here: cargo-fuzz passes nightly-only flags
# (`-Zsanitizer=address`), so RUSTC_BOOTSTRAP=1 lets the stable compiler accept them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECONDS_PER_TARGET="${1:-60}"
shift || true
case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "usage: $0 [seconds-per-target] [target...]" >&2; exit 2 ;;
esac
SANITIZER="${FUZZ_SANITIZER:-address}"
JOBS="${FUZZ_JOBS:-1}"
FEATURES=()
[ "${FUZZ_NO_AGENT:-0}" = 1 ] && FEATURES=(--no-default-features)

export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "cargo install cargo-fuzz"
  cargo install cargo-fuzz --locked || cargo install cargo-fuzz
fi

cd "$ROOT"
log "cargo fuzz build (sanitizer: $SANITIZER)"
cargo fuzz build --sanitizer "$SANITIZER" "${FEATURES[@]}"

if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  mapfile -t TARGETS < <(cargo fuzz list)
  if [ "${FUZZ_NO_AGENT:-0}" = 1 ]; then
    mapfile -t TARGETS < <(printf '%s\n' "${TARGETS[@]}" | grep -vx agent_config)
  fi
fi

LOG_DIR="$ROOT/fuzz/target/logs"
BIN_DIR="$ROOT/fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"
mkdir -p "$LOG_DIR"
FAILED=()
for t in "${TARGETS[@]}"; do
  corpus="fuzz/corpus/$t"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  before="$(ls "$artifacts" | sort)"
  args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  # One dictionary per format family (JSON keys, TOML keys), where there is one.
  case "$t" in
    rules_iptables) args+=(-dict=fuzz/dicts/iptables.dict) ;;
    rules_*) args+=(-dict=fuzz/dicts/rules.dict) ;;
    device_report) args+=(-dict=fuzz/dicts/device_report.dict) ;;
    agent_config) args+=(-dict=fuzz/dicts/agent_config.dict) ;;
  esac
  # Keep going after a crash (fork mode) to collect every distinct one in one run.
  if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    args+=(-fork="$JOBS" -ignore_crashes=1)
  elif [ "$JOBS" -gt 1 ]; then
    args+=(-fork="$JOBS")
  fi
  log "fuzzing $t for ${SECONDS_PER_TARGET}s (log: $LOG_DIR/$t.log)"
  rc=0
  cargo fuzz run --sanitizer "$SANITIZER" "${FEATURES[@]}" "$t" "$corpus" -- "${args[@]}" \
    >"$LOG_DIR/$t.log" 2>&1 || rc=$?
  new="$(comm -13 <(echo "$before") <(ls "$artifacts" | sort) | sed '/^$/d')"
  if [ "$rc" -eq 0 ] && [ -z "$new" ]; then
    # The last stats line: `stat::number_of_executed_units` (plain) or `#N: cov: …` (fork).
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs|^#[0-9]+: cov:' "$LOG_DIR/$t.log" \
      | tail -1 || true
    continue
  fi
  FAILED+=("$t")
  echo "CRASH in $t (exit $rc):" >&2
  if [ -z "$new" ]; then
    grep -E -A1 'panicked at|^==[0-9]+==ERROR|^SUMMARY:' "$LOG_DIR/$t.log" | head -10 >&2 || true
    echo "  no crash input written (build or run error?): see $LOG_DIR/$t.log" >&2
    continue
  fi
  # Replay each new input to group them by panic location and message (fork mode does not
  # keep the workers' output), and show one input per group.
  declare -A seen=()
  count=0
  for f in $new; do
    count=$((count + 1))
    what="$("$BIN_DIR/$t" "$artifacts/$f" 2>&1 | grep -A1 -m1 -E 'panicked at|^==[0-9]+==ERROR' \
      | tr '\n' ' ' | sed -E 's/\(([0-9]+)\)//; s/for ".*"|: \{.*|left: .*//' | cut -c1-240 \
      || true)"  # grep -m1 closes the pipe early: SIGPIPE is expected, not a failure
    [ -n "${seen[$what]:-}" ] && continue
    seen[$what]=1
    echo "  $what" >&2
    echo "    input:    $ROOT/$artifacts/$f" >&2
    echo "    replay:   RUSTC_BOOTSTRAP=1 cargo fuzz run $t $artifacts/$f" >&2
    echo "    minimise: RUSTC_BOOTSTRAP=1 cargo fuzz tmin $t $artifacts/$f" >&2
  done
  echo "  ($count new crash inputs in $ROOT/$artifacts, ${#seen[@]} distinct)" >&2
  unset seen
done

if [ ${#FAILED[@]} -gt 0 ]; then
  log "crashes found in: ${FAILED[*]}"
  exit 1
fi
log "no crashes in ${#TARGETS[@]} targets (${SECONDS_PER_TARGET}s each)"
