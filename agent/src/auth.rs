//! Access control: the admin token, the bearer check on `/api/*`, one-time event
//! tickets, and the Host header check that defeats DNS rebinding.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;
use vantage_shared::host::{is_localhost_name, split_host_port};
use vantage_shared::routes;

use crate::error::ApiError;
use crate::AppState;

/// File in the data dir that holds the admin token.
pub const TOKEN_FILE: &str = "admin.token";
/// File in the data dir that holds the read-only token for `GET /metrics`.
pub const METRICS_TOKEN_FILE: &str = "metrics.token";
/// How long an event-stream ticket stays valid.
pub const TICKET_TTL: Duration = Duration::from_secs(60);

/// 32 random bytes as 64 hex characters.
pub fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads the admin token, generating it (mode 0600) on first start.
/// Returns the token and whether it was just created.
pub fn load_or_create_token(data_dir: &Path) -> anyhow::Result<(String, bool)> {
    load_or_create(&data_dir.join(TOKEN_FILE))
}

/// Reads a token file, generating it (mode 0600) when it is absent or empty.
pub fn load_or_create(path: &Path) -> anyhow::Result<(String, bool)> {
    let path = path.to_path_buf();
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => {
            let mode = std::fs::metadata(&path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "Token file is readable by others; run chmod 600 on it");
            }
            return Ok((t.trim().to_owned(), false));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let token = random_hex()?;
    write_token(&path, &token)?;
    Ok((token, true))
}

/// Writes `token` to `path` with mode 0600, replacing what was there.
pub fn write_token(path: &Path, token: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    // `mode` applies only when the file is created; an existing (empty) file keeps
    // whatever mode it had, so set it explicitly before writing the secret.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    Ok(())
}

/// Constant-time comparison, so response timing does not leak the token byte by byte.
pub fn token_matches(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Who is calling, put in the request's extensions by [`require_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Holds the admin token: everything.
    Admin,
    /// Holds a phone link's code: only [`PHONE_ROUTES`].
    Phone {
        code: String,
        expires_at: DateTime<Utc>,
        /// The address the link was made for: the page origin its probes are judged from.
        base_url: String,
    },
}

/// What a phone link may do: list the probe set, have the agent probe a configured
/// target, and post its own results. Nothing that reads containers, history or targets'
/// settings.
pub const PHONE_ROUTES: &[(&str, &str)] = &[
    ("GET", routes::PHONE_TARGETS),
    ("POST", routes::TARGET_PROBE),
    ("POST", routes::REPORTS),
];

/// Characters of phone-link codes: no 0/O, 1/l/i, so a code read aloud or typed from a
/// screen survives.
const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// 12 characters of 31 ≈ 59 bits: unguessable over HTTP within a link's lifetime.
pub const CODE_LEN: usize = 12;

/// A fresh phone-link code.
pub fn random_code() -> anyhow::Result<String> {
    let mut out = String::with_capacity(CODE_LEN);
    while out.len() < CODE_LEN {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
        // Rejection sampling keeps every character equally likely (256 % 31 != 0).
        let limit = 256 - 256 % CODE_ALPHABET.len();
        for b in bytes {
            if usize::from(b) < limit && out.len() < CODE_LEN {
                out.push(char::from(
                    CODE_ALPHABET[usize::from(b) % CODE_ALPHABET.len()],
                ));
            }
        }
    }
    Ok(out)
}

