//! docs/incidents.md, "Proxy says 503, backend says 200" and "The 404 that was not a
//! routing error", against a real Debian nginx: each target gets the right CORS verdict
//! with the exact failing rule, and the right "who generated this response".
//!
//! One nginx plays both parts: a proxy (CORS done right, done wrong, a dead upstream,
//! maintenance 503, a route it does not serve) and, on a second port, the application
//! behind it (a JSON API and an LLM server that does not have the requested model).

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::nginx::{closed_port, free_port, Nginx};
use support::{Agent, AgentLaunch};
use vantage_shared::cors::{self, CorsRequest, ObservedResponse};
use vantage_shared::fingerprint::{self, Generator};
use vantage_shared::probe::slug;

/// The page origin every CORS case is evaluated for.
const ORIGIN: &str = "https://shop.example";

/// What one target must come out as.
struct Case {
    name: &'static str,
    /// Path on the proxy (`proxy`) or on the application (`app`).
    on: &'static str,
    path: &'static str,
    /// Whether CORS is evaluated (the target has `cors_origin`).
    cors: bool,
    cors_headers: &'static [&'static str],
    cors_credentials: bool,
    /// Defined in the config file (true) or added with `POST /api/targets` (false).
    in_config: bool,
    status: u16,
    /// `None`: the page may read the response; `Some(rule)`: the first rule that fails.
    cors_failure: Option<&'static str>,
    proxy_error_page: bool,
    generator: Generator,
    fingerprint: Option<&'static str>,
    /// Acceptable agent verdicts. A CORS failure for the target's own `cors_origin` leaves
    /// the network path and the HTTP status fine, but the page cannot read the answer: the
    /// agent says `cors_blocked` (still up), and its summary says why.
    verdicts: &'static [&'static str],
    /// Text the first bytes of the body must contain.
    body_has: &'static str,
}

const LLM_BODY: &str = r#"{"error":"model 'llama3' not found, try pulling it first"}"#;

fn cases() -> Vec<Case> {
    let base = Case {
        name: "",
        on: "proxy",
        path: "",
        cors: true,
        cors_headers: &[],
        cors_credentials: false,
        in_config: true,
        status: 200,
        cors_failure: None,
        proxy_error_page: false,
        generator: Generator::Application,
        fingerprint: None,
        verdicts: &["reachable"],
        body_has: "",
    };
    vec![
        Case {
            name: "CORS done right",
            path: "/ok/items",
            // Not CORS-safelisted: the browser sends a preflight first.
            cors_headers: &["Content-Type: application/json"],
            body_has: "\"items\"",
            ..base
        },
        Case {
            name: "No ACAO",
            path: "/no-acao/items",
            cors_failure: Some("acao_present"),
            // The server answers, but the page's origin may not read it: the headline says so.
            verdicts: &["cors_blocked"],
            ..base
        },
        Case {
            name: "Wildcard with credentials",
            path: "/wildcard/items",
            cors_credentials: true,
            cors_failure: Some("credentials_no_wildcard"),
            // The server answers, but the page's origin may not read it: the headline says so.
            verdicts: &["cors_blocked"],
            ..base
        },
        Case {
            name: "Disallowed header",
            path: "/headers/items",
            cors_headers: &["X-Api-Key: k"],
            cors_failure: Some("headers_allowed"),
            // The server answers, but the page's origin may not read it: the headline says so.
            verdicts: &["cors_blocked"],
            ..base
        },
        Case {
            name: "Dead upstream",
            path: "/broken/items",
            in_config: false,
            status: 502,
            cors_failure: Some("acao_present"),
            proxy_error_page: true,
            generator: Generator::ProxyErrorPage,
            fingerprint: Some("nginx_error_page"),
            verdicts: &["http_error"],
            body_has: "502 Bad Gateway",
            ..base
        },
        Case {
            name: "Maintenance",
            path: "/maintenance/items",
            in_config: false,
            status: 503,
            cors_failure: Some("acao_present"),
            proxy_error_page: true,
            generator: Generator::ProxyErrorPage,
            fingerprint: Some("nginx_error_page"),
            verdicts: &["http_error"],
            body_has: "503 Service Temporarily Unavailable",
            ..base
        },
        // The 404 that was not a routing error: two 404s, one passed through from the model
        // server, one nginx's own.
        Case {
            name: "LLM via proxy",
            path: "/llm/generate",
            cors: false,
            in_config: false,
            status: 404,
            generator: Generator::Application,
            fingerprint: Some("llm_model_not_found"),
            verdicts: &["http_error"],
            body_has: "model 'llama3' not found",
            ..base
        },
        Case {
            name: "Unrouted static",
            path: "/static/app.js",
            cors: false,
            in_config: false,
            status: 404,
            generator: Generator::ProxyErrorPage,
            fingerprint: Some("nginx_error_page"),
            verdicts: &["http_error"],
            body_has: "404 Not Found",
            ..base
        },
        // The other half of "Proxy says 503, backend says 200": the backend itself answers
        // fine.
        Case {
            name: "Backend direct",
            on: "app",
            path: "/api/items",
            body_has: "\"items\"",
            ..base
        },
    ]
}

