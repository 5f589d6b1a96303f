//! GPU page types (issue 5): the GPU's identity and versions, which containers can use
//! it, and benchmark runs that show when the GPU pays off (transfers, a chained blur on
//! GPU and CPU, the break-even N*). Pure data and arithmetic; the agent's `gpu` module
//! does the measuring.
//!
//! Units: bandwidth in GB/s with **1 GB = 10⁹ bytes** (as NVIDIA's `bandwidthTest` and
//! `nvbandwidth` print it); blur timings in milliseconds; transfer timings in seconds.

pub mod docker;
pub mod math;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use docker::{
    classify_container, engine_support, ContainerGpuFields, EngineGpuFields, EngineGpuSupport,
    GpuAccess, GpuAccessKind,
};
pub use math::{break_even, fit_line, BreakEven, FitError, LineFit};

/// Whether a library the GPU code loads at run time is there, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuLibrary {
    pub available: bool,
    /// e.g. `12.4` for the CUDA driver API, `12.8` for NVRTC.
    pub version: Option<String>,
    /// Why it is unavailable, e.g. `no NVIDIA driver found (libcuda.so.1 not loadable)`.
    pub reason: Option<String>,
}

impl GpuLibrary {
    pub fn available(version: Option<String>) -> Self {
        Self {
            available: true,
            version,
            reason: None,
        }
    }

    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self {
            available: false,
            version: None,
            reason: Some(reason.into()),
        }
    }
}

/// The PCIe link between host and GPU, as NVML reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PcieLink {
    /// Current generation; GPUs drop to a lower one while idle, so this may read 1 at rest.
    pub current_gen: Option<u32>,
    pub current_width: Option<u32>,
    /// The highest generation device and slot both support.
    pub max_gen: Option<u32>,
    pub max_width: Option<u32>,
    /// One-direction limit of the link at its maximum generation and width, in GB/s,
    /// after line encoding (see `math::pcie_lane_bytes_per_s`).
    pub theoretical_gbps: Option<f64>,
}

/// One CUDA device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuDevice {
    /// CUDA device ordinal.
    pub index: u32,
    pub name: String,
    /// `GPU-…` as `nvidia-smi -L` prints it.
    pub uuid: Option<String>,
    pub compute_capability_major: u32,
    pub compute_capability_minor: u32,
    /// The value for `CUDA_ARCH_BIN` / `-gencode` builds, e.g. `8.6`, `9.0`.
    pub cuda_arch_bin: String,
    pub total_memory_bytes: u64,
    pub free_memory_bytes: Option<u64>,
    pub multiprocessors: Option<u32>,
    /// `0000:65:00.0`.
    pub pci_bus_id: Option<String>,
    pub pcie: Option<PcieLink>,
    pub memory_bus_width_bits: Option<u32>,
    /// Peak memory clock in MHz.
    pub memory_clock_mhz: Option<u32>,
    /// Bus width × clock × 2 (double data rate), GB/s.
    pub theoretical_memory_bandwidth_gbps: Option<f64>,
}

/// `CUDA_ARCH_BIN` from a compute capability: `(8, 6)` → `8.6`.
pub fn cuda_arch_bin(major: u32, minor: u32) -> String {
    format!("{major}.{minor}")
}

/// One container's GPU access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerGpu {
    pub id: String,
    pub name: String,
    pub running: bool,
    pub access: GpuAccess,
}

/// Docker's side of the GPU story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DockerGpu {
    /// False when the agent does not talk to Docker right now (`reason` says why).
    pub available: bool,
    pub reason: Option<String>,
    /// `None` until `docker info` was read.
    pub engine: Option<EngineGpuSupport>,
    /// Every container, those with GPU access first, then by name.
    pub containers: Vec<ContainerGpu>,
}

