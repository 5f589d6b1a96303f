//! Vantage's dashboard: a Leptos single-page app served by the agent, compiled to wasm.

pub mod agents;
pub mod api;
mod app;
pub mod chart;
pub mod check;
pub mod components;
pub mod format;
pub mod gpu_chart;
pub mod latency_chart;
pub mod lifecycle_band;
pub mod live;
pub mod pages;
pub mod state;

#[cfg(all(test, target_arch = "wasm32"))]
mod browser_tests;

pub use app::{App, PhoneApp};
