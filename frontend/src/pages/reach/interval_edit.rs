//! Changing a dashboard target's probe interval in place: "Interval…" opens a one-field
//! form that reads intervals as the config file writes them (`30s`, `5m`, `1h`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::probe::parse_interval;

use super::Actions;

/// The button, and the form while it is open. `current` is the target's interval in seconds.
#[component]
pub fn IntervalEdit(id: String, current: Signal<u32>, actions: Actions) -> impl IntoView {
    let editing = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let open = move |_| {
        text.set(crate::format::interval_label(current.get_untracked()));
        problem.set(None);
        editing.set(true);
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let seconds = match parse_interval(&text.get_untracked()) {
            Ok(s) => s,
            Err(e) => return problem.set(Some(e)),
        };
        let id = id.clone();
        saving.set(true);
        spawn_local(async move {
            if actions.set_interval(id, seconds).await {
                editing.set(false);
            }
            saving.set(false);
        });
    };
    move || {
        if !editing.get() {
            return view! {
                <button
                    type="button"
                    class="button secondary small-button"
                    data-testid="edit-interval"
                    on:click=open
                >
                    "Interval…"
                </button>
            }
            .into_any();
        }
        view! {
            <form class="interval-edit" data-testid="interval-form" on:submit=save.clone()>
                <label>
                    <span class="sr-only">"Probe every"</span>
                    <input
                        type="text"
                        name="interval"
                        inputmode="text"
                        maxlength="12"
                        size="6"
                        placeholder="60s"
                        aria-label="Probe every (e.g. 30s, 5m, 1h)"
                        aria-invalid=move || problem.with(Option::is_some).to_string()
                        prop:value=text
                        on:input=move |ev| text.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit" class="button small-button" disabled=saving>
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
                <button
                    type="button"
                    class="button secondary small-button"
                    on:click=move |_| editing.set(false)
                >
                    "Cancel"
                </button>
                {move || problem.get().map(|p| view! { <span class="field-error" role="alert">{p}</span> })}
            </form>
        }
        .into_any()
    }
}