/// `GET /api/gpu`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuStatus {
    /// The CUDA driver (`libcuda.so.1`); `version` is the CUDA version it supports (`12.4`).
    pub driver: GpuLibrary,
    /// The NVIDIA display driver version (`550.54.15`), from NVML.
    pub driver_version: Option<String>,
    /// NVML (`libnvidia-ml.so.1`): PCIe link and clocks come from it.
    pub nvml: GpuLibrary,
    /// NVRTC (`libnvrtc.so.12`): compiles the benchmark kernel at run time.
    pub nvrtc: GpuLibrary,
    pub devices: Vec<GpuDevice>,
    pub docker: DockerGpu,
    /// What the GPU benchmark needs that is missing; `None` when it can run.
    pub benchmark_needs: Option<String>,
    /// Whether a benchmark run is in progress (only one at a time).
    pub running: Option<String>,
}

/// Bounds for benchmark options, so a request cannot tie up the machine for hours.
/// The largest image side at all, from `vantage bench gpu` (a person at a terminal who
/// can press Ctrl-C); an 8192² run holds about 1.25 GiB of host memory.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// The largest image side `POST /api/gpu/runs` accepts: the issue's 4096² experiment.
pub const MAX_API_IMAGE_SIDE: u32 = 4096;
pub const MIN_IMAGE_SIDE: u32 = 64;
pub const MAX_CHAIN: u32 = 64;
pub const MAX_NS: usize = 12;
pub const MIN_TRANSFER_BYTES: u64 = 4 * 1024;
pub const MAX_TRANSFER_BYTES: u64 = 1024 * 1024 * 1024;
pub const MAX_TRANSFER_SIZES: usize = 16;
pub const MAX_REPETITIONS: u32 = 50;
/// The issue's experiment: 4096 × 4096, N ∈ {1, 2, 4, 8, 16, 32}.
pub const DEFAULT_IMAGE_SIDE: u32 = 4096;
pub const QUICK_IMAGE_SIDE: u32 = 512;
pub const DEFAULT_NS: [u32; 6] = [1, 2, 4, 8, 16, 32];
pub const QUICK_NS: [u32; 4] = [1, 2, 4, 8];
/// 21 × 21 taps: radius 10.
pub const BLUR_RADIUS: u32 = 10;
/// σ = radius / 3, so the kernel covers ±3σ (99.7 % of the Gaussian's mass; the
/// weights are normalised to sum to 1).
pub const BLUR_SIGMA: f64 = 10.0 / 3.0;
/// Largest |GPU − CPU| accepted per pixel, for images in [0, 1]. Both sides do the same
/// f32 operations in the same order: `acc = acc + w·v`, rounded after the multiply and
/// after the add (the kernel is compiled with `--fmad=false`, and Rust never fuses), so
/// the expected difference is exactly 0. 1e-6 (about 8 ulps at 1.0) only leaves room for
/// a rounding difference nobody has seen yet; a real bug (a wrong tap, index or border)
/// shows up as 1e-3 or more.
pub const AGREEMENT_TOLERANCE: f64 = 1e-6;
/// The CPU blur is timed at most this many times per N (each N on 4096² takes seconds
/// single-threaded), whatever `repetitions` says.
pub const MAX_CPU_REPETITIONS: u32 = 3;
/// The longest the CPU part of a run may take single-threaded, estimated before it starts.
pub const MAX_CPU_SECONDS: f64 = 600.0;
/// Single-threaded pixel-blurs per second assumed for that estimate (one pixel through
/// one 21 + 21-tap blur). A 2-vCPU AMD EPYC VM does 1.8e8 (92.8 ms per 4096² blur, see
/// BENCHMARKS.md); 2.5e7 is seven times slower, for small ARM boards, so the estimate
/// errs long. The issue's default run (4096², N = 1…32, 3 CPU repetitions) comes to
/// about 2 minutes by it.
pub const CONSERVATIVE_PIXEL_BLURS_PER_S: f64 = 2.5e7;
/// A run may use at most this share of the host's available memory (`MemAvailable`).
pub const MAX_MEMORY_SHARE: f64 = 0.75;

/// Where options come from, for the bounds that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsSource {
    /// `POST /api/gpu/runs`: image side up to 4096.
    Api,
    /// `vantage bench gpu`: image side up to 8192.
    Cli,
}

impl OptionsSource {
    pub fn max_image_side(self) -> u32 {
        match self {
            Self::Api => MAX_API_IMAGE_SIDE,
            Self::Cli => MAX_IMAGE_SIDE,
        }
    }
}

