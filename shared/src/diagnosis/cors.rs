//! The CORS report's finding: the rule the browser stops at (or the proxy error page behind
//! it), explained, with the response headers that fix it as an nginx snippet. The rules
//! themselves are evaluated in `crate::cors`, which hands its outcome here.

use crate::cors::{CorsCheck, CorsStage, CorsVerdict, ACAC, ACAO};
use crate::diagnosis::{Finding, FindingCode, Severity};

/// What [`crate::cors::evaluate`] established, as far as the finding needs it.
pub(crate) struct CorsOutcome<'a> {
    /// The page's serialised origin.
    pub(crate) origin: &'a str,
    /// The page's method, normalised.
    pub(crate) method: &'a str,
    pub(crate) credentials: bool,
    /// Whether the browser sends a preflight.
    pub(crate) preflight: bool,
    /// Every rule's row, in browser order.
    pub(crate) checks: &'a [CorsCheck],
    /// Index in `checks` of the rule the browser stops at.
    pub(crate) first_failure: Option<usize>,
    /// Responses the browser needs that were not observed.
    pub(crate) missing: &'a [CorsStage],
    /// The 5xx (and where it came) that the browser will call a CORS error.
    /// The 5xx, where it came, and whether that response carried CORS headers.
    pub(crate) proxy_status: Option<(CorsStage, u16, bool)>,
    /// The actual response already says `Vary: Origin`.
    pub(crate) has_vary_origin: bool,
}

/// The code of a finding about CORS rule `rule` (a [`CorsCheck::rule`]) that fails or warns;
/// `None` for a rule that never does (`preflight_needed`) or a name the evaluator does not
/// use. A test walks every case of the evaluator's tests to keep this complete.
pub(crate) fn rule_code(rule: &str) -> Option<FindingCode> {
    Some(match rule {
        "request_sendable" => FindingCode::CorsRequestSendable,
        "preflight_ok_status" => FindingCode::CorsPreflightOkStatus,
        "acao_present" => FindingCode::CorsAcaoPresent,
        "acao_single_value" => FindingCode::CorsAcaoSingleValue,
        "credentials_no_wildcard" => FindingCode::CorsCredentialsNoWildcard,
        "acao_matches_origin" => FindingCode::CorsAcaoMatchesOrigin,
        "acac_true" => FindingCode::CorsAcacTrue,
        "method_allowed" => FindingCode::CorsMethodAllowed,
        "headers_allowed" => FindingCode::CorsHeadersAllowed,
        "max_age" => FindingCode::CorsMaxAge,
        "redirect" => FindingCode::CorsRedirect,
        "vary_origin" => FindingCode::CorsVaryOrigin,
        "expose_headers" => FindingCode::CorsExposeHeaders,
        "no_cors_headers" => FindingCode::CorsNoCorsHeaders,
        _ => return None,
    })
}

/// [`rule_code`] for a row that fails or warns. Every such rule has a code (tested); the
/// fallback only keeps a future rule without one from breaking the report.
fn code_of(check: &CorsCheck) -> FindingCode {
    rule_code(&check.rule).unwrap_or(FindingCode::CorsIncomplete)
}

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

/// The nginx snippet; [`super::cors_snippet::retarget`] rewrites it for another responder.
fn nginx_snippet(headers: &[(String, String)], answer_options: bool) -> String {
    super::cors_snippet::nginx(headers, answer_options)
}

fn severity_of_warning(rule: &str) -> Severity {
    // A capped or invalid Max-Age only costs round trips; the others hide real breakage.
    if rule == "max_age" {
        Severity::Info
    } else {
        Severity::Warning
    }
}

