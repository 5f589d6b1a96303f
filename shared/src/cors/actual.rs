//! The checks only the actual response gets: redirects, `Vary: Origin` for caches, and the
//! response headers the page's script can read.

use super::request::Prepared;
use super::syntax::trim_tab_space;
use super::types::{CorsStage, CorsVerdict, ObservedResponse};
use super::{quote_list, Checks, ACAO, ACEH};

/// Response headers scripts can always read (Fetch "CORS-safelisted response-header name").
const SAFELISTED_RESPONSE_HEADERS: [&str; 7] = [
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

pub(super) fn redirect_check(resp: &ObservedResponse, c: &mut Checks) {
    if resp.redirected && resp.tainted_origin {
        c.push(
            CorsStage::Actual,
            "redirect",
            CorsVerdict::Warn,
            "The actual request was redirected to another origin, so from there on the browser sent `Origin: null` instead of the page's origin: the final server must allow `null` (or `*`), and every hop must pass the CORS check. Call the final URL directly.".to_owned(),
        );
    } else if resp.redirected {
        c.push(
            CorsStage::Actual,
            "redirect",
            CorsVerdict::Warn,
            "The actual request was redirected: every hop must pass the CORS check, and each costs a round trip. Call the final URL directly.".to_owned(),
        );
    } else {
        c.push(
            CorsStage::Actual,
            "redirect",
            CorsVerdict::Pass,
            "Not redirected.".to_owned(),
        );
    }
}

pub(super) fn vary_check(resp: &ObservedResponse, c: &mut Checks) {
    let stage = CorsStage::Actual;
    // The first value: a duplicated header is reported by acao_single_value already.
    match resp.values(ACAO).next() {
        None | Some("*") => c.push(
            stage,
            "vary_origin",
            CorsVerdict::NotApplicable,
            format!("{ACAO} does not vary per origin."),
        ),
        Some(acao) => {
            let vary: Vec<String> = resp
                .values("Vary")
                .flat_map(|v| v.split(','))
                .map(|t| trim_tab_space(t).to_owned())
                .filter(|t| !t.is_empty())
                .collect();
            if vary
                .iter()
                .any(|t| t == "*" || t.eq_ignore_ascii_case("origin"))
            {
                c.push(
                    stage,
                    "vary_origin",
                    CorsVerdict::Pass,
                    format!("Vary: {}", vary.join(", ")),
                );
            } else {
                c.push_fix(
                    stage,
                    "vary_origin",
                    CorsVerdict::Warn,
                    format!(
                        "{ACAO} echoes `{acao}` without `Vary: Origin`: a CDN or proxy cache may hand this response to a page on another origin, which then fails CORS."
                    ),
                    "Vary: Origin".to_owned(),
                );
            }
        }
    }
}

pub(super) fn expose_check(p: &Prepared, resp: &ObservedResponse, c: &mut Checks) {
    let stage = CorsStage::Actual;
    let exposed: Vec<String> = resp
        .values(ACEH)
        .flat_map(|v| v.split(','))
        .map(|t| trim_tab_space(t).to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    // `*` exposes everything only without credentials; with them it is a literal name.
    let wildcard = exposed.iter().any(|e| e == "*") && !p.credentials;
    let shown = if exposed.is_empty() {
        format!("no {ACEH}")
    } else {
        format!("{ACEH}: {}", exposed.join(", "))
    };
    if p.read_headers.is_empty() {
        c.push(
            stage,
            "expose_headers",
            CorsVerdict::NotApplicable,
            format!("The page reads no response headers beyond the safelisted ones ({shown})."),
        );
        return;
    }
    let mut never = Vec::new();
    let mut missing = Vec::new();
    for name in &p.read_headers {
        let lower = name.trim().to_ascii_lowercase();
        if lower == "set-cookie" || lower == "set-cookie2" {
            never.push(name.trim().to_owned());
        } else if !SAFELISTED_RESPONSE_HEADERS.contains(&lower.as_str())
            && !wildcard
            && !exposed.iter().any(|e| e.eq_ignore_ascii_case(&lower))
        {
            missing.push(name.trim().to_owned());
        }
    }
    if missing.is_empty() && never.is_empty() {
        c.push(
            stage,
            "expose_headers",
            CorsVerdict::Pass,
            format!(
                "The page can read {} ({shown}).",
                quote_list(&p.read_headers)
            ),
        );
        return;
    }
    let mut detail = String::new();
    if !missing.is_empty() {
        detail = format!(
            "The page reads {} but the response has {shown}: `headers.get()` returns null, with no error in the console.",
            quote_list(&missing)
        );
    }
    if !never.is_empty() {
        if !detail.is_empty() {
            detail.push(' ');
        }
        detail.push_str("Set-Cookie is never readable by scripts, whatever the headers say.");
    }
    if missing.is_empty() {
        c.push(stage, "expose_headers", CorsVerdict::Warn, detail);
    } else {
        let mut items: Vec<String> = exposed
            .iter()
            .filter(|e| *e != "*" || !p.credentials)
            .cloned()
            .collect();
        items.extend(missing);
        c.push_fix(
            stage,
            "expose_headers",
            CorsVerdict::Warn,
            detail,
            format!("{ACEH}: {}", items.join(", ")),
        );
    }
}