/// `POST /api/gpu/runs` body and `vantage bench gpu` flags; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuBenchOptions {
    /// Small sizes for a run of seconds (512 × 512, N ≤ 8, transfers up to 16 MiB).
    #[serde(default)]
    pub quick: bool,
    /// Side of the square single-channel f32 image (64–4096 from the API, up to 8192 from
    /// `vantage bench gpu`; default 4096, quick 512). The CPU part must fit a 10-minute
    /// budget (see `MAX_CPU_SECONDS`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 64, maximum = 4096))]
    pub image_side: Option<u32>,
    /// Chain lengths N (1–64 each, at most 12; default 1,2,4,8,16,32).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(min_items = 1, max_items = 12, minimum = 1, maximum = 64)
    )]
    pub ns: Option<Vec<u32>>,
    /// Transfer sizes in bytes (4 KiB–1 GiB, at most 16; default 64 KiB … 256 MiB ×4).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(min_items = 1, max_items = 16, minimum = 4096, maximum = 1073741824)
    )]
    pub transfer_sizes: Option<Vec<u64>>,
    /// Timed repetitions per point (1–50; default 5, quick 3).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 50))]
    pub repetitions: Option<u32>,
    /// CUDA device ordinal (default 0).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = Int64, maximum = 4294967295u32))]
    pub device: Option<u32>,
}

/// Options after defaults and checks: what a run actually does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuBenchConfig {
    pub quick: bool,
    pub image_side: u32,
    /// Sorted, distinct.
    pub ns: Vec<u32>,
    /// Sorted, distinct.
    pub transfer_sizes: Vec<u64>,
    pub repetitions: u32,
    pub device: u32,
}

impl GpuBenchOptions {
    /// Applies defaults and the API's bounds; the error is a sentence for a 400 answer.
    pub fn resolve(&self) -> Result<GpuBenchConfig, String> {
        self.resolve_for(OptionsSource::Api)
    }

    /// Applies defaults and the bounds for `source`, including the CPU time budget.
    pub fn resolve_for(&self, source: OptionsSource) -> Result<GpuBenchConfig, String> {
        let image_side = self.image_side.unwrap_or(if self.quick {
            QUICK_IMAGE_SIDE
        } else {
            DEFAULT_IMAGE_SIDE
        });
        let max_side = source.max_image_side();
        if !(MIN_IMAGE_SIDE..=max_side).contains(&image_side) {
            let cli = if source == OptionsSource::Api {
                format!(" (up to {MAX_IMAGE_SIDE} with `vantage bench gpu`)")
            } else {
                String::new()
            };
            return Err(format!(
                "image_side must be between {MIN_IMAGE_SIDE} and {max_side}{cli}, got {image_side}"
            ));
        }
        let mut ns = self.ns.clone().unwrap_or_else(|| {
            if self.quick {
                QUICK_NS.to_vec()
            } else {
                DEFAULT_NS.to_vec()
            }
        });
        if ns.is_empty() || ns.len() > MAX_NS {
            return Err(format!("give between 1 and {MAX_NS} chain lengths N"));
        }
        if let Some(bad) = ns.iter().find(|n| !(1..=MAX_CHAIN).contains(*n)) {
            return Err(format!(
                "each N must be between 1 and {MAX_CHAIN}, got {bad}"
            ));
        }
        ns.sort_unstable();
        ns.dedup();
        let mut transfer_sizes = self.transfer_sizes.clone().unwrap_or_else(|| {
            let top = if self.quick { 16 << 20 } else { 256 << 20 };
            std::iter::successors(Some(64u64 << 10), |s| Some(s * 4))
                .take_while(|s| *s <= top)
                .collect()
        });
        if transfer_sizes.is_empty() || transfer_sizes.len() > MAX_TRANSFER_SIZES {
            return Err(format!(
                "give between 1 and {MAX_TRANSFER_SIZES} transfer sizes"
            ));
        }
        if let Some(bad) = transfer_sizes
            .iter()
            .find(|s| !(MIN_TRANSFER_BYTES..=MAX_TRANSFER_BYTES).contains(*s))
        {
            return Err(format!(
                "each transfer size must be between {MIN_TRANSFER_BYTES} bytes (4 KiB) and {MAX_TRANSFER_BYTES} bytes (1 GiB), got {bad}"
            ));
        }
        transfer_sizes.sort_unstable();
        transfer_sizes.dedup();
        let repetitions = self.repetitions.unwrap_or(if self.quick { 3 } else { 5 });
        if !(1..=MAX_REPETITIONS).contains(&repetitions) {
            return Err(format!(
                "repetitions must be between 1 and {MAX_REPETITIONS}, got {repetitions}"
            ));
        }
        let config = GpuBenchConfig {
            quick: self.quick,
            image_side,
            ns,
            transfer_sizes,
            repetitions,
            device: self.device.unwrap_or(0),
        };
        let estimate = config.cpu_estimate_s();
        if estimate > MAX_CPU_SECONDS {
            let sum: u64 = config.ns.iter().map(|&n| u64::from(n)).sum();
            return Err(format!(
                "this run's CPU part is {side}² pixels × ΣN = {sum} × {reps} repetitions = {work:.2e} pixel-blurs, about {min:.0} minutes single-threaded at a conservative {rate:.0} million pixel-blurs/s, over the {limit:.0}-minute limit: use fewer or smaller N, a smaller image_side or fewer repetitions",
                side = config.image_side,
                reps = config.cpu_repetitions(),
                work = config.cpu_pixel_blurs() as f64,
                min = estimate / 60.0,
                rate = CONSERVATIVE_PIXEL_BLURS_PER_S / 1e6,
                limit = MAX_CPU_SECONDS / 60.0,
            ));
        }
        Ok(config)
    }
}

