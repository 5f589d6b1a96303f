//! Vantage's CORS verdicts against real Chromium. A scripted server answers each case with
//! exact headers; a page on another origin (another loopback port) runs the case's `fetch`
//! in headless Chromium; the evaluator is given the same request and responses. For every
//! case, the evaluator's `allowed` must be what Chromium did, and the request the server
//! received must carry the headers the evaluator says the browser sends (`no-cors` drops
//! most; a `no-cors` GET has no `Origin`). Where Chromium departs from the Fetch standard
//! (docs/cors.md, "Where browsers differ"), the case also checks that the evaluator reports
//! the divergence and the standard's verdict. The dashboard's offline CORS page is checked
//! in the same browser: pasted answers give the verdicts, errors point at the line.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::browser::{
    check_fits, fill, require_dashboard, screenshot_at, screenshot_dir, text_fresh, wait_css,
    Driver,
};
use support::scripted_http::{Reply, ScriptedHttp, Seen};
use support::Agent;
use vantage_shared::cors::{
    actual_request_headers, evaluate, CorsRequest, Credentials, ObservedResponse, RequestMode,
    ACAH_WILDCARD_AUTHORIZATION,
};

/// Stands for the page's origin in a case's headers.
const ORIGIN: &str = "{origin}";

#[derive(Clone, Copy, PartialEq)]
enum Redirect {
    None,
    /// A 302 to another path on the same server.
    SameOrigin,
    /// A 302 to the second server: another origin, so the browser's origin becomes `null`.
    OtherOrigin,
}

