//! Prometheus metrics (`GET /metrics`): what the agent sees, in the form fleets already
//! collect. Distributions are observed as results arrive (each probe's phases, each
//! healthcheck run) and kept here; everything else (is a target up, a container's state
//! and health, restarts, the last GPU run) is read from the agent's state at scrape time,
//! so a removed target or container leaves the output at once. `scrape.rs` builds and
//! encodes a scrape (Prometheus text 0.0.4 or OpenMetrics) and guards the route.

pub mod scrape;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::broadcast::error::RecvError;
use vantage_shared::probe::{AgentProbe, TargetResult};
use vantage_shared::{AgentEvent, HealthcheckRun};

use crate::AppState;

/// A series' labels, as `(name, value)` pairs.
pub type Labels = Vec<(String, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Probe phases, in seconds: loopback answers in well under 5 ms, a far HTTPS API in
/// hundreds; the agent gives up at 10 s.
const PHASE_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Healthcheck runs, in seconds: Docker's default timeout is 30 s.
const HEALTH_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

fn phase_histogram() -> Histogram {
    Histogram::new(PHASE_BUCKETS)
}

fn health_histogram() -> Histogram {
    Histogram::new(HEALTH_BUCKETS)
}

/// The metrics kept between scrapes. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    /// `vantage_target_phase_duration_seconds{target, phase}`.
    phases: Histograms,
    /// `vantage_target_probes_total{target, result}`.
    probes: Family<Labels, Counter>,
    /// `vantage_container_healthcheck_duration_seconds{container}`.
    health_runs: Histograms,
    /// `vantage_container_healthcheck_failures_total{container}`.
    health_failures: Family<Labels, Counter>,
    /// Each target's newest result, for the gauges.
    latest: Arc<Mutex<HashMap<String, TargetResult>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            phases: Family::new_with_constructor(phase_histogram),
            probes: Family::default(),
            health_runs: Family::new_with_constructor(health_histogram),
            health_failures: Family::default(),
            latest: Arc::default(),
        }
    }
}

fn label(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Metrics {
    /// Counts one finished probe of a target and keeps it as the target's newest.
    pub fn probed(&self, probe: &AgentProbe) {
        self.observe(&probe.target_id, TargetResult::from_probe(probe));
    }

    /// Counts one result of target `id` and keeps it as the target's newest.
    pub fn observe(&self, id: &str, r: TargetResult) {
        let phases = [
            ("dns", r.dns_ms),
            ("connect", r.connect_ms),
            ("tls", r.tls_ms),
            ("first_byte", r.first_byte_ms),
            ("total", r.total_ms),
        ];
        for (phase, ms) in phases {
            if let Some(ms) = ms {
                self.phases
                    .get_or_create(&label(&[("target", id), ("phase", phase)]))
                    .observe(ms / 1000.0);
            }
        }
        let result = if r.up { "up" } else { "down" };
        self.probes
            .get_or_create(&label(&[("target", id), ("result", result)]))
            .inc();
        if let Ok(mut latest) = self.latest.lock() {
            latest.insert(id.to_owned(), r);
        }
    }

    /// Counts one new healthcheck run of a container.
    pub fn health_run(&self, container: &str, run: &HealthcheckRun) {
        let labels = label(&[("container", container)]);
        // Docker's own duration (start to end of the check), as the history shows it.
        self.health_runs
            .get_or_create(&labels)
            .observe(run.duration_ms as f64 / 1000.0);
        if !run.passed() {
            self.health_failures.get_or_create(&labels).inc();
        }
    }

    /// Whether the target's newest result since the agent started was up.
    pub fn is_up(&self, id: &str) -> Option<bool> {
        self.latest.lock().ok()?.get(id).map(|r| r.up)
    }

    /// The newest result of every target probed since the agent started.
    fn latest(&self) -> HashMap<String, TargetResult> {
        self.latest.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Observes healthcheck runs from the event bus until shutdown (probes are observed where
/// they are recorded, `reach::probes::record_all`).
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut rx = state.events.subscribe();
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(AgentEvent::HealthcheckRun { container_name, run, .. }) => {
                    state.metrics.health_run(&container_name, &run);
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "Metrics fell behind the event bus; some healthcheck runs were not counted"),
                Err(RecvError::Closed) => return,
            },
            _ = stop.changed() => return,
        }
    }
}