impl GpuBenchConfig {
    /// How many times the CPU blur is timed per N.
    pub fn cpu_repetitions(&self) -> u32 {
        self.repetitions.clamp(1, MAX_CPU_REPETITIONS)
    }

    /// side² × ΣN × CPU repetitions: the single-threaded phase's work.
    pub fn cpu_pixel_blurs(&self) -> u64 {
        let sum: u64 = self.ns.iter().map(|&n| u64::from(n)).sum();
        u64::from(self.image_side).pow(2) * sum * u64::from(self.cpu_repetitions())
    }

    /// Seconds the single-threaded phase would take at `CONSERVATIVE_PIXEL_BLURS_PER_S`.
    pub fn cpu_estimate_s(&self) -> f64 {
        self.cpu_pixel_blurs() as f64 / CONSERVATIVE_PIXEL_BLURS_PER_S
    }

    /// Peak host memory of a run in bytes, with `img` = side² f32: the test image lives
    /// throughout; the transfer sweep adds a pageable and a pinned buffer of the largest
    /// size; the GPU blur two pinned images and its output, which it keeps for the
    /// comparison while the CPU chain holds three more.
    pub fn host_memory_bytes(&self, transfers: bool, gpu_blur: bool) -> u64 {
        let img = u64::from(self.image_side).pow(2) * 4;
        let largest = self.transfer_sizes.iter().copied().max().unwrap_or(0);
        let sweep = if transfers { img + 2 * largest } else { 0 };
        let blur = if gpu_blur {
            // GPU phase: img + 3 img; CPU phase: img + GPU output + 3 img.
            5 * img
        } else {
            4 * img
        };
        sweep.max(blur)
    }
}

/// `MemAvailable` from the text of `/proc/meminfo`, in bytes.
pub fn mem_available_bytes(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemAvailable:")?.trim();
        let kib = rest.strip_suffix("kB").unwrap_or(rest).trim();
        kib.parse::<u64>().ok().map(|k| k * 1024)
    })
}

/// Refuses a run that needs more than `MAX_MEMORY_SHARE` of the available host memory;
/// the error names both figures.
pub fn check_host_memory(need: u64, available: u64) -> Result<(), String> {
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    if need as f64 > available as f64 * MAX_MEMORY_SHARE {
        return Err(format!(
            "this run needs about {:.2} GiB of host memory but {:.2} GiB is available (MemAvailable in /proc/meminfo; a run may use at most {:.0}% of it): use a smaller image_side or smaller transfer sizes",
            gib(need),
            gib(available),
            MAX_MEMORY_SHARE * 100.0
        ));
    }
    Ok(())
}

