//! The Fetch rules as a table of cases run through [`evaluate`], and the request-side
//! helpers (safelists, origin serialisation, preflight headers) on their own.

use super::*;
use crate::diagnosis::Severity;
use CorsStage::{Actual, Preflight, Request};
use CorsVerdict::{Fail, NotApplicable, Pass, Warn};

const SHOP: &str = "https://shop.example";

fn get() -> CorsRequest {
    CorsRequest::new(SHOP, "GET")
}

fn put() -> CorsRequest {
    CorsRequest::new(SHOP, "PUT")
}

/// An actual response that passes every rule for `SHOP`.
fn good_actual() -> ObservedResponse {
    ObservedResponse::new(200)
        .header(ACAO, SHOP)
        .header("Vary", "Origin")
}

/// A preflight response that allows PUT with x-api-key and content-type.
fn good_preflight() -> ObservedResponse {
    ObservedResponse::new(204)
        .header(ACAO, SHOP)
        .header(ACAM, "GET, PUT, PATCH")
        .header(ACAH, "content-type, x-api-key")
        .header(ACMA, "600")
}

struct Case {
    /// What is being checked, and the Fetch standard step it comes from.
    name: &'static str,
    req: CorsRequest,
    preflight: Option<ObservedResponse>,
    actual: Option<ObservedResponse>,
    stage: CorsStage,
    rule: &'static str,
    expect: CorsVerdict,
}

