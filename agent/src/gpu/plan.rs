//! Deciding a run before it starts: what its GPU part may use (`GpuPlan`), the machine
//! it is measured on, whether the host's memory can hold it, and its id.

use chrono::Utc;
use vantage_shared::gpu::{
    check_host_memory, mem_available_bytes, GpuBenchConfig, GpuLibrary, GpuStatus, MachineIdentity,
};

use super::status::benchmark_needs;

/// What the GPU part of a run may use, decided before the run starts.
pub enum GpuPlan {
    /// Run the GPU part on this device; `blur_needs` says why the blur cannot run
    /// (NVRTC missing) while the transfers still can.
    Run {
        device_name: String,
        blur_needs: Option<String>,
    },
    /// Skip it, with the sentence saying what it needs.
    Skip(String),
}

/// The CPU's model name from /proc/cpuinfo (x86 `model name`, Arm `Model`/`CPU part`).
fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    ["model name", "Model", "Hardware", "CPU part"]
        .iter()
        .find_map(|key| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_owned())
            })
        })
}

/// Where a run is measured.
pub fn machine_identity(status: &GpuStatus, device: u32, hostname: &str) -> MachineIdentity {
    let dev = status.devices.get(device as usize);
    MachineIdentity {
        hostname: hostname.to_owned(),
        cpu_model: cpu_model(),
        cpu_cores: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        gpu: dev.map(|d| d.name.clone()),
        gpu_uuid: dev.and_then(|d| d.uuid.clone()),
        cuda_arch_bin: dev.map(|d| d.cuda_arch_bin.clone()),
        driver_version: status.driver_version.clone(),
        cuda_driver_version: status.driver.version.clone(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// `gpu-20261122T101500-3fa9`: sortable by time, unique enough for one agent.
pub(super) fn new_run_id() -> String {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    format!(
        "gpu-{}-{:02x}{:02x}",
        Utc::now().format("%Y%m%dT%H%M%S"),
        b[0],
        b[1]
    )
}

/// Decides the plan and the machine identity for a run on `config.device`.
pub fn prepare(
    config: &GpuBenchConfig,
    status: &GpuStatus,
    hostname: &str,
) -> (GpuPlan, MachineIdentity) {
    // Transfers need only the driver; the blur also needs NVRTC to build its kernel.
    let ok = GpuLibrary::available(None);
    let plan = match benchmark_needs(&status.driver, &ok, &status.devices, config.device) {
        Some(why) => GpuPlan::Skip(why),
        None => GpuPlan::Run {
            device_name: status
                .devices
                .get(config.device as usize)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            blur_needs: benchmark_needs(
                &status.driver,
                &status.nvrtc,
                &status.devices,
                config.device,
            ),
        },
    };
    (plan, machine_identity(status, config.device, hostname))
}

/// Refuses a run the host's memory cannot hold (see `GpuBenchConfig::host_memory_bytes`);
/// where /proc/meminfo cannot be read there is nothing to check against.
pub fn check_memory(config: &GpuBenchConfig, plan: &GpuPlan) -> Result<(), String> {
    let (transfers, gpu_blur) = match plan {
        GpuPlan::Skip(_) => (false, false),
        GpuPlan::Run { blur_needs, .. } => (true, blur_needs.is_none()),
    };
    let need = config.host_memory_bytes(transfers, gpu_blur);
    match std::fs::read_to_string("/proc/meminfo")
        .ok()
        .as_deref()
        .and_then(mem_available_bytes)
    {
        Some(available) => check_host_memory(need, available),
        None => Ok(()),
    }
}
