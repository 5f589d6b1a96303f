//! `no-cors` requests: what `<img>`, `<script>` and `fetch(url, { mode: "no-cors" })` send.
//! No CORS check applies; what matters is whether the browser sends the request at all and
//! that the page gets an opaque response back.

use super::request::Prepared;
use super::types::{CorsReport, CorsStage, CorsVerdict, ObservedResponse};
use super::Checks;
use crate::diagnosis::cors::no_cors_finding;

/// The report for a `no-cors` request, whose request rows `c` already holds.
pub(super) fn evaluate(
    p: Prepared,
    actual: Option<&ObservedResponse>,
    mut c: Checks,
) -> CorsReport {
    let sendable = !c
        .rows
        .iter()
        .any(|r| r.rule == "request_sendable" && r.verdict == CorsVerdict::Fail);
    let mut missing = Vec::new();
    match actual {
        Some(resp) if sendable => opaque_check(resp, &mut c),
        Some(_) => {}
        None if sendable => missing.push(CorsStage::Actual),
        None => {}
    }
    let first_failure = c.rows.iter().position(|r| r.verdict == CorsVerdict::Fail);
    let allowed = first_failure.is_none() && missing.is_empty();
    let finding = no_cors_finding(&p.method, &p.origin, &c.rows, first_failure, &missing);
    CorsReport {
        origin: p.origin,
        method: p.method,
        preflight_needed: false,
        preflight_request_headers: Vec::new(),
        checks: c.rows,
        mode: p.mode,
        credentials: p.credentials_mode,
        allowed,
        standard_allowed: allowed,
        divergences: Vec::new(),
        first_failure,
        missing,
        proxy_error_page: false,
        finding,
    }
}

/// What the page gets: an opaque filtered response, whatever the server answered.
fn opaque_check(resp: &ObservedResponse, c: &mut Checks) {
    let mut detail = format!(
        "The server answered HTTP {}, but the page gets an opaque response: type `opaque`, \
         status 0, no headers and an empty body. It can tell only that an answer came \
         (fetch resolves) or not (fetch rejects with a TypeError); an HTTP error status \
         looks the same as 200.",
        resp.status
    );
    if resp.redirected {
        detail.push_str(
            " Redirects are followed, to other origins too, and the result stays opaque \
             (`response.redirected` reads false).",
        );
    }
    c.push(
        CorsStage::Actual,
        "opaque_response",
        CorsVerdict::Pass,
        detail,
    );
}
