//! Router tests of the reachability API: target management, the phone link's scope
//! (403 outside its routes, expiry, revocation), device reports with the client address,
//! and an agent probe of a real loopback HTTP server.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::probe::{
    AgentProbe, Comparison, NewTarget, PhoneLink, ProbeSet, ReachVerdict, Target, TargetSource,
};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn config_target(name: &str, url: &str) -> Target {
    Target::from_new(
        NewTarget {
            name: name.into(),
            url: url.into(),
            expected_status: None,
            cors_origin: None,
            cors_method: None,
            cors_headers: vec!["X-Api-Key: secret-key".into()],
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

fn test_app(targets: Vec<Target>, trusted: &[&str]) -> Router {
    let docker = "unix:///nonexistent/docker.sock";
    let state = AppState::new(TOKEN.into(), vec![], docker, Store::in_memory().unwrap())
        .with_reach(
            targets,
            trusted
                .iter()
                .map(|s| vantage_shared::ownership::parse_cidr(s).unwrap())
                .collect(),
        );
    app(state)
}

struct Call<'a> {
    method: Method,
    uri: &'a str,
    token: Option<&'a str>,
    body: Option<Value>,
    peer: &'a str,
    headers: Vec<(&'a str, &'a str)>,
}

impl<'a> Call<'a> {
    fn new(method: Method, uri: &'a str, token: &'a str) -> Self {
        Self {
            method,
            uri,
            token: Some(token),
            body: None,
            peer: "127.0.0.1:50000",
            headers: vec![],
        }
    }
    fn json(mut self, v: Value) -> Self {
        self.body = Some(v);
        self
    }
    fn from(mut self, peer: &'a str) -> Self {
        self.peer = peer;
        self
    }
    fn header(mut self, k: &'a str, v: &'a str) -> Self {
        self.headers.push((k, v));
        self
    }
    async fn send(self, app: &Router) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(self.method)
            .uri(self.uri)
            .header(header::HOST, "127.0.0.1:8787");
        if let Some(t) = self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in self.headers {
            req = req.header(k, v);
        }
        let body = match self.body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        let peer: SocketAddr = self.peer.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, v)
    }
}

async fn new_link(app: &Router, body: Value) -> PhoneLink {
    let (s, v) = Call::new(Method::POST, "/api/phone-links", TOKEN)
        .json(body)
        .header("origin", "http://192.0.2.10:8787")
        .send(app)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    serde_json::from_value(v).unwrap()
}

fn report(target: &str, no_cors: &str) -> Value {
    json!({
        "device_id": "phone-1",
        "page_origin": "http://192.0.2.10:8787",
        "results": [{
            "target_id": target,
            "no_cors": {"outcome": no_cors, "status": null, "elapsed_ms": 8000, "error": null},
            "cors": {"outcome": no_cors, "status": null, "elapsed_ms": 8000, "error": null},
            "blocked_by": null,
            "timing": null
        }]
    })
}

