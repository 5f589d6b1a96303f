//! "Add a channel": the fields each kind needs (a URL for the webhook kinds, the server and
//! addresses for e-mail), sent once to the agent, which checks them as it checks the config
//! file and keeps the secret: it is never shown again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Map, Value};

use crate::api;
use crate::components::status::error_text;
use crate::state::use_session;

/// What the form holds, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub secret: String,
    pub smtp_host: String,
    pub smtp_port: String,
    pub smtp_security: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub to: String,
}

/// Sets `key` to the trimmed `value`, unless it is empty.
fn put(m: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.trim().is_empty() {
        m.insert(key.into(), json!(value.trim()));
    }
}

/// The API body for `f`: only the fields its kind uses, empty ones left out; or what to fix.
pub fn body(f: &Fields) -> Result<Value, String> {
    if f.name.trim().is_empty() {
        return Err("Give the channel a name.".into());
    }
    let mut m = Map::new();
    m.insert("name".into(), json!(f.name.trim()));
    m.insert("kind".into(), json!(f.kind));
    match f.kind.as_str() {
        "email" => {
            put(&mut m, "smtp_host", &f.smtp_host);
            put(&mut m, "smtp_security", &f.smtp_security);
            put(&mut m, "from", &f.from);
            match (f.username.trim(), f.password.as_str()) {
                ("", "") => {}
                ("", _) | (_, "") => {
                    return Err("Give both the user name and the password, or neither.".into())
                }
                (user, password) => {
                    m.insert(
                        "login".into(),
                        json!({"username": user, "password": password}),
                    );
                }
            }
            if !f.smtp_port.trim().is_empty() {
                let port: u16 = f
                    .smtp_port
                    .trim()
                    .parse()
                    .map_err(|_| "The port is a number, 1 to 65535.".to_owned())?;
                m.insert("smtp_port".into(), json!(port));
            }
            let to: Vec<&str> =
                f.to.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .collect();
            m.insert("to".into(), json!(to));
        }
        "ntfy" => {
            put(&mut m, "url", &f.url);
            put(&mut m, "token", &f.secret);
        }
        "webhook" => {
            put(&mut m, "url", &f.url);
            put(&mut m, "secret", &f.secret);
        }
        _ => put(&mut m, "url", &f.url),
    }
    Ok(Value::Object(m))
}

#[component]
pub fn ChannelForm(tick: RwSignal<u32>) -> impl IntoView {
    let session = use_session();
    let fields = RwSignal::new(Fields {
        kind: "webhook".into(),
        smtp_security: "starttls".into(),
        ..Fields::default()
    });
    let problem = RwSignal::new(None::<String>);
    let saving = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let b = match body(&fields.get_untracked()) {
            Ok(b) => b,
            Err(e) => return problem.set(Some(e)),
        };
        saving.set(true);
        spawn_local(async move {
            let token = session.token_untracked();
            match session.check(api::add_channel(&token, &b).await) {
                Ok(_) => {
                    problem.set(None);
                    // The secret leaves the browser's memory with the form.
                    fields.update(|f| {
                        *f = Fields {
                            kind: f.kind.clone(),
                            smtp_security: "starttls".into(),
                            ..Fields::default()
                        }
                    });
                    tick.update(|t| *t = t.wrapping_add(1));
                }
                Err(e) => problem.set(Some(error_text(&e))),
            }
            saving.set(false);
        });
    };
    let kind = move || fields.with(|f| f.kind.clone());
    view! {
        <details class="add-channel" data-testid="add-channel">
            <summary>"Add a channel"</summary>
            <form class="target-form" on:submit=submit>
                <Field fields label="Name" key="name" kind_of="text" />
                <label>
                    <span>"Kind"</span>
                    <select name="kind" on:change=move |ev| { let v = event_target_value(&ev); fields.update(|f| f.kind = v); }>
                        <option value="webhook" selected=true>"Webhook (JSON, optional HMAC signature)"</option>
                        <option value="slack">"Slack or Mattermost"</option>
                        <option value="discord">"Discord"</option>
                        <option value="ntfy">"ntfy"</option>
                        <option value="email">"E-mail (SMTP)"</option>
                    </select>
                </label>
                {move || match kind().as_str() {
                    "email" => view! {
                        <Field fields label="SMTP server" key="smtp_host" kind_of="text" />
                        <label>
                            <span>"Security"</span>
                            <select name="smtp_security" on:change=move |ev| { let v = event_target_value(&ev); fields.update(|f| f.smtp_security = v); }>
                                <option value="starttls" selected=true>"STARTTLS (port 587)"</option>
                                <option value="tls">"TLS (port 465)"</option>
                            </select>
                        </label>
                        <Field fields label="Port (optional)" key="smtp_port" kind_of="text" />
                        <Field fields label="User name (optional)" key="username" kind_of="text" />
                        <Field fields label="Password (optional; never shown again)" key="password" kind_of="password" />
                        <Field fields label="From" key="from" kind_of="text" />
                        <Field fields label="To (comma-separated)" key="to" kind_of="text" />
                    }.into_any(),
                    k => view! {
                        <Field fields label="URL" key="url" kind_of="url" />
                        {(k == "webhook" || k == "ntfy").then(|| view! {
                            <Field
                                fields
                                label=if k == "ntfy" { "Access token (optional; never shown again)" } else { "Signing secret (optional; never shown again)" }
                                key="secret"
                                kind_of="password"
                            />
                        })}
                    }.into_any(),
                }}
                {move || problem.get().map(|p| view! { <p class="error-box small" role="alert">{p}</p> })}
                <button type="submit" class="button" data-testid="add-channel-submit" disabled=saving>
                    {move || if saving.get() { "Adding…" } else { "Add channel" }}
                </button>
            </form>
        </details>
    }
}

