//! The CUDA driver (`libcuda.so.1`): whether it loads, `cuInit`, the CUDA version it
//! supports, and every device's identity and limits from the driver API alone.

use std::ffi::{c_char, c_int};
use std::sync::OnceLock;

use cudarc::driver::result::{self as dres, DriverError};
use cudarc::driver::sys as dsys;
use vantage_shared::gpu::{cuda_arch_bin, GpuDevice};

/// The library the driver check loads, for messages.
pub const LIBCUDA: &str = "libcuda.so.1";

/// Whether `libcuda.so.1` (or another name cudarc tries) can be loaded. Cached: the
/// driver does not appear or vanish under a running process.
pub fn driver_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: `is_culib_present` only tries `dlopen` on the candidate names and closes
    // them again; it has no preconditions.
    *PRESENT.get_or_init(|| unsafe { dsys::is_culib_present() })
}

/// "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)".
pub(super) fn derr(e: DriverError) -> String {
    match (e.error_name(), e.error_string()) {
        (Ok(name), Ok(text)) => format!("{} ({})", name.to_string_lossy(), text.to_string_lossy()),
        _ => format!("{e:?}"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_prints_like_nvidia_smi() {
        let mut b = [0 as c_char; 16];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8 * 17) as c_char;
        }
        assert_eq!(uuid_string(&b), "GPU-00112233-4455-6677-8899-aabbccddeeff");
    }
}
