//! `/fleet`: every agent this dashboard knows, side by side, checked every few seconds:
//! reachable or not (and why, in Vantage's words), version, Docker, containers, targets
//! down and the problems, worst first. "Open" switches the whole dashboard to an agent.
//! The list lives in this browser (`crate::agents`); the agent serving the page explains
//! the ones the browser cannot reach (`POST /api/fleet/check`).

mod form;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gloo_timers::future::sleep;
use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::fleet::unreachable_reason;
use vantage_shared::{DockerState, Overview};

use crate::agents::{self, AgentEntry};
use crate::api::{self, ApiError};
use crate::components::badges::{RichText, SeverityBadge};
use crate::state::home_token;

/// How often every agent is asked again: a restarted agent shows as back within this.
const POLL: Duration = Duration::from_secs(5);
/// Problems shown per agent; the rest are counted.
const SHOWN_PROBLEMS: usize = 3;

/// What the page knows of one agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Checking,
    Up(Box<Overview>),
    /// 401: the stored token is wrong (or was rotated).
    TokenRejected,
    /// No answer the browser could use; why, from the serving agent's probe.
    Down(String),
    Failed(String),
}

/// One row: the agent serving the page (`url` empty) or one from the list.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: String,
    url: String,
    token: String,
}

fn rows(list: &[AgentEntry]) -> Vec<Row> {
    let home = Row {
        name: "This agent".to_owned(),
        url: String::new(),
        token: home_token(),
    };
    std::iter::once(home)
        .chain(list.iter().map(|a| Row {
            name: a.name.clone(),
            url: a.url.clone(),
            token: a.token.clone(),
        }))
        .collect()
}

fn page_origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

async fn check(row: &Row) -> Seen {
    match api::overview_of(&row.url, &row.token).await {
        Ok(o) => Seen::Up(Box::new(o)),
        Err(ApiError::Unauthorized) => Seen::TokenRejected,
        Err(ApiError::Network(e)) if row.url.is_empty() => {
            Seen::Down(format!("The agent serving this page does not answer: {e}"))
        }
        Err(ApiError::Network(e)) => match api::fleet_check(&home_token(), &row.url).await {
            Ok(probe) => Seen::Down(unreachable_reason(&row.url, &page_origin(), &probe)),
            Err(why) => Seen::Down(format!(
                "The browser cannot reach {} ({e}), and the agent serving this page could not check why: {why}",
                row.url
            )),
        },
        Err(e) => Seen::Failed(e.to_string()),
    }
}

#[component]
pub fn FleetPage() -> impl IntoView {
    let list = RwSignal::new(agents::load());
    let seen: RwSignal<HashMap<String, Seen>> = RwSignal::new(HashMap::new());
    let alive = Arc::new(AtomicBool::new(true));
    let stop = Arc::clone(&alive);
    on_cleanup(move || stop.store(false, Ordering::Relaxed));
    spawn_local(async move {
        while alive.load(Ordering::Relaxed) {
            for row in rows(&list.get_untracked()) {
                // Each card fills in as its answer arrives; a slow agent holds up no other.
                spawn_local(async move {
                    let state = check(&row).await;
                    seen.update(|m| {
                        m.insert(row.url.clone(), state);
                    });
                });
            }
            sleep(POLL).await;
        }
    });
    let chosen = agents::chosen().map(|a| a.url).unwrap_or_default();
    let remove = move |url: String| {
        list.update(|l| agents::remove(l, &url));
        let _ = agents::save(&list.get_untracked());
        seen.update(|m| {
            m.remove(&url);
        });
        if agents::chosen().is_none() && url == api::base() {
            // The agent on view is gone: back to the one serving the page.
            agents::choose(None);
            reload_to("/");
        }
    };
    view! {
        <h1>"Fleet"</h1>
        <p class="muted">
            "Every agent this dashboard knows, checked every " {POLL.as_secs()} " s. "
            "Their tokens stay in this browser. Each agent must admit this page's origin: "
            <code>{format!("--cors-allow-origin {}", page_origin())}</code>
        </p>
        <ul class="fleet" data-testid="fleet">
            <For each=move || rows(&list.get()) key=|r| (r.url.clone(), r.token.clone()) let:row>
                <AgentCard
                    current=row.url == chosen
                    seen=Signal::derive({
                        let url = row.url.clone();
                        move || seen.with(|m| m.get(&url).cloned().unwrap_or(Seen::Checking))
                    })
                    on_remove=remove
                    row
                />
            </For>
        </ul>
        <form::AddAgent list />
    }
}

