//! The only code that touches CUDA (cudarc): driver and NVRTC presence, device
//! identity, the transfer sweep, compiling the blur kernel at run time and the timed
//! GPU blur. Everything else in the agent sees our own types and `Result<_, String>`.
//!
//! cudarc loads `libcuda.so.1` and `libnvrtc.so.12` lazily (feature `dynamic-loading`)
//! and *panics* if a call needs a library that is not there, so every entry point
//! checks `is_culib_present()` first (../shared/TOOLCHAIN.md).
//!
//! Unsafe code is allowed in this module only: kernel launches, pinned allocations and
//! the raw NVRTC/driver calls cudarc exposes as `unsafe fn`. Each block says why it holds.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::GpuBlurRun;
use cudarc::driver::result::{self as dres, DriverError};
use cudarc::driver::sys as dsys;
use cudarc::driver::{CudaContext, CudaEvent, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::result::{self as nres, NvrtcError};
use cudarc::nvrtc::sys as nsys;
use cudarc::nvrtc::Ptx;
use vantage_shared::gpu::math::{gbps, median};
use vantage_shared::gpu::{
    cuda_arch_bin, GpuBlurPoint, GpuColdRun, GpuDevice, HostMemory, TransferDirection,
    TransferPoint,
};

/// The library the driver check loads, for messages.
pub const LIBCUDA: &str = "libcuda.so.1";
/// The NVRTC names cudarc tries (it also takes `.so.10` and `.so.9`, but the kernel
/// options here are CUDA 12's), for messages.
pub const LIBNVRTC: &str = "libnvrtc.so, libnvrtc.so.12 or libnvrtc.so.11";

/// Whether `libcuda.so.1` (or another name cudarc tries) can be loaded. Cached: the
/// driver does not appear or vanish under a running process.
pub fn driver_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: `is_culib_present` only tries `dlopen` on the candidate names and closes
    // them again; it has no preconditions.
    *PRESENT.get_or_init(|| unsafe { dsys::is_culib_present() })
}

/// Whether NVRTC can be loaded.
pub fn nvrtc_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: as for the driver, a `dlopen` probe without preconditions.
    *PRESENT.get_or_init(|| unsafe { nsys::is_culib_present() })
}

/// "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)".
fn derr(e: DriverError) -> String {
    match (e.error_name(), e.error_string()) {
        (Ok(name), Ok(text)) => format!("{} ({})", name.to_string_lossy(), text.to_string_lossy()),
        _ => format!("{e:?}"),
    }
}

fn nerr(e: NvrtcError) -> String {
    format!("{:?}", e.0)
}

/// Initialises the driver; `Err` says why there is no usable CUDA: the library is
/// missing, or it loads but `cuInit` fails (then with the driver's error).
pub fn init() -> Result<(), String> {
    if !driver_present() {
        return Err(format!("no NVIDIA driver found ({LIBCUDA} not loadable)"));
    }
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        dres::init().map_err(|e| {
            format!(
                "the NVIDIA driver is installed but cuInit failed: {}",
                derr(e)
            )
        })
    })
    .clone()
}

/// The CUDA version the driver supports, e.g. `12.4`.
pub fn driver_cuda_version() -> Result<String, String> {
    init()?;
    let mut v: c_int = 0;
    // SAFETY: the driver library is loaded (checked in `init`); `v` is a valid out pointer.
    unsafe { dsys::cuDriverGetVersion(&mut v) }
        .result()
        .map_err(derr)?;
    Ok(format!("{}.{}", v / 1000, (v % 1000) / 10))
}

