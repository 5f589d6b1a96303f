//! Strict request bodies: every route that takes JSON refuses a key its type does not
//! have, naming it (at the top level and nested), instead of dropping it; the OpenAPI
//! document says so (`additionalProperties: false`) for every object a body reaches. A
//! CORS method is any RFC 9110 token (`M-SEARCH`), not only letters.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

/// `(method, path)` of every operation whose body is JSON, from the agent's own document.
fn json_body_routes(doc: &Value) -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op
                .pointer("/requestBody/content/application~1json")
                .is_some()
            {
                let uri = path.replace("{id}", "web").replace("{name}", "hook");
                out.push((method.to_uppercase().parse().unwrap(), uri));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_json_body_refuses_an_unknown_key_by_name() {
    let app = common::router();
    let (_, doc) = common::send(&app, common::TOKEN, Method::GET, "/api/openapi.json", None).await;
    let routes = json_body_routes(&doc);
    assert!(routes.len() >= 8, "{routes:?}");
    for (method, path) in routes {
        let mut body = json!({"bogus_field": 1});
        if path.ends_with("/channels") {
            // An internally tagged body: its tag is read first.
            body["kind"] = json!("webhook");
        }
        let (s, v) = common::send(&app, common::TOKEN, method.clone(), &path, Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {path}: {v}");
        let message = v["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("bogus_field"),
            "{method} {path}: {message}"
        );
    }
}

#[tokio::test]
async fn a_nested_unknown_key_is_named_with_its_place() {
    let app = common::router();
    let (s, v) = common::send(
        &app,
        common::TOKEN,
        Method::POST,
        "/api/targets",
        Some(json!({"name": "Shop API", "url": "https://shop.example/", "firewall": {"sets": [], "colour": "red"}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["message"].as_str().unwrap().contains("colour"), "{v}");

    let (s, v) = common::send(
        &app,
        common::TOKEN,
        Method::POST,
        "/api/targets",
        Some(json!({"name": "Shop API", "url": "https://shop.example/", "cors_orign": "https://x.example"})),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a misspelt optional field is not dropped: {v}"
    );
    assert_eq!(
        v["message"],
        "bad JSON body: body: unknown field `cors_orign`"
    );

    let fetch = json!({"outcome": "ok", "status": 200, "elapsed_ms": 12, "error": null});
    let (s, v) = common::send(
        &app,
        common::TOKEN,
        Method::POST,
        "/api/reports",
        Some(json!({
            "device_id": "phone-1", "page_origin": "http://127.0.0.1",
            "results": [{"target_id": "x", "no_cors": fetch, "cors": fetch, "blocked_by": null, "timing": null, "extra": 1}]
        })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["message"],
        "bad JSON body: body.results[0]: unknown field `extra`"
    );
}

#[tokio::test]
async fn the_document_closes_every_object_a_body_reaches() {
    let app = common::router();
    let (_, doc) = common::send(&app, common::TOKEN, Method::GET, "/api/openapi.json", None).await;
    let schemas = &doc["components"]["schemas"];
    for name in [
        "DeviceReportIn",
        "BrowserCheck",
        "FetchAttempt",
        "NewPhoneLink",
        "FleetCheck",
        "RuleScope",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            json!(false),
            "{name}: {:#}",
            schemas[name]
        );
    }
    // NewTarget: the base object of its allOf, not the conditions after it.
    assert_eq!(
        schemas["NewTarget"]["allOf"][0]["additionalProperties"],
        json!(false)
    );
    // Response-only schemas stay open: an agent may add fields.
    assert!(schemas["Overview"].get("additionalProperties").is_none());
}

#[tokio::test]
async fn any_token_is_a_cors_method() {
    let app = common::router();
    let target = |method: &str| json!({"name": format!("t {method}"), "url": "https://shop.example/", "cors_origin": "https://shop.example", "cors_method": method});
    for method in ["M-SEARCH", "PROPFIND", "GET"] {
        let (s, v) = common::send(
            &app,
            common::TOKEN,
            Method::POST,
            "/api/targets",
            Some(target(method)),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{method}: {v}");
    }
    for method in ["GET POST", "GE(T", "Ä"] {
        let (s, v) = common::send(
            &app,
            common::TOKEN,
            Method::POST,
            "/api/targets",
            Some(target(method)),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method}: {v}");
    }
}
