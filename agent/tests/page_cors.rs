//! The reports route's CORS for the page users visit (the console snippet): admitted only
//! for a target's `cors_origin`, only on `POST /api/reports` and its preflight, only while a
//! phone link is valid; never for another origin or another route.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::probe::{NewTarget, Target, TargetSource};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SHOP: &str = "https://shop.example";

fn shop_app() -> Router {
    let target = Target::from_new(
        NewTarget {
            name: "Shop API".into(),
            url: "https://api.shop.example/products".into(),
            expected_status: None,
            cors_origin: Some(SHOP.into()),
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
    .with_reach(vec![target], vec![]);
    app(state)
}

/// One request; its status, headers and JSON body.
async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1:8787");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let mut req = req.body(body).unwrap();
    req.extensions_mut().insert(ConnectInfo(
        "198.51.100.23:50000".parse::<SocketAddr>().unwrap(),
    ));
    let res = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn preflight(app: &Router, origin: &str) -> (StatusCode, HeaderMap) {
    let (s, h, _) = call(
        app,
        Method::OPTIONS,
        "/api/reports",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type",
            ),
        ],
        None,
    )
    .await;
    (s, h)
}

fn acao(h: &HeaderMap) -> Option<&str> {
    h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .and_then(|v| v.to_str().ok())
}

fn report() -> Value {
    let ok = json!({"outcome": "ok", "status": null, "elapsed_ms": 40, "error": null});
    json!({
        "device_id": "page-shop-example",
        "page_origin": SHOP,
        "results": [{"target_id": "shop-api", "no_cors": ok, "cors": {"outcome": "ok", "status": 200, "elapsed_ms": 41, "error": null}, "blocked_by": null, "timing": null}]
    })
}

#[tokio::test]
async fn the_shops_origin_may_report_while_a_link_is_valid_and_nothing_else() {
    let app = shop_app();
    // No valid link yet: the preflight gets no CORS answer.
    let (_, h) = preflight(&app, SHOP).await;
    assert_eq!(acao(&h), None, "{h:?}");

    let auth = format!("Bearer {TOKEN}");
    let (s, _, link) = call(
        &app,
        Method::POST,
        "/api/phone-links",
        &[("authorization", &auth)],
        Some(json!({"ttl_minutes": 10})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let code = link["code"].as_str().unwrap().to_owned();

    let (s, h) = preflight(&app, SHOP).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(acao(&h), Some(SHOP));
    assert_eq!(h.get("access-control-allow-methods").unwrap(), "POST");
    assert_eq!(h.get("access-control-allow-private-network"), None);
    // Chrome's Private Network Access question gets its answer for this route.
    let (_, h, _) = call(
        &app,
        Method::OPTIONS,
        "/api/reports",
        &[
            ("origin", SHOP),
            ("access-control-request-method", "POST"),
            ("access-control-request-private-network", "true"),
        ],
        None,
    )
    .await;
    assert_eq!(
        h.get("access-control-allow-private-network").unwrap(),
        "true"
    );
    // The same origin written differently is the same origin.
    let (_, h) = preflight(&app, "HTTPS://SHOP.EXAMPLE").await;
    assert_eq!(acao(&h), Some("HTTPS://SHOP.EXAMPLE"));
    // Another origin, or `null`, gets nothing.
    for other in ["https://evil.example", "null", "http://shop.example"] {
        let (_, h) = preflight(&app, other).await;
        assert_eq!(acao(&h), None, "{other}");
    }

    // The report itself, with the link's code: accepted, and readable by the page.
    let bearer = format!("Bearer {code}");
    let (s, h, v) = call(
        &app,
        Method::POST,
        "/api/reports",
        &[("origin", SHOP), ("authorization", &bearer)],
        Some(report()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(acao(&h), Some(SHOP));
    assert_eq!(v["targets"][0]["devices"][0]["page_origin"], SHOP, "{v:#}");
    // Without the code the route still refuses it.
    let (s, _, _) = call(
        &app,
        Method::POST,
        "/api/reports",
        &[("origin", SHOP)],
        Some(report()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Every other route stays closed to the shop's origin, the link's own included.
    for path in ["/api/phone/targets", "/api/comparison", "/api/targets"] {
        let (_, h, _) = call(
            &app,
            Method::GET,
            path,
            &[("origin", SHOP), ("authorization", &bearer)],
            None,
        )
        .await;
        assert_eq!(acao(&h), None, "{path}");
    }

    // Revoked: the origin is closed again.
    let (s, _, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/phone-links/{code}"),
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, h) = preflight(&app, SHOP).await;
    assert_eq!(acao(&h), None);
}