/// NVRTC's version, e.g. `12.8`.
pub fn nvrtc_version() -> Result<String, String> {
    if !nvrtc_present() {
        return Err(nvrtc_missing());
    }
    let (mut major, mut minor): (c_int, c_int) = (0, 0);
    // SAFETY: NVRTC is loaded (checked above); both are valid out pointers.
    unsafe { nsys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(nerr)?;
    Ok(format!("{major}.{minor}"))
}

/// What to do when NVRTC is missing.
pub fn nvrtc_missing() -> String {
    format!("NVRTC not found (none of {LIBNVRTC} loadable): install the CUDA toolkit, or `pip install nvidia-cuda-nvrtc-cu12` and add its nvidia/cuda_nvrtc/lib directory to LD_LIBRARY_PATH")
}

fn attr(dev: dsys::CUdevice, a: dsys::CUdevice_attribute) -> Result<i32, String> {
    // SAFETY: `dev` comes from `cuDeviceGet` after a successful `cuInit`.
    unsafe { dres::device::get_attribute(dev, a) }.map_err(derr)
}

/// `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, the form `nvidia-smi -L` and NVML print.
fn uuid_string(bytes: &[c_char; 16]) -> String {
    let b: Vec<u8> = bytes.iter().map(|&c| c as u8).collect();
    let hex =
        |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

/// Every CUDA device, from the driver alone (no context is created, so this is cheap
/// and does not disturb running work). NVML fills in PCIe and free memory.
pub fn devices() -> Result<Vec<GpuDevice>, String> {
    use dsys::CUdevice_attribute::*;
    init()?;
    let count = dres::device::get_count().map_err(derr)?;
    let mut out = Vec::new();
    for i in 0..count {
        let dev = dres::device::get(i).map_err(derr)?;
        let major = attr(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
        let minor = attr(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
        // SAFETY: as in `attr`.
        let total = unsafe { dres::device::total_mem(dev) }.map_err(derr)?;
        let bus_width = attr(dev, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH).ok();
        // kHz; deprecated in CUDA 13's runtime but still answered by 12.x drivers.
        let mem_clock_mhz = attr(dev, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE)
            .ok()
            .filter(|k| *k > 0)
            .map(|k| k as u32 / 1000);
        let pci = (
            attr(dev, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID),
            attr(dev, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
            attr(dev, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID),
        );
        let bus_width = bus_width.filter(|b| *b > 0).map(|b| b as u32);
        out.push(GpuDevice {
            index: i as u32,
            name: dres::device::get_name(dev).map_err(derr)?,
            uuid: dres::device::get_uuid(dev)
                .ok()
                .map(|u| uuid_string(&u.bytes)),
            compute_capability_major: major as u32,
            compute_capability_minor: minor as u32,
            cuda_arch_bin: cuda_arch_bin(major as u32, minor as u32),
            total_memory_bytes: total as u64,
            free_memory_bytes: None,
            multiprocessors: attr(dev, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
                .ok()
                .map(|m| m as u32),
            pci_bus_id: match pci {
                (Ok(d), Ok(b), Ok(s)) => Some(format!("{d:04x}:{b:02x}:{s:02x}.0")),
                _ => None,
            },
            pcie: None,
            memory_bus_width_bits: bus_width,
            memory_clock_mhz: mem_clock_mhz,
            theoretical_memory_bandwidth_gbps: match (mem_clock_mhz, bus_width) {
                (Some(c), Some(b)) => vantage_shared::gpu::math::memory_bandwidth_gbps(c, b),
                _ => None,
            },
        });
    }
    Ok(out)
}

/// The blur kernels: one 21-tap pass along rows, one along columns, clamp-to-edge.
/// Taps are summed in the order k = −R … R like the CPU version (`cpu.rs`), and
/// `COMPILE_OPTIONS` keep `acc += w * v` a rounded multiply then a rounded add, as Rust
/// computes it.
pub const BLUR_KERNEL_SRC: &str = r#"
static __device__ __forceinline__ int clamp_index(int v, int hi) {
    return v < 0 ? 0 : (v > hi ? hi : v);
}

extern "C" __global__ void blur_rows(const float* __restrict__ src, float* __restrict__ dst,
                                     const float* __restrict__ w, int width, int height, int radius) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) return;
    const float* row = src + (long long)y * width;
    float acc = 0.0f;
    for (int k = -radius; k <= radius; ++k) {
        acc += w[k + radius] * row[clamp_index(x + k, width - 1)];
    }
    dst[(long long)y * width + x] = acc;
}

extern "C" __global__ void blur_cols(const float* __restrict__ src, float* __restrict__ dst,
                                     const float* __restrict__ w, int width, int height, int radius) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) return;
    float acc = 0.0f;
    for (int k = -radius; k <= radius; ++k) {
        acc += w[k + radius] * src[(long long)clamp_index(y + k, height - 1) * width + x];
    }
    dst[(long long)y * width + x] = acc;
}
"#;

/// What NVRTC produced.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// PTX text for a virtual architecture; the driver JIT-compiles it at load.
    Ptx(String),
    /// A binary for one real architecture (`sm_90`): no JIT, and it loads on any
    /// driver that knows the architecture, even one older than NVRTC.
    Cubin { arch: String, image: Vec<u8> },
}

/// An NVRTC program, destroyed on drop even when compiling fails.
struct Program(nsys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by `create_program` and destroyed only here.
        let _ = unsafe { nres::destroy_program(self.0) };
    }
}

