//! The probe's conclusions: verdict, one-line summary and findings, as pure functions of
//! what was observed, so every wording and threshold is unit-tested without a network.

use chrono::{DateTime, Utc};
use vantage_shared::diagnosis::{Finding, Severity};
use vantage_shared::fingerprint::Generator;
use vantage_shared::ownership;
use vantage_shared::probe::{
    AddressFamily, AddressOwner, DnsResult, HttpResult, ReachVerdict, TcpAttempt, TcpOutcome,
    TlsResult,
};

/// A certificate expiring sooner than this is a warning.
pub const CERT_EXPIRY_WARNING_DAYS: i64 = 14;

/// `0.4 ms`, `42 ms`, `3.0 s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Timeouts read in seconds whatever their size: `0.5 s`, `3.0 s`.
pub fn fmt_secs(ms: f64) -> String {
    format!("{:.1} s", ms / 1000.0)
}

/// Whether `status` means "working": the expected one, or any 2xx/3xx when none is set.
pub fn status_ok(status: u16, expected: Option<u16>) -> bool {
    match expected {
        Some(e) => status == e,
        None => (200..400).contains(&status),
    }
}

/// The first bytes of a body, on one line, for summaries (`{"detail":"Not Found"}`).
pub fn body_excerpt(head: &str, max_chars: usize) -> String {
    let one_line: String = head
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() > max_chars {
        format!("{}…", trimmed.chars().take(max_chars).collect::<String>())
    } else {
        trimmed.to_owned()
    }
}

fn family_name(f: AddressFamily) -> &'static str {
    match f {
        AddressFamily::Ipv4 => "IPv4",
        AddressFamily::Ipv6 => "IPv6",
    }
}

fn outcome_words(a: &TcpAttempt) -> String {
    match a.outcome {
        TcpOutcome::Connected => format!("connected in {}", fmt_ms(a.elapsed_ms)),
        TcpOutcome::Refused => "refused".to_owned(),
        TcpOutcome::TimedOut => format!("timed out after {}", fmt_secs(a.elapsed_ms)),
        TcpOutcome::Unreachable => "unreachable (no route)".to_owned(),
        TcpOutcome::Error => format!("failed ({})", a.error.as_deref().unwrap_or("unknown error")),
    }
}

// ---------------------------------------------------------------------------------------------
// DNS
// ---------------------------------------------------------------------------------------------

/// The summary when the name did not resolve.
pub fn dns_failure_summary(dns: &DnsResult) -> String {
    let real_errors: Vec<&String> = dns
        .errors
        .iter()
        .filter(|e| !e.ends_with("no records"))
        .collect();
    if real_errors.is_empty() {
        format!("DNS: {} has no A/AAAA records", dns.host)
    } else {
        format!(
            "DNS: {} did not resolve ({})",
            dns.host,
            dns.errors.join("; ")
        )
    }
}

