//! `/p/:code`: the page a phone opens from a phone link. No navigation and no admin
//! token: the code is the (scoped, expiring) token. It checks every target from this
//! browser as soon as it loads, sends the results, and shows the agent's view next to
//! this phone's. It stores nothing but a random device id.

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use vantage_shared::probe::{
    AgentProbe, BrowserCheck, Comparison, DeviceReportIn, ProbeSet, ProbeTarget, ReachVerdict,
};

use crate::api::{self, ApiError};
use crate::check::{self, bounded, PageContext};
use crate::components::finding::FindingCard;
use crate::components::verdict::ReachBadge;
use crate::format::clock;
use crate::pages::reach::AGENT_CONCURRENCY;
use crate::state::device_id;

/// Where a run is.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Fetching the probe set.
    Loading,
    Checking,
    /// Sending the results.
    Sending,
    Done,
    Failed(Failure),
}

/// Why the page cannot go on, in the terms a phone user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// 401: expired, revoked or mistyped.
    Expired,
    /// Any other failure, with what to try.
    Other { title: String, detail: String },
}

/// Maps an API error to what the phone shows.
pub fn failure(e: &ApiError) -> Failure {
    match e {
        ApiError::Unauthorized | ApiError::NotFound(_) => Failure::Expired,
        ApiError::Network(m) => Failure::Other {
            title: "Cannot reach the agent from this phone".into(),
            detail: format!(
                "{m}. The address in the link may only work on the other network; ask for a link with an address this phone can reach."
            ),
        },
        ApiError::Other { status: 403, .. } => Failure::Expired,
        other => Failure::Other {
            title: "Something went wrong".into(),
            detail: other.to_string(),
        },
    }
}

/// The page's signals, handed to its parts; each is `Copy`, so this is too.
#[derive(Clone, Copy)]
struct PhoneState {
    phase: RwSignal<Phase>,
    set: RwSignal<Option<ProbeSet>>,
    running: RwSignal<HashSet<String>>,
    results: RwSignal<HashMap<String, BrowserCheck>>,
    answer: RwSignal<Option<Comparison>>,
    /// The agent's (redacted) probes as they finish, before the report's answer arrives.
    agent: RwSignal<HashMap<String, AgentProbe>>,
}

impl PhoneState {
    fn new() -> Self {
        Self {
            phase: RwSignal::new(Phase::Loading),
            set: RwSignal::new(None),
            running: RwSignal::new(HashSet::new()),
            results: RwSignal::new(HashMap::new()),
            answer: RwSignal::new(None),
            agent: RwSignal::new(HashMap::new()),
        }
    }

    /// Starts a run from scratch, unless one is under way. It reads signals only
    /// untracked, so the effect that starts the first run runs once.
    fn start(self, code: &str) {
        let Self {
            phase,
            set,
            running,
            results,
            answer,
            agent,
        } = self;
        if matches!(phase.get_untracked(), Phase::Checking | Phase::Sending) {
            return;
        }
        let code = code.to_owned();
        phase.set(Phase::Loading);
        running.set(HashSet::new());
        results.set(HashMap::new());
        agent.set(HashMap::new());
        answer.set(None);
        spawn_local(async move {
            match run_once(&code, phase, set, running, results, agent).await {
                Ok(comparison) => {
                    answer.set(Some(comparison));
                    phase.set(Phase::Done);
                }
                Err(f) => phase.set(Phase::Failed(f)),
            }
        });
    }

    fn busy(self) -> bool {
        matches!(
            self.phase.get(),
            Phase::Loading | Phase::Checking | Phase::Sending
        )
    }
}

#[component]
pub fn PhonePage() -> impl IntoView {
    let params = use_params_map();
    let code = params.read_untracked().get("code").unwrap_or_default();
    let s = PhoneState::new();

    // Start at once: the person scanned a code and expects it to just run. The effect
    // reads no signal (start() only reads untracked), so it runs once, after mounting.
    {
        let code = code.clone();
        Effect::new(move |_| s.start(&code));
    }

    view! {
        <div class="phone-page">
            <header class="phone-header">
                <span class="brand">"Vantage"</span>
                <span class="muted">"reachability test"</span>
            </header>
            <FailureBox phase=s.phase />
            <LinkInfo set=s.set />
            <Progress s />
            <TargetList s />
            <RunAgain s code />
            <p class="muted small phone-privacy">
                "This page keeps only a random device id in this browser, so repeated runs count as one device."
            </p>
        </div>
    }
}

