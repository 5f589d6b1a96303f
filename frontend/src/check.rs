//! The browser check engine: what this browser can reach, measured with `fetch()`.
//!
//! A page sees no DNS, TCP or TLS; it only learns whether a request got an answer. Two
//! fetches per target tell the cases apart: `no-cors` succeeds whenever any HTTP response
//! arrived (it is opaque, so CORS cannot fail it), `cors` only when the server's CORS
//! headers also let this page read the answer. A `no-cors` failure therefore means the
//! request never reached an HTTP server from this device (docs/incidents.md, "Blocked from
//! the guest Wi-Fi"), and `no-cors` ok with `cors` failing means a CORS problem (or a
//! proxy's error page: "Proxy says 503, backend says 200"). [`classify_browser`] turns the
//! pair into a verdict.
//!
//! The decisions a browser makes before sending anything (mixed content, Chrome's Local
//! Network Access) are pure and unit-tested ([`plan`]); the rest needs a real browser and
//! is covered by the component tests.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::join_all;
use gloo_timers::callback::Timeout;
use vantage_shared::browser::{LOCAL_NETWORK_ACCESS, MIXED_CONTENT};
use vantage_shared::duration::{fmt_limit, fmt_secs, whole_ms};
use vantage_shared::host::{is_localhost_name, is_loopback_host};
use vantage_shared::ownership::classify;
use vantage_shared::probe::{
    classify_browser, parse_target_url, AddressOwner, BrowserBlock, BrowserCheck, FetchAttempt,
    FetchOutcome, ProbeTarget, ReachVerdict, ResourceTiming,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, PerformanceResourceTiming, RequestCache, RequestCredentials, RequestInit,
    RequestMode, Response,
};

/// How long one fetch may take before it is aborted and counted as "no answer".
/// Long enough for a slow mobile network, short enough that a dropped connection (which
/// would otherwise hang for the OS's ~20–120 s connect timeout) does not stall the run.
pub const FETCH_TIMEOUT_MS: u32 = 8_000;
/// Targets checked at once. Browsers allow 6 connections per host; a few in parallel keep a
/// run of many unreachable targets from taking minutes, without skewing timings much.
pub const CONCURRENCY: usize = 4;

/// What a TCP `host:port` target gets instead of a fetch.
pub use vantage_shared::browser::TCP_SKIP;
/// The `cors` attempt after the `no-cors` one already failed: it could only fail too.
const CORS_NOT_TRIED: &str = "not attempted: the no-cors request already failed";

/// Where the probing page itself was loaded from; decides mixed content and local-network
/// access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageContext {
    /// `http` or `https`.
    pub scheme: String,
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    /// `https://host:port`, as `location.origin` gives it.
    pub origin: String,
}

impl PageContext {
    /// Parses an origin such as `https://vantage.example:7070` or `http://[::1]:8787`.
    pub fn from_origin(origin: &str) -> Option<Self> {
        let (scheme, rest) = origin.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or_default()
        } else {
            authority.split(':').next().unwrap_or_default()
        };
        if host.is_empty() {
            return None;
        }
        Some(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            origin: origin.trim_end_matches('/').to_owned(),
        })
    }

    /// This page's context, from `window.location`.
    pub fn current() -> Option<Self> {
        let origin = web_sys::window()?.location().origin().ok()?;
        Self::from_origin(&origin)
    }
}

/// What the browser will do with one target, decided before any request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Do not fetch: both attempts are `Skipped` with this reason.
    Skip {
        blocked_by: Option<BrowserBlock>,
        reason: String,
    },
    /// Fetch `url`. `local_network`: a public page asking for a private or loopback
    /// address, which Chrome's Local Network Access rules may refuse on their own.
    Fetch { url: String, local_network: bool },
}

