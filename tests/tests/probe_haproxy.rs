//! The proxy's own view, with a real Debian HAProxy doing active health checks: the agent
//! reads its stats page (CSV) and its stats socket (`show servers state`) after each probe.
//! A stopped backend makes HAProxy answer 503, and the finding names the server it holds
//! down and why; started again, the next probe sees the recovery. A backend whose health
//! path is too slow for the check is held down while it answers the probe directly
//! (docs/incidents.md, "Proxy says 503, backend says 200").

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::haproxy::{Backend, Haproxy};
use support::nginx::free_port;
use support::scripted_http::{Reply, ScriptedHttp};
use support::Agent;

/// `backend` checked every 200 ms at `/api/health` (300 ms allowed), down after 2 failures.
fn checked_backend(name: &str, server: &str, port: u16) -> String {
    format!(
        "backend {name}\n\
         \x20 option httpchk GET /api/health\n\
         \x20 timeout check 300ms\n\
         \x20 server {server} 127.0.0.1:{port} check inter 200ms fall 2 rise 2\n"
    )
}

fn frontend(name: &str, port: u16, backend: &str) -> String {
    format!("frontend {name}\n  bind 127.0.0.1:{port}\n  default_backend {backend}\n")
}

fn stats(port: u16) -> String {
    format!(
        "listen stats\n  bind 127.0.0.1:{port}\n  stats enable\n  stats uri /stats\n  stats show-legends\n"
    )
}

async fn add_target(agent: &Agent, name: &str, url: &str, admin: Option<Value>) -> String {
    let mut body = json!({ "name": name, "url": url });
    if let Some(a) = admin {
        body["proxy_admin"] = a;
    }
    let (status, target) = agent.post_json("/api/targets", &body).await;
    assert_eq!(status, 201, "POST /api/targets: {target}");
    target["id"].as_str().unwrap().to_owned()
}

/// Probes `id` until `done` holds for the probe (HAProxy's checks take a moment to flip).
async fn probe_until(agent: &Agent, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, probe) = agent.post(&format!("/api/targets/{id}/probe")).await;
        assert_eq!(status, 200, "{probe}");
        if done(&probe) {
            return probe;
        }
        assert!(Instant::now() < until, "{what} never came: {probe:#}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn status(p: &Value) -> u64 {
    p["http"]["status"].as_u64().unwrap_or(0)
}

fn codes(p: &Value) -> Vec<String> {
    p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

fn finding<'a>(p: &'a Value, code: &str) -> &'a Value {
    p["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {p:#}"))
}

