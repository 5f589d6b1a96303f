//! The add-target form: checked here with the agent's own rules
//! (`validate_new_target`), then by the agent, whose message is shown as is.

use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::cors::{Credentials, RequestMode};
use vantage_shared::probe::{parse_target_url, validate_new_target, NewTarget, MAX_TARGET_NAME};
use vantage_shared::proxy_admin::ProxyAdminKind;
use vantage_shared::rules::RuleScope;

use super::proxy_field::{proxy_admin, ProxyOptions};
use super::Actions;
use crate::api;
use crate::components::badges::RichText;
use crate::components::status::error_text;

/// The form's fields as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    pub name: String,
    pub url: String,
    pub expected_status: String,
    pub cors_origin: String,
    pub cors_method: String,
    /// One `Name: value` per line.
    pub cors_headers: String,
    pub cors_credentials: Credentials,
    pub cors_mode: RequestMode,
    /// The proxy admin endpoint (none while the URL is empty).
    pub proxy_kind: ProxyAdminKind,
    pub proxy_url: String,
    pub proxy_backend: String,
    /// Security groups / ACLs / firewalls that apply, comma-separated ids.
    pub rule_sets: String,
    /// How often the agent probes it, as typed (`60s`, `5m`); empty for the default.
    pub interval: String,
}

/// Which input an error is about, so only that one is marked invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Url,
    Status,
    Interval,
    /// One of the fields under "CORS options" (which then opens).
    Cors,
    /// One of the fields under "Proxy admin endpoint" (which then opens).
    Proxy,
}

/// Which field a validation message is about: name and URL are re-checked directly, the
/// rest is told apart by the message.
pub fn field_of(f: &Fields, message: &str) -> Field {
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > MAX_TARGET_NAME {
        Field::Name
    } else if parse_target_url(&f.url).is_err() {
        Field::Url
    } else if message.contains("expected status") && !message.contains("CORS") {
        Field::Status
    } else if message.contains("interval") {
        Field::Interval
    } else if message.contains("proxy") || message.contains("socket") {
        Field::Proxy
    } else if message.contains("CORS") {
        Field::Cors
    } else {
        Field::Url
    }
}

/// Turns the typed fields into a checked [`NewTarget`], or the error to show.
pub fn to_new_target(f: &Fields) -> Result<NewTarget, String> {
    let opt = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    let expected_status = match opt(&f.expected_status) {
        None => None,
        Some(s) => Some(
            s.parse::<u16>()
                .map_err(|_| format!("expected status `{s}` is not a number"))?,
        ),
    };
    let target = NewTarget {
        name: f.name.trim().to_owned(),
        url: f.url.trim().to_owned(),
        expected_status,
        cors_origin: opt(&f.cors_origin),
        cors_method: opt(&f.cors_method).map(|m| m.to_ascii_uppercase()),
        cors_headers: f
            .cors_headers
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        cors_credentials: f.cors_credentials,
        cors_mode: f.cors_mode,
        proxy_admin: proxy_admin(f),
        firewall: RuleScope {
            sets: f
                .rule_sets
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            destination: None,
        },
        interval_seconds: None,
        interval: opt(&f.interval),
    };
    validate_new_target(&target)?;
    Ok(target)
}

/// The form's state, shared by the submit handler and the view.
#[derive(Clone, Copy)]
struct FormState {
    fields: RwSignal<Fields>,
    error: RwSignal<Option<String>>,
    /// The input the client-side error is about; `None` for the agent's errors.
    bad_field: RwSignal<Option<Field>>,
    busy: RwSignal<bool>,
    cors_open: RwSignal<bool>,
    proxy_open: RwSignal<bool>,
}

impl FormState {
    fn new() -> Self {
        Self {
            fields: RwSignal::new(Fields::default()),
            error: RwSignal::new(None),
            bad_field: RwSignal::new(None),
            busy: RwSignal::new(false),
            cors_open: RwSignal::new(false),
            proxy_open: RwSignal::new(false),
        }
    }

