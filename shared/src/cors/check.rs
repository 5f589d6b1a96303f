//! Fetch's "CORS check" (`Access-Control-Allow-Origin` and `-Credentials`), which both the
//! preflight and the actual response must pass.

use super::origin::serialize_origin;
use super::request::Prepared;
use super::types::{CorsStage, CorsVerdict, ObservedResponse};
use super::{Checks, ACAC, ACAO};

/// Why `acao` is not byte-equal to `origin`, in words a person can act on.
fn origin_mismatch_hint(acao: &str, origin: &str) -> String {
    if origin == "null" {
        return "the page has an opaque origin (sandboxed iframe, file:// or data: URL), \
                which browsers send as `null`"
            .to_owned();
    }
    if acao == "null" {
        return "`null` matches only pages with an opaque origin (sandboxed iframes, \
                file://), never a real site"
            .to_owned();
    }
    if acao.trim_end_matches('/') == origin {
        return "a serialised origin has no trailing slash".to_owned();
    }
    if acao.starts_with(origin) && acao[origin.len()..].starts_with('/') {
        return "an origin is scheme, host and port only, without a path".to_owned();
    }
    if acao.eq_ignore_ascii_case(origin) {
        return "the comparison is byte-exact and browsers send the scheme and host in lowercase"
            .to_owned();
    }
    if serialize_origin(acao) == origin {
        return "browsers omit the default port (:443 for https, :80 for http) from `Origin`"
            .to_owned();
    }
    let after_scheme = |s: &str| s.split_once("://").map(|(_, r)| r.to_owned());
    if after_scheme(acao).is_some() && after_scheme(acao) == after_scheme(origin) {
        return "the scheme differs (http vs https)".to_owned();
    }
    "the server allows a different origin; add this one to its allow-list and echo it back"
        .to_owned()
}

/// Fetch's "CORS check", one row per step, so that every independent problem is reported
/// and not only the first.
pub(super) fn cors_check(p: &Prepared, resp: &ObservedResponse, stage: CorsStage, c: &mut Checks) {
    use CorsVerdict::*;
    let fix_origin = format!("{ACAO}: {}", p.origin);
    let values: Vec<&str> = resp.values(ACAO).collect();
    let combined = resp.get(ACAO);

    // Step 1–2: no header at all.
    let Some(acao) = combined else {
        c.push_fix(
            stage,
            "acao_present",
            Fail,
            format!(
                "The {stage} response (HTTP {}) has no {ACAO} header, so the browser refuses to share it with {}.",
                resp.status, p.origin
            ),
            fix_origin,
        );
        for rule in [
            "acao_single_value",
            "credentials_no_wildcard",
            "acao_matches_origin",
        ] {
            c.push(stage, rule, NotApplicable, format!("No {ACAO} to examine."));
        }
        acac_check(p, resp, stage, c);
        return;
    };
    c.push(stage, "acao_present", Pass, format!("{ACAO}: {acao}"));

    // "get" joins repeated headers with ", ", so two headers (often one from the proxy and
    // one from the app) or a list can never equal a single serialised origin.
    let single = if values.len() > 1 {
        c.push_fix(
            stage,
            "acao_single_value",
            Fail,
            format!(
                "{ACAO} is sent {} times ({}); the browser reads them as `{acao}`, which matches no origin. Usually both the proxy and the application add it: keep one.",
                values.len(),
                values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
            ),
            fix_origin.clone(),
        );
        false
    } else if acao.contains(',') || acao.contains([' ', '\t']) {
        c.push_fix(
            stage,
            "acao_single_value",
            Fail,
            format!(
                "{ACAO} is `{acao}`: it must be one origin or `*`, never a list. Keep the allow-list on the server and echo the request's origin when it is on it."
            ),
            fix_origin.clone(),
        );
        false
    } else {
        c.push(
            stage,
            "acao_single_value",
            Pass,
            format!("One value: `{acao}`."),
        );
        true
    };

    origin_checks(p, stage, &acao, single, &fix_origin, c);
    acac_check(p, resp, stage, c);
}

