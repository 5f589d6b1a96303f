//! Docker as the agent sees it: the engine connection, containers, their health
//! status, ports, networks and healthcheck configuration.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::HealthStats;
use crate::diagnosis::Finding;

/// Whether the agent currently talks to a Docker engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DockerState {
    /// Not tried yet (the first seconds after start).
    Connecting,
    Connected,
    Unavailable,
}

/// The agent's view of the Docker engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DockerStatus {
    pub state: DockerState,
    /// Why Docker is unavailable, in words (the underlying error).
    pub reason: Option<String>,
    /// Where the agent connects (the `DOCKER_HOST` value or the default socket).
    pub endpoint: String,
    pub engine_version: Option<String>,
    /// The API version negotiated with the engine (Debian's 20.10 speaks 1.41).
    pub api_version: Option<String>,
    /// When the state last changed.
    pub since: DateTime<Utc>,
}

impl fmt::Display for DockerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            DockerState::Connecting => write!(f, "docker: connecting to {}", self.endpoint),
            DockerState::Connected => write!(
                f,
                "docker: connected to {} (engine {}, API {})",
                self.endpoint,
                self.engine_version.as_deref().unwrap_or("?"),
                self.api_version.as_deref().unwrap_or("?")
            ),
            DockerState::Unavailable => write!(
                f,
                "docker: unavailable, {}",
                self.reason.as_deref().unwrap_or("unknown reason")
            ),
        }
    }
}

/// Docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Unknown,
}

impl ContainerState {
    /// Maps Docker's lower-case state string.
    pub fn from_docker(s: &str) -> Self {
        match s {
            "created" => Self::Created,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "removing" => Self::Removing,
            "exited" => Self::Exited,
            "dead" => Self::Dead,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container's health as Docker reports it; `none` when it has no healthcheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    None,
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn from_docker(s: &str) -> Self {
        match s {
            "starting" => Self::Starting,
            "healthy" => Self::Healthy,
            "unhealthy" => Self::Unhealthy,
            _ => Self::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Starting => "starting",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortMapping {
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.host_ip.as_deref(), self.host_port) {
            (Some(ip), Some(hp)) => {
                write!(f, "{ip}:{hp}→{}/{}", self.container_port, self.protocol)
            }
            (None, Some(hp)) => write!(f, "{hp}→{}/{}", self.container_port, self.protocol),
            _ => write!(f, "{}/{}", self.container_port, self.protocol),
        }
    }
}

/// A container's membership in one Docker network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkAttachment {
    /// Network name, e.g. `bridge`, `host`, `proj-a_default`.
    pub name: String,
    pub network_id: Option<String>,
    pub ip_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub gateway: Option<String>,
    /// DNS names this container answers to on that network (user-defined networks only).
    pub aliases: Vec<String>,
}

/// Docker's defaults for healthcheck timings, applied when a field is unset (0).
pub const DOCKER_DEFAULT_INTERVAL_MS: u64 = 30_000;
pub const DOCKER_DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const DOCKER_DEFAULT_START_PERIOD_MS: u64 = 0;
pub const DOCKER_DEFAULT_RETRIES: u64 = 3;

/// A container's healthcheck configuration with Docker's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthcheckConfig {
    /// As Docker stores it: `["CMD-SHELL", "curl -f …"]` or `["CMD", "prog", "arg"]`.
    pub test: Vec<String>,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub start_period_ms: u64,
    pub retries: u64,
    /// What the image has to run a healthcheck with, when the agent could look (a running
    /// container, the agent on the host): fixes for a broken check use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ImageTools>,
}

/// Programs a healthcheck can use, found on the container's `PATH` in its root filesystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageTools {
    /// `/bin/sh` exists: `CMD-SHELL` and `docker run --health-cmd` can run.
    pub shell: bool,
    /// Of `curl`, `wget`, `python3`, `python`, `node`, `busybox`: those found, in that order.
    pub programs: Vec<String>,
}

impl ImageTools {
    /// The programs looked for, in the order a fix prefers them.
    pub const LOOKED_FOR: [&'static str; 6] =
        ["curl", "wget", "python3", "python", "node", "busybox"];

    pub fn has(&self, program: &str) -> bool {
        self.programs.iter().any(|p| p == program)
    }
}

impl HealthcheckConfig {
    /// Builds a config from Docker's raw fields (nanoseconds, 0 = default).
    pub fn from_docker(
        test: Vec<String>,
        interval_ns: i64,
        timeout_ns: i64,
        start_period_ns: i64,
        retries: i64,
    ) -> Self {
        let ms = |ns: i64, default: u64| {
            if ns <= 0 {
                default
            } else {
                u64::try_from(ns / 1_000_000).unwrap_or(default)
            }
        };
        Self {
            test,
            interval_ms: ms(interval_ns, DOCKER_DEFAULT_INTERVAL_MS),
            timeout_ms: ms(timeout_ns, DOCKER_DEFAULT_TIMEOUT_MS),
            start_period_ms: ms(start_period_ns, DOCKER_DEFAULT_START_PERIOD_MS),
            retries: if retries <= 0 {
                DOCKER_DEFAULT_RETRIES
            } else {
                retries.unsigned_abs()
            },
            tools: None,
        }
    }

