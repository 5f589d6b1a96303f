//! Router tests with `oneshot`: authentication on every protected route, the Host
//! check, error shapes, and Docker-unavailable answers, without a socket.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::ApiErrorBody;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn test_app() -> (Router, AppState) {
    // An endpoint nobody listens on: the handle stays "connecting" (no watcher runs).
    let docker = "unix:///nonexistent/docker.sock";
    let state = AppState::new(
        TOKEN.into(),
        vec!["vantage.example.com".into()],
        docker,
        Store::in_memory().unwrap(),
    );
    (app(state.clone()), state)
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    host: &str,
    token: Option<&str>,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, host);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<ApiErrorBody>(body)
        .unwrap_or_else(|e| {
            panic!(
                "not an ApiErrorBody ({e}): {}",
                String::from_utf8_lossy(body)
            )
        })
        .error
}

/// Every route the OpenAPI document lists, with `{id}` filled in.
async fn documented_routes(app: &Router) -> Vec<(Method, String, bool)> {
    let (status, body) = send(
        app,
        Method::GET,
        "/api/openapi.json",
        "127.0.0.1:8787",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op.get("security").is_some();
            let uri = path.replace("{id}", "web");
            routes.push((method.to_uppercase().parse().unwrap(), uri, secured));
        }
    }
    routes
}

#[tokio::test]
async fn every_route_but_liveness_and_event_stream_requires_the_token() {
    let (app, _) = test_app();
    let routes = documented_routes(&app).await;
    assert!(
        routes.len() >= 10,
        "OpenAPI lists too few routes: {routes:?}"
    );
    for (method, uri, secured) in routes {
        let public = uri == "/api/health" || uri == "/api/events";
        assert_eq!(
            secured, !public,
            "{method} {uri}: OpenAPI security does not match the router"
        );
        if public {
            continue;
        }
        for token in [None, Some("wrong"), Some(&TOKEN[..63])] {
            let (status, body) = send(&app, method.clone(), &uri, "localhost:8787", token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {token:?}"
            );
            assert_eq!(error_code(&body), "unauthorized");
        }
        let (status, _) = send(&app, method.clone(), &uri, "localhost:8787", Some(TOKEN)).await;
        assert_ne!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri} refused the right token"
        );
    }
}