/// Steps 3–4 of the CORS check, for a present `Access-Control-Allow-Origin` (`single`: it
/// is one value, not a list or a repeated header): `*` and credentials, then the byte-exact
/// comparison with the page's origin.
fn origin_checks(
    p: &Prepared,
    stage: CorsStage,
    acao: &str,
    single: bool,
    fix_origin: &str,
    c: &mut Checks,
) {
    use CorsVerdict::*;
    // Step 3: `*` short-circuits only without credentials.
    if acao == "*" {
        if p.credentials {
            c.push_fix(
                stage,
                "credentials_no_wildcard",
                Fail,
                format!(
                    "{ACAO} is `*`, which browsers reject for requests with credentials; echo the origin `{}` instead.",
                    p.origin
                ),
                fix_origin.to_owned(),
            );
            c.push(
                stage,
                "acao_matches_origin",
                NotApplicable,
                "`*` with credentials: see credentials_no_wildcard.".to_owned(),
            );
        } else {
            c.push(
                stage,
                "credentials_no_wildcard",
                NotApplicable,
                "The request carries no credentials.".to_owned(),
            );
            c.push(
                stage,
                "acao_matches_origin",
                Pass,
                format!(
                    "`*` allows every origin for requests without credentials, including {}.",
                    p.origin
                ),
            );
        }
    } else {
        if p.credentials {
            c.push(
                stage,
                "credentials_no_wildcard",
                Pass,
                format!("{ACAO} names an origin (`{acao}`), not `*`."),
            );
        } else {
            c.push(
                stage,
                "credentials_no_wildcard",
                NotApplicable,
                "The request carries no credentials.".to_owned(),
            );
        }
        // Step 4: byte-for-byte comparison with the serialised request origin.
        if acao.is_empty() {
            c.push_fix(
                stage,
                "acao_matches_origin",
                Fail,
                format!(
                    "{ACAO} is present but empty: an invalid value that matches no origin (often a proxy variable that came out empty, e.g. an unmatched allow-list). Send `{}` or `*`.",
                    p.origin
                ),
                fix_origin.to_owned(),
            );
        } else if !single {
            c.push(
                stage,
                "acao_matches_origin",
                NotApplicable,
                "Not a single value: see acao_single_value.".to_owned(),
            );
        } else if acao == p.origin && acao == "null" {
            c.push_fix(
                stage,
                "acao_matches_origin",
                Warn,
                "`null` matches, but every sandboxed iframe and file:// page has the origin `null` too: this shares the response with any of them. Serve the page from a real origin and allow that one.".to_owned(),
                fix_origin.to_owned(),
            );
        } else if acao == p.origin {
            c.push(
                stage,
                "acao_matches_origin",
                Pass,
                format!("`{acao}` equals the page's origin byte for byte."),
            );
        } else {
            c.push_fix(
                stage,
                "acao_matches_origin",
                Fail,
                format!(
                    "{ACAO} is `{acao}` but the page's origin is `{}`: {}.",
                    p.origin,
                    origin_mismatch_hint(acao, &p.origin)
                ),
                fix_origin.to_owned(),
            );
        }
    }
}

/// Steps 5–8 of the CORS check: with credentials, `Access-Control-Allow-Credentials` must be
/// exactly `true` (case-sensitive, once: two headers read as `true, true`).
fn acac_check(p: &Prepared, resp: &ObservedResponse, stage: CorsStage, c: &mut Checks) {
    let fix = format!("{ACAC}: true");
    if !p.credentials {
        c.push(
            stage,
            "acac_true",
            CorsVerdict::NotApplicable,
            "The request carries no credentials.".to_owned(),
        );
        return;
    }
    match resp.get(ACAC) {
        Some(v) if v == "true" => {
            c.push(
                stage,
                "acac_true",
                CorsVerdict::Pass,
                format!("{ACAC}: true"),
            );
        }
        Some(v) => {
            c.push_fix(
                stage,
                "acac_true",
                CorsVerdict::Fail,
                format!(
                    "{ACAC} is `{v}`; with credentials it must be exactly `true` (lowercase, sent once)."
                ),
                fix,
            );
        }
        None => {
            c.push_fix(
                stage,
                "acac_true",
                CorsVerdict::Fail,
                format!(
                    "The {stage} response has no {ACAC}; a request with credentials needs `{ACAC}: true`."
                ),
                fix,
            );
        }
    }
}
