//! Request side: the request after the browser's own processing, the preflight and actual
//! request headers it sends, and the request-stage rows (sendable, preflight needed).

use super::origin::serialize_origin;
use super::safelist::{
    cors_unsafe_request_header_names, is_cors_safelisted_method, is_forbidden_method,
    is_forbidden_request_header, is_no_cors_safelisted_request_header, normalize_method,
};
use super::syntax::trim_http_whitespace;
use super::types::{CorsRequest, CorsStage, CorsVerdict, Credentials, RequestMode};
use super::{quote_list, Checks};

/// The request after the browser's own processing: normalised origin and method, forbidden
/// headers dropped, values trimmed.
pub(super) struct Prepared {
    pub(super) origin: String,
    pub(super) method: String,
    pub(super) mode: RequestMode,
    pub(super) credentials_mode: Credentials,
    /// Whether this cross-origin request carries credentials (mode `include`).
    pub(super) credentials: bool,
    pub(super) headers: Vec<(String, String)>,
    /// Forbidden headers the page set, which the browser drops.
    pub(super) dropped: Vec<String>,
    /// In `no-cors` mode, the headers outside the no-CORS safelist, which the browser also
    /// drops without an error.
    pub(super) dropped_no_cors: Vec<String>,
    pub(super) unsafe_names: Vec<String>,
    pub(super) has_authorization: bool,
    pub(super) preflight: bool,
    pub(super) read_headers: Vec<String>,
}

