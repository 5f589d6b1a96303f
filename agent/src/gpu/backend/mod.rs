//! The GPU backend, chosen once, here, by the `gpu` cargo feature: with it, the
//! cudarc/NVML implementation (`nvidia/`); without it, one that answers "built without
//! GPU support" (`unsupported.rs`). Both offer the same functions, so the rest of the
//! agent never looks at the feature: the routes answer either way, and without GPU
//! support a run still gives the CPU baseline.

use vantage_shared::gpu::{GpuBlurPoint, GpuColdRun, GpuDevice, GpuLibrary};

// The one switch: `imp` is whichever implementation this build has.
#[cfg(feature = "gpu")]
#[path = "nvidia/mod.rs"]
mod imp;
#[cfg(not(feature = "gpu"))]
#[path = "unsupported.rs"]
mod imp;

pub use imp::{blur, driver_init, driver_present, probe, transfers};

/// What the libraries say about the machine (no Docker part). Filled by `probe`, which
/// blocks: it loads libraries and initialises the driver the first time.
pub struct Probe {
    /// The CUDA driver; `version` is the CUDA version it supports.
    pub driver: GpuLibrary,
    /// The display driver version, from NVML.
    pub driver_version: Option<String>,
    pub nvml: GpuLibrary,
    pub nvrtc: GpuLibrary,
    pub devices: Vec<GpuDevice>,
}

/// The GPU blur's raw results, before fits and comparison.
pub struct GpuBlurRun {
    pub device: String,
    pub kernel_build: String,
    pub cold: GpuColdRun,
    pub points: Vec<GpuBlurPoint>,
    /// The output image of the largest N, for the comparison with the CPU.
    pub output: Vec<f32>,
}
