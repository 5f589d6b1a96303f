//! The top bar: brand, page links and the live/offline indicator; wraps at 360 px. While
//! another agent is chosen on the Fleet page, it says which, with the way back.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::state::{use_agent_status, LiveState};

#[component]
pub fn Nav() -> impl IntoView {
    let status = use_agent_status();
    let live = move || status.live.get();
    view! {
        <header class="topbar">
            <a class="skip" href="#main">"Skip to content"</a>
            <nav aria-label="Main">
                <A href="/" exact=true attr:class="brand">
                    <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
                        <circle cx="16" cy="16" r="14" fill="#1f6feb"></circle>
                        <path
                            d="M8 17l5 5 11-12"
                            stroke="#fff"
                            stroke-width="3.5"
                            fill="none"
                            stroke-linecap="round"
                            stroke-linejoin="round"
                        ></path>
                    </svg>
                    <span>"Vantage"</span>
                </A>
                <ul class="links">
                    <li>
                        <A href="/" exact=true>"Overview"</A>
                    </li>
                    <li>
                        <A href="/containers">"Containers"</A>
                    </li>
                    <li>
                        <A href="/networks">"Networks"</A>
                    </li>
                    <li>
                        <A href="/reach">"Reachability"</A>
                    </li>
                    <li>
                        <A href="/cors">"CORS"</A>
                    </li>
                    <li>
                        <A href="/firewall">"Firewall"</A>
                    </li>
                    <li>
                        <A href="/gpu">"GPU"</A>
                    </li>
                    <li>
                        <A href="/notifications">"Notifications"</A>
                    </li>
                    <li>
                        <A href="/fleet">"Fleet"</A>
                    </li>
                </ul>
                <LiveIndicator state=Signal::derive(live) />
            </nav>
            <OnView />
        </header>
    }
}

/// While another agent is chosen on the Fleet page, which one, and the way back.
#[component]
fn OnView() -> impl IntoView {
    crate::agents::chosen().map(|agent| {
        let back = |_| {
            crate::agents::choose(None);
            if let Some(w) = web_sys::window() {
                let _ = w.location().set_href("/fleet");
            }
        };
        view! {
            <p class="on-view" role="status" data-testid="on-view">
                "Viewing " <strong>{agent.name}</strong> " (" {agent.url} "). "
                <button type="button" class="link-button" on:click=back>"Back to this agent"</button>
            </p>
        }
    })
}

/// A dot and a word: whether pages update by themselves right now.
#[component]
pub fn LiveIndicator(#[prop(into)] state: Signal<LiveState>) -> impl IntoView {
    let class = move || match state.get() {
        LiveState::Live => "live is-live",
        LiveState::Connecting => "live is-connecting",
        LiveState::Offline { .. } => "live is-offline",
    };
    let text = move || match state.get() {
        LiveState::Live => "live".to_owned(),
        LiveState::Connecting => "connecting…".to_owned(),
        LiveState::Offline { retry_in_s: 0 } => "offline".to_owned(),
        LiveState::Offline { retry_in_s } => format!("offline, retry in {retry_in_s} s"),
    };
    let title = move || match state.get() {
        LiveState::Live => "Connected to the agent's event stream: pages update by themselves.",
        LiveState::Connecting => "Connecting to the agent's event stream…",
        LiveState::Offline { .. } => {
            "Not connected to the agent's event stream: pages do not update by themselves."
        }
    };
    view! {
        <span class=class title=title role="status" data-testid="live-indicator">
            <span class="dot" aria-hidden="true"></span>
            {text}
        </span>
    }
}