/// Deserialises `null` as NaN: serde_json writes a NaN or infinite f64 as `null` (a
/// figure a cut-off run never measured), and a plain f64 field would refuse to read it
/// back, losing the whole record.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Direction of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TransferDirection {
    /// Host to device (upload).
    #[serde(rename = "h2d")]
    HostToDevice,
    /// Device to host (download).
    #[serde(rename = "d2h")]
    DeviceToHost,
    /// Device to device (a copy within GPU memory).
    #[serde(rename = "d2d")]
    DeviceToDevice,
}

/// Kind of host memory on the host side of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostMemory {
    /// Ordinary `malloc` memory: the driver stages it through its own pinned buffer.
    Pageable,
    /// Page-locked (`cuMemHostAlloc`, not write-combined): the GPU copies it by DMA.
    Pinned,
    /// No host memory (device-to-device).
    None,
}

/// One size of one kind of copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferPoint {
    pub direction: TransferDirection,
    pub memory: HostMemory,
    pub bytes: u64,
    pub repetitions: u32,
    #[serde(deserialize_with = "null_as_nan")]
    pub best_s: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub median_s: f64,
    /// `bytes / best_s / 1e9`: bytes copied once (for d2d too).
    #[serde(deserialize_with = "null_as_nan")]
    pub best_gbps: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub median_gbps: f64,
}

/// The transfer sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferResult {
    pub points: Vec<TransferPoint>,
    /// How bytes and time are counted, in words (shown under the chart).
    pub convention: String,
    /// One-direction PCIe limit of the link (max generation × width), GB/s.
    pub pcie_limit_gbps: Option<f64>,
    /// Theoretical memory bandwidth, GB/s. A d2d copy moves each byte twice over the
    /// memory bus (read + write): compare `2 × best_gbps` of d2d with this.
    pub memory_limit_gbps: Option<f64>,
}

/// The byte-counting convention every transfer figure follows.
pub const TRANSFER_CONVENTION: &str = "GB = 10^9 bytes. Every copy counts the bytes copied once, d2d included; NVIDIA's bandwidthTest counts d2d bytes twice (read + write), so its d2d figure is 2x ours for the same copy and 2x ours is what to compare with the memory's theoretical bandwidth. Pinned and d2d copies are timed with CUDA events around each copy; pageable copies with the host clock around the copy and a stream synchronize, as bandwidthTest does. Best and median over the repetitions, after one warm-up copy.";

/// GPU blur timings for one chain length, from CUDA events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuBlurPoint {
    pub n: u32,
    pub upload_ms: f64,
    /// The N chained blurs (2 N kernel launches: one horizontal, one vertical pass each).
    pub kernels_ms: f64,
    pub download_ms: f64,
    /// upload + kernels + download.
    pub total_ms: f64,
}

/// The first GPU run of the process, reported apart: it pays for compiling the kernel
/// (NVRTC), loading the module and first-touch of the buffers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuColdRun {
    pub compile_ms: f64,
    pub module_load_ms: f64,
    /// Context creation and buffer allocation.
    pub setup_ms: f64,
    pub n: u32,
    pub upload_ms: f64,
    pub kernels_ms: f64,
    pub download_ms: f64,
}

/// CPU blur timings for one chain length (host clock, the blurs only: buffers are
/// allocated and the image copied in before the clock starts). `null` in JSON for a
/// figure a cut-off run did not reach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CpuBlurPoint {
    pub n: u32,
    #[serde(deserialize_with = "null_as_nan")]
    pub single_thread_ms: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub all_cores_ms: f64,
}

/// Whether the GPU and CPU produced the same image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutputAgreement {
    /// The chain length compared (the largest N: errors would be largest there).
    pub n: u32,
    pub max_abs_diff: f64,
    pub tolerance: f64,
    pub pass: bool,
}

