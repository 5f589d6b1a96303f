//! Request modes (`no-cors`), credentials modes, the known divergences from the standard,
//! and the wording of edge cases: an empty allowed origin, a 5xx preflight that carries
//! CORS headers, and redirects that do or do not change origin.

use super::*;

fn opaque_report(req: &CorsRequest, actual: Option<&ObservedResponse>) -> CorsReport {
    evaluate(req, None, actual)
}

#[test]
fn a_no_cors_get_is_sent_without_preflight_and_comes_back_opaque() {
    let req = get().no_cors();
    let report = opaque_report(&req, Some(&ObservedResponse::new(503)));
    assert!(report.allowed, "{:#?}", report.checks);
    assert!(report.standard_allowed);
    assert!(!report.preflight_needed);
    assert_eq!(report.mode, RequestMode::NoCors);
    assert_eq!(report.finding.code, "cors_no_cors_opaque");
    assert_eq!(report.finding.severity, Severity::Info);
    let opaque = report
        .checks
        .iter()
        .find(|c| c.rule == "opaque_response")
        .expect("opaque row");
    assert!(opaque.detail.contains("HTTP 503"), "{}", opaque.detail);
    assert!(opaque.detail.contains("status 0"), "{}", opaque.detail);
    // No CORS check applies: the response needs no Access-Control-Allow-Origin.
    assert!(!report.checks.iter().any(|c| c.rule == "acao_present"));
    // A no-cors GET carries no Origin header at all.
    assert!(actual_request_headers(&req).is_empty());
    let post = CorsRequest::new(SHOP, "POST").no_cors();
    assert_eq!(
        actual_request_headers(&post),
        vec![("Origin".to_owned(), SHOP.to_owned())]
    );
}

#[test]
fn a_no_cors_request_with_an_unsafe_method_is_never_sent() {
    for method in ["PUT", "DELETE", "PATCH", "M-SEARCH"] {
        let report = opaque_report(&CorsRequest::new(SHOP, method).no_cors(), None);
        assert!(!report.allowed, "{method}");
        assert!(
            report.missing.is_empty(),
            "{method}: nothing was to be observed"
        );
        assert_eq!(report.finding.code, "cors_request_sendable", "{method}");
        assert!(report.finding.summary.contains("never sends"), "{method}");
        assert!(report.finding.summary.contains("TypeError"), "{method}");
    }
}

#[test]
fn no_cors_drops_headers_outside_its_safelist_and_says_which() {
    let req = get()
        .no_cors()
        .header("X-Api-Key", "k")
        .header("Content-Type", "application/json")
        .header("Accept", "text/html")
        .header("Range", "bytes=0-3");
    assert_eq!(
        actual_request_headers(&req),
        vec![("Accept".to_owned(), "text/html".to_owned())]
    );
    let report = opaque_report(&req, Some(&ObservedResponse::new(200)));
    assert!(report.allowed);
    let row = report
        .checks
        .iter()
        .find(|c| c.rule == "no_cors_headers")
        .expect("headers row");
    assert_eq!(row.verdict, Warn);
    for name in ["X-Api-Key", "Content-Type", "Range"] {
        assert!(row.detail.contains(name), "{name}: {}", row.detail);
    }
    assert!(!row.detail.contains("`Accept`"), "{}", row.detail);
    assert_eq!(report.finding.code, "cors_no_cors_headers");
}

#[test]
fn no_cors_redirects_are_followed_and_stay_opaque() {
    let report = opaque_report(
        &get().no_cors(),
        Some(&ObservedResponse::new(200).with_redirect()),
    );
    assert!(report.allowed);
    let row = report
        .checks
        .iter()
        .find(|c| c.rule == "opaque_response")
        .expect("opaque row");
    assert!(
        row.detail.contains("Redirects are followed"),
        "{}",
        row.detail
    );
}

#[test]
fn credentials_modes_decide_only_include() {
    // `*` serves omit and same-origin; include needs the origin echoed and ACAC.
    let star = ObservedResponse::new(200).header(ACAO, "*");
    for (mode, allowed) in [
        (Credentials::Omit, true),
        (Credentials::SameOrigin, true),
        (Credentials::Include, false),
    ] {
        let report = evaluate(&get().credentials(mode), None, Some(&star));
        assert_eq!(report.allowed, allowed, "{mode:?}");
        assert_eq!(report.credentials, mode);
        let sendable = &report.checks[0];
        assert!(
            sendable.detail.contains(mode.as_str()),
            "{mode:?}: {}",
            sendable.detail
        );
    }
}