#[tokio::test]
async fn a_stopped_backend_is_named_and_its_recovery_seen() {
    let (fe, st, be) = (free_port(), free_port(), free_port());
    let mut backend = Backend::start(be, &[("api/health", "ok\n"), ("index.html", "shop\n")]);
    let proxy = Haproxy::start(&format!(
        "{}{}{}",
        frontend("fe", fe, "app"),
        checked_backend("app", "app1", be),
        stats(st)
    ));
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let url = format!("http://127.0.0.1:{fe}/");
    let page = add_target(
        &agent,
        "shop via stats page",
        &url,
        Some(json!({ "kind": "haproxy_csv", "url": format!("http://127.0.0.1:{st}/stats;csv"), "backend": "app" })),
    )
    .await;
    let socket = add_target(
        &agent,
        "shop via stats socket",
        &url,
        Some(json!({ "kind": "haproxy_servers_state", "url": format!("unix:{}", proxy.socket().display()) })),
    )
    .await;

    // The same through HAProxy for a page on the shop's origin, without the admin endpoint.
    let page_target =
        json!({ "name": "shop page", "url": url, "cors_origin": "https://shop.example" });
    let (code, t) = agent.post_json("/api/targets", &page_target).await;
    assert_eq!(code, 201, "{t}");

    // Up: 200, the proxy's view has the one server up, and nothing to say about it.
    for id in [&page, &socket] {
        let p = probe_until(&agent, id, "a 200 through HAProxy", |p| status(p) == 200).await;
        let servers = p["proxy"]["servers"].as_array().unwrap();
        assert_eq!(servers.len(), 1, "{p:#}");
        assert_eq!(servers[0]["state"], "up");
        assert_eq!(servers[0]["address"], format!("127.0.0.1:{be}"));
        assert!(codes(&p).iter().all(|c| !c.starts_with("proxy_")), "{p:#}");
    }

    // Stopped: HAProxy's checks are refused, it holds app1 down and answers 503 itself.
    backend.stop();
    let server = format!("127.0.0.1:{be}");
    for (id, why) in [
        (&page, "health check: connection refused (L4CON)"),
        (&socket, "health check: TCP connection failed (L4CON)"),
    ] {
        let p = probe_until(&agent, id, "HAProxy's 503", |p| status(p) == 503).await;
        let f = finding(&p, "proxy_backend_down");
        assert_eq!(f["severity"], "critical");
        assert_eq!(
            f["summary"],
            format!("HAProxy answers 503 because it marked {server} down ({why})")
        );
        // One root cause, one finding: no generic "proxy error page" beside it.
        assert!(
            !codes(&p).contains(&"http_proxy_error_page".to_owned()),
            "{p:#}"
        );
        let headline = p["summary"].as_str().unwrap();
        assert!(
            headline.contains(&format!("HAProxy holds app/app1 ({server}) down")),
            "{headline}"
        );
    }

    // Without the admin endpoint: HAProxy's own 503, worded as "no server up", and the
    // CORS fix in HAProxy's syntax (its error page carries no CORS headers).
    let p = probe_until(&agent, "shop-page", "HAProxy's 503", |p| status(p) == 503).await;
    let f = finding(&p, "http_proxy_error_page");
    let why = f["explanation"].as_str().unwrap();
    assert!(
        why.contains("HAProxy has no server up in this backend"),
        "{why}"
    );
    let cors = finding(&p, "cors_proxy_error_page");
    assert_eq!(cors["fix"]["snippet_language"], "haproxy", "{cors:#}");
    let snippet = cors["fix"]["snippet"].as_str().unwrap();
    assert!(
        snippet.contains(
            "http-after-response set-header Access-Control-Allow-Origin \"https://shop.example\""
        ),
        "{snippet}"
    );
    assert!(!snippet.contains("add_header"), "{snippet}");

    // Started again: the checks pass, HAProxy sends traffic, the probe sees it.
    backend.resume();
    for id in [&page, &socket] {
        let p = probe_until(&agent, id, "the recovery", |p| status(p) == 200).await;
        assert_eq!(p["proxy"]["servers"][0]["state"], "up", "{p:#}");
        assert!(codes(&p).iter().all(|c| !c.starts_with("proxy_")), "{p:#}");
    }
}

#[tokio::test]
async fn a_health_check_timeout_holds_down_a_backend_that_answers() {
    // The app answers at once, but its health path takes 1 s: longer than the check allows.
    let app = ScriptedHttp::start(1, |seen| {
        if seen.path == "/api/health" {
            std::thread::sleep(Duration::from_secs(1));
        }
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: "ok\n".into(),
        }
    });
    let be = app.ports[0];
    let (fe, st) = (free_port(), free_port());
    let _proxy = Haproxy::start(&format!(
        "{}{}{}",
        frontend("fe", fe, "api"),
        checked_backend("api", "api1", be),
        stats(st)
    ));
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let proxied = add_target(
        &agent,
        "api via haproxy",
        &format!("http://127.0.0.1:{fe}/"),
        Some(json!({ "kind": "haproxy_csv", "url": format!("http://127.0.0.1:{st}/stats;csv") })),
    )
    .await;
    let direct = add_target(
        &agent,
        "api direct",
        &format!("http://127.0.0.1:{be}/"),
        None,
    )
    .await;

    let p = probe_until(&agent, &proxied, "HAProxy's 503", |p| status(p) == 503).await;
    let f = finding(&p, "proxy_backend_down");
    assert_eq!(
        f["summary"],
        format!(
            "HAProxy answers 503 because it marked 127.0.0.1:{be} down (health check: timeout (no HTTP answer in time) (L7TOUT))"
        )
    );
    let d = probe_until(&agent, &direct, "the direct 200", |p| status(p) == 200).await;
    assert_eq!(d["verdict"], "reachable", "{d:#}");

    // The comparison connects them: the backend answers directly, the proxy holds it down.
    let (_, c) = agent.get("/api/comparison").await;
    let row = c["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"]["id"] == proxied.as_str())
        .unwrap();
    let f = finding(&row["agent"], "proxy_backend_down");
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.ends_with(&format!("; directly, 127.0.0.1:{be} answers HTTP 200")),
        "{summary}"
    );
    assert!(
        f["explanation"].as_str().unwrap().contains("`api direct`"),
        "{f:#}"
    );
}

