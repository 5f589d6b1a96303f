//! The answers a probe reports: status, body, timing and who generated the answer, and a
//! server that accepts the connection and never answers.

use vantage_shared::diagnosis::Severity;

use super::*;

#[tokio::test]
async fn http_200_reports_status_body_timing_and_who_answered() {
    let server = start(None, fixed(200, &[("Server", "nginx/1.22.1")], "hello")).await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/health?x=1", server.port)),
        &ctx(),
    )
    .await;
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{p:#?}");
    let addr = format!("127.0.0.1:{}", server.port);
    assert!(
        p.summary.starts_with("HTTP 200 in ")
            && p.summary.ends_with(&format!("from {addr} (nginx/1.22.1)")),
        "{}",
        p.summary
    );
    let dns = p.dns.as_ref().expect("dns");
    assert_eq!(dns.resolver, "literal");
    assert_eq!(p.tcp.len(), 1);
    assert_eq!(p.tcp[0].outcome, TcpOutcome::Connected);
    let http = p.http.as_ref().expect("http");
    assert_eq!(http.status, 200);
    assert_eq!(http.body_size, 5);
    assert_eq!(http.body_head, "hello");
    assert!(!http.body_truncated);
    assert_eq!(http.url, format!("http://{addr}/health?x=1"));
    assert!(http.timing.connect_ms > 0.0 && http.timing.first_byte_ms > 0.0);
    assert!(http.timing.total_ms >= http.timing.first_byte_ms);
    assert_eq!(http.timing.tls_ms, 0.0);
    assert_eq!(http.fingerprint.generator, Generator::Application);

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/health?x=1");
    assert_eq!(seen[0].header("host"), Some(addr.as_str()));
    assert_eq!(
        seen[0].header("user-agent"),
        Some(concat!("vantage-probe/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(seen[0].header("accept"), Some("*/*"));
    // The dashboard's origin is another origin, so the request carries Origin (CORS).
    assert_eq!(seen[0].header("origin"), Some(DEFAULT_ORIGIN));
    // Not allowed for the dashboard's origin: a finding, not a verdict.
    let cors = p.cors.as_ref().expect("cors report");
    assert!(!cors.allowed);
    assert!(
        codes(&p).iter().any(|c| c.starts_with("cors_")),
        "{:?}",
        codes(&p)
    );
}

/// docs/incidents.md, "The 404 that was not a routing error": the framework's own 404 and a
/// 404 passed through from upstream.
#[tokio::test]
async fn framework_404_versus_upstream_404() {
    let server = start(
        None,
        Arc::new(|s: &Seen| {
            if s.path == "/v1/chat" {
                response(
                    404,
                    &[("content-type", "application/json")],
                    br#"{"error":"model 'llama3:70b' not found, try pulling it first"}"#,
                )
            } else {
                response(
                    404,
                    &[("content-type", "application/json")],
                    br#"{"detail":"Not Found"}"#,
                )
            }
        }),
    )
    .await;
    let mut t = target(&format!("http://127.0.0.1:{}/v1/chta", server.port));
    t.expected_status = Some(200);
    let p = probe_target(&t, &ctx()).await;
    assert_eq!(p.verdict, ReachVerdict::HttpError);
    assert!(
        p.summary.contains("HTTP 404") && p.summary.ends_with("expected 200"),
        "{}",
        p.summary
    );
    let f = p
        .findings
        .iter()
        .find(|f| f.code == "http_framework_default")
        .expect("finding");
    assert!(
        f.summary
            .contains(r#"a 22-byte body `{"detail":"Not Found"}`"#),
        "{}",
        f.summary
    );

    t.url = format!("http://127.0.0.1:{}/v1/chat", server.port);
    let p = probe_target(&t, &ctx()).await;
    assert_eq!(p.verdict, ReachVerdict::HttpError);
    let http = p.http.as_ref().expect("http");
    assert_eq!(http.body_size, 62);
    assert_eq!(
        http.fingerprint.fingerprint.as_deref(),
        Some("llm_model_not_found")
    );
    assert!(
        codes(&p).contains(&"http_application_error"),
        "{:?}",
        codes(&p)
    );

    // The same 404 is "working" when 404 is what the target expects.
    t.expected_status = Some(404);
    assert_eq!(
        probe_target(&t, &ctx()).await.verdict,
        ReachVerdict::Reachable
    );
}

/// docs/incidents.md, "Proxy says 503, backend says 200": the proxy's error page is an HTTP
/// error, and named as the proxy's.
#[tokio::test]
async fn proxy_error_page_is_attributed_to_the_proxy() {
    let server = start(
        None,
        fixed(
            503,
            &[("Server", "nginx/1.22.1"), ("Content-Type", "text/html")],
            "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n",
        ),
    )
    .await;
    let mut t = target(&format!("http://127.0.0.1:{}/api", server.port));
    t.cors_origin = Some("https://shop.example".to_owned());
    let p = probe_target(&t, &ctx()).await;
    assert_eq!(p.verdict, ReachVerdict::HttpError);
    assert_eq!(p.findings[0].severity, Severity::Critical);
    assert!(
        codes(&p).contains(&"http_proxy_error_page"),
        "{:?}",
        codes(&p)
    );
    let cors = p.cors.as_ref().expect("cors");
    assert!(cors.proxy_error_page);
    assert!(
        codes(&p).contains(&"cors_proxy_error_page"),
        "{:?}",
        codes(&p)
    );
}

/// The request-timeout path: TCP connects, HTTP never answers.
#[tokio::test]
async fn accepted_but_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s); // keep it open, say nothing
        }
    });
    let mut c = ctx();
    c.request_timeout = Duration::from_millis(500);
    let p = probe_target(&target(&format!("http://127.0.0.1:{port}/")), &c).await;
    task.abort();
    assert_eq!(p.verdict, ReachVerdict::TimedOut);
    assert_eq!(p.tcp[0].outcome, TcpOutcome::Connected);
    assert!(
        p.summary.starts_with(&format!(
            "TCP connected to 127.0.0.1:{port}, but no HTTP response within"
        )),
        "{}",
        p.summary
    );
    assert!(codes(&p).contains(&"http_no_response"));
    assert!(p.http.is_none());
}
