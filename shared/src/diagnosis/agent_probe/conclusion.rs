//! An agent probe's verdict, one-line summary and findings, drawn from what it observed and
//! where its pipeline stopped ([`ProbeStop`]). The agent runs the network steps and hands
//! their results here; every wording is decided in this crate.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::diagnosis::cors_snippet::{retarget, Responder};
use crate::diagnosis::{sort_findings, Finding, FindingCode, Severity};
use crate::probe::{AgentProbe, HttpResult, ReachVerdict, Target, TargetAddress};

use super::{
    dns_failure_summary, dns_findings, fmt_limit, fmt_ms, fmt_secs, http_findings, http_is_error,
    http_summary, tcp_failure, tcp_findings, tls_failure_summary, tls_findings,
};

/// Address classes a redirect may lead into only when the configured target is in the same
/// class: this host itself, its link (the cloud metadata service at 169.254.169.254), and
/// the unspecified address, which the kernel delivers to this host. A hostile target, or
/// whoever controls its DNS, could otherwise steer the agent at internal services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitive {
    Loopback,
    LinkLocal,
    Unspecified,
}

impl Sensitive {
    /// The class in words, for the `redirect_blocked` finding.
    pub fn label(self) -> &'static str {
        match self {
            Self::Loopback => "a loopback address (this host)",
            Self::LinkLocal => "a link-local address (where cloud metadata services live)",
            Self::Unspecified => "an unspecified address (which reaches this host)",
        }
    }
}

/// Where the agent's probe pipeline stopped, for the verdict and the summary.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeStop {
    BadUrl(String),
    Dns,
    Tcp,
    TcpOnly {
        addr: String,
    },
    Tls {
        addr: String,
    },
    HttpTimeout {
        addr: String,
        after_ms: f64,
    },
    HttpFailed {
        addr: String,
        error: String,
    },
    /// A redirect the browser could not follow either (bad Location, other scheme).
    RedirectBroken {
        error: String,
    },
    /// More redirects than the agent follows (`limit`); `probe.http` is the last response.
    RedirectLimit {
        limit: usize,
    },
    /// A redirect into a [`Sensitive`] class the target is not in; `probe.http` is the
    /// redirect response, from `addr`.
    RedirectBlocked {
        addr: String,
        to: String,
        ip: IpAddr,
        class: Sensitive,
    },
    /// The whole probe ran past its deadline (`limit`), while in `phase`.
    Deadline {
        limit: Duration,
        phase: String,
    },
    Done {
        addr: String,
    },
}

/// Sets verdict, summary and findings from what was observed and where it stopped.
/// `first` is the target's parsed URL (for the host name when DNS never answered), `notes`
/// are the pipeline's own findings, and certificates are judged at `now`.
pub fn conclude(
    probe: &mut AgentProbe,
    target: &Target,
    stop: &ProbeStop,
    first: Option<&TargetAddress>,
    notes: &[Finding],
    now: DateTime<Utc>,
) {
    let host = probe
        .dns
        .as_ref()
        .map(|d| d.host.clone())
        .or_else(|| first.map(|f| f.host.clone()))
        .unwrap_or_default();
    let mut out = observed_findings(probe, target, stop, &host, now);
    let (verdict, summary) = verdict_and_summary(probe, target, stop, &host, &mut out);
    let (verdict, summary) = with_cors_headline(probe, target, verdict, summary);
    out.extend(notes.iter().cloned());
    // The CORS fix in the syntax of whoever answered (HAProxy's for HAProxy, …).
    if let Some(r) = probe.http.as_ref().and_then(Responder::of) {
        for f in &mut out {
            retarget(f, r);
        }
        if let Some(c) = probe.cors.as_mut() {
            retarget(&mut c.finding, r);
        }
    }
    sort_findings(&mut out);
    probe.verdict = verdict;
    probe.summary = summary;
    probe.findings = out;
}

/// A target that names the page's origin is about that page: when the page cannot read
/// (or, in no-cors mode, cannot even send) what the agent reached, the headline says so and
/// the verdict is `cors_blocked`, not a green "reachable" (it still counts as up).
fn with_cors_headline(
    probe: &AgentProbe,
    target: &Target,
    verdict: ReachVerdict,
    summary: String,
) -> (ReachVerdict, String) {
    let origin = target
        .cors_origin
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    let blocked = probe.cors.as_ref().and_then(|c| {
        let rule = c.first_failure.and_then(|i| c.checks.get(i))?;
        (!c.allowed).then_some((c.mode, rule))
    });
    match blocked {
        Some((mode, rule)) if verdict == ReachVerdict::Reachable && !origin.is_empty() => {
            let what = match mode {
                crate::cors::RequestMode::Cors => "cannot read it",
                crate::cors::RequestMode::NoCors => "cannot send this request",
            };
            (
                ReachVerdict::CorsBlocked,
                format!(
                    "{summary}, but pages on {origin} {what} (CORS: {} rule `{}` fails)",
                    rule.stage, rule.rule
                ),
            )
        }
        _ => (verdict, summary),
    }
}

