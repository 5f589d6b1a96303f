//! `/`: the agent, Docker's status, container counts and the current problems.

use leptos::prelude::*;
use leptos_router::components::A;
use vantage_shared::{ContainerCounts, DockerState, DockerStatus, Overview, Problem};

use super::Live;
use crate::api;
use crate::components::badges::{RichText, SeverityBadge};
use crate::components::loaded::Loaded;
use crate::components::status::Empty;
use crate::format::{coarse, date_time};
use crate::state::{use_agent_status, use_refresh, use_session};

#[component]
pub fn OverviewPage() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let agent = use_agent_status();
    let overview = Live::new(move || {
        refresh.track();
        let token = session.token();
        async move {
            let result = session.check(api::overview(&token).await);
            if let Ok(o) = &result {
                agent.docker.set(Some(o.docker.clone()));
            }
            result
        }
    });
    view! {
        <h1>"Overview"</h1>
        <Loaded outcome=overview.outcome() what="the overview">
            <OverviewBody overview />
        </Loaded>
    }
}

#[component]
fn OverviewBody(overview: Live<Overview>) -> impl IntoView {
    let agent = overview.select(|o| {
        (
            o.agent_version.clone(),
            o.hostname.clone(),
            o.agent_started_at,
        )
    });
    let docker = overview.select(|o| o.docker.clone());
    let counts = overview.select(|o| (o.counts.clone(), o.networks, o.history_records));
    let problems = overview.select(|o| o.problems.clone());

    let agent_line = move || {
        agent.get().map(|(version, hostname, started)| {
            let uptime = coarse((chrono::Utc::now() - started).num_milliseconds());
            view! {
                "Agent " <strong>{version}</strong> " on " <strong>{hostname}</strong> ", up "
                <span title=date_time(started)>{uptime}</span>
            }
        })
    };
    let n = move |f: fn(&ContainerCounts, u64, u64) -> u64| {
        move || {
            counts.with(|c| {
                c.as_ref()
                    .map(|(c, nets, recs)| f(c, *nets, *recs))
                    .unwrap_or(0)
            })
        }
    };
    let tone = move |f: fn(&ContainerCounts) -> u64, tone: &'static str| {
        move || {
            let hot = counts.with(|c| c.as_ref().is_some_and(|(c, _, _)| f(c) > 0));
            format!("card {}", if hot { tone } else { "" })
        }
    };
    view! {
        <p class="agent-line">{agent_line}</p>
        {move || docker.get().map(|d| view! { <DockerLine d /> })}
        <ul class="cards" aria-label="Counts">
            <Card label="Containers" href="/containers" n=n(|c, _, _| c.total) />
            <Card label="Running" href="/containers" n=n(|c, _, _| c.running) />
            <Card label="Stopped" href="/containers" n=n(|c, _, _| c.stopped) />
            <Card label="Healthy" href="/containers?health=healthy" n=n(|c, _, _| c.healthy) class="card good" />
            <Card
                label="Unhealthy"
                href="/containers?health=unhealthy"
                n=n(|c, _, _| c.unhealthy)
                class=tone(|c| c.unhealthy, "bad")
            />
            <Card
                label="Starting"
                href="/containers?health=starting"
                n=n(|c, _, _| c.starting)
                class=tone(|c| c.starting, "warn")
            />
            <Card label="No healthcheck" href="/containers?health=none" n=n(|c, _, _| c.without_healthcheck) />
            <Card label="Networks" href="/networks" n=n(|_, nets, _| nets) />
            <Card label="Healthcheck runs recorded" href="/containers" n=n(|_, _, recs| recs) />
        </ul>
        <h2>"Current problems"</h2>
        <Show
            when=move || problems.with(|p| p.as_ref().is_some_and(|p| !p.is_empty()))
            fallback=|| {
                view! {
                    <Empty title="No problems found.">
                        <p>"Vantage re-checks healthcheck timing on every run it records."</p>
                    </Empty>
                }
            }
        >
            <ul class="problems">
                <For
                    each=move || problems.get().unwrap_or_default()
                    key=|p| (p.container_id.clone(), p.finding.code, p.finding.summary.clone())
                    let:p
                >
                    <ProblemItem p />
                </For>
            </ul>
        </Show>
    }
}

/// A count that links to the list behind it.
#[component]
fn Card(
    label: &'static str,
    href: &'static str,
    #[prop(into)] n: Signal<u64>,
    #[prop(into, default = "card".into())] class: Signal<String>,
) -> impl IntoView {
    view! {
        <li class=class>
            <A href=href>
                <span class="card-n">{n}</span>
                <span class="card-label">{label}</span>
            </A>
        </li>
    }
}

/// The Docker status line; a warning banner when Docker is unavailable.
#[component]
fn DockerLine(d: DockerStatus) -> impl IntoView {
    let down = d.state == DockerState::Unavailable;
    view! {
        <div
            class=format!("docker-status docker-{}", state_name(d.state))
            role=if down { "alert" } else { "status" }
            data-testid="docker-status"
            data-state=state_name(d.state)
        >
            <p class="docker-line">{d.to_string()}</p>
            {down
                .then(|| {
                    view! {
                        <p class="hint">
                            "Start the Docker daemon or set " <code>"DOCKER_HOST"</code>
                            " for the agent. Recorded healthcheck history stays available; lists fill in when Docker answers."
                        </p>
                    }
                })}
        </div>
    }
}

#[component]
fn ProblemItem(p: Problem) -> impl IntoView {
    let href = format!("/containers/{}", p.container_name);
    view! {
        <li class="problem" data-testid="problem" data-code=p.finding.code.as_str()>
            <SeverityBadge severity=p.finding.severity />
            <div>
                <A href=href attr:class="problem-container">{p.container_name}</A>
                <p class="problem-summary">
                    <RichText text=p.finding.summary />
                </p>
            </div>
        </li>
    }
}

fn state_name(s: DockerState) -> &'static str {
    match s {
        DockerState::Connecting => "connecting",
        DockerState::Connected => "connected",
        DockerState::Unavailable => "unavailable",
    }
}
