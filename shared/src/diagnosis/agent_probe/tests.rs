//! Unit tests of an agent probe's conclusions: every wording and threshold, without a network.

use chrono::{DateTime, Utc};

use super::*;
use crate::diagnosis::Severity;
use crate::fingerprint::attribute;
use crate::probe::{
    parse_target_url, AddressFamily, AddressOwner, AgentProbe, DnsAnswer, DnsResult, HttpResult,
    HttpTiming, ReachVerdict, Target, TargetSource, TcpAttempt, TcpOutcome, TlsResult,
};

fn attempt(addr: &str, family: AddressFamily, outcome: TcpOutcome, ms: f64) -> TcpAttempt {
    TcpAttempt {
        address: addr.to_owned(),
        family,
        outcome,
        elapsed_ms: ms,
        error: None,
    }
}

fn http(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResult {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    HttpResult {
        url: "http://api.internal:8000/v1/chat".to_owned(),
        status,
        fingerprint: attribute(status, &headers, body.as_bytes()),
        headers,
        body_size: body.len() as u64,
        body_head: body.to_owned(),
        body_truncated: false,
        timing: HttpTiming {
            total_ms: 42.3,
            ..HttpTiming::default()
        },
        redirects: Vec::new(),
    }
}

#[test]
fn durations_read_naturally() {
    assert_eq!(fmt_ms(0.42), "0.4 ms");
    assert_eq!(fmt_ms(42.3), "42 ms");
    assert_eq!(fmt_ms(3000.2), "3.0 s");
}

#[test]
fn status_expectations() {
    assert!(status_ok(200, None));
    assert!(status_ok(302, None));
    assert!(!status_ok(404, None));
    assert!(status_ok(404, Some(404)));
    assert!(!status_ok(200, Some(204)));
}

#[test]
fn tcp_summaries_name_the_signature() {
    let v4 = AddressFamily::Ipv4;
    let (v, s) = tcp_failure(
        "api.example.com",
        &[attempt(
            "198.51.100.10:443",
            v4,
            TcpOutcome::TimedOut,
            3000.4,
        )],
    );
    assert_eq!(v, ReachVerdict::TimedOut);
    assert_eq!(
        s,
        "TCP connect to 198.51.100.10:443 timed out after 3.0 s (no answer: a firewall dropping packets?)"
    );
    let (v, s) = tcp_failure("h", &[attempt("127.0.0.1:9", v4, TcpOutcome::Refused, 0.1)]);
    assert_eq!(v, ReachVerdict::Refused);
    assert!(s.starts_with("TCP connect to 127.0.0.1:9 refused"), "{s}");
    let (v, s) = tcp_failure(
        "h",
        &[
            attempt("10.0.0.1:443", v4, TcpOutcome::Refused, 0.1),
            attempt(
                "[fd00::1]:443",
                AddressFamily::Ipv6,
                TcpOutcome::Unreachable,
                0.1,
            ),
        ],
    );
    assert_eq!(v, ReachVerdict::Refused);
    assert!(
        s.contains("10.0.0.1:443 refused, [fd00::1]:443 unreachable"),
        "{s}"
    );
    let (v, _) = tcp_failure(
        "h",
        &[
            attempt("10.0.0.1:443", v4, TcpOutcome::Refused, 0.1),
            attempt("10.0.0.2:443", v4, TcpOutcome::TimedOut, 3000.0),
        ],
    );
    assert_eq!(v, ReachVerdict::TimedOut);
    let (v, _) = tcp_failure("h", &[attempt("10.0.0.1:443", v4, TcpOutcome::Error, 0.1)]);
    assert_eq!(v, ReachVerdict::Unknown);
}

#[test]
fn family_split_is_named_with_both_sides() {
    let f = tcp_findings(
        "api.example.com",
        &[
            attempt(
                "198.51.100.1:443",
                AddressFamily::Ipv4,
                TcpOutcome::Connected,
                12.0,
            ),
            attempt(
                "[2001:db8::1]:443",
                AddressFamily::Ipv6,
                TcpOutcome::TimedOut,
                3000.0,
            ),
        ],
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "address_family_split");
    assert_eq!(
        f[0].summary,
        "IPv4 connects but IPv6 does not for api.example.com: [2001:db8::1]:443 timed out after 3.0 s"
    );
    assert!(f[0].explanation.contains("happy eyeballs"));
    assert!(f[0]
        .fix
        .as_ref()
        .is_some_and(|x| x.description.contains("AAAA")));

    let f = tcp_findings(
        "h",
        &[
            attempt(
                "10.0.0.1:80",
                AddressFamily::Ipv4,
                TcpOutcome::Connected,
                1.0,
            ),
            attempt("10.0.0.2:80", AddressFamily::Ipv4, TcpOutcome::Refused, 1.0),
        ],
    );
    assert_eq!(f[0].code, "some_addresses_fail");
    assert!(tcp_findings(
        "h",
        &[attempt(
            "10.0.0.1:80",
            AddressFamily::Ipv4,
            TcpOutcome::Connected,
            1.0
        )]
    )
    .is_empty());
    let f = tcp_findings(
        "h",
        &[attempt(
            "10.0.0.1:80",
            AddressFamily::Ipv4,
            TcpOutcome::Refused,
            1.0,
        )],
    );
    assert_eq!(f[0].code, "tcp_refused");
}

#[test]
fn dns_findings_cover_cdn_and_failures() {
    let dns = DnsResult {
        host: "api.shop.example".to_owned(),
        resolver: "system (/etc/resolv.conf: 10.0.0.2:53)".to_owned(),
        cnames: Vec::new(),
        answers: vec![DnsAnswer {
            address: "104.16.1.1".to_owned(),
            family: AddressFamily::Ipv4,
            ttl: Some(300),
            owner: AddressOwner::Cloudflare,
        }],
        errors: vec!["AAAA: no records".to_owned()],
        elapsed_ms: 3.0,
    };
    let f = dns_findings(&dns);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "resolves_to_cdn");
    assert!(
        f[0].summary.contains("Cloudflare (104.16.1.1)"),
        "{}",
        f[0].summary
    );
    assert!(f[0]
        .fix
        .as_ref()
        .is_some_and(|x| x.description.contains("container name")));

    let mut broken = dns.clone();
    broken.answers[0].owner = AddressOwner::Public;
    broken.errors = vec!["AAAA: timed out (no answer from the DNS server)".to_owned()];
    assert_eq!(dns_findings(&broken)[0].code, "dns_partial_failure");

    let mut none = dns.clone();
    none.answers.clear();
    none.errors = vec!["A: no records".to_owned(), "AAAA: no records".to_owned()];
    assert_eq!(
        dns_failure_summary(&none),
        "DNS: api.shop.example has no A/AAAA records"
    );
    assert_eq!(dns_findings(&none)[0].code, "dns_no_answer");
    none.errors = vec!["A: no such name (NXDOMAIN)".to_owned()];
    assert!(dns_failure_summary(&none).contains("did not resolve (A: no such name"));
}

