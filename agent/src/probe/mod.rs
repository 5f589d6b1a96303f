//! Agent-side reachability probes: DNS, TCP per resolved address, TLS, HTTP with timing
//! phases and redirects, response fingerprint and CORS evaluation.
//!
//! [`probe_target`] runs the whole pipeline for one configured target and never fails:
//! every failure becomes data (verdict, summary, findings). Each redirect hop goes through
//! the same DNS → TCP → TLS → HTTP steps (and, where the browser would, a preflight).
//! Everything a hostile target could stretch is capped: connect and exchange timeouts, one
//! deadline for the whole probe ([`PROBE_DEADLINE`]), [`MAX_REDIRECTS`], the addresses tried
//! per hop ([`tcp::MAX_ADDRESSES`]) and the body limits in [`http`]. A target cannot use
//! redirects to borrow the agent either: configured page headers (credentials) never leave
//! the target's origin, and a redirect into loopback, link-local or unspecified addresses is
//! not followed unless the target itself lives there. Which targets may be probed is the
//! routes' business, not this module's.
//!
//! After redirects, `dns`, `tcp` and `tls` describe the hop that produced the outcome (the
//! final response, or the hop that failed); `http.redirects` lists the hops before it.

pub mod dns;
pub mod findings;
pub mod http;
pub mod tcp;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
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

use self::http::{BodyRead, ExchangeError, Incoming, Io, Outgoing};

/// Connect timeout when none is configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Whole-HTTP-exchange timeout (request, head and body) when none is configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole of one probe when none is configured: DNS, connects, TLS, preflights, HTTP and
/// every redirect hop. Each step has its own timeout, but six hops of them would add up to
/// minutes; a page's user gives up long before.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(30);
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
    /// The whole probe, every hop included ([`PROBE_DEADLINE`] by default).
    pub deadline: Duration,
}

impl Default for ProbeContext {
    fn default() -> Self {
        Self {
            docker_networks: Vec::new(),
            default_origin: DEFAULT_ORIGIN.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            deadline: PROBE_DEADLINE,
        }
    }
}

/// Probes one target from this host. Never panics, never errors: see the module docs.
pub async fn probe_target(target: &Target, ctx: &ProbeContext) -> AgentProbe {
    probe_with_roots(target, ctx, tls::system_roots()).await
}

/// Address classes a redirect may lead into only when the configured target is in the same
/// class: this host itself, its link (the cloud metadata service at 169.254.169.254), and
/// the unspecified address, which the kernel delivers to this host. A hostile target, or
/// whoever controls its DNS, could otherwise steer the agent at internal services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sensitive {
    Loopback,
    LinkLocal,
    Unspecified,
}

impl Sensitive {
    /// The class of `ip`, if it is one; IPv4-mapped IPv6 counts as its IPv4 address, as the
    /// kernel routes it.
    pub(crate) fn of(ip: IpAddr) -> Option<Self> {
        match ip.to_canonical() {
            IpAddr::V4(v4) if v4.is_loopback() => Some(Self::Loopback),
            IpAddr::V4(v4) if v4.is_link_local() => Some(Self::LinkLocal),
            // 0.0.0.0/8 is "this network": Linux delivers 0.0.0.0 to the local host.
            IpAddr::V4(v4) if v4.octets()[0] == 0 => Some(Self::Unspecified),
            IpAddr::V6(v6) if v6.is_loopback() => Some(Self::Loopback),
            IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(Self::LinkLocal),
            IpAddr::V6(v6) if v6.is_unspecified() => Some(Self::Unspecified),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Loopback => "a loopback address (this host)",
            Self::LinkLocal => "a link-local address (where cloud metadata services live)",
            Self::Unspecified => "an unspecified address (which reaches this host)",
        }
    }
}