#[tokio::test]
async fn targets_are_added_listed_and_deleted_with_clear_errors() {
    let app = test_app(
        vec![config_target("Shop API", "https://api.shop.example/")],
        &[],
    );
    let (s, v) = Call::new(Method::POST, "/api/targets", TOKEN)
        .json(json!({"name": "Backend direct", "url": "http://127.0.0.1:8080/health", "expected_status": 200}))
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["id"], "backend-direct");
    assert_eq!(v["source"], "dashboard");

    let (s, v) = Call::new(Method::POST, "/api/targets", TOKEN)
        .json(json!({"name": "backend DIRECT", "url": "http://127.0.0.1:1/"}))
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = Call::new(Method::POST, "/api/targets", TOKEN)
        .json(json!({"name": "shop api", "url": "http://127.0.0.1:1/"}))
        .send(&app)
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "config targets cannot be shadowed: {v}"
    );
    for (body, needle) in [
        (
            json!({"name": "x", "url": "ftp://h/"}),
            "unsupported scheme",
        ),
        (json!({"name": "", "url": "http://h/"}), "name"),
        (
            json!({"name": "x", "url": "http://user:pw@h/"}),
            "credentials",
        ),
        (
            json!({"name": "x", "url": "h:1", "expected_status": 200}),
            "http",
        ),
        (json!({"name": "x"}), "bad JSON body"),
    ] {
        let (s, v) = Call::new(Method::POST, "/api/targets", TOKEN)
            .json(body.clone())
            .send(&app)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }

    let (s, v) = Call::new(Method::GET, "/api/targets", TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK);
    let list: Vec<Target> = serde_json::from_value(v).unwrap();
    assert_eq!(
        list.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["shop-api", "backend-direct"]
    );

    let (s, _) = Call::new(Method::DELETE, "/api/targets/shop-api", TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = Call::new(Method::DELETE, "/api/targets/backend-direct", TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = Call::new(Method::DELETE, "/api/targets/backend-direct", TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_phone_link_may_only_run_the_probe_set() {
    let app = test_app(vec![config_target("Shop API", "http://127.0.0.1:9/")], &[]);
    let link = new_link(&app, json!({})).await;
    assert_eq!(link.url, format!("http://192.0.2.10:8787/p/{}", link.code));
    let phone = link.code.as_str();

    // Walk every documented route: outside the phone routes, 403.
    let (_, doc) = Call::new(Method::GET, "/api/openapi.json", TOKEN)
        .send(&app)
        .await;
    let allowed = [
        ("get", "/api/phone/targets"),
        ("post", "/api/targets/{id}/probe"),
        ("post", "/api/reports"),
    ];
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("security").is_none() || allowed.contains(&(method.as_str(), path.as_str())) {
                continue;
            }
            let uri = path.replace("{id}", "x").replace("{code}", "x");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (s, v) = Call::new(m, &uri, phone).json(json!({})).send(&app).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {v}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} routes checked");

    let (s, v) = Call::new(Method::GET, "/api/phone/targets", phone)
        .from("198.51.100.7:4000")
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let set: ProbeSet = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(set.targets.len(), 1);
    assert_eq!(set.client_ip, "198.51.100.7");
    assert!(
        !v.to_string().contains("secret-key"),
        "request headers stay private: {v}"
    );

    // Only configured targets: an unknown id is 404, and no route takes a URL.
    let (s, _) = Call::new(Method::POST, "/api/targets/elsewhere/probe", phone)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = Call::new(
        Method::POST,
        "/api/targets/shop-api/probe?url=http://127.0.0.1:22/",
        phone,
    )
    .json(json!({"url": "http://127.0.0.1:22/"}))
    .send(&app)
    .await;
    assert!(
        s.is_success(),
        "the query and body are ignored, the configured URL is probed"
    );

    // Reports are recorded with the address the agent saw; the answer is redacted.
    let (s, v) = Call::new(Method::POST, "/api/reports", phone)
        .json(report("shop-api", "timeout"))
        .from("203.0.113.7:5555")
        .header("user-agent", "Mozilla/5.0 (Linux; Android 14) Mobile")
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v.to_string().contains("secret-key"), "{v}");
    let c: Comparison = serde_json::from_value(v).unwrap();
    let row = &c.targets[0];
    assert_eq!(row.devices[0].client_ip, "203.0.113.7");
    assert_eq!(row.devices[0].verdict, ReachVerdict::TimedOut);
    let agent = row.agent.as_ref().unwrap();
    assert!(
        agent.tcp.is_empty() && agent.http.is_none(),
        "redacted: {agent:?}"
    );

    let (_, v) = Call::new(Method::GET, "/api/comparison", TOKEN)
        .send(&app)
        .await;
    let c: Comparison = serde_json::from_value(v).unwrap();
    let d = &c.targets[0].devices[0];
    assert_eq!(
        (d.client_ip.as_str(), d.user_agent.as_str()),
        ("203.0.113.7", "Mozilla/5.0 (Linux; Android 14) Mobile")
    );

    // Revoked: 401 at once.
    let (s, _) = Call::new(Method::DELETE, &format!("/api/phone-links/{phone}"), TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = Call::new(Method::GET, "/api/phone/targets", phone)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "link_expired");
}

#[tokio::test]
async fn phone_links_expire() {
    let app = test_app(vec![config_target("a", "http://127.0.0.1:9/")], &[]);
    let link = new_link(&app, json!({"ttl_seconds": 1})).await;
    let (s, _) = Call::new(Method::GET, "/api/phone/targets", &link.code)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, v) = Call::new(Method::GET, "/api/phone/targets", &link.code)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["message"].as_str().unwrap().contains("expired"));
    let (_, v) = Call::new(Method::GET, "/api/phone-links", TOKEN)
        .send(&app)
        .await;
    assert_eq!(v, json!([]), "expired links are not listed");

    for body in [
        json!({"ttl_seconds": 0}),
        json!({"ttl_minutes": 100000}),
        json!({"base_url": "http://x/p"}),
        json!({"base_url": "javascript:alert(1)"}),
    ] {
        let (s, v) = Call::new(Method::POST, "/api/phone-links", TOKEN)
            .json(body.clone())
            .send(&app)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
    // A guessed code is refused like an expired one.
    let (s, _) = Call::new(Method::GET, "/api/phone/targets", "abcdefghjkmn")
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forwarded_for_only_from_trusted_proxies_and_reports_are_checked() {
    let targets = vec![config_target("a", "http://127.0.0.1:9/")];
    let untrusted = test_app(targets.clone(), &[]);
    let trusted = test_app(targets, &["127.0.0.1/32"]);
    for (app, expect) in [(&untrusted, "127.0.0.1"), (&trusted, "203.0.113.7")] {
        let (s, v) = Call::new(Method::POST, "/api/reports", TOKEN)
            .json(report("a", "ok"))
            .header("x-forwarded-for", "203.0.113.7")
            .send(app)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["targets"][0]["devices"][0]["client_ip"], expect);
    }
    for (body, needle) in [
        (report("nope", "ok"), "no target `nope`"),
        (
            {
                let mut r = report("a", "ok");
                r["device_id"] = json!("../etc");
                r
            },
            "device_id",
        ),
        (
            {
                let mut r = report("a", "ok");
                r["results"][0]["no_cors"]["outcome"] = json!("maybe");
                r
            },
            "bad JSON body",
        ),
    ] {
        let (s, v) = Call::new(Method::POST, "/api/reports", TOKEN)
            .json(body)
            .send(&untrusted)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["message"].as_str().unwrap().contains(needle), "{v}");
    }
}

