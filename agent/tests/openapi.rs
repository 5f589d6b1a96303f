//! The API contract in the repository: `docs/openapi.json` is the document the agent
//! generates, byte for byte, `docs/api.md`'s route table lists exactly its routes, and the
//! limits it states are the ones the handlers enforce. The live counterpart, a fuzzer
//! against the running agent, is `tests/tests/api_schema.rs`.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

const REGENERATE: &str = "VANTAGE_UPDATE_OPENAPI=1 cargo test -p vantage-agent --test openapi";

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

fn generated() -> &'static str {
    vantage_agent::routes::openapi_json_text()
        .unwrap_or_else(|e| panic!("the agent cannot generate its OpenAPI document: {e}"))
}

fn document() -> Value {
    serde_json::from_str(generated()).unwrap()
}

#[test]
fn committed_document_is_the_generated_one() {
    let path = docs_dir().join("openapi.json");
    let fresh = generated();
    if std::env::var("VANTAGE_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == fresh {
        return;
    }
    let line = committed
        .lines()
        .zip(fresh.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
    panic!(
        "docs/openapi.json is not the document the code generates (first difference at line {}):\n  committed: {}\n  generated: {}\nThe API changed: regenerate it with `{REGENERATE}`, check the diff, and update docs/api.md to match.",
        line + 1,
        committed.lines().nth(line).unwrap_or("(end of file)"),
        fresh.lines().nth(line).unwrap_or("(end of file)"),
    );
}

#[test]
fn document_is_openapi_3_1_with_stable_order() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    // Generated twice, the same text: nothing in it depends on hash order or the clock.
    let again = vantage_agent::routes::openapi().to_pretty_json().unwrap();
    assert_eq!(again.trim_end(), generated().trim_end());
}

/// `(METHOD, /path)` for every operation of the document.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// `(METHOD, /path)` for every row of the route table in `docs/api.md` (the first cell,
/// `` `GET /api/x?query` ``, without its query string).
fn api_md_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(docs_dir().join("api.md")).unwrap();
    let section = text
        .split("\n## Routes")
        .nth(1)
        .expect("docs/api.md has a `## Routes` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut out = BTreeSet::new();
    for line in section.lines() {
        let Some(cell) = line.strip_prefix("| `") else {
            continue;
        };
        let route = cell.split('`').next().unwrap();
        let (method, path) = route
            .split_once(' ')
            .unwrap_or_else(|| panic!("docs/api.md route `{route}`: want `METHOD /path`"));
        let path = path.split('?').next().unwrap();
        let fresh = out.insert((method.to_owned(), path.to_owned()));
        assert!(fresh, "docs/api.md lists `{method} {path}` twice");
    }
    out
}

#[test]
fn api_md_route_table_matches_the_document() {
    let documented = documented_routes(&document());
    let listed = api_md_routes();
    let missing: Vec<_> = documented.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&documented).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/api.md's route table and the OpenAPI document disagree:\n  in the document, not in docs/api.md: {missing:?}\n  in docs/api.md, not in the document: {extra:?}\nPath parameters must have the document's names (`{{id}}`)."
    );
}

/// Looks up a JSON pointer, failing with the pointer when it is absent.
fn at<'a>(doc: &'a Value, pointer: &str) -> &'a Value {
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} is not in the OpenAPI document"))
}

fn number(doc: &Value, pointer: &str) -> u64 {
    at(doc, pointer)
        .as_u64()
        .unwrap_or_else(|| panic!("{pointer} is not a whole number: {}", at(doc, pointer)))
}

/// A query parameter's schema.
fn query_param<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    let pointer = format!("/paths/{}/{method}/parameters", path.replace('/', "~1"));
    at(doc, &pointer)
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("{method} {path} has no parameter `{name}`"))
}

