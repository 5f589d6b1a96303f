//! The `GET /api/gpu` answer: what the backend's libraries and devices say, what the
//! benchmark still needs, and Docker's side (the engine's GPU support and every
//! container's GPU access).

use vantage_shared::gpu::{
    classify_container, engine_support, ContainerGpu, DockerGpu, GpuDevice, GpuLibrary, GpuStatus,
};

use super::backend::{self, Probe};
use crate::docker::DockerHandle;

/// What the GPU benchmark still needs, or `None` when it can run on `device`.
pub(super) fn benchmark_needs(
    driver: &GpuLibrary,
    nvrtc: &GpuLibrary,
    devices: &[GpuDevice],
    device: u32,
) -> Option<String> {
    if !driver.available {
        return Some(format!(
            "The GPU part needs the NVIDIA driver: {}. Install it (e.g. `apt-get install nvidia-driver`, or the GPU's vendor image); the CPU baseline runs without it.",
            driver.reason.as_deref().unwrap_or("driver unavailable")
        ));
    }
    if devices.is_empty() {
        return Some("The GPU part needs a CUDA device: the driver loaded but reports none (check `nvidia-smi`).".into());
    }
    if devices.len() <= device as usize {
        return Some(format!(
            "There is no CUDA device {device}: this machine has {} (0 to {}).",
            devices.len(),
            devices.len() - 1
        ));
    }
    if !nvrtc.available {
        return Some(format!(
            "The GPU part needs NVRTC to compile the blur kernel: {}.",
            nvrtc.reason.as_deref().unwrap_or("NVRTC unavailable")
        ));
    }
    None
}

/// Docker's part of the status, from the watcher's inventory.
fn docker_gpu(docker: &DockerHandle) -> DockerGpu {
    let status = docker.status();
    if !docker.is_connected() {
        return DockerGpu {
            available: false,
            reason: Some(status.to_string()),
            engine: None,
            containers: Vec::new(),
        };
    }
    let (engine, containers) = docker.gpu_view();
    let mut containers: Vec<ContainerGpu> = containers
        .into_iter()
        .map(|(id, name, running, fields)| ContainerGpu {
            id,
            name,
            running,
            access: classify_container(&fields),
        })
        .collect();
    containers.sort_by(|a, b| {
        b.access
            .has_gpu
            .cmp(&a.access.has_gpu)
            .then_with(|| a.name.cmp(&b.name))
    });
    DockerGpu {
        available: true,
        reason: None,
        engine: engine.as_ref().map(engine_support),
        containers,
    }
}

/// The whole `GET /api/gpu` answer; blocking (see `backend::Probe`).
pub fn status_blocking(docker: Option<&DockerHandle>) -> GpuStatus {
    let Probe {
        driver,
        driver_version,
        nvml,
        nvrtc,
        devices,
    } = backend::probe();
    GpuStatus {
        benchmark_needs: benchmark_needs(&driver, &nvrtc, &devices, 0),
        driver,
        driver_version,
        nvml,
        nvrtc,
        devices,
        docker: docker.map(docker_gpu).unwrap_or(DockerGpu {
            available: false,
            reason: Some("not asked (command line)".into()),
            engine: None,
            containers: Vec::new(),
        }),
        running: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_name_the_missing_part() {
        let none = GpuLibrary::unavailable("no NVIDIA driver found (libcuda.so.1 not loadable)");
        let ok = GpuLibrary::available(Some("12.4".into()));
        let needs = benchmark_needs(&none, &ok, &[], 0).expect("needs the driver");
        assert!(needs.contains("libcuda.so.1 not loadable"), "{needs}");
        assert!(benchmark_needs(&ok, &ok, &[], 0)
            .expect("no device")
            .contains("reports none"));
    }
}