/// Whether a redirect hop that resolved to `hop` may be followed from a target that resolved
/// to `target`: `None` when it may, otherwise the first address in a [`Sensitive`] class
/// the target does not share. Every address counts, since every one would be connected to.
pub(crate) fn redirect_block(target: &[IpAddr], hop: &[IpAddr]) -> Option<(IpAddr, Sensitive)> {
    let allowed: Vec<Sensitive> = target.iter().filter_map(|&ip| Sensitive::of(ip)).collect();
    hop.iter().find_map(|&ip| {
        Sensitive::of(ip)
            .filter(|class| !allowed.contains(class))
            .map(|class| (ip, class))
    })
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
    /// A redirect into a [`Sensitive`] class the target is not in; `probe.http` is the
    /// redirect response, from `addr`.
    RedirectBlocked {
        addr: String,
        to: String,
        ip: IpAddr,
        class: Sensitive,
    },
    /// The whole probe ran past [`ProbeContext::deadline`] (`limit`), while in `phase`.
    Deadline {
        limit: Duration,
        phase: String,
    },
    Done {
        addr: String,
    },
}

/// What the browser evaluates at one CORS step: its request then, the preflight that
/// preceded it (if one was needed and answered), and the response.
type CorsStep = (CorsRequest, Option<ObservedResponse>, ObservedResponse);

/// The CORS side of the probe: what the page asks for and what was observed.
struct CorsState {
    /// The page's request as configured.
    req: CorsRequest,
    /// The page and the target share an origin: CORS does not apply.
    same_origin: bool,
    /// The request as the browser holds it at the current hop: `origin` is the `Origin`
    /// sent (serialised; `null` once a cross-origin redirect taints it), and method and
    /// headers are after the browser's redirect rewriting (Fetch "HTTP-redirect fetch").
    hop: CorsRequest,
    /// The preflight answer for the current hop, when it needed one.
    preflight: Option<ObservedResponse>,
    /// Preflights that got no answer, each in words.
    preflight_errors: Vec<String>,
    /// The first step that fails the browser's checks (a preflight, or a redirect response):
    /// the browser stops there. With the URL it happened at and whether it was a preflight
    /// after a redirect.
    blocked: Option<(CorsStep, String, bool)>,
    /// The latest response, with the request and preflight that led to it.
    last: Option<CorsStep>,
}

/// Methods the agent sends as the actual request; others are replaced by GET because a
/// probe must not create, change or delete anything.
const SAFE_METHODS: [&str; 2] = ["GET", "HEAD"];

/// Headers through which frameworks (Express `method-override`, Symfony, Rails, ASP.NET)
/// let a GET or POST act as another method.
const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Whether the agent leaves a configured header out of what it sends: a method override
/// naming anything but GET or HEAD would turn the probe's safe GET into, say, a DELETE.
fn is_unsafe_method_override(name: &str, value: &str) -> bool {
    METHOD_OVERRIDE_HEADERS.contains(&name.trim().to_ascii_lowercase().as_str())
        && !value.split(',').all(|m| {
            SAFE_METHODS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(m.trim()))
        })
}

/// Fetch's "request-body-header names": dropped with the body when a redirect turns the
/// request into a GET.
const REQUEST_BODY_HEADERS: [&str; 4] = [
    "content-encoding",
    "content-language",
    "content-location",
    "content-type",
];

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