fn program_log(prog: &Program) -> String {
    // SAFETY: `prog.0` is a live program (see `Program`).
    match unsafe { nres::get_program_log(prog.0) } {
        Ok(raw) => {
            let bytes: Vec<u8> = raw
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).trim().to_owned()
        }
        Err(e) => format!("(no log: {})", nerr(e)),
    }
}

/// NVRTC options for every build. `--fmad=false`: NVRTC contracts `a * b + c` into one
/// fused multiply-add (a single rounding) by default, Rust never does; without this
/// the GPU would compute slightly different numbers from the CPU it is compared with.
pub const COMPILE_OPTIONS: [&str; 2] = ["--std=c++14", "--fmad=false"];

/// Compiles CUDA C++ with NVRTC: to a CUBIN for `arch` = (major, minor) when given,
/// else to PTX for NVRTC's default virtual architecture. A compile error comes back
/// with NVRTC's log.
pub fn compile(src: &str, arch: Option<(u32, u32)>) -> Result<Compiled, String> {
    if !nvrtc_present() {
        return Err(nvrtc_missing());
    }
    let c_src = CString::new(src).map_err(|_| "kernel source contains a NUL byte".to_owned())?;
    let name = c"vantage_blur.cu";
    let prog = Program(nres::create_program(&c_src, Some(name)).map_err(nerr)?);
    let mut options: Vec<String> = COMPILE_OPTIONS.iter().map(|&o| o.to_owned()).collect();
    if let Some((major, minor)) = arch {
        options.push(format!("--gpu-architecture=sm_{major}{minor}"));
    }
    // SAFETY: `prog.0` is a live program; the options are plain strings.
    if let Err(e) = unsafe { nres::compile_program(prog.0, &options) } {
        return Err(format!(
            "NVRTC could not compile the kernel ({}):\n{}",
            nerr(e),
            program_log(&prog)
        ));
    }
    match arch {
        Some((major, minor)) => {
            let mut size = 0usize;
            // SAFETY: compiled program, valid out pointer.
            unsafe { nsys::nvrtcGetCUBINSize(prog.0, &mut size) }
                .result()
                .map_err(nerr)?;
            let mut image = vec![0u8; size];
            // SAFETY: `image` holds exactly the `size` bytes NVRTC asked for.
            unsafe { nsys::nvrtcGetCUBIN(prog.0, image.as_mut_ptr().cast::<c_char>()) }
                .result()
                .map_err(nerr)?;
            Ok(Compiled::Cubin {
                arch: format!("sm_{major}{minor}"),
                image,
            })
        }
        None => {
            // SAFETY: compiled program.
            let raw = unsafe { nres::get_ptx(prog.0) }.map_err(nerr)?;
            let bytes: Vec<u8> = raw
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            Ok(Compiled::Ptx(String::from_utf8_lossy(&bytes).into_owned()))
        }
    }
}

fn timing_event(ctx: &Arc<CudaContext>) -> Result<CudaEvent, String> {
    // cudarc's default (`None`) disables timing; elapsed_ms would then fail.
    ctx.new_event(Some(dsys::CUevent_flags::CU_EVENT_DEFAULT))
        .map_err(derr)
}

fn ms(start: &CudaEvent, end: &CudaEvent) -> Result<f64, String> {
    start.elapsed_ms(end).map(f64::from).map_err(derr)
}

