//! Agent-side reachability probes: DNS, TCP per resolved address, TLS, HTTP with timing
//! phases and redirects, response fingerprint and CORS evaluation.
//!
//! [`probe_target`] runs the whole pipeline for one configured target and never fails:
//! every failure becomes data (verdict, summary, findings). Each redirect hop goes through
//! the same DNS → TCP → TLS → HTTP steps. Everything a hostile target could stretch is
//! capped: connect and exchange timeouts, [`MAX_REDIRECTS`], and the body limits in
//! [`http`]. Which targets may be probed is the routes' business, not this module's.
//!
//! After redirects, `dns`, `tcp` and `tls` describe the hop that produced the outcome (the
//! final response, or the hop that failed); `http.redirects` lists the hops before it.

pub mod dns;
pub mod findings;
pub mod http;
pub mod tcp;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rustls::RootCertStore;
use vantage_shared::cors::{self, CorsRequest, CorsStage, CorsVerdict, ObservedResponse};
use vantage_shared::diagnosis::{sort_findings, Finding, Severity};
use vantage_shared::fingerprint::attribute;
use vantage_shared::probe::{
    parse_target_url, AgentProbe, HttpResult, HttpTiming, ReachVerdict, RedirectHop, Target,
    TargetAddress,
};

use self::http::{ExchangeError, Incoming, Io, Outgoing};

/// Connect timeout when none is configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Whole-HTTP-exchange timeout (request, head and body) when none is configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Redirects followed before giving up (browsers allow 20; five is plenty for an API and
/// bounds what one probe can cost).
pub const MAX_REDIRECTS: usize = 5;
/// The origin used for CORS when neither the target nor the caller gives one.
pub const DEFAULT_ORIGIN: &str = "http://localhost";

/// What a probe needs to know about this host and its limits.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// (network name, subnet CIDR) of Docker networks on this host, for address ownership.
    pub docker_networks: Vec<(String, String)>,
    /// Origin used for the CORS evaluation when the target has none (the dashboard's origin).
    pub default_origin: String,
    /// Per address; no answer within it is the firewall-drop signature.
    pub connect_timeout: Duration,
    /// The whole HTTP exchange including the body (and, for https, the TLS handshake).
    pub request_timeout: Duration,
}