/// Ports of the two nginx servers and of the upstream nobody listens on.
struct Ports {
    proxy: u16,
    app: u16,
    dead: u16,
}

impl Ports {
    fn new() -> Self {
        Self {
            proxy: free_port(),
            app: free_port(),
            dead: closed_port(),
        }
    }

    fn url(&self, case: &Case) -> String {
        let port = if case.on == "app" {
            self.app
        } else {
            self.proxy
        };
        format!("http://127.0.0.1:{port}{}", case.path)
    }
}

fn nginx_servers(p: &Ports) -> String {
    let Ports { proxy, app, dead } = p;
    let llm = LLM_BODY.replace('"', "\\\"");
    format!(
        r#"
  # The application: a JSON API, and an LLM server without the model asked for.
  server {{
    listen 127.0.0.1:{app};
    location = /api/items {{
      add_header Access-Control-Allow-Origin {ORIGIN} always;
      add_header Vary Origin always;
      default_type application/json;
      return 200 '{{"items":[1,2,3]}}';
    }}
    location /api/generate {{
      default_type application/json;
      return 404 "{llm}";
    }}
  }}

  # The proxy in front of it.
  server {{
    listen 127.0.0.1:{proxy};
    location /ok/ {{
      if ($request_method = OPTIONS) {{
        add_header Access-Control-Allow-Origin {ORIGIN};
        add_header Access-Control-Allow-Methods "GET, POST, OPTIONS";
        add_header Access-Control-Allow-Headers "Content-Type";
        add_header Access-Control-Max-Age 600;
        add_header Vary Origin;
        return 204;
      }}
      add_header Access-Control-Allow-Origin {ORIGIN} always;
      add_header Vary Origin always;
      default_type application/json;
      return 200 '{{"items":[1,2,3]}}';
    }}
    location /no-acao/ {{
      default_type application/json;
      return 200 '{{"items":[1,2,3]}}';
    }}
    location /wildcard/ {{
      add_header Access-Control-Allow-Origin * always;
      default_type application/json;
      return 200 '{{"items":[1,2,3]}}';
    }}
    location /headers/ {{
      if ($request_method = OPTIONS) {{
        add_header Access-Control-Allow-Origin {ORIGIN};
        add_header Access-Control-Allow-Methods "GET, POST, OPTIONS";
        add_header Access-Control-Allow-Headers "Content-Type";
        return 204;
      }}
      add_header Access-Control-Allow-Origin {ORIGIN} always;
      default_type application/json;
      return 200 '{{"items":[1,2,3]}}';
    }}
    location /broken/ {{
      # The upstream is down (or on the wrong port): nginx's own 502 page.
      proxy_pass http://127.0.0.1:{dead}/;
      proxy_connect_timeout 2s;
    }}
    location /maintenance/ {{
      return 503;
    }}
    location /llm/ {{
      proxy_pass http://127.0.0.1:{app}/api/;
    }}
    location /static/ {{
      # No such directory: nginx answers 404 itself.
      root html;
    }}
  }}
"#
    )
}

/// The request a page with `case`'s shape makes.
fn cors_request(case: &Case) -> CorsRequest {
    let mut req = CorsRequest::new(ORIGIN, "GET");
    for h in case.cors_headers {
        let (n, v) = h.split_once(':').unwrap();
        req = req.header(n.trim(), v.trim());
    }
    if case.cors_credentials {
        req = req.with_credentials();
    }
    req
}

async fn observe(
    method: reqwest::Method,
    url: &str,
    headers: &[(String, String)],
) -> (ObservedResponse, Vec<u8>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut rb = client.request(method, url);
    for (n, v) in headers {
        rb = rb.header(n, v);
    }
    let res = rb.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut observed = ObservedResponse::new(res.status().as_u16());
    for (n, v) in res.headers() {
        observed = observed.header(n.as_str(), v.to_str().unwrap_or_default());
    }
    let body = res.bytes().await.unwrap().to_vec();
    (observed, body)
}

fn rule_of(report: &cors::CorsReport) -> Option<String> {
    report.first_failure.map(|i| report.checks[i].rule.clone())
}

