//! The phone link's scoped token against the real agent process: it may list the probe
//! set, probe configured targets and post results, and nothing else; it expires
//! and can be revoked. Also which client address a device report records, with and
//! without a trusted proxy in front.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use support::nginx::{free_port, Nginx};
use support::{http, Agent, AgentLaunch};
use vantage_shared::probe::slug;

const NO_DOCKER: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");

/// An API to probe (real nginx) and an agent whose config names it as target "Shop API".
struct Setup {
    _nginx: Nginx,
    nginx_port: u16,
    agent: Agent,
    _data: tempfile::TempDir,
}

fn setup(extra_args: &[&str]) -> Setup {
    let nginx_port = free_port();
    let nginx = Nginx::start(&format!(
        "server {{ listen 127.0.0.1:{nginx_port};\n\
         location / {{ add_header Access-Control-Allow-Origin * always; return 200 'ok'; }} }}\n"
    ));
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vantage.toml");
    std::fs::write(
        &config,
        format!(
            "[[targets]]\nname = \"Shop API\"\nurl = \"http://127.0.0.1:{nginx_port}/items\"\n"
        ),
    )
    .unwrap();
    let mut args = vec!["--config".to_owned(), config.display().to_string()];
    args.extend(extra_args.iter().map(|s| (*s).to_owned()));
    let agent = Agent::start_with(
        data.path(),
        &[NO_DOCKER],
        &AgentLaunch {
            args,
            ..AgentLaunch::default()
        },
    );
    Setup {
        _nginx: nginx,
        nginx_port,
        agent,
        _data: data,
    }
}

/// One request with `token` (and extra headers); status and JSON body (Null if none).
async fn call(
    agent: &Agent,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = http()
        .request(method.clone(), agent.url(path))
        .bearer_auth(token);
    for (n, v) in headers {
        rb = rb.header(*n, *v);
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let res = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// `POST /api/phone-links` with the admin token.
async fn phone_link(agent: &Agent, body: Value) -> Value {
    let (status, link) = agent.post_json("/api/phone-links", &body).await;
    assert!(
        status == 200 || status == 201,
        "POST /api/phone-links {body}: {status} {link}"
    );
    let code = link["code"].as_str().unwrap_or_default();
    assert!(!code.is_empty(), "{link}");
    assert!(
        link["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/p/{code}")),
        "{link}"
    );
    link
}

/// A device report for `target_id`: both fetch modes answered 200.
fn report(target_id: &str, device_id: &str) -> Value {
    let ok = json!({ "outcome": "ok", "status": 200, "elapsed_ms": 12, "error": null });
    json!({
        "device_id": device_id,
        "page_origin": "http://127.0.0.1",
        "results": [{
            "target_id": target_id,
            "no_cors": { "outcome": "ok", "status": null, "elapsed_ms": 10, "error": null },
            "cors": ok,
            "blocked_by": null,
            "timing": null
        }]
    })
}

/// A port that counts connections made to it: proof that nobody probed it.
fn canary() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 256];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut buf);
        }
    });
    (port, hits)
}