fn tls(
    not_after_days: i64,
    ok: bool,
    error: Option<&str>,
    mismatch: bool,
) -> (TlsResult, DateTime<Utc>) {
    let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    (
        TlsResult {
            ok,
            protocol: Some("TLSv1.3".to_owned()),
            cipher: None,
            alpn: None,
            sni: "api.example.com".to_owned(),
            subject: Some("CN=api.example.com".to_owned()),
            issuer: Some("CN=R3".to_owned()),
            sans: vec!["api.example.com".to_owned()],
            not_before: None,
            not_after: Some(now + chrono::Duration::days(not_after_days)),
            sni_mismatch: mismatch,
            error: error.map(str::to_owned),
            elapsed_ms: 5.0,
        },
        now,
    )
}

#[test]
fn certificate_findings_by_date_name_and_trust() {
    let (t, now) = tls(60, true, None, false);
    assert!(tls_findings("api.example.com", &t, now).is_empty());
    let (t, now) = tls(3, true, None, false);
    let f = tls_findings("api.example.com", &t, now);
    assert_eq!(f[0].code, "tls_certificate_expiring");
    assert!(
        f[0].summary.contains("expires in 3 days"),
        "{}",
        f[0].summary
    );
    let (t, now) = tls(-2, false, Some("the certificate expired on …"), false);
    let f = tls_findings("api.example.com", &t, now);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "tls_certificate_expired");
    let (t, now) = tls(60, false, Some("name mismatch: …"), true);
    assert_eq!(
        tls_findings("api.example.com", &t, now)[0].code,
        "tls_name_mismatch"
    );
    let (t, now) = tls(60, false, Some("self-signed certificate (CN=x): …"), false);
    assert_eq!(
        tls_findings("api.example.com", &t, now)[0].code,
        "tls_untrusted"
    );
    let (t, now) = tls(60, false, Some("no TLS handshake within 10.0 s"), false);
    assert_eq!(
        tls_findings("api.example.com", &t, now)[0].code,
        "tls_handshake_failed"
    );
}

/// docs/incidents.md, "The 404 that was not a routing error": two 404s with different origins
/// are told apart, with sizes and bytes.
#[test]
fn framework_404_and_passed_through_404_differ() {
    let framework = http(
        404,
        &[("content-type", "application/json")],
        r#"{"detail":"Not Found"}"#,
    );
    let f = http_findings(&framework, Some(200));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "http_framework_default");
    assert_eq!(
        f[0].summary,
        r#"HTTP 404 (expected 200) with a 22-byte body `{"detail":"Not Found"}`: FastAPI/Starlette default 404 (no such route)"#
    );

    let upstream = http(
        404,
        &[],
        r#"{"error":"model 'llama3:70b' not found, try pulling it first"}"#,
    );
    let f = http_findings(&upstream, None);
    assert_eq!(f[0].code, "http_application_error");
    assert!(f[0].summary.contains("a 62-byte body"), "{}", f[0].summary);
    assert!(
        f[0].explanation.contains("LLM server"),
        "{}",
        f[0].explanation
    );
    assert!(http_is_error(&upstream, None));
    assert!(!http_is_error(&upstream, Some(404)));
}