/// The findings of each step that ran: DNS, TCP, TLS, HTTP and the CORS verdict.
fn observed_findings(
    probe: &AgentProbe,
    target: &Target,
    stop: &ProbeStop,
    host: &str,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    if let Some(dns) = &probe.dns {
        out.extend(dns_findings(dns));
    }
    if !probe.tcp.is_empty() {
        out.extend(tcp_findings(host, &probe.tcp));
    }
    if let Some(tls) = &probe.tls {
        // A handshake that timed out is reported once, as the missing answer below.
        if tls.ok || !matches!(stop, ProbeStop::HttpTimeout { .. }) {
            out.extend(tls_findings(host, tls, now));
        }
    }
    if let Some(http) = &probe.http {
        out.extend(http_findings(http, target.expected_status));
    }
    if let Some(report) = &probe.cors {
        if !report.allowed {
            out.push(report.finding.clone());
        }
    }
    out
}

/// The verdict and summary for where the pipeline stopped; stops that no step's findings
/// describe add their own finding to `out`.
fn verdict_and_summary(
    probe: &AgentProbe,
    target: &Target,
    stop: &ProbeStop,
    host: &str,
    out: &mut Vec<Finding>,
) -> (ReachVerdict, String) {
    match stop {
        ProbeStop::BadUrl(e) => {
            out.push(Finding::new(
                FindingCode::TargetInvalid,
                Severity::Critical,
                format!("The target URL `{}` is not valid: {e}", target.url),
                "Fix the target's URL in the configuration or the dashboard.",
            ));
            (
                ReachVerdict::Unknown,
                format!("Not probed: the URL is not valid ({e})"),
            )
        }
        ProbeStop::Dns => (
            ReachVerdict::DnsFailed,
            probe
                .dns
                .as_ref()
                .map(dns_failure_summary)
                .unwrap_or_else(|| format!("DNS: {host} did not resolve")),
        ),
        ProbeStop::Tcp => tcp_failure(host, &probe.tcp),
        ProbeStop::TcpOnly { addr } => {
            let ms = probe
                .tcp
                .iter()
                .find(|a| &a.address == addr)
                .map_or(0.0, |a| a.elapsed_ms);
            (
                ReachVerdict::Reachable,
                format!("TCP connect to {addr} in {}", fmt_ms(ms)),
            )
        }
        ProbeStop::Tls { addr } => (
            ReachVerdict::TlsFailed,
            probe.tls.as_ref().map_or_else(
                || format!("TLS to {host} ({addr}) failed"),
                |t| tls_failure_summary(host, addr, t),
            ),
        ),
        ProbeStop::HttpTimeout { addr, after_ms } => http_timeout(probe, addr, *after_ms, out),
        ProbeStop::HttpFailed { addr, error } => {
            let summary = format!("HTTP to {addr} failed: {error}");
            out.push(Finding::new(
                FindingCode::HttpFailed,
                Severity::Critical,
                summary.clone(),
                "TCP connected, but the exchange broke before a complete response: the server closed or reset the connection, or does not speak HTTP/1.1 here.",
            ));
            (ReachVerdict::HttpError, summary)
        }
        ProbeStop::RedirectBroken { error } => {
            let status = probe.http.as_ref().map_or(0, |h| h.status);
            let summary = format!("HTTP {status}: cannot follow the redirect ({error})");
            out.push(Finding::new(
                FindingCode::HttpRedirectBroken,
                Severity::Critical,
                summary.clone(),
                "Browsers cannot follow this redirect either, so fetch() fails.",
            ));
            (ReachVerdict::HttpError, summary)
        }
        ProbeStop::RedirectLimit { limit } => redirect_limit(probe, *limit, out),
        ProbeStop::RedirectBlocked {
            addr,
            to,
            ip,
            class,
        } => redirect_blocked(probe, target, addr, to, *ip, *class, out),
        ProbeStop::Deadline { limit, phase } => deadline(*limit, phase, out),
        ProbeStop::Done { addr } => match &probe.http {
            Some(http) => answered(http, addr, target.expected_status),
            None => (ReachVerdict::Unknown, "No HTTP result".to_owned()),
        },
    }
}