#[tokio::test]
async fn liveness_needs_no_token() {
    let (app, _) = test_app();
    let (status, body) = send(&app, Method::GET, "/api/health", "127.0.0.1:8787", None).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn foreign_host_names_are_refused_even_with_the_token() {
    let (app, _) = test_app();
    for host in ["attacker.example:8787", "127.0.0.1.nip.io:8787"] {
        for uri in ["/api/health", "/api/containers", "/"] {
            let (status, body) = send(&app, Method::GET, uri, host, Some(TOKEN)).await;
            assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host} {uri}");
            assert_eq!(error_code(&body), "forbidden_host");
        }
    }
    for host in [
        "vantage.example.com",
        "[::1]:8787",
        "192.168.1.20:8787",
        "localhost",
    ] {
        let (status, _) = send(&app, Method::GET, "/api/health", host, None).await;
        assert_eq!(status, StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn docker_unavailable_is_said_plainly() {
    let (app, _) = test_app();
    for uri in [
        "/api/containers",
        "/api/networks",
        "/api/containers/web",
        "/api/connectivity?from=a&to=b",
    ] {
        let (status, body) = send(&app, Method::GET, uri, "localhost", Some(TOKEN)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        let e: ApiErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(e.error, "docker_unavailable");
        assert!(e.message.starts_with("docker: "), "{}", e.message);
    }
    // The overview still answers, with the status inside.
    let (status, body) = send(&app, Method::GET, "/api/overview", "localhost", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["docker"]["state"], "connecting");
}

#[tokio::test]
async fn bad_input_gets_json_errors() {
    let (app, _) = test_app();
    let cases = [
        (
            "/api/containers/web/health-history?limit=abc",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/containers/web/health-history?limit=0",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/containers/web/health-history?limit=100000",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/containers/web/health-history?since=yesterday",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/containers/nosuch/health-history",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("/api/nosuch", StatusCode::NOT_FOUND, "not_found"),
        (
            "/api/events?ticket=forged",
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
    ];
    for (uri, want, code) in cases {
        let (status, body) = send(&app, Method::GET, uri, "localhost", Some(TOKEN)).await;
        assert_eq!(status, want, "{uri}: {}", String::from_utf8_lossy(&body));
        assert_eq!(error_code(&body), code, "{uri}");
    }
}

#[tokio::test]
async fn history_is_served_from_the_store_without_docker() {
    let (app, state) = test_app();
    let start = chrono::Utc::now() - chrono::Duration::seconds(10);
    let run = vantage_shared::HealthcheckRun {
        start,
        end: start + chrono::Duration::milliseconds(30),
        duration_ms: 30,
        exit_code: 1,
        output: "not ready".into(),
        status: vantage_shared::HealthStatus::Starting,
    };
    state
        .store
        .insert_runs("f00dbabe".repeat(8), "web".into(), vec![run])
        .await
        .unwrap();
    let (status, body) = send(
        &app,
        Method::GET,
        "/api/containers/web/health-history",
        "localhost",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let h: vantage_shared::HealthHistory = serde_json::from_slice(&body).unwrap();
    assert_eq!(h.total, 1);
    assert_eq!(h.runs[0].output, "not ready");
    assert_eq!(h.container_name, "web");
}

#[tokio::test]
async fn event_tickets_open_the_stream_once() {
    let (app, _) = test_app();
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/events/ticket",
        "localhost",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let t: vantage_shared::EventTicket = serde_json::from_slice(&body).unwrap();
    let req = Request::get(format!("/api/events?ticket={}", t.ticket))
        .header(header::HOST, "localhost")
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    // The first event is the Docker status.
    let mut body = res.into_body();
    let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let text = String::from_utf8_lossy(&frame);
    assert!(text.starts_with("event: docker\n"), "{text}");
    let (status, _) = send(
        &app,
        Method::GET,
        &format!("/api/events?ticket={}", t.ticket),
        "localhost",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "tickets are single use");
}

#[tokio::test]
async fn spa_routes_fall_back_to_the_dashboard() {
    let (app, _) = test_app();
    let (status, body) = send(&app, Method::GET, "/containers/web", "localhost", None).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8_lossy(&body);
    // Either the real dashboard or the page that explains how to build it, never a 404.
    if vantage_agent::web::dashboard_built() {
        assert!(
            html.contains("<title>Vantage</title>") && html.contains(".wasm"),
            "{html}"
        );
    } else {
        assert!(html.contains("dashboard was not built"), "{html}");
    }
}

#[tokio::test]
async fn huge_bodies_are_refused_with_a_json_error() {
    let (app, _) = test_app();
    let body = vec![b'x'; 2 * 1024 * 1024];
    let req = Request::post("/api/events/ticket")
        .header(header::HOST, "localhost")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(error_code(&bytes), "payload_too_large");
}

#[tokio::test]
async fn more_bad_input_and_edge_cases() {
    let (app, _) = test_app();
    // A `since` outside what the history can store is the caller's mistake, not a 500.
    let (status, body) = send(
        &app,
        Method::GET,
        "/api/containers/web/health-history?since=1500-01-01T00:00:00Z",
        "localhost",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "bad_request");
    // Wrong method: JSON 405, like every other error.
    let (status, body) = send(
        &app,
        Method::DELETE,
        "/api/containers",
        "localhost",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(&body), "method_not_allowed");
    // A configured name with a port in the Host header.
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/health",
        "vantage.example.com:8443",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The auth scheme is case-insensitive.
    let req = Request::get("/api/overview")
        .header(header::HOST, "localhost")
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(req).await.unwrap().status(),
        StatusCode::OK
    );
    // No Host header at all.
    let req = Request::get("/api/health").body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
