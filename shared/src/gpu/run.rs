//! A benchmark run's record: the transfer sweep, the blur on CPU and GPU with its fits and
//! break-even, the machine it ran on, its status and progress, and the summary the run
//! list shows. Timings a cut-off run never measured are NaN, `null` in JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BreakEven, GpuBenchConfig, LineFit};

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
    use crate::gpu::cuda_arch_bin;

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
