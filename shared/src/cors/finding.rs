//! The report's finding: the rule the browser stops at (or the proxy error page behind
//! it), explained, with the response headers that fix it as an nginx snippet.

use super::request::Prepared;
use super::types::{CorsCheck, CorsStage, CorsVerdict};
use super::{ACAC, ACAO};
use crate::diagnosis::{Finding, Severity};

/// Headers to add, one per name (the first suggestion wins), from failing and warning rows.
fn headers_to_add(checks: &[CorsCheck]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for h in checks
        .iter()
        .filter(|c| matches!(c.verdict, CorsVerdict::Fail | CorsVerdict::Warn))
        .filter_map(|c| c.header_to_add.as_deref())
    {
        if let Some((name, value)) = h.split_once(": ") {
            if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                out.push((name.to_owned(), value.to_owned()));
            }
        }
    }
    out
}

/// An nginx snippet. `always` matters: without it nginx adds headers only to 2xx/3xx
/// responses, so error pages reach the browser without CORS headers.
fn nginx_snippet(headers: &[(String, String)], answer_options: bool) -> String {
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

fn severity_of_warning(rule: &str) -> Severity {
    // A capped or invalid Max-Age only costs round trips; the others hide real breakage.
    if rule == "max_age" {
        Severity::Info
    } else {
        Severity::Warning
    }
}

pub(super) fn build_finding(
    p: &Prepared,
    checks: &[CorsCheck],
    first_failure: Option<usize>,
    missing: &[CorsStage],
    proxy_status: Option<(CorsStage, u16)>,
    has_vary_origin: bool,
) -> Finding {
    let what = format!("{} from {}", p.method, p.origin);
    let mut headers = headers_to_add(checks);
    if proxy_status.is_some() && !headers.iter().any(|(n, _)| n == ACAO) {
        headers.insert(0, (ACAO.to_owned(), p.origin.clone()));
    }
    if proxy_status.is_some() && p.credentials && !headers.iter().any(|(n, _)| n == ACAC) {
        headers.push((ACAC.to_owned(), "true".to_owned()));
    }
    if headers.iter().any(|(n, v)| n == ACAO && v != "*")
        && !has_vary_origin
        && !headers.iter().any(|(n, _)| n == "Vary")
    {
        headers.push(("Vary".to_owned(), "Origin".to_owned()));
    }

    if let Some((stage, status)) = proxy_status {
        return proxy_error_finding(&what, stage, status, &headers);
    }

    if let Some(i) = first_failure {
        let failing = &checks[i];
        let status_failed = checks.iter().any(|c| {
            c.rule == "preflight_ok_status"
                && c.verdict == CorsVerdict::Fail
                && !c.detail.starts_with("The preflight was redirected")
        });
        let mut finding = Finding::new(
            &format!("cors_{}", failing.rule),
            Severity::Critical,
            format!(
                "CORS blocks {what} at {} rule `{}`: {}",
                failing.stage, failing.rule, failing.detail
            ),
            explanation(checks),
        );
        if !headers.is_empty() || status_failed {
            finding = finding.with_fix(
                "Send these response headers (shown for nginx; a framework's CORS middleware sets the same ones).",
                Some(nginx_snippet(&headers, status_failed)),
                Some("nginx"),
            );
        } else {
            finding = finding.with_fix(failing.detail.clone(), None, None);
        }
        return finding;
    }

    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Finding::new(
            "cors_incomplete",
            Severity::Info,
            format!(
                "No CORS rule fails for {what}, but the {} response was not observed",
                names.join(" and ")
            ),
            "The verdict covers only the responses that were probed. Unsafe methods are not sent for real by the agent; their actual response still needs Access-Control-Allow-Origin.".to_owned(),
        );
    }

    if let Some(w) = checks.iter().find(|c| c.verdict == CorsVerdict::Warn) {
        let mut finding = Finding::new(
            &format!("cors_{}", w.rule),
            severity_of_warning(&w.rule),
            format!(
                "CORS allows {what}, but {} rule `{}`: {}",
                w.stage, w.rule, w.detail
            ),
            explanation(checks),
        );
        if !headers.is_empty() {
            finding = finding.with_fix(
                "Send these response headers too.",
                Some(nginx_snippet(&headers, false)),
                Some("nginx"),
            );
        }
        return finding;
    }

    Finding::new(
        "cors_allowed",
        Severity::Ok,
        format!(
            "CORS allows {what}{}",
            if p.preflight {
                " (preflight passes)"
            } else {
                " (no preflight needed)"
            }
        ),
        explanation(checks),
    )
}

/// A 5xx with no CORS headers: the browser reports a CORS error, but the proxy or backend
/// failed (docs/incidents.md, "Proxy says 503, backend says 200").
fn proxy_error_finding(
    what: &str,
    stage: CorsStage,
    status: u16,
    headers: &[(String, String)],
) -> Finding {
    // The page's developers see "CORS error" in the console; the fix is elsewhere.
    let evidence = match stage {
        CorsStage::Preflight => format!(
            "The preflight (OPTIONS) got HTTP {status}, and a preflight must be answered with 200–299."
        ),
        _ => format!("The request got HTTP {status} without {ACAO}."),
    };
    Finding::new(
        "cors_proxy_error_page",
        Severity::Critical,
        format!(
            "The browser will report a CORS error for {what}, but the real failure is HTTP {status} from the proxy/backend"
        ),
        format!(
            "{evidence} Such a response is typically a proxy's own error page (no healthy upstream, connection refused, upstream timeout), which carries no CORS headers. So the browser will report a CORS error, but the real failure is HTTP {status} from the proxy/backend; fix the backend (or make the proxy add CORS headers to error pages)."
        ),
    )
    .with_fix(
        format!(
            "Fix the backend behind the proxy (why does it answer {status}?). To see the real status in the browser, make the proxy add CORS headers to error pages too."
        ),
        Some(nginx_snippet(headers, false)),
        Some("nginx"),
    )
}

/// Every failing and warning row, in browser order.
fn explanation(checks: &[CorsCheck]) -> String {
    let lines: Vec<String> = checks
        .iter()
        .filter(|c| matches!(c.verdict, CorsVerdict::Fail | CorsVerdict::Warn))
        .map(|c| {
            let tag = if c.verdict == CorsVerdict::Fail {
                "fails"
            } else {
                "warns"
            };
            format!("{} `{}` {tag}: {}", c.stage, c.rule, c.detail)
        })
        .collect();
    if lines.is_empty() {
        "Every CORS rule a browser applies passes.".to_owned()
    } else {
        lines.join("\n")
    }
}