/// Why the run stopped, when it did.
#[component]
fn FailureBox(phase: RwSignal<Phase>) -> impl IntoView {
    move || {
        match phase.get() {
        Phase::Failed(Failure::Expired) => Some(view! {
            <div class="error-box phone-error" role="alert">
                <p class="error-title">"This link expired; ask for a new one."</p>
                <p>"Phone links work for a limited time and can be revoked. Whoever sent it can create a new one on the Reachability page."</p>
            </div>
        }.into_any()),
        Phase::Failed(Failure::Other { title, detail }) => Some(view! {
            <div class="error-box phone-error" role="alert">
                <p class="error-title">{title}</p>
                <p>{detail}</p>
            </div>
        }.into_any()),
        _ => None,
    }
    }
}

/// This phone's address as the agent sees it, and how long the link lasts.
#[component]
fn LinkInfo(set: RwSignal<Option<ProbeSet>>) -> impl IntoView {
    move || {
        set.get().map(|s| view! {
        <p class="phone-ip">
            "Your address as the agent sees it: "
            <strong data-testid="phone-client-ip">{s.client_ip.clone()}</strong>
        </p>
        <p class="muted small">{format!("This link works until {}.", clock(s.expires_at))}</p>
    })
    }
}

/// The run's status badge and how far it got.
#[component]
fn Progress(s: PhoneState) -> impl IntoView {
    let PhoneState {
        phase,
        set,
        results,
        ..
    } = s;
    let status_text = move || match phase.get() {
        Phase::Done => "done",
        Phase::Failed(_) => "error",
        _ => "running",
    };
    let status_line = move || match phase.get() {
        Phase::Loading => "Loading the targets…".to_owned(),
        Phase::Checking => {
            let total = set.with(|s| s.as_ref().map_or(0, |s| s.targets.len()));
            format!(
                "Testing from this phone: {} / {total}",
                results.with(HashMap::len)
            )
        }
        Phase::Sending => "Sending the results…".to_owned(),
        Phase::Done => "Results sent to the agent.".to_owned(),
        Phase::Failed(_) => "Stopped.".to_owned(),
    };
    view! {
        <p class="phone-progress" role="status" aria-live="polite">
            <span class=move || format!("badge phone-status-{}", status_text()) data-testid="phone-status">
                {status_text}
            </span>
            " "
            {status_line}
        </p>
    }
}

/// Every target with both sides' results, or a word that there are none.
#[component]
fn TargetList(s: PhoneState) -> impl IntoView {
    let PhoneState {
        set,
        running,
        results,
        answer,
        agent,
        ..
    } = s;
    view! {
        <ul class="phone-targets">
            <For
                each=move || set.with(|s| s.as_ref().map(|s| s.targets.clone()).unwrap_or_default())
                key=|t| t.id.clone()
                let:t
            >
                <PhoneTarget t running results agent answer />
            </For>
        </ul>
        {move || {
            set.with(|s| s.as_ref().is_some_and(|s| s.targets.is_empty()))
                .then(|| view! { <p class="empty">"There is nothing to test yet: no targets are configured."</p> })
        }}
    }
}

/// Runs the checks again; hidden for an expired link, which would only fail again.
#[component]
fn RunAgain(s: PhoneState, code: String) -> impl IntoView {
    view! {
        <Show when=move || s.phase.with(|p| *p != Phase::Failed(Failure::Expired))>
            <button
                type="button"
                class="button big"
                data-testid="run-again"
                disabled=move || s.busy()
                on:click={
                    let code = code.clone();
                    move |_| s.start(&code)
                }
            >
                {move || if s.busy() { "Testing…" } else { "Run again" }}
            </button>
        </Show>
    }
}

