//! Component tests in a real browser (`wasm-bindgen-test`): they mount views and check
//! the DOM the end-to-end tests and people rely on (SVG namespace, test ids, keys).

use chrono::{Duration, TimeZone, Utc};
use leptos::prelude::*;
use vantage_shared::{
    ContainerState, ContainerSummary, HealthProbe, HealthStatus, HealthcheckConfig,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

use leptos_router::components::Router;

use crate::components::container_table::{ContainerTable, Sort};
use crate::components::timeline::HealthTimeline;

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

fn probe(start_s: i64, duration_ms: i64, exit_code: i64) -> HealthProbe {
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
        .single()
        .unwrap_or_default();
    let start = t0 + Duration::seconds(start_s);
    HealthProbe {
        start,
        end: start + Duration::milliseconds(duration_ms),
        duration_ms: duration_ms as u64,
        exit_code,
        output: String::new(),
        status: HealthStatus::Starting,
    }
}

#[wasm_bindgen_test]
fn timeline_is_svg_with_one_bar_per_probe() {
    let probes = vec![probe(1, 3000, -1), probe(3, 3000, -1), probe(5, 150, 0)];
    let config = HealthcheckConfig {
        test: vec!["CMD-SHELL".into(), "true".into()],
        interval_ms: 2000,
        timeout_ms: 3000,
        start_period_ms: 0,
        retries: 3,
    };
    let started = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).single();
    let root =
        mount(move || view! { <HealthTimeline probes started_at=started config=Some(config) /> });

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