#[test]
fn proxy_error_page_is_an_error_whatever_the_status() {
    let page = http(503, &[("server", "envoy")], "no healthy upstream");
    assert!(http_is_error(&page, Some(503)));
    let f = http_findings(&page, None);
    assert_eq!(f[0].code, "http_proxy_error_page");
    assert_eq!(f[0].severity, Severity::Critical);
    assert!(f[0].explanation.contains("CORS error"));
    assert_eq!(
        http_summary(&page, "10.0.0.5:8080", None),
        "HTTP 503 in 42 ms from 10.0.0.5:8080 (envoy)"
    );
}

#[test]
fn summaries_and_unexpected_statuses() {
    let ok = http(200, &[("Server", "nginx")], "ok");
    assert_eq!(
        http_summary(&ok, "127.0.0.1:8080", None),
        "HTTP 200 in 42 ms from 127.0.0.1:8080 (nginx)"
    );
    assert!(http_findings(&ok, None).is_empty());
    let moved = http(301, &[], "");
    let f = http_findings(&moved, Some(200));
    assert_eq!(f[0].code, "http_unexpected_status");
    assert_eq!(
        http_summary(&moved, "127.0.0.1:80", Some(200)),
        "HTTP 301 in 42 ms from 127.0.0.1:80, expected 200"
    );
    let mut big = http(200, &[], "x");
    big.body_truncated = true;
    big.body_size = 10 * 1024 * 1024;
    assert_eq!(http_findings(&big, None)[0].code, "http_body_truncated");
    assert_eq!(body_excerpt("a\r\nb  ", 10), "a  b");
    assert_eq!(body_excerpt("abcdef", 3), "abc…");
}

// ---------------------------------------------------------------------------------------------
// Conclusions (DNS failures cannot be produced on loopback alone, so this is their test)
// ---------------------------------------------------------------------------------------------

fn target(url: &str) -> Target {
    Target {
        id: "t".to_owned(),
        name: "t".to_owned(),
        url: url.to_owned(),
        expected_status: None,
        cors_origin: None,
        cors_method: None,
        cors_headers: Vec::new(),
        cors_credentials: Default::default(),
        cors_mode: Default::default(),
        proxy_admin: None,
        firewall: Default::default(),
        interval_seconds: 60,
        source: TargetSource::Config,
    }
}

fn blank(target_id: &str) -> AgentProbe {
    AgentProbe::empty(target_id, Utc::now())
}

fn codes(p: &AgentProbe) -> Vec<&str> {
    p.findings.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn dns_failure_concludes_dns_failed() {
    let t = target("https://api.example.com/health");
    let first = parse_target_url(&t.url).expect("url");
    let mut p = blank("t");
    p.dns = Some(DnsResult {
        host: "api.example.com".to_owned(),
        resolver: "system (/etc/resolv.conf: 10.0.0.2:53)".to_owned(),
        cnames: Vec::new(),
        answers: Vec::new(),
        errors: vec!["A: no records".to_owned(), "AAAA: no records".to_owned()],
        elapsed_ms: 4.0,
    });
    conclude(&mut p, &t, &ProbeStop::Dns, Some(&first), &[], Utc::now());
    assert_eq!(p.verdict, ReachVerdict::DnsFailed);
    assert_eq!(p.summary, "DNS: api.example.com has no A/AAAA records");
    assert_eq!(codes(&p), vec!["dns_no_answer"]);
}

#[test]
fn proxy_errors_are_worded_by_their_cause() {
    use super::http::proxy_error_cause;
    let haproxy = "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>";
    let cases = [
        (Some("haproxy_error_page"), 503, haproxy, "health checks mark every server down"),
        (Some("envoy_no_healthy_upstream"), 503, "no healthy upstream", "outlier detection"),
        (
            Some("envoy_upstream_connect_error"),
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: connection timeout",
            "timed out",
        ),
        (
            Some("envoy_upstream_connect_error"),
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
            "could not connect",
        ),
        (Some("nginx_error_page"), 502, "<center>nginx</center>", "refused or reset"),
        (Some("nginx_error_page"), 504, "<center>nginx</center>", "timeout"),
    ];
    for (fp, status, body, want) in cases {
        let got = proxy_error_cause(fp, status, body);
        assert!(got.contains(want), "{fp:?} {status}: {got}");
    }
}
