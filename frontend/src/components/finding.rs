//! A diagnosis finding: severity, summary, explanation and the fix with a copyable snippet.

use leptos::html::Pre;
use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::diagnosis::Finding;

use super::badges::{RichText, SeverityBadge};
use super::copy::{select_element, write_clipboard};

/// One finding as a card. `testid` lets the reachability verdict reuse it.
#[component]
pub fn FindingCard(finding: Finding) -> impl IntoView {
    let Finding {
        code,
        severity,
        summary,
        explanation,
        fix,
    } = finding;
    view! {
        <article
            class=format!("finding finding-{}", severity.as_str())
            data-testid="finding"
            data-code=code.as_str()
        >
            <header class="finding-head">
                <SeverityBadge severity />
                <h3 class="finding-summary">
                    <RichText text=summary />
                </h3>
            </header>
            <p class="finding-explanation">
                <RichText text=explanation />
            </p>
            {fix.map(|fix| {
                view! {
                    <div class="fix">
                        <p>
                            <strong>"Fix: "</strong>
                            <RichText text=fix.description />
                        </p>
                        {fix.snippet.map(|s| view! { <Snippet text=s language=fix.snippet_language /> })}
                    </div>
                }
            })}
            <p class="finding-code">
                <code>{code.as_str()}</code>
            </p>
        </article>
    }
}

/// What the copy button says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CopyState {
    Idle,
    Copied,
    /// No clipboard API (plain HTTP on a LAN address): the text is selected instead.
    Selected,
}

/// A snippet in `<pre>` with a Copy button.
#[component]
pub fn Snippet(text: String, language: Option<String>) -> impl IntoView {
    let pre = NodeRef::<Pre>::new();
    let state = RwSignal::new(CopyState::Idle);
    let lang = language.clone().unwrap_or_default();
    let copy_text = text.clone();
    let on_copy = move |_| {
        let text = copy_text.clone();
        spawn_local(async move {
            let copied = write_clipboard(&text).await;
            if copied {
                state.set(CopyState::Copied);
            } else {
                select_contents(pre);
                state.set(CopyState::Selected);
            }
            gloo_timers::future::sleep(std::time::Duration::from_secs(3)).await;
            state.set(CopyState::Idle);
        });
    };
    let label = language
        .map(|l| format!("Copy {l}"))
        .unwrap_or_else(|| "Copy".to_owned());
    view! {
        <div class="snippet">
            <div class="snippet-bar">
                <span class="snippet-lang">{lang}</span>
                <button type="button" class="copy" on:click=on_copy data-testid="copy-snippet">
                    {move || match state.get() {
                        CopyState::Idle => label.clone(),
                        CopyState::Copied => "Copied ✓".to_owned(),
                        CopyState::Selected => "Selected: press Ctrl+C".to_owned(),
                    }}
                </button>
            </div>
            <pre node_ref=pre tabindex="0">
                <code>{text}</code>
            </pre>
        </div>
    }
}

fn select_contents(pre: NodeRef<Pre>) {
    if let Some(el) = pre.get_untracked() {
        select_element(&el);
    }
}
