//! The CORS fix in the syntax of whoever answered: the headers to add (and whether to
//! answer preflights at the edge) written for nginx, HAProxy, Caddy, Envoy or Traefik.
//! Findings are made with nginx's syntax (the common case, and the only one when nothing
//! identifies the responder); once the probe knows who answered, [`retarget`] rewrites them.

use super::Finding;
use crate::fingerprint::Attribution;
use crate::probe::HttpResult;

/// Who answered the request, as far as the CORS fix is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responder {
    Nginx,
    Haproxy,
    Caddy,
    Envoy,
    Traefik,
}

impl Responder {
    /// From the fingerprint of the answer, else its `Server` header.
    pub fn of(http: &HttpResult) -> Option<Self> {
        if let Some(r) = from_fingerprint(&http.fingerprint) {
            return Some(r);
        }
        Self::from_headers(&http.headers)
    }

    /// From a `Server` header alone (a pasted response, without its body).
    pub fn from_headers(headers: &[(String, String)]) -> Option<Self> {
        let server = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("server"))
            .map(|(_, v)| v.to_ascii_lowercase())?;
        [
            ("nginx", Self::Nginx),
            ("haproxy", Self::Haproxy),
            ("caddy", Self::Caddy),
            ("envoy", Self::Envoy),
            ("traefik", Self::Traefik),
        ]
        .into_iter()
        .find(|(name, _)| server.starts_with(name))
        .map(|(_, r)| r)
    }
}

fn from_fingerprint(a: &Attribution) -> Option<Responder> {
    let id = a.fingerprint.as_deref()?;
    [
        ("nginx_", Responder::Nginx),
        ("haproxy_", Responder::Haproxy),
        ("caddy_", Responder::Caddy),
        ("envoy_", Responder::Envoy),
        ("traefik_", Responder::Traefik),
    ]
    .into_iter()
    .find(|(prefix, _)| id.starts_with(prefix))
    .map(|(_, r)| r)
}

/// The snippet adding `headers` to every answer (error pages included), answering
/// preflights at the edge when `answer_options`.
pub fn snippet(
    r: Responder,
    headers: &[(String, String)],
    answer_options: bool,
) -> (String, &'static str) {
    match r {
        Responder::Nginx => (nginx(headers, answer_options), "nginx"),
        Responder::Haproxy => (haproxy(headers, answer_options), "haproxy"),
        Responder::Caddy => (caddy(headers, answer_options), "caddy"),
        Responder::Envoy => (envoy(headers, answer_options), "yaml"),
        Responder::Traefik => (traefik(headers, answer_options), "yaml"),
    }
}

/// `always` matters: without it nginx adds headers only to 2xx/3xx responses, so error
/// pages reach the browser without CORS headers.
pub fn nginx(headers: &[(String, String)], answer_options: bool) -> String {
    let mut s = String::from(
        "# nginx, in the location that serves this API (`always` also covers 4xx/5xx responses)\n",
    );
    for (name, value) in headers {
        s.push_str(&format!("add_header {name} \"{value}\" always;\n"));
    }
    if answer_options {
        s.push_str(
            "# answer preflights here, before authentication or the upstream sees them\nif ($request_method = OPTIONS) {\n    return 204;\n}\n",
        );
    }
    s
}

/// `http-after-response` (HAProxy 2.2+) also reaches HAProxy's own error pages, such as
/// the 503 when no server is up; `http-response` would not.
fn haproxy(headers: &[(String, String)], answer_options: bool) -> String {
    let mut s = String::from(
        "# HAProxy 2.2+, in the frontend (or backend) that serves this API;\n# http-after-response also covers HAProxy's own error pages (the 503 when no server is up)\n",
    );
    if answer_options {
        s.push_str("# answer preflights here, before the backend sees them\nhttp-request return status 204 if METH_OPTIONS\n");
    }
    for (name, value) in headers {
        s.push_str(&format!(
            "http-after-response set-header {name} \"{value}\"\n"
        ));
    }
    s
}

/// `defer` applies the headers when the response is written, so proxied and error
/// responses get them too.
fn caddy(headers: &[(String, String)], answer_options: bool) -> String {
    let mut s = String::from("# Caddyfile, in the site block that serves this API\nheader {\n");
    for (name, value) in headers {
        s.push_str(&format!("    {name} \"{value}\"\n"));
    }
    s.push_str("    defer\n}\n");
    if answer_options {
        s.push_str("# answer preflights here, before the upstream sees them\n@preflight method OPTIONS\nrespond @preflight 204\n");
    }
    s
}

