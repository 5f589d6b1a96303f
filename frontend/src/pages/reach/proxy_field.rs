//! The add-target form's folded proxy options: the admin endpoint of the proxy in front of
//! the target (HAProxy's stats, Envoy's `/clusters`), read by the agent after each probe.

use leptos::prelude::*;
use vantage_shared::proxy_admin::{ProxyAdmin, ProxyAdminKind};

use super::form::Fields;

/// The kinds in the select, with their labels and a URL to start from.
const KINDS: [(ProxyAdminKind, &str, &str, &str); 3] = [
    (
        ProxyAdminKind::HaproxyCsv,
        "haproxy_csv",
        "HAProxy stats (CSV)",
        "http://127.0.0.1:8404/stats;csv or unix:/run/haproxy/admin.sock",
    ),
    (
        ProxyAdminKind::HaproxyServersState,
        "haproxy_servers_state",
        "HAProxy show servers state",
        "unix:/run/haproxy/admin.sock",
    ),
    (
        ProxyAdminKind::EnvoyClusters,
        "envoy_clusters",
        "Envoy /clusters",
        "http://127.0.0.1:9901/clusters",
    ),
];

/// The endpoint from the typed fields: none while the URL is empty.
pub fn proxy_admin(f: &Fields) -> Option<ProxyAdmin> {
    let url = f.proxy_url.trim();
    let backend = f.proxy_backend.trim();
    (!url.is_empty()).then(|| ProxyAdmin {
        kind: f.proxy_kind,
        url: url.to_owned(),
        backend: (!backend.is_empty()).then(|| backend.to_owned()),
    })
}

#[component]
pub fn ProxyOptions(fields: RwSignal<Fields>, open: RwSignal<bool>) -> impl IntoView {
    let placeholder = move || {
        fields.with(|f| {
            KINDS
                .iter()
                .find(|k| k.0 == f.proxy_kind)
                .map_or("", |k| k.3)
        })
    };
    view! {
    <details
        class="cors-options"
        data-testid="proxy-options"
        prop:open=move || open.get()
        on:toggle=move |ev| {
            let el: web_sys::HtmlDetailsElement = event_target(&ev);
            open.set(el.open());
        }
    >
        <summary>"Proxy admin endpoint"</summary>
        <p class="muted small">
            "When a proxy is in front of this URL: where it lists its backend servers. After each probe the agent reads which ones the proxy holds down, and why (a failed health check, an ejection)."
        </p>
        <div class="field-row">
            <label>
                <span>"Proxy"</span>
                <select
                    name="proxy_kind"
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        if let Some(k) = KINDS.iter().find(|k| k.1 == v) {
                            fields.update(|f| f.proxy_kind = k.0);
                        }
                    }
                >
                    {KINDS
                        .iter()
                        .map(|&(kind, value, label, _)| {
                            view! {
                                <option value=value selected=move || fields.with(|f| f.proxy_kind == kind)>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                <span>"Backend or cluster (optional)"</span>
                <input
                    name="proxy_backend"
                    type="text"
                    placeholder="every one"
                    autocomplete="off"
                    spellcheck="false"
                    prop:value=move || fields.with(|f| f.proxy_backend.clone())
                    on:input=move |ev| fields.update(|f| f.proxy_backend = event_target_value(&ev))
                />
            </label>
        </div>
        <label>
            <span>"Admin URL or stats socket"</span>
            <input
                name="proxy_url"
                type="text"
                placeholder=placeholder
                autocomplete="off"
                spellcheck="false"
                prop:value=move || fields.with(|f| f.proxy_url.clone())
                on:input=move |ev| fields.update(|f| f.proxy_url = event_target_value(&ev))
            />
        </label>
    </details>
    }
}