/// The report's finding: the proxy error page, else the first failing rule, else what was not
/// observed, else the first warning, else "allowed".
pub(crate) fn report_finding(o: &CorsOutcome<'_>) -> Finding {
    let CorsOutcome {
        checks,
        first_failure,
        missing,
        proxy_status,
        has_vary_origin,
        ..
    } = *o;
    let what = format!("{} from {}", o.method, o.origin);
    let mut headers = headers_to_add(checks);
    if proxy_status.is_some() && !headers.iter().any(|(n, _)| n == ACAO) {
        headers.insert(0, (ACAO.to_owned(), o.origin.to_owned()));
    }
    if proxy_status.is_some() && o.credentials && !headers.iter().any(|(n, _)| n == ACAC) {
        headers.push((ACAC.to_owned(), "true".to_owned()));
    }
    if headers.iter().any(|(n, v)| n == ACAO && v != "*")
        && !has_vary_origin
        && !headers.iter().any(|(n, _)| n == "Vary")
    {
        headers.push(("Vary".to_owned(), "Origin".to_owned()));
    }

    if let Some((stage, status, with_cors)) = proxy_status {
        return proxy_error_finding(&what, stage, status, with_cors, &headers);
    }

    if let Some(i) = first_failure {
        let failing = &checks[i];
        let status_failed = checks.iter().any(|c| {
            c.rule == "preflight_ok_status"
                && c.verdict == CorsVerdict::Fail
                && !c.detail.starts_with("The preflight was redirected")
        });
        let mut finding = Finding::new(
            code_of(failing),
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
            FindingCode::CorsIncomplete,
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
            code_of(w),
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
        FindingCode::CorsAllowed,
        Severity::Ok,
        format!(
            "CORS allows {what}{}",
            if o.preflight {
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
    with_cors: bool,
    headers: &[(String, String)],
) -> Finding {
    // The page's developers see "CORS error" in the console; the fix is elsewhere.
    let explanation = match (stage, with_cors) {
        (CorsStage::Preflight, true) => format!(
            "The preflight (OPTIONS) got HTTP {status}. It does carry CORS headers, but a preflight must be answered with 200–299 whatever its headers say, so the browser reports a CORS error. The real failure is HTTP {status} from the proxy/backend: answer OPTIONS with 204 before it reaches the failing part, and fix the backend."
        ),
        (CorsStage::Preflight, false) => format!(
            "The preflight (OPTIONS) got HTTP {status}, without CORS headers, and a preflight must be answered with 200–299. Such a response is typically a proxy's own error page (no healthy upstream, connection refused, upstream timeout). So the browser will report a CORS error, but the real failure is HTTP {status} from the proxy/backend; fix the backend (or make the proxy add CORS headers to error pages)."
        ),
        _ => format!(
            "The request got HTTP {status} without {ACAO}. Such a response is typically a proxy's own error page (no healthy upstream, connection refused, upstream timeout), which carries no CORS headers. So the browser will report a CORS error, but the real failure is HTTP {status} from the proxy/backend; fix the backend (or make the proxy add CORS headers to error pages)."
        ),
    };
    Finding::new(
        FindingCode::CorsProxyErrorPage,
        Severity::Critical,
        format!(
            "The browser will report a CORS error for {what}, but the real failure is HTTP {status} from the proxy/backend"
        ),
        explanation,
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

/// The finding of a `no-cors` request: refused before sending, sent with headers dropped,
/// or sent with an opaque answer. There is nothing to fix on the server: to read the
/// response the page must use `cors` mode.
pub(crate) fn no_cors_finding(
    method: &str,
    origin: &str,
    checks: &[CorsCheck],
    first_failure: Option<usize>,
    missing: &[CorsStage],
) -> Finding {
    let what = format!("no-cors {method} from {origin}");
    let read_it = format!(
        "To read the response, the page must use mode `cors`, and the server must allow the origin: `{ACAO}: {origin}`."
    );
    if let Some(i) = first_failure {
        let failing = &checks[i];
        return Finding::new(
            code_of(failing),
            Severity::Critical,
            format!("The browser never sends {what}: {}", failing.detail),
            explanation(checks),
        )
        .with_fix(
            format!("Use GET, HEAD or POST for a no-cors request, or mode `cors`. {read_it}"),
            None,
            None,
        );
    }
    if !missing.is_empty() {
        return Finding::new(
            FindingCode::CorsIncomplete,
            Severity::Info,
            format!("The browser sends {what}, but its response was not observed"),
            read_it,
        );
    }
    if let Some(w) = checks.iter().find(|c| c.verdict == CorsVerdict::Warn) {
        return Finding::new(
            code_of(w),
            Severity::Warning,
            format!("The browser sends {what}, but {}", w.detail),
            format!("{}\n{read_it}", explanation(checks)),
        );
    }
    Finding::new(
        FindingCode::CorsNoCorsOpaque,
        Severity::Info,
        format!(
            "The browser sends {what}; the page gets an opaque response (status 0, no headers, no body)"
        ),
        format!(
            "A no-cors request needs no CORS headers and never fails CORS, but the page cannot read the answer, not even its status. {read_it}"
        ),
    )
}
