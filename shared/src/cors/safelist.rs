//! Fetch's request safelists: which methods and request headers need no preflight, and
//! which headers a page may not set at all.

use super::syntax::{is_token, trim_http_whitespace};

/// A safelisted request header's value may be at most this long (bytes).
const SAFELISTED_VALUE_MAX: usize = 128;
/// Above this total of safelisted values, all of them count as unsafe (Fetch).
const SAFELISTED_TOTAL_MAX: usize = 1024;

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

pub(super) fn is_forbidden_method(method: &str) -> bool {
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

/// Fetch's "no-CORS-safelisted request-header": the only headers a `no-cors` request keeps.
pub fn is_no_cors_safelisted_request_header(name: &str, value: &str) -> bool {
    matches!(
        name.trim().to_ascii_lowercase().as_str(),
        "accept" | "accept-language" | "content-language" | "content-type"
    ) && is_cors_safelisted_request_header(name, value)
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