    /// Checks the fields and adds the target; a new one is probed at once.
    fn submit(self, actions: Actions) {
        let Self {
            fields,
            error,
            bad_field,
            busy,
            cors_open,
            proxy_open,
        } = self;
        if busy.get_untracked() {
            return;
        }
        let typed = fields.get_untracked();
        let target = match to_new_target(&typed) {
            Ok(t) => t,
            Err(e) => {
                let field = field_of(&typed, &e);
                match field {
                    Field::Cors => cors_open.set(true),
                    Field::Proxy => proxy_open.set(true),
                    _ => {}
                }
                bad_field.set(Some(field));
                error.set(Some(e));
                return;
            }
        };
        bad_field.set(None);
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let token = actions.session.token_untracked();
            let result = actions
                .session
                .check(api::add_target(&token, &target).await);
            busy.set(false);
            match result {
                Ok(t) => {
                    fields.set(Fields::default());
                    cors_open.set(false);
                    proxy_open.set(false);
                    actions.refresh.bump_reach();
                    // A new target is worth a first look at once.
                    actions.probe(t.id);
                }
                Err(e) => {
                    bad_field.set(None);
                    error.set(Some(error_text(&e)));
                }
            }
        });
    }
}

/// Binds a text input to one field: its value, and its input handler.
fn bind_text(
    fields: RwSignal<Fields>,
    get: fn(&Fields) -> &String,
    set: fn(&mut Fields, String),
) -> (
    impl Fn() -> String + Clone + Send + Sync + 'static,
    impl Fn(leptos::ev::Event) + Clone + Send + Sync + 'static,
) {
    (
        move || fields.with(|f| get(f).clone()),
        move |ev: leptos::ev::Event| fields.update(|f| set(f, event_target_value(&ev))),
    )
}

#[component]
pub fn TargetForm(actions: Actions) -> impl IntoView {
    let state = FormState::new();
    let FormState {
        fields,
        error,
        bad_field,
        busy,
        cors_open,
        proxy_open,
    } = state;
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        state.submit(actions);
    };

    let (name, on_name) = bind_text(fields, |f| &f.name, |f, v| f.name = v);
    let (url, on_url) = bind_text(fields, |f| &f.url, |f, v| f.url = v);
    let (status, on_status) =
        bind_text(fields, |f| &f.expected_status, |f, v| f.expected_status = v);
    let (interval, on_interval) = bind_text(fields, |f| &f.interval, |f, v| f.interval = v);
    let invalid = move |field: Field| move || (bad_field.get() == Some(field)).then_some("true");

    view! {
        <form
            class="target-form"
            data-testid="target-form"
            on:submit=on_submit
            aria-describedby="target-error"
            novalidate=true
        >
            <label>
                <span>"Name"</span>
                <input
                    name="name"
                    type="text"
                    required=true
                    maxlength="80"
                    placeholder="Shop API"
                    autocomplete="off"
                    aria-invalid=invalid(Field::Name)
                    prop:value=name
                    on:input=on_name
                />
            </label>
            <label>
                <span>"URL or host:port"</span>
                <input
                    name="url"
                    type="text"
                    inputmode="url"
                    required=true
                    placeholder="https://api.shop.example/health"
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=invalid(Field::Url)
                    prop:value=url
                    on:input=on_url
                />
            </label>
            <label>
                <span>"Expected status (optional)"</span>
                <input
                    name="expected_status"
                    type="text"
                    inputmode="numeric"
                    placeholder="any 2xx/3xx"
                    autocomplete="off"
                    aria-invalid=invalid(Field::Status)
                    prop:value=status
                    on:input=on_status
                />
            </label>
            <label>
                <span>"Probe every"</span>
                <input
                    name="interval"
                    type="text"
                    placeholder="60s (5s to 24h)"
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=invalid(Field::Interval)
                    prop:value=interval
                    on:input=on_interval
                />
            </label>
            <CorsOptions fields cors_open />
            <ProxyOptions fields open=proxy_open />
            <RuleSetsField fields />
            <div id="target-error" aria-live="polite">
                {move || {
                    error
                        .get()
                        .map(|e| {
                            view! {
                                <p class="form-error" role="alert" data-testid="target-error">
                                    <RichText text=e />
                                </p>
                            }
                        })
                }}
            </div>
            <button type="submit" class="button" disabled=move || busy.get()>
                {move || if busy.get() { "Adding…" } else { "Add target" }}
            </button>
        </form>
    }
}

