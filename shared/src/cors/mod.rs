//! CORS evaluator: replays the Fetch standard's CORS checks and names the rule that blocks a page.
//!
//! The agent sends the preflight a browser would send ([`preflight_request_headers`]) and the
//! actual request with `Origin`, records both responses as [`ObservedResponse`]s, and
//! [`evaluate`] walks the same steps as <https://fetch.spec.whatwg.org/#cors-protocol>: the
//! "CORS check", the "CORS-preflight fetch" checks, and the safelists that decide whether a
//! preflight is sent at all. Each rule becomes a [`CorsCheck`] row so the dashboard can show
//! exactly which one a browser would stop at, and the header to add.
//!
//! Everything here is pure and byte-exact where the standard is: ACAO and methods compare
//! case-sensitively, header names case-insensitively. Values are trimmed of HTTP whitespace,
//! as a browser's HTTP parser does before Fetch ever sees them.
//!
//! Layout: `types` holds the request, response and report types; `origin`, `safelist` and
//! `request` the request side (what the browser sends, and whether it preflights); `check`,
//! `preflight` and `actual` the response-side rules. This file runs them in browser order;
//! the verdict in words, with the headers that fix it, is `crate::diagnosis::cors`'s finding.

mod actual;
mod check;
mod divergence;
mod no_cors;
mod origin;
mod paste;
mod preflight;
mod question;
mod request;
mod safelist;
mod syntax;
mod types;

pub use divergence::{known_divergences, ACAH_WILDCARD_AUTHORIZATION};
pub use origin::serialize_origin;
pub use paste::{parse_response, PasteError, PastedResponse, MAX_PASTE_BYTES};
pub use question::{CorsQuestion, MAX_QUESTION_HEADERS};
pub use request::{actual_request_headers, needs_preflight, preflight_request_headers};
pub use safelist::{
    cors_unsafe_request_header_names, is_cors_safelisted_method, is_cors_safelisted_request_header,
    is_forbidden_request_header, is_no_cors_safelisted_request_header, normalize_method,
};
pub use syntax::is_token;
pub use types::{
    CorsCheck, CorsDivergence, CorsReport, CorsRequest, CorsStage, CorsVerdict, Credentials,
    ObservedResponse, RequestMode,
};

use crate::diagnosis::cors::{report_finding, CorsOutcome};
use request::prepare;
use syntax::trim_tab_space;

/// The method of every CORS preflight.
pub const PREFLIGHT_METHOD: &str = "OPTIONS";
/// How long a preflight is cached when `Access-Control-Max-Age` is absent or invalid (Fetch).
pub const DEFAULT_MAX_AGE_SECS: u64 = 5;
/// Chromium's cap on `Access-Control-Max-Age` (2 hours, since Chrome 76).
pub const CHROMIUM_MAX_AGE_CAP_SECS: u64 = 7200;
/// Firefox's cap on `Access-Control-Max-Age` (24 hours).
pub const FIREFOX_MAX_AGE_CAP_SECS: u64 = 86_400;

// Response header names, shared by the rules and the finding.
pub(crate) const ACAO: &str = "Access-Control-Allow-Origin";
pub(crate) const ACAC: &str = "Access-Control-Allow-Credentials";
const ACAM: &str = "Access-Control-Allow-Methods";
const ACAH: &str = "Access-Control-Allow-Headers";
const ACMA: &str = "Access-Control-Max-Age";
const ACEH: &str = "Access-Control-Expose-Headers";

/// The rows [`evaluate`] collects, in browser order, and where the standard's verdict
/// differs from Chromium's.
struct Checks {
    rows: Vec<CorsCheck>,
    /// A rule passes (or only warns) in Chromium but fails under the Fetch standard.
    standard_fails: bool,
    divergences: Vec<CorsDivergence>,
}

impl Checks {
    fn push(&mut self, stage: CorsStage, rule: &str, verdict: CorsVerdict, detail: String) {
        self.rows.push(CorsCheck {
            stage,
            rule: rule.to_owned(),
            verdict,
            detail,
            header_to_add: None,
        });
    }

