//! Serde types of the agent's JSON API (`/api/*`), exactly as they go over the wire.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::diagnosis::Finding;

/// `GET /api/health`: liveness, the only unauthenticated API route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentHealth {
    /// Always `ok` when the process answers.
    pub status: String,
    /// The agent's version (`CARGO_PKG_VERSION`).
    pub version: String,
}

/// The JSON body of every API error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    /// Stable machine-readable code, e.g. `unauthorized`, `not_found`, `docker_unavailable`.
    pub error: String,
    /// A sentence a person can act on.
    pub message: String,
}

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

/// Counts over the recorded healthcheck history of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthStats {
    /// Healthcheck runs stored for this container in all.
    pub recorded: u64,
    /// Passes and failures among the runs diagnosed (those since the latest container
    /// start, and the newest 2000), not necessarily all recorded ones.
    pub passes: u64,
    pub failures: u64,
    pub first_recorded: Option<DateTime<Utc>>,
    /// Time from the latest container start to its first passing run.
    pub time_to_ready_ms: Option<u64>,
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

/// One run of a container's healthcheck, as Docker ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthcheckRun {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub duration_ms: u64,
    /// 0 = pass, 1 = fail, -1 = Docker could not run it (e.g. timeout).
    pub exit_code: i64,
    /// The check's output; Docker keeps at most 4 KiB of it.
    pub output: String,
    /// The container's health right after this run, as far as the agent saw it.
    pub status: HealthStatus,
}

impl HealthcheckRun {
    pub fn passed(&self) -> bool {
        self.exit_code == 0
    }
}

/// `GET /api/containers/{id}/health-history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthHistory {
    pub container_id: String,
    pub container_name: String,
    /// Newest first.
    pub runs: Vec<HealthcheckRun>,
    /// How many runs match the query in all (the page may hold fewer).
    pub total: u64,
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

/// `POST /api/events/ticket`: a one-time, short-lived ticket for the event stream,
/// because `EventSource` cannot send an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventTicket {
    pub ticket: String,
    pub expires_in_s: u64,
}

/// `GET /api/rules`: one loaded rules file (a CLI output pasted, uploaded or named in the
/// config) with the rule sets parsed from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadedRules {
    /// `db-3` for uploads (deletable), `file-1` for `rules_files` in the config.
    pub id: String,
    pub name: String,
    /// `dashboard` or the config file path.
    pub source: String,
    pub loaded_at: DateTime<Utc>,
    pub sets: Vec<crate::rules::RuleSet>,
}

/// One command the agent ran to read the host's firewall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostCommandResult {
    /// `iptables-save`, `ip6tables-save` or `nft -j list ruleset`.
    pub command: String,
    pub ok: bool,
    /// "3 table(s)", "not installed", or the command's own error.
    pub message: String,
}

/// `POST /api/rules/host`: the host's own firewall, read live by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostFirewallRead {
    pub read_at: DateTime<Utc>,
    /// One sentence: what was read, or why nothing could be and what to do instead.
    pub summary: String,
    pub commands: Vec<HostCommandResult>,
    /// The rules read (id `host`), also listed by `GET /api/rules` from now on.
    pub loaded: Option<LoadedRules>,
}

/// `POST /api/rules/evaluate`: would this source be allowed?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RulesQuestion {
    /// The client address, IPv4 or IPv6.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::ip_address))]
    pub source: String,
    /// `tcp` (default), `udp` or `icmp`, in any case.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^([tT][cC][pP]|[uU][dD][pP]|[iI][cC][mM][pP])$")
    )]
    pub protocol: Option<String>,
    /// Destination port; needed for tcp and udp, ignored for icmp.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub port: Option<u16>,
    /// Only these rule sets apply (ids from `GET /api/rules`; at most 64, each up to 300
    /// characters); empty: every loaded set. An id that is not loaded, or that two loaded
    /// files both have, is a `400` naming it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_items = 64,
            max_length = 300,
            pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
        )
    )]
    pub sets: Vec<String>,
    /// What the destination is (GCP tags and service accounts, Azure ASGs, its address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<crate::rules::DestinationInfo>,
}

/// One server-sent event on `GET /api/events`; the SSE `event:` name is the `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The Docker connection changed state.
    Docker {
        status: DockerStatus,
    },
    /// A container was created, started, stopped, renamed or changed health.
    ContainerChanged {
        id: String,
        name: String,
    },
    ContainerRemoved {
        id: String,
        name: String,
    },
    /// A new healthcheck run was recorded.
    HealthcheckRun {
        container_id: String,
        container_name: String,
        run: HealthcheckRun,
    },
    NetworksChanged,
    /// A target was added or removed.
    TargetsChanged,
    /// The agent finished probing a target.
    AgentProbed {
        target_id: String,
        verdict: crate::probe::ReachVerdict,
    },
    /// Rules files were loaded or removed.
    RulesChanged,
    /// A device (a phone on another network) posted its browser results.
    DeviceReported {
        device_id: String,
        client_ip: String,
    },
    /// A GPU benchmark run moved on.
    GpuBenchProgress {
        progress: crate::gpu::GpuBenchProgress,
    },
    /// A GPU benchmark run ended; fetch `/api/gpu/runs/{run_id}` for the results.
    GpuBenchFinished {
        run_id: String,
        status: crate::gpu::GpuRunStatus,
    },
}

impl AgentEvent {
    /// The SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Docker { .. } => "docker",
            Self::ContainerChanged { .. } => "container_changed",
            Self::ContainerRemoved { .. } => "container_removed",
            Self::HealthcheckRun { .. } => "healthcheck_run",
            Self::NetworksChanged => "networks_changed",
            Self::TargetsChanged => "targets_changed",
            Self::RulesChanged => "rules_changed",
            Self::AgentProbed { .. } => "agent_probed",
            Self::DeviceReported { .. } => "device_reported",
            Self::GpuBenchProgress { .. } => "gpu_bench_progress",
            Self::GpuBenchFinished { .. } => "gpu_bench_finished",
        }
    }
}

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

    #[test]
    fn events_are_tagged_by_type() -> Result<(), serde_json::Error> {
        let e = AgentEvent::ContainerRemoved {
            id: "abc".into(),
            name: "web".into(),
        };
        let v = serde_json::to_value(&e)?;
        assert_eq!(v["type"], "container_removed");
        assert_eq!(e.kind(), "container_removed");
        let back: AgentEvent = serde_json::from_value(v)?;
        assert_eq!(back, e);
        Ok(())
    }

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
