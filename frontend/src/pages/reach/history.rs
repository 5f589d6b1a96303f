//! A target's record over time, under its card: uptime over 24 h, 7 d and 30 d, the
//! heartbeat bar of its latest results (the strip Uptime Kuma and Gatus users know),
//! latency over time with its phases stacked, percentiles per phase and the incidents. Fetched only while open, and again
//! whenever a probe of any target lands.

use leptos::prelude::*;
use vantage_shared::duration::{fmt_ms, human_ms, millis};
use vantage_shared::probe::{Incident, TargetResult, TargetSummary};

use super::latency::LatencyChart;
use crate::api;
use crate::components::finding::FindingCard;
use crate::components::loaded::Loaded;
use crate::format::{date_time, uptime_text};
use crate::pages::Live;
use crate::state::{use_refresh, use_session};

/// Results in the heartbeat bar: enough to see a pattern, few enough for a phone's width.
pub const HEARTBEATS: usize = 60;
/// Results in the latency chart: three hours at the default interval.
pub const CHART_RESULTS: u32 = 180;
/// Incidents listed; the API has the rest.
const INCIDENTS_SHOWN: usize = 5;

/// The "History" disclosure of one target.
#[component]
pub fn TargetHistoryPanel(id: String) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <details
            class="target-history"
            data-testid="target-history"
            on:toggle=move |ev| {
                let el: web_sys::HtmlDetailsElement = event_target(&ev);
                open.set(el.open());
            }
        >
            <summary>"History: uptime, latency, incidents"</summary>
            {move || open.get().then(|| view! { <HistoryBody id=id.clone() /> })}
        </details>
    }
}

#[component]
fn HistoryBody(id: String) -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let (sid, hid) = (id.clone(), id);
    let summary = Live::new(move || {
        refresh.track_reach();
        let (token, id) = (session.token(), sid.clone());
        async move { session.check(api::target_summary(&token, &id).await) }
    });
    let history = Live::new(move || {
        refresh.track_reach();
        let (token, id) = (session.token(), hid.clone());
        async move { session.check(api::target_history(&token, &id, CHART_RESULTS).await) }
    });
    let empty = Signal::derive(move || {
        history
            .data()
            .with(|h| h.as_ref().is_some_and(|h| h.results.is_empty()))
    });
    view! {
        <Loaded
            outcome=history.outcome()
            what="the history"
            is_empty=empty
            empty=|| view! {
                <p class="muted">
                    "No results yet: the agent probes each target at its interval, and keeps every result."
                </p>
            }
        >
            {move || history.data().get().map(|h| view! {
                <Heartbeats results=h.results.iter().take(HEARTBEATS).cloned().collect() />
                <h4>"Latency"</h4>
                <LatencyChart results=h.results />
            })}
            {move || summary.data().get().map(|s| view! { <SummaryView summary=s /> })}
        </Loaded>
    }
}

/// Oldest on the left, newest on the right, one mark per result.
#[component]
fn Heartbeats(results: Vec<TargetResult>) -> impl IntoView {
    let shown = results.len();
    let down = results.iter().filter(|r| !r.up).count();
    let label = format!("The latest {shown} results, oldest first: {down} down");
    let marks = results
        .into_iter()
        .rev()
        .map(|r| {
            let class = if r.up { "beat up" } else { "beat down" };
            view! { <li class=class title=beat_title(&r)></li> }
        })
        .collect_view();
    view! {
        <ol class="heartbeats" data-testid="heartbeats" role="img" aria-label=label>
            {marks}
        </ol>
    }
}

/// A mark's tooltip: when, the verdict, and the time or the error.
pub fn beat_title(r: &TargetResult) -> String {
    let outcome = match (r.up, r.http_status, r.total_ms, &r.error) {
        (true, Some(s), Some(ms), _) => format!("HTTP {s} in {}", fmt_ms(ms)),
        (true, _, _, _) => "up".to_owned(),
        (false, _, _, Some(e)) => e.clone(),
        (false, _, _, None) => r.verdict.as_str().replace('_', " "),
    };
    format!("{}: {outcome}", date_time(r.at))
}

#[component]
fn SummaryView(summary: TargetSummary) -> impl IntoView {
    let uptime = summary
        .uptime
        .iter()
        .map(|u| view! { <div class="uptime"><dt>{u.window.clone()}</dt><dd>{uptime_text(u)}</dd></div> })
        .collect_view();
    let latency = (!summary.latency.is_empty()).then(|| {
        let rows = summary
            .latency
            .iter()
            .map(|l| {
                view! {
                    <tr>
                        <th scope="row">{l.phase.replace('_', " ")}</th>
                        <td class="num">{millis(l.p50_ms)}</td>
                        <td class="num">{millis(l.p95_ms)}</td>
                        <td class="num">{millis(l.p99_ms)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="latency" data-testid="latency">
                <caption>"Latency over 24 hours"</caption>
                <thead><tr><th scope="col">"Phase"</th><th scope="col" class="num">"p50"</th><th scope="col" class="num">"p95"</th><th scope="col" class="num">"p99"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    let incidents = summary
        .incidents
        .iter()
        .take(INCIDENTS_SHOWN)
        .map(incident_line)
        .collect_view();
    let findings = summary
        .findings
        .iter()
        .cloned()
        .map(|finding| view! { <FindingCard finding /> })
        .collect_view();
    view! {
        <dl class="uptime-figures" data-testid="uptime">{uptime}</dl>
        <div class="findings">{findings}</div>
        {latency}
        <h4>"Incidents (30 days)"</h4>
        {if summary.incidents.is_empty() {
            view! { <p class="muted">"None: every check found it up."</p> }.into_any()
        } else {
            view! { <ul class="incidents" data-testid="incidents">{incidents}</ul> }.into_any()
        }}
    }
}

fn incident_line(i: &Incident) -> impl IntoView {
    let span = match i.end {
        Some(end) => format!(
            "Down from {} to {} ({})",
            date_time(i.start),
            date_time(end),
            human_ms(i.duration_ms)
        ),
        None => format!(
            "Down since {} ({} so far)",
            date_time(i.start),
            human_ms(i.duration_ms)
        ),
    };
    let why = i
        .error
        .clone()
        .unwrap_or_else(|| i.verdict.as_str().replace('_', " "));
    let ongoing = i.end.is_none();
    view! {
        <li class:ongoing=ongoing>
            <strong>{span}</strong>
            ": "
            {why}
            {i.finding.clone().map(|f| view! { " " <code class="small">{f}</code> })}
        </li>
    }
}
