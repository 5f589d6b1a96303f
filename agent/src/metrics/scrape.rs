//! One scrape: a registry built for this request from the agent's state plus the
//! distributions kept in [`super::Metrics`], encoded as OpenMetrics when the scraper asks
//! for it (`Accept: application/openmetrics-text`) and as Prometheus text 0.0.4 otherwise.
//! Names follow Prometheus' conventions: base units in the name (`_seconds`, `_bytes`),
//! `_total` on counters, `_info` series carrying labels with the value 1.

use std::sync::atomic::AtomicU64;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use vantage_shared::gpu::{GpuRun, GpuRunStatus};
use vantage_shared::probe::Target;
use vantage_shared::{ContainerState, ContainerSummary, HealthStatus};

use super::{label, Labels};
use crate::auth::{bearer, token_matches};
use crate::error::ApiError;
use crate::AppState;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;

/// Every container state and health, so each gets a series of 0 or 1 and a change shows
/// as one going to 0 and another to 1 (the state-set pattern).
const STATES: [ContainerState; 7] = [
    ContainerState::Created,
    ContainerState::Running,
    ContainerState::Paused,
    ContainerState::Restarting,
    ContainerState::Removing,
    ContainerState::Exited,
    ContainerState::Dead,
];
const HEALTHS: [HealthStatus; 3] = [
    HealthStatus::Starting,
    HealthStatus::Healthy,
    HealthStatus::Unhealthy,
];

/// A registry for one scrape. Help texts are written without a final period: the encoder
/// adds one.
struct Scrape(Registry);

impl Scrape {
    fn gauge(&mut self, name: &str, help: &str) -> Gauges {
        let family = Gauges::default();
        self.0.register(name, help, family.clone());
        family
    }

    /// `name` without `_total`: the encoder adds it.
    fn counter(&mut self, name: &str, help: &str) -> Family<Labels, Counter> {
        let family = Family::<Labels, Counter>::default();
        self.0.register(name, help, family.clone());
        family
    }
}

fn set(family: &Gauges, labels: &[(&str, &str)], value: f64) {
    family.get_or_create(&label(labels)).set(value);
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// What one scrape reports besides the kept distributions: read from the agent's state by
/// [`render`], or made up by a benchmark.
pub struct Snapshot<'a> {
    pub docker_up: bool,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub targets: &'a [Target],
    pub containers: &'a [ContainerSummary],
    /// The last GPU benchmark that finished.
    pub gpu: Option<&'a GpuRun>,
}

/// The whole scrape of the agent, as text.
pub async fn render(state: &AppState, openmetrics: bool) -> Result<String, ApiError> {
    let targets = crate::reach::targets(state).await?;
    let containers = state.docker.containers();
    let runs = state.store.gpu_runs(5).await?;
    let snapshot = Snapshot {
        docker_up: state.docker.is_connected(),
        started_at: state.started_at,
        targets: &targets,
        containers: &containers,
        gpu: runs.iter().find(|r| r.status != GpuRunStatus::Running),
    };
    encode(&snapshot, &state.metrics, openmetrics)
        .map_err(|e| ApiError::Internal(format!("encoding metrics: {e}")))
}

/// A scrape of `snapshot` and the distributions in `m`, in OpenMetrics or Prometheus text.
pub fn encode(
    snapshot: &Snapshot<'_>,
    m: &super::Metrics,
    openmetrics: bool,
) -> Result<String, std::fmt::Error> {
    let mut s = Scrape(Registry::default());
    agent(&mut s, snapshot);
    targets_part(&mut s, m, snapshot.targets);
    containers(&mut s, snapshot.containers);
    gpu(&mut s, snapshot.gpu);
    s.0.register(
        "vantage_target_phase_duration_seconds",
        "Time of each probe phase (dns, connect, tls, first_byte, total), per target",
        m.phases.clone(),
    );
    s.0.register(
        "vantage_target_probes",
        "Probes of each target since the agent started, by result (up or down)",
        m.probes.clone(),
    );
    s.0.register(
        "vantage_container_healthcheck_duration_seconds",
        "Duration of each healthcheck run Docker reported, per container",
        m.health_runs.clone(),
    );
    s.0.register(
        "vantage_container_healthcheck_failures",
        "Failed healthcheck runs since the agent started, per container",
        m.health_failures.clone(),
    );
    let mut out = String::new();
    if openmetrics {
        text::encode(&mut out, &s.0)?;
    } else {
        prometheus_text::encode(&mut out, &s.0)?;
    }
    Ok(out)
}