/// A context on `device` and the one stream all the benchmark's work goes to.
fn context(device: u32) -> Result<(Arc<CudaContext>, Arc<CudaStream>), String> {
    init()?;
    let count = dres::device::get_count().map_err(derr)?;
    if device as i32 >= count {
        return Err(format!(
            "there is no CUDA device {device} (this machine has {count})"
        ));
    }
    let ctx = CudaContext::new(device as usize).map_err(derr)?;
    // With event tracking on (cudarc's default), a context that has a `new_stream` is in
    // multi-stream mode: every copy and launch then adds cuStreamWaitEvent and
    // cuEventRecord calls on the buffers' events, between our timing events.
    // SAFETY: `disable_event_tracking` asks us to order work across streams ourselves.
    // There is one stream, created next: every buffer below is allocated, used and freed
    // on it (and freeing is stream-ordered), so no use can overlap another stream's.
    // What cudarc's events also did for us: pinned buffers no longer wait for pending
    // copies in `as_slice`/`as_mut_ptr`, so the host touches them only after a
    // `sync` (see `transfers` and `blur`). Called before any allocation, as the flag
    // applies to buffers created after it.
    unsafe { ctx.disable_event_tracking() };
    let stream = ctx.new_stream().map_err(derr)?;
    Ok((ctx, stream))
}

/// Waits for the stream, then reports an error cudarc stored instead of returning it
/// (from a `Drop`, or a wait it issued on our behalf).
fn sync(ctx: &CudaContext, stream: &CudaStream) -> Result<(), String> {
    stream.synchronize().map_err(derr)?;
    ctx.check_err().map_err(derr)
}

/// The error a GPU loop returns when the run is cancelled; the caller reports the
/// cancellation, not this.
const CANCELLED: &str = "cancelled";

fn check_cancel(cancel: &AtomicBool) -> Result<(), String> {
    if cancel.load(Ordering::Relaxed) {
        Err(CANCELLED.into())
    } else {
        Ok(())
    }
}

/// Pinned (page-locked) host memory that is *not* write-combined: cudarc's
/// `alloc_pinned` asks for write-combined memory, which uploads fine but makes every CPU
/// read of downloaded data crawl. Flags 0 is what `bandwidthTest` uses by default.
fn pinned(
    ctx: &Arc<CudaContext>,
    len: usize,
    fill: u8,
) -> Result<cudarc::driver::PinnedHostSlice<u8>, String> {
    // SAFETY: `alloc_pinned_with_flags` leaves the memory uninitialised; it is written
    // right below, through a raw pointer (no reference to uninitialised bytes), before
    // anything reads it.
    let mut buf = unsafe { ctx.alloc_pinned_with_flags::<u8>(len, 0) }.map_err(derr)?;
    let ptr = buf.as_mut_ptr().map_err(derr)?;
    // SAFETY: `ptr` points to `len` bytes owned by `buf`, not yet used by any copy.
    unsafe { std::ptr::write_bytes(ptr, fill, len) };
    Ok(buf)
}