#[tokio::test]
async fn the_agent_probes_a_configured_target_and_the_comparison_shows_it() {
    let (addr, _server) = common::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
    )
    .await;
    let app = test_app(
        vec![config_target("Backend", &format!("http://{addr}/health"))],
        &[],
    );
    let (s, v) = Call::new(Method::POST, "/api/targets/backend/probe", TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p: AgentProbe = serde_json::from_value(v).unwrap();
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);
    assert_eq!(p.http.as_ref().unwrap().status, 200);

    let (_, v) = Call::new(Method::POST, "/api/reports", TOKEN)
        .json(report("backend", "ok"))
        .send(&app)
        .await;
    assert_eq!(
        v["targets"][0]["findings"][0]["code"], "reachable_everywhere",
        "{v}"
    );
    let (_, v) = Call::new(Method::GET, "/api/comparison", TOKEN)
        .send(&app)
        .await;
    let c: Comparison = serde_json::from_value(v).unwrap();
    assert_eq!(
        c.targets[0].agent.as_ref().unwrap().verdict,
        ReachVerdict::Reachable
    );
    assert_eq!(c.targets[0].devices.len(), 1);
}

/// The API admits only the shop's origin; the phone page (on the agent's address) tests
/// CORS for its own origin and is refused. The path works and the configured origin passes:
/// the device is reachable, with no CORS finding, in the report's answer and the comparison.
#[tokio::test]
async fn a_phone_on_the_agents_origin_does_not_decide_the_shops_cors() {
    let (addr, _server) = common::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: https://shop.example\r\nVary: Origin\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
    )
    .await;
    let mut t = config_target("Shop API", &format!("http://{addr}/products"));
    t.cors_origin = Some("https://shop.example".into());
    t.cors_headers.clear();
    let app = test_app(vec![t], &[]);
    let (s, v) = Call::new(Method::POST, "/api/targets/shop-api/probe", TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["cors"]["allowed"], true, "{v:#}");
    let mut body = report("shop-api", "ok");
    body["results"][0]["cors"]["outcome"] = json!("network_error");
    let (s, v) = Call::new(Method::POST, "/api/reports", TOKEN)
        .json(body)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let device = &v["targets"][0]["devices"][0];
    assert_eq!(device["verdict"], "reachable", "{v:#}");
    assert_eq!(device["page_origin"], "http://192.0.2.10:8787");
    let findings = v["targets"][0]["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .all(|f| f["severity"] != "critical" && !f["code"].as_str().unwrap().contains("cors")),
        "{findings:#?}"
    );
    let (_, v) = Call::new(Method::GET, "/api/comparison", TOKEN)
        .send(&app)
        .await;
    let c: Comparison = serde_json::from_value(v).unwrap();
    assert_eq!(c.targets[0].devices[0].verdict, ReachVerdict::Reachable);
}