    fn push_fix(
        &mut self,
        stage: CorsStage,
        rule: &str,
        verdict: CorsVerdict,
        detail: String,
        header: String,
    ) {
        self.rows.push(CorsCheck {
            stage,
            rule: rule.to_owned(),
            verdict,
            detail,
            header_to_add: Some(header),
        });
    }
}

/// `a`, `b` for a sentence.
fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs every CORS rule a browser would apply to `req`, given the preflight and actual
/// responses the agent observed (either may be missing).
pub fn evaluate(
    req: &CorsRequest,
    preflight: Option<&ObservedResponse>,
    actual: Option<&ObservedResponse>,
) -> CorsReport {
    let p = prepare(req);
    let mut c = Checks {
        rows: Vec::new(),
        standard_fails: false,
        divergences: Vec::new(),
    };
    let mut missing = Vec::new();
    let mut proxy_status = None;

    request::request_checks(&p, &mut c);
    if p.mode == RequestMode::NoCors {
        return no_cors::evaluate(p, actual, c);
    }

    if p.preflight {
        match preflight {
            Some(resp) => {
                let status_ok = preflight::preflight_status_check(resp, &mut c);
                check::cors_check(&p, resp, CorsStage::Preflight, &mut c);
                preflight::method_check(&p, resp, &mut c);
                preflight::headers_check(&p, resp, &mut c);
                preflight::max_age_check(resp, &mut c);
                // A failing preflight status from a 5xx is the backend, whatever the headers.
                if !status_ok && resp.status >= 500 {
                    proxy_status =
                        Some((CorsStage::Preflight, resp.status, has_cors_headers(resp)));
                }
            }
            None => missing.push(CorsStage::Preflight),
        }
    }
    match actual {
        Some(resp) => {
            actual::redirect_check(resp, &mut c);
            check::cors_check(&p, resp, CorsStage::Actual, &mut c);
            actual::vary_check(resp, &mut c);
            actual::expose_check(&p, resp, &mut c);
            // An error page with no ACAO at all is the proxy's (or a crashed app's), not the
            // application's CORS configuration.
            if resp.status >= 500 && resp.get(ACAO).is_none() && proxy_status.is_none() {
                proxy_status = Some((CorsStage::Actual, resp.status, false));
            }
        }
        None => missing.push(CorsStage::Actual),
    }

    let checks = c.rows;
    let first_failure = checks.iter().position(|c| c.verdict == CorsVerdict::Fail);
    let allowed = first_failure.is_none() && missing.is_empty();
    let standard_allowed = allowed && !c.standard_fails;
    // Once the fix echoes a specific origin, caches must key on it too.
    let has_vary_origin = actual.is_some_and(|r| {
        r.values("Vary")
            .flat_map(|v| v.split(','))
            .any(|t| trim_tab_space(t).eq_ignore_ascii_case("origin"))
    });
    let finding = report_finding(&CorsOutcome {
        origin: &p.origin,
        method: &p.method,
        credentials: p.credentials,
        preflight: p.preflight,
        checks: &checks,
        first_failure,
        missing: &missing,
        proxy_status,
        has_vary_origin,
    });
    CorsReport {
        preflight_request_headers: if p.preflight {
            request::preflight_headers_of(&p)
        } else {
            Vec::new()
        },
        origin: p.origin,
        method: p.method,
        preflight_needed: p.preflight,
        checks,
        mode: p.mode,
        credentials: p.credentials_mode,
        allowed,
        standard_allowed,
        divergences: c.divergences,
        first_failure,
        missing,
        proxy_error_page: proxy_status.is_some(),
        finding,
    }
}

/// Whether a response carries any `Access-Control-Allow-*` header.
fn has_cors_headers(resp: &ObservedResponse) -> bool {
    resp.headers.iter().any(|(n, _)| {
        n.trim()
            .get(..21)
            .is_some_and(|p| p.eq_ignore_ascii_case("access-control-allow-"))
    })
}

#[cfg(test)]
mod tests;
