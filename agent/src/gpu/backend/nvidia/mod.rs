//! The backend built with the `gpu` cargo feature: the CUDA driver and NVRTC through
//! cudarc (`cuda`), NVML for what the driver API does not give (`nvml`). Both load
//! their libraries at run time, so the agent starts and answers on a machine without a
//! driver, reporting "unavailable, because …".

mod cuda;
mod nvml;

use std::sync::atomic::AtomicBool;

use vantage_shared::gpu::{GpuLibrary, TransferPoint};

use super::{GpuBlurRun, Probe};

/// Whether the NVIDIA driver library can be loaded.
pub fn driver_present() -> bool {
    cuda::driver_present()
}

/// Whether the driver initialises (`cuInit`), and the reason it reports when not.
pub fn driver_init() -> Result<(), String> {
    cuda::init()
}

/// Driver, NVML, NVRTC and devices, the driver's view of each device completed by
/// NVML's (PCIe link, free memory, memory clock).
pub fn probe() -> Probe {
    let (driver, mut devices) = match cuda::driver_cuda_version() {
        Ok(v) => match cuda::devices() {
            Ok(d) => (GpuLibrary::available(Some(v)), d),
            Err(e) => (GpuLibrary::unavailable(e), Vec::new()),
        },
        Err(e) => (GpuLibrary::unavailable(e), Vec::new()),
    };
    let (nvml_lib, driver_version) = match nvml::query() {
        Ok(info) => {
            for (i, d) in devices.iter_mut().enumerate() {
                // Same GPU in both APIs by UUID; by position when NVML has no UUID.
                let n = info
                    .devices
                    .iter()
                    .find(|n| n.uuid.is_some() && n.uuid == d.uuid)
                    .or_else(|| info.devices.get(i).filter(|n| n.uuid.is_none()));
                if let Some(n) = n {
                    d.pcie = n.pcie.clone();
                    d.free_memory_bytes = n.free_memory_bytes;
                    d.memory_bus_width_bits = d.memory_bus_width_bits.or(n.memory_bus_width_bits);
                    d.memory_clock_mhz = d.memory_clock_mhz.or(n.memory_clock_mhz);
                    if d.theoretical_memory_bandwidth_gbps.is_none() {
                        d.theoretical_memory_bandwidth_gbps = d
                            .memory_clock_mhz
                            .zip(d.memory_bus_width_bits)
                            .and_then(|(c, b)| {
                                vantage_shared::gpu::math::memory_bandwidth_gbps(c, b)
                            });
                    }
                }
            }
            (
                GpuLibrary::available(info.nvml_version),
                info.driver_version,
            )
        }
        Err(e) => (GpuLibrary::unavailable(e), None),
    };
    let nvrtc = match cuda::nvrtc_version() {
        Ok(v) => GpuLibrary::available(Some(v)),
        Err(e) => GpuLibrary::unavailable(e),
    };
    Probe {
        driver,
        driver_version,
        nvml: nvml_lib,
        nvrtc,
        devices,
    }
}

/// The transfer sweep on `device` (see `cuda::transfers`).
pub fn transfers(
    device: u32,
    sizes: &[u64],
    reps: u32,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&TransferPoint),
) -> Result<Vec<TransferPoint>, String> {
    cuda::transfers(device, sizes, reps, cancel, progress)
}

/// The timed GPU blur on `device` (see `cuda::blur`).
#[allow(clippy::too_many_arguments)]
pub fn blur(
    device: u32,
    image: &[f32],
    side: u32,
    weights: &[f32],
    ns: &[u32],
    reps: u32,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u32),
) -> Result<GpuBlurRun, String> {
    cuda::blur(device, image, side, weights, ns, reps, cancel, progress)
}
