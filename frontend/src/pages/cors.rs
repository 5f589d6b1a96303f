//! `/cors`: the CORS verdict on responses a person already has, worked out in this browser
//! with the agent's own evaluator (`vantage_shared::cors`). Describe the page's request,
//! paste the server's answers (`curl -i` output or header lines), and see what Chromium
//! does with them, where the Fetch standard differs, and the header that fixes each rule.
//! Nothing is sent anywhere: the page also works for a server the agent cannot reach.

use leptos::prelude::*;
use vantage_shared::cors::{
    actual_request_headers, evaluate, parse_response, preflight_request_headers, CorsReport,
    CorsRequest, Credentials, PasteError, RequestMode, PREFLIGHT_METHOD,
};
use vantage_shared::diagnosis::cors_snippet::{retarget, Responder};

use crate::components::cors_report::CorsSection;
use crate::components::finding::{FindingCard, Snippet};

/// What the person typed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fields {
    pub url: String,
    pub origin: String,
    pub method: String,
    pub mode: RequestMode,
    pub credentials: Credentials,
    pub headers: String,
    pub read_headers: String,
    pub preflight: String,
    pub actual: String,
}

/// The page's answer: the report, or which box to fix.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not enough typed yet: what is missing.
    Waiting(&'static str),
    Invalid {
        field: &'static str,
        message: String,
    },
    Report {
        report: Box<CorsReport>,
        /// Pastes without a status line, taken as 200.
        assumed: Vec<&'static str>,
    },
}

/// The page's request from the fields, or the field to fix.
pub fn request_of(f: &Fields) -> Result<CorsRequest, (&'static str, String)> {
    let origin = f.origin.trim();
    let method = if f.method.trim().is_empty() {
        "GET"
    } else {
        f.method.trim()
    };
    let mut req = CorsRequest::new(origin, method);
    req.mode = f.mode;
    req.credentials = f.credentials;
    for (i, line) in f.headers.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once(':') {
            Some((n, v)) if vantage_shared::cors::is_token(n.trim()) => {
                req = req.header(n.trim(), v.trim());
            }
            _ => {
                return Err((
                    "headers",
                    format!("line {}: `{}` is not `Name: value`", i + 1, line.trim()),
                ))
            }
        }
    }
    req.read_headers = f
        .read_headers
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if !vantage_shared::cors::is_token(req.method.trim()) {
        return Err(("method", format!("`{}` is not an HTTP method", req.method)));
    }
    Ok(req)
}

/// Evaluates what the fields hold.
pub fn outcome_of(f: &Fields) -> Outcome {
    if f.origin.trim().is_empty() {
        return Outcome::Waiting("the page's origin");
    }
    let req = match request_of(f) {
        Ok(r) => r,
        Err((field, message)) => return Outcome::Invalid { field, message },
    };
    let needs_preflight = !preflight_request_headers(&req).is_empty();
    let mut assumed = Vec::new();
    let mut read = |field: &'static str, text: &str| match text.trim() {
        "" => Ok(None),
        _ => parse_response(text, 200)
            .map(|p| {
                if !p.had_status_line {
                    assumed.push(field);
                }
                Some(p.response)
            })
            .map_err(|e: PasteError| Outcome::Invalid {
                field,
                message: e.to_string(),
            }),
    };
    let preflight = if needs_preflight {
        match read("preflight", &f.preflight) {
            Ok(p) => p,
            Err(o) => return o,
        }
    } else {
        None
    };
    let actual = match read("actual", &f.actual) {
        Ok(a) => a,
        Err(o) => return o,
    };
    if preflight.is_none() && actual.is_none() {
        return Outcome::Waiting("a response to judge");
    }
    let mut report = evaluate(&req, preflight.as_ref(), actual.as_ref());
    // The fix in the syntax of the server the pasted headers name (nginx's otherwise).
    let server = [&actual, &preflight]
        .into_iter()
        .flatten()
        .find_map(|r| Responder::from_headers(&r.headers));
    if let Some(r) = server {
        retarget(&mut report.finding, r);
    }
    Outcome::Report {
        report: Box::new(report),
        assumed,
    }
}

