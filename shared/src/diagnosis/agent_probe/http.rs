//! HTTP findings of an agent probe: who generated the answer (docs/incidents.md, "Proxy says
//! 503, backend says 200" and "The 404 that was not a routing error"), the status against
//! the expectation, and the body.

use crate::diagnosis::{Finding, FindingCode, Severity};
use crate::fingerprint::Generator;
use crate::probe::HttpResult;

use super::fmt_ms;

/// Whether `status` means "working": the expected one, or any 2xx/3xx when none is set.
pub fn status_ok(status: u16, expected: Option<u16>) -> bool {
    match expected {
        Some(e) => status == e,
        None => (200..400).contains(&status),
    }
}

/// The first bytes of a body, on one line, for summaries (`{"detail":"Not Found"}`).
pub fn body_excerpt(head: &str, max_chars: usize) -> String {
    let one_line: String = head
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() > max_chars {
        format!("{}…", trimmed.chars().take(max_chars).collect::<String>())
    } else {
        trimmed.to_owned()
    }
}
/// Whether the response counts as an HTTP error for the verdict.
pub fn http_is_error(http: &HttpResult, expected: Option<u16>) -> bool {
    !status_ok(http.status, expected) || http.fingerprint.generator == Generator::ProxyErrorPage
}

/// `HTTP 200 in 42 ms from 127.0.0.1:8080 (nginx)`.
pub fn http_summary(http: &HttpResult, addr: &str, expected: Option<u16>) -> String {
    let who = http
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("server"))
        .map(|(_, v)| v.clone())
        .or_else(|| {
            http.fingerprint
                .fingerprint
                .as_ref()
                .map(|_| http.fingerprint.label.clone())
        });
    let mut s = format!(
        "HTTP {} in {} from {addr}",
        http.status,
        fmt_ms(http.timing.total_ms)
    );
    if let Some(w) = who {
        s.push_str(&format!(" ({w})"));
    }
    if !http.redirects.is_empty() {
        s.push_str(&format!(
            " after {} redirect{} to {}",
            http.redirects.len(),
            if http.redirects.len() == 1 { "" } else { "s" },
            http.url
        ));
    }
    if let Some(e) = expected {
        if e != http.status {
            s.push_str(&format!(", expected {e}"));
        }
    }
    s
}

/// Why a proxy answers an error itself, told apart by who answered and the status: no
/// server up (health checks), refused or broken connections, a timeout, no route.
pub fn proxy_error_cause(fingerprint: Option<&str>, status: u16, body: &str) -> &'static str {
    let body = body.to_ascii_lowercase();
    match (fingerprint.unwrap_or_default(), status) {
        ("envoy_no_healthy_upstream", _) => {
            "Envoy holds every host of the cluster unhealthy: its active health check fails (a timeout, a refusal or a bad status) or outlier detection ejected them. The hosts may answer a direct request fine."
        }
        ("envoy_upstream_connect_error", _) if body.contains("timeout") => {
            "Envoy's connection to the upstream timed out: the backend is not listening on that address, or a firewall drops the proxy's packets."
        }
        ("envoy_upstream_connect_error", _) => {
            "Envoy could not connect to the upstream, or the connection was reset: the backend is down or listens elsewhere."
        }
        ("envoy_no_route", _) => "Envoy has no route for this host and path: its route configuration does not match the request.",
        (_, 503) if body.contains("no server is available") => {
            "HAProxy has no server up in this backend: its health checks mark every server down (the check timed out, was refused, or got a bad status), or the backend has no server configured. The servers may answer a direct request fine."
        }
        (_, 503) => "the proxy has no usable backend: it holds them down after failed health checks, or none is configured.",
        (_, 502) => "the proxy reached for the backend, but the connection was refused or reset, or the answer was not valid HTTP.",
        (_, 504) => "the backend did not answer within the proxy's timeout.",
        _ => "it could not use the backend (down, unhealthy, refusing, timing out, or no route).",
    }
}

/// Who generated the answer, its status against the expectation, and the body's size.
pub fn http_findings(http: &HttpResult, expected: Option<u16>) -> Vec<Finding> {
    let mut out = Vec::new();
    let excerpt = body_excerpt(&http.body_head, 120);
    let expectation = match expected {
        Some(e) if e != http.status => format!(" (expected {e})"),
        _ => String::new(),
    };
    let fp = &http.fingerprint;
    let body_words = if http.body_size == 0 {
        "an empty body".to_owned()
    } else if http.body_truncated {
        format!("a body of at least {} bytes `{excerpt}`", http.body_size)
    } else {
        format!("a {}-byte body `{excerpt}`", http.body_size)
    };
    match fp.generator {
        Generator::ProxyErrorPage => out.push(
            Finding::new(
                FindingCode::HttpProxyErrorPage,
                Severity::Critical,
                format!("HTTP {}{expectation} is {}, not your application", http.status, fp.label),
                format!(
                    "{}: {body_words}. The proxy answered itself, and the application was never asked: {} Browsers often report this as a CORS error, because the error page has no CORS headers.",
                    fp.evidence,
                    proxy_error_cause(fp.fingerprint.as_deref(), http.status, &http.body_head)
                ),
            )
            .with_fix(
                "Probe the backend directly (its container address and port, with the path the proxy's health check asks for) and read the proxy's log line for this request; naming the proxy's admin endpoint on the target (proxy_admin) shows which server it holds down and why.",
                None,
                None,
            ),
        ),
        Generator::FrameworkDefault if http.status >= 400 => out.push(
            Finding::new(
                FindingCode::HttpFrameworkDefault,
                Severity::Warning,
                format!("HTTP {}{expectation} with {body_words}: {}", http.status, fp.label),
                format!(
                    "{}. The request reached the application, but no handler of yours produced this answer: check the path (prefix, trailing slash, root_path behind a proxy) and the method.",
                    fp.evidence
                ),
            ),
        ),
        Generator::Application if http.status >= 400 => out.push(
            Finding::new(
                FindingCode::HttpApplicationError,
                Severity::Warning,
                format!("HTTP {}{expectation} with {body_words}, written by the application (or an upstream it passed through)", http.status),
                format!(
                    "{}{}. A handler ran and chose this status, so this is not a routing error: read the body. A framework's own \"not found\" looks different (e.g. FastAPI's is exactly 22 bytes).",
                    fp.label,
                    if fp.fingerprint.is_some() { format!(" ({})", fp.evidence) } else { String::new() }
                ),
            ),
        ),
        _ if http.status >= 400 => out.push(Finding::new(
            FindingCode::HttpErrorStatus,
            Severity::Warning,
            format!("HTTP {}{expectation} with {body_words}", http.status),
            format!("{}: nothing identifies who generated it.", fp.evidence),
        )),
        _ => {}
    }
    if http.status < 400 && !status_ok(http.status, expected) {
        out.push(Finding::new(
            FindingCode::HttpUnexpectedStatus,
            Severity::Warning,
            format!("HTTP {}{expectation}", http.status),
            format!(
                "The target answered, but not with the status configured as working. Body: {body_words}."
            ),
        ));
    }
    if http.body_truncated {
        out.push(Finding::new(
            FindingCode::HttpBodyTruncated,
            Severity::Info,
            format!("The body was cut after {} bytes", http.body_size),
            "The agent stops counting at 10 MiB or when the request timeout passes, whichever comes first.",
        ));
    }
    out
}
