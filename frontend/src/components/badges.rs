//! Small labelled badges for container state, health and finding severity.
//!
//! Colour is never the only signal: each badge carries its word, and CSS adds a glyph.

use leptos::prelude::*;
use vantage_shared::diagnosis::Severity;
use vantage_shared::{ContainerState, HealthStatus};

use crate::format::inline_code;

#[component]
pub fn StateBadge(state: ContainerState) -> impl IntoView {
    view! { <span class=format!("badge state-{}", state.as_str())>{state.as_str()}</span> }
}

/// The words shown for a health status (`none` reads badly on its own).
pub fn health_label(health: HealthStatus) -> &'static str {
    match health {
        HealthStatus::None => "no healthcheck",
        other => other.as_str(),
    }
}

#[component]
pub fn HealthBadge(health: HealthStatus) -> impl IntoView {
    view! {
        <span
            class=format!("badge health-{}", health.as_str())
            data-testid="health-badge"
            data-health=health.as_str()
        >
            {health_label(health)}
        </span>
    }
}

#[component]
pub fn SeverityBadge(severity: Severity) -> impl IntoView {
    view! {
        <span class=format!("badge severity-{}", severity.as_str()) data-severity=severity.as_str()>
            {severity.as_str()}
        </span>
    }
}

/// Diagnosis text with `backticked` names rendered as code.
#[component]
pub fn RichText(#[prop(into)] text: String) -> impl IntoView {
    inline_code(&text)
        .into_iter()
        .map(|(code, piece)| {
            if code {
                view! { <code>{piece}</code> }.into_any()
            } else {
                piece.into_any()
            }
        })
        .collect_view()
}
