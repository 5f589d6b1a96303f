//! The requests a probe sends in the page's place: the preflight exactly as a browser sends
//! it, the actual request with `Origin`, what is left out, and the browser's view across
//! redirects.

use super::*;

/// The preflight carries exactly the browser's headers; the actual request carries Origin and
/// the page's headers; both responses reach the evaluator.
#[tokio::test]
async fn preflight_is_sent_exactly_and_evaluated() {
    let server = start(
        None,
        Arc::new(|s: &Seen| {
            if s.method == "OPTIONS" {
                response(
                    204,
                    &[
                        ("Access-Control-Allow-Origin", "https://shop.example"),
                        ("Access-Control-Allow-Methods", "GET, PUT"),
                        ("Access-Control-Allow-Headers", "content-type, x-api-key"),
                        ("Access-Control-Max-Age", "600"),
                        ("Vary", "Origin"),
                    ],
                    b"",
                )
            } else {
                response(
                    200,
                    &[
                        ("Access-Control-Allow-Origin", "https://shop.example"),
                        ("Vary", "Origin"),
                    ],
                    b"[]",
                )
            }
        }),
    )
    .await;
    let mut t = target(&format!("http://127.0.0.1:{}/api/items", server.port));
    t.cors_origin = Some("https://Shop.example:443/".to_owned());
    t.cors_method = Some("put".to_owned());
    t.cors_headers = vec![
        "Content-Type: application/json".to_owned(),
        "X-Api-Key: k1".to_owned(),
    ];
    let p = probe_target(&t, &ctx()).await;
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);

    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    let pre = &seen[0];
    assert_eq!(
        (pre.method.as_str(), pre.path.as_str()),
        ("OPTIONS", "/api/items")
    );
    assert_eq!(pre.header("Origin"), Some("https://shop.example"));
    assert_eq!(pre.header("Access-Control-Request-Method"), Some("PUT"));
    assert_eq!(
        pre.header("Access-Control-Request-Headers"),
        Some("content-type,x-api-key")
    );
    assert_eq!(pre.header("Accept"), Some("*/*"));
    assert!(
        pre.header("X-Api-Key").is_none(),
        "a preflight never carries the page's headers"
    );
    // Header names go out Title-Cased, as browsers send them over HTTP/1.1.
    assert!(pre
        .headers
        .iter()
        .any(|(n, _)| n == "Access-Control-Request-Method"));

    let actual = &seen[1];
    assert_eq!(actual.method, "GET", "PUT is not sent by a probe");
    assert_eq!(actual.header("Origin"), Some("https://shop.example"));
    assert_eq!(actual.header("Content-Type"), Some("application/json"));
    assert_eq!(actual.header("X-Api-Key"), Some("k1"));

    let cors = p.cors.as_ref().expect("cors");
    assert!(cors.preflight_needed);
    assert!(cors.allowed, "{:#?}", cors.checks);
    assert!(cors.missing.is_empty());
    assert!(codes(&p).contains(&"cors_method_not_sent"));
}

#[tokio::test]
async fn preflight_rejection_surfaces_the_evaluators_rule() {
    let server = start(
        None,
        Arc::new(|s: &Seen| {
            if s.method == "OPTIONS" {
                response(405, &[], b"")
            } else {
                response(200, &[("Access-Control-Allow-Origin", "*")], b"ok")
            }
        }),
    )
    .await;
    let mut t = target(&format!("http://127.0.0.1:{}/", server.port));
    t.cors_origin = Some("https://shop.example".to_owned());
    t.cors_headers = vec!["Authorization: Bearer t".to_owned()];
    let p = probe_target(&t, &ctx()).await;
    // The server answers, but the page's origin may not read it: `cors_blocked` (still up),
    // the rule in the summary and the finding.
    assert_eq!(p.verdict, ReachVerdict::CorsBlocked);
    assert!(p.summary.contains("cannot read it"), "{}", p.summary);
    let cors = p.cors.as_ref().expect("cors");
    assert!(!cors.allowed);
    let first = &cors.checks[cors.first_failure.expect("failure")];
    assert_eq!(first.rule, "preflight_ok_status");
    assert!(
        codes(&p).contains(&cors.finding.code.as_str()),
        "{:?}",
        codes(&p)
    );
    assert_eq!(
        server.seen()[0].header("Access-Control-Request-Headers"),
        Some("authorization")
    );
}

