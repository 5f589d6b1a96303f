//! Component tests in a real browser (`wasm-bindgen-test`): they mount views and check
//! the DOM the end-to-end tests and people rely on (SVG namespace, test ids, keys).

use chrono::{Duration, TimeZone, Utc};
use leptos::prelude::*;
use vantage_shared::{
    ContainerState, ContainerSummary, HealthStatus, HealthcheckConfig, HealthcheckRun,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

use leptos_router::components::Router;

use crate::api::ApiError;
use crate::check::{self, PageContext};
use crate::components::container_table::{ContainerTable, Sort};
use crate::components::loaded::{Loaded, OnError};
use crate::components::probe_detail::AgentDetail;
use crate::components::qr::QrCodeSvg;
use crate::components::rules_table::{RuleMarks, RuleSetTable};
use crate::components::rules_verdict::VerdictPanel;
use crate::components::timeline::HealthTimeline;
use crate::pages::firewall::LoadForm;
use vantage_shared::cors::{CorsCheck, CorsReport, CorsStage, CorsVerdict};
use vantage_shared::diagnosis::{Finding, FindingCode, Severity};
use vantage_shared::probe::{
    AgentProbe, CnameRecord, DnsResult, FetchOutcome, ProbeTarget, ReachVerdict,
};
use vantage_shared::rules::{evaluate, parse_rules, Question};

wasm_bindgen_test_configure!(run_in_browser);

/// Mounts a view into a fresh `<div>` and returns it (the handle is leaked on purpose:
/// unmounting would remove what the test inspects).
fn mount<V: IntoView + 'static>(f: impl FnOnce() -> V + 'static) -> web_sys::HtmlElement {
    let document = document();
    let div = document
        .create_element("div")
        .map(|e| e.unchecked_into::<web_sys::HtmlElement>());
    let Ok(div) = div else {
        panic!("cannot create a div")
    };
    let _ = document.body().map(|b| b.append_child(&div));
    let handle = leptos::mount::mount_to(div.clone(), f);
    handle.forget();
    div
}

fn run(start_s: i64, duration_ms: i64, exit_code: i64) -> HealthcheckRun {
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
        .single()
        .unwrap_or_default();
    let start = t0 + Duration::seconds(start_s);
    HealthcheckRun {
        start,
        end: start + Duration::milliseconds(duration_ms),
        duration_ms: duration_ms as u64,
        exit_code,
        output: String::new(),
        status: HealthStatus::Starting,
    }
}

#[wasm_bindgen_test]
fn timeline_is_svg_with_one_bar_per_run() {
    let runs = vec![run(1, 3000, -1), run(3, 3000, -1), run(5, 150, 0)];
    let config = HealthcheckConfig {
        test: vec!["CMD-SHELL".into(), "true".into()],
        interval_ms: 2000,
        timeout_ms: 3000,
        start_period_ms: 0,
        retries: 3,
        tools: None,
    };
    let started = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single();
    let root =
        mount(move || view! { <HealthTimeline runs started_at=started config=Some(config) /> });

    let svg = root
        .query_selector("[data-testid=health-timeline]")
        .ok()
        .flatten();
    let Some(svg) = svg else {
        panic!("no timeline")
    };
    assert_eq!(
        svg.namespace_uri().as_deref(),
        Some("http://www.w3.org/2000/svg")
    );
    let bars = root
        .query_selector_all("svg rect.bar")
        .map(|l| l.length())
        .unwrap_or(0);
    assert_eq!(bars, 3);
    let timed_out = root
        .query_selector_all("svg rect.timed-out")
        .map(|l| l.length())
        .unwrap_or(0);
    assert_eq!(timed_out, 2);
    // Tooltips only work when <title> is created in the SVG namespace.
    let title = root.query_selector("rect.bar title").ok().flatten();
    assert_eq!(
        title.and_then(|t| t.namespace_uri()).as_deref(),
        Some("http://www.w3.org/2000/svg")
    );
    assert!(root
        .query_selector(".timeout-line")
        .ok()
        .flatten()
        .is_some());
}

fn container(name: &str, health: HealthStatus) -> ContainerSummary {
    ContainerSummary {
        id: format!("{name}-0123456789"),
        name: name.into(),
        image: "busybox".into(),
        state: ContainerState::Running,
        status: "Up".into(),
        health,
        failing_streak: 0,
        created: None,
        started_at: None,
        finished_at: None,
        exit_code: None,
        restart_count: 0,
        ports: vec![],
        networks: vec![],
        healthcheck: None,
        compose_project: None,
        compose_service: None,
    }
}