fn reload_to(path: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href(path);
    }
}

#[component]
fn AgentCard(
    row: Row,
    current: bool,
    seen: Signal<Seen>,
    on_remove: impl Fn(String) + Copy + 'static,
) -> impl IntoView {
    let home = row.url.is_empty();
    let url = row.url.clone();
    let state = move || match seen.get() {
        Seen::Checking => "checking",
        Seen::Up(_) => "up",
        Seen::TokenRejected => "token",
        Seen::Down(_) => "down",
        Seen::Failed(_) => "failed",
    };
    let chip = move || match seen.get() {
        Seen::Checking => ("Checking…", "badge"),
        Seen::Up(_) => ("Reachable", "badge health-healthy"),
        Seen::TokenRejected => ("Token rejected", "badge severity-warning"),
        Seen::Down(_) => ("Unreachable", "badge severity-critical"),
        Seen::Failed(_) => ("Error", "badge severity-critical"),
    };
    let open = {
        let url = url.clone();
        move |_| {
            agents::choose((!url.is_empty()).then_some(url.as_str()));
            reload_to("/");
        }
    };
    let remove_url = url.clone();
    view! {
        <li class="fleet-card" data-testid="fleet-agent" data-url=url.clone() data-state=state>
            <div class="fleet-head">
                <h2 class="fleet-name">{row.name.clone()}</h2>
                <span class=move || chip().1>{move || chip().0}</span>
            </div>
            <p class="fleet-url muted small">
                {if home { "the agent serving this page".to_owned() } else { row.url.clone() }}
            </p>
            {move || match seen.get() {
                Seen::Up(o) => view! { <Summary o=*o /> }.into_any(),
                Seen::Down(why) | Seen::Failed(why) => {
                    view! { <p class="fleet-why" role="alert" data-testid="fleet-why">{why}</p> }.into_any()
                }
                Seen::TokenRejected => view! {
                    <p class="fleet-why" role="alert">
                        "The agent rejected the stored token. Remove it and add it again with the token from its "
                        <code>"admin.token"</code> "."
                    </p>
                }.into_any(),
                Seen::Checking => view! { <p class="muted">"Asking…"</p> }.into_any(),
            }}
            <div class="fleet-actions">
                {if current {
                    view! { <span class="muted small" data-testid="fleet-current">"On view"</span> }.into_any()
                } else {
                    view! { <button type="button" class="button secondary" on:click=open>"Open"</button> }.into_any()
                }}
                {(!home).then(|| view! {
                    <button
                        type="button"
                        class="link-button"
                        data-testid="fleet-remove"
                        on:click=move |_| on_remove(remove_url.clone())
                    >
                        "Remove"
                    </button>
                })}
            </div>
        </li>
    }
}

/// An agent that answered: its version, Docker, containers, targets and problems.
#[component]
fn Summary(o: Overview) -> impl IntoView {
    let docker_ok = o.docker.state == DockerState::Connected;
    let c = &o.counts;
    let containers = if c.unhealthy > 0 {
        format!(
            "{} running of {}, {} unhealthy",
            c.running, c.total, c.unhealthy
        )
    } else {
        format!("{} running of {}", c.running, c.total)
    };
    let targets = (o.targets > 0).then(|| {
        let class = if o.targets_down > 0 { "bad" } else { "" };
        view! {
            <li class=class data-testid="fleet-targets">
                {format!("{} of {} targets down", o.targets_down, o.targets)}
            </li>
        }
    });
    let more = o.problems.len().saturating_sub(SHOWN_PROBLEMS);
    let problems: Vec<_> = o.problems.into_iter().take(SHOWN_PROBLEMS).collect();
    view! {
        <ul class="fleet-facts">
            <li data-testid="fleet-version">{format!("Vantage {} on {}", o.agent_version, o.hostname)}</li>
            <li class=if docker_ok { "" } else { "warn" }>{o.docker.to_string()}</li>
            <li>{containers}</li>
            {targets}
        </ul>
        {(!problems.is_empty()).then(|| view! {
            <ul class="problems fleet-problems">
                {problems.into_iter().map(|p| view! {
                    <li class="problem">
                        <SeverityBadge severity=p.finding.severity />
                        <div>
                            <span class="problem-container">{p.container_name}</span>
                            <p class="problem-summary"><RichText text=p.finding.summary /></p>
                        </div>
                    </li>
                }).collect_view()}
            </ul>
        })}
        {(more > 0).then(|| view! { <p class="muted small">{format!("and {more} more")}</p> })}
    }
}
