//! `/reach`: every target as the agent sees it next to every browser that tested it, with
//! the add-target form, "Probe all", this browser's own test and the phone link for testing
//! from another network (docs/incidents.md: "Blocked from the guest Wi-Fi", "Proxy says 503,
//! backend says 200", "Two containers that cannot talk", "The 404 that was not a routing
//! error").

mod form;
mod history;
mod interval_edit;
mod latency;
mod phone_link;
mod proxy_field;
mod target_card;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::probe::{
    Comparison, DeviceReportIn, PhoneLink, ProbeTarget, TargetComparison, TargetPatch,
};

use super::Live;
use crate::api;
use crate::check::{self, bounded, PageContext};
use crate::components::finding::Snippet;
use crate::components::loaded::Loaded;
use crate::components::status::{error_text, Empty};
use crate::state::{device_id, use_refresh, use_session, Refresh, Session};
use form::TargetForm;
use phone_link::{DeviceSeen, PhoneLinkPanel};
use target_card::TargetCard;
use vantage_shared::page_snippet::SnippetTarget;

/// Agent probes "Probe all" runs at once: each can take ~15 s, and the agent probes
/// every address of every target, so a few at a time keep it responsive.
pub const AGENT_CONCURRENCY: usize = 3;

/// An example for the empty state, in the agent's config-file format.
const CONFIG_SNIPPET: &str = r#"# vantage.toml, loaded with `vantage serve --config vantage.toml`
[[targets]]
name = "Shop API"
url = "https://api.shop.example/products?page=2"
expected_status = 200
cors_origin = "https://shop.example"

[[targets]]
name = "Database"
url = "db.internal:5432"
"#;

/// The actions a target card or the toolbar can start, and their progress.
#[derive(Clone, Copy)]
pub struct Actions {
    session: Session,
    refresh: Refresh,
    /// Targets the agent is probing right now (buttons show "Probing…").
    pub probing: RwSignal<HashSet<String>>,
    /// The last failed action per target, shown in its card.
    pub errors: RwSignal<HashMap<String, String>>,
    /// "Probe all": (done, total) while running and after it finished.
    pub all: RwSignal<Option<(usize, usize)>>,
    pub all_running: RwSignal<bool>,
}

impl Actions {
    fn new(session: Session, refresh: Refresh) -> Self {
        Self {
            session,
            refresh,
            probing: RwSignal::new(HashSet::new()),
            errors: RwSignal::new(HashMap::new()),
            all: RwSignal::new(None),
            all_running: RwSignal::new(false),
        }
    }

    /// Asks the agent to probe one target now.
    pub fn probe(self, id: String) {
        spawn_local(async move { self.probe_now(id).await });
    }

    async fn probe_now(self, id: String) {
        if self.probing.with_untracked(|p| p.contains(&id)) {
            return;
        }
        self.probing.update(|p| {
            p.insert(id.clone());
        });
        self.errors.update(|e| {
            e.remove(&id);
        });
        let token = self.session.token_untracked();
        let result = self.session.check(api::probe_target(&token, &id).await);
        self.probing.update(|p| {
            p.remove(&id);
        });
        match result {
            // The agent also announces it (`agent_probed`); refetching here keeps the page
            // right when the event stream is down.
            Ok(_) => self.refresh.bump_reach(),
            Err(e) => self.errors.update(|errs| {
                errs.insert(id, format!("Probe failed: {}", error_text(&e)));
            }),
        }
    }

    /// Probes every target, [`AGENT_CONCURRENCY`] at a time, counting progress.
    pub fn check_all(self, ids: Vec<String>) {
        if self.all_running.get_untracked() || ids.is_empty() {
            return;
        }
        let total = ids.len();
        self.all.set(Some((0, total)));
        self.all_running.set(true);
        spawn_local(async move {
            bounded(ids, AGENT_CONCURRENCY, |id| async move {
                self.probe_now(id).await;
                self.all
                    .update(|a| *a = a.map(|(done, total)| (done + 1, total)));
            })
            .await;
            self.all_running.set(false);
        });
    }

    /// Sets a dashboard target's probe interval; true when the agent took it.
    pub async fn set_interval(self, id: String, interval_seconds: u32) -> bool {
        let token = self.session.token_untracked();
        let patch = TargetPatch { interval_seconds };
        match self
            .session
            .check(api::patch_target(&token, &id, &patch).await)
        {
            Ok(_) => {
                self.errors.update(|errs| {
                    errs.remove(&id);
                });
                self.refresh.bump_reach();
                true
            }
            Err(e) => {
                self.errors.update(|errs| {
                    errs.insert(
                        id,
                        format!("Changing the interval failed: {}", error_text(&e)),
                    );
                });
                false
            }
        }
    }