/// The numbers in the document come from the constants the handlers check against: the
/// attributes take literals, so this is what keeps the two from drifting apart.
#[test]
fn documented_limits_are_the_enforced_ones() {
    use vantage_shared::gpu;
    use vantage_shared::probe;

    let doc = document();
    // Request bodies are closed (strict_bodies.rs). Its rewrite falls back to the open
    // document if the rewritten one does not read back, so a schema it cannot round-trip
    // would silently open every body: this catches that.
    for schema in ["NewPhoneLink", "DeviceReportIn", "RulesQuestion"] {
        let s = at(&doc, &format!("/components/schemas/{schema}"));
        let closed =
            s["additionalProperties"] == false || s["allOf"][0]["additionalProperties"] == false;
        assert!(closed, "{schema} is not closed: {s:#}");
    }
    assert_eq!(
        at(
            &doc,
            "/components/schemas/NewTarget/allOf/0/additionalProperties"
        ),
        &false
    );
    assert_eq!(
        at(
            &doc,
            "/components/schemas/ProxyAdmin/allOf/0/additionalProperties"
        ),
        &false
    );
    let limit = query_param(&doc, "/api/containers/{id}/health-history", "get", "limit");
    assert_eq!(limit["minimum"], 1);
    assert_eq!(
        limit["maximum"],
        u64::from(vantage_agent::routes::MAX_HISTORY_LIMIT)
    );

    let link = "/components/schemas/NewPhoneLink/properties";
    assert_eq!(
        number(&doc, &format!("{link}/ttl_minutes/maximum")),
        u64::from(vantage_shared::probe::MAX_LINK_TTL_MINUTES)
    );
    assert_eq!(
        number(&doc, &format!("{link}/ttl_seconds/maximum")),
        u64::from(vantage_shared::probe::MAX_LINK_TTL_MINUTES) * 60
    );

    let report = "/components/schemas/DeviceReportIn/properties";
    assert_eq!(
        number(&doc, &format!("{report}/results/maxItems")),
        probe::MAX_REPORT_RESULTS as u64
    );

    let target = "/components/schemas/NewTarget/allOf/0/properties";
    assert_eq!(
        number(&doc, &format!("{target}/url/maxLength")),
        probe::MAX_TARGET_URL as u64
    );

    let gpu_options = "/components/schemas/GpuBenchOptions/properties";
    assert_eq!(
        number(&doc, &format!("{gpu_options}/image_side/minimum")),
        u64::from(gpu::MIN_IMAGE_SIDE)
    );
    assert_eq!(
        number(&doc, &format!("{gpu_options}/image_side/maximum")),
        u64::from(gpu::MAX_API_IMAGE_SIDE)
    );
    assert_eq!(
        number(&doc, &format!("{gpu_options}/ns/maxItems")),
        gpu::MAX_NS as u64
    );
    assert_eq!(
        number(&doc, &format!("{gpu_options}/ns/items/maximum")),
        u64::from(gpu::MAX_CHAIN)
    );
    assert_eq!(
        number(&doc, &format!("{gpu_options}/transfer_sizes/maxItems")),
        gpu::MAX_TRANSFER_SIZES as u64
    );
    assert_eq!(
        number(&doc, &format!("{gpu_options}/transfer_sizes/items/minimum")),
        gpu::MIN_TRANSFER_BYTES
    );
    assert_eq!(
        number(&doc, &format!("{gpu_options}/transfer_sizes/items/maximum")),
        gpu::MAX_TRANSFER_BYTES
    );
    assert_eq!(
        number(&doc, &format!("{gpu_options}/repetitions/maximum")),
        u64::from(gpu::MAX_REPETITIONS)
    );
}

/// POSTs a JSON body (as text, so it can be what no serde type would write) with the token.
async fn post_json(path: &str, body: &str) -> (u16, Value) {
    use axum::body::Body;
    use axum::http::{header, Request};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let state = vantage_agent::AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        vantage_agent::store::Store::in_memory().unwrap(),
    );
    let req = Request::post(path)
        .header(header::HOST, "localhost")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let res = vantage_agent::app(state).oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Bodies are read as the document describes them (JSON Schema's data model), not as
/// serde would on its own.
#[tokio::test]
async fn bodies_are_read_as_the_document_describes_them() {
    // serde reads a struct from an array; the document says object.
    let (status, body) = post_json("/api/phone-links", "[null, null]").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("JSON object"),
        "{body}"
    );
    // Nested too: the question's destination is an object.
    let (status, body) = post_json(
        "/api/rules/evaluate",
        r#"{"source": "192.0.2.1", "port": 443, "destination": [null, [], [], []]}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("body.destination"),
        "{body}"
    );
    // JSON Schema counts 1.0 as an integer.
    let (status, body) = post_json("/api/phone-links", r#"{"ttl_minutes": 1.0}"#).await;
    assert_eq!(status, 201, "{body}");
    // A real fraction is still refused, with the path serde reports.
    let (status, body) = post_json("/api/phone-links", r#"{"ttl_minutes": 1.5}"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("body.ttl_minutes: invalid type"),
        "{body}"
    );
    // Syntax errors say where, by line and column.
    let (status, body) = post_json("/api/phone-links", "{\n  \"ttl_minutes\": }").await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("bad JSON body"), "{body}");
    assert!(message.contains("line 2 column"), "{body}");
    // A body that is not JSON at all, or sent as something else, says what to send.
    let (status, body) = post_json("/api/phone-links", "ttl=5").await;
    assert_eq!(status, 400, "{body}");
}