/// One round: the probe set, the checks, the report. Returns the agent's answer.
async fn run_once(
    code: &str,
    phase: RwSignal<Phase>,
    set: RwSignal<Option<ProbeSet>>,
    running: RwSignal<HashSet<String>>,
    results: RwSignal<HashMap<String, BrowserCheck>>,
    agent: RwSignal<HashMap<String, AgentProbe>>,
) -> Result<Comparison, Failure> {
    let probe_set = api::phone_targets(code).await.map_err(|e| failure(&e))?;
    let targets: Vec<ProbeTarget> = probe_set.targets.clone();
    set.set(Some(probe_set));
    phase.set(Phase::Checking);
    let page = PageContext::current().ok_or_else(|| Failure::Other {
        title: "Cannot read this page's address".into(),
        detail: "Reload the page.".into(),
    })?;
    // The agent probes the same targets meanwhile, so both sides are measured at the same
    // moment (the agent reuses a result younger than 30 s). Its failures only leave the
    // agent's line at its previous result.
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let agent_side = bounded(ids, AGENT_CONCURRENCY, |id| async move {
        if let Ok(p) = api::probe_target(code, &id).await {
            agent.update(|a| {
                a.insert(id, p);
            });
        }
    });
    let browser_side = check::check_all(
        targets,
        &page,
        |id| {
            running.update(|r| {
                r.insert(id.to_owned());
            })
        },
        |p| {
            running.update(|r| {
                r.remove(&p.target_id);
            });
            results.update(|r| {
                r.insert(p.target_id.clone(), p.clone());
            });
        },
    );
    let (_, checks) = futures_util::future::join(agent_side, browser_side).await;
    phase.set(Phase::Sending);
    let report = DeviceReportIn {
        device_id: device_id(),
        page_origin: page.origin,
        results: checks,
    };
    api::post_report(code, &report)
        .await
        .map_err(|e| failure(&e))
}

#[component]
fn PhoneTarget(
    t: ProbeTarget,
    running: RwSignal<HashSet<String>>,
    results: RwSignal<HashMap<String, BrowserCheck>>,
    agent: RwSignal<HashMap<String, AgentProbe>>,
    answer: RwSignal<Option<Comparison>>,
) -> impl IntoView {
    let id = t.id.clone();
    let mine = {
        let id = id.clone();
        Memo::new(move |_| results.with(|r| r.get(&id).cloned()))
    };
    let is_running = {
        let id = id.clone();
        move || running.with(|r| r.contains(&id))
    };
    let row = {
        let id = id.clone();
        Memo::new(move |_| {
            answer.with(|a| {
                a.as_ref()
                    .and_then(|a| a.targets.iter().find(|t| t.target.id == id).cloned())
            })
        })
    };
    // The report's answer when it is there, else the agent's probe as it came back.
    let agent_line = {
        let id = id.clone();
        Memo::new(move |_| match row.get() {
            Some(r) => Some(r.agent.map(|a| (a.verdict, a.summary))),
            None => agent.with(|a| a.get(&id).map(|a| Some((a.verdict, a.summary.clone())))),
        })
    };
    let target_id = id.clone();
    view! {
        <li class="phone-target">
            <h2>{t.name.clone()}</h2>
            <code class="target-url">{t.url.clone()}</code>
            {move || {
                agent_line
                    .get()
                    .map(|line| {
                        let (verdict, summary) = line
                            .unwrap_or((ReachVerdict::Unknown, "The agent has not probed it yet.".to_owned()));
                        view! {
                            <p class="from" data-testid="phone-agent-verdict" data-verdict=verdict.as_str()>
                                <span class="from-label">"From the agent:"</span>
                                <ReachBadge verdict />
                                " "
                                <span>{summary}</span>
                            </p>
                        }
                    })
            }}
            {
                let target_id = target_id.clone();
                move || match mine.get() {
                    Some(p) => {
                        // The agent's answer settles which CORS result counts: this page
                        // tests its own origin, the target may be about another one.
                        let settled = row.with(|r| {
                            r.as_ref().and_then(|r| r.devices.first().map(|d| d.verdict))
                        });
                        let (verdict, summary) = check::settled(&p, settled);
                        view! {
                            <p
                                class="from"
                                data-testid="phone-result"
                                data-target-id=target_id.clone()
                                data-verdict=verdict.as_str()
                            >
                                <span class="from-label">"From this phone:"</span>
                                <ReachBadge verdict browser=true />
                                " "
                                <span>{summary}</span>
                            </p>
                        }
                            .into_any()
                    }
                    None => view! {
                        <p class="from muted">
                            <span class="from-label">"From this phone:"</span>
                            {if is_running() {
                                view! { <span class="spinner" aria-hidden="true"></span> " testing…" }.into_any()
                            } else {
                                "waiting".into_any()
                            }}
                        </p>
                    }
                        .into_any(),
                }
            }
            {move || {
                row.get()
                    .map(|r| {
                        view! {
                            <div class="findings">
                                {r.findings.into_iter().map(|finding| view! { <FindingCard finding /> }).collect_view()}
                            </div>
                        }
                    })
            }}
        </li>
    }
}