fn agent(s: &mut Scrape, snapshot: &Snapshot<'_>) {
    let info = s.gauge("vantage_build_info", "The agent's version; always 1");
    set(&info, &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    let docker = s.gauge(
        "vantage_docker_up",
        "Whether the agent is connected to the Docker engine",
    );
    set(&docker, &[], bool_value(snapshot.docker_up));
    let started = s.gauge(
        "vantage_start_time_seconds",
        "When the agent started, in seconds since the Unix epoch",
    );
    set(&started, &[], snapshot.started_at.timestamp() as f64);
}

fn targets_part(s: &mut Scrape, m: &super::Metrics, targets: &[Target]) {
    let info = s.gauge(
        "vantage_target_info",
        "Each target's name and URL; always 1",
    );
    let up = s.gauge(
        "vantage_target_up",
        "Whether the newest probe found the target up (it answered as expected)",
    );
    let status = s.gauge(
        "vantage_target_http_status",
        "The HTTP status of the newest probe",
    );
    let cors = s.gauge(
        "vantage_target_cors_allowed",
        "Whether the newest probe's CORS verdict lets the target's page origin read it",
    );
    let cert = s.gauge(
        "vantage_target_certificate_expiry_timestamp_seconds",
        "When the certificate the target presents expires, in seconds since the Unix epoch",
    );
    let last = s.gauge(
        "vantage_target_last_probe_timestamp_seconds",
        "When the target was last probed, in seconds since the Unix epoch",
    );
    let latest = m.latest();
    for t in targets {
        let id = t.id.as_str();
        set(
            &info,
            &[("target", id), ("name", &t.name), ("url", &t.url)],
            1.0,
        );
        // A target not probed since the agent started has no result yet: no series,
        // rather than a made-up "down".
        let Some(r) = latest.get(&t.id) else { continue };
        set(&up, &[("target", id)], bool_value(r.up));
        set(
            &last,
            &[("target", id)],
            r.at.timestamp_millis() as f64 / 1000.0,
        );
        if let Some(code) = r.http_status {
            set(&status, &[("target", id)], f64::from(code));
        }
        if let Some(allowed) = r.cors_allowed {
            set(&cors, &[("target", id)], bool_value(allowed));
        }
        if let Some(expiry) = r.cert_expires {
            set(&cert, &[("target", id)], expiry.timestamp() as f64);
        }
    }
}

fn containers(s: &mut Scrape, list: &[ContainerSummary]) {
    let info = s.gauge(
        "vantage_container_info",
        "Each container's id, image and Compose project and service; always 1",
    );
    let state = s.gauge(
        "vantage_container_state",
        "1 for the state the container is in, 0 for the others",
    );
    let health = s.gauge(
        "vantage_container_health_status",
        "1 for the container's healthcheck status, 0 for the others (containers with a healthcheck)",
    );
    let streak = s.gauge(
        "vantage_container_healthcheck_failing_streak",
        "Consecutive failed healthcheck runs right now",
    );
    let restarts = s.counter(
        "vantage_container_restarts",
        "Restarts of the container by Docker's restart policy (Docker's RestartCount)",
    );
    for c in list {
        let name = c.name.as_str();
        let project = c.compose_project.as_deref().unwrap_or("");
        let service = c.compose_service.as_deref().unwrap_or("");
        set(
            &info,
            &[
                ("container", name),
                ("id", c.short_id()),
                ("image", &c.image),
                ("compose_project", project),
                ("compose_service", service),
            ],
            1.0,
        );
        for st in STATES {
            let value = bool_value(c.state == st);
            set(
                &state,
                &[("container", name), ("state", st.as_str())],
                value,
            );
        }
        if c.healthcheck.is_some() || c.health != HealthStatus::None {
            for h in HEALTHS {
                let value = bool_value(c.health == h);
                set(
                    &health,
                    &[("container", name), ("status", h.as_str())],
                    value,
                );
            }
            set(&streak, &[("container", name)], c.failing_streak as f64);
        }
        restarts
            .get_or_create(&label(&[("container", name)]))
            .inc_by(c.restart_count);
    }
}

fn gpu(s: &mut Scrape, run: Option<&GpuRun>) {
    let Some(run) = run else { return };
    let summary = run.summary();
    let at = s.gauge(
        "vantage_gpu_last_run_timestamp_seconds",
        "When the last finished GPU benchmark started, in seconds since the Unix epoch",
    );
    set(&at, &[], run.started_at.timestamp() as f64);
    let ok = s.gauge(
        "vantage_gpu_last_run_success",
        "Whether the last finished GPU benchmark completed",
    );
    set(&ok, &[], bool_value(run.status == GpuRunStatus::Completed));
    let ran = s.gauge(
        "vantage_gpu_last_run_gpu_used",
        "Whether the last finished GPU benchmark ran on a GPU (0: no usable GPU, CPU only)",
    );
    set(&ran, &[], bool_value(summary.gpu_ran));
    if let Some(gbps) = summary.best_h2d_pinned_gbps {
        let h2d = s.gauge(
            "vantage_gpu_last_run_h2d_bytes_per_second",
            "The best host-to-device copy rate from pinned memory in the last GPU benchmark",
        );
        set(&h2d, &[], gbps * 1e9);
    }
    if let Some(pass) = summary.agreement_pass {
        let agree = s.gauge(
            "vantage_gpu_last_run_results_agree",
            "Whether the GPU's results matched the CPU's in the last GPU benchmark",
        );
        set(&agree, &[], bool_value(pass));
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match render(&state, openmetrics).await {
        Ok(body) => {
            let kind = if openmetrics {
                OPENMETRICS
            } else {
                PROMETHEUS_TEXT
            };
            ([(header::CONTENT_TYPE, kind)], body).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Middleware for `/metrics` on the main listener: the read-only metrics token, or the
/// admin token. Nothing else is reachable with the metrics token.
pub async fn require_metrics_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(given) = bearer(req.headers()) else {
        return ApiError::Unauthorized.into_response();
    };
    let metrics_ok = state
        .metrics_token
        .as_deref()
        .is_some_and(|t| token_matches(t, &given));
    if metrics_ok || token_matches(&state.token, &given) {
        return next.run(req).await;
    }
    ApiError::Unauthorized.into_response()
}
