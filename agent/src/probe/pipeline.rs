//! One probe from start to end: DNS → TCP per address → TLS → (CORS preflight) → HTTP, again
//! at every redirect hop, all under one deadline ([`ProbeContext::deadline`]). What each step
//! observes is recorded into a [`Run`] as it goes, so that it survives the deadline
//! cancelling the steps; the verdict, summary and findings are then drawn by
//! [`vantage_shared::diagnosis::agent_probe::conclude`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use rustls::RootCertStore;
use tokio::net::TcpStream;
use vantage_shared::cors;
use vantage_shared::diagnosis::agent_probe::{conclude, notes, ProbeStop};
use vantage_shared::diagnosis::{proxy_view, Finding};
use vantage_shared::fingerprint::attribute;
use vantage_shared::probe::{
    parse_target_url, AgentProbe, HttpResult, HttpTiming, RedirectHop, Target, TargetAddress,
};

use super::cors_request::{
    self, actual_request, observed, preflight_blocks, preflight_request, CorsState,
};
use super::http::{self, BodyRead, ExchangeError, Incoming, Io};
use super::{dns, redirect, tcp, tls, ProbeContext};

/// Everything one probe accumulates. It lives outside the pipeline's future so that what was
/// observed survives the deadline cancelling that future.
pub(super) struct Run {
    pub(super) probe: AgentProbe,
    pub(super) cors: Option<CorsState>,
    pub(super) notes: Vec<Finding>,
    pub(super) hops: Vec<RedirectHop>,
    /// What the pipeline is doing now, in words, for the deadline's summary.
    pub(super) phase: String,
    /// The configured target's addresses: the sensitive classes redirects may stay in
    /// (see [`redirect::redirect_block`]).
    pub(super) target_addrs: Vec<IpAddr>,
    /// The configured page headers still go out: false from the first redirect that
    /// changes origin on (https → http included), and never true again.
    pub(super) page_headers: bool,
}