/// Host→device, device→host (pageable and pinned) and device→device for each size:
/// one warm-up copy, then `reps` timed copies. `progress` is told after each point.
/// Looks at `cancel` before every copy (a 1 GiB pageable copy takes a fraction of a
/// second) and returns `Err` when it is set.
pub fn transfers(
    device: u32,
    sizes: &[u64],
    reps: u32,
    cancel: &AtomicBool,
    mut progress: impl FnMut(&TransferPoint),
) -> Result<Vec<TransferPoint>, String> {
    let (ctx, stream) = context(device)?;
    let mut points = Vec::new();
    for &bytes in sizes {
        check_cancel(cancel)?;
        let len = usize::try_from(bytes).map_err(|_| "transfer size too large".to_owned())?;
        let mut dev_a: CudaSlice<u8> = stream.alloc_zeros(len).map_err(derr)?;
        let mut dev_b: CudaSlice<u8> = stream.alloc_zeros(len).map_err(derr)?;
        let mut pageable = vec![7u8; len];
        let mut pin = pinned(&ctx, len, 7)?;

        // Pageable: host clock around a copy and a synchronize, as bandwidthTest does,
        // because the driver's staging through its own pinned buffer happens on the host.
        for dir in [
            TransferDirection::HostToDevice,
            TransferDirection::DeviceToHost,
        ] {
            let mut times = Vec::new();
            for rep in 0..=reps {
                check_cancel(cancel)?;
                let t = Instant::now();
                match dir {
                    TransferDirection::HostToDevice => stream.memcpy_htod(&pageable, &mut dev_a),
                    _ => stream.memcpy_dtoh(&dev_a, &mut pageable),
                }
                .map_err(derr)?;
                sync(&ctx, &stream)?;
                if rep > 0 {
                    times.push(t.elapsed().as_secs_f64());
                }
            }
            let p = point(dir, HostMemory::Pageable, bytes, &times);
            progress(&p);
            points.push(p);
        }

        // Pinned and d2d: CUDA events around each copy, all queued, read after one sync.
        for (dir, memory) in [
            (TransferDirection::HostToDevice, HostMemory::Pinned),
            (TransferDirection::DeviceToHost, HostMemory::Pinned),
            (TransferDirection::DeviceToDevice, HostMemory::None),
        ] {
            let mut copy = |stream: &Arc<CudaStream>| match dir {
                TransferDirection::HostToDevice => stream.memcpy_htod(&pin, &mut dev_a),
                TransferDirection::DeviceToHost => stream.memcpy_dtoh(&dev_a, &mut pin),
                TransferDirection::DeviceToDevice => stream.memcpy_dtod(&dev_a, &mut dev_b),
            };
            copy(&stream).map_err(derr)?;
            let mut pairs = Vec::new();
            for _ in 0..reps {
                // Queued copies are not looked at again: `reps` (≤ 50) copies of 1 GiB
                // pinned take a few seconds at worst, so wait for those already queued.
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let (start, end) = (timing_event(&ctx)?, timing_event(&ctx)?);
                start.record(&stream).map_err(derr)?;
                copy(&stream).map_err(derr)?;
                end.record(&stream).map_err(derr)?;
                pairs.push((start, end));
            }
            sync(&ctx, &stream)?;
            check_cancel(cancel)?;
            let times = pairs
                .iter()
                .map(|(s, e)| ms(s, e).map(|m| m / 1e3))
                .collect::<Result<Vec<_>, _>>()?;
            let p = point(dir, memory, bytes, &times);
            progress(&p);
            points.push(p);
        }
    }
    Ok(points)
}

fn point(
    direction: TransferDirection,
    memory: HostMemory,
    bytes: u64,
    times: &[f64],
) -> TransferPoint {
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let med = median(times).unwrap_or(f64::NAN);
    TransferPoint {
        direction,
        memory,
        bytes,
        repetitions: times.len() as u32,
        best_s: best,
        median_s: med,
        best_gbps: gbps(bytes, best),
        median_gbps: gbps(bytes, med),
    }
}

/// Runs `n` chained blurs of `image` (already in `pin_in`) and returns
/// (upload, kernels, download) in ms from CUDA events; the result lands in `pin_out`.
#[allow(clippy::too_many_arguments)]
fn blur_once(
    ctx: &Arc<CudaContext>,
    stream: &Arc<CudaStream>,
    kernels: &(cudarc::driver::CudaFunction, cudarc::driver::CudaFunction),
    bufs: &mut [CudaSlice<f32>; 3],
    weights: &CudaSlice<f32>,
    pin_in: &cudarc::driver::PinnedHostSlice<f32>,
    pin_out: &mut cudarc::driver::PinnedHostSlice<f32>,
    side: u32,
    n: u32,
) -> Result<(f64, f64, f64), String> {
    let ev: Vec<CudaEvent> = (0..4)
        .map(|_| timing_event(ctx))
        .collect::<Result<_, _>>()?;
    let dim = side as i32;
    let radius = (weights.len() / 2) as i32;
    let cfg = LaunchConfig {
        block_dim: (16, 16, 1),
        grid_dim: (side.div_ceil(16), side.div_ceil(16), 1),
        shared_mem_bytes: 0,
    };
    let [cur, tmp, next] = bufs;
    ev[0].record(stream).map_err(derr)?;
    stream.memcpy_htod(pin_in, cur).map_err(derr)?;
    ev[1].record(stream).map_err(derr)?;
    for _ in 0..n {
        let mut rows = stream.launch_builder(&kernels.0);
        rows.arg(&*cur)
            .arg(&mut *tmp)
            .arg(weights)
            .arg(&dim)
            .arg(&dim)
            .arg(&radius);
        // SAFETY: `blur_rows(const float*, float*, const float*, int, int, int)` matches
        // the six arguments in order; `cur`, `tmp` hold side² floats and the grid covers
        // side × side threads, each guarded by `x < width && y < height`; `weights`
        // holds 2·radius + 1 floats and the kernel reads w[0 ..= 2·radius].
        unsafe { rows.launch(cfg) }.map_err(derr)?;
        let mut cols = stream.launch_builder(&kernels.1);
        cols.arg(&*tmp)
            .arg(&mut *next)
            .arg(weights)
            .arg(&dim)
            .arg(&dim)
            .arg(&radius);
        // SAFETY: as above for `blur_cols`, reading `tmp` and writing `next`.
        unsafe { cols.launch(cfg) }.map_err(derr)?;
        std::mem::swap(cur, next);
    }
    ev[2].record(stream).map_err(derr)?;
    stream.memcpy_dtoh(&*cur, pin_out).map_err(derr)?;
    ev[3].record(stream).map_err(derr)?;
    // Also what makes `pin_out` safe to read on the host (no event tracking, see `context`).
    sync(ctx, stream)?;
    Ok((
        ms(&ev[0], &ev[1])?,
        ms(&ev[1], &ev[2])?,
        ms(&ev[2], &ev[3])?,
    ))
}

