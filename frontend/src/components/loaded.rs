//! A page resource's loading, empty and error states, drawn the same way on every page.
//!
//! Pages own their resources ([`crate::pages::Live`]) and hand this component only the
//! outcome: whether the first answer has come, and whether it was an error. The body is
//! built once the answer is there and rebuilt only when the outcome flips (success to
//! error, one error to another): later answers reach it through the page's signals, so
//! a live refresh every couple of seconds keeps focus, open `<details>` and selections.

use leptos::prelude::*;

use super::status::{error_text, ErrorView, Loading};
use crate::api::ApiError;

/// How a failed load is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnError {
    /// The page's own resource: what failed, what to do about it, and "Try again".
    #[default]
    Explain,
    /// A part of a page that the rest does not depend on: one line, `prefix` then the
    /// agent's message.
    Line {
        prefix: &'static str,
        testid: Option<&'static str>,
    },
}

impl OnError {
    fn view(self, error: ApiError) -> AnyView {
        match self {
            Self::Explain => view! { <ErrorView error /> }.into_any(),
            Self::Line { prefix, testid } => view! {
                <p class="error-box small" role="alert" data-testid=testid>
                    {prefix}
                    {error_text(&error)}
                </p>
            }
            .into_any(),
        }
    }
}

/// Loading line until the first answer, the error when it failed, `empty` when the
/// answer has nothing to show, else the children.
#[component]
pub fn Loaded(
    /// `None` until the first answer, then success or which error (`Live::outcome`).
    #[prop(into)]
    outcome: Signal<Option<Result<(), ApiError>>>,
    /// Completes "Loading …".
    what: &'static str,
    /// A heading known before the answer (a container's name), shown above the loading line.
    #[prop(optional, into)]
    title: Option<Signal<String>>,
    /// Whether the loaded answer has nothing to show; only read once it has loaded.
    #[prop(optional, into)]
    is_empty: Option<Signal<bool>>,
    /// Drawn instead of the children while `is_empty` holds.
    #[prop(optional, into)]
    empty: ViewFn,
    #[prop(optional)] on_error: OnError,
    children: ChildrenFn,
) -> impl IntoView {
    // Memos, so an answer that changes but keeps its outcome, or stays (non-)empty, does
    // not rebuild the body.
    let outcome = Memo::new(move |_| outcome.get());
    let is_empty = is_empty.map(|e| Memo::new(move |_| e.get()));
    move || match outcome.get() {
        None => view! {
            {title.map(|t| view! { <h1>{t}</h1> })}
            <Loading what=what />
        }
        .into_any(),
        Some(Err(e)) => on_error.view(e),
        Some(Ok(())) => {
            let children = children.clone();
            let empty = empty.clone();
            // Untracked: building the body must subscribe this closure to nothing but
            // the outcome, or every refresh would rebuild it.
            untrack(move || match is_empty {
                None => children(),
                Some(is_empty) => view! {
                    <Show when=move || !is_empty.get() fallback=empty>
                        {children()}
                    </Show>
                }
                .into_any(),
            })
        }
    }
}
