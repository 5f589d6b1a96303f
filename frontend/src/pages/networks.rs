//! `/networks`: Docker networks with their members, and "Can A reach B?".

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use vantage_shared::diagnosis::connectivity::Verdict;
use vantage_shared::{ConnectivityReport, ContainerSummary, NetworkSummary};

use super::Live;
use crate::api;
use crate::components::finding::FindingCard;
use crate::components::loaded::Loaded;
use crate::components::status::Empty;
use crate::state::{use_refresh, use_session};

#[component]
pub fn NetworksPage() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let query = use_query_map();

    // The question is in the URL (`?from=…&to=…`), so a verdict can be linked to.
    let asked = Memo::new(move |_| {
        let q = query.read();
        match (q.get("from"), q.get("to")) {
            (Some(f), Some(t)) if !f.is_empty() && !t.is_empty() => Some((f, t)),
            _ => None,
        }
    });

    let networks = Live::new(move || {
        refresh.track();
        let token = session.token();
        async move { session.check(api::networks(&token).await) }
    });
    let containers = Live::new(move || {
        refresh.track();
        let token = session.token();
        async move { session.check(api::containers(&token).await) }
    });
    let report = Live::new(move || {
        refresh.track();
        let (token, asked) = (session.token(), asked.get());
        async move {
            match asked {
                Some((f, t)) => session
                    .check(api::connectivity(&token, &f, &t).await)
                    .map(Some),
                None => Ok(None),
            }
        }
    });

    view! {
        <h1>"Networks"</h1>
        <ReachPanel asked containers report />
        <AllNetworks networks />
    }
}

/// "Can A reach B?": two container pickers that put the question in the URL, and the
/// verdict for the question there.
#[component]
fn ReachPanel(
    asked: Memo<Option<(String, String)>>,
    containers: Live<Vec<ContainerSummary>>,
    report: Live<Option<ConnectivityReport>>,
) -> impl IntoView {
    let navigate = use_navigate();
    // The pickers' current choice, outside the loaded form so refreshes keep it.
    let from = RwSignal::new(asked.get_untracked().map(|(f, _)| f).unwrap_or_default());
    let to = RwSignal::new(asked.get_untracked().map(|(_, t)| t).unwrap_or_default());

    let names = containers.select(|list| {
        let mut names: Vec<String> = list.iter().map(|c| c.name.clone()).collect();
        names.sort();
        names
    });
    preselect_two(names, from, to);
    let verdict = report.data();

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (f, t) = (from.get_untracked(), to.get_untracked());
        if f.is_empty() || t.is_empty() {
            return;
        }
        navigate(
            &reach_url(&f, &t),
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };

    view! {
        <section class="panel" aria-labelledby="reach-title">
            <h2 id="reach-title">"Can A reach B?"</h2>
            <p class="muted">
                "Containers find each other by name only on a shared user-defined network."
            </p>
            <Loaded
                outcome=containers.outcome()
                what="containers"
                is_empty=Signal::derive(move || !names.with(|n| n.as_ref().is_some_and(|n| n.len() >= 2)))
                empty=|| {
                    view! {
                        <Empty title="Needs at least two containers.">
                            <p>"Start another container to check whether they can talk."</p>
                        </Empty>
                    }
                }
            >
                <form class="reach-form" on:submit=on_submit.clone()>
                    <Picker label="From" id="reach-from" names value=from />
                    <span class="arrow" aria-hidden="true">
                        "→"
                    </span>
                    <Picker label="To" id="reach-to" names value=to />
                    <button type="submit" class="button" data-testid="reach-check">
                        "Check"
                    </button>
                </form>
            </Loaded>
            <Loaded outcome=report.outcome() what="the verdict">
                {move || verdict.get().flatten().map(|r| view! { <VerdictCard r /> })}
            </Loaded>
        </section>
    }
}

/// Preselects two different containers so the form works at once.
fn preselect_two(names: Memo<Option<Vec<String>>>, from: RwSignal<String>, to: RwSignal<String>) {
    Effect::new(move |_| {
        if let Some(n) = names.get() {
            if from.get_untracked().is_empty() {
                if let Some(first) = n.first() {
                    from.set(first.clone());
                }
            }
            if to.get_untracked().is_empty() {
                if let Some(second) = n.get(1) {
                    to.set(second.clone());
                }
            }
        }
    });
}

/// The page's own address with the question in it.
fn reach_url(from: &str, to: &str) -> String {
    format!(
        "/networks?from={}&to={}",
        vantage_shared::routes::encode_component(from),
        vantage_shared::routes::encode_component(to)
    )
}

