//! A target's history through the API, against a real HTTP server on loopback: every probe
//! is kept, the summary adds them up (uptime, latency, incidents), and the scheduler
//! probes on its own at the target's interval.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::Value;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::probe::{
    NewTarget, ReachVerdict, Target, TargetHistory, TargetSource, TargetSummary,
};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn target(url: &str, interval: &str) -> Target {
    Target::from_new(
        NewTarget {
            name: "Backend".into(),
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
            interval: Some(interval.into()),
        },
        TargetSource::Config,
    )
}

fn state(targets: Vec<Target>) -> AppState {
    let docker = "unix:///nonexistent/docker.sock";
    AppState::new(TOKEN.into(), vec![], docker, Store::in_memory().unwrap())
        .with_reach(targets, vec![])
}

/// 200 with a two-byte body.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

async fn call(app: &Router, method: Method, uri: &str) -> (StatusCode, Value) {
    send(app, method, uri, None).await
}

async fn send(app: &Router, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    common::send(app, TOKEN, method, uri, body).await
}

#[tokio::test]
async fn every_probe_is_kept_and_the_summary_adds_them_up() {
    let (addr, server_task) = common::http_server(OK).await;
    let app = app(state(vec![target(&format!("http://{addr}/health"), "1h")]));

    // Before any probe: empty, not an error.
    let (s, v) = call(&app, Method::GET, "/api/targets/backend/summary").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let summary: TargetSummary = serde_json::from_value(v).unwrap();
    assert_eq!(summary.uptime[0].checks, 0);
    assert_eq!(summary.uptime[0].percent, None);

    for _ in 0..2 {
        let (s, v) = call(&app, Method::POST, "/api/targets/backend/probe").await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // The server goes away: the next probe is refused.
    server_task.abort();
    let _ = server_task.await;
    let (_, v) = call(&app, Method::POST, "/api/targets/backend/probe").await;
    assert_eq!(v["verdict"], "refused", "{v}");

    let (s, v) = call(&app, Method::GET, "/api/targets/backend/history?limit=10").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let history: TargetHistory = serde_json::from_value(v).unwrap();
    assert_eq!(history.total, 3);
    let [down, up, first] = &history.results[..] else {
        panic!("{history:?}")
    };
    assert!(down.at > up.at && up.at > first.at, "newest first");
    assert!(!down.up && down.verdict == ReachVerdict::Refused);
    assert!(down.error.as_deref().is_some_and(|e| !e.is_empty()));
    assert!(up.up && up.http_status == Some(200) && up.body_bytes == Some(2));
    assert!(up.total_ms.is_some() && up.connect_ms.is_some());

    let (_, v) = call(&app, Method::GET, "/api/targets/backend/summary").await;
    let summary: TargetSummary = serde_json::from_value(v).unwrap();
    let day = &summary.uptime[0];
    assert_eq!((day.window.as_str(), day.checks, day.up), ("24h", 3, 2));
    assert!(summary
        .latency
        .iter()
        .any(|l| l.phase == "total" && l.samples == 2));
    let [incident] = &summary.incidents[..] else {
        panic!("{summary:?}")
    };
    assert_eq!(incident.start, down.at);
    assert_eq!(incident.end, None, "still down");
    assert_eq!(incident.verdict, ReachVerdict::Refused);

    // Bad queries and unknown targets say what is wrong.
    let (s, _) = call(&app, Method::GET, "/api/targets/backend/history?limit=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&app, Method::GET, "/api/targets/nope/summary").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_scheduler_probes_each_target_at_its_interval() {
    let (addr, _server) = common::http_server(OK).await;
    let state = state(vec![target(&format!("http://{addr}/"), "5s")]);
    let app = app(state.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(vantage_agent::reach::schedule::run(state, stopped));

    // The first probe falls somewhere in the first 5 s, the second 5 s later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let history = loop {
        let (_, v) = call(&app, Method::GET, "/api/targets/backend/history").await;
        let h: TargetHistory = serde_json::from_value(v).unwrap();
        if h.total >= 2 || tokio::time::Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(history.total >= 2, "{history:?}");
    let gap = history.results[0].at - history.results[1].at;
    assert!(
        (4_000..=6_500).contains(&gap.num_milliseconds()),
        "probes {gap} apart"
    );
    assert!(history.results.iter().all(|r| r.up));

    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(5), scheduler)
        .await
        .expect("the scheduler stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn a_dashboard_targets_interval_changes_in_place_and_the_scheduler_follows() {
    let (addr, _server) = common::http_server(OK).await;
    let state = state(vec![target(&format!("http://{addr}/config"), "1h")]);
    let app = app(state.clone());
    let url = format!("http://{addr}/dash");
    let (s, v) = send(
        &app,
        Method::POST,
        "/api/targets",
        Some(serde_json::json!({"name": "Dash", "url": url, "interval": "1h"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // One result before the change, which must survive it.
    let (s, _) = call(&app, Method::POST, "/api/targets/dash/probe").await;
    assert_eq!(s, StatusCode::OK);

    let patch = |body: Value, id: &'static str| {
        let app = app.clone();
        async move {
            send(
                &app,
                Method::PATCH,
                &format!("/api/targets/{id}"),
                Some(body),
            )
            .await
        }
    };
    let (s, v) = patch(serde_json::json!({"interval_seconds": 2}), "dash").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("5 s to 24 h"),
        "{v}"
    );
    let (s, v) = patch(
        serde_json::json!({"interval_seconds": 5, "url": "http://x/"}),
        "dash",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `url`"),
        "{v}"
    );
    let (s, v) = patch(serde_json::json!({"interval_seconds": 5}), "backend").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("config file"),
        "{v}"
    );
    let (s, _) = patch(serde_json::json!({"interval_seconds": 5}), "nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, v) = patch(serde_json::json!({"interval_seconds": 5}), "dash").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let changed: Target = serde_json::from_value(v).unwrap();
    assert_eq!(
        (changed.interval_seconds, changed.url.as_str()),
        (5, url.as_str())
    );
    let (_, v) = call(&app, Method::GET, "/api/targets").await;
    let listed: Vec<Target> = serde_json::from_value(v).unwrap();
    assert_eq!(
        listed
            .iter()
            .find(|t| t.id == "dash")
            .unwrap()
            .interval_seconds,
        5
    );

    // The scheduler re-reads targets: the hourly target is now probed every 5 s, and the
    // result from before the change is still there.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(vantage_agent::reach::schedule::run(state, stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    let history = loop {
        let (_, v) = call(&app, Method::GET, "/api/targets/dash/history").await;
        let h: TargetHistory = serde_json::from_value(v).unwrap();
        if h.total >= 3 || tokio::time::Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(history.total >= 3, "{history:?}");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), scheduler).await;
}
