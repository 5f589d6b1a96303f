//! A diagnosis finding: severity, summary, explanation and the fix with a copyable snippet.

use leptos::html::Pre;
use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::diagnosis::Finding;
use wasm_bindgen::JsValue;

use super::badges::{RichText, SeverityBadge};

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
    let data_code = code.clone();
    view! {
        <article
            class=format!("finding finding-{}", severity.as_str())
            data-testid="finding"
            data-code=data_code
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
                <code>{code}</code>
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

/// Writes to the clipboard when the API exists (it needs a secure context:
/// `https`, `localhost` or `127.0.0.1`).
async fn write_clipboard(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let navigator = window.navigator();
    let has_api = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .map(|c| !c.is_undefined() && !c.is_null())
        .unwrap_or(false);
    if !has_api {
        return false;
    }
    let promise = navigator.clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

fn select_contents(pre: NodeRef<Pre>) {
    let (Some(el), Some(window)) = (pre.get_untracked(), web_sys::window()) else {
        return;
    };
    if let Ok(Some(selection)) = window.get_selection() {
        // Selection failures leave the text visible for manual copying anyway.
        let _ = selection.select_all_children(&el);
    }
}