fn case(
    name: &'static str,
    req: CorsRequest,
    preflight: Option<ObservedResponse>,
    actual: Option<ObservedResponse>,
    (stage, rule, expect): (CorsStage, &'static str, CorsVerdict),
) -> Case {
    Case {
        name,
        req,
        preflight,
        actual,
        stage,
        rule,
        expect,
    }
}

fn cases() -> Vec<Case> {
    vec![
        // --- CORS check step 2: "If origin is null, then return failure." -------------
        case(
            "acao present",
            get(),
            None,
            Some(good_actual()),
            (Actual, "acao_present", Pass),
        ),
        case(
            "acao missing",
            get(),
            None,
            Some(ObservedResponse::new(200)),
            (Actual, "acao_present", Fail),
        ),
        // --- "get" combines repeated headers with 0x2C 0x20: never one origin ----------
        case(
            "acao single value",
            get(),
            None,
            Some(good_actual()),
            (Actual, "acao_single_value", Pass),
        ),
        case(
            "acao sent twice (proxy and app)",
            get(),
            None,
            Some(good_actual().header(ACAO, SHOP)),
            (Actual, "acao_single_value", Fail),
        ),
        case(
            "acao as a comma list",
            get(),
            None,
            Some(
                ObservedResponse::new(200)
                    .header(ACAO, "https://shop.example, https://admin.example"),
            ),
            (Actual, "acao_single_value", Fail),
        ),
        case(
            "acao as a space-separated list",
            get(),
            None,
            Some(
                ObservedResponse::new(200)
                    .header(ACAO, "https://shop.example https://admin.example"),
            ),
            (Actual, "acao_single_value", Fail),
        ),
        // --- step 3: `*` succeeds only when credentials mode is not "include" ----------
        case(
            "wildcard without credentials",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "*")),
            (Actual, "acao_matches_origin", Pass),
        ),
        case(
            "wildcard with credentials",
            get().with_credentials(),
            None,
            Some(
                ObservedResponse::new(200)
                    .header(ACAO, "*")
                    .header(ACAC, "true"),
            ),
            (Actual, "credentials_no_wildcard", Fail),
        ),
        case(
            "named origin with credentials",
            get().with_credentials(),
            None,
            Some(good_actual().header(ACAC, "true")),
            (Actual, "credentials_no_wildcard", Pass),
        ),
        // --- step 4: byte-serialised request origin must equal ACAO --------------------
        case(
            "exact origin",
            get(),
            None,
            Some(good_actual()),
            (Actual, "acao_matches_origin", Pass),
        ),
        case(
            "trailing slash",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "https://shop.example/")),
            (Actual, "acao_matches_origin", Fail),
        ),
        case(
            "uppercase host (byte compare)",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "https://Shop.example")),
            (Actual, "acao_matches_origin", Fail),
        ),
        case(
            "explicit default port",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "https://shop.example:443")),
            (Actual, "acao_matches_origin", Fail),
        ),
        case(
            "http vs https",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "http://shop.example")),
            (Actual, "acao_matches_origin", Fail),
        ),
        case(
            "non-default port must be present",
            CorsRequest::new("http://localhost:5173", "GET"),
            None,
            Some(
                ObservedResponse::new(200)
                    .header(ACAO, "http://localhost:5173")
                    .header("Vary", "Origin"),
            ),
            (Actual, "acao_matches_origin", Pass),
        ),
        case(
            "other origin",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "https://admin.example")),
            (Actual, "acao_matches_origin", Fail),
        ),
        // --- opaque origins serialise as `null` ----------------------------------------
        case(
            "null origin allowed by null (matches, but risky)",
            CorsRequest::new("null", "GET"),
            None,
            Some(
                ObservedResponse::new(200)
                    .header(ACAO, "null")
                    .header("Vary", "Origin"),
            ),
            (Actual, "acao_matches_origin", Warn),
        ),
        case(
            "null ACAO for a real origin",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "null")),
            (Actual, "acao_matches_origin", Fail),
        ),
        case(
            "null origin with wildcard, no credentials",
            CorsRequest::new("null", "GET"),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "*")),
            (Actual, "acao_matches_origin", Pass),
        ),
        // --- steps 6–7: ACAC must be exactly `true` with credentials -------------------
        case(
            "acac true",
            get().with_credentials(),
            None,
            Some(good_actual().header(ACAC, "true")),
            (Actual, "acac_true", Pass),
        ),
        case(
            "acac missing",
            get().with_credentials(),
            None,
            Some(good_actual()),
            (Actual, "acac_true", Fail),
        ),
        case(
            "acac True (case-sensitive)",
            get().with_credentials(),
            None,
            Some(good_actual().header(ACAC, "True")),
            (Actual, "acac_true", Fail),
        ),
        case(
            "acac sent twice reads as `true, true`",
            get().with_credentials(),
            None,
            Some(good_actual().header(ACAC, "true").header(ACAC, "true")),
            (Actual, "acac_true", Fail),
        ),
        case(
            "acac not needed without credentials",
            get(),
            None,
            Some(good_actual()),
            (Actual, "acac_true", NotApplicable),
        ),
        case(
            "acac on the preflight too (CORS check runs on it)",
            put().with_credentials(),
            Some(good_preflight()),
            Some(good_actual().header(ACAC, "true")),
            (Preflight, "acac_true", Fail),
        ),
        // --- CORS-preflight fetch: "response's status is an ok status" -----------------
        case(
            "preflight 204",
            put(),
            Some(good_preflight()),
            Some(good_actual()),
            (Preflight, "preflight_ok_status", Pass),
        ),
        case(
            "preflight 200",
            put(),
            Some(
                ObservedResponse::new(200)
                    .header(ACAO, SHOP)
                    .header(ACAM, "PUT"),
            ),
            None,
            (Preflight, "preflight_ok_status", Pass),
        ),
        case(
            "preflight 401 from auth middleware",
            put(),
            Some(
                ObservedResponse::new(401)
                    .header(ACAO, SHOP)
                    .header(ACAM, "PUT"),
            ),
            Some(good_actual()),
            (Preflight, "preflight_ok_status", Fail),
        ),
        case(
            "preflight 301 redirect",
            put(),
            Some(
                ObservedResponse::new(301)
                    .header(ACAO, SHOP)
                    .header(ACAM, "PUT"),
            ),
            Some(good_actual()),
            (Preflight, "preflight_ok_status", Fail),
        ),
        case(
            "preflight followed a redirect to a 204",
            put(),
            Some(good_preflight().with_redirect()),
            Some(good_actual()),
            (Preflight, "preflight_ok_status", Fail),
        ),
        // --- methods: byte-exact, `*` only without credentials -------------------------
        case(
            "PUT listed",
            put(),
            Some(good_preflight()),
            Some(good_actual()),
            (Preflight, "method_allowed", Pass),
        ),
        case(
            "PATCH vs patch (case-sensitive)",
            CorsRequest::new(SHOP, "PATCH"),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "patch"),
            ),
            Some(good_actual()),
            (Preflight, "method_allowed", Fail),
        ),
        case(
            "page writes patch, server lists PATCH (patch is not normalised)",
            CorsRequest::new(SHOP, "patch"),
            Some(good_preflight()),
            Some(good_actual()),
            (Preflight, "method_allowed", Fail),
        ),
        case(
            "page writes put: normalised to PUT",
            CorsRequest::new(SHOP, "put"),
            Some(good_preflight()),
            Some(good_actual()),
            (Preflight, "method_allowed", Pass),
        ),
        case(
            "DELETE not listed",
            CorsRequest::new(SHOP, "DELETE"),
            Some(good_preflight()),
            Some(good_actual()),
            (Preflight, "method_allowed", Fail),
        ),
        case(
            "ACAM absent",
            put(),
            Some(ObservedResponse::new(204).header(ACAO, SHOP)),
            Some(good_actual()),
            (Preflight, "method_allowed", Fail),
        ),
        case(
            "methods wildcard without credentials",
            CorsRequest::new(SHOP, "DELETE"),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "*"),
            ),
            Some(good_actual()),
            (Preflight, "method_allowed", Pass),
        ),
        case(
            "methods wildcard with credentials is literal",
            CorsRequest::new(SHOP, "DELETE").with_credentials(),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAC, "true")
                    .header(ACAM, "*"),
            ),
            Some(good_actual().header(ACAC, "true")),
            (Preflight, "method_allowed", Fail),
        ),
        case(
            "safelisted POST needs no listing (preflight for a header)",
            CorsRequest::new(SHOP, "POST").header("X-Api-Key", "k"),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "GET")
                    .header(ACAH, "x-api-key"),
            ),
            Some(good_actual()),
            (Preflight, "method_allowed", Pass),
        ),
        case(
            "unparsable ACAM fails even for GET",
            get().header("X-Api-Key", "k"),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "GET POST")
                    .header(ACAH, "x-api-key"),
            ),
            Some(good_actual()),
            (Preflight, "method_allowed", Fail),
        ),
        // --- headers: case-insensitive, `*` only without credentials, never Authorization
        case(
            "headers listed in other case",
            put().header("X-API-Key", "k"),
            Some(good_preflight().header(ACAH, "X-Api-KEY")),
            Some(good_actual()),
            (Preflight, "headers_allowed", Pass),
        ),
        case(
            "header not listed",
            put().header("X-Request-Id", "1"),
            Some(good_preflight()),
            Some(good_actual()),
            (Preflight, "headers_allowed", Fail),
        ),
        case(
            "headers wildcard without credentials",
            put().header("X-Request-Id", "1"),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "PUT")
                    .header(ACAH, "*"),
            ),
            Some(good_actual()),
            (Preflight, "headers_allowed", Pass),
        ),
        case(
            "headers wildcard with credentials is literal",
            put().header("X-Request-Id", "1").with_credentials(),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAC, "true")
                    .header(ACAM, "PUT")
                    .header(ACAH, "*"),
            ),
            Some(good_actual().header(ACAC, "true")),
            (Preflight, "headers_allowed", Fail),
        ),
        case(
            "wildcard covers Authorization in browsers, not in the standard",
            get().header("Authorization", "Bearer t"),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAH, "*"),
            ),
            Some(good_actual()),
            (Preflight, "headers_allowed", Warn),
        ),
        case(
            "wildcard with Authorization and an unlisted header under credentials",
            get().header("Authorization", "Bearer t").with_credentials(),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAC, "true")
                    .header(ACAH, "*"),
            ),
            Some(good_actual().header(ACAC, "true")),
            (Preflight, "headers_allowed", Fail),
        ),
        case(
            "Authorization listed by name next to wildcard",
            get()
                .header("Authorization", "Bearer t")
                .header("X-Trace", "1"),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAH, "*, Authorization"),
            ),
            Some(good_actual()),
            (Preflight, "headers_allowed", Pass),
        ),
        case(
            "application/json content type needs listing",
            CorsRequest::new(SHOP, "POST").header("Content-Type", "application/json"),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "POST"),
            ),
            Some(good_actual()),
            (Preflight, "headers_allowed", Fail),
        ),
        // --- Access-Control-Max-Age: delta-seconds, default 5, browser caps ------------
        case(
            "max-age 600",
            put(),
            Some(good_preflight()),
            Some(good_actual()),
            (Preflight, "max_age", Pass),
        ),
        case(
            "max-age above Chromium's cap",
            put(),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "PUT")
                    .header(ACMA, "86400"),
            ),
            Some(good_actual()),
            (Preflight, "max_age", Warn),
        ),
        case(
            "max-age -1 is not delta-seconds",
            put(),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "PUT")
                    .header(ACMA, "-1"),
            ),
            Some(good_actual()),
            (Preflight, "max_age", Warn),
        ),
        case(
            "max-age sent twice: extract header list values fails",
            put(),
            Some(
                ObservedResponse::new(204)
                    .header(ACAO, SHOP)
                    .header(ACAM, "PUT")
                    .header(ACMA, "600")
                    .header(ACMA, "600"),
            ),
            Some(good_actual()),
            (Preflight, "max_age", Warn),
        ),
        // --- Vary: Origin when ACAO depends on the origin ------------------------------
        case(
            "vary origin present",
            get(),
            None,
            Some(good_actual()),
            (Actual, "vary_origin", Pass),
        ),
        case(
            "vary origin among others, any case",
            get(),
            None,
            Some(
                ObservedResponse::new(200)
                    .header(ACAO, SHOP)
                    .header("vary", "Accept-Encoding, origin"),
            ),
            (Actual, "vary_origin", Pass),
        ),
        case(
            "echoed origin without Vary",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, SHOP)),
            (Actual, "vary_origin", Warn),
        ),
        case(
            "wildcard needs no Vary",
            get(),
            None,
            Some(ObservedResponse::new(200).header(ACAO, "*")),
            (Actual, "vary_origin", NotApplicable),
        ),
        // --- Access-Control-Expose-Headers and CORS-safelisted response-header names ---
        case(
            "exposed header readable",
            get().reading("X-Total-Count"),
            None,
            Some(good_actual().header(ACEH, "x-total-count, Link")),
            (Actual, "expose_headers", Pass),
        ),
        case(
            "safelisted response header needs no exposing",
            get().reading("Content-Type"),
            None,
            Some(good_actual()),
            (Actual, "expose_headers", Pass),
        ),
        case(
            "unexposed header reads as null",
            get().reading("X-Total-Count"),
            None,
            Some(good_actual()),
            (Actual, "expose_headers", Warn),
        ),
        case(
            "expose wildcard with credentials is literal",
            get().with_credentials().reading("X-Total-Count"),
            None,
            Some(good_actual().header(ACAC, "true").header(ACEH, "*")),
            (Actual, "expose_headers", Warn),
        ),
        case(
            "expose wildcard without credentials",
            get().reading("X-Total-Count"),
            None,
            Some(good_actual().header(ACEH, "*")),
            (Actual, "expose_headers", Pass),
        ),
        // --- the actual request may be redirected, but each hop is checked -------------
        case(
            "not redirected",
            get(),
            None,
            Some(good_actual()),
            (Actual, "redirect", Pass),
        ),
        case(
            "redirected actual request",
            get(),
            None,
            Some(good_actual().with_redirect()),
            (Actual, "redirect", Warn),
        ),
        // --- no-cors: only safelisted methods and headers, an opaque answer ------------
        case(
            "no-cors keeps a text/plain Content-Type",
            CorsRequest::new(SHOP, "POST")
                .no_cors()
                .header("Content-Type", "text/plain"),
            None,
            Some(ObservedResponse::new(200)),
            (Request, "no_cors_headers", Pass),
        ),
        case(
            "no-cors drops an API key",
            get().no_cors().header("X-Api-Key", "k"),
            None,
            Some(ObservedResponse::new(200)),
            (Request, "no_cors_headers", Warn),
        ),
        case(
            "no-cors PUT is refused before sending",
            put().no_cors(),
            None,
            None,
            (Request, "request_sendable", Fail),
        ),
        case(
            "no-cors answer is opaque",
            get().no_cors(),
            None,
            Some(ObservedResponse::new(404)),
            (Actual, "opaque_response", Pass),
        ),
        // --- request side: forbidden methods and headers -------------------------------
        case(
            "plain GET",
            get(),
            None,
            Some(good_actual()),
            (Request, "request_sendable", Pass),
        ),
        case(
            "TRACE is a forbidden method",
            CorsRequest::new(SHOP, "TRACE"),
            None,
            None,
            (Request, "request_sendable", Fail),
        ),
        case(
            "Cookie is a forbidden request header",
            get().header("Cookie", "a=b"),
            None,
            Some(good_actual()),
            (Request, "request_sendable", Warn),
        ),
    ]
}