/// `'…'` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `curl` commands whose output goes into the boxes: the preflight (when the browser
/// sends one) and the request itself, with exactly the headers the browser would send.
pub fn curl_commands(f: &Fields) -> (Option<String>, String) {
    let url = match f.url.trim() {
        "" => "https://api.example/path",
        u => u,
    };
    let req = request_of(f).unwrap_or_else(|_| CorsRequest::new(f.origin.trim(), "GET"));
    let with_headers = |method: &str, headers: Vec<(String, String)>| {
        let mut cmd = format!("curl -si -X {method}");
        for (n, v) in headers {
            cmd.push_str(&format!(" -H {}", sh_quote(&format!("{n}: {v}"))));
        }
        cmd.push(' ');
        cmd.push_str(&sh_quote(url));
        cmd
    };
    let preflight = preflight_request_headers(&req);
    let preflight = (!preflight.is_empty()).then(|| with_headers(PREFLIGHT_METHOD, preflight));
    let method = vantage_shared::cors::normalize_method(&req.method);
    (
        preflight,
        with_headers(&method, actual_request_headers(&req)),
    )
}

#[component]
pub fn CorsPage() -> impl IntoView {
    let fields = RwSignal::new(Fields {
        method: "GET".to_owned(),
        ..Fields::default()
    });
    let outcome = Memo::new(move |_| fields.with(outcome_of));
    let needs_preflight = Memo::new(move |_| {
        fields.with(|f| request_of(f).is_ok_and(|r| !preflight_request_headers(&r).is_empty()))
    });
    view! {
        <h1>"CORS check"</h1>
        <p class="muted">
            "Describe the request a web page makes, paste what the server answered, and see what a browser does with it, rule by rule. It is worked out in this browser: nothing is sent anywhere."
        </p>
        <div class="two-col cors-panels">
            <section class="panel" aria-labelledby="cors-request-title">
                <h2 id="cors-request-title">"The page's request"</h2>
                <RequestFields fields outcome />
            </section>
            <section class="panel" aria-labelledby="cors-responses-title">
                <h2 id="cors-responses-title">"What the server answered"</h2>
                <Commands fields />
                <Show when=move || needs_preflight.get() fallback=|| view! {
                    <p class="small muted" data-testid="no-preflight">"This request needs no preflight: paste only the response."</p>
                }>
                    <PasteBox fields field="preflight" label="Preflight response (OPTIONS)" outcome />
                </Show>
                <PasteBox fields field="actual" label="Response" outcome />
            </section>
        </div>
        <section aria-live="polite" data-testid="cors-result">
            {move || match outcome.get() {
                Outcome::Waiting(what) => view! {
                    <p class="muted" data-testid="cors-waiting">{format!("Waiting for {what}.")}</p>
                }.into_any(),
                Outcome::Invalid { .. } => view! {
                    <p class="muted">"Fix the marked box to see the verdict."</p>
                }.into_any(),
                Outcome::Report { report, assumed } => view! {
                    {(!assumed.is_empty()).then(|| view! {
                        <p class="note small" data-testid="cors-assumed">
                            {format!("No status line in the {} box: taken as HTTP 200.", assumed.join(" and "))}
                        </p>
                    })}
                    <FindingCard finding=report.finding.clone() />
                    <CorsSection report=*report />
                }.into_any(),
            }}
        </section>
    }
}

/// One text input bound to a field.
fn text_input(
    fields: RwSignal<Fields>,
    get: fn(&Fields) -> &String,
    set: fn(&mut Fields, String),
) -> (impl Fn() -> String + Copy, impl Fn(web_sys::Event) + Copy) {
    (
        move || fields.with(|f| get(f).clone()),
        move |ev| fields.update(|f| set(f, event_target_value(&ev))),
    )
}

