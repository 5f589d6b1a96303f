//! The checks only a preflight response gets: its status, the allowed methods and headers,
//! and how long the browser caches it.

use super::divergence::acah_wildcard_authorization;
use super::request::Prepared;
use super::safelist::is_cors_safelisted_method;
use super::syntax::{is_token, trim_tab_space};
use super::types::{CorsStage, CorsVerdict, ObservedResponse};
use super::{
    quote_list, Checks, ACAH, ACAM, ACMA, CHROMIUM_MAX_AGE_CAP_SECS, DEFAULT_MAX_AGE_SECS,
    FIREFOX_MAX_AGE_CAP_SECS,
};

/// A `#token` header (methods, header names) after Fetch's "extracting header list values".
enum TokenList {
    Absent,
    /// Not a comma-separated list of tokens: the browser rejects the whole preflight.
    Invalid(String),
    Items(Vec<String>),
}

fn extract_token_list(resp: &ObservedResponse, name: &str) -> TokenList {
    let Some(raw) = resp.get(name) else {
        return TokenList::Absent;
    };
    let mut items = Vec::new();
    for item in raw.split(',').map(trim_tab_space) {
        // RFC 9110 §5.6.1: recipients accept and ignore empty list elements.
        if item.is_empty() {
            continue;
        }
        if !is_token(item) {
            return TokenList::Invalid(raw);
        }
        items.push(item.to_owned());
    }
    TokenList::Items(items)
}

pub(super) fn preflight_status_check(resp: &ObservedResponse, c: &mut Checks) -> bool {
    let stage = CorsStage::Preflight;
    let s = resp.status;
    // A preflight goes through HTTP-network-or-cache fetch, which never follows redirects:
    // a 3xx is simply not an ok status.
    let (verdict, detail) = if resp.redirected || (300..400).contains(&s) {
        let detail = format!(
            "The preflight was redirected (HTTP {s}); browsers never follow redirects for a \
             preflight. Point the page at the final URL (often http→https or a missing trailing \
             slash)."
        );
        (CorsVerdict::Fail, detail)
    } else if (200..300).contains(&s) {
        (CorsVerdict::Pass, format!("HTTP {s} is an ok status."))
    } else {
        let why = match s {
            401 | 403 => {
                "a preflight never carries cookies or Authorization, so the server must answer \
                 OPTIONS without authentication"
            }
            404 | 405 | 501 => {
                "the server does not handle OPTIONS for this path; answer it with 204 and the \
                 CORS headers"
            }
            500..=599 => "the proxy or backend failed; a browser shows this as a CORS error",
            _ => "a preflight needs a 2xx answer (e.g. 204)",
        };
        (
            CorsVerdict::Fail,
            format!("The preflight got HTTP {s}, not 200–299: {why}."),
        )
    };
    let ok = verdict == CorsVerdict::Pass;
    c.push(stage, "preflight_ok_status", verdict, detail);
    ok
}

