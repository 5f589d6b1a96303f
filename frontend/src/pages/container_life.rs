//! A container's life on its page: healthcheck uptime over 24 h, 7 d and 30 d, restarts,
//! the last exit explained, a band of its states over the last day and the newest
//! lifecycle events (starts, exits with their code, OOM kills, health changes).

use chrono::{Duration, Utc};
use leptos::prelude::*;
use vantage_shared::diagnosis::restarts::exit_meaning;
use vantage_shared::{ContainerHistorySummary, LifecycleEvent, LifecycleKind};

use super::Live;
use crate::api;
use crate::components::loaded::Loaded;
use crate::format::{date_time, uptime_text};
use crate::lifecycle_band::{stretches, Phase};
use crate::state::{use_refresh, use_session};

/// Events fetched: the API's page limit, a day of a container that crashes every 30 s;
/// a faster loop's band starts later, as "not seen".
const EVENTS: u32 = 10_000;
/// Events listed under the band.
const LISTED: usize = 15;

#[component]
pub fn ContainerLife(id: Memo<String>) -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let summary = Live::new(move || {
        refresh.track();
        let (token, id) = (session.token(), id.get());
        async move { session.check(api::container_summary(&token, &id).await) }
    });
    let timeline = Live::new(move || {
        refresh.track();
        let (token, id) = (session.token(), id.get());
        async move { session.check(api::container_events(&token, &id, EVENTS).await) }
    });
    view! {
        <section aria-labelledby="life-title" class="container-life">
            <h2 id="life-title">"Uptime and lifecycle"</h2>
            <Loaded outcome=summary.outcome() what="the container's summary">
                {move || summary.data().get().map(|s| view! { <Figures s /> })}
            </Loaded>
            <Loaded outcome=timeline.outcome() what="the container's events">
                {move || timeline.data().get().map(|t| view! { <Band events=t.events.clone() /> <EventList events=t.events /> })}
            </Loaded>
        </section>
    }
}

#[component]
fn Figures(s: ContainerHistorySummary) -> impl IntoView {
    let uptime = if s.uptime.is_empty() {
        view! { <p class="muted">"No healthcheck runs recorded: healthcheck uptime needs a healthcheck."</p> }.into_any()
    } else {
        let items = s
            .uptime
            .iter()
            .map(|u| view! { <div class="uptime"><dt>{u.window.clone()}</dt><dd>{uptime_text(u)}</dd></div> })
            .collect_view();
        view! {
            <dl class="uptime-figures" data-testid="container-uptime" title="Share of healthcheck runs that passed">
                {items}
            </dl>
        }
        .into_any()
    };
    let exit = s.last_exit.map(|x| {
        view! {
            <p data-testid="last-exit">
                "Last exit " {date_time(x.at)} ": code " <strong>{x.exit_code}</strong> ", " {x.meaning}
            </p>
        }
    });
    view! {
        {uptime}
        <p data-testid="restarts">
            <strong>{s.restarts_24h}</strong>
            {if s.restarts_24h == 1 { " restart" } else { " restarts" }}
            " in the last 24 hours"
        </p>
        {exit}
    }
}

/// The last 24 hours as coloured stretches, with a legend of the states it shows.
#[component]
fn Band(events: Vec<LifecycleEvent>) -> impl IntoView {
    let now = Utc::now();
    let parts = stretches(&events, now, Duration::hours(24));
    let mut shown: Vec<Phase> = Vec::new();
    for p in parts.iter().map(|s| s.phase) {
        if !shown.contains(&p) {
            shown.push(p);
        }
    }
    let summary = parts
        .iter()
        .map(|s| {
            format!(
                "{} from {} to {}",
                s.phase.label(),
                date_time(s.from),
                date_time(s.to)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let rects = parts
        .into_iter()
        .map(|s| {
            let title = format!("{}: {} – {}", s.phase.label(), date_time(s.from), date_time(s.to));
            view! {
                <rect class=s.phase.class() x=s.x * 1000.0 y=0 width=(s.w * 1000.0).max(1.0) height=20>
                    <title>{title}</title>
                </rect>
            }
        })
        .collect_view();
    let legend = shown
        .into_iter()
        .map(|p| view! { <li><span class=format!("swatch {}", p.class())></span>{p.label()}</li> })
        .collect_view();
    view! {
        <figure class="life-band">
            <svg viewBox="0 0 1000 20" preserveAspectRatio="none" role="img" aria-label=format!("The last 24 hours: {summary}") data-testid="life-band">
                {rects}
            </svg>
            <figcaption>
                <span class="band-ends"><span>"24 h ago"</span><span>"now"</span></span>
                <ul class="legend">{legend}</ul>
            </figcaption>
        </figure>
    }
}

#[component]
fn EventList(events: Vec<LifecycleEvent>) -> impl IntoView {
    if events.is_empty() {
        return view! {
            <p class="muted">"No events stored yet: the agent records starts, exits, OOM kills and health changes as Docker reports them."</p>
        }
        .into_any();
    }
    let rows = events
        .iter()
        .take(LISTED)
        .map(|e| {
            let bad = matches!(e.kind, LifecycleKind::Oom | LifecycleKind::Die)
                && e.exit_code != Some(0)
                || e.health == Some(vantage_shared::HealthStatus::Unhealthy);
            view! {
                <li class:bad=bad>
                    <time>{date_time(e.at)}</time>
                    " "
                    <span>{describe(e)}</span>
                </li>
            }
        })
        .collect_view();
    view! { <ol class="life-events" data-testid="life-events">{rows}</ol> }.into_any()
}

/// One event in words.
pub fn describe(e: &LifecycleEvent) -> String {
    match e.kind {
        LifecycleKind::Die => match e.exit_code {
            Some(code) => format!("exited with code {code}: {}", exit_meaning(code, false)),
            None => "exited".to_owned(),
        },
        LifecycleKind::Oom => "the kernel's OOM killer killed a process in it".to_owned(),
        LifecycleKind::Kill => format!("sent signal {}", e.signal.as_deref().unwrap_or("?")),
        LifecycleKind::Health => format!("became {}", e.health.map_or("?", |h| h.as_str())),
        LifecycleKind::Create => "created".to_owned(),
        LifecycleKind::Start => "started".to_owned(),
        LifecycleKind::Stop => "stopped".to_owned(),
        LifecycleKind::Restart => "restarted (docker restart)".to_owned(),
        LifecycleKind::Pause => "paused".to_owned(),
        LifecycleKind::Unpause => "unpaused".to_owned(),
        LifecycleKind::Destroy => "removed".to_owned(),
    }
}
