//! Phone links: the request that creates one, the link itself, and what its holder may
//! probe.

use serde::{Deserialize, Serialize};

use super::*;

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
