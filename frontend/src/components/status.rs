//! Loading, empty and error states that every view shares.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::ApiError;
use crate::state::use_refresh;

#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! {
        <p class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {format!("Loading {what}…")}
        </p>
    }
}

/// A friendly "nothing here" with a hint what to do. `testid` replaces `empty-state`
/// where a page has more than one empty state that tests tell apart.
#[component]
pub fn Empty(
    #[prop(into)] title: String,
    #[prop(optional)] testid: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="empty" data-testid=testid.unwrap_or("empty-state")>
            <p class="empty-title">{title}</p>
            <div class="empty-hint">{children()}</div>
        </div>
    }
}

/// A failed page resource: says what failed and what to do, with "Try again".
#[component]
pub fn ErrorView(error: ApiError) -> impl IntoView {
    let refresh = use_refresh();
    // Docker being down is a condition to fix on the host, not a failure of this page.
    let class = if matches!(error, ApiError::DockerUnavailable(_)) {
        "error-box warn"
    } else {
        "error-box"
    };
    view! {
        <div class=class role="alert" data-testid="error-state">
            {api_error_view(error)}
            <button type="button" class="button" on:click=move |_| refresh.bump()>
                "Try again"
            </button>
        </div>
    }
}

/// The agent's own message for 4xx answers ("a target named … exists"), else the whole
/// error: for one-line errors beside a form or a section.
pub fn error_text(e: &ApiError) -> String {
    match e {
        ApiError::Other { message, .. } if !message.is_empty() => message.clone(),
        other => other.to_string(),
    }
}

fn api_error_view(e: ApiError) -> AnyView {
    match e {
        ApiError::Unauthorized => view! {
            <p class="error-title">"The agent rejected the access token"</p>
            <p>"Paste the token from the agent's data directory to continue."</p>
        }
        .into_any(),
        ApiError::DockerUnavailable(message) => view! {
            <p class="error-title">"Docker is unavailable"</p>
            <p>{message}</p>
            <p class="hint">
                "Start the Docker daemon (" <code>"sudo systemctl start docker"</code>
                ") or point the agent at it with " <code>"DOCKER_HOST"</code>
                ". This page updates by itself when the agent reconnects."
            </p>
        }
        .into_any(),
        ApiError::NotFound(message) => view! {
            <p class="error-title">"Not found"</p>
            <p>{message}</p>
            <p class="hint">
                "It may have been removed. " <A href="/containers">"See all containers"</A> "."
            </p>
        }
        .into_any(),
        ApiError::Network(message) => view! {
            <p class="error-title">"Cannot reach the agent"</p>
            <p>{message}</p>
            <p class="hint">
                "Is " <code>"vantage serve"</code> " still running on this machine?"
            </p>
        }
        .into_any(),
        ApiError::Other { status, message } => view! {
            <p class="error-title">{format!("The agent answered {status}")}</p>
            <p>{message}</p>
            <p class="hint">"The agent's log has the details."</p>
        }
        .into_any(),
    }
}
