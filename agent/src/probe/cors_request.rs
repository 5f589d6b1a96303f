//! The requests the probe sends in the page's place, as a browser builds them (Fetch): the
//! page's request with its `Origin`, the CORS preflight exactly as the browser sends it, the
//! actual request (which doubles as the probe's own), and how a redirect rewrites the
//! browser's request. Also the browser's side of each step: which preflight or redirect
//! response stops it, and the CORS verdict on what it would have seen.
//!
//! A probe must not change anything, so the agent departs from the page in two ways, each
//! noted in the findings: an unsafe method is sent as GET (the preflight still announces
//! it), and a method-override header naming an unsafe method is left out.

use vantage_shared::cors::{self, CorsRequest, CorsStage, CorsVerdict, ObservedResponse};
use vantage_shared::diagnosis::agent_probe::notes as note;
use vantage_shared::diagnosis::Finding;
use vantage_shared::probe::{AgentProbe, Target, TargetAddress};

use super::http::{self, Incoming, Outgoing};
use super::ProbeContext;

/// What the browser evaluates at one CORS step: its request then, the preflight that
/// preceded it (if one was needed and answered), and the response.
type CorsStep = (CorsRequest, Option<ObservedResponse>, ObservedResponse);

/// The CORS side of the probe: what the page asks for and what was observed.
pub(super) struct CorsState {
    /// The page's request as configured.
    req: CorsRequest,
    /// The page and the target share an origin: CORS does not apply.
    pub(super) same_origin: bool,
    /// The request as the browser holds it at the current hop: `origin` is the `Origin`
    /// sent (serialised; `null` once a cross-origin redirect taints it), and method and
    /// headers are after the browser's redirect rewriting (Fetch "HTTP-redirect fetch").
    pub(super) hop: CorsRequest,
    /// The preflight answer for the current hop, when it needed one.
    pub(super) preflight: Option<ObservedResponse>,
    /// Preflights that got no answer, each in words.
    pub(super) preflight_errors: Vec<String>,
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
pub(super) fn is_unsafe_method_override(name: &str, value: &str) -> bool {
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
    req.mode = target.cors_mode;
    (req, invalid)
}

fn base_headers(addr: &TargetAddress) -> Vec<(String, String)> {
    vec![
        ("Host".to_owned(), http::host_header(addr)),
        ("User-Agent".to_owned(), http::USER_AGENT.to_owned()),
    ]
}

/// The preflight exactly as a browser sends it (plus `Host` and our `User-Agent`). It names
/// the page's headers in `Access-Control-Request-Headers` but never carries their values.
pub(super) fn preflight_request(addr: &TargetAddress, req: &CorsRequest) -> Outgoing {
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
pub(super) fn actual_request(
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

pub(super) fn observed(inc: &Incoming, redirected: bool) -> ObservedResponse {
    ObservedResponse {
        status: inc.status,
        headers: inc.headers.clone(),
        redirected,
        tainted_origin: false,
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
pub(super) fn preflight_blocks(req: &CorsRequest, resp: &ObservedResponse) -> bool {
    cors::evaluate(req, Some(resp), None)
        .checks
        .iter()
        .any(|c| c.stage == CorsStage::Preflight && c.verdict == CorsVerdict::Fail)
}

/// Fetch "HTTP-redirect fetch" steps 12–13 on the browser's request: 301/302 turn a POST
/// into a GET, 303 turns anything but GET/HEAD into a GET (both drop the body's headers),
/// and `Authorization` is removed when the redirect changes origin.
pub(super) fn browser_follows(req: &mut CorsRequest, status: u16, cross_origin: bool) {
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

/// The CORS side of a probe of `first` (none for a TCP target) and the method the agent
/// sends, noting in `notes` where the probe departs from the page's request: invalid headers
/// dropped, an unsafe method sent as GET, method overrides left out.
pub(super) fn setup(
    target: &Target,
    ctx: &ProbeContext,
    first: &TargetAddress,
    notes: &mut Vec<Finding>,
) -> (Option<CorsState>, String) {
    let cors_state = first.is_http().then(|| {
        let (req, invalid) = cors_request(target, ctx);
        if !invalid.is_empty() {
            notes.push(note::cors_header_invalid(&invalid));
        }
        let origin = cors::serialize_origin(&req.origin);
        let mut hop = req.clone();
        hop.origin = origin.clone();
        CorsState {
            same_origin: origin == http::origin_of(first),
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
    // A no-cors request with an unsafe method is never sent by the browser at all: its CORS
    // report says so, and the GET sent instead only answers whether the target is reachable.
    let no_cors = cors_state
        .as_ref()
        .is_some_and(|c| c.req.mode == cors::RequestMode::NoCors);
    if wire_method != page_method && !no_cors {
        notes.push(note::cors_method_not_sent(&page_method));
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
            notes.push(note::method_override_not_sent(&overrides));
        }
    }
    (cors_state, wire_method)
}

impl CorsState {
    /// Records the response `inc` at the current hop (at `url`; `redirected` once a redirect
    /// led here), with the preflight before it, and whether the browser stops here: at a
    /// failed preflight, or at a redirect response (`is_redirect`) that fails the CORS check.
    pub(super) fn record(
        &mut self,
        inc: &Incoming,
        redirected: bool,
        is_redirect: bool,
        preflight_failed: bool,
        url: &str,
    ) {
        let mut resp = observed(inc, redirected);
        // The browser's origin became `null` at a redirect that changed origin.
        resp.tainted_origin =
            self.hop.origin == "null" && cors::serialize_origin(&self.req.origin) != "null";
        let step = (self.hop.clone(), self.preflight.clone(), resp);
        let redirect_fails = is_redirect && hop_blocks(&self.hop, &step.2);
        if self.blocked.is_none() && (preflight_failed || redirect_fails) {
            let after_redirect = preflight_failed && redirected;
            self.blocked = Some((step.clone(), url.to_owned(), after_redirect));
        }
        self.last = Some(step);
    }

    /// Fetch: a redirect from a cross-origin URL (origin `from`) to yet another origin taints
    /// the request's origin, and from then on the browser sends `Origin: null`.
    pub(super) fn taint_origin(&mut self, from: &str, cross_origin: bool) {
        let page = cors::serialize_origin(&self.req.origin);
        if cross_origin && page != from {
            self.hop.origin = "null".to_owned();
        }
    }

    /// Once the pipeline stopped: the CORS verdict on what the browser would see, and the
    /// notes about preflights.
    ///
    /// The verdict is on the first step that fails the browser's checks (the browser stops
    /// there), otherwise on the final response. A chain cut short (an error or the deadline)
    /// has no final response, and so no verdict unless a step already failed.
    pub(super) fn conclude(&self, probe: &mut AgentProbe, notes: &mut Vec<Finding>) {
        if !self.same_origin {
            let step = match &self.blocked {
                Some((step, _, _)) => Some(step),
                None => self.last.as_ref().filter(|_| probe.http.is_some()),
            };
            if let Some((req, preflight, actual)) = step {
                probe.cors = Some(cors::evaluate(req, preflight.as_ref(), Some(actual)));
            }
            if let Some((_, url, true)) = &self.blocked {
                notes.push(note::cors_redirect_preflight_failed(url));
            }
        }
        if self.same_origin {
            notes.push(note::cors_same_origin(&self.hop.origin));
        }
        if !self.preflight_errors.is_empty() {
            notes.push(note::cors_preflight_failed(&self.preflight_errors));
        }
    }
}