pub(super) fn method_check(p: &Prepared, resp: &ObservedResponse, c: &mut Checks) -> bool {
    let stage = CorsStage::Preflight;
    let m = &p.method;
    let fix_with = |existing: &[String]| {
        let mut items: Vec<String> = existing
            .iter()
            .filter(|i| *i != "*" || !p.credentials)
            .filter(|i| *i != m)
            .cloned()
            .collect();
        items.push(m.clone());
        format!("{ACAM}: {}", items.join(", "))
    };
    let items = match extract_token_list(resp, ACAM) {
        TokenList::Invalid(raw) => {
            // Browsers fail the whole preflight on an unparsable list, even for GET.
            let tokens: Vec<String> = raw
                .split([',', ' ', '\t'])
                .filter(|t| is_token(t))
                .map(str::to_owned)
                .collect();
            c.push_fix(
                stage,
                "method_allowed",
                CorsVerdict::Fail,
                format!(
                    "{ACAM} is `{raw}`, not a comma-separated list of methods; browsers reject \
                     the whole preflight."
                ),
                fix_with(&tokens),
            );
            return false;
        }
        TokenList::Absent => Vec::new(),
        TokenList::Items(items) => items,
    };
    let listed = items.iter().any(|i| i == m);
    let wildcard = items.iter().any(|i| i == "*");
    let (verdict, detail) = if listed {
        (CorsVerdict::Pass, format!("`{m}` is listed in {ACAM}."))
    } else if is_cors_safelisted_method(m) {
        (
            CorsVerdict::Pass,
            format!("`{m}` is a CORS-safelisted method and needs no listing."),
        )
    } else if wildcard && !p.credentials {
        (
            CorsVerdict::Pass,
            format!("{ACAM} `*` allows any method for requests without credentials."),
        )
    } else {
        let shown = if items.is_empty() {
            format!("There is no {ACAM}")
        } else {
            format!("{ACAM} is `{}`", items.join(", "))
        };
        let hint = if let Some(other) = items.iter().find(|i| i.eq_ignore_ascii_case(m)) {
            format!(
                ": methods compare case-sensitively, and `{other}` is not `{m}` (fetch() upper-cases only DELETE, GET, HEAD, OPTIONS, POST and PUT)"
            )
        } else if wildcard {
            ": with credentials `*` is a literal method name, not a wildcard".to_owned()
        } else {
            String::new()
        };
        (
            CorsVerdict::Fail,
            format!("{shown}, which does not allow `{m}`{hint}."),
        )
    };
    let ok = verdict != CorsVerdict::Fail;
    if ok {
        c.push(stage, "method_allowed", verdict, detail);
    } else {
        c.push_fix(stage, "method_allowed", verdict, detail, fix_with(&items));
    }
    ok
}

pub(super) fn headers_check(p: &Prepared, resp: &ObservedResponse, c: &mut Checks) -> bool {
    let stage = CorsStage::Preflight;
    let fix_with = |existing: &[String], missing: &[String]| {
        let mut items: Vec<String> = existing
            .iter()
            .filter(|i| *i != "*" || !p.credentials)
            .cloned()
            .collect();
        items.extend(missing.iter().cloned());
        format!("{ACAH}: {}", items.join(", "))
    };
    let items = match extract_token_list(resp, ACAH) {
        TokenList::Invalid(raw) => {
            let tokens: Vec<String> = raw
                .split([',', ' ', '\t'])
                .filter(|t| is_token(t))
                .map(str::to_owned)
                .collect();
            let missing: Vec<String> = p
                .unsafe_names
                .iter()
                .filter(|n| !tokens.iter().any(|t| t.eq_ignore_ascii_case(n)))
                .cloned()
                .collect();
            c.push_fix(
                stage,
                "headers_allowed",
                CorsVerdict::Fail,
                format!(
                    "{ACAH} is `{raw}`, not a comma-separated list of header names; browsers \
                     reject the whole preflight."
                ),
                fix_with(&tokens, &missing),
            );
            return false;
        }
        TokenList::Absent => Vec::new(),
        TokenList::Items(items) => items,
    };
    if p.unsafe_names.is_empty() {
        c.push(
            stage,
            "headers_allowed",
            CorsVerdict::Pass,
            "The page sets only CORS-safelisted request headers, which need no listing.".to_owned(),
        );
        return true;
    }
    let wildcard = items.iter().any(|i| i == "*") && !p.credentials;
    let listed = |n: &str| items.iter().any(|i| i.eq_ignore_ascii_case(n));
    // What shipping browsers do: `*` covers every name on requests without credentials.
    let missing: Vec<String> = p
        .unsafe_names
        .iter()
        .filter(|n| !listed(n) && !wildcard)
        .cloned()
        .collect();
    // The standard also makes `Authorization` a CORS non-wildcard request-header name.
    let authorization_by_wildcard = wildcard && p.has_authorization && !listed("authorization");
    let shown = if items.is_empty() {
        format!("there is no {ACAH}")
    } else {
        format!("{ACAH} is `{}`", items.join(", "))
    };
    if missing.is_empty() && authorization_by_wildcard {
        c.standard_fails = true;
        c.push_fix(
            stage,
            "headers_allowed",
            CorsVerdict::Warn,
            format!(
                "{shown}: browsers let `*` cover `Authorization` today, the Fetch standard does not (Firefox can already be set to follow it). List `Authorization` by name."
            ),
            fix_with(&items, &["authorization".to_owned()]),
        );
        c.divergences.push(acah_wildcard_authorization());
        return true;
    }
    if missing.is_empty() {
        c.push(
            stage,
            "headers_allowed",
            CorsVerdict::Pass,
            format!(
                "Requested {} all allowed ({shown}).",
                quote_list(&p.unsafe_names)
            ),
        );
        return true;
    }
    // The fix lists Authorization by name too, so that it holds under the standard as well.
    let mut missing = missing;
    if authorization_by_wildcard {
        missing.push("authorization".to_owned());
    }
    let mut hints = Vec::new();
    if p.credentials && items.iter().any(|i| i == "*") {
        hints.push("with credentials `*` is a literal header name, not a wildcard".to_owned());
    }
    let hint = if hints.is_empty() {
        String::new()
    } else {
        format!(" ({})", hints.join("; "))
    };
    c.push_fix(
        stage,
        "headers_allowed",
        CorsVerdict::Fail,
        format!("The page sends {} but {shown}{hint}.", quote_list(&missing)),
        fix_with(&items, &missing),
    );
    false
}