#[wasm_bindgen_test]
async fn container_rows_carry_test_ids_and_follow_the_filter() {
    let rows = RwSignal::new(vec![
        container("web", HealthStatus::Healthy),
        container("model", HealthStatus::Unhealthy),
    ]);
    let sort = RwSignal::new(Sort::default());
    let text = RwSignal::new(String::new());
    let health = RwSignal::new(None);
    // Rows link with <A>, which needs a router.
    let root = mount(move || view! { <Router><ContainerTable rows sort text health /></Router> });
    let first_row = root.query_selector("[data-name=web]").ok().flatten();

    let names = |root: &web_sys::HtmlElement| -> Vec<String> {
        let Ok(list) = root.query_selector_all("[data-testid=container-row]") else {
            return vec![];
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<web_sys::Element>().ok())
            .filter_map(|e| e.get_attribute("data-name"))
            .collect()
    };
    assert_eq!(names(&root), ["model", "web"]);
    let badge = root
        .query_selector("[data-name=model] [data-testid=health-badge]")
        .ok()
        .flatten();
    assert_eq!(
        badge
            .and_then(|b| b.get_attribute("data-health"))
            .as_deref(),
        Some("unhealthy")
    );

    health.set(Some(HealthStatus::Healthy));
    // Render effects run asynchronously; give them a turn of the event loop.
    gloo_timers::future::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(names(&root), ["web"]);

    // A refresh that changes one container keeps the other rows' DOM (and focus).
    rows.update(|r| r.push(container("db", HealthStatus::None)));
    health.set(None);
    gloo_timers::future::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(names(&root), ["db", "model", "web"]);
    let same_row = root.query_selector("[data-name=web]").ok().flatten();
    assert!(first_row.is_some() && first_row == same_row);
}

/// The `aria-sort` of the header whose button reads `title`, and the button.
fn sort_header(root: &web_sys::HtmlElement, title: &str) -> (String, web_sys::HtmlElement) {
    let Ok(list) = root.query_selector_all("th[aria-sort]") else {
        panic!("no sortable headers")
    };
    let th = (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::Element>().ok())
        .find(|th| {
            th.text_content()
                .is_some_and(|t| t.trim_end_matches([' ', '▲', '▼']) == title)
        });
    let Some(th) = th else {
        panic!("no sortable header {title}")
    };
    let button = th
        .query_selector("button.sort[type=button]")
        .ok()
        .flatten()
        .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok());
    let Some(button) = button else {
        panic!("header {title} is not a button")
    };
    (th.get_attribute("aria-sort").unwrap_or_default(), button)
}

#[wasm_bindgen_test]
async fn sortable_headers_are_buttons_that_announce_the_order() {
    let mut web = container("web", HealthStatus::Healthy);
    web.restart_count = 3;
    let rows = RwSignal::new(vec![web, container("model", HealthStatus::Unhealthy)]);
    let sort = RwSignal::new(Sort::default());
    let text = RwSignal::new(String::new());
    let health = RwSignal::new(None);
    let root = mount(move || view! { <Router><ContainerTable rows sort text health /></Router> });
    let names = |root: &web_sys::HtmlElement| -> Vec<String> {
        let Ok(list) = root.query_selector_all("[data-testid=container-row]") else {
            return vec![];
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<web_sys::Element>().ok())
            .filter_map(|e| e.get_attribute("data-name"))
            .collect()
    };
    assert_eq!(sort_header(&root, "Name").0, "ascending");
    assert_eq!(sort_header(&root, "Restarts").0, "none");
    // Image does not sort: a plain header.
    let headers = root
        .query_selector_all("thead th")
        .map(|l| l.length())
        .unwrap_or(0);
    assert_eq!(headers, 6);

    // Most restarts first, then the other way round.
    sort_header(&root, "Restarts").1.click();
    tick().await;
    assert_eq!(sort_header(&root, "Restarts").0, "descending");
    assert_eq!(sort_header(&root, "Name").0, "none");
    assert_eq!(names(&root), ["web", "model"]);
    sort_header(&root, "Restarts").1.click();
    tick().await;
    assert_eq!(sort_header(&root, "Restarts").0, "ascending");
    assert_eq!(names(&root), ["model", "web"]);
}

fn page() -> PageContext {
    let Some(page) = PageContext::current() else {
        panic!("no page origin")
    };
    page
}

