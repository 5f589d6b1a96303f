//! The proxy's own view of its backend servers, read from its admin endpoint after the
//! agent's probe: each server, its address, whether the proxy sends it traffic, and why not.

use leptos::prelude::*;
use vantage_shared::proxy_admin::{ProxyObservation, ServerState};

use super::data_table::{Column, DataTable};

fn state_word(s: ServerState) -> (&'static str, &'static str) {
    match s {
        ServerState::Up => ("up", "good"),
        ServerState::Down => ("down", "bad"),
        ServerState::Maintenance => ("maintenance", "warn"),
        ServerState::Draining => ("draining", "warn"),
    }
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("Server"),
        Column::new("Address"),
        Column::new("State"),
        Column::new("Why"),
    ]
}

#[component]
pub fn ProxySection(obs: ProxyObservation) -> impl IntoView {
    let proxy = obs.kind.proxy();
    let title = match &obs.backend {
        Some(b) => format!("{proxy}'s view of backend {b}"),
        None => format!("{proxy}'s view of its backends"),
    };
    view! {
        <section class="detail-section wide" data-testid="detail-proxy">
            <h4>{title}</h4>
            <p class="muted small">"From " <code>{obs.url.clone()}</code></p>
            {obs.error.clone().map(|e| view! { <p class="warn-text small" role="status">{e}</p> })}
            {(!obs.servers.is_empty()).then(|| view! {
                <DataTable columns=columns() class="detail-table">
                    {obs
                        .servers
                        .into_iter()
                        .map(|s| {
                            let (word, tone) = state_word(s.state);
                            view! {
                                <tr data-state=word>
                                    <td data-label="Server">{format!("{}/{}", s.backend, s.name)}</td>
                                    <td data-label="Address"><code>{s.address.unwrap_or_default()}</code></td>
                                    <td data-label="State">
                                        <span class=format!("badge reach reach-{tone}")>{word}</span>
                                    </td>
                                    <td data-label="Why" class="small">{s.reason.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
            })}
        </section>
    }
}
