//! What the API reads from the Docker view: containers (with Docker-style status text),
//! networks with their members, and the GPU page's per-container fields.

use chrono::{DateTime, Utc};
use vantage_shared::gpu::{ContainerGpuFields, EngineGpuFields};
use vantage_shared::{
    ContainerDetail, ContainerState, ContainerSummary, HealthStatus, NetworkMember, NetworkSummary,
    PREDEFINED_NETWORKS,
};

use super::DockerHandle;

/// One container for the GPU page: id, name, running, GPU-relevant inspect fields.
pub type ContainerGpuRow = (String, String, bool, ContainerGpuFields);

impl DockerHandle {
    /// Every container, sorted by name.
    pub fn containers(&self) -> Vec<ContainerSummary> {
        let now = Utc::now();
        let mut list: Vec<ContainerSummary> = self.read_inventory(|inv| {
            inv.containers
                .values()
                .map(|d| with_status_text(d.summary.clone(), now))
                .collect()
        });
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// A container by full id, name, or unique id prefix (at least 4 characters).
    pub fn container(&self, id_or_name: &str) -> Option<ContainerDetail> {
        let key = id_or_name.trim_start_matches('/');
        self.read_inventory(|inv| {
            if let Some(d) = inv.containers.get(key) {
                return Some(d.clone());
            }
            if let Some(d) = inv.containers.values().find(|d| d.summary.name == key) {
                return Some(d.clone());
            }
            if key.len() >= 4 {
                let mut matches = inv
                    .containers
                    .values()
                    .filter(|d| d.summary.id.starts_with(key));
                if let (Some(d), None) = (matches.next(), matches.next()) {
                    return Some(d.clone());
                }
            }
            None
        })
        .map(|mut d| {
            d.summary = with_status_text(d.summary, Utc::now());
            d
        })
    }

    /// Networks with the containers attached to each.
    pub fn networks(&self) -> Vec<NetworkSummary> {
        let mut list: Vec<NetworkSummary> = self.read_inventory(|inv| {
            inv.networks
                .iter()
                .map(|n| {
                    let mut containers: Vec<NetworkMember> = inv
                        .containers
                        .values()
                        .filter_map(|c| {
                            let att = c.summary.networks.iter().find(|a| {
                                a.network_id.as_deref() == Some(&n.id) || a.name == n.name
                            })?;
                            Some(NetworkMember {
                                id: c.summary.id.clone(),
                                name: c.summary.name.clone(),
                                ip_address: att.ip_address.clone(),
                            })
                        })
                        .collect();
                    containers.sort_by(|a, b| a.name.cmp(&b.name));
                    NetworkSummary {
                        id: n.id.clone(),
                        name: n.name.clone(),
                        driver: n.driver.clone(),
                        scope: n.scope.clone(),
                        internal: n.internal,
                        user_defined: !PREDEFINED_NETWORKS.contains(&n.name.as_str()),
                        subnets: n.subnets.clone(),
                        containers,
                    }
                })
                .collect()
        });
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    pub fn network_count(&self) -> usize {
        self.read_inventory(|inv| inv.networks.len())
    }

    /// What the GPU page needs from Docker: the engine's runtimes and CDI settings
    /// (`None` before the first `docker info`) and, per container, `(id, name, running,
    /// GPU-relevant inspect fields)`.
    pub fn gpu_view(&self) -> (Option<EngineGpuFields>, Vec<ContainerGpuRow>) {
        self.read_inventory(|inv| {
            let containers = inv
                .containers
                .values()
                .map(|d| {
                    (
                        d.summary.id.clone(),
                        d.summary.name.clone(),
                        d.summary.state == ContainerState::Running,
                        inv.gpu_fields
                            .get(&d.summary.id)
                            .cloned()
                            .unwrap_or_default(),
                    )
                })
                .collect();
            (inv.engine_gpu.clone(), containers)
        })
    }
}

/// Docker-style human status (`Up 3 minutes (healthy)`), computed at read time
/// because it depends on the clock.
pub(super) fn with_status_text(mut s: ContainerSummary, now: DateTime<Utc>) -> ContainerSummary {
    let ago = |t: Option<DateTime<Utc>>| {
        t.map(|t| {
            vantage_shared::duration::human_ms(
                u64::try_from((now - t).num_milliseconds()).unwrap_or(0),
            )
        })
        .unwrap_or_else(|| "?".into())
    };
    s.status = match s.state {
        ContainerState::Running => {
            let health = match s.health {
                HealthStatus::None => String::new(),
                HealthStatus::Starting => " (health: starting)".into(),
                h => format!(" ({h})"),
            };
            format!("Up {}{health}", ago(s.started_at))
        }
        ContainerState::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code.unwrap_or(0),
            ago(s.finished_at)
        ),
        ContainerState::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code.unwrap_or(0),
            ago(s.finished_at)
        ),
        ContainerState::Paused => format!("Up {} (Paused)", ago(s.started_at)),
        other => capitalise(other.as_str()),
    };
    s
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