    /// The check command as a person would type it.
    pub fn command_display(&self) -> String {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD-SHELL" => rest.join(" "),
            Some((kind, rest)) if kind == "CMD" => rest.join(" "),
            Some((kind, _)) if kind == "NONE" => "(healthcheck disabled)".to_owned(),
            _ => self.test.join(" "),
        }
    }
}

/// One row of `GET /api/containers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerSummary {
    /// Full 64-hex container id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    pub image: String,
    pub state: ContainerState,
    /// Docker's human status, e.g. `Up 3 minutes (healthy)`.
    pub status: String,
    pub health: HealthStatus,
    /// Consecutive failed healthcheck runs right now.
    pub failing_streak: u64,
    pub created: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i64>,
    pub restart_count: u64,
    pub ports: Vec<PortMapping>,
    pub networks: Vec<NetworkAttachment>,
    pub healthcheck: Option<HealthcheckConfig>,
    /// `com.docker.compose.project` label, when set.
    pub compose_project: Option<String>,
    /// `com.docker.compose.service` label, when set.
    pub compose_service: Option<String>,
}

impl ContainerSummary {
    /// Short 12-character id as `docker ps` shows it.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

/// `GET /api/containers/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerDetail {
    #[serde(flatten)]
    pub summary: ContainerSummary,
    pub command: Vec<String>,
    pub entrypoint: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub restart_policy: Option<String>,
    pub health_stats: HealthStats,
    /// What Vantage concludes about this container, most severe first.
    pub findings: Vec<Finding>,
}

/// A container as a member of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkMember {
    pub id: String,
    pub name: String,
    pub ip_address: Option<String>,
}

/// One row of `GET /api/networks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkSummary {
    pub id: String,
    pub name: String,
    /// `bridge`, `host`, `null`, `overlay`, `macvlan`…
    pub driver: String,
    pub scope: String,
    pub internal: bool,
    /// False for Docker's predefined `bridge`, `host` and `none`: only user-defined
    /// networks give containers DNS names for each other.
    pub user_defined: bool,
    pub subnets: Vec<String>,
    pub containers: Vec<NetworkMember>,
}

/// Docker's predefined networks, which give no container-name resolution.
pub const PREDEFINED_NETWORKS: [&str; 3] = ["bridge", "host", "none"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_defaults_follow_docker() {
        let c = HealthcheckConfig::from_docker(vec!["CMD-SHELL".into(), "true".into()], 0, 0, 0, 0);
        assert_eq!(c.interval_ms, 30_000);
        assert_eq!(c.timeout_ms, 30_000);
        assert_eq!(c.start_period_ms, 0);
        assert_eq!(c.retries, 3);
        let c =
            HealthcheckConfig::from_docker(vec![], 2_000_000_000, 3_000_000_000, 5_000_000_000, 5);
        assert_eq!(
            (c.interval_ms, c.timeout_ms, c.start_period_ms, c.retries),
            (2000, 3000, 5000, 5)
        );
    }

    #[test]
    fn command_display_strips_docker_prefix() {
        let c = HealthcheckConfig::from_docker(
            vec![
                "CMD-SHELL".into(),
                "curl -f http://localhost/ || exit 1".into(),
            ],
            0,
            0,
            0,
            0,
        );
        assert_eq!(c.command_display(), "curl -f http://localhost/ || exit 1");
        let c = HealthcheckConfig::from_docker(
            vec!["CMD".into(), "test".into(), "-f".into(), "/ready".into()],
            0,
            0,
            0,
            0,
        );
        assert_eq!(c.command_display(), "test -f /ready");
    }

    #[test]
    fn docker_status_reads_plainly() {
        let s = DockerStatus {
            state: DockerState::Unavailable,
            reason: Some("cannot connect to unix:///var/run/docker.sock: No such file".into()),
            endpoint: "unix:///var/run/docker.sock".into(),
            engine_version: None,
            api_version: None,
            since: Utc::now(),
        };
        assert_eq!(
            s.to_string(),
            "docker: unavailable, cannot connect to unix:///var/run/docker.sock: No such file"
        );
    }
}