struct Case {
    name: &'static str,
    method: &'static str,
    headers: &'static [(&'static str, &'static str)],
    mode: RequestMode,
    credentials: Credentials,
    preflight: Option<(u16, &'static [(&'static str, &'static str)])>,
    actual: (u16, &'static [(&'static str, &'static str)]),
    redirect: Redirect,
    /// Where Chromium and the standard part ways: the divergence's id.
    diverges: Option<&'static str>,
}

const ECHO: (&str, &str) = ("Access-Control-Allow-Origin", ORIGIN);
const ACAC: (&str, &str) = ("Access-Control-Allow-Credentials", "true");

fn case(name: &'static str, method: &'static str) -> Case {
    Case {
        name,
        method,
        headers: &[],
        mode: RequestMode::Cors,
        credentials: Credentials::SameOrigin,
        preflight: None,
        actual: (200, &[ECHO]),
        redirect: Redirect::None,
        diverges: None,
    }
}

impl Case {
    fn headers(mut self, h: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = h;
        self
    }
    fn preflight(mut self, status: u16, h: &'static [(&'static str, &'static str)]) -> Self {
        self.preflight = Some((status, h));
        self
    }
    fn actual(mut self, status: u16, h: &'static [(&'static str, &'static str)]) -> Self {
        self.actual = (status, h);
        self
    }
    fn credentials(mut self, c: Credentials) -> Self {
        self.credentials = c;
        self
    }
    fn no_cors(mut self) -> Self {
        self.mode = RequestMode::NoCors;
        self
    }
    fn redirect(mut self, r: Redirect) -> Self {
        self.redirect = r;
        self
    }
    fn diverges(mut self, id: &'static str) -> Self {
        self.diverges = Some(id);
        self
    }
}

fn cases() -> Vec<Case> {
    use Credentials::{Include, Omit, SameOrigin};
    vec![
        // The CORS check on the response.
        case("echoed origin", "GET"),
        case("no ACAO", "GET").actual(200, &[]),
        case("ACAO *", "GET").actual(200, &[("Access-Control-Allow-Origin", "*")]),
        case("ACAO * with credentials include", "GET")
            .credentials(Include)
            .actual(200, &[("Access-Control-Allow-Origin", "*")]),
        case("ACAO * with credentials same-origin", "GET")
            .credentials(SameOrigin)
            .actual(200, &[("Access-Control-Allow-Origin", "*")]),
        case("ACAO * with credentials omit", "GET")
            .credentials(Omit)
            .actual(200, &[("Access-Control-Allow-Origin", "*")]),
        case("include with echo and ACAC true", "GET")
            .credentials(Include)
            .actual(200, &[ECHO, ACAC]),
        case("include with ACAC True", "GET")
            .credentials(Include)
            .actual(200, &[ECHO, ("Access-Control-Allow-Credentials", "True")]),
        case("empty ACAO", "GET").actual(200, &[("Access-Control-Allow-Origin", "")]),
        case("ACAO twice", "GET").actual(200, &[ECHO, ECHO]),
        case("ACAO with a trailing slash", "GET")
            .actual(200, &[("Access-Control-Allow-Origin", "{origin}/")]),
        case("5xx error page without ACAO", "GET").actual(502, &[]),
        // Preflights.
        case("Authorization under ACAH *", "GET")
            .headers(&[("Authorization", "Bearer t")])
            .preflight(204, &[ECHO, ("Access-Control-Allow-Headers", "*")])
            .diverges(ACAH_WILDCARD_AUTHORIZATION),
        case("Authorization under ACAH * with credentials", "GET")
            .headers(&[("Authorization", "Bearer t")])
            .credentials(Include)
            .preflight(204, &[ECHO, ACAC, ("Access-Control-Allow-Headers", "*")])
            .actual(200, &[ECHO, ACAC]),
        case("Authorization listed next to *", "GET")
            .headers(&[("Authorization", "Bearer t"), ("X-Trace", "1")])
            .preflight(
                204,
                &[ECHO, ("Access-Control-Allow-Headers", "*, Authorization")],
            ),
        case("PUT allowed", "PUT").preflight(204, &[ECHO, ("Access-Control-Allow-Methods", "PUT")]),
        case("PATCH against lowercase patch", "PATCH")
            .preflight(204, &[ECHO, ("Access-Control-Allow-Methods", "patch")]),
        case("PUT under ACAM *", "PUT")
            .preflight(204, &[ECHO, ("Access-Control-Allow-Methods", "*")]),
        case("M-SEARCH is a method token", "M-SEARCH")
            .preflight(204, &[ECHO, ("Access-Control-Allow-Methods", "M-SEARCH")]),
        case("JSON body type needs listing", "POST")
            .headers(&[("Content-Type", "application/json")])
            .preflight(204, &[ECHO]),
        case("a simple Range needs no preflight", "GET").headers(&[("Range", "bytes=0-3")]),
        case("ACAH not a token list", "GET")
            .headers(&[("X-A", "1")])
            .preflight(204, &[ECHO, ("Access-Control-Allow-Headers", "X-A X-B")]),
        case("empty list elements are ignored", "GET")
            .headers(&[("X-B", "1")])
            .preflight(204, &[ECHO, ("Access-Control-Allow-Headers", "X-A,,X-B")]),
        case("preflight 502 with CORS headers", "PUT")
            .preflight(502, &[ECHO, ("Access-Control-Allow-Methods", "PUT")]),
        case("preflight redirected", "PUT").preflight(301, &[ECHO, ("Location", "/elsewhere")]),
        // Redirects of the actual request.
        case("redirect within the origin", "GET").redirect(Redirect::SameOrigin),
        case("redirect to another origin, echoed page origin", "GET")
            .redirect(Redirect::OtherOrigin),
        case("redirect to another origin, ACAO *", "GET")
            .redirect(Redirect::OtherOrigin)
            .actual(200, &[("Access-Control-Allow-Origin", "*")]),
        // no-cors.
        case("no-cors GET of an error page", "GET")
            .no_cors()
            .actual(500, &[]),
        case("no-cors PUT", "PUT").no_cors().actual(200, &[]),
        case("no-cors drops unsafe headers", "GET")
            .no_cors()
            .headers(&[
                ("X-Api-Key", "k"),
                ("Content-Type", "application/json"),
                ("Accept", "text/plain"),
            ])
            .actual(200, &[]),
        case("no-cors POST sends Origin", "POST")
            .no_cors()
            .headers(&[("Content-Type", "text/plain")])
            .actual(200, &[]),
        case("no-cors follows a redirect to another origin", "GET")
            .no_cors()
            .redirect(Redirect::OtherOrigin)
            .actual(200, &[]),
    ]
}

fn with_origin(headers: &[(&str, &str)], origin: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.replace(ORIGIN, origin)))
        .collect()
}

