//! Reachability API (docs/incidents.md, "Blocked from the guest Wi-Fi"): targets, agent
//! probes, device reports, phone links and the comparison. A phone link's code is a scoped
//! token: it may list the probe set, have the agent probe a *configured* target and post its
//! own results — never probe an address of its choosing, so the agent cannot be used as an
//! open proxy or scanner.
//!
//! This file holds the state the handlers share and the router; the handlers live by
//! concern: `targets` (the probe set and its lookups), `probes` (the agent's own probe),
//! `reports` (device results), `comparison`, `phone_links`, and `rate_limit`.

mod comparison;
mod history;
mod page_cors;
mod phone_links;
mod probes;
mod rate_limit;
mod reports;
pub mod schedule;
mod targets;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use tokio::sync::Semaphore;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::probe::Target;

use crate::auth::client_ip;
use crate::error::ApiError;
use crate::AppState;

pub use page_cors::page_reports_cors;
pub use rate_limit::RateLimiter;

/// Every target (config file first, then the dashboard's), for the rest of the agent.
pub async fn targets(state: &AppState) -> Result<Vec<Target>, crate::error::ApiError> {
    targets::all_targets(state).await
}
pub use reports::{MAX_DEVICES_PER_LINK, MAX_REPORT_BYTES};

/// Probes running at once, whoever asked: a page hammering "probe" cannot make the agent
/// open thousands of connections.
pub const MAX_CONCURRENT_PROBES: usize = 64;

/// Probes that phone links may have running at once, apart from the admin's pool: phones
/// cannot starve the admin's probes.
pub const MAX_PHONE_PROBES: usize = 4;

/// Reachability state shared by the handlers.
#[derive(Clone)]
pub struct Reach {
    /// Targets from the config file; they shadow dashboard targets with the same id.
    pub config_targets: Arc<[Target]>,
    pub trusted_proxies: Arc<[(IpAddr, u8)]>,
    pub probes: Arc<Semaphore>,
    pub phone_probes: Arc<Semaphore>,
    /// One phone-triggered probe per target at a time; the next phone reuses its result.
    target_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    pub limiter: RateLimiter,
    /// Target id → the page origin its newest probe evaluated CORS for, so the scheduler
    /// need not read it back from the store before every probe.
    origins: Arc<Mutex<HashMap<String, String>>>,
}

impl Default for Reach {
    fn default() -> Self {
        Self {
            config_targets: Arc::from(Vec::new()),
            trusted_proxies: Arc::from(Vec::new()),
            probes: Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES)),
            phone_probes: Arc::new(Semaphore::new(MAX_PHONE_PROBES)),
            target_locks: Arc::default(),
            limiter: RateLimiter::default(),
            origins: Arc::default(),
        }
    }
}

impl Reach {
    fn remember_origin(&self, target_id: &str, origin: &str) {
        if let Ok(mut map) = self.origins.lock() {
            if map.get(target_id).map(String::as_str) != Some(origin) {
                map.insert(target_id.to_owned(), origin.to_owned());
            }
        }
    }

    fn known_origin(&self, target_id: &str) -> Option<String> {
        self.origins.lock().ok()?.get(target_id).cloned()
    }

    fn target_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.target_locks.lock() {
            Ok(mut map) => Arc::clone(map.entry(id.to_owned()).or_default()),
            // A poisoned map only loses the de-duplication, not correctness.
            Err(_) => Arc::default(),
        }
    }
}

/// The routes of this module, all behind the token check.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(targets::list_targets, targets::add_target))
        .routes(routes!(targets::delete_target, targets::patch_target))
        .routes(routes!(probes::run_probe))
        .routes(routes!(history::target_history))
        .routes(routes!(history::target_summary))
        .routes(routes!(comparison::comparison))
        .routes(routes!(
            phone_links::list_phone_links,
            phone_links::create_phone_link
        ))
        .routes(routes!(phone_links::revoke_phone_link))
        .routes(routes!(phone_links::phone_targets))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(reports::post_report))
                // A result per target for up to MAX_TARGETS targets.
                .layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        )
}

/// The address the agent sees the caller as (see [`client_ip`]).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Absent only when the router is driven without a socket (unit tests).
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Self(client_ip(
            peer,
            &forwarded,
            &state.reach.trusted_proxies,
        )))
    }
}

/// The origin the dashboard was loaded from: the browser's `Origin`, else the `Host`.
pub(crate) fn request_origin(headers: &HeaderMap) -> String {
    if let Some(o) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if o.starts_with("http://") || o.starts_with("https://") {
            return o.to_owned();
        }
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}