#[test]
fn table_of_fetch_rules() {
    let mut failures = Vec::new();
    for c in cases() {
        let report = evaluate(&c.req, c.preflight.as_ref(), c.actual.as_ref());
        let found = report
            .checks
            .iter()
            .find(|k| k.stage == c.stage && k.rule == c.rule);
        match found {
            Some(k) if k.verdict == c.expect => {}
            Some(k) => failures.push(format!(
                "{}: {} {} expected {:?}, got {:?} ({})",
                c.name, c.stage, c.rule, c.expect, k.verdict, k.detail
            )),
            None => failures.push(format!("{}: no {} {} row", c.name, c.stage, c.rule)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_passing_and_a_failing_case() {
    let cases = cases();
    for rule in [
        "acao_present",
        "acao_single_value",
        "credentials_no_wildcard",
        "acao_matches_origin",
        "acac_true",
        "preflight_ok_status",
        "method_allowed",
        "headers_allowed",
        "max_age",
        "vary_origin",
        "expose_headers",
        "redirect",
        "request_sendable",
        "no_cors_headers",
    ] {
        assert!(
            cases.iter().any(|c| c.rule == rule && c.expect == Pass),
            "no passing case for {rule}"
        );
        assert!(
            cases
                .iter()
                .any(|c| c.rule == rule && matches!(c.expect, Fail | Warn)),
            "no failing case for {rule}"
        );
    }
}

/// The finding about a rule is `cors_<rule>`: every rule that fails or warns in any case has
/// its own code, and the report's finding carries it.
#[test]
fn every_failing_rule_has_a_finding_code() {
    use crate::diagnosis::cors::rule_code;
    for c in cases() {
        let report = evaluate(&c.req, c.preflight.as_ref(), c.actual.as_ref());
        for k in report
            .checks
            .iter()
            .filter(|k| matches!(k.verdict, Fail | Warn))
        {
            let code = rule_code(&k.rule);
            assert!(
                code.is_some(),
                "{}: rule {} has no finding code",
                c.name,
                k.rule
            );
            assert_eq!(
                code.map(|c| c.as_str().to_owned()),
                Some(format!("cors_{}", k.rule))
            );
        }
        if let (Some(i), false) = (report.first_failure, report.proxy_error_page) {
            assert_eq!(
                report.finding.code.as_str(),
                format!("cors_{}", report.checks[i].rule),
                "{}",
                c.name
            );
        }
    }
}

#[test]
fn safelisted_request_headers() {
    // (name, value, safelisted) from Fetch "CORS-safelisted request-header".
    let long = format!("text/plain; x={}", "a".repeat(120));
    let table: Vec<(&str, &str, bool)> = vec![
        ("Accept", "application/json", true),
        ("accept", "text/html(", false),
        ("Accept-Language", "en-US,en;q=0.9", true),
        ("Content-Language", "de-DE", true),
        ("Content-Language", "de_DE", false),
        ("Content-Type", "text/plain", true),
        ("Content-Type", "text/plain; charset=utf-8", true),
        ("content-type", "Multipart/Form-Data; boundary=x", true),
        ("Content-Type", "application/x-www-form-urlencoded", true),
        ("Content-Type", "application/json", false),
        ("Content-Type", "text/plain; charset=\"utf-8\"", false),
        ("Content-Type", &long, false),
        ("Range", "bytes=0-499", true),
        ("Range", "bytes=500-", true),
        ("Range", "bytes=-500", false),
        ("Range", "bytes=5-1", false),
        ("Range", "bytes=0-1,5-6", false),
        ("Range", "bytes = 0-1", false),
        ("X-Requested-With", "XMLHttpRequest", false),
        ("Authorization", "Bearer t", false),
    ];
    for (name, value, expect) in table {
        assert_eq!(
            is_cors_safelisted_request_header(name, value),
            expect,
            "{name}: {value}"
        );
    }
}

#[test]
fn safelisted_values_over_1024_bytes_in_total_need_a_preflight() {
    let lang = "en".repeat(60); // 120 bytes each, within the 128-byte limit
    let mut req = get();
    for _ in 0..9 {
        req = req.header("Accept-Language", lang.clone());
    }
    assert!(needs_preflight(&req));
    assert_eq!(
        preflight_request_headers(&req)
            .iter()
            .find(|(n, _)| n == "Access-Control-Request-Headers")
            .map(|(_, v)| v.as_str()),
        Some("accept-language")
    );
    assert!(!needs_preflight(&get().header("Accept-Language", lang)));
}

#[test]
fn preflight_is_sent_exactly_when_fetch_says() {
    assert!(!needs_preflight(&get()));
    assert!(!needs_preflight(&CorsRequest::new(SHOP, "head")));
    assert!(!needs_preflight(
        &CorsRequest::new(SHOP, "POST").header("Content-Type", "text/plain")
    ));
    assert!(needs_preflight(&put()));
    assert!(needs_preflight(
        &CorsRequest::new(SHOP, "POST").header("Content-Type", "application/json")
    ));
    assert!(needs_preflight(&get().header("Authorization", "Bearer t")));
    // Forbidden headers are dropped by the browser and so cannot cause a preflight.
    assert!(!needs_preflight(&get().header("Cookie", "a=b")));
    assert!(preflight_request_headers(&get()).is_empty());
}

#[test]
fn preflight_headers_are_what_chromium_sends() {
    let req = CorsRequest::new("https://Shop.example:443/", "patch")
        .header("X-Trace", "1")
        .header("Content-Type", "application/json")
        .header("authorization", "Bearer t")
        .header("Accept", "application/json");
    assert_eq!(
        preflight_request_headers(&req),
        vec![
            ("Accept".to_owned(), "*/*".to_owned()),
            ("Origin".to_owned(), "https://shop.example".to_owned()),
            (
                "Access-Control-Request-Method".to_owned(),
                "patch".to_owned()
            ),
            (
                "Access-Control-Request-Headers".to_owned(),
                "authorization,content-type,x-trace".to_owned()
            ),
        ]
    );
    assert_eq!(
        actual_request_headers(&get().header("Cookie", "x").header("X-A", " 1 ")),
        vec![
            ("Origin".to_owned(), SHOP.to_owned()),
            ("X-A".to_owned(), "1".to_owned())
        ]
    );
}

#[test]
fn origins_serialise_like_a_browser() {
    for (input, out) in [
        ("https://shop.example", "https://shop.example"),
        ("HTTPS://Shop.Example/", "https://shop.example"),
        ("https://shop.example:443/path?q", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("http://localhost:8080/", "http://localhost:8080"),
        (
            "https://user:pw@shop.example:8443",
            "https://shop.example:8443",
        ),
        ("http://[::1]:80/", "http://[::1]"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("NULL", "null"),
        // Not origins: kept as they are (trimmed), and stable on a second pass.
        ("://::", "://::"),
        ("https://shop.example /", "https://shop.example /"),
        ("shop.example", "shop.example"),
        ("http://a::", "http://a::"),
        ("http://a:b", "http://a:b"),
        ("http://[zz]:80", "http://[zz]:80"),
        ("http://host:099999", "http://host:099999"),
    ] {
        assert_eq!(serialize_origin(input), out, "{input}");
        assert_eq!(serialize_origin(out), out, "{out} is not stable");
    }
}

#[test]
fn method_normalisation() {
    assert_eq!(normalize_method("delete"), "DELETE");
    assert_eq!(normalize_method("Post"), "POST");
    assert_eq!(normalize_method("patch"), "patch");
    assert!(is_cors_safelisted_method(&normalize_method("get")));
    assert!(!is_cors_safelisted_method("PATCH"));
}

#[test]
fn header_names_match_case_insensitively_and_values_are_trimmed() {
    let resp = ObservedResponse::new(200)
        .header("access-control-allow-origin", " https://shop.example\t")
        .header("VARY", "Origin");
    let report = evaluate(&get(), None, Some(&resp));
    assert!(report.allowed, "{:#?}", report.checks);
    assert_eq!(report.finding.severity, Severity::Ok);
    assert_eq!(report.finding.code, "cors_allowed");
}

#[test]
fn proxy_error_page_is_named_as_such() {
    // docs/incidents.md, "Proxy says 503, backend says 200": the app answers OPTIONS fine,
    // but the GET hits a dead upstream and nginx returns its own 503 page without CORS
    // headers.
    let page = ObservedResponse::new(503)
        .header("Server", "nginx")
        .header("Content-Type", "text/html");
    let report = evaluate(&get(), None, Some(&page));
    assert!(!report.allowed);
    assert!(report.proxy_error_page);
    assert_eq!(report.finding.code, "cors_proxy_error_page");
    assert_eq!(report.finding.severity, Severity::Critical);
    assert!(
            report.finding.explanation.contains(
                "the browser will report a CORS error, but the real failure is HTTP 503 from the proxy/backend; fix the backend (or make the proxy add CORS headers to error pages)"
            ),
            "{}",
            report.finding.explanation
        );
    let snippet = report
        .finding
        .fix
        .and_then(|f| f.snippet)
        .unwrap_or_default();
    assert!(
        snippet.contains("add_header Access-Control-Allow-Origin \"https://shop.example\" always;"),
        "{snippet}"
    );

    // A 503 preflight fails on its status whatever its headers say.
    let report = evaluate(
        &put(),
        Some(&ObservedResponse::new(503).header(ACAO, SHOP)),
        Some(&good_actual()),
    );
    assert!(report.proxy_error_page);

    // A 503 that does carry CORS headers reaches the page as a 503: not a CORS problem.
    let report = evaluate(&get(), None, Some(&good_actual().header("X", "y")));
    assert!(!report.proxy_error_page);
    let mut ok_503 = good_actual();
    ok_503.status = 503;
    assert!(!evaluate(&get(), None, Some(&ok_503)).proxy_error_page);

    // A 404 without ACAO is an ordinary CORS failure.
    assert!(!evaluate(&get(), None, Some(&ObservedResponse::new(404))).proxy_error_page);
}

#[test]
fn finding_names_first_failure_with_values_and_fix() {
    let req = get().with_credentials();
    let resp = ObservedResponse::new(200).header(ACAO, "*");
    let report = evaluate(&req, None, Some(&resp));
    assert!(!report.allowed);
    let i = report.first_failure.expect("a failure");
    assert_eq!(report.checks[i].rule, "credentials_no_wildcard");
    assert_eq!(report.finding.code, "cors_credentials_no_wildcard");
    assert!(
        report.finding.summary.contains("`*`"),
        "{}",
        report.finding.summary
    );
    let snippet = report
        .finding
        .fix
        .and_then(|f| f.snippet)
        .unwrap_or_default();
    assert!(
        snippet.contains("add_header Access-Control-Allow-Origin \"https://shop.example\" always;")
            && snippet.contains("add_header Access-Control-Allow-Credentials \"true\" always;")
            && snippet.contains("add_header Vary \"Origin\" always;"),
        "{snippet}"
    );
}

#[test]
fn preflight_failure_comes_before_actual_and_suggests_answering_options() {
    let req = put().header("X-Api-Key", "k");
    let pre = ObservedResponse::new(401);
    let report = evaluate(&req, Some(&pre), Some(&good_actual()));
    let i = report.first_failure.expect("a failure");
    assert_eq!(
        (report.checks[i].stage, report.checks[i].rule.as_str()),
        (Preflight, "preflight_ok_status")
    );
    assert!(
        report.finding.summary.contains("HTTP 401"),
        "{}",
        report.finding.summary
    );
    let snippet = report
        .finding
        .fix
        .and_then(|f| f.snippet)
        .unwrap_or_default();
    assert!(snippet.contains("return 204;"), "{snippet}");
    assert!(
        snippet.contains("add_header Access-Control-Allow-Methods \"PUT\" always;")
            && snippet.contains("add_header Access-Control-Allow-Headers \"x-api-key\" always;"),
        "{snippet}"
    );
}

#[test]
fn header_to_add_keeps_what_is_already_allowed() {
    let req = CorsRequest::new(SHOP, "DELETE").header("X-Request-Id", "1");
    let report = evaluate(&req, Some(&good_preflight()), Some(&good_actual()));
    let fix = |rule: &str| {
        report
            .checks
            .iter()
            .find(|c| c.rule == rule)
            .and_then(|c| c.header_to_add.clone())
    };
    assert_eq!(
        fix("method_allowed").as_deref(),
        Some("Access-Control-Allow-Methods: GET, PUT, PATCH, DELETE")
    );
    assert_eq!(
        fix("headers_allowed").as_deref(),
        Some("Access-Control-Allow-Headers: content-type, x-api-key, x-request-id")
    );
}

#[test]
fn missing_responses_make_the_verdict_incomplete() {
    let report = evaluate(&put(), Some(&good_preflight()), None);
    assert!(!report.allowed);
    assert_eq!(report.first_failure, None);
    assert_eq!(report.missing, vec![Actual]);
    assert_eq!(report.finding.code, "cors_incomplete");

    let report = evaluate(&put(), None, Some(&good_actual()));
    assert_eq!(report.missing, vec![Preflight]);
}

#[test]
fn a_fully_correct_preflighted_request_is_allowed() {
    let req = put().header("Content-Type", "application/json");
    let report = evaluate(&req, Some(&good_preflight()), Some(&good_actual()));
    assert!(report.allowed, "{:#?}", report.checks);
    assert!(report.preflight_needed);
    assert_eq!(report.finding.code, "cors_allowed");
    assert_eq!(report.finding.severity, Severity::Ok);
    assert!(report.checks.iter().all(|c| c.verdict != Fail));
}

#[test]
fn warnings_only_still_allow() {
    let report = evaluate(
        &get(),
        None,
        Some(&ObservedResponse::new(200).header(ACAO, SHOP)),
    );
    assert!(report.allowed);
    assert_eq!(report.finding.code, "cors_vary_origin");
    assert_eq!(report.finding.severity, Severity::Warning);
}

#[test]
fn report_round_trips_through_json() {
    let report = evaluate(&put(), Some(&good_preflight()), Some(&good_actual()));
    let json = serde_json::to_string(&report).expect("serialise");
    let back: CorsReport = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, report);
    let req: CorsRequest =
        serde_json::from_str(r#"{"origin":"https://shop.example","method":"GET"}"#)
            .expect("defaults");
    assert_eq!(req, get());
}

mod modes;
