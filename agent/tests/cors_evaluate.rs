//! `POST /api/cors/evaluate` through the router: the verdict for given response headers,
//! both verdicts where Chromium and the standard differ, errors that name the field, and the
//! token it needs. Nothing is probed: the question holds the responses.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use serde_json::json;

const PATH: &str = "/api/cors/evaluate";

/// Asks a fresh agent as the admin.
async fn ask(body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    common::send(
        &common::router(),
        common::TOKEN,
        Method::POST,
        PATH,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn given_headers_get_both_verdicts_and_the_fix() {
    let body = json!({
        "request": {
            "origin": "https://shop.example",
            "method": "GET",
            "headers": [["Authorization", "Bearer t"]],
            "credentials": "same-origin"
        },
        "preflight": {"status": 204, "headers": [
            ["Access-Control-Allow-Origin", "https://shop.example"],
            ["Access-Control-Allow-Headers", "*"]
        ]},
        "actual": {"status": 200, "headers": [
            ["access-control-allow-origin", "https://shop.example"],
            ["vary", "Origin"]
        ]}
    });
    let (status, report) = ask(body).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["allowed"], true, "{report}");
    assert_eq!(report["standard_allowed"], false, "{report}");
    assert_eq!(
        report["divergences"][0]["id"],
        "acah_wildcard_authorization"
    );
    assert_eq!(report["credentials"], "same-origin");
    let row = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"] == "headers_allowed")
        .unwrap()
        .clone();
    assert_eq!(row["verdict"], "warn");
    assert_eq!(
        row["header_to_add"],
        "Access-Control-Allow-Headers: *, authorization"
    );
}

#[tokio::test]
async fn structured_no_cors_question_is_opaque() {
    let body = json!({
        "request": {"origin": "https://shop.example", "method": "GET", "mode": "no-cors"},
        "actual": {"status": 503, "headers": []}
    });
    let (status, report) = ask(body).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["mode"], "no-cors");
    assert_eq!(report["allowed"], true);
    assert_eq!(report["finding"]["code"], "cors_no_cors_opaque");
}

#[tokio::test]
async fn bad_questions_name_the_field() {
    let app = common::router();
    for (body, says) in [
        (
            json!({"request": {"origin": "https://a.example", "method": "GET"}, "actual_text": "HTTP/1.1 200 OK"}),
            "actual_text",
        ),
        (
            json!({"request": {"origin": "https://a.example", "method": "GET"}, "actual": {"status": 42}}),
            "status 42",
        ),
        (
            json!({"request": {"origin": "https://a.example", "method": "GET", "credentials": "cookies"}}),
            "same-origin",
        ),
        (
            json!({"request": {"origin": "https://a.example", "method": "GET"}, "preflight": {"status": 204, "header": []}}),
            "header",
        ),
        (
            json!({"request": {"origin": "https://a.example", "method": "GET", "headers": [["X-A"]]}}),
            "tuple",
        ),
    ] {
        let (status, err) = common::send(&app, common::TOKEN, Method::POST, PATH, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
}

#[tokio::test]
async fn it_needs_the_token() {
    let body = json!({"request": {"origin": "https://a.example", "method": "GET"}});
    let (status, _) =
        common::send(&common::router(), "wrong", Method::POST, PATH, Some(body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