const OFFICE_ONLY_SG: &str = r#"{"SecurityGroups": [{
  "GroupId": "sg-0123456789abcdef0", "GroupName": "shop-lb", "Description": "load balancer",
  "VpcId": "vpc-1", "OwnerId": "123456789012",
  "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
    "IpRanges": [{"CidrIp": "198.51.100.0/24", "Description": "office"}],
    "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}],
  "IpPermissionsEgress": []
}]}"#;

async fn upload(app: &Router, name: &str, text: &str) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/rules?name={name}"))
        .header(header::HOST, "127.0.0.1:8787")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text.to_owned()))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo("127.0.0.1:1".parse::<SocketAddr>().unwrap()));
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// docs/incidents.md, "Blocked from the guest Wi-Fi", end to end through the API: the
/// security group is loaded, a phone on the guest network reports a timeout, and the
/// comparison names the rule that would admit it.
#[tokio::test]
async fn loaded_security_groups_explain_a_device_timeout() {
    let app = test_app(
        vec![config_target(
            "Shop API",
            "https://api.shop.example/products",
        )],
        &[],
    );
    let (s, v) = upload(&app, "prod-sg.json", OFFICE_ONLY_SG).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["sets"][0]["id"], "sg-0123456789abcdef0");

    // A broken export says where.
    let broken = OFFICE_ONLY_SG.replace("\"FromPort\": 443", "\"FromPort\": \"eighty\"");
    let (s, v) = upload(&app, "broken.json", &broken).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("FromPort") && msg.contains("line 4"), "{msg}");

    let (s, v) = Call::new(Method::POST, "/api/rules/evaluate", TOKEN)
        .json(json!({"source": "203.0.113.7", "port": 443}))
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"], "denied");

    let (s, v) = Call::new(Method::POST, "/api/reports", TOKEN)
        .json(report("shop-api", "timeout"))
        .from("203.0.113.7:5555")
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = Call::new(Method::GET, "/api/comparison", TOKEN)
        .send(&app)
        .await;
    let c: Comparison = serde_json::from_value(v).unwrap();
    assert!(c.rules_loaded);
    let rules = c.targets[0].devices[0].rules.as_ref().unwrap();
    assert!(!rules.admitted);
    assert_eq!(
        rules.summary,
        "no inbound rule admits 203.0.113.7 on tcp/443; rules admit only 198.51.100.0/24"
    );

    // A phone link holder does not learn what the firewall admits.
    let link = new_link(&app, json!({})).await;
    let (_, v) = Call::new(Method::POST, "/api/reports", &link.code)
        .json(report("shop-api", "timeout"))
        .from("203.0.113.7:5555")
        .send(&app)
        .await;
    assert!(!v.to_string().contains("198.51.100.0/24"), "{v}");

    let (s, _) = Call::new(Method::DELETE, "/api/rules/db-1", TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = Call::new(Method::GET, "/api/comparison", TOKEN)
        .send(&app)
        .await;
    assert_eq!(v["rules_loaded"], false);
}

/// The agent keeps a bounded number of rules files: one more is a conflict with what is
/// loaded (409), not a bad file, and loses nothing already loaded.
#[tokio::test]
async fn one_rules_file_too_many_is_a_conflict() {
    let app = test_app(vec![], &[]);
    for i in 0..vantage_agent::rules::MAX_RULES_FILES {
        let (s, v) = upload(&app, &format!("sg-{i}.json"), OFFICE_ONLY_SG).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (s, v) = upload(&app, "one-more.json", OFFICE_ONLY_SG).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("remove some first"),
        "{v}"
    );
    let (_, v) = Call::new(Method::GET, "/api/rules", TOKEN).send(&app).await;
    assert_eq!(
        v.as_array().map(Vec::len),
        Some(vantage_agent::rules::MAX_RULES_FILES)
    );
}

/// A second group that opens 443 to everyone, attached to another instance.
const OPEN_SG: &str = r#"{"SecurityGroups": [{
  "GroupId": "sg-0ffffffffffffffff", "GroupName": "public-web", "VpcId": "vpc-1",
  "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
    "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
  "IpPermissionsEgress": []
}]}"#;