/// The scripted answers: `/c/N` is case N (its preflight for OPTIONS, else its response or
/// its redirect), `/f/N` the response after a redirect, `/page` the page.
fn answer(seen: &Seen, origin: &str, other: u16) -> Reply {
    let reply = |status, headers: Vec<(String, String)>| Reply {
        status,
        headers,
        body: "ok".to_owned(),
    };
    if seen.path == "/page" {
        return Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: "<!doctype html><title>page</title><p>page".into(),
        };
    }
    let Some((kind, n)) = seen.path.trim_start_matches('/').split_once('/') else {
        return reply(404, vec![]);
    };
    let Some(c) = n
        .parse::<usize>()
        .ok()
        .and_then(|n| cases().into_iter().nth(n))
    else {
        return reply(404, vec![]);
    };
    if seen.method == "OPTIONS" {
        let (status, h) = c.preflight.unwrap_or((204, &[]));
        return reply(status, with_origin(h, origin));
    }
    if kind == "c" && c.redirect != Redirect::None {
        let location = match c.redirect {
            Redirect::OtherOrigin => format!("http://127.0.0.1:{other}/f/{n}"),
            _ => format!("/f/{n}"),
        };
        // The redirect passes the CORS check itself: only the final hop differs.
        let mut h = with_origin(&[ECHO], origin);
        if c.credentials == Credentials::Include {
            h.push(("Access-Control-Allow-Credentials".into(), "true".into()));
        }
        h.push(("Location".into(), location));
        return reply(302, h);
    }
    let (status, h) = c.actual;
    reply(status, with_origin(h, origin))
}

/// The evaluator's view of case `c`: the page's request and the responses the browser judges.
fn evaluator_input(
    c: &Case,
    origin: &str,
) -> (CorsRequest, Option<ObservedResponse>, ObservedResponse) {
    let mut req = CorsRequest::new(origin, c.method);
    req.mode = c.mode;
    req.credentials = c.credentials;
    for (n, v) in c.headers {
        req = req.header(*n, *v);
    }
    let preflight = c.preflight.map(|(status, h)| ObservedResponse {
        status,
        headers: with_origin(h, origin),
        redirected: false,
        tainted_origin: false,
    });
    let mut actual = ObservedResponse {
        status: c.actual.0,
        headers: with_origin(c.actual.1, origin),
        redirected: c.redirect != Redirect::None,
        tainted_origin: false,
    };
    // As the agent does: after a redirect to another origin, the browser's origin is `null`.
    if c.redirect == Redirect::OtherOrigin && c.mode == RequestMode::Cors {
        req.origin = "null".to_owned();
        actual.tainted_origin = true;
    }
    (req, preflight, actual)
}

const FETCH: &str = r#"
const [url, init, done] = arguments;
fetch(url, init)
  .then(r => done({ resolved: true, type: r.type, status: r.status }))
  .catch(e => done({ resolved: false, error: String(e) }));
"#;

