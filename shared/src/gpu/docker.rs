//! Which containers can use an NVIDIA GPU, and whether the engine can give them one,
//! decided from the few `docker inspect` / `docker info` fields that matter.
//!
//! The ways a container gets a GPU (Docker ≥ 19.03):
//! - `--gpus all` / compose `deploy.resources.reservations.devices`: a device request
//!   with capabilities `[["gpu"]]`; the CLI leaves `Driver` empty and sets `Count: -1`
//!   for `all`, `Count: n` for a number, `DeviceIDs` for `"device=0,1"`;
//! - the same with `Driver: "nvidia"` (compose files and API clients often name it);
//! - CDI (Docker ≥ 25, `--device nvidia.com/gpu=all`): a device request with
//!   `Driver: "cdi"` and the fully qualified names in `DeviceIDs`; Podman-style clients
//!   put the CDI name in `HostConfig.Devices[].PathOnHost` instead;
//! - the legacy `--runtime nvidia`, whose hook reads `NVIDIA_VISIBLE_DEVICES` from the
//!   container's environment (`Config.Env`, image variables included): `all`, indices or
//!   UUIDs give GPUs; `none` mounts the driver but no GPU; `void`, empty or unset give
//!   nothing.
//!
//! `/dev/nvidia*` nodes passed with `--device` are reported too: the device is there but
//! the driver libraries usually are not, so CUDA programs still fail to start.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One entry of `HostConfig.DeviceRequests`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRequestFields {
    pub driver: String,
    /// `-1` means all devices.
    pub count: i64,
    pub device_ids: Vec<String>,
    /// OR of ANDs, as Docker stores it: `[["gpu"]]`, `[["gpu", "compute", "utility"]]`.
    pub capabilities: Vec<Vec<String>>,
}

