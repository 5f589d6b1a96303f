//! `/containers/:id`: findings, uptime and lifecycle, the healthcheck timeline and the table
//! of its runs, configuration and networks of one container.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use vantage_shared::duration::human_ms;
use vantage_shared::{ContainerDetail, HealthHistory, HealthcheckRun, NetworkAttachment};

use super::container_life::ContainerLife;
use super::Live;
use crate::api::{self, HISTORY_LIMIT};
use crate::components::badges::{HealthBadge, StateBadge};
use crate::components::data_table::{Column, DataTable};
use crate::components::finding::FindingCard;
use crate::components::loaded::Loaded;
use crate::components::run_table::RunTable;
use crate::components::status::Empty;
use crate::components::timeline::HealthTimeline;
use crate::format::{ago, date_time};
use crate::state::{use_refresh, use_session};

#[component]
pub fn ContainerPage() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());

    let detail = Live::new(move || {
        refresh.track();
        let (token, id) = (session.token(), id.get());
        async move { session.check(api::container(&token, &id).await) }
    });
    let history = Live::new(move || {
        refresh.track();
        let (token, id) = (session.token(), id.get());
        async move { session.check(api::health_history(&token, &id, HISTORY_LIMIT).await) }
    });
    // View choices live outside the loaded bodies so live refreshes keep them.
    let show_all_runs = RwSignal::new(false);
    let whole_history = RwSignal::new(false);

    view! {
        <p class="breadcrumb">
            <A href="/containers">"← Containers"</A>
        </p>
        <Loaded outcome=detail.outcome() what="the container" title=id>
            <Header detail />
        </Loaded>
        // From the database, like the history below: shown while Docker is down too.
        <ContainerLife id />

        <section aria-labelledby="history-title">
            <h2 id="history-title">"Healthcheck history"</h2>
            // The history is kept while Docker is down; it is drawn even when the
            // container's config cannot be read.
            <Loaded outcome=history.outcome() what="the healthcheck history">
                <History history detail show_all_runs whole_history />
            </Loaded>
        </section>

        // Drawn only once the container loaded: its error is already shown above.
        <Config detail />
    }
}

/// Name, badges and findings: what is wrong comes first.
#[component]
fn Header(detail: Live<ContainerDetail>) -> impl IntoView {
    let head = detail.select(|d| d.summary.clone());
    let findings = detail.select(|d| d.findings.clone());
    let title = move || {
        head.get().map(|s| {
            view! {
                <h1 class="container-title">
                    {s.name.clone()} <StateBadge state=s.state /> <HealthBadge health=s.health />
                </h1>
                <p class="muted">
                    <code>{s.image.clone()}</code>
                    " · " {s.status.clone()} " · id " <code>{s.short_id().to_owned()}</code>
                </p>
            }
        })
    };
    view! {
        {title}
        <section aria-labelledby="findings-title">
            <h2 id="findings-title">"Findings"</h2>
            <Show
                when=move || findings.with(|f| f.as_ref().is_some_and(|f| !f.is_empty()))
                fallback=|| {
                    view! {
                        <Empty title="Nothing to report.">
                            <p>"Vantage checks healthcheck timing against every recorded run."</p>
                        </Empty>
                    }
                }
            >
                <div class="findings">
                    <For
                        each=move || findings.get().unwrap_or_default()
                        key=|f| (f.code, f.summary.clone())
                        let:f
                    >
                        <FindingCard finding=f />
                    </For>
                </div>
            </Show>
        </section>
    }
}

/// Healthcheck runs since the latest start (`started_at`), or all when asked or when
/// there are none since then yet.
fn runs_to_draw(
    runs: &[HealthcheckRun],
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    all: bool,
) -> Vec<HealthcheckRun> {
    let latest: Vec<HealthcheckRun> = match started_at {
        Some(s) if !all => runs.iter().filter(|p| p.start >= s).cloned().collect(),
        _ => runs.to_vec(),
    };
    if latest.is_empty() {
        runs.to_vec()
    } else {
        latest
    }
}

