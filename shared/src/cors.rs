//! CORS evaluator: replays the Fetch standard's CORS checks and names the rule that blocks a page.
//!
//! The agent sends the preflight a browser would send ([`preflight_request_headers`]) and the
//! actual request with `Origin`, records both responses as [`ObservedResponse`]s, and
//! [`evaluate`] walks the same steps as <https://fetch.spec.whatwg.org/#cors-protocol>: the
//! "CORS check", the "CORS-preflight fetch" checks, and the safelists that decide whether a
//! preflight is sent at all. Each rule becomes a [`CorsCheck`] row so the dashboard can show
//! exactly which one a browser would stop at, and the header to add.
//!
//! Everything here is pure and byte-exact where the standard is: ACAO and methods compare
//! case-sensitively, header names case-insensitively. Values are trimmed of HTTP whitespace,
//! as a browser's HTTP parser does before Fetch ever sees them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::diagnosis::{Finding, Severity};

/// The method of every CORS preflight.
pub const PREFLIGHT_METHOD: &str = "OPTIONS";
/// How long a preflight is cached when `Access-Control-Max-Age` is absent or invalid (Fetch).
pub const DEFAULT_MAX_AGE_SECS: u64 = 5;
/// Chromium's cap on `Access-Control-Max-Age` (2 hours, since Chrome 76).
pub const CHROMIUM_MAX_AGE_CAP_SECS: u64 = 7200;
/// Firefox's cap on `Access-Control-Max-Age` (24 hours).
pub const FIREFOX_MAX_AGE_CAP_SECS: u64 = 86_400;
/// A safelisted request header's value may be at most this long (bytes).
const SAFELISTED_VALUE_MAX: usize = 128;
/// Above this total of safelisted values, all of them count as unsafe (Fetch).
const SAFELISTED_TOTAL_MAX: usize = 1024;

/// What the page asks the browser to fetch, as far as CORS cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorsRequest {
    /// The page's origin, e.g. `https://shop.example`. Normalised as a browser serialises it
    /// (lowercase, no default port, no path) before use; `null` for opaque origins.
    pub origin: String,
    /// The method as the page's code writes it (`fetch(url, { method })`).
    pub method: String,
    /// Request headers the page sets, as (name, value). Values matter: `Content-Type:
    /// application/json` needs a preflight, `Content-Type: text/plain` does not.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Credentials mode "include" (cookies, HTTP auth, client certificates).
    #[serde(default)]
    pub credentials: bool,
    /// Response headers the page's script reads (e.g. `X-Total-Count` for pagination).
    #[serde(default)]
    pub read_headers: Vec<String>,
}

impl CorsRequest {
    pub fn new(origin: impl Into<String>, method: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            method: method.into(),
            headers: Vec::new(),
            credentials: false,
            read_headers: Vec::new(),
        }
    }

    /// Adds a request header the page sets.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Credentials mode "include".
    pub fn with_credentials(mut self) -> Self {
        self.credentials = true;
        self
    }

    /// Adds a response header the page's script reads.
    pub fn reading(mut self, name: impl Into<String>) -> Self {
        self.read_headers.push(name.into());
        self
    }
}

/// A response as the agent received it, before any CORS filtering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObservedResponse {
    pub status: u16,
    /// Raw (name, value) pairs in received order; a name may repeat.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The response came after following at least one redirect.
    #[serde(default)]
    pub redirected: bool,
}

impl ObservedResponse {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            redirected: false,
        }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_redirect(mut self) -> Self {
        self.redirected = true;
        self
    }

    /// Every value of `name` (case-insensitive), trimmed, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_http_whitespace(v))
    }

    /// Fetch's "get": all values joined by `, `, or `None` when absent. Two
    /// `Access-Control-Allow-Origin` headers therefore read as `a, b`, which matches nothing.
    pub fn get(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self.values(name).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// Which exchange a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CorsStage {
    /// What the page asks for, before anything is sent.
    Request,
    /// The `OPTIONS` preflight response.
    Preflight,
    /// The response to the actual request.
    Actual,
}

impl CorsStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Preflight => "preflight",
            Self::Actual => "actual",
        }
    }
}

impl fmt::Display for CorsStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one rule. Named `CorsVerdict` so that OpenAPI schema names stay unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CorsVerdict {
    Pass,
    /// The browser blocks the request (or hides the response) because of this rule.
    Fail,
    /// Allowed, but fragile or costly (caching, missing `Vary`, an unexposed header).
    Warn,
    /// The rule does not apply to this request, or an earlier failure makes it moot.
    NotApplicable,
}

/// One rule's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorsCheck {
    pub stage: CorsStage,
    /// Stable id: `preflight_ok_status`, `acao_present`, `acao_single_value`,
    /// `credentials_no_wildcard`, `acao_matches_origin`, `acac_true`, `method_allowed`,
    /// `headers_allowed`, `max_age`, `redirect`, `vary_origin`, `expose_headers`,
    /// `request_sendable`, `preflight_needed`.
    pub rule: String,
    pub verdict: CorsVerdict,
    /// Plain language, quoting the actual header values.
    pub detail: String,
    /// The response header that fixes this rule, e.g.
    /// `Access-Control-Allow-Origin: https://shop.example`.
    pub header_to_add: Option<String>,
}

/// Everything [`evaluate`] concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CorsReport {
    /// The origin as the browser sends it.
    pub origin: String,
    /// The method as the browser sends it.
    pub method: String,
    pub preflight_needed: bool,
    /// The preflight's headers (empty when none is needed).
    pub preflight_request_headers: Vec<(String, String)>,
    /// In browser order: request, preflight, actual.
    pub checks: Vec<CorsCheck>,
    /// The page can read the response: no check failed and every response the browser needs
    /// was observed.
    pub allowed: bool,
    /// Index in `checks` of the rule the browser stops at.
    pub first_failure: Option<usize>,
    /// Responses the browser needs that were not observed.
    pub missing: Vec<CorsStage>,
    /// A 5xx (typically a proxy's error page) is what really fails; the browser calls it CORS.
    pub proxy_error_page: bool,
    pub finding: Finding,
}

// ---------------------------------------------------------------------------------------------
// Request side: what the browser sends.
// ---------------------------------------------------------------------------------------------

/// HTTP whitespace (LF, CR, tab, space) trimmed from both ends: Fetch's "normalize".
fn trim_http_whitespace(s: &str) -> &str {
    s.trim_matches(['\t', ' ', '\r', '\n'])
}

fn trim_tab_space(s: &str) -> &str {
    s.trim_matches(['\t', ' '])
}

/// RFC 9110 `token`, which both methods and header names are.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// The origin exactly as a browser serialises it into `Origin`: lowercase scheme and host,
/// no default port, no path or trailing slash. A configured `https://Shop.example:443/` is
/// still sent as `https://shop.example`, so that is what the server must echo.
///
/// Text that is not an origin (no `scheme://`, an empty or malformed host, a port that is
/// not digits, spaces) comes back trimmed but otherwise as it was: it matches only itself,
/// and serialising the result again changes nothing (found by fuzzing: `://::` and
/// `https://shop.example /` used to change on every pass).
pub fn serialize_origin(input: &str) -> String {
    let s = trim_http_whitespace(input);
    if s.eq_ignore_ascii_case("null") {
        return "null".to_owned();
    }
    parse_origin(s).unwrap_or_else(|| s.to_owned())
}

/// `scheme://host[:port]` in serialised form, or `None` when `s` is not an origin.
fn parse_origin(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_ascii_lowercase();
    // An IPv6 literal has colons of its own; the port follows the closing bracket.
    let (host, port) = match authority.rfind(']') {
        Some(end) => {
            let (h, p) = authority.split_at(end + 1);
            let inner = h.strip_prefix('[')?.strip_suffix(']')?;
            if inner.is_empty()
                || !inner
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return None;
            }
            if !p.is_empty() && !p.starts_with(':') {
                return None;
            }
            (h.to_owned(), p.strip_prefix(':'))
        }
        None => {
            let (h, p) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority.as_str(), None),
            };
            let host_ok = !h.is_empty()
                && h.chars().all(|c| {
                    !c.is_whitespace()
                        && !c.is_control()
                        && !matches!(c, ':' | '/' | '?' | '#' | '@' | '[' | ']' | '\\')
                });
            if !host_ok {
                return None;
            }
            (h.to_owned(), p)
        }
    };
    if port.is_some_and(|p| !p.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    let port = match port.map(|p| (p, p.parse::<u16>())) {
        None | Some(("", _)) => String::new(),
        Some((_, Ok(n))) if Some(n) == default_port => String::new(),
        Some((_, Ok(n))) => format!(":{n}"),
        // Digits beyond 65535: not a port a browser sends, kept so it matches only itself.
        Some((p, Err(_))) => format!(":{p}"),
    };
    Some(format!("{scheme}://{host}{port}"))
}

/// Fetch's "normalize a method": only these six are upper-cased, so `patch` stays `patch`.
pub fn normalize_method(method: &str) -> String {
    let m = method.trim();
    const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    match NORMALIZED.iter().find(|n| n.eq_ignore_ascii_case(m)) {
        Some(n) => (*n).to_owned(),
        None => m.to_owned(),
    }
}

/// `GET`, `HEAD` and `POST` (byte-exact, after normalisation) need no preflight.
pub fn is_cors_safelisted_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "POST")
}

fn is_forbidden_method(method: &str) -> bool {
    ["CONNECT", "TRACE", "TRACK"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method.trim()))
}