/// Whether an address is in the "local" spaces of Chrome's Local Network Access (the
/// former Private Network Access): loopback, private, link-local and carrier-grade NAT.
pub fn is_local_address(ip: IpAddr) -> bool {
    matches!(
        classify(ip, &[]),
        AddressOwner::Loopback
            | AddressOwner::Private
            | AddressOwner::LinkLocal
            | AddressOwner::Cgnat
    )
}

/// Whether the page was loaded from a public address. A host name is taken as public
/// unless it is `localhost`: the browser resolves it, the page cannot.
pub fn page_is_public(page: &PageContext) -> bool {
    match page.host.parse::<IpAddr>() {
        Ok(ip) => !is_local_address(ip),
        Err(_) => !is_localhost_name(&page.host),
    }
}

/// Decides, without any request, whether and how this page may fetch `target_url`.
pub fn plan(page: &PageContext, target_url: &str) -> Plan {
    let addr = match parse_target_url(target_url) {
        Ok(a) => a,
        Err(e) => {
            return Plan::Skip {
                blocked_by: None,
                reason: format!("not a URL this page can fetch: {e}"),
            }
        }
    };
    if !addr.is_http() {
        return Plan::Skip {
            blocked_by: None,
            reason: TCP_SKIP.to_owned(),
        };
    }
    // Loopback URLs are "potentially trustworthy": browsers do not treat `http://127.0.0.1`
    // or `http://localhost` on an `https:` page as mixed content.
    if page.scheme == "https" && addr.scheme == "http" && !is_loopback_host(&addr.host) {
        return Plan::Skip {
            blocked_by: Some(BrowserBlock::MixedContent),
            reason: MIXED_CONTENT.to_owned(),
        };
    }
    let target_local = addr.host.parse::<IpAddr>().is_ok_and(is_local_address);
    Plan::Fetch {
        url: target_url.trim().to_owned(),
        local_network: target_local && page_is_public(page),
    }
}

fn skipped(reason: &str) -> FetchAttempt {
    FetchAttempt {
        outcome: FetchOutcome::Skipped,
        status: None,
        elapsed_ms: 0,
        error: Some(reason.to_owned()),
    }
}

/// A result without any request (TCP targets, mixed content, bad URLs).
pub fn skipped_check(
    target_id: &str,
    blocked_by: Option<BrowserBlock>,
    reason: &str,
) -> BrowserCheck {
    BrowserCheck {
        target_id: target_id.to_owned(),
        no_cors: skipped(reason),
        cors: skipped(reason),
        blocked_by,
        timing: None,
    }
}

/// Checks one target from this browser.
pub async fn check(target: &ProbeTarget, page: &PageContext) -> BrowserCheck {
    let (url, local_network) = match plan(page, &target.url) {
        Plan::Skip { blocked_by, reason } => return skipped_check(&target.id, blocked_by, &reason),
        Plan::Fetch { url, local_network } => (url, local_network),
    };
    let no_cors = fetch_once(&url, RequestMode::NoCors).await;
    // Without an HTTP answer to no-cors, cors cannot succeed: skip it and save a timeout.
    let cors = if no_cors.outcome == FetchOutcome::Ok {
        fetch_once(&url, RequestMode::Cors).await
    } else {
        skipped(CORS_NOT_TRIED)
    };
    let blocked_by = (local_network && no_cors.outcome != FetchOutcome::Ok)
        .then_some(BrowserBlock::LocalNetworkAccess);
    BrowserCheck {
        target_id: target.id.clone(),
        no_cors,
        cors,
        blocked_by,
        timing: read_timing(&url),
    }
}

/// Checks every target, [`CONCURRENCY`] at a time. `on_start` and `on_done` report
/// progress per target; the results come back in the targets' order.
pub async fn check_all(
    targets: Vec<ProbeTarget>,
    page: &PageContext,
    on_start: impl Fn(&str),
    on_done: impl Fn(&BrowserCheck),
) -> Vec<BrowserCheck> {
    // The Resource Timing buffer holds 250 entries by default and then drops new ones;
    // a long-open dashboard that checks repeatedly would lose its timings.
    if let Some(perf) = web_sys::window().and_then(|w| w.performance()) {
        perf.clear_resource_timings();
    }
    bounded(targets, CONCURRENCY, |t| {
        on_start(&t.id);
        let on_done = &on_done;
        async move {
            let result = check(&t, page).await;
            on_done(&result);
            result
        }
    })
    .await
}