fn target(url: &str) -> ProbeTarget {
    ProbeTarget {
        id: "t".into(),
        name: "t".into(),
        url: url.into(),
    }
}

// The browser check: a URL nothing listens on fails before HTTP, which no-cors reports as a
// network error (not a timeout, not a CORS error).
#[wasm_bindgen_test]
async fn engine_reports_a_network_error_for_a_closed_port() {
    let result = check::check(&target("http://127.0.0.1:9/"), &page()).await;
    assert_eq!(
        result.no_cors.outcome,
        FetchOutcome::NetworkError,
        "{result:?}"
    );
    assert!(result.no_cors.error.is_some());
    assert_eq!(result.cors.outcome, FetchOutcome::Skipped);
    assert_eq!(result.blocked_by, None);
    assert_eq!(check::verdict(&result), ReachVerdict::FailedBeforeHttp);
}

// The test runner's own page: same origin, so both fetches succeed, cors sees the
// status and Resource Timing is exposed.
#[wasm_bindgen_test]
async fn engine_reaches_its_own_origin() {
    let page = page();
    let url = format!("{}/", page.origin);
    let result = check::check(&target(&url), &page).await;
    assert_eq!(result.no_cors.outcome, FetchOutcome::Ok, "{result:?}");
    assert_eq!(result.cors.outcome, FetchOutcome::Ok, "{result:?}");
    assert_eq!(result.cors.status, Some(200));
    assert_eq!(check::verdict(&result), ReachVerdict::Reachable);
    let timing = result.timing.as_ref();
    assert!(timing.is_some_and(|t| t.total_ms > 0.0), "{result:?}");
}

#[wasm_bindgen_test]
async fn engine_skips_tcp_targets() {
    let result = check::check(&target("db.internal:5432"), &page()).await;
    assert_eq!(result.no_cors.outcome, FetchOutcome::Skipped);
    assert_eq!(
        result.no_cors.error.as_deref(),
        Some("browsers cannot open raw TCP connections")
    );
    assert_eq!(check::verdict(&result), ReachVerdict::NotAttempted);
}

#[wasm_bindgen_test]
fn qr_code_is_svg() {
    let root = mount(|| view! { <QrCodeSvg text="http://203.0.113.5:8787/p/abc" label="QR" /> });
    let svg = root.query_selector("[data-testid=phone-qr]").ok().flatten();
    assert_eq!(
        svg.and_then(|s| s.namespace_uri()).as_deref(),
        Some("http://www.w3.org/2000/svg")
    );
    assert!(root.query_selector("svg path").ok().flatten().is_some());
}

fn check(rule: &str, verdict: CorsVerdict, header: Option<&str>) -> CorsCheck {
    CorsCheck {
        stage: CorsStage::Actual,
        rule: rule.into(),
        verdict,
        detail: format!("{rule} detail"),
        header_to_add: header.map(Into::into),
    }
}

#[wasm_bindgen_test]
fn cors_table_highlights_the_first_failing_rule() {
    let finding = Finding::new(
        FindingCode::CorsAcaoPresent,
        Severity::Critical,
        "blocked",
        "why",
    );
    let probe = AgentProbe {
        cors: Some(CorsReport {
            origin: "https://shop.example".into(),
            method: "GET".into(),
            preflight_needed: false,
            preflight_request_headers: vec![],
            checks: vec![
                check("request_sendable", CorsVerdict::Pass, None),
                check(
                    "acao_present",
                    CorsVerdict::Fail,
                    Some("Access-Control-Allow-Origin: https://shop.example"),
                ),
                check("acao_matches_origin", CorsVerdict::NotApplicable, None),
            ],
            mode: Default::default(),
            credentials: Default::default(),
            allowed: false,
            standard_allowed: false,
            divergences: vec![],
            first_failure: Some(1),
            missing: vec![],
            proxy_error_page: false,
            finding,
        }),
        verdict: ReachVerdict::CorsBlocked,
        summary: "CORS".into(),
        ..AgentProbe::empty("t", Utc::now())
    };
    let root = mount(move || view! { <AgentDetail probe /> });
    let first = root.query_selector("tr.first-fail").ok().flatten();
    assert_eq!(
        first.and_then(|r| r.get_attribute("data-rule")).as_deref(),
        Some("acao_present")
    );
    let fails = root
        .query_selector_all("tr.first-fail")
        .map(|l| l.length())
        .unwrap_or(0);
    assert_eq!(fails, 1);
    let header = root
        .query_selector("tr.first-fail .copy-text code")
        .ok()
        .flatten()
        .and_then(|c| c.text_content());
    assert_eq!(
        header.as_deref(),
        Some("Access-Control-Allow-Origin: https://shop.example")
    );
}