#[component]
fn RequestFields(fields: RwSignal<Fields>, outcome: Memo<Outcome>) -> impl IntoView {
    let (origin, on_origin) = text_input(fields, |f| &f.origin, |f, v| f.origin = v);
    let (method, on_method) = text_input(fields, |f| &f.method, |f, v| f.method = v);
    let (headers, on_headers) = text_input(fields, |f| &f.headers, |f, v| f.headers = v);
    let (reads, on_reads) = text_input(fields, |f| &f.read_headers, |f, v| f.read_headers = v);
    let (url, on_url) = text_input(fields, |f| &f.url, |f, v| f.url = v);
    let on_mode = move |ev| {
        let mode = if event_target_value(&ev) == "no-cors" {
            RequestMode::NoCors
        } else {
            RequestMode::Cors
        };
        fields.update(|f| f.mode = mode);
    };
    let on_credentials = move |ev| {
        let c = match event_target_value(&ev).as_str() {
            "omit" => Credentials::Omit,
            "include" => Credentials::Include,
            _ => Credentials::SameOrigin,
        };
        fields.update(|f| f.credentials = c);
    };
    let invalid = move |name: &'static str| {
        move || {
            matches!(outcome.get(), Outcome::Invalid { field, .. } if field == name)
                .then_some("true")
        }
    };
    view! {
        <form class="cors-form" on:submit=|ev| ev.prevent_default()>
            <label>
                <span>"Page origin"</span>
                <input name="origin" type="text" inputmode="url" placeholder="https://shop.example"
                    autocomplete="off" spellcheck="false" prop:value=origin on:input=on_origin />
            </label>
            <label>
                <span>"URL the page calls (only for the commands)"</span>
                <input name="url" type="text" inputmode="url" placeholder="https://api.example/orders"
                    autocomplete="off" spellcheck="false" prop:value=url on:input=on_url />
            </label>
            <div class="field-row">
                <label>
                    <span>"Method"</span>
                    <input name="method" type="text" placeholder="GET" autocomplete="off" spellcheck="false"
                        aria-invalid=invalid("method") prop:value=method on:input=on_method />
                </label>
                <label>
                    <span>"Mode"</span>
                    <select name="mode" on:change=on_mode>
                        <option value="cors" selected>"cors (fetch, XHR)"</option>
                        <option value="no-cors">"no-cors (img, script, mode: \"no-cors\")"</option>
                    </select>
                </label>
                <label>
                    <span>"Credentials"</span>
                    <select name="credentials" on:change=on_credentials>
                        <option value="omit">"omit"</option>
                        <option value="same-origin" selected>"same-origin (default)"</option>
                        <option value="include">"include"</option>
                    </select>
                </label>
            </div>
            <label>
                <span>"Request headers the page sets, one per line"</span>
                <textarea name="headers" rows="3" spellcheck="false"
                    placeholder="Authorization: Bearer x\nContent-Type: application/json"
                    aria-invalid=invalid("headers") aria-describedby="cors-field-error"
                    prop:value=headers on:input=on_headers></textarea>
            </label>
            <label>
                <span>"Response headers the script reads (comma-separated)"</span>
                <input name="read_headers" type="text" placeholder="X-Total-Count" autocomplete="off"
                    spellcheck="false" prop:value=reads on:input=on_reads />
            </label>
            <FieldError outcome names=&["headers", "method"] id="cors-field-error" />
        </form>
    }
}

/// The error of one of `names`, if the outcome has it.
#[component]
fn FieldError(
    outcome: Memo<Outcome>,
    names: &'static [&'static str],
    id: &'static str,
) -> impl IntoView {
    view! {
        <div id=id aria-live="polite">
            {move || match outcome.get() {
                Outcome::Invalid { field, message } if names.contains(&field) => Some(view! {
                    <p class="form-error" role="alert" data-testid=format!("error-{field}")>{message}</p>
                }),
                _ => None,
            }}
        </div>
    }
}

/// The commands that produce what the boxes want.
#[component]
fn Commands(fields: RwSignal<Fields>) -> impl IntoView {
    view! {
        <details class="small" data-testid="cors-commands">
            <summary>"How to get these: the requests a browser sends, as curl commands"</summary>
            {move || {
                let (preflight, actual) = fields.with(curl_commands);
                view! {
                    {preflight.map(|p| view! {
                        <p>"The preflight:"</p>
                        <Snippet text=p language=Some("shell".to_owned()) />
                    })}
                    <p>"The request itself (careful: it is sent for real, with its method):"</p>
                    <Snippet text=actual language=Some("shell".to_owned()) />
                }
            }}
        </details>
    }
}