#[component]
fn History(
    history: Live<HealthHistory>,
    detail: Live<ContainerDetail>,
    show_all_runs: RwSignal<bool>,
    whole_history: RwSignal<bool>,
) -> impl IntoView {
    let runs = history.select(|h| h.runs.clone());
    let total = history.select(|h| h.total);
    let started_at = detail.select(|d| d.summary.started_at);
    let config = detail.select(|d| d.summary.healthcheck.clone());
    let ready_ms = detail.select(|d| d.health_stats.time_to_ready_ms);

    let started = move || started_at.get().flatten();
    let config_now = move || config.get().flatten();
    let has_runs = move || runs.with(|p| p.as_ref().is_some_and(|p| !p.is_empty()));
    let runs_before_start = move || {
        let s = started();
        runs.with(|p| {
            p.as_ref()
                .is_some_and(|p| s.is_some_and(|s| p.iter().any(|p| p.start < s)))
        })
    };
    let summary = move || {
        runs.with(|p| {
            let p = p.as_deref().unwrap_or_default();
            let failures = p.iter().filter(|p| !p.passed()).count();
            let all = total.get().unwrap_or(0);
            let mut s = format!("{all} healthcheck runs recorded");
            if u64::try_from(p.len()).unwrap_or(0) < all {
                s.push_str(&format!(" (latest {} shown)", p.len()));
            }
            s.push_str(&format!(", {failures} of the shown failed."));
            s
        })
    };
    let ready = move || {
        ready_ms.get().flatten().map(|ms| {
            view! {
                <p class="ready" data-testid="time-to-ready">
                    "First passing run " <strong>{human_ms(ms)}</strong> " after the latest container start."
                </p>
            }
        })
    };
    let config_line = move || {
        config_now().map(|c| {
            view! {
                <p class="hc-line">
                    <code>{c.command_display()}</code>
                    {format!(
                        " every {}, timeout {}, start_period {}, retries {}",
                        human_ms(c.interval_ms),
                        human_ms(c.timeout_ms),
                        human_ms(c.start_period_ms),
                        c.retries,
                    )}
                </p>
            }
        })
    };
    // The SVG has no state worth keeping, so it is simply redrawn when its inputs change.
    let chart = move || {
        let all = runs.get().unwrap_or_default();
        let drawn = runs_to_draw(&all, started(), whole_history.get());
        view! { <HealthTimeline runs=drawn started_at=started() config=config_now() /> }
    };
    let empty_title = move || {
        // `Some(None)`: the container is known and has no healthcheck.
        if config.get() == Some(None) {
            "This container has no healthcheck."
        } else {
            "No healthcheck runs recorded yet."
        }
    };
    let table_rows = Signal::derive(move || runs.get().unwrap_or_default());
    view! {
        <Show
            when=has_runs
            fallback=move || {
                view! {
                    <Empty title=empty_title()>
                        <p>
                            "Vantage records every healthcheck run from now on. Add a healthcheck with "
                            <code>"--health-cmd"</code> " or a compose " <code>"healthcheck:"</code> " block."
                        </p>
                    </Empty>
                }
            }
        >
            <p>{summary}</p>
            {ready}
            {config_line}
            <Show when=runs_before_start>
                <div class="segmented" role="group" aria-label="Timeline range">
                    <button
                        type="button"
                        aria-pressed=move || (!whole_history.get()).to_string()
                        on:click=move |_| whole_history.set(false)
                    >
                        "Since latest start"
                    </button>
                    <button
                        type="button"
                        aria-pressed=move || whole_history.get().to_string()
                        on:click=move |_| whole_history.set(true)
                    >
                        "All recorded"
                    </button>
                </div>
            </Show>
            {chart}
            <h3>"Healthcheck runs (newest first)"</h3>
            <RunTable runs=table_rows show_all=show_all_runs />
        </Show>
    }
}

/// Configuration and networks, redrawn only when one of them changes.
#[component]
fn Config(detail: Live<ContainerDetail>) -> impl IntoView {
    let shown = detail.select(|d| {
        // Blank what this section does not show, so status text and run counts
        // changing every few seconds do not redraw it.
        let mut d = d.clone();
        d.summary.status.clear();
        d.summary.failing_streak = 0;
        d.findings.clear();
        d.health_stats = Default::default();
        d
    });
    move || shown.get().map(|d| view! { <ConfigBody d /> })
}

