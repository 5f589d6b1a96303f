//! Many agents, one dashboard, through the router: `--cors-allow-origin` admits exactly
//! the configured origins (preflight and actual request, never `*`, never credentials) and
//! nothing without it; `POST /api/fleet/check` tells an agent that is down from one that
//! does not admit the dashboard's origin, probing real servers on loopback.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::json;
use tower::ServiceExt;
use vantage_agent::config::check_cors_origin;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::fleet::unreachable_reason;
use vantage_shared::probe::{AgentProbe, ReachVerdict};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const DASHBOARD: &str = "http://dash.example:8787";

fn agent(origins: &[&str]) -> Router {
    let state = AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        Store::in_memory().unwrap(),
    )
    .with_cors_allow_origins(origins.iter().map(|o| (*o).to_owned()).collect());
    app(state)
}

async fn send(app: &Router, req: Request<Body>) -> axum::http::Response<Body> {
    app.clone().oneshot(req).await.unwrap()
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/overview")
        .header(header::HOST, "127.0.0.1:8787")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Body::empty())
        .unwrap()
}

fn header_of(res: &axum::http::Response<Body>, name: header::HeaderName) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn only_the_configured_origins_are_admitted() {
    let app = agent(&[DASHBOARD]);
    let res = send(&app, preflight(DASHBOARD)).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        header_of(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some(DASHBOARD)
    );
    let headers = header_of(&res, header::ACCESS_CONTROL_ALLOW_HEADERS).unwrap_or_default();
    assert!(
        headers.to_ascii_lowercase().contains("authorization"),
        "{headers}"
    );
    assert_eq!(
        header_of(&res, header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
        None
    );

    let other = send(&app, preflight("http://evil.example")).await;
    assert_eq!(header_of(&other, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);

    // The actual request carries the token and gets the origin echoed.
    let get = Request::builder()
        .uri("/api/overview")
        .header(header::HOST, "127.0.0.1:8787")
        .header(header::ORIGIN, DASHBOARD)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let res = send(&app, get).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header_of(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some(DASHBOARD)
    );

    // Without the setting, no CORS header at all.
    let closed = agent(&[]);
    let res = send(&closed, preflight(DASHBOARD)).await;
    assert_eq!(header_of(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
}

#[test]
fn only_exact_origins_may_be_configured() {
    assert_eq!(
        check_cors_origin("https://Vantage.example:443/").unwrap(),
        "https://vantage.example"
    );
    assert_eq!(
        check_cors_origin("http://10.0.0.5:8787").unwrap(),
        "http://10.0.0.5:8787"
    );
    for bad in [
        "*",
        "null",
        "vantage.example",
        "https://vantage.example/dash",
        "https://u@h",
        "ftp://h",
    ] {
        let e = check_cors_origin(bad).unwrap_err().to_string();
        assert!(e.contains(bad), "{bad}: {e}");
    }
}

async fn fleet_check(app: &Router, url: &str) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/fleet/check")
        .header(header::HOST, "127.0.0.1:8787")
        .header(header::ORIGIN, DASHBOARD)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "url": url }).to_string()))
        .unwrap();
    let res = send(app, req).await;
    let status = res.status();
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

#[tokio::test]
async fn the_fleet_check_tells_a_closed_door_from_a_dead_port() {
    let app = agent(&[]);
    // Another agent that answers but admits no other origin (no CORS headers at all).
    let (addr, _server) = common::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}",
    )
    .await;
    let url = format!("http://{addr}");
    let (s, v) = fleet_check(&app, &url).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let probe: AgentProbe = serde_json::from_value(v).unwrap();
    assert_eq!(
        probe.cors.as_ref().map(|c| c.origin.as_str()),
        Some(DASHBOARD)
    );
    let why = unreachable_reason(&url, DASHBOARD, &probe);
    assert!(
        why.contains(&format!("--cors-allow-origin {DASHBOARD}")),
        "{why}"
    );

    // A port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}");
    let (_, v) = fleet_check(&app, &url).await;
    let probe: AgentProbe = serde_json::from_value(v).unwrap();
    assert_eq!(probe.verdict, ReachVerdict::Refused);
    assert!(unreachable_reason(&url, DASHBOARD, &probe).contains("connection refused"));

    // Only a base URL: no path, so nothing but the health route is ever probed.
    let (s, v) = fleet_check(&app, "http://127.0.0.1:9/api/containers").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = fleet_check(&app, "file:///etc/passwd").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