/// Route-level `response_headers_to_add` in the virtual host; Envoy's own local replies
/// (no healthy upstream, upstream connect error) need the same through `local_reply_config`.
fn envoy(headers: &[(String, String)], answer_options: bool) -> String {
    let mut s = String::from(
        "# Envoy, in the virtual_host of the route_config that serves this API\nresponse_headers_to_add:\n",
    );
    for (name, value) in headers {
        s.push_str(&format!(
            "- header: {{ key: \"{name}\", value: \"{value}\" }}\n  append_action: OVERWRITE_IF_EXISTS_OR_ADD\n"
        ));
    }
    s.push_str("# Envoy's own error replies (no healthy upstream) take the same headers from the\n# http_connection_manager's local_reply_config: mappers: - filter: {...} headers_to_add: [...]\n");
    if answer_options {
        s.push_str("# preflights: the CORS filter (envoy.filters.http.cors) answers them before the upstream\n");
    }
    s
}

/// A headers middleware, attached to the API's router.
fn traefik(headers: &[(String, String)], answer_options: bool) -> String {
    let mut s = String::from(
        "# Traefik dynamic configuration: a headers middleware, listed in the API router's middlewares\nhttp:\n  middlewares:\n    api-cors:\n      headers:\n        customResponseHeaders:\n",
    );
    for (name, value) in headers {
        s.push_str(&format!("          {name}: \"{value}\"\n"));
    }
    if answer_options {
        s.push_str("# preflights: set accessControlAllowMethods / accessControlAllowHeaders here and\n# Traefik answers OPTIONS itself\n");
    }
    s
}

/// Rewrites the nginx CORS snippet of `f` (made by the CORS diagnosis) for `r`.
pub fn retarget(f: &mut Finding, r: Responder) {
    if r == Responder::Nginx {
        return;
    }
    let Some(fix) = f.fix.as_mut() else {
        return;
    };
    let Some(text) = fix
        .snippet
        .as_deref()
        .filter(|_| fix.snippet_language.as_deref() == Some("nginx"))
    else {
        return;
    };
    let headers: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let rest = l
                .trim()
                .strip_prefix("add_header ")?
                .strip_suffix(" always;")?;
            let (name, value) = rest.split_once(' ')?;
            Some((name.to_owned(), value.trim_matches('"').to_owned()))
        })
        .collect();
    if headers.is_empty() {
        return;
    }
    let answer_options = text.contains("$request_method = OPTIONS");
    let (snippet, lang) = snippet(r, &headers, answer_options);
    fix.snippet = Some(snippet);
    fix.snippet_language = Some(lang.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::{FindingCode, Severity};

    fn headers() -> Vec<(String, String)> {
        vec![
            (
                "Access-Control-Allow-Origin".into(),
                "https://shop.example".into(),
            ),
            ("Vary".into(), "Origin".into()),
        ]
    }

    #[test]
    fn each_responder_gets_its_own_syntax() {
        let (h, _) = snippet(Responder::Haproxy, &headers(), true);
        assert!(h.contains("http-after-response set-header Access-Control-Allow-Origin \"https://shop.example\""), "{h}");
        assert!(
            h.contains("http-request return status 204 if METH_OPTIONS"),
            "{h}"
        );
        assert!(!h.contains("add_header"), "{h}");
        let (c, lang) = snippet(Responder::Caddy, &headers(), true);
        assert_eq!(lang, "caddy");
        assert!(c.contains("    Vary \"Origin\"\n    defer\n}"), "{c}");
        assert!(c.contains("respond @preflight 204"), "{c}");
        let (e, _) = snippet(Responder::Envoy, &headers(), false);
        assert!(
            e.contains("key: \"Access-Control-Allow-Origin\", value: \"https://shop.example\""),
            "{e}"
        );
        let (t, _) = snippet(Responder::Traefik, &headers(), false);
        assert!(
            t.contains("Access-Control-Allow-Origin: \"https://shop.example\""),
            "{t}"
        );
    }

    #[test]
    fn an_nginx_finding_is_rewritten_for_the_responder() {
        let mut f = Finding::new(FindingCode::CorsAcaoPresent, Severity::Critical, "s", "e")
            .with_fix(
                "Add the header",
                Some(nginx(&headers(), true)),
                Some("nginx"),
            );
        let before = f.clone();
        retarget(&mut f, Responder::Nginx);
        assert_eq!(f, before);
        retarget(&mut f, Responder::Haproxy);
        let fix = f.fix.expect("fix");
        assert_eq!(fix.snippet_language.as_deref(), Some("haproxy"));
        let (want, _) = snippet(Responder::Haproxy, &headers(), true);
        assert_eq!(fix.snippet.as_deref(), Some(want.as_str()));
    }
}