/// The final response's verdict and summary.
fn answered(http: &HttpResult, addr: &str, expected: Option<u16>) -> (ReachVerdict, String) {
    let summary = http_summary(http, addr, expected);
    let verdict = if http_is_error(http, expected) {
        ReachVerdict::HttpError
    } else {
        ReachVerdict::Reachable
    };
    (verdict, summary)
}

/// TCP connected and then nothing: no TLS handshake or no HTTP response in time.
fn http_timeout(
    probe: &AgentProbe,
    addr: &str,
    after_ms: f64,
    out: &mut Vec<Finding>,
) -> (ReachVerdict, String) {
    let what = if probe.tls.as_ref().is_some_and(|t| !t.ok) {
        "TLS handshake"
    } else {
        "HTTP response"
    };
    let summary = format!(
        "TCP connected to {addr}, but no {what} within {} (the server accepted the connection and never answered)",
        fmt_secs(after_ms)
    );
    out.push(
        Finding::new(
            FindingCode::HttpNoResponse,
            Severity::Critical,
            summary.clone(),
            "The network path works (TCP connected); the process behind the port is stuck, overloaded, or waiting on something else (a database, a model still loading).",
        )
        .with_fix("Look at the service's own logs and health; raise the client timeout only if slow answers are expected.", None, None),
    );
    (ReachVerdict::TimedOut, summary)
}

fn redirect_limit(
    probe: &AgentProbe,
    limit: usize,
    out: &mut Vec<Finding>,
) -> (ReachVerdict, String) {
    let summary = format!(
        "More than {limit} redirects (the agent's limit): stopped at HTTP {} from {}",
        probe.http.as_ref().map_or(0, |h| h.status),
        probe.http.as_ref().map_or("?", |h| h.url.as_str())
    );
    out.push(Finding::new(
        FindingCode::HttpRedirectLimit,
        Severity::Warning,
        summary.clone(),
        "A chain this long is slow for every client and often a redirect loop (http ↔ https, with and without a trailing slash). Point the target at the final URL.",
    ));
    (ReachVerdict::HttpError, summary)
}

/// A redirect the agent refused to follow: the verdict is the redirect response's.
fn redirect_blocked(
    probe: &AgentProbe,
    target: &Target,
    addr: &str,
    to: &str,
    ip: IpAddr,
    class: Sensitive,
    out: &mut Vec<Finding>,
) -> (ReachVerdict, String) {
    let finding = format!(
        "The redirect to {to} was not followed: it resolves to {ip}, {}",
        class.label()
    );
    out.push(
        Finding::new(
            FindingCode::RedirectBlocked,
            Severity::Warning,
            finding.clone(),
            "The agent follows a redirect into loopback, link-local or unspecified addresses only when the target itself resolves there: otherwise a target (or whoever controls its DNS) could point the agent at services on its own host or at the cloud metadata endpoint. The verdict is the redirect response's.",
        )
        .with_fix(
            "If the redirect is intended, probe its destination as a target of its own.",
            None,
            None,
        ),
    );
    match &probe.http {
        Some(http) => {
            let (verdict, summary) = answered(http, addr, target.expected_status);
            (verdict, format!("{summary}; {finding}"))
        }
        None => (ReachVerdict::Unknown, finding),
    }
}

fn deadline(limit: Duration, phase: &str, out: &mut Vec<Finding>) -> (ReachVerdict, String) {
    let limit = fmt_limit(limit);
    let summary = if phase.is_empty() {
        format!("The whole probe exceeded {limit} (the agent's limit for one probe)")
    } else {
        format!("The whole probe exceeded {limit} (the agent's limit for one probe), while {phase}")
    };
    out.push(
        Finding::new(
            FindingCode::ProbeDeadline,
            Severity::Critical,
            summary.clone(),
            "Each step stayed within its own timeout, but together (DNS, connects, TLS, preflights, every redirect hop) they took longer than one probe may: a slow redirect chain, a server that trickles its answer, or slow DNS. A page's user would have given up too.",
        )
        .with_fix(
            "Look at the phase it was in, and at the service's logs; point the target at the final URL if redirects add up.",
            None,
            None,
        ),
    );
    (ReachVerdict::TimedOut, summary)
}
