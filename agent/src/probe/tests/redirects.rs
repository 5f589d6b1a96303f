//! Redirects: every hop recorded, the hop limit, and which redirects are followed (no
//! credentials to another origin, nothing into loopback, link-local or unspecified addresses
//! unless the target is there).

use super::*;

#[tokio::test]
async fn redirects_are_followed_and_every_hop_recorded() {
    let server = start(
        None,
        Arc::new(|s: &Seen| match s.path.as_str() {
            "/a" => response(302, &[("Location", "/b")], b""),
            "/b" => response(301, &[("Location", "c?q=1")], b"moved"),
            _ => response(200, &[], b"done"),
        }),
    )
    .await;
    let base = format!("http://127.0.0.1:{}", server.port);
    let p = probe_target(&target(&format!("{base}/a")), &ctx()).await;
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);
    let http = p.http.as_ref().expect("http");
    assert_eq!(http.status, 200);
    assert_eq!(http.url, format!("{base}/c?q=1"));
    let hops: Vec<(String, u16, String)> = http
        .redirects
        .iter()
        .map(|h| (h.url.clone(), h.status, h.location.clone()))
        .collect();
    assert_eq!(
        hops,
        vec![
            (format!("{base}/a"), 302, "/b".to_owned()),
            (format!("{base}/b"), 301, "c?q=1".to_owned()),
        ]
    );
    assert!(p.summary.contains("after 2 redirects"), "{}", p.summary);
    let paths: Vec<String> = server.seen().iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, vec!["/a", "/b", "/c?q=1"]);
}

#[tokio::test]
async fn redirect_loops_stop_at_the_cap() {
    let server = start(
        None,
        Arc::new(|_: &Seen| response(302, &[("Location", "/again")], b"")),
    )
    .await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/", server.port)),
        &ctx(),
    )
    .await;
    // A chain past the cap is the target's error, not "unknown".
    assert_eq!(p.verdict, ReachVerdict::HttpError);
    assert!(
        p.summary.starts_with(
            "More than 5 redirects (the agent's limit): stopped at HTTP 302 from http://127.0.0.1:"
        ),
        "{}",
        p.summary
    );
    assert_eq!(
        p.http.as_ref().expect("http").redirects.len(),
        MAX_REDIRECTS
    );
    assert!(codes(&p).contains(&"http_redirect_limit"));
    // The first request plus five redirects: nothing more was sent.
    assert_eq!(server.seen().len(), MAX_REDIRECTS + 1);
}

#[tokio::test]
async fn redirect_to_another_scheme_is_an_error() {
    let server = start(
        None,
        fixed(302, &[("Location", "ftp://files.example/x")], ""),
    )
    .await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/", server.port)),
        &ctx(),
    )
    .await;
    assert_eq!(p.verdict, ReachVerdict::HttpError);
    assert!(
        codes(&p).contains(&"http_redirect_broken"),
        "{:?}",
        codes(&p)
    );
}

/// Configured page headers (credentials) never follow a redirect to another
/// origin; within the target's origin they still go out on every hop.
#[tokio::test]
async fn configured_headers_do_not_follow_a_redirect_to_another_origin() {
    let other = start(
        None,
        fixed(200, &[("Access-Control-Allow-Origin", "*")], "ok"),
    )
    .await;
    let to = format!("http://127.0.0.1:{}/elsewhere", other.port);
    let first = start(
        None,
        Arc::new(move |s: &Seen| match (s.method.as_str(), s.path.as_str()) {
            ("OPTIONS", _) => response(
                204,
                &[
                    ("Access-Control-Allow-Origin", "https://shop.example"),
                    ("Access-Control-Allow-Headers", "authorization, x-api-key"),
                ],
                b"",
            ),
            (_, "/a") => response(302, &[("Location", "/b")], b""),
            _ => response(302, &[("Location", to.as_str())], b""),
        }),
    )
    .await;
    let t = page_with_secrets(&format!("http://127.0.0.1:{}/a", first.port));
    let p = probe_target(&t, &ctx()).await;
    assert_eq!(
        p.http.as_ref().map(|h| h.status),
        Some(200),
        "{}",
        p.summary
    );

    // Same origin: both GETs carry the page's headers (and the preflight only names them).
    let gets: Vec<Seen> = first
        .seen()
        .into_iter()
        .filter(|s| s.method == "GET")
        .collect();
    assert_eq!(gets.len(), 2, "{gets:#?}");
    for g in &gets {
        assert_eq!(g.header("Authorization"), Some("Bearer s3cret"));
        assert_eq!(g.header("X-Api-Key"), Some("k1"));
    }
    // Another port is another origin: nothing configured reaches it, only Origin (tainted
    // to null), User-Agent and Accept.
    let seen = other.seen();
    assert!(!seen.is_empty());
    assert!(leaks(&seen).is_empty(), "{:?}", leaks(&seen));
    let get = seen.iter().find(|s| s.method == "GET").expect("GET");
    assert_eq!(get.header("Origin"), Some("null"));
    assert_eq!(get.header("Accept"), Some("*/*"));
    assert!(
        codes(&p).contains(&"redirect_headers_withheld"),
        "{:?}",
        codes(&p)
    );
}