/// The preflight exactly as a browser sends it (plus `Host` and our `User-Agent`). It names
/// the page's headers in `Access-Control-Request-Headers` but never carries their values.
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
///
/// Two exceptions, both so that a probe cannot do harm: without `page_headers` (after a
/// redirect to another origin) none of the configured headers go out, only `Origin`; and a
/// method-override header that names an unsafe method is never sent.
fn actual_request(
    addr: &TargetAddress,
    method: &str,
    cors: Option<&CorsState>,
    page_headers: bool,
) -> Outgoing {
    let mut headers = base_headers(addr);
    headers.push(("Accept".to_owned(), "*/*".to_owned()));
    if let Some(c) = cors.filter(|c| !c.same_origin) {
        let mut req = c.hop.clone();
        if !page_headers {
            req.headers.clear();
        }
        for (name, value) in cors::actual_request_headers(&req) {
            if is_unsafe_method_override(&name, &value) {
                continue;
            }
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
fn hop_blocks(req: &CorsRequest, resp: &ObservedResponse) -> bool {
    const CORS_CHECK: [&str; 5] = [
        "acao_present",
        "acao_single_value",
        "credentials_no_wildcard",
        "acao_matches_origin",
        "acac_true",
    ];
    cors::evaluate(req, None, Some(resp))
        .checks
        .iter()
        .any(|c| {
            c.stage == CorsStage::Actual
                && c.verdict == CorsVerdict::Fail
                && CORS_CHECK.contains(&c.rule.as_str())
        })
}

/// Whether a preflight answer fails any of the browser's preflight checks.
fn preflight_blocks(req: &CorsRequest, resp: &ObservedResponse) -> bool {
    cors::evaluate(req, Some(resp), None)
        .checks
        .iter()
        .any(|c| c.stage == CorsStage::Preflight && c.verdict == CorsVerdict::Fail)
}

/// Fetch "HTTP-redirect fetch" steps 12–13 on the browser's request: 301/302 turn a POST
/// into a GET, 303 turns anything but GET/HEAD into a GET (both drop the body's headers),
/// and `Authorization` is removed when the redirect changes origin.
fn browser_follows(req: &mut CorsRequest, status: u16, cross_origin: bool) {
    let method = cors::normalize_method(&req.method);
    if (matches!(status, 301 | 302) && method == "POST")
        || (status == 303 && method != "GET" && method != "HEAD")
    {
        req.method = "GET".to_owned();
        req.headers.retain(|(n, _)| {
            !REQUEST_BODY_HEADERS.contains(&n.trim().to_ascii_lowercase().as_str())
        });
    }
    if cross_origin {
        req.headers
            .retain(|(n, _)| !n.trim().eq_ignore_ascii_case("authorization"));
    }
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

/// `30 s`, `0.5 s`: a limit as configured, without a spurious `.0`.
fn fmt_limit(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Everything one probe accumulates. It lives outside the pipeline's future so that what was
/// observed survives the deadline cancelling that future.
struct Run {
    probe: AgentProbe,
    cors: Option<CorsState>,
    notes: Vec<Finding>,
    hops: Vec<RedirectHop>,
    /// What the pipeline is doing now, in words, for the deadline's summary.
    phase: String,
    /// The configured target's addresses: the [`Sensitive`] classes redirects may stay in.
    target_addrs: Vec<IpAddr>,
    /// The configured page headers still go out: false from the first redirect that
    /// changes origin on (https → http included), and never true again.
    page_headers: bool,
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
    let cors_state = first.is_http().then(|| {
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
        let mut hop = req.clone();
        hop.origin = origin.clone();
        CorsState {
            same_origin: origin == http::origin_of(&first),
            req,
            hop,
            preflight: None,
            preflight_errors: Vec::new(),
            blocked: None,
            last: None,
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
    if let Some(c) = cors_state.as_ref().filter(|c| !c.same_origin) {
        let overrides: Vec<&str> = c
            .req
            .headers
            .iter()
            .filter(|(n, v)| is_unsafe_method_override(n, v))
            .map(|(n, _)| n.as_str())
            .collect();
        if !overrides.is_empty() {
            notes.push(Finding::new(
                "method_override_not_sent",
                Severity::Info,
                format!("Not sent: {} (a method override)", overrides.join(", ")),
                "Frameworks honour these headers to let a GET or POST act as another method; a probe must not change data, so the agent leaves them out. The preflight still announces them, as the browser's does.",
            ));
        }
    }

    let mut run = Run {
        probe,
        cors: cors_state,
        notes,
        hops: Vec::new(),
        phase: String::new(),
        target_addrs: Vec::new(),
        page_headers: true,
    };
    // Cancelling the pipeline drops its connections; `run` keeps what it saw until then.
    let finished = tokio::time::timeout(
        ctx.deadline,
        follow(&mut run, &first, &wire_method, ctx, &roots, started),
    )
    .await;
    let stop = finished.unwrap_or_else(|_| Stop::Deadline {
        limit: ctx.deadline,
        phase: run.phase.clone(),
    });
    let Run {
        mut probe,
        cors: cors_state,
        mut notes,
        ..
    } = run;

    // CORS: evaluated on what the browser would see: the first step that fails its checks
    // (the browser stops there), otherwise the final response. A chain cut short (an error
    // or the deadline) has no final response, and so no verdict unless a step already failed.
    if let Some(c) = cors_state.as_ref().filter(|c| !c.same_origin) {
        let step = match &c.blocked {
            Some((step, _, _)) => Some(step),
            None => c.last.as_ref().filter(|_| probe.http.is_some()),
        };
        if let Some((req, preflight, actual)) = step {
            probe.cors = Some(cors::evaluate(req, preflight.as_ref(), Some(actual)));
        }
        if let Some((_, url, true)) = &c.blocked {
            notes.push(Finding::new(
                "cors_redirect_preflight_failed",
                Severity::Warning,
                format!("The browser's second preflight, at {url} after the redirect, fails"),
                "When a request needs a preflight, browsers preflight again at every redirect target (with `Origin: null` once the redirect changed origin); the target of the redirect must answer that preflight too.",
            ));
        }
    }
    if let Some(c) = cors_state.as_ref() {
        if c.same_origin {
            notes.push(Finding::new(
                "cors_same_origin",
                Severity::Info,
                format!(
                    "The page origin {} is the target's own origin: CORS does not apply",
                    c.hop.origin
                ),
                "Browsers only apply CORS to requests to another origin (scheme, host and port).",
            ));
        }
        if !c.preflight_errors.is_empty() {
            notes.push(Finding::new(
                "cors_preflight_failed",
                Severity::Warning,
                "The CORS preflight (OPTIONS) got no answer".to_owned(),
                format!(
                    "{}. Without a preflight answer the browser never sends the request.",
                    c.preflight_errors.join("; ")
                ),
            ));
        }
    }

    conclude(&mut probe, target, stop, Some(&first), &notes);
    probe
}

/// The hops: DNS → TCP → TLS → (preflight) → HTTP, again at every redirect. Records into
/// `run` as it goes and returns where it stopped.
async fn follow(
    run: &mut Run,
    first: &TargetAddress,
    wire_method: &str,
    ctx: &ProbeContext,
    roots: &Arc<RootCertStore>,
    started: Instant,
) -> Stop {
    let mut current = first.clone();
    // The redirect response that led to `current`, kept in case `current` is not followed.
    let mut pending: Option<(HttpResult, String)> = None;
    loop {
        let url = http::url_of(&current);
        let at = match run.hops.len() {
            0 => String::new(),
            n => format!(" (redirect {n})"),
        };
        run.phase = format!("resolving {}{at}", current.host);
        let resolved = dns::resolve(&current.host, &ctx.docker_networks).await;
        if run.hops.is_empty() {
            run.target_addrs = resolved.addrs.clone();
        } else if let Some((ip, class)) = redirect_block(&run.target_addrs, &resolved.addrs) {
            // `dns`, `tcp` and `tls` stay those of the hop that answered with the redirect.
            let (http, addr) = pending.take().unzip();
            run.probe.http = http;
            return Stop::RedirectBlocked {
                addr: addr.unwrap_or_default(),
                to: url,
                ip,
                class,
            };
        }
        let dns_ms = resolved.dns.elapsed_ms;
        run.probe.dns = Some(resolved.dns);
        run.probe.tls = None;
        if resolved.addrs.is_empty() {
            run.probe.tcp.clear();
            return Stop::Dns;
        }
        run.phase = format!("connecting to {} port {}{at}", current.host, current.port);
        let mut attempts =
            tcp::connect_all(&resolved.addrs, current.port, ctx.connect_timeout).await;
        run.probe.tcp = attempts.iter().map(|a| a.report.clone()).collect();
        if attempts.len() < resolved.addrs.len() {
            run.notes.push(Finding::new(
                "tcp_addresses_skipped",
                Severity::Info,
                format!(
                    "{} resolves to {} addresses; the agent tried {} and skipped {}",
                    current.host,
                    resolved.addrs.len(),
                    attempts.len(),
                    resolved.addrs.len() - attempts.len()
                ),
                format!(
                    "One probe connects to at most {} addresses per host (both address families get a share), so that a name with hundreds of records cannot make the agent open hundreds of connections. Clients usually try only the first few.",
                    tcp::MAX_ADDRESSES
                ),
            ));
        }
        let picked = tcp::pick(&mut attempts);
        // The other connections are not used: close them now.
        drop(attempts);
        let Some((stream, sock, connect_ms)) = picked else {
            return Stop::Tcp;
        };
        let addr = tcp::display_addr(sock);
        if !current.is_http() {
            return Stop::TcpOnly { addr };
        }

        let (io, tls_ms): (Box<dyn Io>, f64) = if current.scheme == "https" {
            run.phase = format!("in the TLS handshake with {addr}{at}");
            let hs =
                tls::handshake(stream, &current.host, roots.clone(), ctx.request_timeout).await;
            let tls_ms = hs.result.elapsed_ms;
            run.probe.tls = Some(hs.result);
            match hs.stream {
                Some(s) => (Box::new(s), tls_ms),
                // Silence after TCP is the same symptom with or without TLS.
                None if hs.timed_out => {
                    return Stop::HttpTimeout {
                        addr,
                        after_ms: tls_ms,
                    }
                }
                None => return Stop::Tls { addr },
            }
        } else {
            (Box::new(stream), 0.0)
        };

        // The browser sends the preflight first, to the URL the page asked for, and again
        // to every redirect target (Fetch "HTTP fetch" runs for each hop of a CORS request).
        let mut preflight_failed = false;
        if let Some(c) = run.cors.as_mut().filter(|c| !c.same_origin) {
            c.preflight = None;
            if cors::needs_preflight(&c.hop) {
                run.phase = format!("waiting for the CORS preflight answer from {url}{at}");
                let pre = preflight_request(&current, &c.hop);
                let answer = match reconnect(sock, &current, roots, ctx).await {
                    Err(e) => Err(e),
                    Ok(pio) => http::exchange(pio, &pre, ctx.request_timeout, BodyRead::Skip)
                        .await
                        .map_err(|e| e.to_string()),
                };
                match answer {
                    Ok(inc) => {
                        let resp = observed(&inc, false);
                        preflight_failed = preflight_blocks(&c.hop, &resp);
                        c.preflight = Some(resp);
                    }
                    Err(e) if run.hops.is_empty() => {
                        c.preflight_errors.push(e);
                        preflight_failed = true;
                    }
                    Err(e) => {
                        c.preflight_errors
                            .push(format!("{e} (at {url}, after a redirect)"));
                        preflight_failed = true;
                    }
                }
            }
        }

        run.phase = format!("in the HTTP exchange with {url} ({addr}){at}");
        let out = actual_request(&current, wire_method, run.cors.as_ref(), run.page_headers);
        let inc =
            match http::exchange(io, &out, ctx.request_timeout, BodyRead::UnlessRedirect).await {
                Err(ExchangeError::Timeout { after_ms }) => {
                    return Stop::HttpTimeout { addr, after_ms }
                }
                Err(ExchangeError::BadRequest(error)) | Err(ExchangeError::Failed(error)) => {
                    return Stop::HttpFailed { addr, error }
                }
                Ok(inc) => inc,
            };
        let timing = HttpTiming {
            dns_ms,
            connect_ms,
            tls_ms,
            first_byte_ms: inc.first_byte_ms,
            // The whole probe: earlier hops and the preflight are part of what a page waits.
            total_ms: ms(started),
        };
        let location = http::redirect_location(inc.status, &inc.headers).map(str::to_owned);
        if let Some(c) = run.cors.as_mut().filter(|c| !c.same_origin) {
            let resp = observed(&inc, !run.hops.is_empty());
            let step = (c.hop.clone(), c.preflight.clone(), resp);
            let redirect_fails = location.is_some() && hop_blocks(&c.hop, &step.2);
            if c.blocked.is_none() && (preflight_failed || redirect_fails) {
                let after_redirect = preflight_failed && !run.hops.is_empty();
                c.blocked = Some((step.clone(), url.clone(), after_redirect));
            }
            c.last = Some(step);
        }
        let Some(location) = location else {
            run.probe.http = Some(http_result(&url, &inc, timing, run.hops.clone()));
            return Stop::Done { addr };
        };

        if run.hops.len() >= MAX_REDIRECTS {
            run.probe.http = Some(http_result(&url, &inc, timing, run.hops.clone()));
            return Stop::RedirectLimit;
        }
        let next =
            match http::resolve_location(&current, &location).and_then(|u| parse_target_url(&u)) {
                Ok(n) => n,
                Err(error) => {
                    run.probe.http = Some(http_result(&url, &inc, timing, run.hops.clone()));
                    return Stop::RedirectBroken { error };
                }
            };
        pending = Some((http_result(&url, &inc, timing, run.hops.clone()), addr));
        run.hops.push(RedirectHop {
            url,
            status: inc.status,
            location,
        });
        let (cur, nxt) = (http::origin_of(&current), http::origin_of(&next));
        let cross_origin = cur != nxt;
        if let Some(c) = run.cors.as_mut() {
            // Fetch: a redirect from a cross-origin URL to yet another origin taints the
            // request's origin, and from then on the browser sends `Origin: null`.
            let page = cors::serialize_origin(&c.req.origin);
            if cross_origin && page != cur {
                c.hop.origin = "null".to_owned();
            }
            // Headers withheld below are reported by name, before the browser's own
            // rewriting removes any of them.
            if cross_origin && run.page_headers && !c.same_origin && !c.hop.headers.is_empty() {
                let names: Vec<&str> = c.hop.headers.iter().map(|(n, _)| n.as_str()).collect();
                run.notes.push(Finding::new(
                    "redirect_headers_withheld",
                    Severity::Info,
                    format!(
                        "Not sent to {nxt} after the redirect: {} (configured for {cur})",
                        names.join(", ")
                    ),
                    "The agent never sends configured page headers (credentials, API keys) to an origin other than the target's, nor from https to http. Browsers drop only Authorization at a cross-origin redirect and keep the other headers, so a server there that depends on them may answer the page differently than the probe.",
                ));
            }
            browser_follows(&mut c.hop, inc.status, cross_origin);
        }
        if cross_origin {
            run.page_headers = false;
        }
        current = next;
    }
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
                "More than {MAX_REDIRECTS} redirects (the agent's limit): stopped at HTTP {} from {}",
                probe.http.as_ref().map_or(0, |h| h.status),
                probe.http.as_ref().map_or("?", |h| h.url.as_str())
            );
            out.push(Finding::new(
                "http_redirect_limit",
                Severity::Warning,
                summary.clone(),
                "A chain this long is slow for every client and often a redirect loop (http ↔ https, with and without a trailing slash). Point the target at the final URL.",
            ));
            (ReachVerdict::HttpError, summary)
        }
        Stop::RedirectBlocked {
            addr,
            to,
            ip,
            class,
        } => {
            let finding = format!(
                "The redirect to {to} was not followed: it resolves to {ip}, {}",
                class.label()
            );
            out.push(
                Finding::new(
                    "redirect_blocked",
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
                    let summary = format!(
                        "{}; {finding}",
                        findings::http_summary(http, addr, target.expected_status)
                    );
                    let verdict = if findings::http_is_error(http, target.expected_status) {
                        ReachVerdict::HttpError
                    } else {
                        ReachVerdict::Reachable
                    };
                    (verdict, summary)
                }
                None => (ReachVerdict::Unknown, finding),
            }
        }
        Stop::Deadline { limit, phase } => {
            let limit = fmt_limit(*limit);
            let summary = if phase.is_empty() {
                format!("The whole probe exceeded {limit} (the agent's limit for one probe)")
            } else {
                format!(
                    "The whole probe exceeded {limit} (the agent's limit for one probe), while {phase}"
                )
            };
            out.push(
                Finding::new(
                    "probe_deadline",
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
