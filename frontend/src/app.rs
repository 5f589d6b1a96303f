//! The app root: shared state, the live event stream, the token gate and the routes.
//! The phone page (`/p/:code`) is a separate, minimal app: no navigation, no admin
//! token, no event stream.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;
use vantage_shared::phone_link::is_phone_path;
use vantage_shared::DockerState;

use crate::components::nav::Nav;
use crate::components::token_screen::TokenScreen;
use crate::live;
use crate::pages::container::ContainerPage;
use crate::pages::containers::ContainersPage;
use crate::pages::cors::CorsPage;
use crate::pages::firewall::FirewallPage;
use crate::pages::fleet::FleetPage;
use crate::pages::gpu::GpuPage;
use crate::pages::networks::NetworksPage;
use crate::pages::not_found::NotFoundPage;
use crate::pages::notifications::NotificationsPage;
use crate::pages::overview::OverviewPage;
use crate::pages::phone::PhonePage;
use crate::pages::reach::ReachPage;
use crate::state::{provide_state, use_agent_status, use_refresh, use_session};

#[component]
pub fn App() -> impl IntoView {
    let path = web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_default();
    if is_phone_path(&path) {
        return view! { <PhoneApp /> }.into_any();
    }
    view! { <AdminApp /> }.into_any()
}

/// The phone link's page on its own: it must work for someone holding only the link. The
/// phone bundle (`frontend/src/bin/phone.rs`) mounts only this; the dashboard bundle keeps
/// it too, for an agent built without the phone bundle.
#[component]
pub fn PhoneApp() -> impl IntoView {
    view! {
        <Router>
            <main id="main" class="phone-main">
                <Routes fallback=|| view! { <NotFoundPage /> }>
                    // `path!` takes only a literal: `phone_link::PHONE_PAGE_PREFIX`.
                    <Route path=path!("/p/:code") view=PhonePage />
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn AdminApp() -> impl IntoView {
    provide_state();
    let session = use_session();
    live::start(session, use_refresh(), use_agent_status());

    view! {
        <Router>
            <Nav />
            <main id="main" tabindex="-1">
                <Show when=move || !session.needs_token() fallback=|| view! { <TokenScreen /> }>
                    <DockerBanner />
                    <Routes fallback=|| view! { <NotFoundPage /> }>
                        <Route path=path!("/") view=OverviewPage />
                        <Route path=path!("/containers") view=ContainersPage />
                        <Route path=path!("/containers/:id") view=ContainerPage />
                        <Route path=path!("/networks") view=NetworksPage />
                        <Route path=path!("/reach") view=ReachPage />
                        <Route path=path!("/cors") view=CorsPage />
                        <Route path=path!("/firewall") view=FirewallPage />
                        <Route path=path!("/gpu") view=GpuPage />
                        <Route path=path!("/notifications") view=NotificationsPage />
                        <Route path=path!("/fleet") view=FleetPage />
                    </Routes>
                </Show>
            </main>
            <footer class="footer">
                <span>"Vantage"</span>
                <Show when=move || !session.needs_token()>
                    <button type="button" class="link-button" on:click=move |_| session.forget()>
                        "Forget token"
                    </button>
                </Show>
            </footer>
        </Router>
    }
}

/// Warns on every page except the overview (which shows the full status) when the
/// agent has said Docker is unavailable.
#[component]
fn DockerBanner() -> impl IntoView {
    let status = use_agent_status();
    let location = use_location();
    move || {
        let on_overview = location.pathname.get() == "/";
        status
            .docker
            .get()
            .filter(|d| d.state == DockerState::Unavailable && !on_overview)
            .map(|d| {
                view! {
                    <div class="banner warn" role="alert" data-testid="docker-banner">
                        {d.to_string()}
                    </div>
                }
            })
    }
}