/// One labelled input bound to `key` of the form.
#[component]
fn Field(
    fields: RwSignal<Fields>,
    label: &'static str,
    key: &'static str,
    kind_of: &'static str,
) -> impl IntoView {
    fn slot<'a>(f: &'a mut Fields, key: &str) -> Option<&'a mut String> {
        Some(match key {
            "name" => &mut f.name,
            "url" => &mut f.url,
            "secret" => &mut f.secret,
            "smtp_host" => &mut f.smtp_host,
            "smtp_port" => &mut f.smtp_port,
            "username" => &mut f.username,
            "password" => &mut f.password,
            "from" => &mut f.from,
            "to" => &mut f.to,
            _ => return None,
        })
    }
    let value = move || {
        let mut f = fields.get();
        slot(&mut f, key).cloned().unwrap_or_default()
    };
    view! {
        <label>
            <span>{label}</span>
            <input
                type=kind_of
                name=key
                autocomplete="off"
                prop:value=value
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    fields.update(|f| {
                        if let Some(s) = slot(f, key) {
                            *s = v;
                        }
                    });
                }
            />
        </label>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_sends_only_its_fields() {
        let mut f = Fields {
            name: " ops ".into(),
            kind: "slack".into(),
            url: "https://hooks.slack.com/x".into(),
            secret: "ignored for slack".into(),
            ..Fields::default()
        };
        assert_eq!(
            body(&f).unwrap(),
            json!({"name": "ops", "kind": "slack", "url": "https://hooks.slack.com/x"})
        );
        f.kind = "webhook".into();
        assert_eq!(body(&f).unwrap()["secret"], "ignored for slack");
        let mail = Fields {
            name: "m".into(),
            kind: "email".into(),
            smtp_host: "mail".into(),
            smtp_port: "2525".into(),
            smtp_security: "tls".into(),
            from: "a@x".into(),
            to: "b@x, c@x,".into(),
            ..Fields::default()
        };
        let b = body(&mail).unwrap();
        assert_eq!(
            (b["smtp_port"].as_u64(), b["to"].as_array().map(Vec::len)),
            (Some(2525), Some(2))
        );
        assert!(b.get("url").is_none() && b.get("login").is_none());
        let with_login = Fields {
            username: "u".into(),
            password: "p".into(),
            ..mail.clone()
        };
        assert_eq!(
            body(&with_login).unwrap()["login"],
            json!({"username": "u", "password": "p"})
        );
        let half = Fields {
            username: "u".into(),
            ..mail.clone()
        };
        assert!(body(&half).unwrap_err().contains("both"));
        assert!(body(&Fields {
            smtp_port: "x".into(),
            ..mail
        })
        .unwrap_err()
        .contains("port"));
        assert!(body(&Fields::default()).unwrap_err().contains("name"));
    }
}
