//! The contract between the Vantage agent and its dashboard: API types and the
//! pure diagnosis logic both sides run (native and `wasm32-unknown-unknown`).

pub mod api;
pub mod cors;
pub mod diagnosis;
pub mod duration;
pub mod fingerprint;
pub mod gpu;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod ownership;
pub mod probe;
pub mod rules;

pub use api::*;
