//! TCP per address and TLS: refusals, silent drops, both address families, and
//! certificates that fail in each of their ways.

use super::*;

#[tokio::test]
async fn refused_port_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let p = probe_target(&target(&format!("http://127.0.0.1:{port}/")), &ctx()).await;
    assert_eq!(p.verdict, ReachVerdict::Refused);
    assert_eq!(
        p.summary,
        format!("TCP connect to 127.0.0.1:{port} refused (nothing listens on that port, or a firewall rejects)")
    );
    assert_eq!(p.findings[0].code, "tcp_refused");
    assert!(p.http.is_none() && p.cors.is_none());
}

/// A real connect timeout on loopback: a listener whose accept queue is full drops new SYNs,
/// exactly what a firewall that drops packets looks like from the client.
#[tokio::test]
async fn full_backlog_times_out_like_a_dropping_firewall() {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let _listener = socket.listen(0).expect("listen");
    // Fill the queue (never accepted) until a connect goes unanswered.
    let mut held = Vec::new();
    let mut dropping = false;
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(("127.0.0.1", port)),
        )
        .await
        {
            Ok(Ok(s)) => held.push(s),
            Ok(Err(_)) => break,
            Err(_) => {
                dropping = true;
                break;
            }
        }
    }
    if !dropping {
        eprintln!("this kernel does not drop SYNs on a full backlog; skipping");
        return;
    }
    let mut c = ctx();
    c.connect_timeout = Duration::from_millis(500);
    let p = probe_target(&target(&format!("http://127.0.0.1:{port}/")), &c).await;
    assert_eq!(p.verdict, ReachVerdict::TimedOut);
    assert_eq!(p.tcp[0].outcome, TcpOutcome::TimedOut);
    assert_eq!(
        p.summary,
        format!(
            "TCP connect to 127.0.0.1:{port} timed out after 0.5 s (no answer: a firewall dropping packets?)"
        )
    );
    assert_eq!(p.findings[0].code, "tcp_timed_out");
}

#[tokio::test]
async fn tcp_only_targets_stop_after_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let p = probe_target(&target(&format!("127.0.0.1:{port}")), &ctx()).await;
    drop(listener);
    assert_eq!(p.verdict, ReachVerdict::Reachable);
    assert!(
        p.summary
            .starts_with(&format!("TCP connect to 127.0.0.1:{port} in ")),
        "{}",
        p.summary
    );
    assert!(p.http.is_none() && p.tls.is_none() && p.cors.is_none());
}

#[tokio::test]
async fn invalid_urls_are_reported_not_probed() {
    let p = probe_target(&target("ftp://example.com/x"), &ctx()).await;
    assert_eq!(p.verdict, ReachVerdict::Unknown);
    assert!(
        p.summary.starts_with("Not probed: the URL is not valid"),
        "{}",
        p.summary
    );
    assert_eq!(codes(&p), vec!["target_invalid"]);
    assert!(p.dns.is_none());
}

/// `localhost` comes from /etc/hosts (or the RFC 6761 rule); every address it gives is
/// connected separately, in both families when the host has IPv6 loopback.
#[tokio::test]
async fn localhost_connects_per_address_family() {
    let v4 = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = v4.local_addr().expect("addr").port();
    // IPv6 may be absent (or the port taken on ::1): then ::1, if resolved, is refused.
    let v6 = TcpListener::bind(("::1", port)).await.ok();
    let have_v6 = v6.is_some();
    let _s4 = start_on(v4, None, fixed(200, &[], "ok"));
    let _s6 = v6.map(|l| start_on(l, None, fixed(200, &[], "ok")));

    let p = probe_target(&target(&format!("http://localhost:{port}/")), &ctx()).await;
    let dns = p.dns.as_ref().expect("dns");
    assert!(
        dns.resolver == dns::HOSTS_FILE || dns.resolver.starts_with("built-in"),
        "{}",
        dns.resolver
    );
    assert_eq!(p.tcp.len(), dns.answers.len());
    for (attempt, answer) in p.tcp.iter().zip(&dns.answers) {
        assert_eq!(attempt.family, answer.family);
        let expect_up = answer.family == AddressFamily::Ipv4 || have_v6;
        assert_eq!(
            attempt.outcome == TcpOutcome::Connected,
            expect_up,
            "{attempt:?}"
        );
    }
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);
    let resolved_v6 = dns.answers.iter().any(|a| a.family == AddressFamily::Ipv6);
    assert_eq!(
        codes(&p).contains(&"address_family_split"),
        resolved_v6 && !have_v6,
        "{:?}",
        codes(&p)
    );
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn self_signed_certificate_fails_verification_but_is_reported() {
    let server = start(Some(self_signed(&["localhost"])), fixed(200, &[], "secret")).await;
    let p = probe_target(
        &target(&format!("https://localhost:{}/", server.port)),
        &ctx(),
    )
    .await;
    assert_eq!(p.verdict, ReachVerdict::TlsFailed, "{}", p.summary);
    let tls = p.tls.as_ref().expect("tls");
    assert!(!tls.ok);
    assert_eq!(tls.sni, "localhost");
    assert_eq!(tls.sans, vec!["localhost".to_owned()]);
    assert!(
        tls.subject.is_some() && tls.subject == tls.issuer,
        "{tls:?}"
    );
    assert!(tls.not_before.is_some() && tls.not_after.is_some());
    assert!(!tls.sni_mismatch);
    assert_eq!(tls.protocol.as_deref(), Some("TLSv1.3"));
    let error = tls.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("self-signed certificate"), "{error}");
    assert!(
        p.summary.starts_with("TLS to localhost (127.0.0.1:"),
        "{}",
        p.summary
    );
    assert!(codes(&p).contains(&"tls_untrusted"), "{:?}", codes(&p));
    // No HTTP over an unverified session.
    assert!(p.http.is_none());
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn certificate_for_another_name_is_a_mismatch() {
    let server = start(Some(self_signed(&["other.example"])), fixed(200, &[], "")).await;
    let p = probe_target(
        &target(&format!("https://localhost:{}/", server.port)),
        &ctx(),
    )
    .await;
    assert_eq!(p.verdict, ReachVerdict::TlsFailed);
    let tls = p.tls.as_ref().expect("tls");
    assert!(tls.sni_mismatch);
    assert_eq!(tls.sans, vec!["other.example".to_owned()]);
    assert!(codes(&p).contains(&"tls_name_mismatch"), "{:?}", codes(&p));
}

