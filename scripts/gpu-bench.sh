#!/usr/bin/env bash
# GPU figures for BENCHMARKS.md, run on a machine with an NVIDIA GPU: the
# release agent's `vantage bench gpu` (4096x4096 blur, N = 1..32, transfers 64 KiB to
# 256 MiB), the machine's identity, and NVIDIA's own bandwidth tools when installed, all
# written to one directory with a short summary. The benchmark runs once, as JSON; the
# summary is rendered from that record, and NVIDIA's tools run even when it fails. The
# run is also stored in the agent's data directory (VANTAGE_DATA_DIR, default as for
# `vantage serve`), so the dashboard's history shows it.
#
# Usage: scripts/gpu-bench.sh [OUT_DIR]
#   VANTAGE_BIN=path   use this agent binary instead of building one (offline machines)
#   NVRTC_DIR=path     directory holding libnvrtc.so.12 (else: ldconfig, /usr/local/cuda,
#                      then the pip wheel in .tools/, installed if missing)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
OUT=${1:-"$ROOT/gpu-bench-$(hostname)-$(date +%Y%m%dT%H%M%S)"}
mkdir -p "$OUT"

# NVRTC compiles the blur kernel; the driver itself comes with the machine.
if [ -z "${NVRTC_DIR:-}" ]; then
  NVRTC_DIR=$( (ldconfig -p 2>/dev/null || true) | awk '/libnvrtc\.so\.12 / {print $NF; exit}' | xargs -r dirname)
fi
if [ -z "$NVRTC_DIR" ]; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/*/lib; do
    [ -e "$d/libnvrtc.so.12" ] && NVRTC_DIR=$d && break
  done
fi
if [ -z "$NVRTC_DIR" ]; then
  install_nvrtc
  NVRTC_DIR=$(nvrtc_lib_dir)
fi
export LD_LIBRARY_PATH="$NVRTC_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "NVRTC from $NVRTC_DIR" | tee "$OUT/nvrtc.txt"

BIN=${VANTAGE_BIN:-}
if [ -z "$BIN" ]; then
  log "building the release agent"
  cargo build --release --locked -p vantage-agent
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/vantage"
fi

log "machine identity"
{
  uname -a
  grep -m1 'model name' /proc/cpuinfo || true
  echo "cpus: $(nproc)"
  cat /proc/driver/nvidia/version 2>/dev/null || echo "no /proc/driver/nvidia/version (driver not loaded?)"
  for f in /proc/driver/nvidia/gpus/*/information; do [ -e "$f" ] && cat "$f"; done
} >"$OUT/machine.txt" 2>&1
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,uuid,driver_version,compute_cap,memory.total,clocks.max.memory,pcie.link.gen.max,pcie.link.width.max,pcie.link.gen.current,pcie.link.width.current \
    --format=csv >"$OUT/nvidia-smi.csv" 2>&1 || true
  nvidia-smi -q >"$OUT/nvidia-smi-q.txt" 2>&1 || true
else
  echo "nvidia-smi not installed; identity from /proc/driver/nvidia and lspci only" >"$OUT/nvidia-smi.csv"
fi
# Without nvidia-smi: the PCIe link as the kernel sees it (LnkCap = max, LnkSta = now).
command -v lspci >/dev/null && lspci -vv -d 10de: 2>/dev/null | grep -E '^[0-9a-f]|LnkCap:|LnkSta:' >"$OUT/lspci.txt" || true

log "vantage bench gpu --json (progress in vantage-bench-gpu.progress.txt)"
# A failed run still prints its record; keep going so the reference figures are taken,
# and exit with its status at the end.
BENCH_RC=0
"$BIN" bench gpu --json >"$OUT/vantage-bench-gpu.json" 2> >(tee "$OUT/vantage-bench-gpu.progress.txt" >&2) || BENCH_RC=$?

log "NVIDIA reference bandwidth figures"
REF="$OUT/reference.txt"
: >"$REF"
if command -v nvbandwidth >/dev/null; then
  nvbandwidth -t host_to_device_memcpy_ce device_to_host_memcpy_ce device_local_copy >>"$REF" 2>&1 || true
