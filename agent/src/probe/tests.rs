//! End-to-end tests of the probe engine against real loopback servers started here: plain
//! HTTP, TLS with rcgen certificates, redirects, caps, refusals and timeouts. Nothing is
//! mocked; only loopback addresses receive traffic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use vantage_shared::fingerprint::Generator;
use vantage_shared::probe::{AddressFamily, TargetSource, TcpOutcome};

use super::*;

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server: one request per connection, answers from a closure, records heads.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

type Handler = Arc<dyn Fn(&Seen) -> Vec<u8> + Send + Sync>;

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut byte).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
        .collect();
    Some(Seen {
        method,
        path,
        headers,
    })
}

async fn serve_conn<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    if let Some(head) = read_head(&mut s).await {
        seen.lock().expect("lock").push(head.clone());
        let response = handler(&head);
        let _ = s.write_all(&response).await;
        let _ = s.shutdown().await;
    }
}

async fn start(tls: Option<TlsAcceptor>, handler: Handler) -> Server {
    start_on(
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        tls,
        handler,
    )
}

fn start_on(listener: TcpListener, tls: Option<TlsAcceptor>, handler: Handler) -> Server {
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (handler, seen) = (handler.clone(), seen2.clone());
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            serve_conn(s, handler, seen).await;
                        }
                    }
                    None => serve_conn(stream, handler, seen).await,
                }
            });
        }
    });
    Server { port, seen, task }
}

fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn fixed(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> Handler {
    Arc::new(move |_| response(status, headers, body.as_bytes()))
}

fn target(url: &str) -> Target {
    Target {
        id: "t".to_owned(),
        name: "t".to_owned(),
        url: url.to_owned(),
        expected_status: None,
        cors_origin: None,
        cors_method: None,
        cors_headers: Vec::new(),
        cors_credentials: false,
        firewall: Default::default(),
        source: TargetSource::Config,
    }
}

fn ctx() -> ProbeContext {
    ProbeContext {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..ProbeContext::default()
    }
}

fn codes(p: &AgentProbe) -> Vec<&str> {
    p.findings.iter().map(|f| f.code.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// TLS material
// ---------------------------------------------------------------------------------------------

fn acceptor(chain: Vec<CertificateDer<'static>>, key_der: Vec<u8>) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
        )
        .expect("server cert");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(cfg))
}

fn self_signed(names: &[&str]) -> TlsAcceptor {
    let ck = rcgen::generate_simple_self_signed(
        names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
    )
    .expect("cert");
    acceptor(vec![ck.cert.der().clone()], ck.signing_key.serialize_der())
}

/// A private CA and a leaf it signed for `names`: (server acceptor, roots trusting the CA).
fn ca_signed(names: &[&str]) -> (TlsAcceptor, Arc<RootCertStore>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Vantage Test CA");
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_params =
        rcgen::CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("params");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf");
    let mut roots = RootCertStore::empty();
    roots.add(ca_cert.der().clone()).expect("root");
    (
        acceptor(
            vec![leaf.der().clone(), ca_cert.der().clone()],
            leaf_key.serialize_der(),
        ),
        Arc::new(roots),
    )
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

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

/// Incident 5: the framework's own 404 and a 404 passed through from upstream.
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

/// Incident 2: the proxy's error page is an HTTP error, and named as the proxy's.
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
    // Review item 9: a chain past the cap is the target's error, not "unknown".
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

#[tokio::test]
async fn huge_bodies_are_counted_up_to_the_cap_not_kept() {
    let big: Arc<Vec<u8>> = Arc::new(vec![b'x'; 11 * 1024 * 1024]);
    let server = start(None, Arc::new(move |_: &Seen| response(200, &[], &big))).await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/", server.port)),
        &ctx(),
    )
    .await;
    let http = p.http.as_ref().expect("http");
    assert!(http.body_truncated);
    assert!(http.body_size >= http::BODY_COUNT_CAP, "{}", http.body_size);
    assert!(http.body_size < 11 * 1024 * 1024);
    assert_eq!(http.body_head.len(), http::BODY_HEAD);
    assert_eq!(p.verdict, ReachVerdict::Reachable);
    assert!(codes(&p).contains(&"http_body_truncated"));

    // A body under the cap is counted in full, though only 64 KiB is kept in memory.
    let mid: Arc<Vec<u8>> = Arc::new(vec![b'y'; 200 * 1024]);
    let server = start(None, Arc::new(move |_: &Seen| response(200, &[], &mid))).await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/", server.port)),
        &ctx(),
    )
    .await;
    let http = p.http.as_ref().expect("http");
    assert_eq!(http.body_size, 200 * 1024);
    assert!(!http.body_truncated);
}