/// The harness and the shared evaluators against real nginx, without the agent: nginx
/// starts, answers every case as the table expects (status, CORS rule, responder), and
/// is gone after drop.
#[tokio::test]
async fn real_nginx_responses_get_the_expected_cors_rule_and_responder() {
    let ports = Ports::new();
    let nginx = Nginx::start(&nginx_servers(&ports));
    let mut sizes = HashMap::new();
    for case in cases() {
        let url = ports.url(&case);
        let req = cors_request(&case);
        let preflight = if cors::needs_preflight(&req) {
            let headers = cors::preflight_request_headers(&req);
            Some(observe(reqwest::Method::OPTIONS, &url, &headers).await.0)
        } else {
            None
        };
        let (actual, body) = observe(
            reqwest::Method::GET,
            &url,
            &cors::actual_request_headers(&req),
        )
        .await;
        assert_eq!(
            actual.status,
            case.status,
            "{}: {url}\n{}",
            case.name,
            nginx.logs()
        );
        let report = cors::evaluate(&req, preflight.as_ref(), Some(&actual));
        if case.cors {
            assert_eq!(
                rule_of(&report).as_deref(),
                case.cors_failure,
                "{}: {:#?}",
                case.name,
                report.checks
            );
            assert_eq!(report.allowed, case.cors_failure.is_none(), "{}", case.name);
            assert_eq!(
                report.proxy_error_page, case.proxy_error_page,
                "{}",
                case.name
            );
        }
        let who = fingerprint::attribute(actual.status, &actual.headers, &body);
        assert_eq!(who.generator, case.generator, "{}: {who:?}", case.name);
        assert_eq!(
            who.fingerprint.as_deref(),
            case.fingerprint,
            "{}: {who:?}",
            case.name
        );
        assert!(
            String::from_utf8_lossy(&body).contains(case.body_has),
            "{}: body {:?}",
            case.name,
            String::from_utf8_lossy(&body)
        );
        sizes.insert(case.name, body.len());
    }
    // The passed-through 404 is a short JSON error, nginx's own is a page.
    assert_eq!(sizes["LLM via proxy"], LLM_BODY.len(), "{sizes:?}");
    assert!(
        sizes["Unrouted static"] > sizes["LLM via proxy"],
        "{sizes:?}"
    );
    // Every request went through this nginx (preflights included).
    let requests = nginx.access_log().lines().count();
    assert!(requests >= cases().len(), "{}", nginx.access_log());
    drop(nginx);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", ports.proxy)).is_err(),
        "nginx still listens after drop"
    );
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn target_json(case: &Case, url: &str) -> Value {
    let mut t = json!({ "name": case.name, "url": url });
    if case.cors {
        t["cors_origin"] = json!(ORIGIN);
        t["cors_headers"] = json!(case.cors_headers);
        // The API takes the credentials mode by name (the config file below, the old boolean).
        t["cors_credentials"] = json!(if case.cors_credentials {
            "include"
        } else {
            "same-origin"
        });
    }
    t
}

fn target_toml(case: &Case, url: &str) -> String {
    let mut t = format!(
        "[[targets]]\nname = {}\nurl = {}\n",
        toml_string(case.name),
        toml_string(url)
    );
    if case.cors {
        let headers: Vec<String> = case.cors_headers.iter().map(|h| toml_string(h)).collect();
        t += &format!(
            "cors_origin = {}\ncors_headers = [{}]\ncors_credentials = {}\n",
            toml_string(ORIGIN),
            headers.join(", "),
            case.cors_credentials
        );
    }
    t + "\n"
}

