//! `/containers`: every container with state and health, filterable and sortable.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use vantage_shared::HealthStatus;

use super::Live;
use crate::api;
use crate::components::container_table::{ContainerTable, Sort, SortKey};
use crate::components::loaded::Loaded;
use crate::components::status::Empty;
use crate::state::{use_refresh, use_session};

/// The health filter's `<select>` value for a status (`""` = all).
fn health_value(h: Option<HealthStatus>) -> &'static str {
    h.map_or("", HealthStatus::as_str)
}

fn parse_health(s: &str) -> Option<HealthStatus> {
    [
        HealthStatus::Healthy,
        HealthStatus::Unhealthy,
        HealthStatus::Starting,
        HealthStatus::None,
    ]
    .into_iter()
    .find(|h| h.as_str() == s)
}

#[component]
pub fn ContainersPage() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let query = use_query_map();
    // Filter and sort live here, outside the loaded body, so a live refresh keeps them.
    let text = RwSignal::new(query.read_untracked().get("q").unwrap_or_default());
    let health = RwSignal::new(
        query
            .read_untracked()
            .get("health")
            .as_deref()
            .and_then(parse_health),
    );
    let sort = RwSignal::new(Sort::default());

    let containers = Live::new(move || {
        refresh.track();
        let token = session.token();
        async move { session.check(api::containers(&token).await) }
    });
    let all = containers.data();
    let rows = Signal::derive(move || all.get().unwrap_or_default());
    let any = containers.select(|rows| !rows.is_empty());

    view! {
        <h1>"Containers"</h1>
        <form class="toolbar" role="search" on:submit=|ev| ev.prevent_default()>
            <label>
                <span>"Filter"</span>
                <input
                    type="search"
                    placeholder="name or image"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                />
            </label>
            <label>
                <span>"Health"</span>
                <select
                    prop:value=move || health_value(health.get())
                    on:change=move |ev| health.set(parse_health(&event_target_value(&ev)))
                >
                    <option value="">"all"</option>
                    <option value="unhealthy">"unhealthy"</option>
                    <option value="starting">"starting"</option>
                    <option value="healthy">"healthy"</option>
                    <option value="none">"no healthcheck"</option>
                </select>
            </label>
            // Column headers sort on wide screens; phones get cards and this select.
            <label class="phone-only">
                <span>"Sort"</span>
                <select
                    prop:value=move || sort.get().key.as_str()
                    on:change=move |ev| {
                        if let Some(key) = SortKey::parse(&event_target_value(&ev)) {
                            sort.set(Sort::natural(key));
                        }
                    }
                >
                    {SortKey::ALL
                        .into_iter()
                        .map(|k| view! { <option value=k.as_str()>{k.title()}</option> })
                        .collect_view()}
                </select>
            </label>
        </form>
        <Loaded
            outcome=containers.outcome()
            what="containers"
            is_empty=Signal::derive(move || any.get() != Some(true))
            empty=|| {
                view! {
                    <Empty title="No containers.">
                        <p>"Start one with " <code>"docker run -d --name web nginx"</code> "; it appears here by itself."</p>
                    </Empty>
                }
            }
        >
            <ContainerTable rows sort text health />
        </Loaded>
    }
}
