//! Request side: the request after the browser's own processing, the preflight and actual
//! request headers it sends, and the request-stage rows (sendable, preflight needed).

use super::origin::serialize_origin;
use super::safelist::{
    cors_unsafe_request_header_names, is_cors_safelisted_method, is_forbidden_method,
    is_forbidden_request_header, normalize_method,
};
use super::syntax::trim_http_whitespace;
use super::types::{CorsRequest, CorsStage, CorsVerdict};
use super::{quote_list, Checks};

/// The request after the browser's own processing: normalised origin and method, forbidden
/// headers dropped, values trimmed.
pub(super) struct Prepared {
    pub(super) origin: String,
    pub(super) method: String,
    pub(super) credentials: bool,
    pub(super) headers: Vec<(String, String)>,
    /// Forbidden headers the page set, which the browser drops.
    pub(super) dropped: Vec<String>,
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
    let method = normalize_method(&req.method);
    let unsafe_names = cors_unsafe_request_header_names(&headers);
    let has_authorization = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    let preflight = !is_cors_safelisted_method(&method) || !unsafe_names.is_empty();
    Prepared {
        origin: serialize_origin(&req.origin),
        method,
        credentials: req.credentials,
        headers,
        dropped,
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

/// The headers of the actual request: `Origin` plus what the page sets (minus forbidden ones).
pub fn actual_request_headers(req: &CorsRequest) -> Vec<(String, String)> {
    let p = prepare(req);
    let mut h = vec![("Origin".to_owned(), p.origin)];
    h.extend(p.headers);
    h
}

/// The request-stage rows: what the browser does before sending anything (refuse the
/// method, drop forbidden headers) and whether it sends a preflight, and why.
pub(super) fn request_checks(p: &Prepared, c: &mut Checks) {
    if is_forbidden_method(&p.method) {
        c.push(
            CorsStage::Request,
            "request_sendable",
            CorsVerdict::Fail,
            format!("fetch() refuses the method `{}` outright.", p.method),
        );
    } else if !p.dropped.is_empty() {
        c.push(
            CorsStage::Request,
            "request_sendable",
            CorsVerdict::Warn,
            format!(
                "The browser silently drops {}: pages may not set these headers.",
                quote_list(&p.dropped)
            ),
        );
    } else {
        c.push(
            CorsStage::Request,
            "request_sendable",
            CorsVerdict::Pass,
            format!("{} from {}.", p.method, p.origin),
        );
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