#[wasm_bindgen_test]
fn dns_section_shows_the_cname_chain_only_for_an_alias() {
    let dns = |cnames: Vec<CnameRecord>| DnsResult {
        host: "shop.example".into(),
        resolver: "system".into(),
        cnames,
        answers: vec![],
        errors: vec![],
        elapsed_ms: 3.0,
    };
    let probe = |d: DnsResult| AgentProbe {
        dns: Some(d),
        verdict: ReachVerdict::Reachable,
        summary: "ok".into(),
        ..AgentProbe::empty("t", Utc::now())
    };
    let aliased = probe(dns(vec![
        CnameRecord {
            name: "shop.example.cdn.net".into(),
            target: "edge.cdn.net".into(),
            ttl: 60,
        },
        CnameRecord {
            name: "shop.example".into(),
            target: "shop.example.cdn.net".into(),
            ttl: 300,
        },
    ]));
    let root = mount(move || view! { <AgentDetail probe=aliased /> });
    let text = root
        .query_selector("[data-testid=dns-cnames] code")
        .ok()
        .flatten()
        .and_then(|c| c.text_content());
    assert_eq!(
        text.as_deref(),
        Some("shop.example → shop.example.cdn.net → edge.cdn.net")
    );
    let plain = probe(dns(vec![]));
    let root = mount(move || view! { <AgentDetail probe=plain /> });
    assert!(root
        .query_selector("[data-testid=dns-cnames]")
        .ok()
        .flatten()
        .is_none());
}

// ---------------------------------------------------------------------------------------
// Firewall page

const SG_JSON: &str = r#"{
  "SecurityGroups": [
    {
      "GroupId": "sg-0web",
      "GroupName": "web",
      "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "vpn"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "198.51.100.0/24", "Description": "office"}]}
      ],
      "IpPermissionsEgress": []
    }
  ]
}"#;

async fn tick() {
    gloo_timers::future::sleep(std::time::Duration::from_millis(30)).await;
}

#[wasm_bindgen_test]
async fn pasted_invalid_aws_json_shows_the_located_error() {
    let root = mount(|| view! { <LoadForm /> });
    let Some(area) = root
        .query_selector("[data-testid=rules-form] textarea")
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
    else {
        panic!("no textarea")
    };
    let bad = SG_JSON.replace("\"FromPort\": 443", "\"FromPort\": \"eighty\"");
    area.set_value(&bad);
    let Ok(ev) = web_sys::Event::new("input") else {
        panic!("no event")
    };
    let _ = area.dispatch_event(&ev);
    tick().await;

    let error = root
        .query_selector("[data-testid=rules-error]")
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
        .unwrap_or_default();
    assert!(error.contains("line 9"), "{error}");
    assert!(error.contains("IpPermissions[1].FromPort"), "{error}");
    let excerpt = root
        .query_selector("[data-testid=rules-error-line]")
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
        .unwrap_or_default();
    assert!(excerpt.starts_with("9 | "), "{excerpt}");
    assert!(
        excerpt.contains("eighty") && excerpt.contains('^'),
        "{excerpt}"
    );
    assert_eq!(area.get_attribute("aria-invalid").as_deref(), Some("true"));

    // Fixed text: the error goes and the check says what it found.
    area.set_value(SG_JSON);
    let _ = area.dispatch_event(&ev);
    tick().await;
    assert!(root
        .query_selector("[data-testid=rules-error]")
        .ok()
        .flatten()
        .is_none());
    let text = root.text_content().unwrap_or_default();
    assert!(text.contains("Valid: 1 rule set, 2 rules"), "{text}");
}