/// The GPU half of the blur experiment: compile (CUBIN for this GPU, PTX if NVRTC does
/// not know it), load, a cold first run, then `reps` warm runs per N (median by total).
/// Upload and download go from and to pinned, non-write-combined host memory. Looks at
/// `cancel` before every run (one run is at most 64 chained blurs: a fraction of a
/// second on current GPUs, a few seconds on the smallest).
#[allow(clippy::too_many_arguments)]
pub fn blur(
    device: u32,
    image: &[f32],
    side: u32,
    weights: &[f32],
    ns: &[u32],
    reps: u32,
    cancel: &AtomicBool,
    mut progress: impl FnMut(u32),
) -> Result<GpuBlurRun, String> {
    let t_setup = Instant::now();
    let (ctx, stream) = context(device)?;
    let len = image.len();
    let mut bufs = [
        stream.alloc_zeros::<f32>(len).map_err(derr)?,
        stream.alloc_zeros::<f32>(len).map_err(derr)?,
        stream.alloc_zeros::<f32>(len).map_err(derr)?,
    ];
    let d_weights = stream.clone_htod(weights).map_err(derr)?;
    // SAFETY: the memory is uninitialised; it is written right below through a raw
    // pointer (no reference to uninitialised floats) before anything reads it.
    let mut pin_in = unsafe { ctx.alloc_pinned_with_flags::<f32>(len, 0) }.map_err(derr)?;
    let ptr = pin_in.as_mut_ptr().map_err(derr)?;
    // SAFETY: `ptr` holds `len` f32 owned by `pin_in`, `image` holds `len` f32, they do
    // not overlap, and no copy uses `pin_in` yet.
    unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), ptr, len) };
    // SAFETY: as for `pin_in`; zeroed through the pointer before use.
    let mut pin_out = unsafe { ctx.alloc_pinned_with_flags::<f32>(len, 0) }.map_err(derr)?;
    let ptr = pin_out.as_mut_ptr().map_err(derr)?;
    // SAFETY: `ptr` holds `len` f32 owned by `pin_out`; all-zero bytes are 0.0f32.
    unsafe { std::ptr::write_bytes(ptr, 0, len) };
    sync(&ctx, &stream)?;
    let setup_ms = t_setup.elapsed().as_secs_f64() * 1e3;

    let (major, minor) = ctx.compute_capability().map_err(derr)?;
    let t_compile = Instant::now();
    let (ptx, kernel_build) = match compile(BLUR_KERNEL_SRC, Some((major as u32, minor as u32))) {
        Ok(Compiled::Cubin { arch, image }) => {
            (Ptx::from_binary(image), format!("CUBIN for {arch} (NVRTC)"))
        }
        Ok(Compiled::Ptx(p)) => (Ptx::from_src(p), "PTX (NVRTC), JIT at load".to_owned()),
        Err(first) => match compile(BLUR_KERNEL_SRC, None)? {
            Compiled::Ptx(p) => (
                Ptx::from_src(p),
                format!(
                    "PTX (NVRTC), JIT at load: this NVRTC cannot build sm_{major}{minor} ({})",
                    first.lines().next().unwrap_or_default()
                ),
            ),
            Compiled::Cubin { image, .. } => (Ptx::from_binary(image), "CUBIN (NVRTC)".to_owned()),
        },
    };
    let compile_ms = t_compile.elapsed().as_secs_f64() * 1e3;
    let t_load = Instant::now();
    let module = ctx.load_module(ptx).map_err(|e| {
        format!(
            "loading the compiled kernel failed: {} (a PTX newer than the driver gives CUDA_ERROR_UNSUPPORTED_PTX_VERSION: update the driver or use an NVRTC no newer than the driver's CUDA version)",
            derr(e)
        )
    })?;
    let kernels = (
        module.load_function("blur_rows").map_err(derr)?,
        module.load_function("blur_cols").map_err(derr)?,
    );
    let module_load_ms = t_load.elapsed().as_secs_f64() * 1e3;

    let first_n = ns.first().copied().unwrap_or(1);
    check_cancel(cancel)?;
    let (u, k, d) = blur_once(
        &ctx,
        &stream,
        &kernels,
        &mut bufs,
        &d_weights,
        &pin_in,
        &mut pin_out,
        side,
        first_n,
    )?;
    let cold = GpuColdRun {
        compile_ms,
        module_load_ms,
        setup_ms,
        n: first_n,
        upload_ms: u,
        kernels_ms: k,
        download_ms: d,
    };

    let mut points = Vec::new();
    for &n in ns {
        let mut runs = Vec::new();
        for _ in 0..reps.max(1) {
            check_cancel(cancel)?;
            let (upload_ms, kernels_ms, download_ms) = blur_once(
                &ctx,
                &stream,
                &kernels,
                &mut bufs,
                &d_weights,
                &pin_in,
                &mut pin_out,
                side,
                n,
            )?;
            runs.push(GpuBlurPoint {
                n,
                upload_ms,
                kernels_ms,
                download_ms,
                total_ms: upload_ms + kernels_ms + download_ms,
            });
        }
        runs.sort_by(|a, b| a.total_ms.total_cmp(&b.total_ms));
        if let Some(mid) = runs.get(runs.len() / 2) {
            points.push(mid.clone());
        }
        progress(n);
    }
    // The last run was the largest N (ns is sorted): its output is in `pin_out`, and
    // `blur_once` synchronised the stream after the download.
    let output = pin_out.as_slice().map_err(derr)?.to_vec();
    let device_name = ctx.name().map_err(derr)?;
    Ok(GpuBlurRun {
        device: device_name,
        kernel_build,
        cold,
        points,
        output,
    })
}

