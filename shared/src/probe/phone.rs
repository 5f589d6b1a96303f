//! Phone links: the request that creates one, the link itself, and what its holder may
//! probe.

use serde::{Deserialize, Serialize};

use super::*;

/// A new phone link's lifetime when the request names none, in minutes.
pub const DEFAULT_LINK_TTL_MINUTES: u32 = 60;
/// The longest a phone link lives, in minutes: a day. Long enough to walk a phone to
/// another network and back; short enough that a forgotten link stops working.
pub const MAX_LINK_TTL_MINUTES: u32 = 1440;

/// `POST /api/phone-links` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPhoneLink {
    /// Lifetime in minutes (default 60, at most 1440: a day).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1440))]
    pub ttl_minutes: Option<u32>,
    /// Lifetime in seconds (at most 86400: a day), for short-lived links (tests, demos);
    /// wins over `ttl_minutes`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86400))]
    pub ttl_seconds: Option<u32>,
    /// The base URL the phone will open: scheme, host and port, no path, no user info,
    /// e.g. `http://203.0.113.5:7070`; defaults to the address the dashboard itself was
    /// loaded from.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 300, pattern = r#"^https?://[!"$-.0->A-~]+/*$"#)
    )]
    pub base_url: Option<String>,
}

impl NewPhoneLink {
    /// The lifetime asked for: seconds win over minutes, but both are checked, so a bad
    /// value is refused rather than ignored.
    pub fn lifetime(&self) -> Result<std::time::Duration, String> {
        use std::time::Duration;
        let max = Duration::from_secs(u64::from(MAX_LINK_TTL_MINUTES) * 60);
        let asked = [
            self.ttl_seconds.map(|s| Duration::from_secs(u64::from(s))),
            self.ttl_minutes
                .map(|m| Duration::from_secs(u64::from(m) * 60)),
        ];
        if asked.iter().flatten().any(|t| t.is_zero() || *t > max) {
            return Err("a phone link lives between 1 second and 24 hours".into());
        }
        Ok(asked
            .into_iter()
            .flatten()
            .next()
            .unwrap_or(Duration::from_secs(
                u64::from(DEFAULT_LINK_TTL_MINUTES) * 60,
            )))
    }
}

/// A scoped, expiring token that may only list the probe set, run it and post results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhoneLink {
    /// Short code; also the scoped token.
    pub code: String,
    /// `<base>/p/<code>`.
    pub url: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// `GET /api/phone/targets`: what a phone link holder may probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeSet {
    pub targets: Vec<ProbeTarget>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The address the agent sees this device as.
    pub client_ip: String,
}