/// Findings about the lookup itself and the owners of the answers.
pub fn dns_findings(dns: &DnsResult) -> Vec<Finding> {
    let mut out = Vec::new();
    if dns.answers.is_empty() {
        out.push(
            Finding::new(
                "dns_no_answer",
                Severity::Critical,
                dns_failure_summary(dns),
                format!(
                    "Resolver: {}. Errors: {}. A container name only resolves on a Docker network the asking container shares; a name in another compose project does not.",
                    dns.resolver,
                    if dns.errors.is_empty() { "none".to_owned() } else { dns.errors.join("; ") }
                ),
            )
            .with_fix(
                "Check the spelling and the record at your DNS provider; for a container, put both containers on one network and use the service name.",
                None,
                None,
            ),
        );
        return out;
    }
    // One type failing for a real reason (not "no records") makes lookups slow or flaky.
    let broken: Vec<&String> = dns
        .errors
        .iter()
        .filter(|e| !e.ends_with("no records") && !e.contains("/etc/hosts"))
        .collect();
    if !broken.is_empty() {
        out.push(Finding::new(
            "dns_partial_failure",
            Severity::Warning,
            format!(
                "DNS for {} answered, but {}",
                dns.host,
                broken
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            format!(
                "Resolver: {}. Clients ask for A and AAAA together; when one of them times out or fails, every connection waits for it first.",
                dns.resolver
            ),
        ));
    }
    let cdn: Vec<(String, &AddressOwner)> = dns
        .answers
        .iter()
        .filter(|a| matches!(a.owner, AddressOwner::Cloudflare | AddressOwner::Cloudfront))
        .map(|a| (a.address.clone(), &a.owner))
        .collect();
    if let Some((_, owner)) = cdn.first() {
        let cdn_name = match owner {
            AddressOwner::Cloudflare => "Cloudflare",
            _ => "Amazon CloudFront",
        };
        out.push(
            Finding::new(
                "resolves_to_cdn",
                Severity::Info,
                format!(
                    "{} resolves to {cdn_name} ({}): traffic from this host leaves it and comes back through the CDN",
                    dns.host,
                    cdn.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", ")
                ),
                format!(
                    "{}. A container calling another container on this server through its public name pays the CDN's round trip, its limits and its timeouts.",
                    ownership::owner_label(owner)
                ),
            )
            .with_fix(
                "If the service runs on this host, call it by its container name on a Docker network both containers share (e.g. http://api:8000), not by its public domain.",
                Some("networks:\n  shared:\n    external: true".to_owned()),
                Some("yaml"),
            ),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

/// Verdict and summary when no address connected.
pub fn tcp_failure(host: &str, attempts: &[TcpAttempt]) -> (ReachVerdict, String) {
    let all = |o: TcpOutcome| attempts.iter().all(|a| a.outcome == o);
    let verdict = if attempts.is_empty() {
        ReachVerdict::Unknown
    } else if attempts.iter().any(|a| a.outcome == TcpOutcome::TimedOut) {
        // A drop anywhere is the firewall signature worth naming, even next to a refusal.
        ReachVerdict::TimedOut
    } else if attempts
        .iter()
        .all(|a| matches!(a.outcome, TcpOutcome::Refused | TcpOutcome::Unreachable))
    {
        ReachVerdict::Refused
    } else {
        ReachVerdict::Unknown
    };
    let summary = match attempts {
        [] => format!("TCP: no address to connect to for {host}"),
        [a] => match a.outcome {
            TcpOutcome::TimedOut => format!(
                "TCP connect to {} timed out after {} (no answer: a firewall dropping packets?)",
                a.address,
                fmt_secs(a.elapsed_ms)
            ),
            TcpOutcome::Refused => format!(
                "TCP connect to {} refused (nothing listens on that port, or a firewall rejects)",
                a.address
            ),
            TcpOutcome::Unreachable => format!(
                "TCP connect to {}: no route to the host or network",
                a.address
            ),
            _ => format!("TCP connect to {} {}", a.address, outcome_words(a)),
        },
        many if all(TcpOutcome::TimedOut) => format!(
            "TCP connect timed out for all {} addresses of {host} ({}) after {} (no answer: a firewall dropping packets?)",
            many.len(),
            many.iter().map(|a| a.address.as_str()).collect::<Vec<_>>().join(", "),
            fmt_secs(many.iter().map(|a| a.elapsed_ms).fold(0.0, f64::max))
        ),
        many => format!(
            "TCP connect failed for every address of {host}: {}",
            many.iter()
                .map(|a| format!("{} {}", a.address, outcome_words(a)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    (verdict, summary)
}

/// Findings from the per-address connects: family splits and partly dead address sets.
pub fn tcp_findings(host: &str, attempts: &[TcpAttempt]) -> Vec<Finding> {
    let mut out = Vec::new();
    let ok = |a: &&TcpAttempt| a.outcome == TcpOutcome::Connected;
    let connected: Vec<&TcpAttempt> = attempts.iter().filter(ok).collect();
    let failed: Vec<&TcpAttempt> = attempts.iter().filter(|a| !ok(a)).collect();
    if connected.is_empty() {
        if let Some(f) = tcp_failure_finding(host, attempts) {
            out.push(f);
        }
        return out;
    }
    if failed.is_empty() {
        return out;
    }
    let fam_state = |f: AddressFamily| {
        let of: Vec<&TcpAttempt> = attempts.iter().filter(|a| a.family == f).collect();
        let up = of
            .iter()
            .filter(|a| a.outcome == TcpOutcome::Connected)
            .count();
        (of.len(), up)
    };
    let (v4, v4_up) = fam_state(AddressFamily::Ipv4);
    let (v6, v6_up) = fam_state(AddressFamily::Ipv6);
    let split = match (v4, v4_up, v6, v6_up) {
        (n4, u4, n6, 0) if n4 > 0 && u4 > 0 && n6 > 0 => {
            Some((AddressFamily::Ipv4, AddressFamily::Ipv6))
        }
        (n4, 0, n6, u6) if n6 > 0 && u6 > 0 && n4 > 0 => {
            Some((AddressFamily::Ipv6, AddressFamily::Ipv4))
        }
        _ => None,
    };
    let list = |v: &[&TcpAttempt]| {
        v.iter()
            .map(|a| format!("{} {}", a.address, outcome_words(a)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some((good, bad)) = split {
        let bad_timed_out = failed.iter().any(|a| a.outcome == TcpOutcome::TimedOut);
        out.push(
            Finding::new(
                "address_family_split",
                Severity::Warning,
                format!(
                    "{} connects but {} does not for {host}: {}",
                    family_name(good),
                    family_name(bad),
                    list(&failed)
                ),
                format!(
                    "Working: {}. Clients try both families (happy eyeballs): {} until they give up on {}, which looks like random slowness or ETIMEDOUT from some clients only.",
                    list(&connected),
                    if bad_timed_out {
                        "a silently dropped family costs a delay of 250 ms up to the connect timeout"
                    } else {
                        "a refused family costs a retry"
                    },
                    family_name(bad)
                ),
            )
            .with_fix(
                format!(
                    "Make the service listen on {bad} and open the firewall/security group for it, or remove the {} record.",
                    if bad == AddressFamily::Ipv6 { "AAAA" } else { "A" },
                    bad = family_name(bad)
                ),
                None,
                None,
            ),
        );
    } else {
        out.push(
            Finding::new(
                "some_addresses_fail",
                Severity::Warning,
                format!(
                    "{} of {} addresses of {host} do not connect: {}",
                    failed.len(),
                    attempts.len(),
                    list(&failed)
                ),
                "Clients pick an address from the DNS answer; those that pick a dead one fail or wait, so the failure looks intermittent.",
            )
            .with_fix(
                "Remove the dead addresses from DNS (or the load balancer), or bring those backends back.",
                None,
                None,
            ),
        );
    }
    out
}

fn tcp_failure_finding(host: &str, attempts: &[TcpAttempt]) -> Option<Finding> {
    let (verdict, summary) = tcp_failure(host, attempts);
    match verdict {
        ReachVerdict::TimedOut => Some(
            Finding::new(
                "tcp_timed_out",
                Severity::Critical,
                summary,
                "No answer at all, not even a refusal: packets are dropped on the way, typically by a security group, firewall or NACL that does not admit this source, or the address is not routed.",
            )
            .with_fix(
                "Allow this source address on the port in the security group / firewall in front of the service; compare with a device where it works.",
                None,
                None,
            ),
        ),
        ReachVerdict::Refused => Some(
            Finding::new(
                "tcp_refused",
                Severity::Critical,
                summary,
                "The host answered with a reset: nothing listens on that address and port (a service bound to 127.0.0.1 only, a container whose port is not published, a wrong port), or a firewall rejects.",
            )
            .with_fix(
                "Check that the service listens on 0.0.0.0 (or ::) on that port and that the container publishes it (`ports:` in compose).",
                Some("ss -ltnp".to_owned()),
                Some("shell"),
            ),
        ),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

/// The summary when TLS stopped the probe.
pub fn tls_failure_summary(host: &str, addr: &str, tls: &TlsResult) -> String {
    format!(
        "TLS to {host} ({addr}) failed: {}",
        tls.error.as_deref().unwrap_or("handshake failed")
    )
}

/// Certificate and handshake findings, judged at `now`.
pub fn tls_findings(host: &str, tls: &TlsResult, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    let names = if tls.sans.is_empty() {
        "no names".to_owned()
    } else {
        tls.sans.join(", ")
    };
    let expired = tls.not_after.is_some_and(|t| t < now);
    if expired {
        let when = tls
            .not_after
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        out.push(
            Finding::new(
                "tls_certificate_expired",
                Severity::Critical,
                format!("The certificate of {host} expired on {when}"),
                format!(
                    "Subject {}, issued by {}. Browsers and clients refuse it outright.",
                    tls.subject.as_deref().unwrap_or("?"),
                    tls.issuer.as_deref().unwrap_or("?")
                ),
            )
            .with_fix("Renew the certificate and reload the server that presents it (check that the renewal job runs and the server picks up the new file).", None, None),
        );
    } else if let Some(after) = tls.not_after {
        let days = (after - now).num_days();
        if days < CERT_EXPIRY_WARNING_DAYS {
            out.push(
                Finding::new(
                    "tls_certificate_expiring",
                    Severity::Warning,
                    format!(
                        "The certificate of {host} expires in {days} day{} ({})",
                        if days == 1 { "" } else { "s" },
                        after.format("%Y-%m-%d")
                    ),
                    "Automatic renewal normally happens 30 days ahead; a certificate this close to expiry means renewal is failing or not set up.",
                )
                .with_fix("Check the renewal job (certbot, cert-manager, your CDN) and its logs now.", None, None),
            );
        }
    }
    if tls.sni_mismatch {
        out.push(
            Finding::new(
                "tls_name_mismatch",
                Severity::Critical,
                format!("The certificate presented for {host} is for {names}"),
                format!(
                    "The server sent a certificate that does not name {host} (SNI sent: {}). Usually a default certificate: the server or proxy has no certificate configured for this name, or the name points at the wrong server.",
                    if tls.sni.is_empty() { "none" } else { tls.sni.as_str() }
                ),
            )
            .with_fix(
                format!("Configure a certificate that includes {host} on the server or proxy that answers for it."),
                None,
                None,
            ),
        );
    }
    if !tls.ok && !expired && !tls.sni_mismatch {
        let error = tls
            .error
            .clone()
            .unwrap_or_else(|| "handshake failed".to_owned());
        let untrusted = error.starts_with("self-signed") || error.starts_with("unknown issuer");
        out.push(
            Finding::new(
                if untrusted { "tls_untrusted" } else { "tls_handshake_failed" },
                Severity::Critical,
                format!("TLS to {host}: {error}"),
                if untrusted {
                    format!(
                        "Subject {}, issuer {}. Browsers show a certificate warning and fetch() fails.",
                        tls.subject.as_deref().unwrap_or("?"),
                        tls.issuer.as_deref().unwrap_or("?")
                    )
                } else {
                    "The TLS session could not be set up, so no HTTP request was sent.".to_owned()
                },
            )
            .with_fix(
                if untrusted {
                    "Serve a certificate from a public CA (e.g. Let's Encrypt) with the full chain (leaf + intermediates)."
                } else {
                    "Check that this port speaks TLS and supports TLS 1.2 or 1.3."
                },
                None,
                None,
            ),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// Whether the response counts as an HTTP error for the verdict.
pub fn http_is_error(http: &HttpResult, expected: Option<u16>) -> bool {
    !status_ok(http.status, expected) || http.fingerprint.generator == Generator::ProxyErrorPage
}

/// `HTTP 200 in 42 ms from 127.0.0.1:8080 (nginx)`.
pub fn http_summary(http: &HttpResult, addr: &str, expected: Option<u16>) -> String {
    let who = http
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("server"))
        .map(|(_, v)| v.clone())
        .or_else(|| {
            http.fingerprint
                .fingerprint
                .as_ref()
                .map(|_| http.fingerprint.label.clone())
        });
    let mut s = format!(
        "HTTP {} in {} from {addr}",
        http.status,
        fmt_ms(http.timing.total_ms)
    );
    if let Some(w) = who {
        s.push_str(&format!(" ({w})"));
    }
    if !http.redirects.is_empty() {
        s.push_str(&format!(
            " after {} redirect{} to {}",
            http.redirects.len(),
            if http.redirects.len() == 1 { "" } else { "s" },
            http.url
        ));
    }
    if let Some(e) = expected {
        if e != http.status {
            s.push_str(&format!(", expected {e}"));
        }
    }
    s
}

/// Who generated the answer, its status against the expectation, and the body's size.
pub fn http_findings(http: &HttpResult, expected: Option<u16>) -> Vec<Finding> {
    let mut out = Vec::new();
    let excerpt = body_excerpt(&http.body_head, 120);
    let expectation = match expected {
        Some(e) if e != http.status => format!(" (expected {e})"),
        _ => String::new(),
    };
    let fp = &http.fingerprint;
    let body_words = if http.body_size == 0 {
        "an empty body".to_owned()
    } else if http.body_truncated {
        format!("a body of at least {} bytes `{excerpt}`", http.body_size)
    } else {
        format!("a {}-byte body `{excerpt}`", http.body_size)
    };
    match fp.generator {
        Generator::ProxyErrorPage => out.push(
            Finding::new(
                "http_proxy_error_page",
                Severity::Critical,
                format!("HTTP {}{expectation} is {}, not your application", http.status, fp.label),
                format!(
                    "{}: {body_words}. The proxy answered itself because it could not use the backend (down, unhealthy, refusing, timing out, or no route). Browsers often report this as a CORS error, because the error page has no CORS headers.",
                    fp.evidence
                ),
            )
            .with_fix(
                "Probe the backend directly (its container address and port) and check the proxy's upstream/health-check configuration and logs.",
                None,
                None,
            ),
        ),
        Generator::FrameworkDefault if http.status >= 400 => out.push(
            Finding::new(
                "http_framework_default",
                Severity::Warning,
                format!("HTTP {}{expectation} with {body_words}: {}", http.status, fp.label),
                format!(
                    "{}. The request reached the application, but no handler of yours produced this answer: check the path (prefix, trailing slash, root_path behind a proxy) and the method.",
                    fp.evidence
                ),
            ),
        ),
        Generator::Application if http.status >= 400 => out.push(
            Finding::new(
                "http_application_error",
                Severity::Warning,
                format!("HTTP {}{expectation} with {body_words}, written by the application (or an upstream it passed through)", http.status),
                format!(
                    "{}{}. A handler ran and chose this status, so this is not a routing error: read the body. A framework's own \"not found\" looks different (e.g. FastAPI's is exactly 22 bytes).",
                    fp.label,
                    if fp.fingerprint.is_some() { format!(" ({})", fp.evidence) } else { String::new() }
                ),
            ),
        ),
        _ if http.status >= 400 => out.push(Finding::new(
            "http_error_status",
            Severity::Warning,
            format!("HTTP {}{expectation} with {body_words}", http.status),
            format!("{}: nothing identifies who generated it.", fp.evidence),
        )),
        _ => {}
    }
    if http.status < 400 && !status_ok(http.status, expected) {
        out.push(Finding::new(
            "http_unexpected_status",
            Severity::Warning,
            format!("HTTP {}{expectation}", http.status),
            format!(
                "The target answered, but not with the status configured as working. Body: {body_words}."
            ),
        ));
    }
    if http.body_truncated {
        out.push(Finding::new(
            "http_body_truncated",
            Severity::Info,
            format!("The body was cut after {} bytes", http.body_size),
            "The agent stops counting at 10 MiB or when the request timeout passes, whichever comes first.",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vantage_shared::fingerprint::attribute;
    use vantage_shared::probe::{DnsAnswer, HttpTiming};

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

    /// Incident 5: two 404s with different origins are told apart, with sizes and bytes.
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
}