/// Headers a page cannot set: the browser silently drops them (Fetch "forbidden request-header").
pub fn is_forbidden_request_header(name: &str, value: &str) -> bool {
    const FORBIDDEN: [&str; 21] = [
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    ];
    let lower = name.trim().to_ascii_lowercase();
    if FORBIDDEN.contains(&lower.as_str())
        || lower.starts_with("proxy-")
        || lower.starts_with("sec-")
    {
        return true;
    }
    // Method-override headers are forbidden only when they smuggle a forbidden method.
    matches!(
        lower.as_str(),
        "x-http-method" | "x-http-method-override" | "x-method-override"
    ) && value.split(',').any(is_forbidden_method)
}

/// Fetch's CORS-unsafe request-header byte.
fn is_cors_unsafe_byte(b: u8) -> bool {
    (b < 0x20 && b != 0x09)
        || matches!(
            b,
            b'"' | b'('
                | b')'
                | b':'
                | b'<'
                | b'>'
                | b'?'
                | b'@'
                | b'['
                | b'\\'
                | b']'
                | b'{'
                | b'}'
        )
        || b == 0x7F
}

/// The MIME type essence (`type/subtype`, lowercase), or `None` when it does not parse.
fn mime_essence(value: &str) -> Option<String> {
    let v = trim_http_whitespace(value);
    let (t, rest) = v.split_once('/')?;
    let subtype = trim_http_whitespace(rest.split(';').next().unwrap_or_default());
    (is_token(t) && is_token(subtype)).then(|| {
        format!(
            "{}/{}",
            t.to_ascii_lowercase(),
            subtype.to_ascii_lowercase()
        )
    })
}

/// Fetch's "parse a single range header value" without whitespace: `(start, end)`.
fn parse_single_range(value: &str) -> Option<(Option<u64>, Option<u64>)> {
    let rest = value.strip_prefix("bytes")?.strip_prefix('=')?;
    let (start, end) = rest.split_once('-')?;
    let digits = |s: &str| -> Option<Option<u64>> {
        if s.is_empty() {
            Some(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            // Beyond u64 still counts as a number; saturate rather than reject.
            Some(Some(s.parse().unwrap_or(u64::MAX)))
        } else {
            None
        }
    };
    let (start, end) = (digits(start)?, digits(end)?);
    match (start, end) {
        (None, None) => None,
        (Some(s), Some(e)) if s > e => None,
        r => Some(r),
    }
}

/// Fetch's "CORS-safelisted request-header": such a header needs no preflight.
pub fn is_cors_safelisted_request_header(name: &str, value: &str) -> bool {
    if value.len() > SAFELISTED_VALUE_MAX {
        return false;
    }
    match name.trim().to_ascii_lowercase().as_str() {
        "accept" => !value.bytes().any(is_cors_unsafe_byte),
        "accept-language" | "content-language" => value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b' ' | b'*' | b',' | b'-' | b'.' | b';' | b'=')
        }),
        "content-type" => {
            !value.bytes().any(is_cors_unsafe_byte)
                && mime_essence(value).is_some_and(|e| {
                    matches!(
                        e.as_str(),
                        "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
                    )
                })
        }
        // `bytes=-500` (no start) is valid HTTP but not safelisted: browsers never sent it.
        "range" => matches!(parse_single_range(value), Some((Some(_), _))),
        _ => false,
    }
}