#[wasm_bindgen_test]
async fn verdict_highlights_the_deciding_rule() {
    let sets = match parse_rules(SG_JSON, "test") {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let set = sets[0].clone();
    let allowed = evaluate(&sets, &Question::tcp([198, 51, 100, 20].into(), 443));
    let denied = evaluate(&sets, &Question::tcp([203, 0, 113, 7].into(), 443));
    let verdict = RwSignal::new(allowed);
    let marks = Signal::derive(move || verdict.with(RuleMarks::of));
    let root = mount(move || {
        view! {
            {move || view! { <VerdictPanel verdict=verdict.get() /> }}
            <RuleSetTable set marks />
        }
    });
    tick().await;

    let outcome = |root: &web_sys::HtmlElement| {
        root.query_selector("[data-testid=ask-verdict]")
            .ok()
            .flatten()
            .and_then(|e| e.get_attribute("data-outcome"))
    };
    let marked = |root: &web_sys::HtmlElement, selector: &str| -> Vec<String> {
        let Ok(list) = root.query_selector_all(selector) else {
            return vec![];
        };
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<web_sys::Element>().ok())
            .filter_map(|e| e.get_attribute("data-position"))
            .collect()
    };
    let deciding =
        |root: &web_sys::HtmlElement| marked(root, "[data-testid=rule-row][data-deciding=true]");
    assert_eq!(outcome(&root).as_deref(), Some("allowed"));
    assert_eq!(deciding(&root), vec!["1".to_owned()]);
    let rows = root
        .query_selector_all("[data-testid=rule-row]")
        .map(|l| l.length())
        .unwrap_or(0);
    assert_eq!(rows, 2);

    // Denied: nothing decides, the office rule is the nearest, and the fix is offered.
    verdict.set(denied);
    tick().await;
    assert_eq!(outcome(&root).as_deref(), Some("denied"));
    assert!(deciding(&root).is_empty());
    let nearest = marked(&root, "[data-testid=rule-row][data-nearest=true]");
    // The office rule (same traffic, other source) and the ssh rule (other port).
    assert!(nearest.contains(&"1".to_owned()), "{nearest:?}");
    let fix = root
        .query_selector("[data-testid=ask-fix]")
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
        .unwrap_or_default();
    assert!(fix.contains("authorize-security-group-ingress"), "{fix}");
    let summary = root
        .query_selector(".verdict-summary")
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
        .unwrap_or_default();
    assert!(
        summary.contains("rules admit only 198.51.100.0/24"),
        "{summary}"
    );
}

#[wasm_bindgen_test]
async fn loaded_draws_loading_error_empty_and_the_body() {
    let outcome = RwSignal::new(None::<Result<(), ApiError>>);
    let empty = RwSignal::new(false);
    let root = mount(move || {
        view! {
            <Loaded outcome what="things" is_empty=empty empty=|| view! { <p class="nothing">"none"</p> }>
                <p class="body">"body"</p>
            </Loaded>
        }
    });
    let has = |root: &web_sys::HtmlElement, css: &str| root.query_selector(css).ok().flatten();
    let text = |root: &web_sys::HtmlElement| root.text_content().unwrap_or_default();
    assert!(has(&root, ".loading[role=status]").is_some());
    assert!(text(&root).contains("Loading things…"), "{}", text(&root));

    outcome.set(Some(Err(ApiError::Network("connection refused".into()))));
    tick().await;
    assert!(has(&root, ".loading").is_none());
    assert!(has(&root, "[data-testid=error-state][role=alert] button").is_some());
    assert!(
        text(&root).contains("Cannot reach the agent"),
        "{}",
        text(&root)
    );
    assert!(text(&root).contains("Try again"), "{}", text(&root));

    outcome.set(Some(Ok(())));
    tick().await;
    assert!(has(&root, "[data-testid=error-state]").is_none());
    let body = has(&root, "p.body");
    assert!(body.is_some());
    // The same outcome again (a refresh) keeps the body's DOM.
    outcome.set(Some(Ok(())));
    tick().await;
    assert_eq!(has(&root, "p.body"), body);

    empty.set(true);
    tick().await;
    assert!(has(&root, "p.body").is_none());
    assert!(has(&root, "p.nothing").is_some());
}

#[wasm_bindgen_test]
async fn loaded_can_fail_on_one_line() {
    let outcome = RwSignal::new(Some(Err::<(), _>(ApiError::Other {
        status: 500,
        message: "disk full".into(),
    })));
    let root = mount(move || {
        view! {
            <Loaded
                outcome
                what="the runs"
                on_error=OnError::Line { prefix: "Could not load the runs: ", testid: Some("runs-error") }
            >
                <p class="body">"body"</p>
            </Loaded>
        }
    });
    let line = root
        .query_selector("p.error-box[data-testid=runs-error]")
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
        .unwrap_or_default();
    assert_eq!(line, "Could not load the runs: disk full");
    assert!(root
        .query_selector("[data-testid=error-state]")
        .ok()
        .flatten()
        .is_none());
}
