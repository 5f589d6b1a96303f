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
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::AppState;

/// File in the data dir that holds the admin token.
pub const TOKEN_FILE: &str = "admin.token";
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
    let path = data_dir.join(TOKEN_FILE);
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
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    // `mode` applies only when the file is created; an existing (empty) file keeps
    // whatever mode it had, so set it explicitly before writing the secret.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    Ok((token, true))
}

/// Constant-time comparison, so response timing does not leak the token byte by byte.
pub fn token_matches(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Middleware: `Authorization: Bearer <admin token>` or 401.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .map(str::trim);
    match given {
        Some(t) if token_matches(&state.token, t) => next.run(req).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

/// The host part of a `Host` header value, lower-cased, without port or IPv6 brackets.
pub fn host_name(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match value.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => value,
    }
}

/// True when a request naming `host` may be answered. IP literals and `localhost`
/// cannot be the product of DNS rebinding (the attack needs a name the attacker's
/// DNS re-points), so they pass; other names must be configured.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host.trim()).to_ascii_lowercase();
    name.parse::<IpAddr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || allowed.iter().any(|a| a == &name)
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
    fn tickets_are_single_use() {
        let t = Tickets::default();
        let a = t.issue().unwrap();
        assert!(t.redeem(&a));
        assert!(!t.redeem(&a));
        assert!(!t.redeem("nope"));
    }
}
