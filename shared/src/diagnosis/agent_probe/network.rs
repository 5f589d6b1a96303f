//! DNS and TCP findings of an agent probe: names that do not resolve, answers behind a CDN,
//! and the per-address connects: a dropped address family, partly dead address sets,
//! refusals and silent drops.

use crate::diagnosis::{Finding, FindingCode, Severity};
use crate::ownership;
use crate::probe::{AddressFamily, AddressOwner, DnsResult, ReachVerdict, TcpAttempt, TcpOutcome};

use super::{fmt_ms, fmt_secs};

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
                FindingCode::DnsNoAnswer,
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
            FindingCode::DnsPartialFailure,
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
                FindingCode::ResolvesToCdn,
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
                FindingCode::AddressFamilySplit,
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
                FindingCode::SomeAddressesFail,
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
                FindingCode::TcpTimedOut,
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
                FindingCode::TcpRefused,
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
