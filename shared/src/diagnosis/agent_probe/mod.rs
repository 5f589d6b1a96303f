//! An agent probe's conclusions: verdict, one-line summary and findings, as pure functions of
//! what the agent observed (DNS, TCP per address, TLS, HTTP, CORS) and where its pipeline
//! stopped, so every wording and threshold is unit-tested without a network. The agent only
//! performs the steps and calls [`conclude`] with the results.

mod conclusion;
mod http;
mod network;
pub mod notes;
mod tls;

pub use conclusion::{conclude, ProbeStop, Sensitive};
pub use http::{body_excerpt, http_findings, http_is_error, http_summary, status_ok};
pub use network::{dns_failure_summary, dns_findings, tcp_failure, tcp_findings};
pub use tls::{tls_failure_summary, tls_findings, CERT_EXPIRY_WARNING_DAYS};

// The wording of durations lives with every other view's, in `crate::duration`.
pub use crate::duration::{fmt_limit, fmt_ms, fmt_secs};

#[cfg(test)]
mod tests;