    /// Deletes a dashboard target (the card asked for confirmation).
    pub fn delete(self, id: String) {
        spawn_local(async move {
            let token = self.session.token_untracked();
            match self.session.check(api::delete_target(&token, &id).await) {
                Ok(()) => self.refresh.bump_reach(),
                Err(e) => self.errors.update(|errs| {
                    errs.insert(id, format!("Delete failed: {}", error_text(&e)));
                }),
            }
        });
    }
}

/// Now, updated every second while the page is open: countdowns and "… ago".
fn ticking_clock() -> RwSignal<DateTime<Utc>> {
    let now = RwSignal::new(Utc::now());
    if let Ok(handle) = set_interval_with_handle(
        move || now.set(Utc::now()),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || handle.clear());
    }
    now
}

#[component]
pub fn ReachPage() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let comparison = Live::new(move || {
        refresh.track_reach();
        let token = session.token();
        async move { session.check(api::comparison(&token).await) }
    });
    // Created here, outside the loaded body, like every page resource: see [`Live`].
    let links = Live::new(move || {
        refresh.track_reach();
        let token = session.token();
        async move { session.check(api::phone_links(&token).await) }
    });
    view! {
        <h1>"Reachability"</h1>
        <p class="lead">
            "Each target as the agent sees it, next to every browser that tested it: this one, a phone on the guest Wi-Fi or on LTE, a colleague's laptop."
        </p>
        <Loaded outcome=comparison.outcome() what="targets">
            <ReachBody comparison links />
        </Loaded>
    }
}

/// Every device that reported, newest report first (one entry per device).
fn devices_seen(c: &Comparison) -> Vec<DeviceSeen> {
    let mut by_id: HashMap<&str, DeviceSeen> = HashMap::new();
    for d in c.targets.iter().flat_map(|t| &t.devices) {
        let newer = by_id
            .get(d.device_id.as_str())
            .is_none_or(|seen| seen.received_at < d.received_at);
        if newer {
            by_id.insert(
                &d.device_id,
                DeviceSeen {
                    device_id: d.device_id.clone(),
                    client_ip: d.client_ip.clone(),
                    user_agent: d.user_agent.clone(),
                    received_at: d.received_at,
                },
            );
        }
    }
    let mut list: Vec<DeviceSeen> = by_id.into_values().collect();
    list.sort_by_key(|d| std::cmp::Reverse(d.received_at));
    list
}

#[component]
fn ReachBody(comparison: Live<Comparison>, links: Live<Vec<PhoneLink>>) -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let actions = Actions::new(session, refresh);
    let now = ticking_clock();
    let rows = comparison.select(|c| c.targets.clone());
    let ids = comparison.select(|c| {
        c.targets
            .iter()
            .map(|t| t.target.id.clone())
            .collect::<Vec<_>>()
    });
    let rules_loaded = comparison.select(|c| c.rules_loaded);
    let devices = comparison.select(devices_seen);
    let devices = Signal::derive(move || devices.get().unwrap_or_default());
    // What the console snippet checks from the page users visit: targets with a page origin.
    let page_targets = comparison.select(|c| {
        c.targets
            .iter()
            .filter(|t| t.target.cors_origin.is_some())
            .map(|t| SnippetTarget {
                id: t.target.id.clone(),
                url: t.target.url.clone(),
            })
            .collect::<Vec<_>>()
    });
    let page_targets = Signal::derive(move || page_targets.get().unwrap_or_default());
    // Few targets: show each comparison open; many: a scannable list to open one by one.
    let open_by_default = ids.with_untracked(|ids| ids.as_ref().is_some_and(|i| i.len() <= 3));

    view! {
        <Toolbar rows actions />
        <Show
            when=move || ids.with(|i| i.as_ref().is_some_and(|i| !i.is_empty()))
            fallback=|| view! { <EmptyTargets /> }
        >
            <ul class="targets" aria-label="Targets">
                <For each=move || ids.get().unwrap_or_default() key=|id| id.clone() let:id>
                    <TargetCard id rows actions now open=open_by_default />
                </For>
            </ul>
        </Show>
        <Show when=move || rules_loaded.get() == Some(false)>
            <p class="small rules-hint" data-testid="rules-hint">
                <a href="/firewall">"Load security-group rules to see which rule blocks a device"</a>
            </p>
        </Show>
        <div class="two-col reach-panels">
            <section class="panel" aria-labelledby="add-target-title">
                <h2 id="add-target-title">"Add a target"</h2>
                <TargetForm actions />
            </section>
            <PhoneLinkPanel devices now links page_targets />
        </div>
    }
}

