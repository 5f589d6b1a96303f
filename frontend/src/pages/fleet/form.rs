//! "Add an agent": a name, its base URL and its token, checked here and kept in this
//! browser. The token field is cleared once the agent is added.

use leptos::prelude::*;
use vantage_shared::fleet::check_agent_url;

use crate::agents::{self, AgentEntry};

/// The entry for the typed fields, or what to fix.
pub fn entry(name: &str, url: &str, token: &str) -> Result<AgentEntry, String> {
    let url = check_agent_url(url).map_err(|e| format!("URL: {e}."))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(
            "Paste the agent's token (its admin.token, or the ?token= of its dashboard URL)."
                .into(),
        );
    }
    let name = match name.trim() {
        "" => url
            .split_once("://")
            .map_or(url.as_str(), |(_, host)| host)
            .to_owned(),
        n => n.to_owned(),
    };
    Ok(AgentEntry {
        name,
        url,
        token: token.to_owned(),
    })
}

#[component]
pub fn AddAgent(list: RwSignal<Vec<AgentEntry>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let e = match entry(
            &name.get_untracked(),
            &url.get_untracked(),
            &token.get_untracked(),
        ) {
            Ok(e) => e,
            Err(p) => return problem.set(Some(p)),
        };
        let mut next = list.get_untracked();
        agents::upsert(&mut next, e);
        match agents::save(&next) {
            Ok(()) => {
                list.set(next);
                problem.set(None);
                name.set(String::new());
                url.set(String::new());
                token.set(String::new());
            }
            Err(p) => problem.set(Some(p)),
        }
    };
    let field =
        |label: &'static str, key: &'static str, kind: &'static str, value: RwSignal<String>| {
            view! {
                <label>
                    <span>{label}</span>
                    <input
                        type=kind
                        name=key
                        autocomplete="off"
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))
                    />
                </label>
            }
        };
    view! {
        <section class="panel">
            <h2>"Add an agent"</h2>
            <form class="target-form" on:submit=submit data-testid="add-agent">
                {field("Name (optional)", "name", "text", name)}
                {field("URL, e.g. http://10.0.0.7:8787", "url", "url", url)}
                {field("Token", "token", "password", token)}
                {move || problem.get().map(|p| view! { <p class="error-box small" role="alert">{p}</p> })}
                <button type="submit" class="button">"Add agent"</button>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_checks_url_and_token_and_names_by_host() {
        let e = entry("", "http://10.0.0.7:8787/", " t ").unwrap_or_else(|p| panic!("{p}"));
        assert_eq!(
            (e.name.as_str(), e.url.as_str(), e.token.as_str()),
            ("10.0.0.7:8787", "http://10.0.0.7:8787", "t")
        );
        assert!(entry("web-2", "10.0.0.7:8787", "t").is_err());
        assert!(entry("web-2", "http://10.0.0.7:8787", " ").is_err());
        assert_eq!(
            entry("web-2", "https://web-2.example", "t").map(|e| e.name),
            Ok("web-2".into())
        );
    }
}
