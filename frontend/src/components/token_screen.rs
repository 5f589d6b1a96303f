//! The screen shown when there is no access token, or the agent refused it.

use leptos::prelude::*;

use crate::state::use_session;

#[component]
pub fn TokenScreen() -> impl IntoView {
    let session = use_session();
    let value = RwSignal::new(String::new());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = value.get_untracked();
        if !token.trim().is_empty() {
            session.set_token(token);
        }
    };
    view! {
        <section class="token-screen" data-testid="token-screen" aria-labelledby="token-title">
            <h1 id="token-title">"Access token needed"</h1>
            {move || {
                session
                    .was_rejected()
                    .then(|| {
                        view! {
                            <p class="error-box" role="alert">
                                "The agent rejected the stored token (it may have been regenerated). Paste the current one."
                            </p>
                        }
                    })
            }}
            <p>
                "This dashboard needs the agent's access token. Open the URL printed by "
                <code>"vantage serve"</code> ", or paste the token from "
                <code>"<data-dir>/admin.token"</code> "."
            </p>
            <form class="token-form" on:submit=on_submit>
                <label for="token-input">"Access token"</label>
                <div class="row">
                    <input
                        id="token-input"
                        name="token"
                        type="password"
                        autocomplete="off"
                        spellcheck="false"
                        required=true
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))
                    />
                    <button type="submit" class="button">"Use token"</button>
                </div>
            </form>
            <p class="muted small">
                "The token is kept in this browser's local storage; the agent's URL parameter is removed from the address bar."
            </p>
        </section>
    }
}
