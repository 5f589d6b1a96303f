//! The backend of an agent built without the `gpu` cargo feature: no CUDA, no NVML.
//! Every library reads as unavailable with the same reason, and the GPU parts of a run
//! fail with it, so a run gives the CPU baseline and says how to get the rest.

use std::sync::atomic::AtomicBool;

use vantage_shared::gpu::{GpuLibrary, TransferPoint};

use super::{GpuBlurRun, Probe};

const NOT_BUILT: &str =
    "this agent was built without GPU support (cargo feature `gpu`): rebuild with default features";

/// Whether the NVIDIA driver library can be loaded: never, in this build.
pub fn driver_present() -> bool {
    false
}

/// Whether the driver initialises: never, in this build.
pub fn driver_init() -> Result<(), String> {
    Err(NOT_BUILT.into())
}

/// Every library unavailable, no devices.
pub fn probe() -> Probe {
    Probe {
        driver: GpuLibrary::unavailable(NOT_BUILT),
        driver_version: None,
        nvml: GpuLibrary::unavailable(NOT_BUILT),
        nvrtc: GpuLibrary::unavailable(NOT_BUILT),
        devices: Vec::new(),
    }
}

/// The transfer sweep cannot run in this build.
pub fn transfers(
    _: u32,
    _: &[u64],
    _: u32,
    _: &AtomicBool,
    _: &mut dyn FnMut(&TransferPoint),
) -> Result<Vec<TransferPoint>, String> {
    Err(NOT_BUILT.into())
}

/// The GPU blur cannot run in this build.
#[allow(clippy::too_many_arguments)]
pub fn blur(
    _: u32,
    _: &[f32],
    _: u32,
    _: &[f32],
    _: &[u32],
    _: u32,
    _: &AtomicBool,
    _: &mut dyn FnMut(u32),
) -> Result<GpuBlurRun, String> {
    Err(NOT_BUILT.into())
}
