//! What `GET /api/gpu` reports: the libraries the GPU code loads at run time, the CUDA
//! devices with their identity and limits, and Docker's side (which containers can use
//! a GPU).

use serde::{Deserialize, Serialize};

use super::{EngineGpuSupport, GpuAccess};

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