/// A body that never ends stops at the request timeout, with the status kept.
#[tokio::test]
async fn endless_body_stops_at_the_request_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_head(&mut s).await;
                let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    if s.write_all(b"5\r\nchunk\r\n").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        }
    });
    let mut c = ctx();
    c.request_timeout = Duration::from_millis(600);
    let started = Instant::now();
    let p = probe_target(&target(&format!("http://127.0.0.1:{port}/")), &c).await;
    task.abort();
    assert!(started.elapsed() < Duration::from_secs(3));
    let http = p.http.as_ref().expect("http");
    assert_eq!(http.status, 200);
    assert!(http.body_truncated);
    assert!(
        http.body_size > 0 && http.body_size % 5 == 0,
        "{}",
        http.body_size
    );
    assert!(http.body_head.starts_with("chunkchunk"));
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

// ---------------------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------------------

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
    // Reachable: CORS is the browser's rule, reported as a finding.
    assert_eq!(p.verdict, ReachVerdict::Reachable);
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

// ---------------------------------------------------------------------------------------------
// Conclusions without a network (DNS failures cannot be produced on loopback alone)
// ---------------------------------------------------------------------------------------------

fn blank(target_id: &str) -> AgentProbe {
    AgentProbe {
        target_id: target_id.to_owned(),
        at: Utc::now(),
        dns: None,
        tcp: Vec::new(),
        tls: None,
        http: None,
        cors: None,
        verdict: ReachVerdict::Unknown,
        summary: String::new(),
        findings: Vec::new(),
    }
}

#[test]
fn dns_failure_concludes_dns_failed() {
    let t = target("https://api.example.com/health");
    let first = parse_target_url(&t.url).expect("url");
    let mut p = blank("t");
    p.dns = Some(vantage_shared::probe::DnsResult {
        host: "api.example.com".to_owned(),
        resolver: "system (/etc/resolv.conf: 10.0.0.2:53)".to_owned(),
        answers: Vec::new(),
        errors: vec!["A: no records".to_owned(), "AAAA: no records".to_owned()],
        elapsed_ms: 4.0,
    });
    conclude(&mut p, &t, Stop::Dns, Some(&first), &[]);
    assert_eq!(p.verdict, ReachVerdict::DnsFailed);
    assert_eq!(p.summary, "DNS: api.example.com has no A/AAAA records");
    assert_eq!(codes(&p), vec!["dns_no_answer"]);
}

// ---------------------------------------------------------------------------------------------
// Review fixes (probe hardening): each test names the finding it guards.
// ---------------------------------------------------------------------------------------------

/// A server that runs `conn` on every accepted connection: for servers that hold, trickle
/// or stall, which the one-shot [`start`] server cannot do.
struct Raw {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_raw<F, Fut>(conn: F) -> Raw
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let conn = Arc::new(conn);
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn((conn.clone())(s));
        }
    });
    Raw { port, task }
}

fn page_with_secrets(url: &str) -> Target {
    let mut t = target(url);
    t.cors_origin = Some("https://shop.example".to_owned());
    t.cors_headers = vec![
        "Authorization: Bearer s3cret".to_owned(),
        "X-Api-Key: k1".to_owned(),
    ];
    t
}

fn leaks(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .flat_map(|s| s.headers.iter())
        .filter(|(n, v)| {
            n.eq_ignore_ascii_case("authorization")
                || n.eq_ignore_ascii_case("x-api-key")
                || v.contains("s3cret")
        })
        .map(|(n, v)| format!("{n}: {v}"))
        .collect()
}

/// Review item 1: configured page headers (credentials) never follow a redirect to another
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

/// Review item 1: never from https to http, even to the same host and port number.
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

/// Review item 2: the decision, for the cases loopback-only tests cannot produce.
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

/// Review item 2: a loopback target redirecting to another loopback port is followed.
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

/// Review item 2, end to end: a loopback target redirecting to `0.0.0.0` (another class,
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

/// Review item 3: at most `MAX_ADDRESSES` connects per hop, both families kept.
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

/// Review item 4: method-override headers that name an unsafe method are not sent, whatever
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
        assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);
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

