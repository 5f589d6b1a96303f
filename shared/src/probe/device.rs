//! What a browser observed for one target (`no-cors` and `cors` fetches), the report a
//! device posts, and the verdict the no-cors/cors matrix gives it.

use serde::{Deserialize, Serialize};

use super::*;

/// How one `fetch()` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FetchOutcome {
    /// A response arrived (opaque for `no-cors`).
    Ok,
    /// `TypeError: Failed to fetch`: network failure, or for `cors` a CORS failure.
    NetworkError,
    /// Aborted by our timeout.
    Timeout,
    /// Not attempted: the browser is known to block it (mixed content, local network).
    Skipped,
}

/// One mode's fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FetchAttempt {
    pub outcome: FetchOutcome,
    /// Status for `cors` responses; `no-cors` responses are opaque (absent).
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub status: Option<u16>,
    #[cfg_attr(feature = "openapi", schema(format = Int64, maximum = 4294967295u32))]
    pub elapsed_ms: u32,
    /// The error message the browser gave, or why the fetch was skipped.
    pub error: Option<String>,
}

/// Why the browser would not attempt a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BrowserBlock {
    /// An `https:` page cannot fetch an `http:` URL.
    MixedContent,
    /// A public page fetching a private/loopback address (Chrome's Local Network Access).
    LocalNetworkAccess,
}

/// Resource Timing for the fetch, where the browser exposes it (same-origin, or the
/// target sent `Timing-Allow-Origin`). Milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceTiming {
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    pub first_byte_ms: f64,
    pub total_ms: f64,
}

/// What one browser saw for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrowserCheck {
    pub target_id: String,
    pub no_cors: FetchAttempt,
    pub cors: FetchAttempt,
    pub blocked_by: Option<BrowserBlock>,
    pub timing: Option<ResourceTiming>,
}

/// `POST /api/reports`: one device's browser results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceReportIn {
    /// Random id the page keeps in local storage, so one phone is one row: 1–64 letters,
    /// digits, `-` or `_`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,64}$"))]
    pub device_id: String,
    /// The page's own URL origin (to judge mixed content and local-network access).
    #[cfg_attr(feature = "openapi", schema(max_length = 300))]
    pub page_origin: String,
    /// One result per target, each naming a target of the probe set (`GET
    /// /api/phone/targets`); a target that is not there any more is a `400`.
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub results: Vec<BrowserCheck>,
}

/// A device report as recorded by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceReport {
    pub device_id: String,
    /// The address the agent saw (the first untrusted `X-Forwarded-For` hop when the
    /// connection came from a configured trusted proxy).
    pub client_ip: String,
    pub user_agent: String,
    pub page_origin: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub results: Vec<BrowserCheck>,
}

/// The verdict for one browser result, from the no-cors/cors matrix.
pub fn classify_browser(p: &BrowserCheck) -> ReachVerdict {
    if p.blocked_by.is_some() {
        return ReachVerdict::NotAttempted;
    }
    match (p.no_cors.outcome, p.cors.outcome) {
        (FetchOutcome::Skipped, _) => ReachVerdict::NotAttempted,
        (FetchOutcome::Timeout, _) => ReachVerdict::TimedOut,
        // A no-cors failure means the request never got an HTTP answer: DNS, TCP or TLS
        // failed from this device. Without a timeout the browser does not say which.
        (FetchOutcome::NetworkError, _) => ReachVerdict::FailedBeforeHttp,
        // The opaque request was answered but the readable one hung: slowness, not CORS.
        (FetchOutcome::Ok, FetchOutcome::Timeout) => ReachVerdict::TimedOut,
        (FetchOutcome::Ok, FetchOutcome::Ok) => match p.cors.status {
            Some(s) if s >= 400 => ReachVerdict::HttpError,
            _ => ReachVerdict::Reachable,
        },
        (FetchOutcome::Ok, _) => ReachVerdict::CorsBlocked,
    }
}

// ---------------------------------------------------------------------------------------------
// The phone link and the comparison
// ---------------------------------------------------------------------------------------------