/// Every Docker network with its members.
#[component]
fn AllNetworks(networks: Live<Vec<NetworkSummary>>) -> impl IntoView {
    let all_networks = networks.data();
    let sorted_networks = Memo::new(move |_| {
        let mut list = all_networks.get().unwrap_or_default();
        // User-defined networks first: they are the ones with DNS names.
        list.sort_by(|a, b| {
            b.user_defined
                .cmp(&a.user_defined)
                .then_with(|| a.name.cmp(&b.name))
        });
        list
    });
    view! {
        <h2>"All networks"</h2>
        <Loaded
            outcome=networks.outcome()
            what="networks"
            is_empty=Signal::derive(move || sorted_networks.with(Vec::is_empty))
            empty=|| {
                view! {
                    <Empty title="No networks.">
                        <p>
                            "Docker always has " <code>"bridge"</code> ", " <code>"host"</code>
                            " and " <code>"none"</code> "; is Docker running?"
                        </p>
                    </Empty>
                }
            }
        >
            <div class="networks">
                <For each=move || sorted_networks.get() key=network_key let:n>
                    <NetworkCard n />
                </For>
            </div>
        </Loaded>
    }
}

#[component]
fn Picker(
    label: &'static str,
    id: &'static str,
    names: Memo<Option<Vec<String>>>,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label for=id>
            <span>{label}</span>
            <select id=id prop:value=move || value.get() on:change=move |ev| value.set(event_target_value(&ev))>
                <For each=move || names.get().unwrap_or_default() key=|n| n.clone() let:n>
                    <option value=n.clone() selected=move || value.get() == n>
                        {n.clone()}
                    </option>
                </For>
            </select>
        </label>
    }
}

/// Headline and tone of a verdict: can they talk, and how.
pub fn verdict_text(v: &Verdict) -> (&'static str, &'static str, &'static str) {
    match v {
        Verdict::SharedNetwork { .. } => ("shared_network", "Yes, by name", "good"),
        Verdict::DefaultBridgeOnly { .. } => ("default_bridge_only", "Only by IP", "warn"),
        Verdict::HostNetwork { .. } => ("host_network", "Only through published ports", "warn"),
        Verdict::SameContainer => ("same_container", "Same container", "info"),
        Verdict::NotRunning { .. } => ("not_running", "No: not running", "bad"),
        Verdict::NoNetwork { .. } => ("no_network", "No", "bad"),
        Verdict::NoSharedNetwork { .. } => ("no_shared_network", "No", "bad"),
    }
}

#[component]
fn VerdictCard(r: ConnectivityReport) -> impl IntoView {
    let (kind, headline, tone) = verdict_text(&r.verdict);
    let detail = match &r.verdict {
        Verdict::NoSharedNetwork {
            from_networks,
            to_networks,
        } => Some(
            view! {
                <dl class="kv">
                    <dt><code>{r.from.clone()}</code> " is on"</dt>
                    <dd>{from_networks.join(", ")}</dd>
                    <dt><code>{r.to.clone()}</code> " is on"</dt>
                    <dd>{to_networks.join(", ")}</dd>
                </dl>
            }
            .into_any(),
        ),
        Verdict::SharedNetwork { networks } => Some(
            view! {
                <p>"Shared: " {networks.join(", ")}</p>
            }
            .into_any(),
        ),
        _ => None,
    };
    view! {
        <section class=format!("verdict {tone}") data-testid="reach-verdict" data-verdict=kind aria-live="polite">
            <p class="verdict-head">
                <span class="verdict-word">{headline}</span>
                <span class="verdict-q">
                    <code>{r.from.clone()}</code> " → " <code>{r.to.clone()}</code>
                </span>
            </p>
            {detail}
            <FindingCard finding=r.finding />
        </section>
    }
}

fn network_key(n: &NetworkSummary) -> String {
    let members: Vec<String> = n
        .containers
        .iter()
        .map(|m| format!("{}={}", m.name, m.ip_address.as_deref().unwrap_or("")))
        .collect();
    format!(
        "{}|{}|{}|{}",
        n.id,
        n.name,
        n.subnets.join(","),
        members.join(",")
    )
}

#[component]
fn NetworkCard(n: NetworkSummary) -> impl IntoView {
    let kind = if n.user_defined {
        "user-defined: containers resolve each other by name"
    } else {
        "predefined: no DNS names between containers"
    };
    let mut members = n.containers.clone();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    view! {
        <article class="network" data-testid="network" data-name=n.name.clone()>
            <header>
                <h3><code>{n.name.clone()}</code></h3>
                <span class="badge">{n.driver.clone()}</span>
                {n.internal.then(|| view! { <span class="badge">"internal"</span> })}
            </header>
            <p class=if n.user_defined { "small" } else { "small muted" }>{kind}</p>
            <p class="small">
                "Subnets: " {if n.subnets.is_empty() { "—".to_owned() } else { n.subnets.join(", ") }}
            </p>
            {if members.is_empty() {
                view! { <p class="muted small">"No containers."</p> }.into_any()
            } else {
                view! {
                    <ul class="members">
                        {members
                            .into_iter()
                            .map(|m| {
                                view! {
                                    <li>
                                        <A href=format!("/containers/{}", m.name)>{m.name.clone()}</A>
                                        <span class="muted">{m.ip_address.clone().unwrap_or_default()}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                .into_any()
            }}
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_is_encoded_into_the_url() {
        assert_eq!(reach_url("web-1", "db"), "/networks?from=web-1&to=db");
        assert_eq!(reach_url("a&b", "c d"), "/networks?from=a%26b&to=c%20d");
    }
}