#[tokio::test]
async fn phone_token_may_probe_configured_targets_and_nothing_else() {
    let s = setup(&[]);
    let agent = &s.agent;
    let link = phone_link(agent, json!({ "ttl_minutes": 10 })).await;
    let phone = link["code"].as_str().unwrap();

    // The probe set: the configured target, the client address, the expiry.
    let (status, set) = call(agent, "GET", "/api/phone/targets", phone, None, &[]).await;
    assert_eq!(status, 200, "{set}");
    let ids: Vec<&str> = set["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["shop-api"], "{set}");
    assert_eq!(set["client_ip"], "127.0.0.1", "{set}");
    assert_eq!(set["expires_at"], link["expires_at"], "{set}");

    // Admin routes: forbidden, not merely unauthenticated.
    for (method, path) in [
        ("GET", "/api/containers"),
        ("GET", "/api/overview"),
        ("GET", "/api/comparison"),
        ("GET", "/api/targets"),
        ("GET", "/api/phone-links"),
        ("POST", "/api/phone-links"),
        ("POST", "/api/events/ticket"),
    ] {
        let body = (method == "POST").then(|| json!({}));
        let (status, b) = call(agent, method, path, phone, body.as_ref(), &[]).await;
        assert_eq!(status, 403, "phone token {method} {path}: {b}");
    }

    // A configured target: probed for real.
    let (status, probe) = call(
        agent,
        "POST",
        "/api/targets/shop-api/probe",
        phone,
        None,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{probe}");
    assert_eq!(probe["target_id"], "shop-api");
    assert_eq!(probe["verdict"], "reachable", "{probe:#}");
    // A phone sees the verdict, not the target's headers, body or addresses.
    assert!(
        probe["http"].is_null() && probe["tcp"] == json!([]),
        "{probe:#}"
    );
    // An id that is not configured.
    let (status, b) = call(
        agent,
        "POST",
        "/api/targets/not-configured/probe",
        phone,
        None,
        &[],
    )
    .await;
    assert!(
        status == 404 || status == 403,
        "unknown target: {status} {b}"
    );

    // No route probes an arbitrary URL with a phone token, whatever the body says.
    let (port, hits) = canary();
    let arbitrary = json!({ "url": format!("http://127.0.0.1:{port}/"), "name": "x" });
    for (method, path) in [
        ("POST", "/api/probe"),
        ("POST", "/api/phone/probe"),
        ("POST", "/api/phone/targets"),
        ("POST", "/api/targets"),
        ("POST", "/api/targets/probe"),
        ("POST", "/api/targets/shop-api/probe"),
        ("PUT", "/api/targets/shop-api"),
        ("PATCH", "/api/targets/shop-api"),
        ("POST", "/api/reports"),
    ] {
        let (status, b) = call(agent, method, path, phone, Some(&arbitrary), &[]).await;
        // The configured target's probe route ignores a body; every other answer is a refusal.
        let allowed = path == "/api/targets/shop-api/probe";
        assert!(
            allowed || !(200..300).contains(&status),
            "{method} {path} with a URL accepted: {status} {b}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "something connected to the canary URL"
    );
    let (_, targets) = agent.get("/api/targets").await;
    let count = targets
        .as_array()
        .or(targets["targets"].as_array())
        .map(Vec::len);
    assert_eq!(count, Some(1), "a phone token created a target: {targets}");

    // A target the admin adds becomes probeable with the same link.
    let (status, added) = agent
        .post_json(
            "/api/targets",
            &json!({ "name": "Added later", "url": format!("http://127.0.0.1:{}/later", s.nginx_port) }),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {added}");
    let (_, set) = call(agent, "GET", "/api/phone/targets", phone, None, &[]).await;
    assert!(
        set["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == slug("Added later").as_str()),
        "{set}"
    );
    let (status, probe) = call(
        agent,
        "POST",
        "/api/targets/added-later/probe",
        phone,
        None,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{probe}");
    assert_eq!(probe["verdict"], "reachable", "{probe:#}");

    // Results go in; a report about an unknown target does not.
    let (status, b) = call(
        agent,
        "POST",
        "/api/reports",
        phone,
        Some(&report("shop-api", "phone-1")),
        &[],
    )
    .await;
    assert!((200..300).contains(&status), "{status} {b}");
    let (status, cmp) = agent.get("/api/comparison").await;
    assert_eq!(status, 200, "{cmp}");
    let row = cmp["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"]["id"] == "shop-api")
        .cloned()
        .unwrap_or_else(|| panic!("{cmp:#}"));
    let devices = row["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{row:#}");
    assert_eq!(devices[0]["device_id"], "phone-1");
    assert_eq!(devices[0]["verdict"], "reachable", "{row:#}");
    assert_eq!(devices[0]["client_ip"], "127.0.0.1", "{row:#}");
    assert_eq!(row["agent"]["verdict"], "reachable", "{row:#}");
    // The agent probed the configured URL, whatever the phone's request body said.
    assert_eq!(
        row["agent"]["http"]["url"],
        format!("http://127.0.0.1:{}/items", s.nginx_port),
        "{row:#}"
    );

    // A made-up token is not a phone token.
    let (status, b) = call(agent, "GET", "/api/phone/targets", "not-a-code", None, &[]).await;
    assert_eq!(status, 401, "{b}");
}

#[tokio::test]
async fn phone_link_expires() {
    let s = setup(&[]);
    let link = phone_link(&s.agent, json!({ "ttl_seconds": 2 })).await;
    let phone = link["code"].as_str().unwrap();
    let created =
        chrono::DateTime::parse_from_rfc3339(link["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_seconds(), 2, "{link}");
    let (status, b) = call(&s.agent, "GET", "/api/phone/targets", phone, None, &[]).await;
    assert_eq!(status, 200, "{b}");
    let (status, b) = call(
        &s.agent,
        "POST",
        "/api/targets/shop-api/probe",
        phone,
        None,
        &[],
    )
    .await;
    assert_eq!(status, 200, "{b}");

    tokio::time::sleep(Duration::from_millis(2600)).await;
    for (method, path) in [
        ("GET", "/api/phone/targets"),
        ("POST", "/api/targets/shop-api/probe"),
        ("POST", "/api/reports"),
    ] {
        let body = (path == "/api/reports").then(|| report("shop-api", "late"));
        let (status, b) = call(&s.agent, method, path, phone, body.as_ref(), &[]).await;
        assert_eq!(status, 401, "expired link, {method} {path}: {b}");
    }
}

#[tokio::test]
async fn revoked_phone_link_is_refused() {
    let s = setup(&[]);
    let link = phone_link(&s.agent, json!({})).await;
    let keep = phone_link(&s.agent, json!({})).await;
    let phone = link["code"].as_str().unwrap();
    let (status, b) = call(&s.agent, "GET", "/api/phone/targets", phone, None, &[]).await;
    assert_eq!(status, 200, "{b}");
    let (status, list) = s.agent.get("/api/phone-links").await;
    assert_eq!(status, 200, "{list}");
    assert!(list.to_string().contains(phone), "{list}");

    // Only the admin may revoke.
    let path = format!("/api/phone-links/{phone}");
    let other = keep["code"].as_str().unwrap();
    let (status, b) = call(&s.agent, "DELETE", &path, other, None, &[]).await;
    assert_eq!(status, 403, "a phone token revoked a link: {b}");
    let (status, b) = call(&s.agent, "DELETE", &path, &s.agent.token, None, &[]).await;
    assert!(
        status == 200 || status == 204,
        "DELETE {path}: {status} {b}"
    );

    let (status, b) = call(&s.agent, "GET", "/api/phone/targets", phone, None, &[]).await;
    assert_eq!(status, 401, "revoked link: {b}");
    let (status, b) = call(
        &s.agent,
        "POST",
        "/api/targets/shop-api/probe",
        phone,
        None,
        &[],
    )
    .await;
    assert_eq!(status, 401, "revoked link: {b}");
    // The other link still works.
    let (status, b) = call(&s.agent, "GET", "/api/phone/targets", other, None, &[]).await;
    assert_eq!(status, 200, "{b}");
}

/// The client address a report records: the peer's, unless the peer is a trusted proxy,
/// in which case the address it forwarded.
async fn recorded_client_ip(extra_args: &[&str]) -> (String, String) {
    let s = setup(extra_args);
    let link = phone_link(&s.agent, json!({})).await;
    let phone = link["code"].as_str().unwrap();
    let xff = [("X-Forwarded-For", "203.0.113.7")];
    let (status, set) = call(&s.agent, "GET", "/api/phone/targets", phone, None, &xff).await;
    assert_eq!(status, 200, "{set}");
    let (status, b) = call(
        &s.agent,
        "POST",
        "/api/reports",
        phone,
        Some(&report("shop-api", "d1")),
        &xff,
    )
    .await;
    assert!((200..300).contains(&status), "{status} {b}");
    let (_, cmp) = s.agent.get("/api/comparison").await;
    let device = cmp["targets"][0]["devices"][0].clone();
    assert_eq!(device["device_id"], "d1", "{cmp:#}");
    (
        set["client_ip"].as_str().unwrap_or_default().to_owned(),
        device["client_ip"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let (seen, recorded) = recorded_client_ip(&[]).await;
    assert_eq!(
        (seen.as_str(), recorded.as_str()),
        ("127.0.0.1", "127.0.0.1"),
        "X-Forwarded-For from an untrusted peer must be ignored"
    );
    let (seen, recorded) = recorded_client_ip(&["--trusted-proxy", "127.0.0.1/32"]).await;
    assert_eq!(
        (seen.as_str(), recorded.as_str()),
        ("203.0.113.7", "203.0.113.7"),
        "X-Forwarded-For from a trusted proxy names the client"
    );
}