/// [`super::probe_target`] with the trust roots given, so tests can trust their own CA.
pub(crate) async fn probe_with_roots(
    target: &Target,
    ctx: &ProbeContext,
    roots: Arc<RootCertStore>,
) -> AgentProbe {
    let started = Instant::now();
    let mut probe = AgentProbe::empty(target.id.clone(), Utc::now());
    let first = match parse_target_url(&target.url) {
        Ok(a) => a,
        Err(e) => {
            let stop = ProbeStop::BadUrl(e);
            conclude(&mut probe, target, &stop, None, &[], Utc::now());
            return probe;
        }
    };

    let mut notes = Vec::new();
    let (cors_state, wire_method) = cors_request::setup(target, ctx, &first, &mut notes);
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
    let stop = finished.unwrap_or_else(|_| ProbeStop::Deadline {
        limit: ctx.deadline,
        phase: run.phase.clone(),
    });
    let Run {
        mut probe,
        cors: cors_state,
        mut notes,
        ..
    } = run;
    if let Some(c) = &cors_state {
        c.conclude(&mut probe, &mut notes);
    }
    conclude(&mut probe, target, &stop, Some(&first), &notes, Utc::now());
    if let Some(admin) = &target.proxy_admin {
        probe.proxy = Some(super::proxy_admin::observe(admin).await);
        proxy_view::apply(&mut probe);
    }
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
) -> ProbeStop {
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
        if let Err(stop) = redirect::check_addresses(run, &resolved.addrs, &url, &mut pending) {
            return stop;
        }
        let dns_ms = resolved.dns.elapsed_ms;
        run.probe.dns = Some(resolved.dns);
        run.probe.tls = None;
        if resolved.addrs.is_empty() {
            run.probe.tcp.clear();
            return ProbeStop::Dns;
        }
        let (stream, sock, connect_ms) =
            match connect(run, &current, &resolved.addrs, &at, ctx).await {
                Ok(picked) => picked,
                Err(stop) => return stop,
            };
        let addr = tcp::display_addr(sock);
        if !current.is_http() {
            return ProbeStop::TcpOnly { addr };
        }
        let (io, tls_ms) = match secure(run, stream, &current, &addr, &at, roots, ctx).await {
            Ok(secured) => secured,
            Err(stop) => return stop,
        };
        let preflight_failed = preflight(run, sock, &current, &url, &at, roots, ctx).await;

        run.phase = format!("in the HTTP exchange with {url} ({addr}){at}");
        let out = actual_request(&current, wire_method, run.cors.as_ref(), run.page_headers);
        let inc =
            match http::exchange(io, &out, ctx.request_timeout, BodyRead::UnlessRedirect).await {
                Err(ExchangeError::Timeout { after_ms }) => {
                    return ProbeStop::HttpTimeout { addr, after_ms }
                }
                Err(ExchangeError::BadRequest(error)) | Err(ExchangeError::Failed(error)) => {
                    return ProbeStop::HttpFailed { addr, error }
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
        let redirected = !run.hops.is_empty();
        if let Some(c) = run.cors.as_mut().filter(|c| !c.same_origin) {
            c.record(&inc, redirected, location.is_some(), preflight_failed, &url);
        }
        let result = http_result(&url, &inc, timing, run.hops.clone());
        let Some(location) = location else {
            run.probe.http = Some(result);
            return ProbeStop::Done { addr };
        };
        current = match redirect::next_hop(run, &current, location, result, addr, &mut pending) {
            Ok(next) => next,
            Err(stop) => return stop,
        };
    }
}

/// Connects to the hop's addresses (at most [`tcp::MAX_ADDRESSES`], noting the rest) and
/// keeps the connection that [`tcp::pick`] prefers, with its connect time.
async fn connect(
    run: &mut Run,
    current: &TargetAddress,
    addrs: &[IpAddr],
    at: &str,
    ctx: &ProbeContext,
) -> Result<(TcpStream, SocketAddr, f64), ProbeStop> {
    run.phase = format!("connecting to {} port {}{at}", current.host, current.port);
    let mut attempts = tcp::connect_all(addrs, current.port, ctx.connect_timeout).await;
    run.probe.tcp = attempts.iter().map(|a| a.report.clone()).collect();
    if attempts.len() < addrs.len() {
        run.notes.push(notes::tcp_addresses_skipped(
            &current.host,
            addrs.len(),
            attempts.len(),
            tcp::MAX_ADDRESSES,
        ));
    }
    let picked = tcp::pick(&mut attempts);
    // The other connections are not used: close them now.
    drop(attempts);
    picked.ok_or(ProbeStop::Tcp)
}

/// The TLS handshake on an https hop (plain TCP otherwise), with its time.
async fn secure(
    run: &mut Run,
    stream: TcpStream,
    current: &TargetAddress,
    addr: &str,
    at: &str,
    roots: &Arc<RootCertStore>,
    ctx: &ProbeContext,
) -> Result<(Box<dyn Io>, f64), ProbeStop> {
    if current.scheme != "https" {
        return Ok((Box::new(stream), 0.0));
    }
    run.phase = format!("in the TLS handshake with {addr}{at}");
    let hs = tls::handshake(stream, &current.host, roots.clone(), ctx.request_timeout).await;
    let tls_ms = hs.result.elapsed_ms;
    run.probe.tls = Some(hs.result);
    match hs.stream {
        Some(s) => Ok((Box::new(s), tls_ms)),
        // Silence after TCP is the same symptom with or without TLS.
        None if hs.timed_out => Err(ProbeStop::HttpTimeout {
            addr: addr.to_owned(),
            after_ms: tls_ms,
        }),
        None => Err(ProbeStop::Tls {
            addr: addr.to_owned(),
        }),
    }
}

/// The browser sends the preflight first, to the URL the page asked for, and again to every
/// redirect target (Fetch "HTTP fetch" runs for each hop of a CORS request). Sent on a
/// connection of its own to `sock`; returns whether the browser stops at it (no answer, or
/// one that fails its checks).
async fn preflight(
    run: &mut Run,
    sock: SocketAddr,
    current: &TargetAddress,
    url: &str,
    at: &str,
    roots: &Arc<RootCertStore>,
    ctx: &ProbeContext,
) -> bool {
    let mut preflight_failed = false;
    if let Some(c) = run.cors.as_mut().filter(|c| !c.same_origin) {
        c.preflight = None;
        if cors::needs_preflight(&c.hop) {
            run.phase = format!("waiting for the CORS preflight answer from {url}{at}");
            let pre = preflight_request(current, &c.hop);
            let answer = match reconnect(sock, current, roots, ctx).await {
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
    preflight_failed
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

/// Milliseconds since `since`, as every step of a probe reports its time.
pub(super) fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The report of one response: status, headers, the head of the body, and who generated it.
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