/// The account export holds groups of other instances: a target and a question name the
/// groups that are attached, and only those decide.
#[tokio::test]
async fn only_the_attached_groups_decide() {
    let mut shop = config_target("Shop API", "https://api.shop.example/products");
    shop.firewall.sets = vec!["sg-0123456789abcdef0".into()];
    let mut gone = config_target("Old API", "https://old.shop.example/");
    gone.firewall.sets = vec!["sg-0deleted".into()];
    let app = test_app(vec![shop, gone], &[]);
    for (name, text) in [("prod-sg.json", OFFICE_ONLY_SG), ("web-sg.json", OPEN_SG)] {
        let (s, v) = upload(&app, name, text).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let ask = |sets: Value| {
        Call::new(Method::POST, "/api/rules/evaluate", TOKEN)
            .json(json!({"source": "203.0.113.7", "port": 443, "sets": sets}))
    };
    // Every loaded group: the open one admits the guest.
    let (s, v) = ask(json!([])).send(&app).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"], "allowed");
    // Only the group attached to the load balancer: denied, and the fix names it.
    let (s, v) = ask(json!(["sg-0123456789abcdef0"])).send(&app).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["outcome"], "denied", "{v}");
    assert!(v.to_string().contains("sg-0123456789abcdef0"));
    // The other instance's group appears nowhere: not deciding, not nearest, not in a fix.
    assert!(!v.to_string().contains("sg-0ffff"), "{v}");
    // An id that is not loaded is a clear 400, not a silent "every set".
    let (s, v) = ask(json!(["sg-0typo"])).send(&app).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["message"].as_str().unwrap().contains("`sg-0typo`"), "{v}");

    // The comparison uses each target's own groups.
    for target in ["shop-api", "old-api"] {
        let (s, v) = Call::new(Method::POST, "/api/reports", TOKEN)
            .json(report(target, "timeout"))
            .from("203.0.113.7:5555")
            .send(&app)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (_, v) = Call::new(Method::GET, "/api/comparison", TOKEN)
        .send(&app)
        .await;
    let c: Comparison = serde_json::from_value(v).unwrap();
    let rules = |id: &str| {
        c.targets
            .iter()
            .find(|t| t.target.id == id)
            .and_then(|t| t.devices[0].rules.clone())
            .unwrap()
    };
    assert!(!rules("shop-api").admitted);
    assert!(rules("shop-api").summary.contains("198.51.100.0/24"));
    let old = rules("old-api");
    assert!(!old.admitted);
    assert!(
        old.summary.contains("sg-0deleted") && old.summary.contains("not loaded"),
        "{}",
        old.summary
    );
    // The live host rules can be dropped; none are loaded yet.
    let (s, _) = Call::new(Method::DELETE, "/api/rules/host", TOKEN)
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The same group id in two loaded files: naming it would merge them, so it is refused.
    let (s, v) = upload(&app, "prod-sg-copy.json", OFFICE_ONLY_SG).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = ask(json!(["sg-0123456789abcdef0"])).send(&app).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("more than one loaded file")
            && msg.contains("prod-sg.json")
            && msg.contains("prod-sg-copy.json"),
        "{msg}"
    );
    // No read yet: null, not an error.
    let (s, v) = Call::new(Method::GET, "/api/rules/host", TOKEN)
        .send(&app)
        .await;
    assert_eq!((s, v), (StatusCode::OK, Value::Null));
}

/// A phone link cannot flood the comparison, starve probes or pick the CORS origin.
#[tokio::test]
async fn phone_links_are_rate_limited_and_capped() {
    let app = test_app(vec![config_target("a", "http://127.0.0.1:9/")], &[]);
    let link = new_link(&app, json!({})).await;
    let mut statuses = Vec::new();
    for i in 0..25 {
        let mut r = report("a", "ok");
        r["device_id"] = json!(format!("fake-{i}"));
        let (s, _) = Call::new(Method::POST, "/api/reports", &link.code)
            .json(r)
            .send(&app)
            .await;
        statuses.push(s);
    }
    assert!(
        statuses[..20].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(
        statuses[20..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // The admin is not limited; the link's device cap holds across its reports.
    let (_, v) = Call::new(Method::GET, "/api/comparison", TOKEN)
        .send(&app)
        .await;
    assert_eq!(v["targets"][0]["devices"].as_array().unwrap().len(), 20);

    // A phone-triggered probe is judged from the link's origin, not the caller's Origin.
    let (s, _) = Call::new(Method::POST, "/api/targets/a/probe", &link.code)
        .header("origin", "https://evil.example")
        .send(&app)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = Call::new(Method::GET, "/api/comparison", TOKEN)
        .send(&app)
        .await;
    assert!(!v.to_string().contains("evil.example"), "{v}");
}