/// Never from https to http, even to the same host and port number.
#[tokio::test]
async fn configured_headers_are_never_downgraded_from_https_to_http() {
    let plain = start(
        None,
        fixed(200, &[("Access-Control-Allow-Origin", "*")], "ok"),
    )
    .await;
    let to = format!("http://localhost:{}/plain", plain.port);
    let (acc, roots) = ca_signed(&["localhost"]);
    let secure = start(
        Some(acc),
        Arc::new(move |s: &Seen| {
            if s.method == "OPTIONS" {
                response(
                    204,
                    &[
                        ("Access-Control-Allow-Origin", "https://shop.example"),
                        ("Access-Control-Allow-Headers", "authorization, x-api-key"),
                    ],
                    b"",
                )
            } else {
                response(301, &[("Location", to.as_str())], b"")
            }
        }),
    )
    .await;
    let t = page_with_secrets(&format!("https://localhost:{}/", secure.port));
    let p = probe_with_roots(&t, &ctx(), roots).await;
    assert_eq!(
        p.http.as_ref().map(|h| h.status),
        Some(200),
        "{}",
        p.summary
    );
    let get = secure
        .seen()
        .into_iter()
        .find(|s| s.method == "GET")
        .expect("GET over https");
    assert_eq!(get.header("X-Api-Key"), Some("k1"));
    assert!(!plain.seen().is_empty());
    assert!(
        leaks(&plain.seen()).is_empty(),
        "{:?}",
        leaks(&plain.seen())
    );
}

/// The decision, for the cases loopback-only tests cannot produce.
#[test]
fn redirects_into_sensitive_addresses_are_refused_unless_the_target_is_there() {
    let ip = |s: &str| s.parse::<IpAddr>().expect("test address");
    let public = [ip("203.0.113.10")];
    let loopback = [ip("127.0.0.1"), ip("::1")];
    let table: [(&[IpAddr], &[IpAddr], Option<Sensitive>); 12] = [
        (&public, &[ip("127.0.0.1")], Some(Sensitive::Loopback)),
        (&public, &[ip("127.9.9.9")], Some(Sensitive::Loopback)),
        (&public, &[ip("::1")], Some(Sensitive::Loopback)),
        (
            &public,
            &[ip("::ffff:127.0.0.1")],
            Some(Sensitive::Loopback),
        ),
        (
            &public,
            &[ip("169.254.169.254")],
            Some(Sensitive::LinkLocal),
        ),
        (&public, &[ip("fe80::1")], Some(Sensitive::LinkLocal)),
        (&public, &[ip("0.0.0.0")], Some(Sensitive::Unspecified)),
        (&public, &[ip("::")], Some(Sensitive::Unspecified)),
        // One bad address is enough: every address would be connected to.
        (
            &public,
            &[ip("198.51.100.7"), ip("169.254.169.254")],
            Some(Sensitive::LinkLocal),
        ),
        (&public, &[ip("198.51.100.7"), ip("10.0.0.5")], None),
        // A loopback target may redirect within loopback, not onto the link.
        (&loopback, &[ip("127.0.0.2")], None),
        (
            &loopback,
            &[ip("169.254.169.254")],
            Some(Sensitive::LinkLocal),
        ),
    ];
    for (target, hop, want) in table {
        assert_eq!(
            redirect_block(target, hop).map(|(_, c)| c),
            want,
            "{target:?} → {hop:?}"
        );
    }
}

/// A loopback target redirecting to another loopback port is followed.
#[tokio::test]
async fn loopback_target_may_redirect_within_loopback() {
    let other = start(None, fixed(200, &[], "there")).await;
    let to = format!("http://localhost:{}/x", other.port);
    let first = start(
        None,
        Arc::new(move |_: &Seen| response(302, &[("Location", to.as_str())], b"")),
    )
    .await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/", first.port)),
        &ctx(),
    )
    .await;
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);
    assert_eq!(p.http.as_ref().map(|h| h.body_head.as_str()), Some("there"));
    assert!(!codes(&p).contains(&"redirect_blocked"));
}

/// End to end: a loopback target redirecting to `0.0.0.0` (another class,
/// which the kernel would deliver to this host) is not followed. Nothing is sent there: the
/// listener behind it sees no connection.
#[tokio::test]
async fn redirect_into_another_sensitive_class_is_not_followed() {
    let hidden = start(None, fixed(200, &[], "internal")).await;
    let to = format!("http://0.0.0.0:{}/admin", hidden.port);
    let first = start(
        None,
        Arc::new(move |_: &Seen| response(302, &[("Location", to.as_str())], b"")),
    )
    .await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/", first.port)),
        &ctx(),
    )
    .await;
    let http = p.http.as_ref().expect("the redirect response");
    assert_eq!(http.status, 302);
    assert_eq!(http.url, format!("http://127.0.0.1:{}/", first.port));
    // The verdict is the redirect response's: a 302 is a working answer.
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);
    assert!(p.summary.contains("was not followed"), "{}", p.summary);
    let f = p
        .findings
        .iter()
        .find(|f| f.code == "redirect_blocked")
        .expect("redirect_blocked");
    assert!(f.summary.contains("0.0.0.0"), "{}", f.summary);
    // `dns` and `tcp` describe the hop that answered.
    assert_eq!(p.dns.as_ref().map(|d| d.host.as_str()), Some("127.0.0.1"));
    assert!(hidden.seen().is_empty());
}
