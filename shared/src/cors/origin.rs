//! Origin serialisation: the `Origin` value a browser sends, which the server must echo
//! byte for byte.

use super::syntax::trim_http_whitespace;
use crate::host::split_host_port;

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
    let (name, port) = split_host_port(&authority).ok()?;
    // An IPv6 literal keeps its brackets in the serialised origin.
    let host = if authority.starts_with('[') {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return None;
        }
        format!("[{name}]")
    } else {
        let name_ok = !name.is_empty()
            && name.chars().all(|c| {
                !c.is_whitespace()
                    && !c.is_control()
                    && !matches!(c, ':' | '/' | '?' | '#' | '@' | '[' | ']' | '\\')
            });
        if !name_ok {
            return None;
        }
        name.to_owned()
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