/// In the dashboard: a target added with its proxy's admin endpoint (the form's "Proxy admin
/// endpoint" options) is probed at once; with the backend stopped, its card leads with the
/// held-down server, and the agent's detail lists HAProxy's view, on a desktop and a phone.
#[tokio::test]
async fn the_reachability_page_shows_the_proxys_view() {
    use support::browser::{
        check_fits, click_fresh, fill, require_dashboard, screenshot_at, text_fresh, wait_attr,
        wait_css, Driver,
    };
    // The comparison opens by itself when something is wrong: open both, whatever they were.
    async fn open_details(c: &fantoccini::Client, card: &str) {
        let summary = |which: &str| format!("{card} details.{which} > summary");
        for which in ["compare", "agent-detail"] {
            wait_css(c, &summary(which), Duration::from_secs(10)).await;
            c.execute(
                "document.querySelector(arguments[0]).parentElement.open = true",
                vec![serde_json::Value::String(summary(which))],
            )
            .await
            .unwrap();
        }
    }
    require_dashboard();
    let (fe, st, be) = (free_port(), free_port(), free_port());
    let mut backend = Backend::start(be, &[("api/health", "ok\n"), ("index.html", "shop\n")]);
    let _proxy = Haproxy::start(&format!(
        "{}{}{}",
        frontend("fe", fe, "app"),
        checked_backend("app", "app1", be),
        stats(st)
    ));
    backend.stop();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    // HAProxy holds the stopped backend down within a second of checks.
    let until = Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("http://127.0.0.1:{fe}/"))
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(503)
    {
        assert!(Instant::now() < until, "HAProxy never answered 503");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let driver = Driver::start();
    let c = driver.client(1280, 1000).await;
    c.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    wait_css(&c, "main", Duration::from_secs(20)).await;
    c.goto(&agent.url("/reach")).await.unwrap();
    let form = "[data-testid=target-form]";
    wait_css(&c, form, Duration::from_secs(20)).await;
    fill(&c, &format!("{form} input[name=name]"), "Shop via HAProxy").await;
    fill(
        &c,
        &format!("{form} input[name=url]"),
        &format!("http://127.0.0.1:{fe}/"),
    )
    .await;
    click_fresh(&c, &format!("{form} [data-testid=proxy-options] summary")).await;
    fill(
        &c,
        &format!("{form} input[name=proxy_url]"),
        &format!("http://127.0.0.1:{st}/stats;csv"),
    )
    .await;
    fill(&c, &format!("{form} input[name=proxy_backend]"), "app").await;
    // The form with both folded sections open, for a look (CORS left at its defaults).
    click_fresh(
        &c,
        &format!("{form} details.cors-options:not([data-testid]) summary"),
    )
    .await;
    screenshot_at(&c, "[data-testid=proxy-options]", "reach-proxy-form.png").await;
    click_fresh(&c, &format!("{form} button[type=submit]")).await;

    let card = "[data-target-id=shop-via-haproxy]";
    let worst = wait_css(
        &c,
        &format!("{card} .worst-finding"),
        Duration::from_secs(20),
    )
    .await;
    let worst = worst.text().await.unwrap();
    assert!(
        worst.contains(&format!(
            "HAProxy answers 503 because it marked 127.0.0.1:{be} down"
        )),
        "{worst}"
    );
    open_details(&c, card).await;
    let row = format!("{card} [data-testid=detail-proxy] tr[data-state=down]");
    wait_css(&c, &row, Duration::from_secs(10)).await;
    let view = text_fresh(&c, &format!("{card} [data-testid=detail-proxy]")).await;
    assert!(view.contains("connection refused (L4CON)"), "{view}");
    wait_attr(
        &c,
        &format!("{card} [data-testid=agent-verdict]"),
        "data-verdict",
        "http_error",
    )
    .await;
    screenshot_at(&c, "[data-testid=detail-proxy]", "reach-proxy.png").await;
    c.close().await.unwrap();

    let p = driver.client(360, 780).await;
    p.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    wait_css(&p, "main", Duration::from_secs(20)).await;
    p.goto(&agent.url("/reach")).await.unwrap();
    wait_css(
        &p,
        &format!("{card} .worst-finding"),
        Duration::from_secs(20),
    )
    .await;
    open_details(&p, card).await;
    wait_css(&p, &row, Duration::from_secs(10)).await;
    p.execute(
        "document.querySelector('[data-testid=detail-proxy]').scrollIntoView({block: 'center'})",
        vec![],
    )
    .await
    .unwrap();
    check_fits(
        &p,
        "/reach with HAProxy's view open",
        "phone-reach-proxy.png",
    )
    .await;
    p.close().await.unwrap();
}