/// The PTX's entry names, for tests and diagnostics.
pub fn ptx_entries(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|l| l.trim().strip_prefix(".visible .entry "))
        .map(|l| l.split('(').next().unwrap_or_default().trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NVRTC runs without a GPU; these tests use the real library and fail, saying what
    /// to install, when it is missing (scripts/test.sh installs it and sets the path).
    fn require_nvrtc() {
        assert!(
            nvrtc_present(),
            "{}. scripts/test.sh installs it into .tools/nvrtc-venv and puts it on LD_LIBRARY_PATH",
            nvrtc_missing()
        );
    }

    #[test]
    fn blur_kernel_compiles_to_ptx_with_the_real_nvrtc() {
        require_nvrtc();
        let version = nvrtc_version().expect("NVRTC version");
        assert!(version.starts_with("12."), "{version}");
        match compile(BLUR_KERNEL_SRC, None) {
            Ok(Compiled::Ptx(ptx)) => {
                assert!(ptx.contains(".version"), "not PTX: {ptx}");
                assert_eq!(ptx_entries(&ptx), vec!["blur_rows", "blur_cols"]);
            }
            other => panic!("expected PTX, got {other:?}"),
        }
    }

    #[test]
    fn blur_kernel_compiles_to_cubin_for_real_gpus() {
        require_nvrtc();
        // Ampere consumer (8.6) and Hopper (9.0): what CUDA_ARCH_BIN says on such GPUs.
        for arch in [(8, 6), (9, 0)] {
            match compile(BLUR_KERNEL_SRC, Some(arch)) {
                Ok(Compiled::Cubin { arch: name, image }) => {
                    assert_eq!(name, format!("sm_{}{}", arch.0, arch.1));
                    assert!(image.starts_with(b"\x7fELF"), "a CUBIN is an ELF file");
                }
                other => panic!("expected a CUBIN for {arch:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_kernel_that_does_not_compile_returns_nvrtcs_log() {
        require_nvrtc();
        let broken = "extern \"C\" __global__ void broken(float* x) { x[0] = undeclared_name; }";
        let err = compile(broken, None).expect_err("must not compile");
        assert!(
            err.starts_with("NVRTC could not compile the kernel"),
            "{err}"
        );
        assert!(err.contains("NVRTC_ERROR_COMPILATION"), "{err}");
        assert!(
            err.contains("undeclared_name"),
            "the log names the problem: {err}"
        );
        assert!(
            err.contains("vantage_blur.cu"),
            "the log names the file: {err}"
        );
        let err = compile("__global__ void f( {", None).expect_err("syntax error");
        assert!(err.contains("error"), "{err}");
    }

    #[test]
    fn the_kernel_is_built_without_fused_multiply_adds() {
        require_nvrtc();
        let Ok(Compiled::Ptx(ptx)) = compile(BLUR_KERNEL_SRC, None) else {
            panic!("expected PTX");
        };
        // Each tap is a rounded multiply and a rounded add (`.rn` also tells ptxas not to
        // fuse them), as in Rust; NVRTC's default would emit fma.rn.f32.
        assert!(!ptx.contains("fma.rn.f32"), "{ptx}");
        assert!(
            ptx.contains("mul.rn.f32") && ptx.contains("add.rn.f32"),
            "{ptx}"
        );
        // The check above can fail: the same source without the option does fuse.
        let c_src = CString::new(BLUR_KERNEL_SRC).expect("no NUL");
        let prog = Program(nres::create_program(&c_src, Some(c"fused.cu")).expect("program"));
        // SAFETY: live program, plain options.
        unsafe { nres::compile_program(prog.0, &["--std=c++14"]) }.expect("compiles");
        // SAFETY: compiled program.
        let raw = unsafe { nres::get_ptx(prog.0) }.expect("PTX");
        let fused: String = raw
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8 as char)
            .collect();
        assert!(fused.contains("fma.rn.f32"), "{fused}");
    }

    /// Branches on `cuInit` itself, not on the library loading: a machine with
    /// libcuda.so.1 whose driver does not initialise (no device node in a container, a
    /// kernel module mismatch) must report that error, not fail this test.
    #[test]
    fn no_usable_driver_is_an_error_not_a_panic() {
        match init() {
            Ok(()) => {
                let v = driver_cuda_version().expect("CUDA driver version");
                assert!(v.contains('.'), "{v}");
                devices().expect("devices");
            }
            Err(reason) => {
                if driver_present() {
                    assert!(
                        reason.starts_with(
                            "the NVIDIA driver is installed but cuInit failed: CUDA_ERROR_"
                        ),
                        "{reason}"
                    );
                } else {
                    assert_eq!(reason, "no NVIDIA driver found (libcuda.so.1 not loadable)");
                }
                assert_eq!(driver_cuda_version().expect_err("no driver"), reason);
                assert_eq!(devices().expect_err("no driver"), reason);
                let go = AtomicBool::new(false);
                let e = transfers(0, &[4096], 1, &go, |_| {}).expect_err("no driver");
                assert_eq!(e, reason);
                let e = blur(0, &[0.0; 64 * 64], 64, &[1.0], &[1], 1, &go, |_| {})
                    .err()
                    .expect("no driver");
                assert_eq!(e, reason);
            }
        }
    }

    #[test]
    fn uuid_prints_like_nvidia_smi() {
        let mut b = [0 as c_char; 16];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8 * 17) as c_char;
        }
        assert_eq!(uuid_string(&b), "GPU-00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn ptx_entries_are_found() {
        let ptx = ".version 8.5\n.target sm_52\n.visible .entry blur_rows(\n\t.param .u64 p0\n)\n.visible .entry blur_cols(\n";
        assert_eq!(ptx_entries(ptx), vec!["blur_rows", "blur_cols"]);
    }
}