#[tokio::test]
async fn invalid_page_headers_are_dropped_with_a_note() {
    let server = start(
        None,
        fixed(200, &[("Access-Control-Allow-Origin", "*")], "ok"),
    )
    .await;
    let mut t = target(&format!("http://127.0.0.1:{}/", server.port));
    t.cors_headers = vec![
        "X Bad Name: 1".to_owned(),
        "Accept: application/json".to_owned(),
    ];
    let p = probe_target(&t, &ctx()).await;
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);
    assert!(
        codes(&p).contains(&"cors_header_invalid"),
        "{:?}",
        codes(&p)
    );
    let seen = server.seen();
    assert!(seen[0].header("X Bad Name").is_none());
    // The page's Accept replaces the probe's default.
    assert_eq!(seen[0].header("Accept"), Some("application/json"));
    assert_eq!(
        seen[0]
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("accept"))
            .count(),
        1
    );
}

#[tokio::test]
async fn same_origin_pages_skip_cors() {
    let server = start(None, fixed(200, &[], "ok")).await;
    let mut t = target(&format!("http://127.0.0.1:{}/", server.port));
    t.cors_origin = Some(format!("http://127.0.0.1:{}", server.port));
    let p = probe_target(&t, &ctx()).await;
    assert!(p.cors.is_none());
    assert!(codes(&p).contains(&"cors_same_origin"));
    assert!(server.seen()[0].header("origin").is_none());
}

/// A redirect to another origin taints the origin (`Origin: null`), and a redirect response
/// without CORS headers is where the browser stops.
#[tokio::test]
async fn cross_origin_redirect_taints_origin_and_blocks_at_the_hop() {
    let final_server = start(
        None,
        fixed(200, &[("Access-Control-Allow-Origin", "*")], "ok"),
    )
    .await;
    let to = format!("http://localhost:{}/b", final_server.port);
    let first = start(
        None,
        Arc::new(move |_: &Seen| response(302, &[("Location", to.as_str())], b"")),
    )
    .await;
    let mut t = target(&format!("http://127.0.0.1:{}/a", first.port));
    t.cors_origin = Some("https://shop.example".to_owned());
    let p = probe_target(&t, &ctx()).await;
    assert_eq!(
        p.http.as_ref().map(|h| h.status),
        Some(200),
        "{}",
        p.summary
    );
    assert_eq!(
        first.seen()[0].header("Origin"),
        Some("https://shop.example")
    );
    assert_eq!(final_server.seen()[0].header("Origin"), Some("null"));
    let cors = p.cors.as_ref().expect("cors");
    assert!(!cors.allowed, "the 302 has no Access-Control-Allow-Origin");
    assert_eq!(
        cors.checks[cors.first_failure.expect("failure")].rule,
        "acao_present"
    );
}

/// Method-override headers that name an unsafe method are not sent, whatever
/// the page's method; the preflight still names them, as the browser's does.
#[tokio::test]
async fn method_override_headers_are_not_sent() {
    let server = start(
        None,
        Arc::new(|s: &Seen| {
            if s.method == "OPTIONS" {
                response(204, &[("Access-Control-Allow-Origin", "*")], b"")
            } else {
                response(200, &[("Access-Control-Allow-Origin", "*")], b"ok")
            }
        }),
    )
    .await;
    let overrides = [
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
    ];
    for method in ["PUT", "GET"] {
        let mut t = target(&format!("http://127.0.0.1:{}/", server.port));
        t.cors_origin = Some("https://shop.example".to_owned());
        t.cors_method = Some(method.to_owned());
        t.cors_headers = vec![
            "X-HTTP-Method-Override: DELETE".to_owned(),
            "x-http-method: PUT".to_owned(),
            "X-Method-Override: patch, GET".to_owned(),
            "X-Trace: 1".to_owned(),
        ];
        let p = probe_target(&t, &ctx()).await;
        // The test server does not allow the methods, so the page could not read it.
        assert_eq!(p.verdict, ReachVerdict::CorsBlocked, "{}", p.summary);
        assert!(
            codes(&p).contains(&"method_override_not_sent"),
            "{:?}",
            codes(&p)
        );
    }
    let seen = server.seen();
    let gets: Vec<&Seen> = seen.iter().filter(|s| s.method == "GET").collect();
    assert_eq!(gets.len(), 2, "{seen:#?}");
    for g in gets {
        for name in overrides {
            assert!(g.header(name).is_none(), "{name} was sent: {g:#?}");
        }
        assert_eq!(g.header("X-Trace"), Some("1"));
    }
    let pre = seen
        .iter()
        .find(|s| s.method == "OPTIONS")
        .expect("preflight");
    assert_eq!(
        pre.header("Access-Control-Request-Headers"),
        Some("x-http-method,x-http-method-override,x-method-override,x-trace")
    );

    // An override naming a safe method is harmless and goes out as the page sends it.
    assert!(!is_unsafe_method_override("X-HTTP-Method-Override", "get"));
    assert!(is_unsafe_method_override(
        "x-method-override",
        "GET, DELETE"
    ));
    assert!(!is_unsafe_method_override("X-Other", "DELETE"));
}