pub(super) fn prepare(req: &CorsRequest) -> Prepared {
    let mut headers = Vec::new();
    let mut dropped = Vec::new();
    for (name, value) in &req.headers {
        let value = trim_http_whitespace(value);
        if is_forbidden_request_header(name, value) {
            dropped.push(name.trim().to_owned());
        } else {
            headers.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    let mut dropped_no_cors = Vec::new();
    if req.mode == RequestMode::NoCors {
        // The Headers object's "request-no-cors" guard ignores every other header.
        headers.retain(|(n, v)| {
            let keep = is_no_cors_safelisted_request_header(n, v);
            if !keep {
                dropped_no_cors.push(n.clone());
            }
            keep
        });
    }
    let method = normalize_method(&req.method);
    let unsafe_names = cors_unsafe_request_header_names(&headers);
    let has_authorization = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    // A no-cors request is never preflighted: an unsafe method fails before anything is sent.
    let preflight = req.mode == RequestMode::Cors
        && (!is_cors_safelisted_method(&method) || !unsafe_names.is_empty());
    Prepared {
        origin: serialize_origin(&req.origin),
        method,
        mode: req.mode,
        credentials_mode: req.credentials,
        credentials: req.mode == RequestMode::Cors && req.credentials.cross_origin(),
        headers,
        dropped,
        dropped_no_cors,
        unsafe_names,
        has_authorization,
        preflight,
        read_headers: req.read_headers.clone(),
    }
}

/// Whether the browser sends a CORS preflight before this request.
pub fn needs_preflight(req: &CorsRequest) -> bool {
    prepare(req).preflight
}

/// The headers of the preflight the browser sends (method
/// [`PREFLIGHT_METHOD`](super::PREFLIGHT_METHOD)), or none when it sends no preflight.
/// `Access-Control-Request-Headers` is joined with a bare `,`, as the standard and Chromium
/// do, not `, `. Cookies are never sent on a preflight.
pub fn preflight_request_headers(req: &CorsRequest) -> Vec<(String, String)> {
    let p = prepare(req);
    if !p.preflight {
        return Vec::new();
    }
    preflight_headers_of(&p)
}

pub(super) fn preflight_headers_of(p: &Prepared) -> Vec<(String, String)> {
    let mut h = vec![
        ("Accept".to_owned(), "*/*".to_owned()),
        ("Origin".to_owned(), p.origin.clone()),
        ("Access-Control-Request-Method".to_owned(), p.method.clone()),
    ];
    if !p.unsafe_names.is_empty() {
        h.push((
            "Access-Control-Request-Headers".to_owned(),
            p.unsafe_names.join(","),
        ));
    }
    h
}

/// The headers of the actual request: `Origin` plus what the page sets (minus forbidden
/// ones, and in `no-cors` mode minus those outside the no-CORS safelist). A `no-cors` GET or
/// HEAD carries no `Origin` (Fetch "append a request `Origin` header").
pub fn actual_request_headers(req: &CorsRequest) -> Vec<(String, String)> {
    let p = prepare(req);
    let mut h = Vec::new();
    if p.mode == RequestMode::Cors || !matches!(p.method.as_str(), "GET" | "HEAD") {
        h.push(("Origin".to_owned(), p.origin));
    }
    h.extend(p.headers);
    h
}

/// The request-stage rows: what the browser does before sending anything (refuse the
/// method, drop forbidden headers) and whether it sends a preflight, and why.
pub(super) fn request_checks(p: &Prepared, c: &mut Checks) {
    let what = format!(
        "{} from {}, mode `{}`, credentials `{}`: {}",
        p.method,
        p.origin,
        p.mode.as_str(),
        p.credentials_mode.as_str(),
        credentials_meaning(p)
    );
    if is_forbidden_method(&p.method) {
        c.push(
            CorsStage::Request,
            "request_sendable",
            CorsVerdict::Fail,
            format!("fetch() refuses the method `{}` outright.", p.method),
        );
    } else if p.mode == RequestMode::NoCors && !is_cors_safelisted_method(&p.method) {
        c.push(
            CorsStage::Request,
            "request_sendable",
            CorsVerdict::Fail,
            format!(
                "fetch() throws a TypeError before sending anything: `{}` is unsupported in no-cors mode, which allows only GET, HEAD and POST.",
                p.method
            ),
        );
    } else if !p.dropped.is_empty() {
        c.push(
            CorsStage::Request,
            "request_sendable",
            CorsVerdict::Warn,
            format!(
                "{what}. The browser silently drops {}: pages may not set these headers.",
                quote_list(&p.dropped)
            ),
        );
    } else {
        c.push(
            CorsStage::Request,
            "request_sendable",
            CorsVerdict::Pass,
            format!("{what}."),
        );
    }
    if p.mode == RequestMode::NoCors {
        no_cors_checks(p, c);
        return;
    }
    let unsafe_phrase = match p.unsafe_names.as_slice() {
        [one] => format!("`{one}` is not a CORS-safelisted request header"),
        names => format!(
            "{} are not CORS-safelisted request headers",
            quote_list(names)
        ),
    };
    let safelisted_method = is_cors_safelisted_method(&p.method);
    let why_preflight = match (safelisted_method, p.unsafe_names.is_empty()) {
        (true, true) => {
            "No preflight: a CORS-safelisted method with only CORS-safelisted headers.".to_owned()
        }
        (false, true) => format!(
            "Preflight: `{}` is not a CORS-safelisted method (GET, HEAD, POST).",
            p.method
        ),
        (true, false) => format!(
            "Preflight: {unsafe_phrase} (Accept, Accept-Language, Content-Language, Content-Type of a form or text/plain, a simple Range; 128 bytes at most)."
        ),
        (false, false) => format!(
            "Preflight: `{}` is not a CORS-safelisted method, and {unsafe_phrase}.",
            p.method
        ),
    };
    c.push(
        CorsStage::Request,
        "preflight_needed",
        CorsVerdict::Pass,
        why_preflight,
    );
}

/// What the credentials mode means for this request.
fn credentials_meaning(p: &Prepared) -> &'static str {
    match (p.credentials_mode, p.mode) {
        (Credentials::Include, RequestMode::Cors) => {
            "cookies and HTTP authentication go with it, so the server must name this origin (not `*`) and send `Access-Control-Allow-Credentials: true`"
        }
        (Credentials::Include, RequestMode::NoCors) => {
            "cookies go with it (third-party cookie settings permitting)"
        }
        (Credentials::SameOrigin, _) => {
            "fetch's default; cookies go only to the page's own origin, so this cross-origin request carries none"
        }
        (Credentials::Omit, _) => "no cookies or HTTP authentication at all",
    }
}

/// The request-stage rows of a `no-cors` request: the headers the browser drops, and that
/// there is never a preflight.
fn no_cors_checks(p: &Prepared, c: &mut Checks) {
    if p.dropped_no_cors.is_empty() {
        c.push(
            CorsStage::Request,
            "no_cors_headers",
            CorsVerdict::Pass,
            "Every header the page sets is allowed in no-cors mode.".to_owned(),
        );
    } else {
        c.push(
            CorsStage::Request,
            "no_cors_headers",
            CorsVerdict::Warn,
            format!(
                "In no-cors mode the browser sends only Accept, Accept-Language, Content-Language and a form or text/plain Content-Type; it drops {} without an error, so the server never sees them.",
                quote_list(&p.dropped_no_cors)
            ),
        );
    }
    c.push(
        CorsStage::Request,
        "preflight_needed",
        CorsVerdict::Pass,
        "No preflight: a no-cors request is never preflighted.".to_owned(),
    );
}
