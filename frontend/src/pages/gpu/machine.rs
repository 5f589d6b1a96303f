//! What the agent's machine has: the driver and libraries, each device with its
//! `CUDA_ARCH_BIN` and PCIe link, and which containers can use a GPU.

use leptos::prelude::*;
use vantage_shared::gpu::{DockerGpu, GpuAccessKind, GpuDevice, GpuLibrary, GpuStatus};

use crate::components::data_table::{Column, DataTable};
use crate::format::bytes;

fn library_line(name: &'static str, lib: &GpuLibrary) -> impl IntoView {
    let (class, text) = if lib.available {
        (
            "badge ok",
            lib.version
                .clone()
                .map(|v| format!("available, {v}"))
                .unwrap_or_else(|| "available".into()),
        )
    } else {
        (
            "badge bad",
            lib.reason.clone().unwrap_or_else(|| "not available".into()),
        )
    };
    view! {
        <li data-testid="gpu-library" data-available=lib.available.to_string()>
            <strong>{name}</strong> ": "
            <span class=class>{if lib.available { "yes" } else { "no" }}</span> " " <span class="small">{text}</span>
        </li>
    }
}

/// Driver, libraries, devices, Docker's GPU support and containers with GPU access.
#[component]
pub fn Identity(status: GpuStatus) -> impl IntoView {
    let driver_missing = !status.driver.available;
    let docker = status.docker.clone();
    view! {
        <section class="panel" aria-labelledby="gpu-id-title" data-testid="gpu-identity">
            <h2 id="gpu-id-title">"This machine"</h2>
            {driver_missing.then(|| view! {
                <div class="callout warn" role="status" data-testid="gpu-unavailable">
                    <p><strong>{status.driver.reason.clone().unwrap_or_else(|| "No NVIDIA driver found".into())}</strong></p>
                    <p class="small">
                        "The CPU baseline still runs, so a run shows what the CPU does with the same work. "
                        {status.benchmark_needs.clone().unwrap_or_default()}
                    </p>
                </div>
            })}
            <ul class="plain-list">
                {library_line("NVIDIA driver (libcuda)", &status.driver)}
                {library_line("NVML (PCIe link, clocks)", &status.nvml)}
                {library_line("NVRTC (kernel compiler)", &status.nvrtc)}
                {status.driver_version.clone().map(|v| view! { <li><strong>"Driver version"</strong> ": " {v}</li> })}
            </ul>
            <div class="gpu-devices">
                {status.devices.into_iter().map(|d| view! { <DeviceCard device=d /> }).collect_view()}
            </div>
        </section>
        <GpuContainers docker />
    }
}

/// Docker's GPU support, the containers with GPU access, and those whose request for one
/// is not met.
#[component]
fn GpuContainers(docker: DockerGpu) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="gpu-docker-title" data-testid="gpu-docker">
            <h2 id="gpu-docker-title">"Containers and the GPU"</h2>
            {if docker.available {
                view! {
                    <p class="small">{docker.engine.as_ref().map(|e| e.summary.clone()).unwrap_or_default()}</p>
                    {if docker.containers.iter().any(|c| c.access.has_gpu) {
                        let rows = docker.containers.iter().filter(|c| c.access.has_gpu).map(|c| view! {
                            <tr data-testid="gpu-container">
                                <td data-label="Container"><code>{c.name.clone()}</code>{(!c.running).then(|| view! { " " <span class="muted small">"(stopped)"</span> })}</td>
                                <td data-label="GPUs">{c.access.gpus.clone()}</td>
                                <td data-label="How" class="small">{c.access.detail.clone()}</td>
                            </tr>
                        }).collect_view();
                        let columns = vec![Column::new("Container"), Column::new("GPUs"), Column::new("How")];
                        view! { <DataTable columns>{rows}</DataTable> }.into_any()
                    } else {
                        view! { <p class="muted small" data-testid="gpu-no-containers">"No container has GPU access (" <code>"--gpus"</code> ", CDI or the nvidia runtime)."</p> }.into_any()
                    }}
                    {docker.containers.iter().filter(|c| !c.access.has_gpu && c.access.kind != GpuAccessKind::None).map(|c| view! {
                        <p class="small warn-text">
                            <code>{c.name.clone()}</code> ": " {c.access.detail.clone()}
                        </p>
                    }).collect_view()}
                }.into_any()
            } else {
                view! { <p class="muted small">{docker.reason.clone().unwrap_or_else(|| "Docker is not available.".into())}</p> }.into_any()
            }}
        </section>
    }
}

#[component]
fn DeviceCard(device: GpuDevice) -> impl IntoView {
    let used = device
        .free_memory_bytes
        .map(|free| device.total_memory_bytes.saturating_sub(free));
    let pct = used
        .filter(|_| device.total_memory_bytes > 0)
        .map(|u| u as f64 / device.total_memory_bytes as f64 * 100.0);
    let pcie = device.pcie.clone().map(|p| {
        let now = match (p.current_gen, p.current_width) {
            (Some(g), Some(w)) => format!("Gen{g} x{w}"),
            _ => "unknown".into(),
        };
        let max = match (p.max_gen, p.max_width) {
            (Some(g), Some(w)) => format!(" (max Gen{g} x{w})"),
            _ => String::new(),
        };
        let limit = p
            .theoretical_gbps
            .map(|g| format!(", {g:.1} GB/s each way"))
            .unwrap_or_default();
        format!("{now}{max}{limit}")
    });
    view! {
        <article class="gpu-device" data-testid="gpu-device">
            <h3>{format!("#{} {}", device.index, device.name)}</h3>
            <p>
                <span class="badge">"compute " {format!("{}.{}", device.compute_capability_major, device.compute_capability_minor)}</span>
                " "
                <code title="Pass this to builds: CUDA_ARCH_BIN, TORCH_CUDA_ARCH_LIST, -gencode">{format!("CUDA_ARCH_BIN={}", device.cuda_arch_bin)}</code>
            </p>
            <p class="small">
                "Memory " {bytes(device.total_memory_bytes)}
                {used.map(|u| format!(", {} in use", bytes(u)))}
                {device.theoretical_memory_bandwidth_gbps.map(|g| format!(", {g:.0} GB/s theoretical"))}
            </p>
            {pct.map(|p| view! {
                <div class="meter" role="img" aria-label=format!("{p:.0}% of GPU memory in use")>
                    <span style=format!("width:{p:.1}%")></span>
                </div>
            })}
            {pcie.map(|p| view! { <p class="small">"PCIe " {p}</p> })}
            {device.uuid.clone().map(|u| view! { <p class="muted small"><code>{u}</code></p> })}
        </article>
    }
}