#[tokio::test]
async fn expired_certificate_says_expired() {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    let server = start(
        Some(acceptor(vec![cert.der().clone()], key.serialize_der())),
        fixed(200, &[], ""),
    )
    .await;
    let p = probe_target(
        &target(&format!("https://localhost:{}/", server.port)),
        &ctx(),
    )
    .await;
    assert_eq!(p.verdict, ReachVerdict::TlsFailed);
    let error = p
        .tls
        .as_ref()
        .and_then(|t| t.error.clone())
        .unwrap_or_default();
    assert!(
        error.starts_with("the certificate expired on 2020-01-01"),
        "{error}"
    );
    assert_eq!(codes(&p)[0], "tls_certificate_expired");
}

#[tokio::test]
async fn trusted_chain_goes_on_to_http() {
    let (acc, roots) = ca_signed(&["localhost"]);
    let server = start(Some(acc), fixed(200, &[("Server", "tls-test")], "secure")).await;
    let t = target(&format!("https://localhost:{}/x", server.port));
    let p = probe_with_roots(&t, &ctx(), roots).await;
    assert_eq!(
        p.verdict,
        ReachVerdict::Reachable,
        "{} {:?}",
        p.summary,
        p.tls
    );
    let tls = p.tls.as_ref().expect("tls");
    assert!(tls.ok && tls.error.is_none());
    assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
    assert!(
        tls.cipher
            .as_deref()
            .is_some_and(|c| c.starts_with("TLS13_")),
        "{:?}",
        tls.cipher
    );
    assert_eq!(tls.issuer.as_deref(), Some("CN=Vantage Test CA"));
    let http = p.http.as_ref().expect("http");
    assert_eq!(http.body_head, "secure");
    assert!(http.timing.tls_ms > 0.0);
    assert_eq!(
        server.seen()[0].header("host"),
        Some(format!("localhost:{}", server.port).as_str())
    );
}

#[tokio::test]
async fn plain_http_on_a_tls_target_fails_in_words() {
    // A plain HTTP server answers the ClientHello with a 400, as nginx does.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(&response(400, &[], b"Bad Request")).await;
        }
    });
    let p = probe_target(&target(&format!("https://127.0.0.1:{port}/")), &ctx()).await;
    task.abort();
    assert_eq!(p.verdict, ReachVerdict::TlsFailed, "{}", p.summary);
    let tls = p.tls.as_ref().expect("tls");
    assert_eq!(tls.sni, "", "no SNI for IP literals");
    assert!(
        tls.error
            .as_deref()
            .is_some_and(|e| e.contains("did not answer with TLS")),
        "{:?}",
        tls.error
    );
}

/// Silence after the TCP connect is a timeout, TLS or not.
#[tokio::test]
async fn silent_tls_port_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut c = ctx();
    c.request_timeout = Duration::from_millis(400);
    let p = probe_target(&target(&format!("https://localhost:{port}/")), &c).await;
    task.abort();
    assert_eq!(p.verdict, ReachVerdict::TimedOut, "{}", p.summary);
    assert!(p.tls.as_ref().is_some_and(|t| !t.ok));
    assert!(codes(&p).contains(&"http_no_response"));
    assert!(
        !codes(&p).contains(&"tls_handshake_failed"),
        "{:?}",
        codes(&p)
    );
    assert!(
        p.summary.contains("but no TLS handshake within"),
        "{}",
        p.summary
    );
}

/// At most `MAX_ADDRESSES` connects per hop, both families kept.
#[tokio::test]
async fn resolved_addresses_are_capped_per_hop() {
    let v4: Vec<IpAddr> = (1..=20u8).map(|i| IpAddr::from([127, 0, 0, i])).collect();
    let v6: Vec<IpAddr> = (1..=3u16)
        .map(|i| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, i]))
        .collect();
    let mixed: Vec<IpAddr> = v4.iter().chain(&v6).copied().collect();
    let kept = tcp::capped(&mixed);
    assert_eq!(kept.len(), tcp::MAX_ADDRESSES);
    assert!(v6.iter().all(|ip| kept.contains(ip)), "{kept:?}");
    let mut sorted = kept.clone();
    sorted.sort_by_key(|ip| mixed.iter().position(|m| m == ip));
    assert_eq!(kept, sorted, "answer order is kept");
    assert_eq!(tcp::capped(&v4[..5]), v4[..5].to_vec());

    // Only loopback is connected to: 127.0.0.1 answers, the other 127.0.0.x refuse.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let attempts = tcp::connect_all(&v4, port, Duration::from_secs(2)).await;
    assert_eq!(attempts.len(), tcp::MAX_ADDRESSES);
    assert_eq!(attempts[0].report.outcome, TcpOutcome::Connected);
}