pub(super) fn max_age_check(resp: &ObservedResponse, c: &mut Checks) {
    let stage = CorsStage::Preflight;
    let values: Vec<&str> = resp.values(ACMA).collect();
    let suggested = format!("{ACMA}: {CHROMIUM_MAX_AGE_CAP_SECS}");
    // `delta-seconds` allows a single header of digits only; anything else (including `-1`,
    // which some servers send to mean "no cache") makes browsers fall back to 5 s.
    let parsed = match values.as_slice() {
        [] => None,
        [v] if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Ok(v.parse::<u64>().unwrap_or(u64::MAX)))
        }
        _ => Some(Err(values.join(", "))),
    };
    match parsed {
        None => c.push(
            stage,
            "max_age",
            CorsVerdict::Pass,
            format!(
                "No {ACMA}: browsers cache this preflight for {DEFAULT_MAX_AGE_SECS} s, so nearly every request pays an extra round trip. `{suggested}` avoids that."
            ),
        ),
        Some(Err(raw)) => c.push_fix(
            stage,
            "max_age",
            CorsVerdict::Warn,
            format!(
                "{ACMA} `{raw}` is not one non-negative number of seconds; browsers ignore it and cache for {DEFAULT_MAX_AGE_SECS} s."
            ),
            suggested,
        ),
        Some(Ok(0)) => c.push(
            stage,
            "max_age",
            CorsVerdict::Pass,
            format!(
                "{ACMA}: 0 disables preflight caching: every request is preceded by a preflight."
            ),
        ),
        Some(Ok(n)) if n > CHROMIUM_MAX_AGE_CAP_SECS => c.push_fix(
            stage,
            "max_age",
            CorsVerdict::Warn,
            format!(
                "{ACMA}: {n} is capped by browsers: Chromium caches for {} s, Firefox for {} s.",
                n.min(CHROMIUM_MAX_AGE_CAP_SECS),
                n.min(FIREFOX_MAX_AGE_CAP_SECS)
            ),
            suggested,
        ),
        Some(Ok(n)) => c.push(
            stage,
            "max_age",
            CorsVerdict::Pass,
            format!("Browsers cache this preflight for {n} s."),
        ),
    }
}