/// Runs `f` over `items` with at most `limit` futures in flight, keeping input order.
pub async fn bounded<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    let queue = RefCell::new(items.into_iter().enumerate());
    let results: RefCell<Vec<(usize, R)>> = RefCell::new(Vec::new());
    let worker = || async {
        loop {
            // The borrow ends with the statement, before any await.
            let next = queue.borrow_mut().next();
            let Some((i, item)) = next else { break };
            let r = f(item).await;
            results.borrow_mut().push((i, r));
        }
    };
    join_all((0..limit.max(1)).map(|_| worker())).await;
    let mut results = results.into_inner();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// One `fetch()` with no cache and no credentials, aborted after [`FETCH_TIMEOUT_MS`].
async fn fetch_once(url: &str, mode: RequestMode) -> FetchAttempt {
    let failed = |error: String| FetchAttempt {
        outcome: FetchOutcome::NetworkError,
        status: None,
        elapsed_ms: 0,
        error: Some(error),
    };
    let Some(window) = web_sys::window() else {
        return failed("no window".to_owned());
    };
    let controller = match AbortController::new() {
        Ok(c) => c,
        Err(e) => return failed(js_message(&e)),
    };
    let init = RequestInit::new();
    init.set_mode(mode);
    init.set_cache(RequestCache::NoStore);
    // Cookies would make the cors request need `Access-Control-Allow-Credentials`, and a
    // phone link holder does not know the target's credential settings anyway.
    init.set_credentials(RequestCredentials::Omit);
    init.set_signal(Some(&controller.signal()));

    let timed_out = Rc::new(Cell::new(false));
    let timer = {
        let timed_out = Rc::clone(&timed_out);
        let controller = controller.clone();
        Timeout::new(FETCH_TIMEOUT_MS, move || {
            timed_out.set(true);
            controller.abort();
        })
    };
    let start = now_ms();
    let result = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await;
    let elapsed_ms = (now_ms() - start).max(0.0).round() as u32;
    let attempt = match result {
        Ok(value) => {
            let resp = value.dyn_into::<Response>().ok();
            // no-cors answers are opaque: their status reads 0 and means nothing.
            let status = resp
                .as_ref()
                .filter(|_| mode == RequestMode::Cors)
                .map(Response::status);
            // Read the body, still under the timeout (the abort ends it too), so that
            // Resource Timing records the end of the response; `elapsed_ms` stays the time
            // to the headers.
            if let Some(body) = resp.and_then(|r| r.array_buffer().ok()) {
                let _ = JsFuture::from(body).await;
            }
            FetchAttempt {
                outcome: FetchOutcome::Ok,
                status,
                elapsed_ms,
                error: None,
            }
        }
        Err(_) if timed_out.get() => FetchAttempt {
            outcome: FetchOutcome::Timeout,
            status: None,
            elapsed_ms,
            error: Some(format!(
                "no answer within {}",
                fmt_limit(Duration::from_millis(u64::from(FETCH_TIMEOUT_MS)))
            )),
        },
        Err(e) => FetchAttempt {
            outcome: FetchOutcome::NetworkError,
            status: None,
            elapsed_ms,
            error: Some(js_message(&e)),
        },
    };
    drop(timer);
    attempt
}

/// The message of a rejected promise (`TypeError: Failed to fetch`).
fn js_message(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        let name = String::from(err.name());
        let message = String::from(err.message());
        if name.is_empty() {
            message
        } else {
            format!("{name}: {message}")
        }
    } else {
        e.as_string().unwrap_or_else(|| format!("{e:?}"))
    }
}