/// The fields of `docker inspect <container>` that decide GPU access.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerGpuFields {
    pub device_requests: Vec<DeviceRequestFields>,
    /// `HostConfig.Runtime`: the runtime the container was created with (`runc`, `nvidia`).
    pub runtime: Option<String>,
    /// `Config.Env`, `KEY=value` each.
    pub env: Vec<String>,
    /// `HostConfig.Devices[].PathOnHost`.
    pub devices: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl ContainerGpuFields {
    /// Reads one container object of `docker inspect` (or the Engine API's
    /// `GET /containers/{id}/json`). Missing or null fields read as empty.
    pub fn from_inspect(v: &Value) -> Self {
        let host = &v["HostConfig"];
        let device_requests = host["DeviceRequests"]
            .as_array()
            .map(|reqs| {
                reqs.iter()
                    .map(|r| DeviceRequestFields {
                        driver: r["Driver"].as_str().unwrap_or_default().to_owned(),
                        count: r["Count"].as_i64().unwrap_or(0),
                        device_ids: strings(&r["DeviceIDs"]),
                        capabilities: r["Capabilities"]
                            .as_array()
                            .map(|c| c.iter().map(strings).collect())
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            device_requests,
            runtime: host["Runtime"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            env: strings(&v["Config"]["Env"]),
            devices: host["Devices"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|d| d["PathOnHost"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn env_value(&self, key: &str) -> Option<&str> {
        // The last definition wins, as in the container.
        self.env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
    }
}

/// How a container gets (or does not get) a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GpuAccessKind {
    /// A device request with capability `gpu` and no driver named (`--gpus`).
    GpusFlag,
    /// A device request with driver `nvidia`.
    NvidiaDriver,
    /// CDI device names `nvidia.com/gpu=…`.
    Cdi,
    /// The `nvidia` runtime with `NVIDIA_VISIBLE_DEVICES` naming GPUs.
    NvidiaRuntime,
    /// `/dev/nvidia*` device nodes passed by hand (no driver libraries injected).
    DeviceNodes,
    /// No GPU.
    None,
}

/// The verdict for one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuAccess {
    pub kind: GpuAccessKind,
    /// Whether CUDA programs in the container can see a GPU.
    pub has_gpu: bool,
    /// Which GPUs: `all`, `2` (a count), `0,1` or UUIDs / CDI names; empty for none.
    pub gpus: String,
    /// One sentence: how it was granted, or why not.
    pub detail: String,
}

fn wants_gpu(r: &DeviceRequestFields) -> bool {
    r.capabilities
        .iter()
        .any(|and| and.iter().any(|c| c == "gpu"))
}

fn selection(r: &DeviceRequestFields) -> String {
    if !r.device_ids.is_empty() {
        r.device_ids.join(",")
    } else if r.count < 0 {
        "all".into()
    } else {
        r.count.to_string()
    }
}

fn is_nvidia_cdi(name: &str) -> bool {
    name.starts_with("nvidia.com/gpu=")
}

/// Decides how (or whether) a container has GPU access; the first matching rule wins,
/// most explicit first.
pub fn classify_container(c: &ContainerGpuFields) -> GpuAccess {
    c.device_requests
        .iter()
        .find_map(from_device_request)
        .or_else(|| from_cdi_devices(c))
        .or_else(|| from_nvidia_runtime(c))
        .or_else(|| from_device_nodes(c))
        .unwrap_or_else(|| no_gpu("no GPU device request, CDI device or nvidia runtime".into()))
}

fn no_gpu(detail: String) -> GpuAccess {
    GpuAccess {
        kind: GpuAccessKind::None,
        has_gpu: false,
        gpus: String::new(),
        detail,
    }
}

/// A device request that grants a GPU: CDI names, driver `nvidia`, or `--gpus`.
fn from_device_request(r: &DeviceRequestFields) -> Option<GpuAccess> {
    if r.driver == "cdi" {
        let names: Vec<&str> = r
            .device_ids
            .iter()
            .map(String::as_str)
            .filter(|n| is_nvidia_cdi(n))
            .collect();
        if names.is_empty() {
            return None;
        }
        return Some(GpuAccess {
            kind: GpuAccessKind::Cdi,
            has_gpu: true,
            gpus: names.join(","),
            detail: format!(
                "CDI devices {} (Docker ≥ 25 with CDI enabled)",
                names.join(", ")
            ),
        });
    }
    if r.count == 0 && r.device_ids.is_empty() {
        // A request for zero devices grants none.
        return None;
    }
    if r.driver == "nvidia" {
        return Some(GpuAccess {
            kind: GpuAccessKind::NvidiaDriver,
            has_gpu: true,
            gpus: selection(r),
            detail: format!(
                "device request with driver nvidia for {} GPU(s)",
                selection(r)
            ),
        });
    }
    if r.driver.is_empty() && wants_gpu(r) {
        return Some(GpuAccess {
            kind: GpuAccessKind::GpusFlag,
            has_gpu: true,
            gpus: selection(r),
            detail: format!(
                "device request with capability gpu (`--gpus {}`)",
                match selection(r).as_str() {
                    "all" => "all".to_owned(),
                    s if r.device_ids.is_empty() => s.to_owned(),
                    s => format!("\"device={s}\""),
                }
            ),
        });
    }
    None
}

/// CDI device names in `HostConfig.Devices`.
fn from_cdi_devices(c: &ContainerGpuFields) -> Option<GpuAccess> {
    let cdi: Vec<&str> = c
        .devices
        .iter()
        .map(String::as_str)
        .filter(|d| is_nvidia_cdi(d))
        .collect();
    if cdi.is_empty() {
        return None;
    }
    Some(GpuAccess {
        kind: GpuAccessKind::Cdi,
        has_gpu: true,
        gpus: cdi.join(","),
        detail: format!("CDI devices {} in HostConfig.Devices", cdi.join(", ")),
    })
}

/// The `nvidia` runtime decides on its own: `NVIDIA_VISIBLE_DEVICES` says which GPUs.
fn from_nvidia_runtime(c: &ContainerGpuFields) -> Option<GpuAccess> {
    if c.runtime.as_deref() != Some("nvidia") {
        return None;
    }
    let visible = c.env_value("NVIDIA_VISIBLE_DEVICES").map(str::trim);
    Some(match visible {
        Some(v) if !v.is_empty() && v != "void" && v != "none" => GpuAccess {
            kind: GpuAccessKind::NvidiaRuntime,
            has_gpu: true,
            gpus: v.to_owned(),
            detail: format!("runtime nvidia with NVIDIA_VISIBLE_DEVICES={v}"),
        },
        Some("none") => no_gpu(
            "runtime nvidia, but NVIDIA_VISIBLE_DEVICES=none: driver libraries without a GPU"
                .into(),
        ),
        Some(v) => no_gpu(format!(
            "runtime nvidia, but NVIDIA_VISIBLE_DEVICES={} gives no GPU",
            if v.is_empty() { "(empty)" } else { v }
        )),
        None => no_gpu(
            "runtime nvidia, but NVIDIA_VISIBLE_DEVICES is not set: no GPU (set it or use --gpus)"
                .into(),
        ),
    })
}

/// `/dev/nvidiaN` device nodes passed by hand.
fn from_device_nodes(c: &ContainerGpuFields) -> Option<GpuAccess> {
    let nodes: Vec<&str> = c
        .devices
        .iter()
        .map(String::as_str)
        .filter(|d| d.starts_with("/dev/nvidia") && !d.starts_with("/dev/nvidia-caps"))
        .collect();
    let has_gpu_node = nodes.iter().any(|d| {
        d.strip_prefix("/dev/nvidia")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|ch| ch.is_ascii_digit()))
    });
    if !has_gpu_node {
        return None;
    }
    Some(GpuAccess {
        kind: GpuAccessKind::DeviceNodes,
        has_gpu: true,
        gpus: nodes.join(","),
        detail: format!(
            "device nodes {} passed by hand: the driver libraries are not injected, use --gpus for CUDA",
            nodes.join(", ")
        ),
    })
}

/// The fields of `docker info` that say whether the engine can hand out GPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineGpuFields {
    /// Names of `Runtimes` (`runc`, `nvidia`, …).
    pub runtimes: Vec<String>,
    pub default_runtime: Option<String>,
    /// `CDISpecDirs` (Docker ≥ 25; empty when CDI is disabled).
    pub cdi_spec_dirs: Vec<String>,
    /// `DiscoveredDevices[].ID` with `Source: "cdi"` (Docker ≥ 28.2).
    pub discovered_cdi_devices: Vec<String>,
}

impl EngineGpuFields {
    /// Reads `docker info --format '{{json .}}'` (or the Engine API's `GET /info`).
    pub fn from_info(v: &Value) -> Self {
        let mut runtimes: Vec<String> = v["Runtimes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        runtimes.sort();
        Self {
            runtimes,
            default_runtime: v["DefaultRuntime"].as_str().map(str::to_owned),
            cdi_spec_dirs: strings(&v["CDISpecDirs"]),
            discovered_cdi_devices: v["DiscoveredDevices"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|d| d["Source"].as_str() == Some("cdi"))
                        .filter_map(|d| d["ID"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// What the engine offers for GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EngineGpuSupport {
    /// An `nvidia` runtime is registered (nvidia-container-toolkit configured Docker).
    pub nvidia_runtime: bool,
    pub default_runtime: Option<String>,
    /// CDI is enabled (spec directories configured).
    pub cdi_enabled: bool,
    pub cdi_spec_dirs: Vec<String>,
    /// NVIDIA CDI devices the engine discovered (newer engines only).
    pub cdi_gpu_devices: Vec<String>,
    /// One sentence for the page.
    pub summary: String,
}

/// Summarises the engine's GPU support.
pub fn engine_support(e: &EngineGpuFields) -> EngineGpuSupport {
    let nvidia_runtime = e.runtimes.iter().any(|r| r == "nvidia");
    let cdi_enabled = !e.cdi_spec_dirs.is_empty();
    let cdi_gpu_devices: Vec<String> = e
        .discovered_cdi_devices
        .iter()
        .filter(|d| is_nvidia_cdi(d))
        .cloned()
        .collect();
    let mut parts = Vec::new();
    if nvidia_runtime {
        parts.push(if e.default_runtime.as_deref() == Some("nvidia") {
            "nvidia runtime registered (the default)".to_owned()
        } else {
            "nvidia runtime registered".to_owned()
        });
    }
    if cdi_enabled {
        parts.push(if cdi_gpu_devices.is_empty() {
            format!("CDI enabled ({})", e.cdi_spec_dirs.join(", "))
        } else {
            format!("CDI enabled with {}", cdi_gpu_devices.join(", "))
        });
    }
    let summary = if parts.is_empty() {
        "no nvidia runtime and CDI disabled: `--gpus` works only if nvidia-container-toolkit is installed (nvidia-ctk runtime configure --runtime=docker)".to_owned()
    } else {
        parts.join("; ")
    };
    EngineGpuSupport {
        nvidia_runtime,
        default_runtime: e.default_runtime.clone(),
        cdi_enabled,
        cdi_spec_dirs: e.cdi_spec_dirs.clone(),
        cdi_gpu_devices,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/../fixtures/gpu/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// `docker inspect` prints an array; each fixture holds one container.
    fn container(name: &str) -> ContainerGpuFields {
        let v = fixture(name);
        ContainerGpuFields::from_inspect(&v[0])
    }

    #[test]
    fn containers_from_real_shaped_inspect_output() {
        let table: &[(&str, GpuAccessKind, bool, &str)] = &[
            (
                "inspect-gpus-all.json",
                GpuAccessKind::GpusFlag,
                true,
                "all",
            ),
            (
                "inspect-gpus-count.json",
                GpuAccessKind::GpusFlag,
                true,
                "2",
            ),
            (
                "inspect-gpus-device-ids.json",
                GpuAccessKind::GpusFlag,
                true,
                "0,2",
            ),
            (
                "inspect-driver-nvidia.json",
                GpuAccessKind::NvidiaDriver,
                true,
                "all",
            ),
            (
                "inspect-cdi.json",
                GpuAccessKind::Cdi,
                true,
                "nvidia.com/gpu=all",
            ),
            (
                "inspect-runtime-nvidia.json",
                GpuAccessKind::NvidiaRuntime,
                true,
                "all",
            ),
            (
                "inspect-runtime-nvidia-void.json",
                GpuAccessKind::None,
                false,
                "",
            ),
            (
                "inspect-runtime-nvidia-none.json",
                GpuAccessKind::None,
                false,
                "",
            ),
            (
                "inspect-device-nodes.json",
                GpuAccessKind::DeviceNodes,
                true,
                "/dev/nvidia0,/dev/nvidiactl,/dev/nvidia-uvm",
            ),
            ("inspect-plain.json", GpuAccessKind::None, false, ""),
        ];
        for (file, kind, has_gpu, gpus) in table {
            let access = classify_container(&container(file));
            assert_eq!(
                (access.kind, access.has_gpu, access.gpus.as_str()),
                (*kind, *has_gpu, *gpus),
                "{file}: {access:?}"
            );
            assert!(!access.detail.is_empty(), "{file}");
        }
    }

    #[test]
    fn gpus_all_leaves_the_driver_empty() {
        let c = container("inspect-gpus-all.json");
        assert_eq!(c.device_requests.len(), 1);
        let r = &c.device_requests[0];
        assert_eq!((r.driver.as_str(), r.count), ("", -1));
        assert_eq!(r.capabilities, vec![vec!["gpu".to_owned()]]);
        assert!(classify_container(&c).detail.contains("--gpus all"));
    }

    #[test]
    fn edge_cases_without_fixtures() {
        // Null DeviceRequests (what Docker prints for most containers) and no HostConfig.
        let v = serde_json::json!({"HostConfig": {"DeviceRequests": null, "Runtime": "runc"}, "Config": {"Env": null}});
        assert_eq!(
            classify_container(&ContainerGpuFields::from_inspect(&v)).kind,
            GpuAccessKind::None
        );
        assert_eq!(
            ContainerGpuFields::from_inspect(&serde_json::json!({})),
            ContainerGpuFields::default()
        );
        // A request for a non-GPU capability is not GPU access.
        let tpu = ContainerGpuFields {
            device_requests: vec![DeviceRequestFields {
                count: -1,
                capabilities: vec![vec!["tpu".into()]],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(!classify_container(&tpu).has_gpu);
        // CDI for another vendor is not an NVIDIA GPU.
        let other = ContainerGpuFields {
            device_requests: vec![DeviceRequestFields {
                driver: "cdi".into(),
                device_ids: vec!["vendor.com/fpga=0".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(!classify_container(&other).has_gpu);
        // The runtime reads the last NVIDIA_VISIBLE_DEVICES; the empty value gives nothing.
        let env = |vals: &[&str]| ContainerGpuFields {
            runtime: Some("nvidia".into()),
            env: vals.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        let a = classify_container(&env(&[
            "NVIDIA_VISIBLE_DEVICES=all",
            "NVIDIA_VISIBLE_DEVICES=1",
        ]));
        assert_eq!((a.has_gpu, a.gpus.as_str()), (true, "1"));
        assert!(!classify_container(&env(&["NVIDIA_VISIBLE_DEVICES="])).has_gpu);
        let unset = classify_container(&env(&["PATH=/usr/bin"]));
        assert!(
            !unset.has_gpu && unset.detail.contains("not set"),
            "{unset:?}"
        );
    }

    #[test]
    fn engines_from_real_shaped_info_output() {
        let nvidia = engine_support(&EngineGpuFields::from_info(&fixture(
            "info-nvidia-runtime.json",
        )));
        assert!(nvidia.nvidia_runtime && !nvidia.cdi_enabled, "{nvidia:?}");
        assert_eq!(nvidia.summary, "nvidia runtime registered");

        let cdi = engine_support(&EngineGpuFields::from_info(&fixture("info-cdi.json")));
        assert!(cdi.cdi_enabled && cdi.nvidia_runtime, "{cdi:?}");
        assert_eq!(cdi.cdi_spec_dirs, vec!["/etc/cdi", "/var/run/cdi"]);
        assert_eq!(
            cdi.cdi_gpu_devices,
            vec!["nvidia.com/gpu=0", "nvidia.com/gpu=all"]
        );
        assert!(
            cdi.summary.contains("nvidia.com/gpu=all"),
            "{}",
            cdi.summary
        );

        let plain = engine_support(&EngineGpuFields::from_info(&fixture("info-plain.json")));
        assert!(!plain.nvidia_runtime && !plain.cdi_enabled, "{plain:?}");
        assert!(
            plain.summary.contains("nvidia-container-toolkit"),
            "{}",
            plain.summary
        );
    }
}