#[component]
fn ConfigBody(d: ContainerDetail) -> impl IntoView {
    let s = d.summary;
    let now = chrono::Utc::now();
    let command: Vec<String> = d
        .entrypoint
        .iter()
        .chain(d.command.iter())
        .cloned()
        .collect();
    let ports = if s.ports.is_empty() {
        "none published".to_owned()
    } else {
        s.ports
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let started = s
        .started_at
        .map(|t| format!("{} ({})", date_time(t), ago(now, t)))
        .unwrap_or_else(|| "never".to_owned());
    let compose = match (&s.compose_project, &s.compose_service) {
        (Some(p), Some(svc)) => Some(format!("project {p}, service {svc}")),
        (Some(p), None) => Some(format!("project {p}")),
        _ => None,
    };
    let healthcheck = match s.healthcheck.clone() {
        Some(c) => view! {
            <dl class="kv">
                <dt>"Command"</dt>
                <dd><code>{c.command_display()}</code></dd>
                <dt>"Interval"</dt>
                <dd>{human_ms(c.interval_ms)}</dd>
                <dt>"Timeout"</dt>
                <dd>{human_ms(c.timeout_ms)}</dd>
                <dt>"Start period"</dt>
                <dd>{human_ms(c.start_period_ms)}</dd>
                <dt>"Retries"</dt>
                <dd>{c.retries}</dd>
            </dl>
        }
        .into_any(),
        None => view! {
            <p class="muted">"No healthcheck configured: Docker cannot tell whether the app inside works."</p>
        }
        .into_any(),
    };
    let networks = s.networks.clone();
    view! {
        <div class="two-col">
            <section aria-labelledby="config-title">
                <h2 id="config-title">"Configuration"</h2>
                <dl class="kv">
                    <dt>"Image"</dt>
                    <dd><code>{s.image.clone()}</code></dd>
                    <dt>"Command"</dt>
                    <dd><code>{if command.is_empty() { "(image default)".to_owned() } else { command.join(" ") }}</code></dd>
                    <dt>"Ports"</dt>
                    <dd>{ports}</dd>
                    <dt>"Started"</dt>
                    <dd>{started}</dd>
                    <dt>"Restarts"</dt>
                    <dd>{s.restart_count}</dd>
                    <dt>"Restart policy"</dt>
                    <dd>{d.restart_policy.clone().unwrap_or_else(|| "no".to_owned())}</dd>
                    {compose.map(|c| view! { <dt>"Compose"</dt> <dd>{c}</dd> })}
                </dl>
                <h3>"Healthcheck"</h3>
                {healthcheck}
            </section>
            <section aria-labelledby="nets-title">
                <h2 id="nets-title">"Networks"</h2>
                {if networks.is_empty() {
                    view! { <p class="muted">"On no network (stopped, or " <code>"--network none"</code> ")."</p> }.into_any()
                } else {
                    view! { <NetworkTable networks /> }.into_any()
                }}
                <p>
                    <A href="/networks">"Check whether another container can reach this one"</A>
                </p>
            </section>
        </div>
    }
}

#[component]
fn NetworkTable(networks: Vec<NetworkAttachment>) -> impl IntoView {
    let columns = vec![
        Column::new("Network"),
        Column::new("IP"),
        Column::new("Aliases (DNS names)"),
    ];
    view! {
        <DataTable columns>
            {networks
                .into_iter()
                .map(|n| {
                    let ip = [n.ip_address.clone(), n.ipv6_address.clone()]
                        .into_iter()
                        .flatten()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ");
                    view! {
                        <tr data-testid="network-attachment" data-network=n.name.clone()>
                            <td data-label="Network"><code>{n.name.clone()}</code></td>
                            <td data-label="IP">{if ip.is_empty() { "—".to_owned() } else { ip }}</td>
                            <td data-label="Aliases">
                                {if n.aliases.is_empty() { "—".to_owned() } else { n.aliases.join(", ") }}
                            </td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}
