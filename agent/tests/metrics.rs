//! `GET /metrics` through the router: the read-only metrics token (or the admin token)
//! and nothing else; Prometheus text by default and OpenMetrics on request; a target's
//! series follow its probes against a real server on loopback, down included.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use common::Receiver;
use http_body_util::BodyExt;
use tower::ServiceExt;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::probe::{NewTarget, Target, TargetSource};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const METRICS: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

fn agent(url: &str) -> Router {
    let target = Target::from_new(
        NewTarget {
            name: "Shop API".into(),
            url: url.into(),
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
    );
    let state = AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        Store::in_memory().unwrap(),
    )
    .with_reach(vec![target], vec![])
    .with_metrics_token(METRICS.into());
    app(state)
}

async fn scrape(
    app: &Router,
    token: Option<&str>,
    accept: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = Request::builder()
        .uri("/metrics")
        .header(header::HOST, "127.0.0.1:8787");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(a) = accept {
        req = req.header(header::ACCEPT, a);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, kind, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn only_the_metrics_or_admin_token_reads_metrics() {
    let app = agent("http://127.0.0.1:9/");
    assert_eq!(scrape(&app, None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scrape(&app, Some(""), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scrape(&app, Some("x"), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(scrape(&app, Some(METRICS), None).await.0, StatusCode::OK);
    assert_eq!(scrape(&app, Some(TOKEN), None).await.0, StatusCode::OK);
    // The metrics token opens nothing else.
    let (s, _) = common::send(&app, METRICS, Method::GET, "/api/targets", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_targets_series_follow_its_probes() {
    let service = Receiver::start(200).await;
    let app = agent(&service.url("/health"));
    // Not probed yet: its info, but no made-up `up`.
    let (_, kind, text) = scrape(&app, Some(METRICS), None).await;
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    assert!(
        text.contains("vantage_target_info{target=\"shop-api\",name=\"Shop API\""),
        "{text}"
    );
    assert!(!text.contains("vantage_target_up{"), "{text}");
    assert!(
        text.contains(&format!(
            "vantage_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(text.contains("vantage_docker_up 0"), "{text}");

    let probe = || {
        common::send(
            &app,
            TOKEN,
            Method::POST,
            "/api/targets/shop-api/probe",
            None,
        )
    };
    probe().await;
    let (_, _, text) = scrape(&app, Some(METRICS), None).await;
    assert!(
        text.contains("vantage_target_up{target=\"shop-api\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("vantage_target_http_status{target=\"shop-api\"} 200"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE vantage_target_probes_total counter"),
        "{text}"
    );
    assert!(
        text.contains("vantage_target_probes_total{target=\"shop-api\",result=\"up\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "vantage_target_phase_duration_seconds_count{target=\"shop-api\",phase=\"connect\"} 1"
        ),
        "{text}"
    );

    service.set_status(503);
    probe().await;
    let (_, _, text) = scrape(&app, Some(METRICS), None).await;
    assert!(
        text.contains("vantage_target_up{target=\"shop-api\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("vantage_target_http_status{target=\"shop-api\"} 503"),
        "{text}"
    );
    assert!(
        text.contains("vantage_target_probes_total{target=\"shop-api\",result=\"down\"} 1"),
        "{text}"
    );

    let (s, kind, open) = scrape(
        &app,
        Some(METRICS),
        Some("application/openmetrics-text;version=1.0.0"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(
        open.contains("# TYPE vantage_target_probes counter"),
        "{open}"
    );
}
