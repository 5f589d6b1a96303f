//! The server-sent event stream and the ticket that opens it.

use serde::{Deserialize, Serialize};

use super::{DockerStatus, HealthcheckRun};

/// `POST /api/events/ticket`: a one-time, short-lived ticket for the event stream,
/// because `EventSource` cannot send an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventTicket {
    pub ticket: String,
    pub expires_in_s: u64,
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
    /// A container lifecycle event was stored (start, exit, OOM kill, health change …).
    ContainerLifecycle {
        container_id: String,
        container_name: String,
        event: super::LifecycleEvent,
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
            Self::ContainerLifecycle { .. } => "container_lifecycle",
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
}
