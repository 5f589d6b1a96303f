//! Agent-side reachability probes: DNS, TCP per resolved address, TLS, HTTP with timing
//! phases and redirects, response fingerprint and CORS evaluation.
//!
//! [`probe_target`] runs the whole pipeline for one configured target and never fails:
//! every failure becomes data (verdict, summary, findings). Each redirect hop goes through
//! the same DNS → TCP → TLS → HTTP steps (and, where the browser would, a preflight).
//! Everything a hostile target could stretch is capped: connect and exchange timeouts, one
//! deadline for the whole probe ([`PROBE_DEADLINE`]), [`MAX_REDIRECTS`], the addresses tried
//! per hop ([`tcp::MAX_ADDRESSES`]) and the body limits in [`http`]. A target cannot use
//! redirects to borrow the agent either: configured page headers (credentials) never leave
//! the target's origin, and a redirect into loopback, link-local or unspecified addresses is
//! not followed unless the target itself lives there. Which targets may be probed is the
//! routes' business, not this module's.
//!
//! After redirects, `dns`, `tcp` and `tls` describe the hop that produced the outcome (the
//! final response, or the hop that failed); `http.redirects` lists the hops before it.
//!
//! The steps live in their own modules: `pipeline` runs them in order under the deadline,
//! `redirect` decides which redirects are followed, `cors_request` builds the requests a
//! browser would send, and `dns`, `tcp`, `tls` and `http` do the network work. Verdicts,
//! summaries and findings are drawn by the pure functions of
//! [`vantage_shared::diagnosis::agent_probe`].

mod cors_request;
pub mod dns;
pub mod http;
mod pipeline;
pub mod proxy_admin;
mod redirect;
pub mod tcp;
pub mod tls;

use std::time::Duration;

use vantage_shared::probe::{AgentProbe, Target};

pub(crate) use pipeline::probe_with_roots;
pub use redirect::MAX_REDIRECTS;

/// Connect timeout when none is configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Whole-HTTP-exchange timeout (request, head and body) when none is configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole of one probe when none is configured: DNS, connects, TLS, preflights, HTTP and
/// every redirect hop. Each step has its own timeout, but six hops of them would add up to
/// minutes; a page's user gives up long before.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(30);
/// The origin used for CORS when neither the target nor the caller gives one.
pub const DEFAULT_ORIGIN: &str = "http://localhost";

/// What a probe needs to know about this host and its limits.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// (network name, subnet CIDR) of Docker networks on this host, for address ownership.
    pub docker_networks: Vec<(String, String)>,
    /// Origin used for the CORS evaluation when the target has none (the dashboard's origin).
    pub default_origin: String,
    /// Per address; no answer within it is the firewall-drop signature.
    pub connect_timeout: Duration,
    /// The whole HTTP exchange including the body (and, for https, the TLS handshake).
    pub request_timeout: Duration,
    /// The whole probe, every hop included ([`PROBE_DEADLINE`] by default).
    pub deadline: Duration,
}

impl Default for ProbeContext {
    fn default() -> Self {
        Self {
            docker_networks: Vec::new(),
            default_origin: DEFAULT_ORIGIN.to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            deadline: PROBE_DEADLINE,
        }
    }
}

/// Probes one target from this host. Never panics, never errors: see the module docs.
pub async fn probe_target(target: &Target, ctx: &ProbeContext) -> AgentProbe {
    probe_with_roots(target, ctx, tls::system_roots()).await
}

#[cfg(test)]
mod tests;