/// The reachability feature: targets from the config file and from `POST /api/targets`,
/// probed by the agent through its API; each gets its status, CORS verdict with the exact
/// failing rule, and responder; `GET /api/comparison` carries the agent's results.
#[tokio::test]
async fn agent_probes_nginx_targets_with_the_right_cors_rule_and_responder() {
    let ports = Ports::new();
    let nginx = Nginx::start(&nginx_servers(&ports));
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vantage.toml");
    let cases = cases();
    let toml: String = cases
        .iter()
        .filter(|c| c.in_config)
        .map(|c| target_toml(c, &ports.url(c)))
        .collect();
    std::fs::write(&config, &toml).unwrap();
    let agent = Agent::start_with(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &AgentLaunch {
            args: vec!["--config".into(), config.display().to_string()],
            ..AgentLaunch::default()
        },
    );
    for case in cases.iter().filter(|c| !c.in_config) {
        let (status, body) = agent
            .post_json("/api/targets", &target_json(case, &ports.url(case)))
            .await;
        assert!(
            status == 200 || status == 201,
            "POST /api/targets {}: {status} {body}",
            case.name
        );
        assert_eq!(body["id"], slug(case.name), "{body}");
    }
    let (status, listed) = agent.get("/api/targets").await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().or(listed["targets"].as_array()).cloned();
    let listed = listed.unwrap_or_else(|| panic!("GET /api/targets is not a list"));
    assert_eq!(listed.len(), cases.len(), "{listed:#?}");

    let mut verdicts = HashMap::new();
    let mut nginx_fixes = 0;
    for case in &cases {
        let id = slug(case.name);
        let (status, probe) = agent.post(&format!("/api/targets/{id}/probe")).await;
        let ctx = format!("{} ({id}): {status} {probe:#}\n{}", case.name, nginx.logs());
        assert_eq!(status, 200, "{ctx}");
        assert_eq!(probe["target_id"], id.as_str(), "{ctx}");
        let http = &probe["http"];
        assert_eq!(http["status"], case.status, "{ctx}");
        assert_eq!(
            http["fingerprint"]["generator"],
            serde_json::to_value(case.generator).unwrap(),
            "{ctx}"
        );
        assert_eq!(
            http["fingerprint"]["fingerprint"].as_str(),
            case.fingerprint,
            "{ctx}"
        );
        assert!(
            http["body_head"]
                .as_str()
                .unwrap_or_default()
                .contains(case.body_has),
            "{ctx}"
        );
        if case.cors {
            let report = &probe["cors"];
            assert_eq!(report["allowed"], case.cors_failure.is_none(), "{ctx}");
            let first = report["first_failure"]
                .as_u64()
                .map(|i| report["checks"][i as usize]["rule"].clone());
            assert_eq!(
                first.as_ref().and_then(Value::as_str),
                case.cors_failure,
                "{ctx}"
            );
            assert_eq!(report["proxy_error_page"], case.proxy_error_page, "{ctx}");
            // The fix is in nginx's own syntax: nginx answered.
            if let Some(snippet) = report["finding"]["fix"]["snippet"].as_str() {
                assert_eq!(
                    report["finding"]["fix"]["snippet_language"], "nginx",
                    "{ctx}"
                );
                assert!(snippet.contains("add_header"), "{snippet}\n{ctx}");
                nginx_fixes += 1;
            }
        }
        let verdict = probe["verdict"].as_str().unwrap_or_default();
        assert!(case.verdicts.contains(&verdict), "{ctx}");
        // nginx's own 502 is worded as a refused or reset upstream, not a health check.
        if case.status == 502 {
            let f = probe["findings"]
                .as_array()
                .and_then(|l| l.iter().find(|f| f["code"] == "http_proxy_error_page"))
                .unwrap_or_else(|| panic!("no proxy error finding\n{ctx}"));
            let why = f["explanation"].as_str().unwrap_or_default();
            assert!(
                why.contains("the connection was refused or reset"),
                "{why}\n{ctx}"
            );
        }
        if verdict == "cors_blocked" {
            let summary = probe["summary"].as_str().unwrap_or_default();
            assert!(summary.contains("cannot read it"), "{summary}\n{ctx}");
        }
        verdicts.insert(id, probe["verdict"].clone());
    }
    assert!(nginx_fixes > 0, "no failing CORS case came with a fix");
    // Same status, different responders, told apart by size too.
    let (_, llm) = agent
        .post(&format!("/api/targets/{}/probe", slug("LLM via proxy")))
        .await;
    let (_, own) = agent
        .post(&format!("/api/targets/{}/probe", slug("Unrouted static")))
        .await;
    assert_eq!(llm["http"]["body_size"], LLM_BODY.len(), "{llm:#}");
    assert!(
        own["http"]["body_size"].as_u64() > llm["http"]["body_size"].as_u64(),
        "nginx's own 404 page is larger than the passed-through JSON: {own:#}"
    );

    let (status, comparison) = agent.get("/api/comparison").await;
    assert_eq!(status, 200, "{comparison}");
    let rows = comparison["targets"].as_array().unwrap();
    assert_eq!(rows.len(), cases.len(), "{comparison:#}");
    for row in rows {
        let id = row["target"]["id"].as_str().unwrap().to_owned();
        let agent_verdict = &row["agent"]["verdict"];
        assert_eq!(
            Some(agent_verdict),
            verdicts.get(&id),
            "comparison row {id}: {row:#}"
        );
        assert!(
            row["devices"].as_array().is_some_and(Vec::is_empty),
            "{row:#}"
        );
    }
}
