//! Serde types of the agent's JSON API (`/api/*`), exactly as they go over the wire.

mod docker;
mod events;
mod health;
mod lifecycle;
mod overview;
mod rules;

use serde::{Deserialize, Serialize};

pub use docker::*;
pub use events::*;
pub use health::*;
pub use lifecycle::*;
pub use overview::*;
pub use rules::*;

/// `GET /api/health`: liveness, the only unauthenticated API route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentHealth {
    /// Always `ok` when the process answers.
    pub status: String,
    /// The agent's version (`CARGO_PKG_VERSION`).
    pub version: String,
}

/// The JSON body of every API error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    /// Stable machine-readable code, e.g. `unauthorized`, `not_found`, `docker_unavailable`.
    pub error: String,
    /// A sentence a person can act on.
    pub message: String,
}
