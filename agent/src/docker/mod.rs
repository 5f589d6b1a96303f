//! The only module that talks to Docker (bollard). It keeps an in-memory copy of
//! containers and networks, updated from Docker's event stream and a periodic
//! full re-read, records every healthcheck run into the history store, and
//! reconnects by itself when the daemon goes away and comes back.
//!
//! Read-only towards Docker: it lists, inspects and subscribes to events; it
//! never creates, starts, stops or execs anything.
//!
//! This module holds `DockerHandle` and the shared state behind it (connection status,
//! inventory); it publishes Docker changes on the agent's event bus (`crate::events`).
//! `view` answers the API's reads, `watcher`
//! keeps the inventory current, `client` connects, and `convert` turns bollard's
//! types into ours.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::Utc;
use vantage_shared::gpu::{ContainerGpuFields, EngineGpuFields};
use vantage_shared::{AgentEvent, ContainerDetail, DockerState, DockerStatus};

use crate::events::Events;

mod client;
mod convert;
mod image_tools;
mod lifecycle;
pub mod snapshot;
mod view;
mod watcher;

pub use view::ContainerGpuRow;
pub use watcher::DockerWatcher;

/// A network as Docker lists it (members are derived from containers).
#[derive(Debug, Clone)]
struct NetworkInfo {
    id: String,
    name: String,
    driver: String,
    scope: String,
    internal: bool,
    subnets: Vec<String>,
}

#[derive(Default)]
struct Inventory {
    containers: HashMap<String, ContainerDetail>,
    networks: Vec<NetworkInfo>,
    /// The inspect fields that decide GPU access, per container id (the GPU page;
    /// docs/incidents.md, "Is the GPU worth it here?").
    gpu_fields: HashMap<String, ContainerGpuFields>,
    /// `docker info`'s runtimes and CDI settings, read at each connection.
    engine_gpu: Option<EngineGpuFields>,
}

struct Shared {
    status: RwLock<DockerStatus>,
    inventory: RwLock<Inventory>,
    /// Where Docker changes and recorded healthcheck runs are published.
    events: Events,
}

/// Read side of the Docker view, shared with the API. Cheap to clone.
#[derive(Clone)]
pub struct DockerHandle {
    shared: Arc<Shared>,
}

impl DockerHandle {
    /// A handle that publishes its changes on `events`; it connects once a
    /// [`DockerWatcher`] runs with it.
    pub fn new(endpoint: &str, events: Events) -> Self {
        Self {
            shared: Arc::new(Shared {
                status: RwLock::new(DockerStatus {
                    state: DockerState::Connecting,
                    reason: None,
                    endpoint: endpoint.to_owned(),
                    engine_version: None,
                    api_version: None,
                    since: Utc::now(),
                }),
                inventory: RwLock::new(Inventory::default()),
                events,
            }),
        }
    }

    pub fn status(&self) -> DockerStatus {
        match self.shared.status.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.status().state == DockerState::Connected
    }

    /// Publishes a Docker change (the watcher's, and status changes here).
    fn publish(&self, event: AgentEvent) {
        self.shared.events.publish(event);
    }

    fn read_inventory<T>(&self, f: impl FnOnce(&Inventory) -> T) -> T {
        match self.shared.inventory.read() {
            Ok(inv) => f(&inv),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write_inventory<T>(&self, f: impl FnOnce(&mut Inventory) -> T) -> T {
        match self.shared.inventory.write() {
            Ok(mut inv) => f(&mut inv),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn set_status(
        &self,
        state: DockerState,
        reason: Option<String>,
        engine: Option<String>,
        api: Option<String>,
    ) {
        let changed = {
            let mut s = match self.shared.status.write() {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
            let changed = s.state != state || s.reason != reason;
            if changed {
                s.state = state;
                s.reason = reason;
                s.engine_version = engine;
                s.api_version = api;
                s.since = Utc::now();
            }
            changed.then(|| s.clone())
        };
        if let Some(status) = changed {
            match status.state {
                DockerState::Connected => {
                    tracing::info!(endpoint = %status.endpoint, engine = ?status.engine_version, api = ?status.api_version, "Docker connected")
                }
                _ => {
                    tracing::warn!(endpoint = %status.endpoint, reason = ?status.reason, "Docker unavailable")
                }
            }
            self.publish(AgentEvent::Docker { status });
        }
    }
}

#[cfg(test)]
mod tests;