impl Default for ProbeContext {
    fn default() -> Self {
        Self {
            docker_networks: Vec::new(),
            default_origin: DEFAULT_ORIGIN.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Probes one target from this host. Never panics, never errors: see the module docs.
pub async fn probe_target(target: &Target, ctx: &ProbeContext) -> AgentProbe {
    probe_with_roots(target, ctx, tls::system_roots()).await
}

/// Where the pipeline stopped, for the verdict and the summary.
#[derive(Debug, Clone, PartialEq)]
enum Stop {
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
    RedirectLimit,
    Done {
        addr: String,
    },
}

/// The CORS side of the probe: what the page asks for and what was observed.
struct CorsState {
    req: CorsRequest,
    /// The page and the target share an origin: CORS does not apply.
    same_origin: bool,
    /// The `Origin` currently sent (`null` after a cross-origin redirect taints it).
    origin_header: String,
    preflight: Option<ObservedResponse>,
    preflight_error: Option<String>,
    /// The first redirect response that fails the browser's CORS check, with the origin it
    /// was checked against: the browser stops there.
    blocking_hop: Option<(ObservedResponse, String)>,
}

/// Methods the agent sends as the actual request; others are replaced by GET because a
/// probe must not create, change or delete anything.
const SAFE_METHODS: [&str; 2] = ["GET", "HEAD"];

/// The page's request for the CORS evaluation, and the configured headers that are not
/// valid HTTP (dropped: a browser's `fetch()` would throw on them before sending anything).
fn cors_request(target: &Target, ctx: &ProbeContext) -> (CorsRequest, Vec<String>) {
    let origin = target
        .cors_origin
        .clone()
        .filter(|o| !o.trim().is_empty())
        .unwrap_or_else(|| ctx.default_origin.clone());
    let method = target
        .cors_method
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "GET".to_owned());
    let mut req = CorsRequest::new(origin, method);
    let mut invalid = Vec::new();
    for h in &target.cors_headers {
        match h.split_once(':') {
            Some((n, v))
                if hyper::header::HeaderName::from_bytes(n.trim().as_bytes()).is_ok()
                    && hyper::header::HeaderValue::from_str(v.trim()).is_ok() =>
            {
                req = req.header(n.trim(), v.trim());
            }
            _ => invalid.push(h.clone()),
        }
    }
    req.credentials = target.cors_credentials;
    (req, invalid)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Opens a fresh connection to an address already known to answer (for the preflight).
async fn reconnect(
    sock: SocketAddr,
    addr: &TargetAddress,
    roots: &Arc<RootCertStore>,
    ctx: &ProbeContext,
) -> Result<Box<dyn Io>, String> {
    let attempt = tcp::connect_one(sock, ctx.connect_timeout).await;
    let Some(stream) = attempt.stream else {
        return Err(format!(
            "TCP connect to {} for the preflight failed ({})",
            attempt.report.address,
            attempt
                .report
                .error
                .unwrap_or_else(|| format!("{:?}", attempt.report.outcome))
        ));
    };
    if addr.scheme != "https" {
        return Ok(Box::new(stream));
    }
    let hs = tls::handshake(stream, &addr.host, roots.clone(), ctx.request_timeout).await;
    match hs.stream {
        Some(s) => Ok(Box::new(s)),
        None => Err(hs.result.error.unwrap_or_else(|| "TLS failed".to_owned())),
    }
}

/// The request line and headers every probe request starts with.
fn base_headers(addr: &TargetAddress) -> Vec<(String, String)> {
    vec![
        ("Host".to_owned(), http::host_header(addr)),
        ("User-Agent".to_owned(), http::USER_AGENT.to_owned()),
    ]
}

/// The preflight exactly as a browser sends it (plus `Host` and our `User-Agent`).
fn preflight_request(addr: &TargetAddress, req: &CorsRequest) -> Outgoing {
    let mut headers = base_headers(addr);
    headers.extend(cors::preflight_request_headers(req));
    Outgoing {
        method: cors::PREFLIGHT_METHOD.to_owned(),
        path: addr.path.clone(),
        headers,
    }
}

/// The probe's main request, which doubles as the CORS "actual" request: one exchange gives
/// both the reachability answer and the response headers a browser would check, and the
/// server sees the same request a page would make (same `Origin`, same headers), so a
/// server that varies on `Origin` answers the probe as it answers the page.
fn actual_request(addr: &TargetAddress, method: &str, cors: Option<&CorsState>) -> Outgoing {
    let mut headers = base_headers(addr);
    headers.push(("Accept".to_owned(), "*/*".to_owned()));
    if let Some(c) = cors.filter(|c| !c.same_origin) {
        let mut req = c.req.clone();
        req.origin = c.origin_header.clone();
        for (name, value) in cors::actual_request_headers(&req) {
            // The page's own Accept replaces ours, as it would in the browser.
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            headers.push((name, value));
        }
    }
    Outgoing {
        method: method.to_owned(),
        path: addr.path.clone(),
        headers,
    }
}

fn observed(inc: &Incoming, redirected: bool) -> ObservedResponse {
    ObservedResponse {
        status: inc.status,
        headers: inc.headers.clone(),
        redirected,
    }
}

/// Whether a redirect response fails the browser's CORS check (every hop must pass it).
fn hop_blocks(req: &CorsRequest, origin: &str, resp: &ObservedResponse) -> bool {
    const CORS_CHECK: [&str; 5] = [
        "acao_present",
        "acao_single_value",
        "credentials_no_wildcard",
        "acao_matches_origin",
        "acac_true",
    ];
    let mut req = req.clone();
    req.origin = origin.to_owned();
    cors::evaluate(&req, None, Some(resp))
        .checks
        .iter()
        .any(|c| {
            c.stage == CorsStage::Actual
                && c.verdict == CorsVerdict::Fail
                && CORS_CHECK.contains(&c.rule.as_str())
        })
}

fn http_result(
    url: &str,
    inc: &Incoming,
    timing: HttpTiming,
    redirects: Vec<RedirectHop>,
) -> HttpResult {
    let head = &inc.body[..inc.body.len().min(http::BODY_HEAD)];
    HttpResult {
        url: url.to_owned(),
        status: inc.status,
        headers: inc.headers.clone(),
        body_size: inc.body_size,
        body_head: String::from_utf8_lossy(head).into_owned(),
        body_truncated: inc.truncated,
        timing,
        redirects,
        fingerprint: attribute(inc.status, &inc.headers, &inc.body),
    }
}

/// [`probe_target`] with the trust roots given, so tests can trust their own CA.
pub(crate) async fn probe_with_roots(
    target: &Target,
    ctx: &ProbeContext,
    roots: Arc<RootCertStore>,
) -> AgentProbe {
    let started = Instant::now();
    let mut probe = AgentProbe {
        target_id: target.id.clone(),
        at: Utc::now(),
        dns: None,
        tcp: Vec::new(),
        tls: None,
        http: None,
        cors: None,
        verdict: ReachVerdict::Unknown,
        summary: String::new(),
        findings: Vec::new(),
    };
    let first = match parse_target_url(&target.url) {
        Ok(a) => a,
        Err(e) => {
            conclude(&mut probe, target, Stop::BadUrl(e), None, &[]);
            return probe;
        }
    };

    let mut notes = Vec::new();
    let mut cors_state = first.is_http().then(|| {
        let (req, invalid) = cors_request(target, ctx);
        if !invalid.is_empty() {
            notes.push(Finding::new(
                "cors_header_invalid",
                Severity::Warning,
                format!("Not sent: {} (not a valid HTTP header)", invalid.join(", ")),
                "fetch() throws a TypeError for such a header before any request is sent; fix the page's code and the target's CORS headers.",
            ));
        }
        let origin = cors::serialize_origin(&req.origin);
        CorsState {
            same_origin: origin == http::origin_of(&first),
            origin_header: origin,
            req,
            preflight: None,
            preflight_error: None,
            blocking_hop: None,
        }
    });
    let page_method =
        cors::normalize_method(cors_state.as_ref().map_or("GET", |c| c.req.method.as_str()));
    let wire_method = if SAFE_METHODS.contains(&page_method.as_str()) {
        page_method.clone()
    } else {
        "GET".to_owned()
    };
    if wire_method != page_method {
        notes.push(Finding::new(
            "cors_method_not_sent",
            Severity::Info,
            format!("The page sends {page_method}; the agent sent GET with the same headers"),
            format!(
                "A probe must not change data, so the actual request was a GET; the CORS headers a server sends rarely depend on the method. The preflight (OPTIONS, announcing {page_method}) was sent exactly as a browser would."
            ),
        ));
    }

    let mut current = first.clone();
    let mut hops: Vec<RedirectHop> = Vec::new();
    let stop = loop {
        let resolved = dns::resolve(&current.host, &ctx.docker_networks).await;
        let dns_ms = resolved.dns.elapsed_ms;
        probe.dns = Some(resolved.dns);
        probe.tls = None;
        if resolved.addrs.is_empty() {
            probe.tcp.clear();
            break Stop::Dns;
        }
        let mut attempts =
            tcp::connect_all(&resolved.addrs, current.port, ctx.connect_timeout).await;
        probe.tcp = attempts.iter().map(|a| a.report.clone()).collect();
        let picked = tcp::pick(&mut attempts);
        // The other connections are not used: close them now.
        drop(attempts);
        let Some((stream, sock, connect_ms)) = picked else {
            break Stop::Tcp;
        };
        let addr = tcp::display_addr(sock);
        if !current.is_http() {
            break Stop::TcpOnly { addr };
        }

        let (io, tls_ms): (Box<dyn Io>, f64) = if current.scheme == "https" {
            let hs =
                tls::handshake(stream, &current.host, roots.clone(), ctx.request_timeout).await;
            let tls_ms = hs.result.elapsed_ms;
            probe.tls = Some(hs.result);
            match hs.stream {
                Some(s) => (Box::new(s), tls_ms),
                // Silence after TCP is the same symptom with or without TLS.
                None if hs.timed_out => {
                    break Stop::HttpTimeout {
                        addr,
                        after_ms: tls_ms,
                    }
                }
                None => break Stop::Tls { addr },
            }
        } else {
            (Box::new(stream), 0.0)
        };

        // The browser sends the preflight first, to the URL the page asked for.
        if let Some(c) = cors_state.as_mut() {
            if hops.is_empty() && !c.same_origin && cors::needs_preflight(&c.req) {
                let pre = preflight_request(&current, &c.req);
                match reconnect(sock, &current, &roots, ctx).await {
                    Err(e) => c.preflight_error = Some(e),
                    Ok(pio) => match http::exchange(pio, &pre, ctx.request_timeout, true).await {
                        Ok(inc) => c.preflight = Some(observed(&inc, false)),
                        Err(e) => c.preflight_error = Some(e.to_string()),
                    },
                }
            }
        }

        let out = actual_request(&current, &wire_method, cors_state.as_ref());
        let inc = match http::exchange(io, &out, ctx.request_timeout, true).await {
            Err(ExchangeError::Timeout { after_ms }) => break Stop::HttpTimeout { addr, after_ms },
            Err(ExchangeError::BadRequest(error)) | Err(ExchangeError::Failed(error)) => {
                break Stop::HttpFailed { addr, error }
            }
            Ok(inc) => inc,
        };
        let url = http::url_of(&current);
        let timing = HttpTiming {
            dns_ms,
            connect_ms,
            tls_ms,
            first_byte_ms: inc.first_byte_ms,
            // The whole probe: earlier hops and the preflight are part of what a page waits.
            total_ms: ms(started),
        };
        let location = header(&inc.headers, "location").map(str::to_owned);
        let Some(location) = location.filter(|_| matches!(inc.status, 301 | 302 | 303 | 307 | 308))
        else {
            probe.http = Some(http_result(&url, &inc, timing, hops));
            break Stop::Done { addr };
        };

        if let Some(c) = cors_state.as_mut().filter(|c| !c.same_origin) {
            let resp = observed(&inc, !hops.is_empty());
            if c.blocking_hop.is_none() && hop_blocks(&c.req, &c.origin_header, &resp) {
                c.blocking_hop = Some((resp, c.origin_header.clone()));
            }
        }
        if hops.len() >= MAX_REDIRECTS {
            probe.http = Some(http_result(&url, &inc, timing, hops));
            break Stop::RedirectLimit;
        }
        let next =
            match http::resolve_location(&current, &location).and_then(|u| parse_target_url(&u)) {
                Ok(n) => n,
                Err(error) => {
                    probe.http = Some(http_result(&url, &inc, timing, hops));
                    break Stop::RedirectBroken { error };
                }
            };
        hops.push(RedirectHop {
            url,
            status: inc.status,
            location,
        });
        // Fetch: a redirect from a cross-origin URL to yet another origin taints the
        // request's origin, and from then on the browser sends `Origin: null`.
        if let Some(c) = cors_state.as_mut() {
            let page = cors::serialize_origin(&c.req.origin);
            let (cur, nxt) = (http::origin_of(&current), http::origin_of(&next));
            if cur != nxt && page != cur {
                c.origin_header = "null".to_owned();
            }
        }
        current = next;
    };

    // CORS: evaluated on what the browser would see: the first redirect that fails its check
    // (the browser stops there), otherwise the final response.
    if let (Some(c), Some(final_http)) = (cors_state.as_ref(), probe.http.as_ref()) {
        if !c.same_origin {
            let (actual, origin) = match &c.blocking_hop {
                Some((resp, origin)) => (resp.clone(), origin.clone()),
                None => (
                    ObservedResponse {
                        status: final_http.status,
                        headers: final_http.headers.clone(),
                        redirected: !final_http.redirects.is_empty(),
                    },
                    c.origin_header.clone(),
                ),
            };
            let mut req = c.req.clone();
            req.origin = origin;
            probe.cors = Some(cors::evaluate(&req, c.preflight.as_ref(), Some(&actual)));
        }
    }
    if let Some(c) = cors_state.as_ref() {
        if c.same_origin {
            notes.push(Finding::new(
                "cors_same_origin",
                Severity::Info,
                format!(
                    "The page origin {} is the target's own origin: CORS does not apply",
                    c.origin_header
                ),
                "Browsers only apply CORS to requests to another origin (scheme, host and port).",
            ));
        }
        if let Some(e) = &c.preflight_error {
            notes.push(Finding::new(
                "cors_preflight_failed",
                Severity::Warning,
                "The CORS preflight (OPTIONS) got no answer".to_owned(),
                format!("{e}. Without a preflight answer the browser never sends the request."),
            ));
        }
    }

    conclude(&mut probe, target, stop, Some(&first), &notes);
    probe
}

/// Sets verdict, summary and findings from what was observed and where it stopped.
fn conclude(
    probe: &mut AgentProbe,
    target: &Target,
    stop: Stop,
    first: Option<&TargetAddress>,
    notes: &[Finding],
) {
    let host = probe
        .dns
        .as_ref()
        .map(|d| d.host.clone())
        .or_else(|| first.map(|f| f.host.clone()))
        .unwrap_or_default();
    let mut out: Vec<Finding> = Vec::new();
    if let Some(dns) = &probe.dns {
        out.extend(findings::dns_findings(dns));
    }
    if !probe.tcp.is_empty() {
        out.extend(findings::tcp_findings(&host, &probe.tcp));
    }
    if let Some(tls) = &probe.tls {
        // A handshake that timed out is reported once, as the missing answer below.
        if tls.ok || !matches!(stop, Stop::HttpTimeout { .. }) {
            out.extend(findings::tls_findings(&host, tls, Utc::now()));
        }
    }
    if let Some(http) = &probe.http {
        out.extend(findings::http_findings(http, target.expected_status));
    }
    if let Some(report) = &probe.cors {
        if !report.allowed {
            out.push(report.finding.clone());
        }
    }
    let (verdict, summary) = match &stop {
        Stop::BadUrl(e) => {
            out.push(Finding::new(
                "target_invalid",
                Severity::Critical,
                format!("The target URL `{}` is not valid: {e}", target.url),
                "Fix the target's URL in the configuration or the dashboard.",
            ));
            (
                ReachVerdict::Unknown,
                format!("Not probed: the URL is not valid ({e})"),
            )
        }
        Stop::Dns => (
            ReachVerdict::DnsFailed,
            probe
                .dns
                .as_ref()
                .map(findings::dns_failure_summary)
                .unwrap_or_else(|| format!("DNS: {host} did not resolve")),
        ),
        Stop::Tcp => findings::tcp_failure(&host, &probe.tcp),
        Stop::TcpOnly { addr } => {
            let ms = probe
                .tcp
                .iter()
                .find(|a| &a.address == addr)
                .map_or(0.0, |a| a.elapsed_ms);
            (
                ReachVerdict::Reachable,
                format!("TCP connect to {addr} in {}", findings::fmt_ms(ms)),
            )
        }
        Stop::Tls { addr } => (
            ReachVerdict::TlsFailed,
            probe.tls.as_ref().map_or_else(
                || format!("TLS to {host} ({addr}) failed"),
                |t| findings::tls_failure_summary(&host, addr, t),
            ),
        ),
        Stop::HttpTimeout { addr, after_ms } => {
            let what = if probe.tls.as_ref().is_some_and(|t| !t.ok) {
                "TLS handshake"
            } else {
                "HTTP response"
            };
            let summary = format!(
                "TCP connected to {addr}, but no {what} within {} (the server accepted the connection and never answered)",
                findings::fmt_secs(*after_ms)
            );
            out.push(
                Finding::new(
                    "http_no_response",
                    Severity::Critical,
                    summary.clone(),
                    "The network path works (TCP connected); the process behind the port is stuck, overloaded, or waiting on something else (a database, a model still loading).",
                )
                .with_fix("Look at the service's own logs and health; raise the client timeout only if slow answers are expected.", None, None),
            );
            (ReachVerdict::TimedOut, summary)
        }
        Stop::HttpFailed { addr, error } => {
            let summary = format!("HTTP to {addr} failed: {error}");
            out.push(Finding::new(
                "http_failed",
                Severity::Critical,
                summary.clone(),
                "TCP connected, but the exchange broke before a complete response: the server closed or reset the connection, or does not speak HTTP/1.1 here.",
            ));
            (ReachVerdict::HttpError, summary)
        }
        Stop::RedirectBroken { error } => {
            let status = probe.http.as_ref().map_or(0, |h| h.status);
            let summary = format!("HTTP {status}: cannot follow the redirect ({error})");
            out.push(Finding::new(
                "http_redirect_broken",
                Severity::Critical,
                summary.clone(),
                "Browsers cannot follow this redirect either, so fetch() fails.",
            ));
            (ReachVerdict::HttpError, summary)
        }
        Stop::RedirectLimit => {
            let summary = format!(
                "Stopped after {MAX_REDIRECTS} redirects (the agent's limit) at {}",
                probe.http.as_ref().map_or("?", |h| h.url.as_str())
            );
            out.push(Finding::new(
                "http_redirect_limit",
                Severity::Warning,
                summary.clone(),
                "A chain this long is slow for every client and often a redirect loop (http ↔ https, with and without a trailing slash). Point the target at the final URL.",
            ));
            (ReachVerdict::Unknown, summary)
        }
        Stop::Done { addr } => match &probe.http {
            Some(http) => {
                let summary = findings::http_summary(http, addr, target.expected_status);
                let verdict = if findings::http_is_error(http, target.expected_status) {
                    ReachVerdict::HttpError
                } else {
                    ReachVerdict::Reachable
                };
                (verdict, summary)
            }
            None => (ReachVerdict::Unknown, "No HTTP result".to_owned()),
        },
    };
    out.extend(notes.iter().cloned());
    sort_findings(&mut out);
    probe.verdict = verdict;
    probe.summary = summary;
    probe.findings = out;
}

#[cfg(test)]
mod tests;
