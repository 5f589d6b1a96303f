//! The first screen's summary and the container-to-container connectivity answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ContainerState, ContainerSummary, DockerStatus, HealthStatus};
use crate::diagnosis::Finding;

/// `GET /api/overview`: what the first screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    pub agent_version: String,
    pub hostname: String,
    pub agent_started_at: DateTime<Utc>,
    pub docker: DockerStatus,
    pub counts: ContainerCounts,
    pub networks: u64,
    /// Healthcheck runs stored in the history database.
    pub history_records: u64,
    /// Current problems, most severe first.
    pub problems: Vec<Problem>,
    /// Probe targets (config file and dashboard). Absent from agents before the Fleet page.
    #[serde(default)]
    pub targets: u64,
    /// Targets whose newest probe since the agent started found them down.
    #[serde(default)]
    pub targets_down: u64,
    /// The address the API listens on (`127.0.0.1:8787`); absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening_on: Option<String>,
}

impl Overview {
    /// Whether the agent listens on loopback only, so no other device can reach it; `None`
    /// when the agent does not say.
    pub fn loopback_only(&self) -> Option<bool> {
        let addr: std::net::SocketAddr = self.listening_on.as_deref()?.parse().ok()?;
        Some(addr.ip().is_loopback())
    }
}

/// Container counts for the overview.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerCounts {
    pub total: u64,
    pub running: u64,
    pub stopped: u64,
    pub healthy: u64,
    pub unhealthy: u64,
    pub starting: u64,
    pub without_healthcheck: u64,
}

impl ContainerCounts {
    pub fn from_containers<'a>(containers: impl IntoIterator<Item = &'a ContainerSummary>) -> Self {
        let mut c = Self::default();
        for s in containers {
            c.total += 1;
            match s.state {
                ContainerState::Running | ContainerState::Restarting | ContainerState::Paused => {
                    c.running += 1
                }
                _ => c.stopped += 1,
            }
            if s.state != ContainerState::Running {
                // A stopped container keeps its last health status in Docker; it means nothing now.
                continue;
            }
            match s.health {
                HealthStatus::Healthy => c.healthy += 1,
                HealthStatus::Unhealthy => c.unhealthy += 1,
                HealthStatus::Starting => c.starting += 1,
                HealthStatus::None => c.without_healthcheck += 1,
            }
        }
        c
    }
}

/// A finding attached to a container, for the overview's problem list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    pub container_id: String,
    pub container_name: String,
    pub finding: Finding,
}

/// `GET /api/connectivity?from=…&to=…`: can container `from` reach container `to`?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectivityReport {
    pub from: String,
    pub to: String,
    pub verdict: crate::diagnosis::connectivity::Verdict,
    pub finding: Finding,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_running_and_health() {
        let mk = |state, health| ContainerSummary {
            id: "0123456789abcdef".into(),
            name: "x".into(),
            image: "i".into(),
            state,
            status: String::new(),
            health,
            failing_streak: 0,
            created: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            restart_count: 0,
            ports: vec![],
            networks: vec![],
            healthcheck: None,
            compose_project: None,
            compose_service: None,
        };
        let list = [
            mk(ContainerState::Running, HealthStatus::Healthy),
            mk(ContainerState::Running, HealthStatus::Unhealthy),
            mk(ContainerState::Exited, HealthStatus::None),
            mk(ContainerState::Exited, HealthStatus::Healthy),
            mk(ContainerState::Running, HealthStatus::None),
        ];
        let c = ContainerCounts::from_containers(&list);
        assert_eq!((c.total, c.running, c.stopped), (5, 3, 2));
        assert_eq!(
            (c.healthy, c.unhealthy, c.without_healthcheck),
            (1, 1, 1),
            "stopped ones are not counted by health"
        );
        assert_eq!(list[0].short_id(), "0123456789ab");
    }
}
