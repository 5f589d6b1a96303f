//! One target: its verdict from every vantage point at a glance, and the side-by-side
//! comparison (agent column, one column per device) with the findings.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use vantage_shared::diagnosis::Finding;
use vantage_shared::probe::{
    AgentProbe, DeviceResult, ReachVerdict, Target, TargetComparison, TargetSource,
};

use super::history::TargetHistoryPanel;
use super::interval_edit::IntervalEdit;
use super::Actions;
use crate::check::browser_summary;
use crate::components::badges::{RichText, SeverityBadge};
use crate::components::finding::FindingCard;
use crate::components::probe_detail::{AgentDetail, BrowserDetail};
use crate::components::rules_verdict::DeviceRulesBadge;
use crate::components::verdict::ReachBadge;
use crate::format::{ago, date_time, interval_label, short_user_agent};

/// The comparison's findings, then the agent's own that it does not already hold; worst first.
/// Identical ones (two devices behind one address say the same thing) are shown once.
pub fn all_findings(tc: &TargetComparison) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let agent = tc.agent.iter().flat_map(|a| &a.findings);
    for f in tc.findings.iter().chain(agent) {
        if !out
            .iter()
            .any(|o| o.code == f.code && o.summary == f.summary)
        {
            out.push(f.clone());
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

#[component]
pub fn TargetCard(
    id: String,
    rows: Memo<Option<Vec<TargetComparison>>>,
    actions: Actions,
    now: RwSignal<DateTime<Utc>>,
    open: bool,
) -> impl IntoView {
    let row_id = id.clone();
    let tc = Memo::new(move |_| {
        rows.with(|r| {
            r.as_ref()
                .and_then(|r| r.iter().find(|t| t.target.id == row_id).cloned())
        })
    });
    let target = Memo::new(move |_| tc.with(|t| t.as_ref().map(|t| t.target.clone())));
    let agent = Memo::new(move |_| tc.with(|t| t.as_ref().and_then(|t| t.agent.clone())));
    let devices =
        Memo::new(move |_| tc.with(|t| t.as_ref().map(|t| t.devices.clone()).unwrap_or_default()));
    let findings =
        Memo::new(move |_| tc.with(|t| t.as_ref().map(all_findings).unwrap_or_default()));

    let error = {
        let id = id.clone();
        move || actions.errors.with(|e| e.get(&id).cloned())
    };
    let worst = move || {
        findings.with(|f| f.first().cloned()).map(|f| {
            view! {
                <p class="worst-finding">
                    <SeverityBadge severity=f.severity />
                    " "
                    <RichText text=f.summary />
                </p>
            }
        })
    };

    view! {
        <li class="target" data-testid="reach-target" data-target-id=id.clone()>
            <header class="target-head">
                <TargetHead target />
                <TargetActions id=id.clone() target actions />
            </header>
            <VantageRow agent devices />
            {worst}
            {move || error().map(|e| view! { <p class="error-box small" role="alert">{e}</p> })}
            <CompareDetails agent devices findings now open />
            <TargetHistoryPanel id=id.clone() />
        </li>
    }
}

/// The target's name, URL and badges (config file, expected status, interval).
#[component]
fn TargetHead(target: Memo<Option<Target>>) -> impl IntoView {
    move || {
        target.get().map(|t| {
            view! {
                <div class="target-name">
                    <h3>{t.name.clone()}</h3>
                    <code class="target-url">{t.url.clone()}</code>
                    {(t.source == TargetSource::Config)
                        .then(|| {
                            view! {
                                <span class="badge" title="Defined in the agent's config file; edit the file to change it">
                                    "config file"
                                </span>
                            }
                        })}
                    {t.expected_status
                        .map(|s| view! { <span class="badge" title="Expected HTTP status">{format!("expects {s}")}</span> })}
                    <span class="badge" title="The agent probes it at this interval and keeps every result">
                        {format!("every {}", interval_label(t.interval_seconds))}
                    </span>
                </div>
            }
        })
    }
}

/// The probe button and, for targets added from the dashboard, the interval and delete
/// (with a confirm step).
#[component]
fn TargetActions(id: String, target: Memo<Option<Target>>, actions: Actions) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let probe_id = id.clone();
    let probing = {
        let id = id.clone();
        move || actions.probing.with(|p| p.contains(&id))
    };
    let interval = Signal::derive(move || {
        target.with(|t| {
            t.as_ref()
                .map_or(vantage_shared::probe::DEFAULT_INTERVAL_SECONDS, |t| {
                    t.interval_seconds
                })
        })
    });
    let edit_id = id.clone();
    let delete_id = id;
    let is_dashboard = move || {
        target.with(|t| {
            t.as_ref()
                .is_some_and(|t| t.source == TargetSource::Dashboard)
        })
    };
    view! {
        <div class="target-actions">
            <button
                type="button"
                class="button small-button"
                data-testid="probe-target"
                disabled=probing.clone()
                on:click=move |_| actions.probe(probe_id.clone())
            >
                {let probing = probing.clone(); move || if probing() { "Probing…" } else { "Probe" }}
            </button>
            <Show when=is_dashboard>
                <IntervalEdit id=edit_id.clone() current=interval actions />
            </Show>
            <Show when=is_dashboard>
                {
                    let delete_id = delete_id.clone();
                    move || {
                        let delete_id = delete_id.clone();
                        if confirming.get() {
                            view! {
                                <span class="confirm" role="group" aria-label="Confirm delete">
                                    <button
                                        type="button"
                                        class="button danger small-button"
                                        data-testid="confirm-delete"
                                        on:click=move |_| {
                                            confirming.set(false);
                                            actions.delete(delete_id.clone());
                                        }
                                    >
                                        "Delete"
                                    </button>
                                    <button
                                        type="button"
                                        class="button secondary small-button"
                                        on:click=move |_| confirming.set(false)
                                    >
                                        "Keep"
                                    </button>
                                </span>
                            }
                                .into_any()
                        } else {
                            view! {
                                <button
                                    type="button"
                                    class="button secondary small-button"
                                    data-testid="delete-target"
                                    on:click=move |_| confirming.set(true)
                                >
                                    "Delete…"
                                </button>
                            }
                                .into_any()
                        }
                    }
                }
            </Show>
        </div>
    }
}

/// One chip per vantage point: the agent's verdict, then each device's.
#[component]
fn VantageRow(agent: Memo<Option<AgentProbe>>, devices: Memo<Vec<DeviceResult>>) -> impl IntoView {
    let agent_badge = move || {
        let (verdict, text) = match agent.get() {
            Some(a) => (a.verdict, None),
            None => (ReachVerdict::Unknown, Some("not probed yet")),
        };
        view! {
            <span class="vp-chip" data-testid="agent-verdict" data-verdict=verdict.as_str()>
                <span class="vp-name">"Agent"</span>
                <ReachBadge verdict text />
            </span>
        }
    };
    view! {
        <div class="vantage-row" aria-label="Verdict from each vantage point">
            {agent_badge}
            <For
                each=move || devices.get()
                key=|d| (d.device_id.clone(), d.received_at, d.verdict, d.rules.as_ref().map(|r| (r.admitted, r.summary.clone())))
                let:d
            >
                <span
                    class="vp-chip"
                    data-testid="device-verdict"
                    data-verdict=d.verdict.as_str()
                    data-client-ip=d.client_ip.clone()
                    title=d.user_agent.clone()
                >
                    <span class="vp-name">{d.client_ip.clone()}</span>
                    <ReachBadge verdict=d.verdict browser=true />
                    {d.rules.clone().map(|v| view! { <DeviceRulesBadge v /> })}
                </span>
            </For>
        </div>
    }
}

/// "Compare vantage points": a column per vantage point, the agent's detail and the findings.
#[component]
fn CompareDetails(
    agent: Memo<Option<AgentProbe>>,
    devices: Memo<Vec<DeviceResult>>,
    findings: Memo<Vec<Finding>>,
    now: RwSignal<DateTime<Utc>>,
    open: bool,
) -> impl IntoView {
    // Kept outside the re-rendered columns, so a live update does not close it.
    let agent_open = RwSignal::new(false);
    view! {
        <details class="compare" open=open>
            <summary>"Compare vantage points"</summary>
            <div class="columns">
                {move || view! { <AgentColumn probe=agent.get() now /> }}
                <For
                    each=move || devices.get()
                    key=|d| (d.device_id.clone(), d.received_at, d.verdict, d.rules.as_ref().map(|r| (r.admitted, r.summary.clone())))
                    let:d
                >
                    <DeviceColumn d now />
                </For>
            </div>
            // Full width below the columns: the tables need the room.
            {move || {
                agent
                    .get()
                    .map(|probe| {
                        view! {
                            <details
                                class="agent-detail"
                                prop:open=move || agent_open.get()
                                on:toggle=move |ev| {
                                    let el: web_sys::HtmlDetailsElement = event_target(&ev);
                                    agent_open.set(el.open());
                                }
                            >
                                <summary>"The agent's detail: DNS, TCP, TLS, HTTP and CORS"</summary>
                                <AgentDetail probe />
                            </details>
                        }
                    })
            }}
            {move || {
                let list = findings.get();
                (!list.is_empty())
                    .then(|| {
                        view! {
                            <div class="findings">
                                {list.into_iter().map(|finding| view! { <FindingCard finding /> }).collect_view()}
                            </div>
                        }
                    })
            }}
        </details>
    }
}

#[component]
fn AgentColumn(probe: Option<AgentProbe>, now: RwSignal<DateTime<Utc>>) -> impl IntoView {
    let Some(p) = probe else {
        return view! {
            <section class="vp-col" aria-label="Agent">
                <header>
                    <strong>"Agent"</strong>
                </header>
                <p class="muted">"Not probed yet: press Probe."</p>
            </section>
        }
        .into_any();
    };
    let at = p.at;
    let verdict = p.verdict;
    let summary = p.summary.clone();
    view! {
        <section class="vp-col vp-agent" aria-label="Agent">
            <header>
                <strong>"Agent"</strong>
                <time class="muted small" datetime=at.to_rfc3339() title=date_time(at)>
                    {move || ago(now.get(), at)}
                </time>
            </header>
            <p class="vp-verdict">
                <ReachBadge verdict />
                " "
                <span>{summary}</span>
            </p>
        </section>
    }
    .into_any()
}

#[component]
fn DeviceColumn(d: DeviceResult, now: RwSignal<DateTime<Utc>>) -> impl IntoView {
    let at = d.received_at;
    let ua = short_user_agent(&d.user_agent);
    let summary = browser_summary(&d.check);
    view! {
        <section class="vp-col" aria-label=format!("Device {}", d.client_ip)>
            <header>
                <strong>{d.client_ip.clone()}</strong>
                <span class="small" title=d.user_agent.clone()>{ua}</span>
                <time class="muted small" datetime=at.to_rfc3339() title=date_time(at)>
                    {move || ago(now.get(), at)}
                </time>
            </header>
            <p class="vp-verdict">
                <ReachBadge verdict=d.verdict browser=true />
                " "
                <span>{summary}</span>
            </p>
            {d.rules.clone().map(|v| view! { <p class="vp-rules"><DeviceRulesBadge v with_summary=true /></p> })}
            <details class="browser-detail-toggle">
                <summary>"Browser detail"</summary>
                <BrowserDetail check=d.check />
            </details>
        </section>
    }
}
