//! One `GET /metrics` scrape of a large host (BENCHMARKS.md, "A /metrics scrape"): 1,000
//! targets with their phase histograms and 500 containers with healthchecks, encoded as
//! Prometheus text and as OpenMetrics. Prints the size of each once.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use vantage_agent::metrics::scrape::{encode, Snapshot};
use vantage_agent::metrics::Metrics;
use vantage_shared::probe::{NewTarget, ReachVerdict, Target, TargetResult, TargetSource};
use vantage_shared::{
    ContainerState, ContainerSummary, HealthStatus, HealthcheckConfig, HealthcheckRun,
};

const TARGETS: usize = 1_000;
const CONTAINERS: usize = 500;

fn target(i: usize) -> Target {
    Target::from_new(
        NewTarget {
            name: format!("service {i:04}"),
            url: format!("https://api-{i}.example.com/health"),
            expected_status: None,
            cors_origin: None,
            cors_method: None,
            cors_headers: vec![],
            cors_credentials: Default::default(),
            cors_mode: Default::default(),
            proxy_admin: None,
            firewall: Default::default(),
            interval_seconds: None,
            interval: None,
        },
        TargetSource::Config,
    )
}

fn container(i: usize) -> ContainerSummary {
    ContainerSummary {
        id: format!("{i:064x}"),
        name: format!("app-{i:03}"),
        image: "registry.example.com/shop/api:1.42.0".into(),
        state: ContainerState::Running,
        status: "Up 3 days (healthy)".into(),
        health: HealthStatus::Healthy,
        failing_streak: 0,
        created: None,
        started_at: None,
        finished_at: None,
        exit_code: None,
        restart_count: (i % 3) as u64,
        ports: vec![],
        networks: vec![],
        healthcheck: Some(HealthcheckConfig {
            test: vec!["CMD".into(), "true".into()],
            interval_ms: 30_000,
            timeout_ms: 5_000,
            start_period_ms: 0,
            retries: 3,
            tools: None,
        }),
        compose_project: Some("shop".into()),
        compose_service: Some(format!("api-{i}")),
    }
}

fn bench(c: &mut Criterion) {
    let metrics = Metrics::default();
    let targets: Vec<Target> = (0..TARGETS).map(target).collect();
    for t in &targets {
        // A few results each, so every histogram bucket line is there.
        for ms in [3.0, 12.0, 40.0] {
            metrics.observe(
                &t.id,
                TargetResult {
                    at: Utc::now(),
                    verdict: ReachVerdict::Reachable,
                    up: true,
                    dns_ms: Some(ms / 3.0),
                    connect_ms: Some(ms / 2.0),
                    tls_ms: Some(ms),
                    first_byte_ms: Some(ms * 2.0),
                    total_ms: Some(ms * 3.0),
                    http_status: Some(200),
                    body_bytes: Some(512),
                    fingerprint: None,
                    cors_allowed: Some(true),
                    cert_expires: Some(Utc::now()),
                    error: None,
                    finding: None,
                },
            );
        }
    }
    let containers: Vec<ContainerSummary> = (0..CONTAINERS).map(container).collect();
    for c in &containers {
        let now = Utc::now();
        let run = HealthcheckRun {
            start: now,
            end: now,
            duration_ms: 40,
            exit_code: 0,
            output: String::new(),
            status: HealthStatus::Healthy,
        };
        metrics.health_run(&c.name, &run);
    }
    let snapshot = Snapshot {
        docker_up: true,
        started_at: Utc::now(),
        targets: &targets,
        containers: &containers,
        gpu: None,
    };
    for (name, open) in [("Prometheus text", false), ("OpenMetrics", true)] {
        let text = encode(&snapshot, &metrics, open).unwrap();
        eprintln!(
            "{name}: {} bytes, {} lines",
            text.len(),
            text.lines().count()
        );
    }
    let mut group = c.benchmark_group("metrics_scrape_1000_targets_500_containers");
    group.sample_size(20);
    group.bench_function("prometheus_text", |b| {
        b.iter(|| black_box(encode(&snapshot, &metrics, false).unwrap()))
    });
    group.bench_function("openmetrics", |b| {
        b.iter(|| black_box(encode(&snapshot, &metrics, true).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
