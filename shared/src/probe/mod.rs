//! Reachability probes: the configured targets, what the agent observed (DNS, TCP per
//! address, TLS, HTTP, CORS), what a browser observed, and the phone link that lets another
//! device report. Only types and pure classification live here; the agent performs its
//! probes and the dashboard performs the browser's. docs/incidents.md has the outages they
//! diagnose: "Blocked from the guest Wi-Fi", "Proxy says 503, backend says 200", "Two
//! containers that cannot talk" and "The 404 that was not a routing error".
//!
//! One module per side of the story: [`target`] (what may be probed, and its checks),
//! [`agent`] (what the agent observed), [`history`] (its probes over time), [`device`] (what a
//! browser observed and reported),
//! [`phone`] (the link a phone opens) and [`comparison`] (everything side by side).
//! Everything is re-exported here, so `vantage_shared::probe::X` names every type.

pub mod agent;
pub mod comparison;
pub mod device;
pub mod history;
pub mod phone;
pub mod target;

pub use agent::*;
pub use comparison::*;
pub use device::*;
pub use history::*;
pub use phone::*;
pub use target::*;

#[cfg(test)]
mod tests;