fn looks_like_code(s: &str) -> bool {
    s.len() == CODE_LEN && s.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// The token of `Authorization: Bearer <token>`; `None` when absent or empty.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// Middleware: `Authorization: Bearer <admin token or phone-link code>`, else 401; a
/// phone link outside [`PHONE_ROUTES`] gets 403.
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(given) = bearer(req.headers()) else {
        return ApiError::Unauthorized.into_response();
    };
    if token_matches(&state.token, &given) {
        req.extensions_mut().insert(Caller::Admin);
        return next.run(req).await;
    }
    if !looks_like_code(&given) {
        return ApiError::Unauthorized.into_response();
    }
    let (base_url, expires_at) = match state.store.phone_link(given.clone()).await {
        Ok(Some((base, expires))) if expires > Utc::now() => (base, expires),
        Ok(Some(_)) => return ApiError::LinkExpired.into_response(),
        // Unknown and revoked look the same: nothing to learn from the difference.
        Ok(None) => return ApiError::LinkExpired.into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().as_str().to_owned();
    if !PHONE_ROUTES
        .iter()
        .any(|(m, p)| *m == method && *p == route)
    {
        return ApiError::Forbidden(
            "a phone link may only run the probe set and post its results".into(),
        )
        .into_response();
    }
    req.extensions_mut().insert(Caller::Phone {
        code: given,
        expires_at,
        base_url,
    });
    next.run(req).await
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case
/// the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries
/// further left are whatever the client chose to send).
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[(IpAddr, u8)]) -> IpAddr {
    let is_trusted = |ip: IpAddr| {
        trusted
            .iter()
            .any(|&(net, len)| vantage_shared::ownership::cidr_contains(net, len, ip))
    };
    let peer = canonical(peer);
    if !is_trusted(peer) {
        return peer;
    }
    let mut current = peer;
    for entry in forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let Some(ip) = parse_forwarded_entry(entry) else {
            // Garbage: do not look past it.
            return current;
        };
        current = canonical(ip);
        if !is_trusted(current) {
            return current;
        }
    }
    current
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:1234`.
fn parse_forwarded_entry(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The host part of a `Host` header value, lower-cased, without port or IPv6 brackets.
/// A value that does not split (an unbracketed IPv6 literal, a stray bracket) is taken
/// whole: it then names no allowed host unless it is an IP literal, which is safe to answer.
pub fn host_name(value: &str) -> &str {
    match split_host_port(value) {
        Ok((h, Some(port))) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        Ok((h, None)) => h,
        _ => value,
    }
}

/// True when a request naming `host` may be answered. IP literals and `localhost`
/// cannot be the product of DNS rebinding (the attack needs a name the attacker's
/// DNS re-points), so they pass; other names must be configured.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host.trim()).to_ascii_lowercase();
    name.parse::<IpAddr>().is_ok() || is_localhost_name(&name) || allowed.iter().any(|a| a == &name)
}

/// Middleware: refuse requests whose `Host` is not ours (421).
pub async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // HTTP/2 puts the host in the URI authority instead of a Host header.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    match host {
        Some(h) if host_allowed(&h, &state.allowed_hosts) => next.run(req).await,
        Some(h) => ApiError::ForbiddenHost(host_name(&h).to_owned()).into_response(),
        None => ApiError::BadRequest("missing Host header".into()).into_response(),
    }
}

/// One-time tickets for `GET /api/events` (EventSource cannot send headers).
#[derive(Clone, Default)]
pub struct Tickets {
    inner: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Tickets {
    pub fn issue(&self) -> anyhow::Result<String> {
        let ticket = random_hex()?;
        let now = Instant::now();
        let mut map = self
            .inner
            .lock()
            .map_err(|_| anyhow::anyhow!("ticket lock poisoned"))?;
        map.retain(|_, expires| *expires > now);
        map.insert(ticket.clone(), now + TICKET_TTL);
        Ok(ticket)
    }

    /// Consumes a ticket: true once, if it exists and has not expired.
    pub fn redeem(&self, ticket: &str) -> bool {
        let Ok(mut map) = self.inner.lock() else {
            return false;
        };
        matches!(map.remove(ticket), Some(expires) if expires > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_check_allows_ips_localhost_and_configured_names() {
        let allowed = vec!["vantage.example.com".to_owned()];
        for ok in [
            "127.0.0.1:8787",
            "localhost:8787",
            "LOCALHOST",
            "[::1]:8787",
            "10.0.0.5",
            "vantage.example.com:443",
            "app.localhost",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for bad in [
            "evil.example:8787",
            "127.0.0.1.nip.io",
            "vantage.example.com.evil.net",
            "",
            "[::1]:port",
            "[evil.example",
        ] {
            assert!(!host_allowed(bad, &allowed), "{bad}");
        }
    }

    #[test]
    fn token_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (t1, created) = load_or_create_token(dir.path()).unwrap();
        assert!(created);
        assert_eq!(t1.len(), 64);
        let mode = std::fs::metadata(dir.path().join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (t2, created) = load_or_create_token(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(t1, t2);
    }

    #[test]
    fn an_existing_empty_token_file_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, created) = load_or_create_token(dir.path()).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn token_comparison() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "ab"));
    }

    #[test]
    fn phone_codes_are_long_and_unambiguous() {
        let a = random_code().unwrap();
        let b = random_code().unwrap();
        assert_ne!(a, b);
        assert!(looks_like_code(&a), "{a}");
        assert!(!looks_like_code("0000000000ol"));
        assert!(!looks_like_code(&a[..CODE_LEN - 1]));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = [(ip("127.0.0.1"), 32), (ip("10.0.0.0"), 8)];
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.2"), &["203.0.113.7"], &trusted),
            ip("198.51.100.2")
        );
        // A trusted peer: the right-most untrusted entry, not what the client put first.
        assert_eq!(
            client_ip(
                ip("127.0.0.1"),
                &["1.2.3.4, 203.0.113.7, 10.1.2.3"],
                &trusted
            ),
            ip("203.0.113.7")
        );
        // Several header lines count as one list.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &["1.2.3.4", "203.0.113.7:5555"], &trusted),
            ip("203.0.113.7")
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("127.0.0.1"), &[], &trusted), ip("127.0.0.1"));
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &["203.0.113.7, nonsense"], &trusted),
            ip("127.0.0.1")
        );
        // Dual-stack sockets report mapped addresses.
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &["[2001:db8::7]:1"], &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_ip(ip("::ffff:198.51.100.2"), &[], &[]),
            ip("198.51.100.2")
        );
    }

    #[test]
    fn tickets_are_single_use() {
        let t = Tickets::default();
        let a = t.issue().unwrap();
        assert!(t.redeem(&a));
        assert!(!t.redeem(&a));
        assert!(!t.redeem("nope"));
    }
}