#[test]
fn credentials_read_as_names_and_as_the_old_booleans() {
    let read = |json: &str| -> Credentials {
        let req: CorsRequest = serde_json::from_str(&format!(
            r#"{{"origin":"https://shop.example","method":"GET","credentials":{json}}}"#
        ))
        .expect(json);
        req.credentials
    };
    assert_eq!(read(r#""omit""#), Credentials::Omit);
    assert_eq!(read(r#""same-origin""#), Credentials::SameOrigin);
    assert_eq!(read(r#""include""#), Credentials::Include);
    assert_eq!(read("true"), Credentials::Include);
    assert_eq!(read("false"), Credentials::SameOrigin);
    let err = serde_json::from_str::<CorsRequest>(
        r#"{"origin":"https://shop.example","method":"GET","credentials":"cookies"}"#,
    )
    .expect_err("unknown mode");
    assert!(err.to_string().contains("same-origin"), "{err}");
    assert_eq!(
        serde_json::to_value(Credentials::SameOrigin).expect("json"),
        "same-origin"
    );
}

#[test]
fn authorization_under_a_wildcard_reports_both_verdicts_and_a_fix_for_all() {
    let req = get().header("Authorization", "Bearer t");
    let preflight = ObservedResponse::new(204)
        .header(ACAO, SHOP)
        .header(ACAH, "*");
    let report = evaluate(&req, Some(&preflight), Some(&good_actual()));
    assert!(report.allowed, "Chromium lets `*` cover Authorization");
    assert!(!report.standard_allowed, "the Fetch standard does not");
    assert_eq!(report.divergences.len(), 1);
    let d = &report.divergences[0];
    assert_eq!(d.id, ACAH_WILDCARD_AUTHORIZATION);
    assert!(d.chromium.contains("CorsNonWildcardRequestHeadersSupport"));
    assert!(d.firefox.contains("115"));
    assert!(!d.sources.is_empty());
    let row = report
        .checks
        .iter()
        .find(|c| c.rule == "headers_allowed")
        .expect("row");
    assert_eq!(row.verdict, Warn);
    assert_eq!(
        row.header_to_add.as_deref(),
        Some("Access-Control-Allow-Headers: *, authorization")
    );
    assert_eq!(report.finding.code, "cors_headers_allowed");
    assert_eq!(report.finding.severity, Severity::Warning);
    // With the fix applied, both agree and nothing diverges.
    let fixed = ObservedResponse::new(204)
        .header(ACAO, SHOP)
        .header(ACAH, "*, Authorization");
    let report = evaluate(&req, Some(&fixed), Some(&good_actual()));
    assert!(report.allowed && report.standard_allowed);
    assert!(report.divergences.is_empty());
    // `*` without Authorization is not a divergence either.
    let other = put().header("X-Trace", "1");
    let star = ObservedResponse::new(204)
        .header(ACAO, SHOP)
        .header(ACAM, "PUT")
        .header(ACAH, "*");
    let report = evaluate(&other, Some(&star), Some(&good_actual()));
    assert!(report.allowed && report.standard_allowed && report.divergences.is_empty());
}

#[test]
fn the_divergence_table_lists_every_divergence_the_evaluator_reports() {
    let known: Vec<String> = known_divergences().into_iter().map(|d| d.id).collect();
    for c in super::cases() {
        let report = evaluate(&c.req, c.preflight.as_ref(), c.actual.as_ref());
        for d in &report.divergences {
            assert!(known.contains(&d.id), "{}: {}", c.name, d.id);
        }
        assert_eq!(
            report.allowed && !report.standard_allowed,
            !report.divergences.is_empty() && report.allowed,
            "{}",
            c.name
        );
    }
}

#[test]
fn an_empty_allowed_origin_is_an_invalid_value() {
    let report = evaluate(
        &get(),
        None,
        Some(&ObservedResponse::new(200).header(ACAO, "")),
    );
    assert!(!report.allowed);
    let row = &report.checks[report.first_failure.expect("fails")];
    assert_eq!(row.rule, "acao_matches_origin");
    assert!(row.detail.contains("empty"), "{}", row.detail);
    assert!(!row.detail.contains("different origin"), "{}", row.detail);
}

#[test]
fn a_failing_preflight_with_cors_headers_is_not_said_to_lack_them() {
    let with_cors = ObservedResponse::new(502)
        .header(ACAO, SHOP)
        .header(ACAM, "PUT");
    let report = evaluate(&put(), Some(&with_cors), None);
    assert_eq!(report.finding.code, "cors_proxy_error_page");
    assert!(
        report
            .finding
            .explanation
            .contains("does carry CORS headers"),
        "{}",
        report.finding.explanation
    );
    assert!(
        !report
            .finding
            .explanation
            .contains("carries no CORS headers"),
        "{}",
        report.finding.explanation
    );
    let bare = evaluate(&put(), Some(&ObservedResponse::new(502)), None);
    assert!(
        bare.finding.explanation.contains("without CORS headers"),
        "{}",
        bare.finding.explanation
    );
}

#[test]
fn origin_null_is_mentioned_only_when_a_redirect_changed_origin() {
    let row = |resp: ObservedResponse, origin: &str| {
        let req = CorsRequest::new(origin, "GET");
        evaluate(&req, None, Some(&resp))
            .checks
            .into_iter()
            .find(|c| c.rule == "redirect")
            .expect("redirect row")
    };
    let same = row(good_actual().with_redirect(), SHOP);
    assert_eq!(same.verdict, Warn);
    assert!(!same.detail.contains("null"), "{}", same.detail);
    let mut crossed = ObservedResponse::new(200)
        .header(ACAO, "null")
        .with_redirect();
    crossed.tainted_origin = true;
    let crossed = row(crossed, "null");
    assert!(
        crossed.detail.contains("Origin: null"),
        "{}",
        crossed.detail
    );
}

#[test]
fn docs_list_every_known_divergence() {
    let doc = include_str!("../../../../docs/cors.md");
    for d in known_divergences() {
        assert!(
            doc.contains(&format!("| `{}` |", d.id)),
            "docs/cors.md has no row for {}",
            d.id
        );
        for source in &d.sources[1..] {
            assert!(
                doc.contains(source.as_str()),
                "docs/cors.md does not cite {source}"
            );
        }
    }
}