#[tokio::test(flavor = "multi_thread")]
async fn evaluator_verdicts_match_real_chromium() {
    // Two servers for the API (two origins) and one for the page.
    let ports = std::sync::Arc::new(std::sync::OnceLock::<(String, u16)>::new());
    let for_handler = ports.clone();
    let server = ScriptedHttp::start(3, move |seen| {
        let (origin, other) = for_handler.get().expect("ports known").clone();
        answer(seen, &origin, other)
    });
    let (api, other, page) = (server.ports[0], server.ports[1], server.ports[2]);
    let origin = format!("http://127.0.0.1:{page}");
    ports.set((origin.clone(), other)).expect("set once");

    let driver = Driver::start();
    let c = driver.client(1280, 800).await;
    c.goto(&format!("{origin}/page"))
        .await
        .expect("open the page");
    let mut failures = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        server.take();
        let mut init = json!({
            "method": case.method,
            "headers": case.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
            "mode": case.mode.as_str(),
            "credentials": case.credentials.as_str(),
        });
        if case.method == "POST" {
            init["body"] = json!("x");
        }
        let url = format!("http://127.0.0.1:{api}/c/{i}");
        let got: Value = tokio::time::timeout(
            Duration::from_secs(20),
            c.execute_async(FETCH, vec![json!(url), init]),
        )
        .await
        .expect("fetch settles")
        .expect("script runs");
        let resolved = got["resolved"].as_bool().expect("resolved flag");

        let (req, preflight, actual) = evaluator_input(case, &origin);
        let report = evaluate(&req, preflight.as_ref(), Some(&actual));
        if report.allowed != resolved {
            failures.push(format!(
                "{}: Chromium {} ({got}), Vantage says allowed = {} ({})",
                case.name,
                if resolved { "allowed it" } else { "blocked it" },
                report.allowed,
                report.finding.summary
            ));
        }
        let diverged = report
            .divergences
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>();
        match case.diverges {
            Some(id) if diverged != [id] || report.standard_allowed => failures.push(format!(
                "{}: expected divergence {id} with the standard blocking, got {diverged:?}, standard_allowed = {}",
                case.name, report.standard_allowed
            )),
            None if !diverged.is_empty() || report.standard_allowed != report.allowed => {
                failures.push(format!("{}: unexpected divergence {diverged:?}", case.name))
            }
            _ => {}
        }
        if resolved && case.mode == RequestMode::NoCors && got["type"] != "opaque" {
            failures.push(format!(
                "{}: no-cors answer is {got}, not opaque",
                case.name
            ));
        }
        check_sent_headers(case, &req, &server.take(), api, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The actual request the server received carries exactly the page's headers the evaluator
/// says the browser sends (and `Origin` only when it says so).
fn check_sent_headers(
    c: &Case,
    req: &CorsRequest,
    seen: &[Seen],
    api: u16,
    failures: &mut Vec<String>,
) {
    let actual = seen
        .iter()
        .find(|s| s.port == api && s.method != "OPTIONS" && s.path.starts_with("/c/"));
    let Some(actual) = actual else {
        if c.mode == RequestMode::NoCors && c.method == "PUT" {
            return; // never sent: the evaluator says so too (checked above)
        }
        let preflight_failed = seen.iter().any(|s| s.method == "OPTIONS");
        if !preflight_failed {
            failures.push(format!("{}: the server saw no request", c.name));
        }
        return;
    };
    let expected = actual_request_headers(req);
    for (name, _) in c.headers {
        let sent = actual.header(name).is_some();
        let should = expected.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if sent != should {
            failures.push(format!(
                "{}: `{name}` sent = {sent}, Vantage says the browser sends it = {should}",
                c.name
            ));
        }
    }
    let origin_sent = actual.header("origin").is_some();
    let origin_expected = expected.iter().any(|(n, _)| n == "Origin");
    if origin_sent != origin_expected {
        failures.push(format!(
            "{}: Origin sent = {origin_sent}, Vantage says = {origin_expected}",
            c.name
        ));
    }
}

/// Fills the CORS page with an `Authorization` request under `ACAH: *` and waits for the
/// report.
async fn ask_the_cors_page(c: &fantoccini::Client, agent: &Agent) {
    c.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .expect("open the dashboard");
    wait_css(c, "main", Duration::from_secs(20)).await;
    c.goto(&agent.url("/cors")).await.expect("open /cors");
    fill(c, "input[name=origin]", "https://shop.example").await;
    fill(c, "textarea[name=headers]", "Authorization: Bearer t").await;
    // A preflight is needed now, so its box appears.
    fill(
        c,
        "textarea[name=preflight]",
        "HTTP/1.1 204 No Content\nAccess-Control-Allow-Origin: https://shop.example\nAccess-Control-Allow-Headers: *\n",
    )
    .await;
    fill(
        c,
        "textarea[name=actual]",
        "Access-Control-Allow-Origin: https://shop.example\nVary: Origin",
    )
    .await;
    wait_css(c, "[data-testid=cors-divergence]", Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cors_page_judges_pasted_answers_in_the_browser() {
    require_dashboard();
    let data = tempfile::tempdir().expect("data dir");
    let agent = Agent::start(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let driver = Driver::start();
    let c = driver.client(1280, 900).await;
    ask_the_cors_page(&c, &agent).await;
    assert_eq!(text_fresh(&c, "[data-testid=cors-allowed]").await, "yes");
    assert_eq!(text_fresh(&c, "[data-testid=cors-standard]").await, "no");
    let divergence = text_fresh(&c, "[data-testid=cors-divergence]").await;
    for says in ["Firefox", "Safari", "*, Authorization"] {
        assert!(divergence.contains(says), "{says}: {divergence}");
    }
    let assumed = text_fresh(&c, "[data-testid=cors-assumed]").await;
    assert!(assumed.contains("200"), "{assumed}");
    let commands = text_fresh(&c, "[data-testid=cors-commands]").await;
    assert!(commands.contains("How to get these"), "{commands}");
    std::fs::write(
        screenshot_dir().join("cors-page.png"),
        c.screenshot().await.expect("screenshot"),
    )
    .expect("save screenshot");
    c.execute(
        "document.querySelector('[data-testid=cors-result]').scrollIntoView()",
        vec![],
    )
    .await
    .expect("scroll to the verdict");
    std::fs::write(
        screenshot_dir().join("cors-verdict.png"),
        c.screenshot().await.expect("screenshot"),
    )
    .expect("save screenshot");

    // A line that is not a header is pointed out, in its box.
    fill(
        &c,
        "textarea[name=actual]",
        "HTTP/1.1 200 OK\nthis is not a header",
    )
    .await;
    wait_css(&c, "[data-testid=error-actual]", Duration::from_secs(10)).await;
    let error = text_fresh(&c, "[data-testid=error-actual]").await;
    assert!(error.starts_with("line 2:"), "{error}");
    let invalid = c
        .find(fantoccini::Locator::Css("textarea[name=actual]"))
        .await
        .expect("box")
        .attr("aria-invalid")
        .await
        .expect("attr");
    assert_eq!(invalid.as_deref(), Some("true"));
    c.close().await.expect("close");

    let phone = driver.client(360, 780).await;
    ask_the_cors_page(&phone, &agent).await;
    phone
        .execute(
            "document.querySelector('[data-testid=cors-result]').scrollIntoView()",
            vec![],
        )
        .await
        .expect("scroll to the verdict");
    check_fits(&phone, "/cors", "phone-cors.png").await;
    phone.close().await.expect("close");
}

/// The console snippet from the Reachability page, run in real Chromium on the page users
/// visit (another origin): its checks and its report go through, the agent admits that
/// origin for the report alone, and the device counts as reachable with that page's origin.
#[tokio::test]
async fn the_console_snippet_reports_from_the_real_page() {
    require_dashboard();
    // One server is the "shop" page, the other the API that admits only the shop's origin.
    let shop_port = std::sync::Arc::new(std::sync::OnceLock::<u16>::new());
    let for_handler = shop_port.clone();
    let server = ScriptedHttp::start(2, move |seen| {
        let shop = format!(
            "http://127.0.0.1:{}",
            for_handler.get().copied().unwrap_or(0)
        );
        let mut headers = vec![("Content-Type".into(), "text/html".into())];
        if seen.port != *for_handler.get().unwrap_or(&0) {
            headers.push(("Access-Control-Allow-Origin".into(), shop));
        }
        Reply {
            status: 200,
            headers,
            body: "<!doctype html><title>shop</title><p>shop</p>".into(),
        }
    });
    let (shop, api) = (server.ports[0], server.ports[1]);
    shop_port.set(shop).expect("set once");
    let shop_origin = format!("http://127.0.0.1:{shop}");

    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let (s, t) = agent
        .post_json(
            "/api/targets",
            &json!({ "name": "Shop API", "url": format!("http://127.0.0.1:{api}/items"), "cors_origin": shop_origin }),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let (s, link) = agent
        .post_json(
            "/api/phone-links",
            &json!({ "ttl_minutes": 10, "base_url": agent.base }),
        )
        .await;
    assert_eq!(s, 201, "{link}");

    // The snippet, as the dashboard shows it.
    let driver = Driver::start();
    let c = driver.client(1280, 1000).await;
    c.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    wait_css(&c, "main", Duration::from_secs(20)).await;
    c.goto(&agent.url("/reach")).await.unwrap();
    let details = wait_css(&c, "[data-testid=page-snippet]", Duration::from_secs(20)).await;
    details
        .find(fantoccini::Locator::Css("summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let snippet = text_fresh(&c, "[data-testid=page-snippet] pre").await;
    assert!(
        snippet.contains(link["code"].as_str().unwrap()),
        "{snippet}"
    );
    screenshot_at(&c, "[data-testid=page-snippet]", "reach-page-snippet.png").await;

    // Pasted on the shop's page: it runs there and reports.
    c.goto(&format!("{shop_origin}/")).await.unwrap();
    c.execute(&snippet, vec![]).await.unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(30);
    let device = loop {
        let (_, cmp) = agent.get("/api/comparison").await;
        let found = cmp["targets"][0]["devices"].as_array().and_then(|d| {
            d.iter()
                .find(|d| d["page_origin"] == shop_origin.as_str())
                .cloned()
        });
        if let Some(d) = found {
            break d;
        }
        assert!(
            std::time::Instant::now() < until,
            "no report from the shop's page: {cmp:#}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(device["verdict"], "reachable", "{device:#}");
    assert_eq!(device["check"]["cors"]["status"], 200, "{device:#}");
    c.close().await.unwrap();
}
