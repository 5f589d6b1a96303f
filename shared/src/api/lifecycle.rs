//! A container's life as Docker's event stream tells it, stored by the agent: starts,
//! exits with their code, OOM kills, restarts and health changes
//! (`GET /api/containers/{id}/events`), and what they add up to
//! (`GET /api/containers/{id}/summary`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::HealthStatus;
use crate::diagnosis::Finding;
use crate::probe::Uptime;

/// What happened, in Docker's own words (`docker events` actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LifecycleKind {
    Create,
    Start,
    /// The main process ended; `exit_code` says how.
    Die,
    /// The kernel's out-of-memory killer killed a process in it.
    Oom,
    /// Docker sent it a signal (`signal`): `docker stop`, `docker kill`, a restart.
    Kill,
    /// Stopped on request (`docker stop`, `docker restart`, compose down).
    Stop,
    /// `docker restart` finished (a restart policy's restarts show as `die` then `start`).
    Restart,
    Pause,
    Unpause,
    /// Its health changed; `health` says to what.
    Health,
    Destroy,
}

impl LifecycleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Start => "start",
            Self::Die => "die",
            Self::Oom => "oom",
            Self::Kill => "kill",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Pause => "pause",
            Self::Unpause => "unpause",
            Self::Health => "health",
            Self::Destroy => "destroy",
        }
    }

    /// The kind of a stored word; `None` for one this agent does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "create" => Self::Create,
            "start" => Self::Start,
            "die" => Self::Die,
            "oom" => Self::Oom,
            "kill" => Self::Kill,
            "stop" => Self::Stop,
            "restart" => Self::Restart,
            "pause" => Self::Pause,
            "unpause" => Self::Unpause,
            "health" => Self::Health,
            "destroy" => Self::Destroy,
            _ => return None,
        })
    }
}

/// One stored event of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LifecycleEvent {
    pub at: DateTime<Utc>,
    pub kind: LifecycleKind,
    /// For `die`: the main process's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// For `kill`: the signal, e.g. `15` or `SIGKILL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// For `health`: the new health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
}

/// `GET /api/containers/{id}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerTimeline {
    pub container_id: String,
    pub container_name: String,
    /// Newest first.
    pub events: Vec<LifecycleEvent>,
    /// How many events match the query in all (the page may hold fewer).
    pub total: u64,
}

/// `GET /api/containers/{id}/summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerHistorySummary {
    pub container_id: String,
    pub container_name: String,
    /// Healthcheck uptime over 24 hours, 7 and 30 days: the share of healthcheck runs that
    /// passed (each run is a check, as each probe is for a target). Empty without a
    /// healthcheck.
    pub uptime: Vec<Uptime>,
    /// Restarts in the last 24 hours: starts after the process died (restart policy) or
    /// after `docker restart`.
    pub restarts_24h: u64,
    /// The last exit, when one is stored: its code and what it means.
    pub last_exit: Option<ExitExplained>,
    /// What the stored events say (a restart loop).
    pub findings: Vec<Finding>,
}

/// An exit code with its meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExitExplained {
    pub at: DateTime<Utc>,
    pub exit_code: i64,
    /// Whether the kernel's OOM killer acted just before.
    pub oom_killed: bool,
    /// e.g. `killed by SIGKILL: the kernel's out-of-memory killer, or docker kill`.
    pub meaning: String,
}