else
  echo "nvbandwidth: not installed (build it from github.com/NVIDIA/nvbandwidth with the CUDA toolkit)" >>"$REF"
fi
BWT=$(command -v bandwidthTest || ls /usr/local/cuda/extras/demo_suite/bandwidthTest 2>/dev/null || true)
if [ -n "$BWT" ]; then
  # 256 MiB like our largest size; bandwidthTest counts d2d bytes twice (read + write).
  "$BWT" --memory=pinned --mode=range --start=268435456 --end=268435456 --increment=1 --htod --dtoh --dtod --csv >>"$REF" 2>&1 || true
  "$BWT" --memory=pageable --mode=range --start=268435456 --end=268435456 --increment=1 --htod --dtoh --csv >>"$REF" 2>&1 || true
else
  echo "bandwidthTest: not installed (CUDA toolkit extras/demo_suite, or cuda-samples)" >>"$REF"
fi

log "summary"
python3 - "$OUT/vantage-bench-gpu.json" >"$OUT/summary.txt" <<'PY' || true
import json, math, sys
try:
    run = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    print(f"no run record ({e}): see vantage-bench-gpu.progress.txt")
    sys.exit(1)
m, t, b = run["machine"], run.get("transfers") or {}, run.get("blur") or {}
print(f"{m.get('gpu')} (CUDA_ARCH_BIN {m.get('cuda_arch_bin')}), driver {m.get('driver_version')}, CUDA {m.get('cuda_driver_version')}; {m.get('cpu_model')}, {m.get('cpu_cores')} threads")
print("status:", run["status"], run.get("error") or "", run.get("gpu_skipped") or "")
pts = t.get("points", [])
def best(direction, memory):
    v = [p["best_gbps"] for p in pts if p["direction"] == direction and p["memory"] == memory]
    return max(v) if v else None
pcie, mem = t.get("pcie_limit_gbps"), t.get("memory_limit_gbps")
for d, mm in [("h2d", "pinned"), ("d2h", "pinned"), ("h2d", "pageable"), ("d2h", "pageable")]:
    v = best(d, mm)
    share = f" = {100 * v / pcie:.0f}% of the PCIe limit {pcie:.1f}" if v and pcie else ""
    print(f"{d} {mm}: best {v and round(v, 2)} GB/s{share}")
d2d = best("d2d", "none")
if d2d:
    share = f" = {100 * 2 * d2d / mem:.0f}% of the memory's {mem:.0f} GB/s (target >= 70%)" if mem else ""
    print(f"d2d: {d2d:.1f} GB/s copied, {2 * d2d:.1f} GB/s read+write (bandwidthTest's convention){share}")
def ms(v):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.2f}"
if b.get("cpu"):
    gp = {p["n"]: p for p in ((b.get("gpu") or {}).get("points") or [])}
    print(f"\nblur {b['width']}x{b['height']}, ms: N, CPU 1 thread, CPU {b['cpu_threads']} threads, GPU upload / kernels / download / total")
    for c in b["cpu"]:
        p = gp.get(c["n"], {})
        print(f"{c['n']:>4} {ms(c.get('single_thread_ms')):>10} {ms(c.get('all_cores_ms')):>10}  "
              + " / ".join(ms(p.get(k)) for k in ("upload_ms", "kernels_ms", "download_ms", "total_ms")))
g = b.get("gpu")
if g:
    slope = (g.get("kernels_fit") or {}).get("slope")
    print(f"GPU per blur {slope} ms, upload+download {ms(g.get('transfer_ms'))} ms, kernel {g['kernel_build']}, agreement {g['agreement']}")
for key in ("break_even_single", "break_even_all_cores"):
    print(key, b.get(key))
PY
cat "$OUT/summary.txt"
echo "results in $OUT (compare reference.txt with the pinned rows: target within 10%)"
if [ "$BENCH_RC" -ne 0 ]; then
  echo "vantage bench gpu exited with $BENCH_RC: see $OUT/vantage-bench-gpu.progress.txt" >&2
  exit "$BENCH_RC"
fi
