//! Findings about what the agent's probe did differently from the page it stands in for, or
//! left out on purpose: headers not sent, methods replaced, addresses skipped, preflights
//! that failed. The agent notes them as it goes; [`super::conclude`] adds them to the rest.

use crate::diagnosis::{Finding, FindingCode, Severity};

/// Configured page headers that are not valid HTTP, left out of every request.
pub fn cors_header_invalid(invalid: &[String]) -> Finding {
    Finding::new(
        FindingCode::CorsHeaderInvalid,
        Severity::Warning,
        format!("Not sent: {} (not a valid HTTP header)", invalid.join(", ")),
        "fetch() throws a TypeError for such a header before any request is sent; fix the page's code and the target's CORS headers.",
    )
}

/// The page's method is not one a probe may send, so the actual request was a GET.
pub fn cors_method_not_sent(page_method: &str) -> Finding {
    Finding::new(
        FindingCode::CorsMethodNotSent,
        Severity::Info,
        format!("The page sends {page_method}; the agent sent GET with the same headers"),
        format!(
            "A probe must not change data, so the actual request was a GET; the CORS headers a server sends rarely depend on the method. The preflight (OPTIONS, announcing {page_method}) was sent exactly as a browser would."
        ),
    )
}

/// Method-override headers naming an unsafe method, left out of the actual request.
pub fn method_override_not_sent(names: &[&str]) -> Finding {
    Finding::new(
        FindingCode::MethodOverrideNotSent,
        Severity::Info,
        format!("Not sent: {} (a method override)", names.join(", ")),
        "Frameworks honour these headers to let a GET or POST act as another method; a probe must not change data, so the agent leaves them out. The preflight still announces them, as the browser's does.",
    )
}

/// The preflight the browser sends again at a redirect's target (at `url`) fails.
pub fn cors_redirect_preflight_failed(url: &str) -> Finding {
    Finding::new(
        FindingCode::CorsRedirectPreflightFailed,
        Severity::Warning,
        format!("The browser's second preflight, at {url} after the redirect, fails"),
        "When a request needs a preflight, browsers preflight again at every redirect target (with `Origin: null` once the redirect changed origin); the target of the redirect must answer that preflight too.",
    )
}

/// The page's origin (serialised) is the target's: no CORS evaluation.
pub fn cors_same_origin(origin: &str) -> Finding {
    Finding::new(
        FindingCode::CorsSameOrigin,
        Severity::Info,
        format!("The page origin {origin} is the target's own origin: CORS does not apply"),
        "Browsers only apply CORS to requests to another origin (scheme, host and port).",
    )
}

/// Preflights that got no answer, each error in words.
pub fn cors_preflight_failed(errors: &[String]) -> Finding {
    Finding::new(
        FindingCode::CorsPreflightFailed,
        Severity::Warning,
        "The CORS preflight (OPTIONS) got no answer".to_owned(),
        format!(
            "{}. Without a preflight answer the browser never sends the request.",
            errors.join("; ")
        ),
    )
}

/// `host` resolved to `resolved` addresses and the agent connected to only `tried` of them
/// (at most `max` per host).
pub fn tcp_addresses_skipped(host: &str, resolved: usize, tried: usize, max: usize) -> Finding {
    Finding::new(
        FindingCode::TcpAddressesSkipped,
        Severity::Info,
        format!(
            "{host} resolves to {resolved} addresses; the agent tried {tried} and skipped {}",
            resolved.saturating_sub(tried)
        ),
        format!(
            "One probe connects to at most {max} addresses per host (both address families get a share), so that a name with hundreds of records cannot make the agent open hundreds of connections. Clients usually try only the first few."
        ),
    )
}

/// Configured page headers (by name) withheld from the origin `to` that a redirect from
/// `from` led to.
pub fn redirect_headers_withheld(names: &[&str], from: &str, to: &str) -> Finding {
    Finding::new(
        FindingCode::RedirectHeadersWithheld,
        Severity::Info,
        format!(
            "Not sent to {to} after the redirect: {} (configured for {from})",
            names.join(", ")
        ),
        "The agent never sends configured page headers (credentials, API keys) to an origin other than the target's, nor from https to http. Browsers drop only Authorization at a cross-origin redirect and keep the other headers, so a server there that depends on them may answer the page differently than the probe.",
    )
}