#[component]
fn EmptyTargets() -> impl IntoView {
    view! {
        <Empty title="No targets yet.">
            <p>
                "A target is a URL (" <code>"http://"</code> " or " <code>"https://"</code> ") or a "
                <code>"host:port"</code>
                " that the agent probes: DNS, a TCP connect to every address, TLS, HTTP and CORS. Browsers you send a link to test the same targets from their own network, so you can see where a request is lost."
            </p>
            <p>"Add one with the form below, or list them in the agent's config file:"</p>
            <Snippet text=CONFIG_SNIPPET.to_owned() language=Some("toml".to_owned()) />
        </Empty>
    }
}

/// What "Test from this browser" is doing.
#[derive(Debug, Clone, PartialEq)]
enum BrowserRun {
    Idle,
    Running { done: usize, total: usize },
    Done { at: DateTime<Utc> },
    Failed(String),
}

#[component]
fn Toolbar(rows: Memo<Option<Vec<TargetComparison>>>, actions: Actions) -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let run = RwSignal::new(BrowserRun::Idle);
    let has_targets = move || rows.with(|r| r.as_ref().is_some_and(|r| !r.is_empty()));

    let on_probe_all = move |_| {
        let ids = rows.with_untracked(|r| {
            r.as_ref()
                .map(|r| r.iter().map(|t| t.target.id.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        });
        actions.check_all(ids);
    };

    let on_test_browser = move |_| test_from_this_browser(rows, run, session, refresh);

    let progress = move || {
        actions.all.get().map(|(done, total)| {
            view! {
                <span class="progress" role="status">
                    <span data-testid="probe-progress" data-running=move || actions.all_running.get().to_string()>
                        {format!("{done} / {total}")}
                    </span>
                    {move || if actions.all_running.get() { " probed…" } else { " probed" }}
                </span>
            }
        })
    };
    let browser_status = move || browser_status(run.get());
    view! {
        <Show when=has_targets>
            <div class="toolbar reach-toolbar">
                <button
                    type="button"
                    class="button"
                    data-testid="probe-all"
                    on:click=on_probe_all
                    disabled=move || actions.all_running.get()
                >
                    {move || if actions.all_running.get() { "Probing…" } else { "Probe all" }}
                </button>
                {progress}
                <button
                    type="button"
                    class="button secondary"
                    data-testid="test-browser"
                    on:click=on_test_browser
                    disabled=move || matches!(run.get(), BrowserRun::Running { .. })
                    title="Runs the browser checks from this browser and adds its column"
                >
                    "Test from this browser"
                </button>
                {browser_status}
            </div>
        </Show>
    }
}

/// Runs the browser checks from this browser and sends them as this device's report.
fn test_from_this_browser(
    rows: Memo<Option<Vec<TargetComparison>>>,
    run: RwSignal<BrowserRun>,
    session: Session,
    refresh: Refresh,
) {
    if matches!(run.get_untracked(), BrowserRun::Running { .. }) {
        return;
    }
    let targets: Vec<ProbeTarget> = rows.with_untracked(|r| {
        r.as_ref()
            .map(|r| r.iter().map(|t| ProbeTarget::from(&t.target)).collect())
            .unwrap_or_default()
    });
    let Some(page) = PageContext::current() else {
        run.set(BrowserRun::Failed("cannot read this page's address".into()));
        return;
    };
    let total = targets.len();
    run.set(BrowserRun::Running { done: 0, total });
    spawn_local(async move {
        let results = check::check_all(
            targets,
            &page,
            |_| {},
            |_| {
                run.update(|r| {
                    if let BrowserRun::Running { done, .. } = r {
                        *done += 1;
                    }
                })
            },
        )
        .await;
        let report = DeviceReportIn {
            device_id: device_id(),
            page_origin: page.origin.clone(),
            results,
        };
        let token = session.token_untracked();
        match session.check(api::post_report(&token, &report).await) {
            Ok(_) => {
                run.set(BrowserRun::Done { at: Utc::now() });
                refresh.bump_reach();
            }
            Err(e) => run.set(BrowserRun::Failed(error_text(&e))),
        }
    });
}

/// The line after "Test from this browser": progress, when it was sent, or why it failed.
fn browser_status(run: BrowserRun) -> Option<AnyView> {
    match run {
        BrowserRun::Idle => None,
        BrowserRun::Running { done, total } => Some(
            view! { <span class="progress" role="status">{format!("{done} / {total} tested…")}</span> }
                .into_any(),
        ),
        BrowserRun::Done { at } => Some(
            view! {
                <span class="progress" role="status" data-testid="browser-test-status">
                    {format!("Sent at {}: see the column for this browser", crate::format::clock(at))}
                </span>
            }
            .into_any(),
        ),
        BrowserRun::Failed(e) => Some(
            view! { <span class="progress bad" role="alert">{format!("Browser test failed: {e}")}</span> }
                .into_any(),
        ),
    }
}