#[component]
fn PasteBox(
    fields: RwSignal<Fields>,
    field: &'static str,
    label: &'static str,
    outcome: Memo<Outcome>,
) -> impl IntoView {
    let value = move || {
        fields.with(|f| {
            if field == "preflight" {
                f.preflight.clone()
            } else {
                f.actual.clone()
            }
        })
    };
    let on_input = move |ev| {
        let v = event_target_value(&ev);
        fields.update(|f| {
            if field == "preflight" {
                f.preflight = v;
            } else {
                f.actual = v;
            }
        });
    };
    let error = move || match outcome.get() {
        Outcome::Invalid { field: f, message } if f == field => Some(message),
        _ => None,
    };
    let error_id = format!("paste-{field}-error");
    view! {
        <label>
            <span>{label}</span>
            <textarea
                name=field
                rows="7"
                spellcheck="false"
                placeholder="HTTP/1.1 204 No Content\nAccess-Control-Allow-Origin: https://shop.example\n…"
                aria-invalid=move || error().map(|_| "true")
                aria-describedby=error_id.clone()
                prop:value=value
                on:input=on_input
            ></textarea>
        </label>
        <div id=error_id aria-live="polite">
            {move || error().map(|e| view! {
                <p class="form-error" role="alert" data-testid=format!("error-{field}")>{e}</p>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            origin: "https://shop.example".into(),
            method: "PUT".into(),
            headers: "Authorization: Bearer t\n\nX-Trace: 1".into(),
            ..Fields::default()
        }
    }

    #[test]
    fn the_request_comes_from_the_fields() {
        let r = request_of(&fields()).expect("valid");
        assert_eq!(r.headers.len(), 2);
        assert_eq!(r.credentials, Credentials::SameOrigin);
        let mut f = fields();
        f.headers = "Authorization Bearer".into();
        assert_eq!(request_of(&f).err().map(|e| e.0), Some("headers"));
        f = fields();
        f.method = "GE T".into();
        assert_eq!(request_of(&f).err().map(|e| e.0), Some("method"));
    }

    #[test]
    fn pastes_are_judged_and_their_errors_point_at_the_box() {
        let mut f = fields();
        assert_eq!(outcome_of(&f), Outcome::Waiting("a response to judge"));
        f.preflight = "HTTP/1.1 204 No Content\nAccess-Control-Allow-Origin: https://shop.example\nAccess-Control-Allow-Methods: PUT\nAccess-Control-Allow-Headers: *\n".into();
        f.actual = "Access-Control-Allow-Origin: https://shop.example\n".into();
        match outcome_of(&f) {
            Outcome::Report { report, assumed } => {
                assert!(report.allowed, "Chromium lets * cover Authorization");
                assert!(!report.standard_allowed);
                assert_eq!(assumed, vec!["actual"]);
            }
            other => panic!("{other:?}"),
        }
        f.actual = "HTTP/1.1 200 OK\nnot a header\n".into();
        match outcome_of(&f) {
            Outcome::Invalid { field, message } => {
                assert_eq!(field, "actual");
                assert!(message.starts_with("line 2"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_fix_follows_the_pasted_server_header() {
        let mut f = fields();
        f.preflight = "HTTP/1.1 204 No Content\nServer: HAProxy\n".into();
        f.actual = "HTTP/1.1 200 OK\nServer: haproxy\n".into();
        let snippet = |f: &Fields| match outcome_of(f) {
            Outcome::Report { report, .. } => report.finding.fix.map(|x| {
                (
                    x.snippet_language.unwrap_or_default(),
                    x.snippet.unwrap_or_default(),
                )
            }),
            other => panic!("{other:?}"),
        };
        let (lang, text) = snippet(&f).expect("a fix");
        assert_eq!(lang, "haproxy");
        assert!(
            text.contains("http-after-response set-header Access-Control-Allow-Origin"),
            "{text}"
        );
        f.preflight = "HTTP/1.1 204 No Content\n".into();
        f.actual = "HTTP/1.1 200 OK\n".into();
        assert_eq!(snippet(&f).map(|(l, _)| l).as_deref(), Some("nginx"));
    }

    #[test]
    fn commands_send_what_the_browser_sends() {
        let mut f = fields();
        f.url = "https://api.example/o'rders".into();
        let (preflight, actual) = curl_commands(&f);
        let preflight = preflight.expect("PUT is preflighted");
        assert!(preflight.starts_with("curl -si -X OPTIONS"), "{preflight}");
        assert!(
            preflight.contains("'Access-Control-Request-Headers: authorization,x-trace'"),
            "{preflight}"
        );
        assert!(
            preflight.ends_with(r"'https://api.example/o'\''rders'"),
            "{preflight}"
        );
        assert!(
            actual.starts_with("curl -si -X PUT -H 'Origin: https://shop.example'"),
            "{actual}"
        );
        f.method = "GET".into();
        f.headers.clear();
        assert!(curl_commands(&f).0.is_none());
    }
}
