//! The contract between the Vantage agent and its dashboard: API types and the
//! pure diagnosis logic both sides run (native and `wasm32-unknown-unknown`).

pub mod alerts;
pub mod api;
pub mod browser;
pub mod check;
pub mod cors;
pub mod diagnosis;
pub mod duration;
pub mod fingerprint;
pub mod fleet;
pub mod gpu;
pub mod host;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod ownership;
pub mod page_snippet;
pub mod phone_link;
pub mod probe;
pub mod proxy_admin;
pub mod routes;
pub mod rules;
pub mod size;

pub use api::*;