/// Resource Timing for the latest fetch of `url`, when the browser exposes it: same
/// origin, or the target sent `Timing-Allow-Origin`. Otherwise the phases read as zero.
fn read_timing(url: &str) -> Option<ResourceTiming> {
    let perf = web_sys::window()?.performance()?;
    // Entries are named by the absolute, normalised URL (`http://a:9` → `http://a:9/`).
    let name = web_sys::Url::new(url).map(|u| u.href()).ok()?;
    let entries = perf.get_entries_by_name(&name);
    (0..entries.length())
        .rev()
        .filter_map(|i| entries.get(i).dyn_into::<PerformanceResourceTiming>().ok())
        .find(|e| e.request_start() > 0.0 && e.response_start() > 0.0)
        .map(|e| {
            let secure = e.secure_connection_start();
            let (connect, tls) = if secure > 0.0 {
                (secure - e.connect_start(), e.connect_end() - secure)
            } else {
                (e.connect_end() - e.connect_start(), 0.0)
            };
            ResourceTiming {
                dns_ms: (e.domain_lookup_end() - e.domain_lookup_start()).max(0.0),
                connect_ms: connect.max(0.0),
                tls_ms: tls.max(0.0),
                first_byte_ms: (e.response_start() - e.request_start()).max(0.0),
                total_ms: (e.response_end() - e.start_time()).max(0.0),
            }
        })
}

/// One line, in plain words, for what this browser saw.
pub fn browser_summary(p: &BrowserCheck) -> String {
    match p.blocked_by {
        Some(BrowserBlock::MixedContent) => return format!("Not attempted: {MIXED_CONTENT}."),
        Some(BrowserBlock::LocalNetworkAccess) => {
            return format!("Failed: {LOCAL_NETWORK_ACCESS}.")
        }
        None => {}
    }
    let secs = |ms: u32| fmt_secs(f64::from(ms));
    let ms = |ms: u32| whole_ms(u64::from(ms));
    let error = |a: &FetchAttempt| a.error.clone().unwrap_or_default();
    match (p.no_cors.outcome, p.cors.outcome) {
        (FetchOutcome::Skipped, _) => format!("Not attempted: {}.", error(&p.no_cors)),
        (FetchOutcome::Timeout, _) => format!(
            "No answer within {}: nothing responded to this device (typical of a firewall \
             or security group dropping its traffic).",
            secs(p.no_cors.elapsed_ms)
        ),
        (FetchOutcome::NetworkError, _) => format!(
            "Failed after {} before any HTTP answer (name lookup, connection refused or \
             TLS; the browser does not say which): {}",
            ms(p.no_cors.elapsed_ms),
            error(&p.no_cors)
        ),
        (FetchOutcome::Ok, FetchOutcome::Ok) => match p.cors.status {
            Some(s) if s >= 400 => format!(
                "The server answered {s} in {}; the page can read the error.",
                ms(p.cors.elapsed_ms)
            ),
            Some(s) => format!(
                "Reachable: answered {s} in {}, and pages may read the answer.",
                ms(p.cors.elapsed_ms)
            ),
            None => format!("Reachable: answered in {}.", ms(p.cors.elapsed_ms)),
        },
        (FetchOutcome::Ok, FetchOutcome::Timeout) => format!(
            "The server answered in {}, but the readable (cors) request timed out.",
            ms(p.no_cors.elapsed_ms)
        ),
        (FetchOutcome::Ok, _) => format!(
            "The server answered in {}, but CORS stops pages on this origin from reading \
             the answer.",
            ms(p.no_cors.elapsed_ms)
        ),
    }
}

/// The verdict for this browser's result (re-exported so views need one import).
pub fn verdict(p: &BrowserCheck) -> ReachVerdict {
    classify_browser(p)
}