/// The folded CORS options: the origin, method, headers and credentials of the page's request.
#[component]
fn CorsOptions(fields: RwSignal<Fields>, cors_open: RwSignal<bool>) -> impl IntoView {
    let (origin, on_origin) = bind_text(fields, |f| &f.cors_origin, |f, v| f.cors_origin = v);
    let (method, on_method) = bind_text(fields, |f| &f.cors_method, |f, v| f.cors_method = v);
    let (headers, on_headers) = bind_text(fields, |f| &f.cors_headers, |f, v| f.cors_headers = v);
    view! {
    <details
        class="cors-options"
        prop:open=move || cors_open.get()
        on:toggle=move |ev| {
            let el: web_sys::HtmlDetailsElement = event_target(&ev);
            cors_open.set(el.open());
        }
    >
        <summary>"CORS options"</summary>
        <p class="muted small">
            "The request a web page makes to this URL, so the agent can check it the way a browser would. Leave empty for a plain GET from this dashboard's origin."
        </p>
        <label>
            <span>"Page origin"</span>
            <input
                name="cors_origin"
                type="text"
                inputmode="url"
                placeholder="https://shop.example"
                autocomplete="off"
                spellcheck="false"
                prop:value=origin
                on:input=on_origin
            />
        </label>
        <label>
            <span>"Method"</span>
            <input
                name="cors_method"
                type="text"
                placeholder="GET"
                autocomplete="off"
                spellcheck="false"
                prop:value=method
                on:input=on_method
            />
        </label>
        <label>
            <span>"Request headers, one per line"</span>
            <textarea
                name="cors_headers"
                rows="3"
                placeholder="Authorization: Bearer x\nContent-Type: application/json"
                spellcheck="false"
                prop:value=headers
                on:input=on_headers
            ></textarea>
        </label>
        <div class="field-row">
            <label>
                <span>"Mode"</span>
                <select
                    name="cors_mode"
                    on:change=move |ev| {
                        let mode = if event_target_value(&ev) == "no-cors" {
                            RequestMode::NoCors
                        } else {
                            RequestMode::Cors
                        };
                        fields.update(|f| f.cors_mode = mode);
                    }
                >
                    <option value="cors" selected=move || fields.with(|f| f.cors_mode == RequestMode::Cors)>
                        "cors (fetch, XHR)"
                    </option>
                    <option value="no-cors" selected=move || fields.with(|f| f.cors_mode == RequestMode::NoCors)>
                        "no-cors (img, script)"
                    </option>
                </select>
            </label>
            <label>
                <span>"Credentials"</span>
                <select
                    name="cors_credentials"
                    on:change=move |ev| {
                        let c = match event_target_value(&ev).as_str() {
                            "omit" => Credentials::Omit,
                            "include" => Credentials::Include,
                            _ => Credentials::SameOrigin,
                        };
                        fields.update(|f| f.cors_credentials = c);
                    }
                >
                    {[Credentials::Omit, Credentials::SameOrigin, Credentials::Include]
                        .into_iter()
                        .map(|c| {
                            view! {
                                <option
                                    value=c.as_str()
                                    selected=move || fields.with(|f| f.cors_credentials == c)
                                >
                                    {c.as_str()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
        </div>
    </details>
    }
}

/// The rule sets that apply to the target, with their hint.
#[component]
fn RuleSetsField(fields: RwSignal<Fields>) -> impl IntoView {
    view! {
    <label>
        <span>"Firewall rule sets that apply (optional)"</span>
        <input
            name="rule_sets"
            type="text"
            placeholder="sg-0abc123, acl-0def456"
            autocomplete="off"
            spellcheck="false"
            aria-describedby="rule-sets-hint"
            prop:value=move || fields.with(|f| f.rule_sets.clone())
            on:input=move |ev| fields.update(|f| f.rule_sets = event_target_value(&ev))
        />
        <small id="rule-sets-hint" class="muted">
            "Ids from the Firewall page, comma-separated: each device's row then shows what these groups say. Empty: every loaded set."
        </small>
    </label>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str, url: &str) -> Fields {
        Fields {
            name: name.into(),
            url: url.into(),
            ..Fields::default()
        }
    }

    #[test]
    fn proxy_fields_become_the_admin_endpoint() {
        let mut f = fields("Shop", "http://127.0.0.1:8080/");
        assert_eq!(to_new_target(&f).map(|t| t.proxy_admin), Ok(None));
        f.proxy_kind = ProxyAdminKind::HaproxyServersState;
        f.proxy_url = " unix:/run/haproxy/admin.sock ".into();
        f.proxy_backend = " shop_api ".into();
        let admin = to_new_target(&f).map(|t| t.proxy_admin);
        assert_eq!(
            admin,
            Ok(Some(vantage_shared::proxy_admin::ProxyAdmin {
                kind: ProxyAdminKind::HaproxyServersState,
                url: "unix:/run/haproxy/admin.sock".into(),
                backend: Some("shop_api".into()),
            }))
        );
        f.proxy_url = "unix:admin.sock".into();
        let e = to_new_target(&f).expect_err("relative socket");
        assert_eq!(field_of(&f, &e), Field::Proxy, "{e}");
        f.proxy_kind = ProxyAdminKind::EnvoyClusters;
        f.proxy_url = "ftp://x".into();
        let e = to_new_target(&f).expect_err("ftp");
        assert_eq!(field_of(&f, &e), Field::Proxy, "{e}");
    }

    #[test]
    fn typed_fields_become_a_target() {
        let mut f = fields(" Shop API ", " https://api.shop.example/products ");
        f.expected_status = "200".into();
        f.cors_origin = "https://shop.example".into();
        f.cors_method = "post".into();
        f.cors_headers = "Authorization: Bearer x\n\n Content-Type: application/json \n".into();
        let t = to_new_target(&f).unwrap();
        assert_eq!(t.name, "Shop API");
        assert_eq!(t.url, "https://api.shop.example/products");
        assert_eq!(t.expected_status, Some(200));
        assert_eq!(t.cors_method.as_deref(), Some("POST"));
        assert_eq!(
            t.cors_headers,
            ["Authorization: Bearer x", "Content-Type: application/json"]
        );
        assert_eq!(
            to_new_target(&fields("db", "db.internal:5432"))
                .unwrap()
                .expected_status,
            None
        );
    }

    #[test]
    fn errors_point_at_their_field() {
        let f = fields("", "https://a.example");
        assert_eq!(field_of(&f, &to_new_target(&f).unwrap_err()), Field::Name);
        let f = fields("a", "ftp://a");
        assert_eq!(field_of(&f, &to_new_target(&f).unwrap_err()), Field::Url);
        let mut f = fields("a", "https://a.example");
        f.expected_status = "999".into();
        assert_eq!(field_of(&f, &to_new_target(&f).unwrap_err()), Field::Status);
        let mut f = fields("a", "https://a.example");
        f.cors_origin = "shop.example".into();
        assert_eq!(field_of(&f, &to_new_target(&f).unwrap_err()), Field::Cors);
        let mut f = fields("a", "db:5432");
        f.cors_origin = "https://shop.example".into();
        assert_eq!(field_of(&f, &to_new_target(&f).unwrap_err()), Field::Cors);
        let mut f = fields("a", "db:5432");
        f.interval = "2s".into();
        assert_eq!(
            field_of(&f, &to_new_target(&f).unwrap_err()),
            Field::Interval
        );
        f.interval = "5m".into();
        assert_eq!(to_new_target(&f).unwrap().interval.as_deref(), Some("5m"));
    }

    #[test]
    fn bad_input_says_what_to_fix() {
        assert!(to_new_target(&fields("", "https://a.example"))
            .unwrap_err()
            .contains("name"));
        assert!(to_new_target(&fields("a", "ftp://a.example"))
            .unwrap_err()
            .contains("scheme"));
        let mut f = fields("a", "https://a.example");
        f.expected_status = "ok".into();
        assert!(to_new_target(&f).unwrap_err().contains("not a number"));
        f.expected_status = "999".into();
        assert!(to_new_target(&f).unwrap_err().contains("100–599"));
        let mut f = fields("a", "https://a.example");
        f.cors_headers = "no colon".into();
        assert!(to_new_target(&f).unwrap_err().contains("Name: value"));
    }
}
