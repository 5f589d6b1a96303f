//! Copying text: the clipboard API where the page may use it, selecting the text otherwise.

use leptos::html::Code;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;

/// Writes to the clipboard when the API exists (it needs a secure context:
/// `https`, `localhost` or `127.0.0.1`). Returns whether it did.
pub async fn write_clipboard(text: &str) -> bool {
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

/// Selects an element's text, so the person can press Ctrl+C themselves.
pub fn select_element(el: &web_sys::Node) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Ok(Some(selection)) = window.get_selection() {
        // Selection failures leave the text visible for manual copying anyway.
        let _ = selection.select_all_children(el);
    }
}

/// Inline text (a URL, a header line) with a Copy button beside it.
#[component]
pub fn CopyText(
    #[prop(into)] text: String,
    /// `data-testid` of the text itself.
    #[prop(optional)]
    testid: Option<&'static str>,
    /// What the button copies, for screen readers: "Copy the link".
    #[prop(into, default = "Copy".into())]
    label: String,
) -> impl IntoView {
    let code = NodeRef::<Code>::new();
    // 0 idle, 1 copied, 2 selected instead.
    let state = RwSignal::new(0u8);
    let copy_text = text.clone();
    let on_copy = move |_| {
        let text = copy_text.clone();
        spawn_local(async move {
            if write_clipboard(&text).await {
                state.set(1);
            } else {
                if let Some(el) = code.get_untracked() {
                    select_element(&el);
                }
                state.set(2);
            }
            gloo_timers::future::sleep(std::time::Duration::from_secs(3)).await;
            state.set(0);
        });
    };
    view! {
        <span class="copy-text">
            <code node_ref=code data-testid=testid>{text}</code>
            <button type="button" class="copy" on:click=on_copy aria-label=label.clone() title=label>
                {move || match state.get() {
                    1 => "Copied ✓",
                    2 => "Press Ctrl+C",
                    _ => "Copy",
                }}
            </button>
            <span class="sr-only" role="status">
                {move || if state.get() == 1 { "Copied to the clipboard" } else { "" }}
            </span>
        </span>
    }
}
