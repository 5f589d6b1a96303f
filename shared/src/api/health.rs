//! The recorded history of a container's healthcheck runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::HealthStatus;

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