/// The GPU half of the blur experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuBlurResult {
    pub device: String,
    /// How the kernel was built, e.g. `CUBIN for sm_90 (NVRTC)`.
    pub kernel_build: String,
    pub cold: GpuColdRun,
    /// Median of the repetitions per N (by total).
    pub points: Vec<GpuBlurPoint>,
    /// Kernel time vs N: the slope is the GPU's per-blur cost.
    pub kernels_fit: Option<LineFit>,
    /// Total time vs N (for the chart's GPU line).
    pub total_fit: Option<LineFit>,
    /// Median upload + download over all N: the fixed cost N* divides.
    #[serde(deserialize_with = "null_as_nan")]
    pub transfer_ms: f64,
    pub agreement: Option<OutputAgreement>,
}

/// The blur experiment: the same work on CPU and (when there is one) GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlurResult {
    pub width: u32,
    pub height: u32,
    /// 21: a 21 × 21 Gaussian.
    pub kernel_size: u32,
    pub sigma: f64,
    /// How one blur is computed, in words (identical on CPU and GPU).
    pub method: String,
    pub cpu_threads: u32,
    pub cpu: Vec<CpuBlurPoint>,
    pub cpu_single_fit: Option<LineFit>,
    pub cpu_all_cores_fit: Option<LineFit>,
    pub gpu: Option<GpuBlurResult>,
    /// Against the single-threaded CPU.
    pub break_even_single: Option<BreakEven>,
    /// Against all CPU cores: the comparison that matters on a real server.
    pub break_even_all_cores: Option<BreakEven>,
}

/// Where a run was measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MachineIdentity {
    pub hostname: String,
    pub cpu_model: Option<String>,
    /// Logical CPUs available to the agent.
    pub cpu_cores: u32,
    pub gpu: Option<String>,
    pub gpu_uuid: Option<String>,
    pub cuda_arch_bin: Option<String>,
    pub driver_version: Option<String>,
    pub cuda_driver_version: Option<String>,
    pub agent_version: String,
}

/// State of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GpuRunStatus {
    Running,
    /// Finished; the GPU part may still have been skipped (see `gpu_skipped`).
    Completed,
    Failed,
    /// The agent stopped while the run was going (marked as it stops, or at the next
    /// start when it could not).
    Interrupted,
    /// Stopped on request (`POST /api/gpu/runs/{id}/cancel`, or Ctrl-C on
    /// `vantage bench gpu`); the figures measured until then are kept.
    Cancelled,
}

/// `GET /api/gpu/runs/{id}` and `vantage bench gpu --json`: a whole run. While it runs,
/// the record holds what is measured so far (saved as each phase ends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuRun {
    pub id: String,
    pub status: GpuRunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub config: GpuBenchConfig,
    pub machine: MachineIdentity,
    pub transfers: Option<TransferResult>,
    pub blur: Option<BlurResult>,
    /// Why the GPU part did not run and what it needs, e.g. "no NVIDIA driver found
    /// (libcuda.so.1 not loadable): install the NVIDIA driver …".
    pub gpu_skipped: Option<String>,
    /// Why the run failed.
    pub error: Option<String>,
}

impl GpuRun {
    pub fn summary(&self) -> GpuRunSummary {
        let blur = self.blur.as_ref();
        GpuRunSummary {
            id: self.id.clone(),
            status: self.status,
            started_at: self.started_at,
            finished_at: self.finished_at,
            hostname: self.machine.hostname.clone(),
            gpu: self.machine.gpu.clone(),
            quick: self.config.quick,
            image_side: self.config.image_side,
            gpu_ran: blur.is_some_and(|b| b.gpu.is_some()),
            break_even_all_cores: blur.and_then(|b| b.break_even_all_cores.clone()),
            agreement_pass: blur
                .and_then(|b| b.gpu.as_ref())
                .and_then(|g| g.agreement.as_ref())
                .map(|a| a.pass),
            best_h2d_pinned_gbps: self.transfers.as_ref().and_then(|t| {
                t.points
                    .iter()
                    .filter(|p| {
                        p.direction == TransferDirection::HostToDevice
                            && p.memory == HostMemory::Pinned
                    })
                    .map(|p| p.best_gbps)
                    .reduce(f64::max)
            }),
        }
    }
}