/// The verdict and its sentence once the agent answered the report: a "CORS blocked" from
/// this page's own origin gives way to the agent's evaluation for the target's page origin
/// (`diagnosis::page_origin`).
pub fn settled(p: &BrowserCheck, agent_says: Option<ReachVerdict>) -> (ReachVerdict, String) {
    let mine = classify_browser(p);
    match agent_says {
        Some(ReachVerdict::Reachable) if mine == ReachVerdict::CorsBlocked => (
            ReachVerdict::Reachable,
            format!(
                "Reachable: the server answered in {}. This page's own CORS check is for its \
                 own origin; the target is about another page's origin, and the agent's CORS \
                 evaluation for that one passes.",
                whole_ms(u64::from(p.no_cors.elapsed_ms))
            ),
        ),
        _ => (mine, browser_summary(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(origin: &str) -> PageContext {
        PageContext::from_origin(origin).unwrap()
    }

    #[test]
    fn origins_parse() {
        let p = page("https://Vantage.example:7070");
        assert_eq!(p.scheme, "https");
        assert_eq!(p.host, "vantage.example");
        let p = page("http://[::1]:8787");
        assert_eq!(p.host, "::1");
        assert!(PageContext::from_origin("null").is_none());
        assert!(PageContext::from_origin("file://x").is_none());
    }

    #[test]
    fn tcp_targets_are_skipped() {
        assert_eq!(
            plan(&page("http://127.0.0.1:8787"), "db.internal:5432"),
            Plan::Skip {
                blocked_by: None,
                reason: TCP_SKIP.into()
            }
        );
    }

    #[test]
    fn https_page_does_not_fetch_http_targets() {
        let Plan::Skip { blocked_by, .. } = plan(
            &page("https://vantage.example"),
            "http://api.example/health",
        ) else {
            panic!("expected a skip")
        };
        assert_eq!(blocked_by, Some(BrowserBlock::MixedContent));
        // Loopback is potentially trustworthy: no mixed-content block.
        assert!(matches!(
            plan(&page("https://vantage.example"), "http://127.0.0.1:8080/"),
            Plan::Fetch { .. }
        ));
        // http page, http target: fine.
        assert_eq!(
            plan(&page("http://203.0.113.5:7070"), "http://api.example/x"),
            Plan::Fetch {
                url: "http://api.example/x".into(),
                local_network: false
            }
        );
        // https target from an https page: fine.
        assert!(matches!(
            plan(&page("https://vantage.example"), "https://api.example/"),
            Plan::Fetch {
                local_network: false,
                ..
            }
        ));
    }

    #[test]
    fn public_page_to_private_target_is_local_network_access() {
        for target in [
            "http://192.168.1.10:8080/",
            "http://10.0.0.5/",
            "http://127.0.0.1:9/",
            "http://169.254.169.254/",
            "http://[fd00::1]:80/",
        ] {
            assert_eq!(
                plan(&page("http://203.0.113.5:7070"), target),
                Plan::Fetch {
                    url: target.into(),
                    local_network: true
                },
                "{target}"
            );
        }
        // A host name page counts as public…
        assert!(matches!(
            plan(&page("http://vantage.example"), "http://10.0.0.5/"),
            Plan::Fetch {
                local_network: true,
                ..
            }
        ));
        // …but not localhost, nor a private or loopback page.
        for origin in [
            "http://localhost:8787",
            "http://127.0.0.1:8787",
            "http://192.168.1.2:7070",
        ] {
            assert!(
                matches!(
                    plan(&page(origin), "http://10.0.0.5/"),
                    Plan::Fetch {
                        local_network: false,
                        ..
                    }
                ),
                "{origin}"
            );
        }
        // A private page fetching a public target is not local-network access.
        assert!(matches!(
            plan(&page("http://203.0.113.5"), "http://198.51.100.7/"),
            Plan::Fetch {
                local_network: false,
                ..
            }
        ));
        // A target host name is not resolved by the page: not flagged.
        assert!(matches!(
            plan(&page("http://203.0.113.5"), "http://db.internal/"),
            Plan::Fetch {
                local_network: false,
                ..
            }
        ));
    }

    fn attempt(outcome: FetchOutcome, status: Option<u16>) -> FetchAttempt {
        FetchAttempt {
            outcome,
            status,
            elapsed_ms: 120,
            error: (outcome != FetchOutcome::Ok).then(|| "TypeError: Failed to fetch".into()),
        }
    }

    fn result(no_cors: FetchAttempt, cors: FetchAttempt) -> BrowserCheck {
        BrowserCheck {
            target_id: "t".into(),
            no_cors,
            cors,
            blocked_by: None,
            timing: None,
        }
    }

    #[test]
    fn the_agents_answer_settles_a_cors_block_from_another_origin() {
        let blocked = result(
            attempt(FetchOutcome::Ok, None),
            attempt(FetchOutcome::NetworkError, None),
        );
        let (v, text) = settled(&blocked, Some(ReachVerdict::Reachable));
        assert_eq!(v, ReachVerdict::Reachable);
        assert!(text.contains("evaluation for that one passes"), "{text}");
        // Blocked for the configured origin too, or no answer yet: this page's own result.
        for agent in [Some(ReachVerdict::CorsBlocked), None] {
            let (v, text) = settled(&blocked, agent);
            assert_eq!(v, ReachVerdict::CorsBlocked);
            assert_eq!(text, browser_summary(&blocked));
        }
        // A timeout is never turned into anything else.
        let timeout = result(
            attempt(FetchOutcome::Timeout, None),
            attempt(FetchOutcome::Timeout, None),
        );
        assert_eq!(
            settled(&timeout, Some(ReachVerdict::Reachable)).0,
            ReachVerdict::TimedOut
        );
    }

    #[test]
    fn summaries_name_the_cause() {
        let ok = result(
            attempt(FetchOutcome::Ok, None),
            attempt(FetchOutcome::Ok, Some(200)),
        );
        assert_eq!(verdict(&ok), ReachVerdict::Reachable);
        assert!(browser_summary(&ok).starts_with("Reachable: answered 200 in 120 ms"));

        let cors = result(
            attempt(FetchOutcome::Ok, None),
            attempt(FetchOutcome::NetworkError, None),
        );
        assert_eq!(verdict(&cors), ReachVerdict::CorsBlocked);
        assert!(browser_summary(&cors).contains("CORS stops pages"));

        let mut dropped = result(
            attempt(FetchOutcome::Timeout, None),
            skipped(CORS_NOT_TRIED),
        );
        dropped.no_cors.elapsed_ms = 8000;
        assert_eq!(verdict(&dropped), ReachVerdict::TimedOut);
        assert!(browser_summary(&dropped).starts_with("No answer within 8.0 s"));

        let refused = result(
            attempt(FetchOutcome::NetworkError, None),
            skipped(CORS_NOT_TRIED),
        );
        assert!(browser_summary(&refused).contains("Failed to fetch"));

        let tcp = skipped_check("t", None, TCP_SKIP);
        assert_eq!(verdict(&tcp), ReachVerdict::NotAttempted);
        assert_eq!(
            browser_summary(&tcp),
            "Not attempted: browsers cannot open raw TCP connections."
        );

        let mut lna = refused.clone();
        lna.blocked_by = Some(BrowserBlock::LocalNetworkAccess);
        assert!(browser_summary(&lna).contains("Local Network Access"));
        let mixed = skipped_check("t", Some(BrowserBlock::MixedContent), "x");
        assert!(browser_summary(&mixed).contains("mixed content"));
    }

    #[test]
    fn bounded_keeps_order() {
        let out = futures_executor_lite(bounded(vec![3, 1, 2], 2, |x| async move { x * 10 }));
        assert_eq!(out, vec![30, 10, 20]);
    }

    /// Polls a future that never waits (no executor crate needed for this test).
    fn futures_executor_lite<F: Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