/// Fetch's "CORS-unsafe request-header names": sorted, lowercase, distinct.
pub fn cors_unsafe_request_header_names(headers: &[(String, String)]) -> Vec<String> {
    let mut unsafe_names = Vec::new();
    let mut potentially_unsafe = Vec::new();
    let mut safelist_size = 0;
    for (name, value) in headers {
        if is_cors_safelisted_request_header(name, value) {
            potentially_unsafe.push(name.trim());
            safelist_size += value.len();
        } else {
            unsafe_names.push(name.trim());
        }
    }
    if safelist_size > SAFELISTED_TOTAL_MAX {
        unsafe_names.extend(potentially_unsafe);
    }
    let mut names: Vec<String> = unsafe_names
        .into_iter()
        .map(str::to_ascii_lowercase)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The request after the browser's own processing: normalised origin and method, forbidden
/// headers dropped, values trimmed.
struct Prepared {
    origin: String,
    method: String,
    credentials: bool,
    headers: Vec<(String, String)>,
    dropped: Vec<String>,
    unsafe_names: Vec<String>,
    has_authorization: bool,
    preflight: bool,
    read_headers: Vec<String>,
}

fn prepare(req: &CorsRequest) -> Prepared {
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

/// The headers of the preflight the browser sends (method [`PREFLIGHT_METHOD`]), or none
/// when it sends no preflight. `Access-Control-Request-Headers` is joined with a bare `,`,
/// as the standard and Chromium do, not `, `. Cookies are never sent on a preflight.
pub fn preflight_request_headers(req: &CorsRequest) -> Vec<(String, String)> {
    let p = prepare(req);
    if !p.preflight {
        return Vec::new();
    }
    preflight_headers_of(&p)
}

fn preflight_headers_of(p: &Prepared) -> Vec<(String, String)> {
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

// ---------------------------------------------------------------------------------------------
// Response side: the checks.
// ---------------------------------------------------------------------------------------------

const ACAO: &str = "Access-Control-Allow-Origin";
const ACAC: &str = "Access-Control-Allow-Credentials";
const ACAM: &str = "Access-Control-Allow-Methods";
const ACAH: &str = "Access-Control-Allow-Headers";
const ACMA: &str = "Access-Control-Max-Age";
const ACEH: &str = "Access-Control-Expose-Headers";

/// Response headers scripts can always read (Fetch "CORS-safelisted response-header name").
const SAFELISTED_RESPONSE_HEADERS: [&str; 7] = [
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

/// A `#token` header (methods, header names) after Fetch's "extracting header list values".
enum TokenList {
    Absent,
    /// Not a comma-separated list of tokens: the browser rejects the whole preflight.
    Invalid(String),
    Items(Vec<String>),
}

fn extract_token_list(resp: &ObservedResponse, name: &str) -> TokenList {
    let Some(raw) = resp.get(name) else {
        return TokenList::Absent;
    };
    let mut items = Vec::new();
    for item in raw.split(',').map(trim_tab_space) {
        // RFC 9110 §5.6.1: recipients accept and ignore empty list elements.
        if item.is_empty() {
            continue;
        }
        if !is_token(item) {
            return TokenList::Invalid(raw);
        }
        items.push(item.to_owned());
    }
    TokenList::Items(items)
}

struct Checks {
    rows: Vec<CorsCheck>,
}

impl Checks {
    fn push(&mut self, stage: CorsStage, rule: &str, verdict: CorsVerdict, detail: String) {
        self.rows.push(CorsCheck {
            stage,
            rule: rule.to_owned(),
            verdict,
            detail,
            header_to_add: None,
        });
    }

    fn push_fix(
        &mut self,
        stage: CorsStage,
        rule: &str,
        verdict: CorsVerdict,
        detail: String,
        header: String,
    ) {
        self.rows.push(CorsCheck {
            stage,
            rule: rule.to_owned(),
            verdict,
            detail,
            header_to_add: Some(header),
        });
    }
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `acao` is not byte-equal to `origin`, in words a person can act on.
fn origin_mismatch_hint(acao: &str, origin: &str) -> String {
    if origin == "null" {
        return "the page has an opaque origin (sandboxed iframe, file:// or data: URL), \
                which browsers send as `null`"
            .to_owned();
    }
    if acao == "null" {
        return "`null` matches only pages with an opaque origin (sandboxed iframes, \
                file://), never a real site"
            .to_owned();
    }
    if acao.trim_end_matches('/') == origin {
        return "a serialised origin has no trailing slash".to_owned();
    }
    if acao.starts_with(origin) && acao[origin.len()..].starts_with('/') {
        return "an origin is scheme, host and port only, without a path".to_owned();
    }
    if acao.eq_ignore_ascii_case(origin) {
        return "the comparison is byte-exact and browsers send the scheme and host in lowercase"
            .to_owned();
    }
    if serialize_origin(acao) == origin {
        return "browsers omit the default port (:443 for https, :80 for http) from `Origin`"
            .to_owned();
    }
    let after_scheme = |s: &str| s.split_once("://").map(|(_, r)| r.to_owned());
    if after_scheme(acao).is_some() && after_scheme(acao) == after_scheme(origin) {
        return "the scheme differs (http vs https)".to_owned();
    }
    "the server allows a different origin; add this one to its allow-list and echo it back"
        .to_owned()
}

/// Fetch's "CORS check", one row per step, so that every independent problem is reported
/// and not only the first.
fn cors_check(p: &Prepared, resp: &ObservedResponse, stage: CorsStage, c: &mut Checks) {
    use CorsVerdict::*;
    let fix_origin = format!("{ACAO}: {}", p.origin);
    let values: Vec<&str> = resp.values(ACAO).collect();
    let combined = resp.get(ACAO);

    // Step 1–2: no header at all.
    let Some(acao) = combined else {
        c.push_fix(
            stage,
            "acao_present",
            Fail,
            format!(
                "The {stage} response (HTTP {}) has no {ACAO} header, so the browser refuses to share it with {}.",
                resp.status, p.origin
            ),
            fix_origin,
        );
        for rule in [
            "acao_single_value",
            "credentials_no_wildcard",
            "acao_matches_origin",
        ] {
            c.push(stage, rule, NotApplicable, format!("No {ACAO} to examine."));
        }
        acac_check(p, resp, stage, c);
        return;
    };
    c.push(stage, "acao_present", Pass, format!("{ACAO}: {acao}"));

    // "get" joins repeated headers with ", ", so two headers (often one from the proxy and
    // one from the app) or a list can never equal a single serialised origin.
    let single = if values.len() > 1 {
        c.push_fix(
            stage,
            "acao_single_value",
            Fail,
            format!(
                "{ACAO} is sent {} times ({}); the browser reads them as `{acao}`, which matches no origin. Usually both the proxy and the application add it: keep one.",
                values.len(),
                values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
            ),
            fix_origin.clone(),
        );
        false
    } else if acao.contains(',') || acao.contains([' ', '\t']) {
        c.push_fix(
            stage,
            "acao_single_value",
            Fail,
            format!(
                "{ACAO} is `{acao}`: it must be one origin or `*`, never a list. Keep the allow-list on the server and echo the request's origin when it is on it."
            ),
            fix_origin.clone(),
        );
        false
    } else {
        c.push(
            stage,
            "acao_single_value",
            Pass,
            format!("One value: `{acao}`."),
        );
        true
    };

    // Step 3: `*` short-circuits only without credentials.
    if acao == "*" {
        if p.credentials {
            c.push_fix(
                stage,
                "credentials_no_wildcard",
                Fail,
                format!(
                    "{ACAO} is `*`, which browsers reject for requests with credentials; echo the origin `{}` instead.",
                    p.origin
                ),
                fix_origin.clone(),
            );
            c.push(
                stage,
                "acao_matches_origin",
                NotApplicable,
                "`*` with credentials: see credentials_no_wildcard.".to_owned(),
            );
        } else {
            c.push(
                stage,
                "credentials_no_wildcard",
                NotApplicable,
                "The request carries no credentials.".to_owned(),
            );
            c.push(
                stage,
                "acao_matches_origin",
                Pass,
                format!(
                    "`*` allows every origin for requests without credentials, including {}.",
                    p.origin
                ),
            );
        }
    } else {
        if p.credentials {
            c.push(
                stage,
                "credentials_no_wildcard",
                Pass,
                format!("{ACAO} names an origin (`{acao}`), not `*`."),
            );
        } else {
            c.push(
                stage,
                "credentials_no_wildcard",
                NotApplicable,
                "The request carries no credentials.".to_owned(),
            );
        }
        // Step 4: byte-for-byte comparison with the serialised request origin.
        if !single {
            c.push(
                stage,
                "acao_matches_origin",
                NotApplicable,
                "Not a single value: see acao_single_value.".to_owned(),
            );
        } else if acao == p.origin && acao == "null" {
            c.push_fix(
                stage,
                "acao_matches_origin",
                Warn,
                "`null` matches, but every sandboxed iframe and file:// page has the origin `null` too: this shares the response with any of them. Serve the page from a real origin and allow that one.".to_owned(),
                fix_origin.clone(),
            );
        } else if acao == p.origin {
            c.push(
                stage,
                "acao_matches_origin",
                Pass,
                format!("`{acao}` equals the page's origin byte for byte."),
            );
        } else {
            c.push_fix(
                stage,
                "acao_matches_origin",
                Fail,
                format!(
                    "{ACAO} is `{acao}` but the page's origin is `{}`: {}.",
                    p.origin,
                    origin_mismatch_hint(&acao, &p.origin)
                ),
                fix_origin.clone(),
            );
        }
    }
    acac_check(p, resp, stage, c);
}

/// Steps 5–8 of the CORS check: with credentials, `Access-Control-Allow-Credentials` must be
/// exactly `true` (case-sensitive, once: two headers read as `true, true`).
fn acac_check(p: &Prepared, resp: &ObservedResponse, stage: CorsStage, c: &mut Checks) {
    let fix = format!("{ACAC}: true");
    if !p.credentials {
        c.push(
            stage,
            "acac_true",
            CorsVerdict::NotApplicable,
            "The request carries no credentials.".to_owned(),
        );
        return;
    }
    match resp.get(ACAC) {
        Some(v) if v == "true" => {
            c.push(
                stage,
                "acac_true",
                CorsVerdict::Pass,
                format!("{ACAC}: true"),
            );
        }
        Some(v) => {
            c.push_fix(
                stage,
                "acac_true",
                CorsVerdict::Fail,
                format!(
                    "{ACAC} is `{v}`; with credentials it must be exactly `true` (lowercase, sent once)."
                ),
                fix,
            );
        }
        None => {
            c.push_fix(
                stage,
                "acac_true",
                CorsVerdict::Fail,
                format!(
                    "The {stage} response has no {ACAC}; a request with credentials needs `{ACAC}: true`."
                ),
                fix,
            );
        }
    }
}

fn preflight_status_check(resp: &ObservedResponse, c: &mut Checks) -> bool {
    let stage = CorsStage::Preflight;
    let s = resp.status;
    // A preflight goes through HTTP-network-or-cache fetch, which never follows redirects:
    // a 3xx is simply not an ok status.
    let (verdict, detail) = if resp.redirected || (300..400).contains(&s) {
        let detail = format!(
            "The preflight was redirected (HTTP {s}); browsers never follow redirects for a \
             preflight. Point the page at the final URL (often http→https or a missing trailing \
             slash)."
        );
        (CorsVerdict::Fail, detail)
    } else if (200..300).contains(&s) {
        (CorsVerdict::Pass, format!("HTTP {s} is an ok status."))
    } else {
        let why = match s {
            401 | 403 => {
                "a preflight never carries cookies or Authorization, so the server must answer \
                 OPTIONS without authentication"
            }
            404 | 405 | 501 => {
                "the server does not handle OPTIONS for this path; answer it with 204 and the \
                 CORS headers"
            }
            500..=599 => "the proxy or backend failed; a browser shows this as a CORS error",
            _ => "a preflight needs a 2xx answer (e.g. 204)",
        };
        (
            CorsVerdict::Fail,
            format!("The preflight got HTTP {s}, not 200–299: {why}."),
        )
    };
    let ok = verdict == CorsVerdict::Pass;
    c.push(stage, "preflight_ok_status", verdict, detail);
    ok
}

fn method_check(p: &Prepared, resp: &ObservedResponse, c: &mut Checks) -> bool {
    let stage = CorsStage::Preflight;
    let m = &p.method;
    let fix_with = |existing: &[String]| {
        let mut items: Vec<String> = existing
            .iter()
            .filter(|i| *i != "*" || !p.credentials)
            .filter(|i| *i != m)
            .cloned()
            .collect();
        items.push(m.clone());
        format!("{ACAM}: {}", items.join(", "))
    };
    let items = match extract_token_list(resp, ACAM) {
        TokenList::Invalid(raw) => {
            // Browsers fail the whole preflight on an unparsable list, even for GET.
            let tokens: Vec<String> = raw
                .split([',', ' ', '\t'])
                .filter(|t| is_token(t))
                .map(str::to_owned)
                .collect();
            c.push_fix(
                stage,
                "method_allowed",
                CorsVerdict::Fail,
                format!(
                    "{ACAM} is `{raw}`, not a comma-separated list of methods; browsers reject \
                     the whole preflight."
                ),
                fix_with(&tokens),
            );
            return false;
        }
        TokenList::Absent => Vec::new(),
        TokenList::Items(items) => items,
    };
    let listed = items.iter().any(|i| i == m);
    let wildcard = items.iter().any(|i| i == "*");
    let (verdict, detail) = if listed {
        (CorsVerdict::Pass, format!("`{m}` is listed in {ACAM}."))
    } else if is_cors_safelisted_method(m) {
        (
            CorsVerdict::Pass,
            format!("`{m}` is a CORS-safelisted method and needs no listing."),
        )
    } else if wildcard && !p.credentials {
        (
            CorsVerdict::Pass,
            format!("{ACAM} `*` allows any method for requests without credentials."),
        )
    } else {
        let shown = if items.is_empty() {
            format!("There is no {ACAM}")
        } else {
            format!("{ACAM} is `{}`", items.join(", "))
        };
        let hint = if let Some(other) = items.iter().find(|i| i.eq_ignore_ascii_case(m)) {
            format!(
                ": methods compare case-sensitively, and `{other}` is not `{m}` (fetch() upper-cases only DELETE, GET, HEAD, OPTIONS, POST and PUT)"
            )
        } else if wildcard {
            ": with credentials `*` is a literal method name, not a wildcard".to_owned()
        } else {
            String::new()
        };
        (
            CorsVerdict::Fail,
            format!("{shown}, which does not allow `{m}`{hint}."),
        )
    };
    let ok = verdict != CorsVerdict::Fail;
    if ok {
        c.push(stage, "method_allowed", verdict, detail);
    } else {
        c.push_fix(stage, "method_allowed", verdict, detail, fix_with(&items));
    }
    ok
}

fn headers_check(p: &Prepared, resp: &ObservedResponse, c: &mut Checks) -> bool {
    let stage = CorsStage::Preflight;
    let fix_with = |existing: &[String], missing: &[String]| {
        let mut items: Vec<String> = existing
            .iter()
            .filter(|i| *i != "*" || !p.credentials)
            .cloned()
            .collect();
        items.extend(missing.iter().cloned());
        format!("{ACAH}: {}", items.join(", "))
    };
    let items = match extract_token_list(resp, ACAH) {
        TokenList::Invalid(raw) => {
            let tokens: Vec<String> = raw
                .split([',', ' ', '\t'])
                .filter(|t| is_token(t))
                .map(str::to_owned)
                .collect();
            let missing: Vec<String> = p
                .unsafe_names
                .iter()
                .filter(|n| !tokens.iter().any(|t| t.eq_ignore_ascii_case(n)))
                .cloned()
                .collect();
            c.push_fix(
                stage,
                "headers_allowed",
                CorsVerdict::Fail,
                format!(
                    "{ACAH} is `{raw}`, not a comma-separated list of header names; browsers \
                     reject the whole preflight."
                ),
                fix_with(&tokens, &missing),
            );
            return false;
        }
        TokenList::Absent => Vec::new(),
        TokenList::Items(items) => items,
    };
    if p.unsafe_names.is_empty() {
        c.push(
            stage,
            "headers_allowed",
            CorsVerdict::Pass,
            "The page sets only CORS-safelisted request headers, which need no listing.".to_owned(),
        );
        return true;
    }
    let wildcard = items.iter().any(|i| i == "*") && !p.credentials;
    let listed = |n: &str| items.iter().any(|i| i.eq_ignore_ascii_case(n));
    // `Authorization` is a CORS non-wildcard request-header name: `*` never covers it.
    let missing: Vec<String> = p
        .unsafe_names
        .iter()
        .filter(|n| !listed(n) && (!wildcard || n.as_str() == "authorization"))
        .cloned()
        .collect();
    let shown = if items.is_empty() {
        format!("there is no {ACAH}")
    } else {
        format!("{ACAH} is `{}`", items.join(", "))
    };
    if missing.is_empty() {
        c.push(
            stage,
            "headers_allowed",
            CorsVerdict::Pass,
            format!(
                "Requested {} all allowed ({shown}).",
                quote_list(&p.unsafe_names)
            ),
        );
        return true;
    }
    let mut hints = Vec::new();
    if p.has_authorization
        && missing.iter().any(|m| m == "authorization")
        && items.iter().any(|i| i == "*")
    {
        hints.push("`*` never covers Authorization, which must be listed by name".to_owned());
    }
    if p.credentials && items.iter().any(|i| i == "*") {
        hints.push("with credentials `*` is a literal header name, not a wildcard".to_owned());
    }
    let hint = if hints.is_empty() {
        String::new()
    } else {
        format!(" ({})", hints.join("; "))
    };
    c.push_fix(
        stage,
        "headers_allowed",
        CorsVerdict::Fail,
        format!("The page sends {} but {shown}{hint}.", quote_list(&missing)),
        fix_with(&items, &missing),
    );
    false
}

fn max_age_check(resp: &ObservedResponse, c: &mut Checks) {
    let stage = CorsStage::Preflight;
    let values: Vec<&str> = resp.values(ACMA).collect();
    let suggested = format!("{ACMA}: {CHROMIUM_MAX_AGE_CAP_SECS}");
    // `delta-seconds` allows a single header of digits only; anything else (including `-1`,
    // which some servers send to mean "no cache") makes browsers fall back to 5 s.
    let parsed = match values.as_slice() {
        [] => None,
        [v] if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Ok(v.parse::<u64>().unwrap_or(u64::MAX)))
        }
        _ => Some(Err(values.join(", "))),
    };
    match parsed {
        None => c.push(
            stage,
            "max_age",
            CorsVerdict::Pass,
            format!(
                "No {ACMA}: browsers cache this preflight for {DEFAULT_MAX_AGE_SECS} s, so nearly every request pays an extra round trip. `{suggested}` avoids that."
            ),
        ),
        Some(Err(raw)) => c.push_fix(
            stage,
            "max_age",
            CorsVerdict::Warn,
            format!(
                "{ACMA} `{raw}` is not one non-negative number of seconds; browsers ignore it and cache for {DEFAULT_MAX_AGE_SECS} s."
            ),
            suggested,
        ),
        Some(Ok(0)) => c.push(
            stage,
            "max_age",
            CorsVerdict::Pass,
            format!(
                "{ACMA}: 0 disables preflight caching: every request is preceded by a preflight."
            ),
        ),
        Some(Ok(n)) if n > CHROMIUM_MAX_AGE_CAP_SECS => c.push_fix(
            stage,
            "max_age",
            CorsVerdict::Warn,
            format!(
                "{ACMA}: {n} is capped by browsers: Chromium caches for {} s, Firefox for {} s.",
                n.min(CHROMIUM_MAX_AGE_CAP_SECS),
                n.min(FIREFOX_MAX_AGE_CAP_SECS)
            ),
            suggested,
        ),
        Some(Ok(n)) => c.push(
            stage,
            "max_age",
            CorsVerdict::Pass,
            format!("Browsers cache this preflight for {n} s."),
        ),
    }
}

fn redirect_check(resp: &ObservedResponse, c: &mut Checks) {
    if resp.redirected {
        c.push(
            CorsStage::Actual,
            "redirect",
            CorsVerdict::Warn,
            "The actual request was redirected: every hop must pass the CORS check, and after a redirect to another origin the browser sends `Origin: null`. Call the final URL directly.".to_owned(),
        );
    } else {
        c.push(
            CorsStage::Actual,
            "redirect",
            CorsVerdict::Pass,
            "Not redirected.".to_owned(),
        );
    }
}

fn vary_check(resp: &ObservedResponse, c: &mut Checks) {
    let stage = CorsStage::Actual;
    // The first value: a duplicated header is reported by acao_single_value already.
    match resp.values(ACAO).next() {
        None | Some("*") => c.push(
            stage,
            "vary_origin",
            CorsVerdict::NotApplicable,
            format!("{ACAO} does not vary per origin."),
        ),
        Some(acao) => {
            let vary: Vec<String> = resp
                .values("Vary")
                .flat_map(|v| v.split(','))
                .map(|t| trim_tab_space(t).to_owned())
                .filter(|t| !t.is_empty())
                .collect();
            if vary
                .iter()
                .any(|t| t == "*" || t.eq_ignore_ascii_case("origin"))
            {
                c.push(
                    stage,
                    "vary_origin",
                    CorsVerdict::Pass,
                    format!("Vary: {}", vary.join(", ")),
                );
            } else {
                c.push_fix(
                    stage,
                    "vary_origin",
                    CorsVerdict::Warn,
                    format!(
                        "{ACAO} echoes `{acao}` without `Vary: Origin`: a CDN or proxy cache may hand this response to a page on another origin, which then fails CORS."
                    ),
                    "Vary: Origin".to_owned(),
                );
            }
        }
    }
}

fn expose_check(p: &Prepared, resp: &ObservedResponse, c: &mut Checks) {
    let stage = CorsStage::Actual;
    let exposed: Vec<String> = resp
        .values(ACEH)
        .flat_map(|v| v.split(','))
        .map(|t| trim_tab_space(t).to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    // `*` exposes everything only without credentials; with them it is a literal name.
    let wildcard = exposed.iter().any(|e| e == "*") && !p.credentials;
    let shown = if exposed.is_empty() {
        format!("no {ACEH}")
    } else {
        format!("{ACEH}: {}", exposed.join(", "))
    };
    if p.read_headers.is_empty() {
        c.push(
            stage,
            "expose_headers",
            CorsVerdict::NotApplicable,
            format!("The page reads no response headers beyond the safelisted ones ({shown})."),
        );
        return;
    }
    let mut never = Vec::new();
    let mut missing = Vec::new();
    for name in &p.read_headers {
        let lower = name.trim().to_ascii_lowercase();
        if lower == "set-cookie" || lower == "set-cookie2" {
            never.push(name.trim().to_owned());
        } else if !SAFELISTED_RESPONSE_HEADERS.contains(&lower.as_str())
            && !wildcard
            && !exposed.iter().any(|e| e.eq_ignore_ascii_case(&lower))
        {
            missing.push(name.trim().to_owned());
        }
    }
    if missing.is_empty() && never.is_empty() {
        c.push(
            stage,
            "expose_headers",
            CorsVerdict::Pass,
            format!(
                "The page can read {} ({shown}).",
                quote_list(&p.read_headers)
            ),
        );
        return;
    }
    let mut detail = String::new();
    if !missing.is_empty() {
        detail = format!(
            "The page reads {} but the response has {shown}: `headers.get()` returns null, with no error in the console.",
            quote_list(&missing)
        );
    }
    if !never.is_empty() {
        if !detail.is_empty() {
            detail.push(' ');
        }
        detail.push_str("Set-Cookie is never readable by scripts, whatever the headers say.");
    }
    if missing.is_empty() {
        c.push(stage, "expose_headers", CorsVerdict::Warn, detail);
    } else {
        let mut items: Vec<String> = exposed
            .iter()
            .filter(|e| *e != "*" || !p.credentials)
            .cloned()
            .collect();
        items.extend(missing);
        c.push_fix(
            stage,
            "expose_headers",
            CorsVerdict::Warn,
            detail,
            format!("{ACEH}: {}", items.join(", ")),
        );
    }
}

/// Runs every CORS rule a browser would apply to `req`, given the preflight and actual
/// responses the agent observed (either may be missing).
pub fn evaluate(
    req: &CorsRequest,
    preflight: Option<&ObservedResponse>,
    actual: Option<&ObservedResponse>,
) -> CorsReport {
    let p = prepare(req);
    let mut c = Checks { rows: Vec::new() };
    let mut missing = Vec::new();
    let mut proxy_status = None;

    // Request stage: what the browser does before sending anything.
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

    if p.preflight {
        match preflight {
            Some(resp) => {
                let status_ok = preflight_status_check(resp, &mut c);
                cors_check(&p, resp, CorsStage::Preflight, &mut c);
                method_check(&p, resp, &mut c);
                headers_check(&p, resp, &mut c);
                max_age_check(resp, &mut c);
                // A failing preflight status from a 5xx is the backend, whatever the headers.
                if !status_ok && resp.status >= 500 {
                    proxy_status = Some((CorsStage::Preflight, resp.status));
                }
            }
            None => missing.push(CorsStage::Preflight),
        }
    }
    match actual {
        Some(resp) => {
            redirect_check(resp, &mut c);
            cors_check(&p, resp, CorsStage::Actual, &mut c);
            vary_check(resp, &mut c);
            expose_check(&p, resp, &mut c);
            // An error page with no ACAO at all is the proxy's (or a crashed app's), not the
            // application's CORS configuration.
            if resp.status >= 500 && resp.get(ACAO).is_none() && proxy_status.is_none() {
                proxy_status = Some((CorsStage::Actual, resp.status));
            }
        }
        None => missing.push(CorsStage::Actual),
    }

    let checks = c.rows;
    let first_failure = checks.iter().position(|c| c.verdict == CorsVerdict::Fail);
    let allowed = first_failure.is_none() && missing.is_empty();
    // Once the fix echoes a specific origin, caches must key on it too.
    let has_vary_origin = actual.is_some_and(|r| {
        r.values("Vary")
            .flat_map(|v| v.split(','))
            .any(|t| trim_tab_space(t).eq_ignore_ascii_case("origin"))
    });
    let finding = build_finding(
        &p,
        &checks,
        first_failure,
        &missing,
        proxy_status,
        has_vary_origin,
    );
    CorsReport {
        preflight_request_headers: if p.preflight {
            preflight_headers_of(&p)
        } else {
            Vec::new()
        },
        origin: p.origin,
        method: p.method,
        preflight_needed: p.preflight,
        checks,
        allowed,
        first_failure,
        missing,
        proxy_error_page: proxy_status.is_some(),
        finding,
    }
}

// ---------------------------------------------------------------------------------------------
// The finding.
// ---------------------------------------------------------------------------------------------

/// Headers to add, one per name (the first suggestion wins), from failing and warning rows.
fn headers_to_add(checks: &[CorsCheck]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for h in checks
        .iter()
        .filter(|c| matches!(c.verdict, CorsVerdict::Fail | CorsVerdict::Warn))
        .filter_map(|c| c.header_to_add.as_deref())
    {
        if let Some((name, value)) = h.split_once(": ") {
            if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                out.push((name.to_owned(), value.to_owned()));
            }
        }
    }
    out
}

/// An nginx snippet. `always` matters: without it nginx adds headers only to 2xx/3xx
/// responses, so error pages reach the browser without CORS headers.
fn nginx_snippet(headers: &[(String, String)], answer_options: bool) -> String {
    let mut s = String::from(
        "# nginx, in the location that serves this API (`always` also covers 4xx/5xx responses)\n",
    );
    for (name, value) in headers {
        s.push_str(&format!("add_header {name} \"{value}\" always;\n"));
    }
    if answer_options {
        s.push_str(
            "# answer preflights here, before authentication or the upstream sees them\nif ($request_method = OPTIONS) {\n    return 204;\n}\n",
        );
    }
    s
}

fn severity_of_warning(rule: &str) -> Severity {
    // A capped or invalid Max-Age only costs round trips; the others hide real breakage.
    if rule == "max_age" {
        Severity::Info
    } else {
        Severity::Warning
    }
}

fn build_finding(
    p: &Prepared,
    checks: &[CorsCheck],
    first_failure: Option<usize>,
    missing: &[CorsStage],
    proxy_status: Option<(CorsStage, u16)>,
    has_vary_origin: bool,
) -> Finding {
    let what = format!("{} from {}", p.method, p.origin);
    let mut headers = headers_to_add(checks);
    if proxy_status.is_some() && !headers.iter().any(|(n, _)| n == ACAO) {
        headers.insert(0, (ACAO.to_owned(), p.origin.clone()));
    }
    if proxy_status.is_some() && p.credentials && !headers.iter().any(|(n, _)| n == ACAC) {
        headers.push((ACAC.to_owned(), "true".to_owned()));
    }
    if headers.iter().any(|(n, v)| n == ACAO && v != "*")
        && !has_vary_origin
        && !headers.iter().any(|(n, _)| n == "Vary")
    {
        headers.push(("Vary".to_owned(), "Origin".to_owned()));
    }

    if let Some((stage, status)) = proxy_status {
        // The page's developers see "CORS error" in the console; the fix is elsewhere.
        let evidence = match stage {
            CorsStage::Preflight => format!(
                "The preflight (OPTIONS) got HTTP {status}, and a preflight must be answered with 200–299."
            ),
            _ => format!("The request got HTTP {status} without {ACAO}."),
        };
        return Finding::new(
            "cors_proxy_error_page",
            Severity::Critical,
            format!(
                "The browser will report a CORS error for {what}, but the real failure is HTTP {status} from the proxy/backend"
            ),
            format!(
                "{evidence} Such a response is typically a proxy's own error page (no healthy upstream, connection refused, upstream timeout), which carries no CORS headers. So the browser will report a CORS error, but the real failure is HTTP {status} from the proxy/backend; fix the backend (or make the proxy add CORS headers to error pages)."
            ),
        )
        .with_fix(
            format!(
                "Fix the backend behind the proxy (why does it answer {status}?). To see the real status in the browser, make the proxy add CORS headers to error pages too."
            ),
            Some(nginx_snippet(&headers, false)),
            Some("nginx"),
        );
    }

    if let Some(i) = first_failure {
        let failing = &checks[i];
        let status_failed = checks.iter().any(|c| {
            c.rule == "preflight_ok_status"
                && c.verdict == CorsVerdict::Fail
                && !c.detail.starts_with("The preflight was redirected")
        });
        let mut finding = Finding::new(
            &format!("cors_{}", failing.rule),
            Severity::Critical,
            format!(
                "CORS blocks {what} at {} rule `{}`: {}",
                failing.stage, failing.rule, failing.detail
            ),
            explanation(checks),
        );
        if !headers.is_empty() || status_failed {
            finding = finding.with_fix(
                "Send these response headers (shown for nginx; a framework's CORS middleware sets the same ones).",
                Some(nginx_snippet(&headers, status_failed)),
                Some("nginx"),
            );
        } else {
            finding = finding.with_fix(failing.detail.clone(), None, None);
        }
        return finding;
    }

    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Finding::new(
            "cors_incomplete",
            Severity::Info,
            format!(
                "No CORS rule fails for {what}, but the {} response was not observed",
                names.join(" and ")
            ),
            "The verdict covers only the responses that were probed. Unsafe methods are not sent for real by the agent; their actual response still needs Access-Control-Allow-Origin.".to_owned(),
        );
    }

    if let Some(w) = checks.iter().find(|c| c.verdict == CorsVerdict::Warn) {
        let mut finding = Finding::new(
            &format!("cors_{}", w.rule),
            severity_of_warning(&w.rule),
            format!(
                "CORS allows {what}, but {} rule `{}`: {}",
                w.stage, w.rule, w.detail
            ),
            explanation(checks),
        );
        if !headers.is_empty() {
            finding = finding.with_fix(
                "Send these response headers too.",
                Some(nginx_snippet(&headers, false)),
                Some("nginx"),
            );
        }
        return finding;
    }

    Finding::new(
        "cors_allowed",
        Severity::Ok,
        format!(
            "CORS allows {what}{}",
            if p.preflight {
                " (preflight passes)"
            } else {
                " (no preflight needed)"
            }
        ),
        explanation(checks),
    )
}

/// Every failing and warning row, in browser order.
fn explanation(checks: &[CorsCheck]) -> String {
    let lines: Vec<String> = checks
        .iter()
        .filter(|c| matches!(c.verdict, CorsVerdict::Fail | CorsVerdict::Warn))
        .map(|c| {
            let tag = if c.verdict == CorsVerdict::Fail {
                "fails"
            } else {
                "warns"
            };
            format!("{} `{}` {tag}: {}", c.stage, c.rule, c.detail)
        })
        .collect();
    if lines.is_empty() {
        "Every CORS rule a browser applies passes.".to_owned()
    } else {
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CorsStage::{Actual, Preflight, Request};
    use CorsVerdict::{Fail, NotApplicable, Pass, Warn};

    const SHOP: &str = "https://shop.example";

    fn get() -> CorsRequest {
        CorsRequest::new(SHOP, "GET")
    }

    fn put() -> CorsRequest {
        CorsRequest::new(SHOP, "PUT")
    }

    /// An actual response that passes every rule for `SHOP`.
    fn good_actual() -> ObservedResponse {
        ObservedResponse::new(200)
            .header(ACAO, SHOP)
            .header("Vary", "Origin")
    }

    /// A preflight response that allows PUT with x-api-key and content-type.
    fn good_preflight() -> ObservedResponse {
        ObservedResponse::new(204)
            .header(ACAO, SHOP)
            .header(ACAM, "GET, PUT, PATCH")
            .header(ACAH, "content-type, x-api-key")
            .header(ACMA, "600")
    }

    struct Case {
        /// What is being checked, and the Fetch standard step it comes from.
        name: &'static str,
        req: CorsRequest,
        preflight: Option<ObservedResponse>,
        actual: Option<ObservedResponse>,
        stage: CorsStage,
        rule: &'static str,
        expect: CorsVerdict,
    }

    fn case(
        name: &'static str,
        req: CorsRequest,
        preflight: Option<ObservedResponse>,
        actual: Option<ObservedResponse>,
        (stage, rule, expect): (CorsStage, &'static str, CorsVerdict),
    ) -> Case {
        Case {
            name,
            req,
            preflight,
            actual,
            stage,
            rule,
            expect,
        }
    }

    fn cases() -> Vec<Case> {
        vec![
            // --- CORS check step 2: "If origin is null, then return failure." -------------
            case(
                "acao present",
                get(),
                None,
                Some(good_actual()),
                (Actual, "acao_present", Pass),
            ),
            case(
                "acao missing",
                get(),
                None,
                Some(ObservedResponse::new(200)),
                (Actual, "acao_present", Fail),
            ),
            // --- "get" combines repeated headers with 0x2C 0x20: never one origin ----------
            case(
                "acao single value",
                get(),
                None,
                Some(good_actual()),
                (Actual, "acao_single_value", Pass),
            ),
            case(
                "acao sent twice (proxy and app)",
                get(),
                None,
                Some(good_actual().header(ACAO, SHOP)),
                (Actual, "acao_single_value", Fail),
            ),
            case(
                "acao as a comma list",
                get(),
                None,
                Some(
                    ObservedResponse::new(200)
                        .header(ACAO, "https://shop.example, https://admin.example"),
                ),
                (Actual, "acao_single_value", Fail),
            ),
            case(
                "acao as a space-separated list",
                get(),
                None,
                Some(
                    ObservedResponse::new(200)
                        .header(ACAO, "https://shop.example https://admin.example"),
                ),
                (Actual, "acao_single_value", Fail),
            ),
            // --- step 3: `*` succeeds only when credentials mode is not "include" ----------
            case(
                "wildcard without credentials",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "*")),
                (Actual, "acao_matches_origin", Pass),
            ),
            case(
                "wildcard with credentials",
                get().with_credentials(),
                None,
                Some(
                    ObservedResponse::new(200)
                        .header(ACAO, "*")
                        .header(ACAC, "true"),
                ),
                (Actual, "credentials_no_wildcard", Fail),
            ),
            case(
                "named origin with credentials",
                get().with_credentials(),
                None,
                Some(good_actual().header(ACAC, "true")),
                (Actual, "credentials_no_wildcard", Pass),
            ),
            // --- step 4: byte-serialised request origin must equal ACAO --------------------
            case(
                "exact origin",
                get(),
                None,
                Some(good_actual()),
                (Actual, "acao_matches_origin", Pass),
            ),
            case(
                "trailing slash",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "https://shop.example/")),
                (Actual, "acao_matches_origin", Fail),
            ),
            case(
                "uppercase host (byte compare)",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "https://Shop.example")),
                (Actual, "acao_matches_origin", Fail),
            ),
            case(
                "explicit default port",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "https://shop.example:443")),
                (Actual, "acao_matches_origin", Fail),
            ),
            case(
                "http vs https",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "http://shop.example")),
                (Actual, "acao_matches_origin", Fail),
            ),
            case(
                "non-default port must be present",
                CorsRequest::new("http://localhost:5173", "GET"),
                None,
                Some(
                    ObservedResponse::new(200)
                        .header(ACAO, "http://localhost:5173")
                        .header("Vary", "Origin"),
                ),
                (Actual, "acao_matches_origin", Pass),
            ),
            case(
                "other origin",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "https://admin.example")),
                (Actual, "acao_matches_origin", Fail),
            ),
            // --- opaque origins serialise as `null` ----------------------------------------
            case(
                "null origin allowed by null (matches, but risky)",
                CorsRequest::new("null", "GET"),
                None,
                Some(
                    ObservedResponse::new(200)
                        .header(ACAO, "null")
                        .header("Vary", "Origin"),
                ),
                (Actual, "acao_matches_origin", Warn),
            ),
            case(
                "null ACAO for a real origin",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "null")),
                (Actual, "acao_matches_origin", Fail),
            ),
            case(
                "null origin with wildcard, no credentials",
                CorsRequest::new("null", "GET"),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "*")),
                (Actual, "acao_matches_origin", Pass),
            ),
            // --- steps 6–7: ACAC must be exactly `true` with credentials -------------------
            case(
                "acac true",
                get().with_credentials(),
                None,
                Some(good_actual().header(ACAC, "true")),
                (Actual, "acac_true", Pass),
            ),
            case(
                "acac missing",
                get().with_credentials(),
                None,
                Some(good_actual()),
                (Actual, "acac_true", Fail),
            ),
            case(
                "acac True (case-sensitive)",
                get().with_credentials(),
                None,
                Some(good_actual().header(ACAC, "True")),
                (Actual, "acac_true", Fail),
            ),
            case(
                "acac sent twice reads as `true, true`",
                get().with_credentials(),
                None,
                Some(good_actual().header(ACAC, "true").header(ACAC, "true")),
                (Actual, "acac_true", Fail),
            ),
            case(
                "acac not needed without credentials",
                get(),
                None,
                Some(good_actual()),
                (Actual, "acac_true", NotApplicable),
            ),
            case(
                "acac on the preflight too (CORS check runs on it)",
                put().with_credentials(),
                Some(good_preflight()),
                Some(good_actual().header(ACAC, "true")),
                (Preflight, "acac_true", Fail),
            ),
            // --- CORS-preflight fetch: "response's status is an ok status" -----------------
            case(
                "preflight 204",
                put(),
                Some(good_preflight()),
                Some(good_actual()),
                (Preflight, "preflight_ok_status", Pass),
            ),
            case(
                "preflight 200",
                put(),
                Some(
                    ObservedResponse::new(200)
                        .header(ACAO, SHOP)
                        .header(ACAM, "PUT"),
                ),
                None,
                (Preflight, "preflight_ok_status", Pass),
            ),
            case(
                "preflight 401 from auth middleware",
                put(),
                Some(
                    ObservedResponse::new(401)
                        .header(ACAO, SHOP)
                        .header(ACAM, "PUT"),
                ),
                Some(good_actual()),
                (Preflight, "preflight_ok_status", Fail),
            ),
            case(
                "preflight 301 redirect",
                put(),
                Some(
                    ObservedResponse::new(301)
                        .header(ACAO, SHOP)
                        .header(ACAM, "PUT"),
                ),
                Some(good_actual()),
                (Preflight, "preflight_ok_status", Fail),
            ),
            case(
                "preflight followed a redirect to a 204",
                put(),
                Some(good_preflight().with_redirect()),
                Some(good_actual()),
                (Preflight, "preflight_ok_status", Fail),
            ),
            // --- methods: byte-exact, `*` only without credentials -------------------------
            case(
                "PUT listed",
                put(),
                Some(good_preflight()),
                Some(good_actual()),
                (Preflight, "method_allowed", Pass),
            ),
            case(
                "PATCH vs patch (case-sensitive)",
                CorsRequest::new(SHOP, "PATCH"),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "patch"),
                ),
                Some(good_actual()),
                (Preflight, "method_allowed", Fail),
            ),
            case(
                "page writes patch, server lists PATCH (patch is not normalised)",
                CorsRequest::new(SHOP, "patch"),
                Some(good_preflight()),
                Some(good_actual()),
                (Preflight, "method_allowed", Fail),
            ),
            case(
                "page writes put: normalised to PUT",
                CorsRequest::new(SHOP, "put"),
                Some(good_preflight()),
                Some(good_actual()),
                (Preflight, "method_allowed", Pass),
            ),
            case(
                "DELETE not listed",
                CorsRequest::new(SHOP, "DELETE"),
                Some(good_preflight()),
                Some(good_actual()),
                (Preflight, "method_allowed", Fail),
            ),
            case(
                "ACAM absent",
                put(),
                Some(ObservedResponse::new(204).header(ACAO, SHOP)),
                Some(good_actual()),
                (Preflight, "method_allowed", Fail),
            ),
            case(
                "methods wildcard without credentials",
                CorsRequest::new(SHOP, "DELETE"),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "*"),
                ),
                Some(good_actual()),
                (Preflight, "method_allowed", Pass),
            ),
            case(
                "methods wildcard with credentials is literal",
                CorsRequest::new(SHOP, "DELETE").with_credentials(),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAC, "true")
                        .header(ACAM, "*"),
                ),
                Some(good_actual().header(ACAC, "true")),
                (Preflight, "method_allowed", Fail),
            ),
            case(
                "safelisted POST needs no listing (preflight for a header)",
                CorsRequest::new(SHOP, "POST").header("X-Api-Key", "k"),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "GET")
                        .header(ACAH, "x-api-key"),
                ),
                Some(good_actual()),
                (Preflight, "method_allowed", Pass),
            ),
            case(
                "unparsable ACAM fails even for GET",
                get().header("X-Api-Key", "k"),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "GET POST")
                        .header(ACAH, "x-api-key"),
                ),
                Some(good_actual()),
                (Preflight, "method_allowed", Fail),
            ),
            // --- headers: case-insensitive, `*` only without credentials, never Authorization
            case(
                "headers listed in other case",
                put().header("X-API-Key", "k"),
                Some(good_preflight().header(ACAH, "X-Api-KEY")),
                Some(good_actual()),
                (Preflight, "headers_allowed", Pass),
            ),
            case(
                "header not listed",
                put().header("X-Request-Id", "1"),
                Some(good_preflight()),
                Some(good_actual()),
                (Preflight, "headers_allowed", Fail),
            ),
            case(
                "headers wildcard without credentials",
                put().header("X-Request-Id", "1"),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "PUT")
                        .header(ACAH, "*"),
                ),
                Some(good_actual()),
                (Preflight, "headers_allowed", Pass),
            ),
            case(
                "headers wildcard with credentials is literal",
                put().header("X-Request-Id", "1").with_credentials(),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAC, "true")
                        .header(ACAM, "PUT")
                        .header(ACAH, "*"),
                ),
                Some(good_actual().header(ACAC, "true")),
                (Preflight, "headers_allowed", Fail),
            ),
            case(
                "wildcard never covers Authorization",
                get().header("Authorization", "Bearer t"),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAH, "*"),
                ),
                Some(good_actual()),
                (Preflight, "headers_allowed", Fail),
            ),
            case(
                "Authorization listed by name next to wildcard",
                get()
                    .header("Authorization", "Bearer t")
                    .header("X-Trace", "1"),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAH, "*, Authorization"),
                ),
                Some(good_actual()),
                (Preflight, "headers_allowed", Pass),
            ),
            case(
                "application/json content type needs listing",
                CorsRequest::new(SHOP, "POST").header("Content-Type", "application/json"),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "POST"),
                ),
                Some(good_actual()),
                (Preflight, "headers_allowed", Fail),
            ),
            // --- Access-Control-Max-Age: delta-seconds, default 5, browser caps ------------
            case(
                "max-age 600",
                put(),
                Some(good_preflight()),
                Some(good_actual()),
                (Preflight, "max_age", Pass),
            ),
            case(
                "max-age above Chromium's cap",
                put(),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "PUT")
                        .header(ACMA, "86400"),
                ),
                Some(good_actual()),
                (Preflight, "max_age", Warn),
            ),
            case(
                "max-age -1 is not delta-seconds",
                put(),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "PUT")
                        .header(ACMA, "-1"),
                ),
                Some(good_actual()),
                (Preflight, "max_age", Warn),
            ),
            case(
                "max-age sent twice: extract header list values fails",
                put(),
                Some(
                    ObservedResponse::new(204)
                        .header(ACAO, SHOP)
                        .header(ACAM, "PUT")
                        .header(ACMA, "600")
                        .header(ACMA, "600"),
                ),
                Some(good_actual()),
                (Preflight, "max_age", Warn),
            ),
            // --- Vary: Origin when ACAO depends on the origin ------------------------------
            case(
                "vary origin present",
                get(),
                None,
                Some(good_actual()),
                (Actual, "vary_origin", Pass),
            ),
            case(
                "vary origin among others, any case",
                get(),
                None,
                Some(
                    ObservedResponse::new(200)
                        .header(ACAO, SHOP)
                        .header("vary", "Accept-Encoding, origin"),
                ),
                (Actual, "vary_origin", Pass),
            ),
            case(
                "echoed origin without Vary",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, SHOP)),
                (Actual, "vary_origin", Warn),
            ),
            case(
                "wildcard needs no Vary",
                get(),
                None,
                Some(ObservedResponse::new(200).header(ACAO, "*")),
                (Actual, "vary_origin", NotApplicable),
            ),
            // --- Access-Control-Expose-Headers and CORS-safelisted response-header names ---
            case(
                "exposed header readable",
                get().reading("X-Total-Count"),
                None,
                Some(good_actual().header(ACEH, "x-total-count, Link")),
                (Actual, "expose_headers", Pass),
            ),
            case(
                "safelisted response header needs no exposing",
                get().reading("Content-Type"),
                None,
                Some(good_actual()),
                (Actual, "expose_headers", Pass),
            ),
            case(
                "unexposed header reads as null",
                get().reading("X-Total-Count"),
                None,
                Some(good_actual()),
                (Actual, "expose_headers", Warn),
            ),
            case(
                "expose wildcard with credentials is literal",
                get().with_credentials().reading("X-Total-Count"),
                None,
                Some(good_actual().header(ACAC, "true").header(ACEH, "*")),
                (Actual, "expose_headers", Warn),
            ),
            case(
                "expose wildcard without credentials",
                get().reading("X-Total-Count"),
                None,
                Some(good_actual().header(ACEH, "*")),
                (Actual, "expose_headers", Pass),
            ),
            // --- the actual request may be redirected, but each hop is checked -------------
            case(
                "not redirected",
                get(),
                None,
                Some(good_actual()),
                (Actual, "redirect", Pass),
            ),
            case(
                "redirected actual request",
                get(),
                None,
                Some(good_actual().with_redirect()),
                (Actual, "redirect", Warn),
            ),
            // --- request side: forbidden methods and headers -------------------------------
            case(
                "plain GET",
                get(),
                None,
                Some(good_actual()),
                (Request, "request_sendable", Pass),
            ),
            case(
                "TRACE is a forbidden method",
                CorsRequest::new(SHOP, "TRACE"),
                None,
                None,
                (Request, "request_sendable", Fail),
            ),
            case(
                "Cookie is a forbidden request header",
                get().header("Cookie", "a=b"),
                None,
                Some(good_actual()),
                (Request, "request_sendable", Warn),
            ),
        ]
    }

    #[test]
    fn table_of_fetch_rules() {
        let mut failures = Vec::new();
        for c in cases() {
            let report = evaluate(&c.req, c.preflight.as_ref(), c.actual.as_ref());
            let found = report
                .checks
                .iter()
                .find(|k| k.stage == c.stage && k.rule == c.rule);
            match found {
                Some(k) if k.verdict == c.expect => {}
                Some(k) => failures.push(format!(
                    "{}: {} {} expected {:?}, got {:?} ({})",
                    c.name, c.stage, c.rule, c.expect, k.verdict, k.detail
                )),
                None => failures.push(format!("{}: no {} {} row", c.name, c.stage, c.rule)),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn every_rule_has_a_passing_and_a_failing_case() {
        let cases = cases();
        for rule in [
            "acao_present",
            "acao_single_value",
            "credentials_no_wildcard",
            "acao_matches_origin",
            "acac_true",
            "preflight_ok_status",
            "method_allowed",
            "headers_allowed",
            "max_age",
            "vary_origin",
            "expose_headers",
            "redirect",
            "request_sendable",
        ] {
            assert!(
                cases.iter().any(|c| c.rule == rule && c.expect == Pass),
                "no passing case for {rule}"
            );
            assert!(
                cases
                    .iter()
                    .any(|c| c.rule == rule && matches!(c.expect, Fail | Warn)),
                "no failing case for {rule}"
            );
        }
    }

    #[test]
    fn safelisted_request_headers() {
        // (name, value, safelisted) from Fetch "CORS-safelisted request-header".
        let long = format!("text/plain; x={}", "a".repeat(120));
        let table: Vec<(&str, &str, bool)> = vec![
            ("Accept", "application/json", true),
            ("accept", "text/html(", false),
            ("Accept-Language", "en-US,en;q=0.9", true),
            ("Content-Language", "de-DE", true),
            ("Content-Language", "de_DE", false),
            ("Content-Type", "text/plain", true),
            ("Content-Type", "text/plain; charset=utf-8", true),
            ("content-type", "Multipart/Form-Data; boundary=x", true),
            ("Content-Type", "application/x-www-form-urlencoded", true),
            ("Content-Type", "application/json", false),
            ("Content-Type", "text/plain; charset=\"utf-8\"", false),
            ("Content-Type", &long, false),
            ("Range", "bytes=0-499", true),
            ("Range", "bytes=500-", true),
            ("Range", "bytes=-500", false),
            ("Range", "bytes=5-1", false),
            ("Range", "bytes=0-1,5-6", false),
            ("Range", "bytes = 0-1", false),
            ("X-Requested-With", "XMLHttpRequest", false),
            ("Authorization", "Bearer t", false),
        ];
        for (name, value, expect) in table {
            assert_eq!(
                is_cors_safelisted_request_header(name, value),
                expect,
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn safelisted_values_over_1024_bytes_in_total_need_a_preflight() {
        let lang = "en".repeat(60); // 120 bytes each, within the 128-byte limit
        let mut req = get();
        for _ in 0..9 {
            req = req.header("Accept-Language", lang.clone());
        }
        assert!(needs_preflight(&req));
        assert_eq!(
            preflight_request_headers(&req)
                .iter()
                .find(|(n, _)| n == "Access-Control-Request-Headers")
                .map(|(_, v)| v.as_str()),
            Some("accept-language")
        );
        assert!(!needs_preflight(&get().header("Accept-Language", lang)));
    }

    #[test]
    fn preflight_is_sent_exactly_when_fetch_says() {
        assert!(!needs_preflight(&get()));
        assert!(!needs_preflight(&CorsRequest::new(SHOP, "head")));
        assert!(!needs_preflight(
            &CorsRequest::new(SHOP, "POST").header("Content-Type", "text/plain")
        ));
        assert!(needs_preflight(&put()));
        assert!(needs_preflight(
            &CorsRequest::new(SHOP, "POST").header("Content-Type", "application/json")
        ));
        assert!(needs_preflight(&get().header("Authorization", "Bearer t")));
        // Forbidden headers are dropped by the browser and so cannot cause a preflight.
        assert!(!needs_preflight(&get().header("Cookie", "a=b")));
        assert!(preflight_request_headers(&get()).is_empty());
    }

    #[test]
    fn preflight_headers_are_what_chromium_sends() {
        let req = CorsRequest::new("https://Shop.example:443/", "patch")
            .header("X-Trace", "1")
            .header("Content-Type", "application/json")
            .header("authorization", "Bearer t")
            .header("Accept", "application/json");
        assert_eq!(
            preflight_request_headers(&req),
            vec![
                ("Accept".to_owned(), "*/*".to_owned()),
                ("Origin".to_owned(), "https://shop.example".to_owned()),
                (
                    "Access-Control-Request-Method".to_owned(),
                    "patch".to_owned()
                ),
                (
                    "Access-Control-Request-Headers".to_owned(),
                    "authorization,content-type,x-trace".to_owned()
                ),
            ]
        );
        assert_eq!(
            actual_request_headers(&get().header("Cookie", "x").header("X-A", " 1 ")),
            vec![
                ("Origin".to_owned(), SHOP.to_owned()),
                ("X-A".to_owned(), "1".to_owned())
            ]
        );
    }

    #[test]
    fn origins_serialise_like_a_browser() {
        for (input, out) in [
            ("https://shop.example", "https://shop.example"),
            ("HTTPS://Shop.Example/", "https://shop.example"),
            ("https://shop.example:443/path?q", "https://shop.example"),
            ("http://shop.example:80", "http://shop.example"),
            ("http://localhost:8080/", "http://localhost:8080"),
            (
                "https://user:pw@shop.example:8443",
                "https://shop.example:8443",
            ),
            ("http://[::1]:80/", "http://[::1]"),
            ("http://[::1]:3000", "http://[::1]:3000"),
            ("NULL", "null"),
            // Not origins: kept as they are (trimmed), and stable on a second pass.
            ("://::", "://::"),
            ("https://shop.example /", "https://shop.example /"),
            ("shop.example", "shop.example"),
            ("http://a::", "http://a::"),
            ("http://a:b", "http://a:b"),
            ("http://[zz]:80", "http://[zz]:80"),
            ("http://host:099999", "http://host:099999"),
        ] {
            assert_eq!(serialize_origin(input), out, "{input}");
            assert_eq!(serialize_origin(out), out, "{out} is not stable");
        }
    }

    #[test]
    fn method_normalisation() {
        assert_eq!(normalize_method("delete"), "DELETE");
        assert_eq!(normalize_method("Post"), "POST");
        assert_eq!(normalize_method("patch"), "patch");
        assert!(is_cors_safelisted_method(&normalize_method("get")));
        assert!(!is_cors_safelisted_method("PATCH"));
    }

    #[test]
    fn header_names_match_case_insensitively_and_values_are_trimmed() {
        let resp = ObservedResponse::new(200)
            .header("access-control-allow-origin", " https://shop.example\t")
            .header("VARY", "Origin");
        let report = evaluate(&get(), None, Some(&resp));
        assert!(report.allowed, "{:#?}", report.checks);
        assert_eq!(report.finding.severity, Severity::Ok);
        assert_eq!(report.finding.code, "cors_allowed");
    }

    #[test]
    fn proxy_error_page_is_named_as_such() {
        // Incident 2: the app answers OPTIONS fine, but the GET hits a dead upstream and
        // nginx returns its own 503 page without CORS headers.
        let page = ObservedResponse::new(503)
            .header("Server", "nginx")
            .header("Content-Type", "text/html");
        let report = evaluate(&get(), None, Some(&page));
        assert!(!report.allowed);
        assert!(report.proxy_error_page);
        assert_eq!(report.finding.code, "cors_proxy_error_page");
        assert_eq!(report.finding.severity, Severity::Critical);
        assert!(
            report.finding.explanation.contains(
                "the browser will report a CORS error, but the real failure is HTTP 503 from the proxy/backend; fix the backend (or make the proxy add CORS headers to error pages)"
            ),
            "{}",
            report.finding.explanation
        );
        let snippet = report
            .finding
            .fix
            .and_then(|f| f.snippet)
            .unwrap_or_default();
        assert!(
            snippet.contains(
                "add_header Access-Control-Allow-Origin \"https://shop.example\" always;"
            ),
            "{snippet}"
        );

        // A 503 preflight fails on its status whatever its headers say.
        let report = evaluate(
            &put(),
            Some(&ObservedResponse::new(503).header(ACAO, SHOP)),
            Some(&good_actual()),
        );
        assert!(report.proxy_error_page);

        // A 503 that does carry CORS headers reaches the page as a 503: not a CORS problem.
        let report = evaluate(&get(), None, Some(&good_actual().header("X", "y")));
        assert!(!report.proxy_error_page);
        let mut ok_503 = good_actual();
        ok_503.status = 503;
        assert!(!evaluate(&get(), None, Some(&ok_503)).proxy_error_page);

        // A 404 without ACAO is an ordinary CORS failure.
        assert!(!evaluate(&get(), None, Some(&ObservedResponse::new(404))).proxy_error_page);
    }

    #[test]
    fn finding_names_first_failure_with_values_and_fix() {
        let req = get().with_credentials();
        let resp = ObservedResponse::new(200).header(ACAO, "*");
        let report = evaluate(&req, None, Some(&resp));
        assert!(!report.allowed);
        let i = report.first_failure.expect("a failure");
        assert_eq!(report.checks[i].rule, "credentials_no_wildcard");
        assert_eq!(report.finding.code, "cors_credentials_no_wildcard");
        assert!(
            report.finding.summary.contains("`*`"),
            "{}",
            report.finding.summary
        );
        let snippet = report
            .finding
            .fix
            .and_then(|f| f.snippet)
            .unwrap_or_default();
        assert!(
            snippet.contains(
                "add_header Access-Control-Allow-Origin \"https://shop.example\" always;"
            ) && snippet.contains("add_header Access-Control-Allow-Credentials \"true\" always;")
                && snippet.contains("add_header Vary \"Origin\" always;"),
            "{snippet}"
        );
    }

    #[test]
    fn preflight_failure_comes_before_actual_and_suggests_answering_options() {
        let req = put().header("X-Api-Key", "k");
        let pre = ObservedResponse::new(401);
        let report = evaluate(&req, Some(&pre), Some(&good_actual()));
        let i = report.first_failure.expect("a failure");
        assert_eq!(
            (report.checks[i].stage, report.checks[i].rule.as_str()),
            (Preflight, "preflight_ok_status")
        );
        assert!(
            report.finding.summary.contains("HTTP 401"),
            "{}",
            report.finding.summary
        );
        let snippet = report
            .finding
            .fix
            .and_then(|f| f.snippet)
            .unwrap_or_default();
        assert!(snippet.contains("return 204;"), "{snippet}");
        assert!(
            snippet.contains("add_header Access-Control-Allow-Methods \"PUT\" always;")
                && snippet
                    .contains("add_header Access-Control-Allow-Headers \"x-api-key\" always;"),
            "{snippet}"
        );
    }

    #[test]
    fn header_to_add_keeps_what_is_already_allowed() {
        let req = CorsRequest::new(SHOP, "DELETE").header("X-Request-Id", "1");
        let report = evaluate(&req, Some(&good_preflight()), Some(&good_actual()));
        let fix = |rule: &str| {
            report
                .checks
                .iter()
                .find(|c| c.rule == rule)
                .and_then(|c| c.header_to_add.clone())
        };
        assert_eq!(
            fix("method_allowed").as_deref(),
            Some("Access-Control-Allow-Methods: GET, PUT, PATCH, DELETE")
        );
        assert_eq!(
            fix("headers_allowed").as_deref(),
            Some("Access-Control-Allow-Headers: content-type, x-api-key, x-request-id")
        );
    }

    #[test]
    fn missing_responses_make_the_verdict_incomplete() {
        let report = evaluate(&put(), Some(&good_preflight()), None);
        assert!(!report.allowed);
        assert_eq!(report.first_failure, None);
        assert_eq!(report.missing, vec![Actual]);
        assert_eq!(report.finding.code, "cors_incomplete");

        let report = evaluate(&put(), None, Some(&good_actual()));
        assert_eq!(report.missing, vec![Preflight]);
    }

    #[test]
    fn a_fully_correct_preflighted_request_is_allowed() {
        let req = put().header("Content-Type", "application/json");
        let report = evaluate(&req, Some(&good_preflight()), Some(&good_actual()));
        assert!(report.allowed, "{:#?}", report.checks);
        assert!(report.preflight_needed);
        assert_eq!(report.finding.code, "cors_allowed");
        assert_eq!(report.finding.severity, Severity::Ok);
        assert!(report.checks.iter().all(|c| c.verdict != Fail));
    }

    #[test]
    fn warnings_only_still_allow() {
        let report = evaluate(
            &get(),
            None,
            Some(&ObservedResponse::new(200).header(ACAO, SHOP)),
        );
        assert!(report.allowed);
        assert_eq!(report.finding.code, "cors_vary_origin");
        assert_eq!(report.finding.severity, Severity::Warning);
    }

    #[test]
    fn report_round_trips_through_json() {
        let report = evaluate(&put(), Some(&good_preflight()), Some(&good_actual()));
        let json = serde_json::to_string(&report).expect("serialise");
        let back: CorsReport = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, report);
        let req: CorsRequest =
            serde_json::from_str(r#"{"origin":"https://shop.example","method":"GET"}"#)
                .expect("defaults");
        assert_eq!(req, get());
    }
}
