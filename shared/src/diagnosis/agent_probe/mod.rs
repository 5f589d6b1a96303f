//! An agent probe's conclusions: verdict, one-line summary and findings, as pure functions of
//! what the agent observed (DNS, TCP per address, TLS, HTTP, CORS) and where its pipeline
//! stopped, so every wording and threshold is unit-tested without a network. The agent only
//! performs the steps and calls [`conclude`] with the results.

mod conclusion;
mod http;
mod network;
pub mod notes;
mod tls;

pub use conclusion::{conclude, fmt_limit, ProbeStop, Sensitive};
pub use http::{body_excerpt, http_findings, http_is_error, http_summary, status_ok};
pub use network::{dns_failure_summary, dns_findings, tcp_failure, tcp_findings};
pub use tls::{tls_failure_summary, tls_findings, CERT_EXPIRY_WARNING_DAYS};

/// `0.4 ms`, `42 ms`, `3.0 s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// Timeouts read in seconds whatever their size: `0.5 s`, `3.0 s`.
pub fn fmt_secs(ms: f64) -> String {
    format!("{:.1} s", ms / 1000.0)
}

#[cfg(test)]
mod tests;
