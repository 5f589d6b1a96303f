//! NVML (`libnvidia-ml.so.1`, loaded at run time by nvml-wrapper): the display driver
//! version, PCIe link generation and width, memory clock and free memory, which the
//! CUDA driver API does not give. Missing NVML is reported, never fatal.

use std::sync::OnceLock;

use nvml_wrapper::enum_wrappers::device::Clock;
use nvml_wrapper::Nvml;
use vantage_shared::gpu::math::pcie_limit_gbps;
use vantage_shared::gpu::PcieLink;

/// What NVML says about one device.
#[derive(Debug, Clone, Default)]
pub struct NvmlDevice {
    pub uuid: Option<String>,
    pub pcie: Option<PcieLink>,
    pub memory_bus_width_bits: Option<u32>,
    pub memory_clock_mhz: Option<u32>,
    pub free_memory_bytes: Option<u64>,
}

/// NVML's view of the machine.
#[derive(Debug, Clone, Default)]
pub struct NvmlInfo {
    pub nvml_version: Option<String>,
    pub driver_version: Option<String>,
    pub devices: Vec<NvmlDevice>,
}

fn nvml() -> Result<&'static Nvml, String> {
    static NVML: OnceLock<Result<Nvml, String>> = OnceLock::new();
    NVML.get_or_init(|| {
        Nvml::init().map_err(|e| format!("NVML not available (libnvidia-ml.so.1): {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Reads every device; `Err` when NVML cannot be loaded or initialised.
pub fn query() -> Result<NvmlInfo, String> {
    let nvml = nvml()?;
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML device count: {e}"))?;
    let mut devices = Vec::new();
    for i in 0..count {
        let Ok(d) = nvml.device_by_index(i) else {
            continue;
        };
        let max_gen = d.max_pcie_link_gen().ok();
        let max_width = d.max_pcie_link_width().ok();
        let pcie = PcieLink {
            current_gen: d.current_pcie_link_gen().ok(),
            current_width: d.current_pcie_link_width().ok(),
            max_gen,
            max_width,
            // The idle link may run at a lower generation; the limit is the maximum's.
            theoretical_gbps: max_gen
                .zip(max_width)
                .and_then(|(g, w)| pcie_limit_gbps(g, w)),
        };
        let has_pcie = pcie.current_gen.is_some() || pcie.max_gen.is_some();
        devices.push(NvmlDevice {
            uuid: d.uuid().ok(),
            pcie: has_pcie.then_some(pcie),
            memory_bus_width_bits: d.memory_bus_width().ok(),
            memory_clock_mhz: d.max_clock_info(Clock::Memory).ok(),
            free_memory_bytes: d.memory_info().ok().map(|m| m.free),
        });
    }
    Ok(NvmlInfo {
        nvml_version: nvml.sys_nvml_version().ok(),
        driver_version: nvml.sys_driver_version().ok(),
        devices,
    })
}