/// A request that needs a preflight is preflighted again at the redirect's
/// target, with `Origin: null` after a cross-origin redirect, and that preflight decides.
#[tokio::test]
async fn redirect_target_gets_its_own_preflight() {
    for allow in [true, false] {
        let other = start(
            None,
            Arc::new(move |s: &Seen| {
                if s.method == "OPTIONS" && !allow {
                    response(405, &[], b"")
                } else if s.method == "OPTIONS" {
                    response(
                        204,
                        &[
                            ("Access-Control-Allow-Origin", "*"),
                            ("Access-Control-Allow-Methods", "PUT"),
                            ("Access-Control-Allow-Headers", "x-api-key"),
                        ],
                        b"",
                    )
                } else {
                    response(200, &[("Access-Control-Allow-Origin", "*")], b"ok")
                }
            }),
        )
        .await;
        let to = format!("http://127.0.0.1:{}/moved", other.port);
        let first = start(
            None,
            Arc::new(move |s: &Seen| {
                let acao = ("Access-Control-Allow-Origin", "https://shop.example");
                if s.method == "OPTIONS" {
                    response(
                        204,
                        &[
                            acao,
                            ("Access-Control-Allow-Methods", "PUT"),
                            ("Access-Control-Allow-Headers", "x-api-key"),
                        ],
                        b"",
                    )
                } else {
                    response(307, &[acao, ("Location", to.as_str())], b"")
                }
            }),
        )
        .await;
        let mut t = target(&format!("http://127.0.0.1:{}/", first.port));
        t.cors_origin = Some("https://shop.example".to_owned());
        t.cors_method = Some("PUT".to_owned());
        t.cors_headers = vec!["X-Api-Key: k1".to_owned()];
        let p = probe_target(&t, &ctx()).await;
        assert_eq!(
            p.http.as_ref().map(|h| h.status),
            Some(200),
            "{}",
            p.summary
        );

        let seen = other.seen();
        let pre = seen
            .iter()
            .find(|s| s.method == "OPTIONS")
            .expect("a preflight at the redirect target");
        assert_eq!(pre.header("Origin"), Some("null"));
        assert_eq!(pre.header("Access-Control-Request-Method"), Some("PUT"));
        assert_eq!(
            pre.header("Access-Control-Request-Headers"),
            Some("x-api-key")
        );
        let cors = p.cors.as_ref().expect("cors");
        assert_eq!(cors.origin, "null");
        if allow {
            assert!(cors.allowed, "{:#?}", cors.checks);
            assert!(!codes(&p).contains(&"cors_redirect_preflight_failed"));
        } else {
            assert!(!cors.allowed);
            assert_eq!(
                cors.checks[cors.first_failure.expect("failure")].rule,
                "preflight_ok_status"
            );
            assert!(
                codes(&p).contains(&"cors_redirect_preflight_failed"),
                "{:?}",
                codes(&p)
            );
        }
    }
}

/// The browser's request changes at a redirect (Fetch "HTTP-redirect fetch"),
/// and so does whether the next hop needs a preflight.
#[test]
fn browser_rewrites_the_request_at_redirects() {
    let put = CorsRequest::new("null", "PUT")
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer t");
    let mut r = put.clone();
    browser_follows(&mut r, 303, false);
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.headers,
        vec![("Authorization".to_owned(), "Bearer t".to_owned())]
    );
    browser_follows(&mut r, 302, true);
    assert!(r.headers.is_empty());
    assert!(!cors::needs_preflight(&r), "a plain GET needs none");
    // 307 and 308 keep the method and body; 301/302 rewrite only POST.
    let mut r = put.clone();
    browser_follows(&mut r, 307, false);
    assert_eq!(r, put);
    let mut r = put.clone();
    browser_follows(&mut r, 301, false);
    assert_eq!(r.method, "PUT");
    let mut r = CorsRequest::new("null", "post").header("content-type", "text/plain");
    browser_follows(&mut r, 302, false);
    assert_eq!(r.method, "GET");
    assert!(r.headers.is_empty());
}