/// Writes `head` and then holds the connection open without finishing the body.
async fn answer_and_hold(mut s: tokio::net::TcpStream, head: String) {
    if read_head(&mut s).await.is_some() {
        let _ = s.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

/// Review item 5: neither a redirect hop's body nor a preflight's is read, so a server that
/// announces a body and never sends it cannot hold the probe for a request timeout per hop.
#[tokio::test]
async fn redirect_hops_and_preflights_do_not_read_the_body() {
    let end = start(
        None,
        fixed(200, &[("Access-Control-Allow-Origin", "*")], "end"),
    )
    .await;
    let to = format!("http://127.0.0.1:{}/end", end.port);
    let stalling = start_raw(move |s| {
        let to = to.clone();
        async move {
            let mut s = s;
            let Some(head) = read_head(&mut s).await else {
                return;
            };
            let answer = if head.method == "OPTIONS" {
                "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Headers: x-api-key\r\nContent-Length: 100000\r\n\r\npartial".to_owned()
            } else {
                format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 100000\r\n\r\npartial")
            };
            let _ = s.write_all(answer.as_bytes()).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    })
    .await;
    let mut t = target(&format!("http://127.0.0.1:{}/", stalling.port));
    t.cors_origin = Some("https://shop.example".to_owned());
    t.cors_headers = vec!["X-Api-Key: k1".to_owned()];
    let mut c = ctx();
    c.request_timeout = Duration::from_secs(5);
    let started = Instant::now();
    let p = probe_target(&t, &c).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}: a body was waited for",
        started.elapsed()
    );
    assert_eq!(p.verdict, ReachVerdict::Reachable, "{}", p.summary);
    assert_eq!(p.http.as_ref().map(|h| h.body_head.as_str()), Some("end"));
    assert!(p.cors.as_ref().is_some_and(|c| c.preflight_needed));

    // The exchange itself: a redirect's body is skipped, a final response's is read.
    let held = start_raw(|s| {
        answer_and_hold(
            s,
            "HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 50\r\n\r\nabc".to_owned(),
        )
    })
    .await;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", held.port))
        .await
        .expect("connect");
    let out = Outgoing {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        headers: vec![("Host".to_owned(), "x".to_owned())],
    };
    let inc = http::exchange(
        Box::new(stream),
        &out,
        Duration::from_secs(5),
        BodyRead::UnlessRedirect,
    )
    .await
    .expect("head");
    assert_eq!(inc.status, 301);
    assert!(inc.body_skipped && inc.body.is_empty() && !inc.body_timed_out);
}

/// Review item 6: one deadline covers the whole probe. A server that trickles its answer one
/// byte at a time never trips the per-exchange timeout's spirit but must trip this one.
#[tokio::test]
async fn the_whole_probe_has_one_deadline() {
    let trickle = start_raw(|mut s| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        for b in b"HTTP/1.1 200 OK\r\nX-Slow: ".iter().cycle() {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mut c = ctx();
    c.request_timeout = Duration::from_secs(10);
    c.deadline = Duration::from_millis(500);
    let started = Instant::now();
    let p = probe_target(&target(&format!("http://127.0.0.1:{}/", trickle.port)), &c).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(p.verdict, ReachVerdict::TimedOut, "{}", p.summary);
    assert_eq!(
        p.summary,
        format!(
            "The whole probe exceeded 0.5 s (the agent's limit for one probe), while in the HTTP exchange with http://127.0.0.1:{port}/ (127.0.0.1:{port})",
            port = trickle.port
        )
    );
    assert_eq!(codes(&p)[0], "probe_deadline");
    assert_eq!(p.tcp[0].outcome, TcpOutcome::Connected);
    assert!(p.http.is_none());

    // Across hops: each answer comes within every per-step timeout, the sum does not.
    let slow = start_raw(|mut s| async move {
        if let Some(head) = read_head(&mut s).await {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let n: u32 = head.path.trim_start_matches('/').parse().unwrap_or(0);
            let _ = s
                .write_all(&response(302, &[("Location", &format!("/{}", n + 1))], b""))
                .await;
        }
    })
    .await;
    c.deadline = Duration::from_millis(700);
    let p = probe_target(&target(&format!("http://127.0.0.1:{}/0", slow.port)), &c).await;
    assert_eq!(p.verdict, ReachVerdict::TimedOut, "{}", p.summary);
    assert!(
        p.summary.contains("exceeded 0.7 s") && p.summary.contains("(redirect 3)"),
        "{}",
        p.summary
    );
    assert_eq!(fmt_limit(PROBE_DEADLINE), "30 s");
    assert_eq!(ProbeContext::default().deadline, PROBE_DEADLINE);
}

/// Review item 7: a request that needs a preflight is preflighted again at the redirect's
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

/// Review item 7: the browser's request changes at a redirect (Fetch "HTTP-redirect fetch"),
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