/// One row of `GET /api/gpu/runs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuRunSummary {
    pub id: String,
    pub status: GpuRunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub hostname: String,
    pub gpu: Option<String>,
    pub quick: bool,
    pub image_side: u32,
    pub gpu_ran: bool,
    pub break_even_all_cores: Option<BreakEven>,
    pub agreement_pass: Option<bool>,
    pub best_h2d_pinned_gbps: Option<f64>,
}

/// `POST /api/gpu/runs` answer (202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuRunStarted {
    pub id: String,
    pub config: GpuBenchConfig,
}

/// The stage a run is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GpuBenchPhase {
    Starting,
    Transfers,
    GpuBlur,
    CpuSingle,
    CpuAllCores,
    Comparing,
}

/// Progress of a running benchmark (the `gpu_bench_progress` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuBenchProgress {
    pub run_id: String,
    pub phase: GpuBenchPhase,
    /// Steps done and planned over the whole run, for a progress bar.
    pub done: u32,
    pub total: u32,
    /// e.g. `CPU, all cores: N = 8`.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_issue() {
        let c = GpuBenchOptions::default().resolve().expect("defaults");
        assert_eq!(c.image_side, 4096);
        assert_eq!(c.ns, vec![1, 2, 4, 8, 16, 32]);
        assert_eq!(c.transfer_sizes.first(), Some(&(64 << 10)));
        assert_eq!(c.transfer_sizes.last(), Some(&(256 << 20)));
        assert_eq!(c.transfer_sizes.len(), 7);
        let q = GpuBenchOptions {
            quick: true,
            ..Default::default()
        }
        .resolve()
        .expect("quick");
        assert_eq!((q.image_side, q.ns.len(), q.repetitions), (512, 4, 3));
        assert_eq!(q.transfer_sizes.last(), Some(&(16 << 20)));
    }

    #[test]
    fn options_are_bounded_with_readable_errors() {
        let bad = |o: GpuBenchOptions, needle: &str| {
            let e = o.resolve().expect_err("must be refused");
            assert!(e.contains(needle), "{e}");
        };
        bad(
            GpuBenchOptions {
                image_side: Some(8192),
                ..Default::default()
            },
            "image_side must be between 64 and 4096 (up to 8192 with `vantage bench gpu`), got 8192",
        );
        bad(
            GpuBenchOptions {
                ns: Some(vec![]),
                ..Default::default()
            },
            "between 1 and 12 chain lengths",
        );
        bad(
            GpuBenchOptions {
                ns: Some(vec![1, 0]),
                ..Default::default()
            },
            "each N must be between 1 and 64, got 0",
        );
        bad(
            GpuBenchOptions {
                transfer_sizes: Some(vec![1]),
                ..Default::default()
            },
            "got 1",
        );
        bad(
            GpuBenchOptions {
                repetitions: Some(0),
                ..Default::default()
            },
            "repetitions",
        );
        let c = GpuBenchOptions {
            ns: Some(vec![8, 1, 8, 2]),
            transfer_sizes: Some(vec![1 << 20, 4096, 1 << 20]),
            ..Default::default()
        }
        .resolve()
        .expect("valid");
        assert_eq!(c.ns, vec![1, 2, 8], "sorted and distinct");
        assert_eq!(c.transfer_sizes, vec![4096, 1 << 20]);
        let unknown: Result<GpuBenchOptions, _> =
            serde_json::from_str(r#"{"quick": true, "image_size": 512}"#);
        assert!(
            unknown.is_err(),
            "misspelt options are refused, not ignored"
        );
    }

    #[test]
    fn the_command_line_may_ask_for_8192_within_the_cpu_budget() {
        let big = GpuBenchOptions {
            image_side: Some(8192),
            ..Default::default()
        };
        let c = big
            .resolve_for(OptionsSource::Cli)
            .expect("8192² default N fits");
        // 8192² × 63 × 3 / 2.5e7 ≈ 508 s: under the 600 s budget.
        assert!((500.0..600.0).contains(&c.cpu_estimate_s()), "{c:?}");
        let e = GpuBenchOptions {
            image_side: Some(16384),
            ..Default::default()
        }
        .resolve_for(OptionsSource::Cli)
        .expect_err("over the CLI's bound");
        assert!(e.contains("between 64 and 8192, got 16384"), "{e}");
    }

    #[test]
    fn runs_over_the_cpu_budget_are_refused_with_the_estimate() {
        let d = GpuBenchOptions::default()
            .resolve()
            .expect("the issue's run");
        assert_eq!(d.cpu_pixel_blurs(), 4096 * 4096 * 63 * 3);
        assert!(d.cpu_estimate_s() < MAX_CPU_SECONDS / 2.0, "{d:?}");
        // Twelve long chains on 4096²: 4096² × 702 × 3 ≈ 3.5e10 pixel-blurs.
        let e = GpuBenchOptions {
            ns: Some((53..=64).collect()),
            ..Default::default()
        }
        .resolve()
        .expect_err("hours of CPU");
        assert!(
            e.contains("ΣN = 702 × 3 repetitions = 3.53e10 pixel-blurs"),
            "{e}"
        );
        assert!(e.contains("about 24 minutes single-threaded"), "{e}");
        assert!(e.contains("10-minute limit"), "{e}");
        // More repetitions than the CPU uses do not count against the budget.
        let many = GpuBenchOptions {
            repetitions: Some(50),
            ..Default::default()
        }
        .resolve()
        .expect("GPU repetitions are cheap");
        assert_eq!(many.cpu_repetitions(), 3);
    }

    #[test]
    fn host_memory_estimate_and_check() {
        let c = GpuBenchOptions {
            image_side: Some(8192),
            transfer_sizes: Some(vec![1 << 30]),
            ..Default::default()
        }
        .resolve_for(OptionsSource::Cli)
        .expect("valid");
        let img = 8192u64 * 8192 * 4;
        assert_eq!(c.host_memory_bytes(false, false), 4 * img);
        assert_eq!(c.host_memory_bytes(true, true), img + (2 << 30));
        assert_eq!(c.host_memory_bytes(false, true), 5 * img);
        assert_eq!(check_host_memory(1 << 30, 2 << 30), Ok(()));
        let e = check_host_memory(img + (2 << 30), 2 << 30).expect_err("too much");
        assert!(
            e.starts_with("this run needs about 2.25 GiB of host memory but 2.00 GiB is available"),
            "{e}"
        );
        let meminfo =
            "MemTotal:       32768000 kB\nMemFree:         1000 kB\nMemAvailable:   24158596 kB\n";
        assert_eq!(mem_available_bytes(meminfo), Some(24_158_596 * 1024));
        assert_eq!(mem_available_bytes("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn unmeasured_figures_survive_a_json_round_trip() -> Result<(), serde_json::Error> {
        // A cut-off run has NaN for what it did not reach; serde_json writes `null`.
        let p = CpuBlurPoint {
            n: 4,
            single_thread_ms: 12.5,
            all_cores_ms: f64::NAN,
        };
        let json = serde_json::to_string(&p)?;
        assert_eq!(
            json,
            r#"{"n":4,"single_thread_ms":12.5,"all_cores_ms":null}"#
        );
        let back: CpuBlurPoint = serde_json::from_str(&json)?;
        assert_eq!((back.n, back.single_thread_ms), (4, 12.5));
        assert!(back.all_cores_ms.is_nan());
        assert_eq!(serde_json::to_value(GpuRunStatus::Cancelled)?, "cancelled");
        Ok(())
    }

    #[test]
    fn arch_bin_and_direction_names() -> Result<(), serde_json::Error> {
        assert_eq!(cuda_arch_bin(8, 6), "8.6");
        assert_eq!(cuda_arch_bin(9, 0), "9.0");
        assert_eq!(
            serde_json::to_value(TransferDirection::DeviceToDevice)?,
            "d2d"
        );
        assert_eq!(serde_json::to_value(HostMemory::Pinned)?, "pinned");
        Ok(())
    }
}
