//! The agent's event bus: everything that changes publishes here (the Docker watcher,
//! rules reloads, agent probes, device reports, GPU runs), and the dashboard's event
//! stream (`GET /api/events`) subscribes. It lives on the app state, not in any one
//! publisher, so a new publisher needs no other module.

use tokio::sync::broadcast;
use vantage_shared::AgentEvent;

/// Events kept for a slow subscriber before it misses some (it then refetches).
const CAPACITY: usize = 1024;

/// A broadcast channel of [`AgentEvent`]s. Cheap to clone; every clone is the same bus.
#[derive(Clone)]
pub struct Events(broadcast::Sender<AgentEvent>);

impl Default for Events {
    fn default() -> Self {
        Self(broadcast::channel(CAPACITY).0)
    }
}

impl Events {
    /// Live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AgentEvent> {
        self.0.subscribe()
    }

    pub fn publish(&self, event: AgentEvent) {
        // No subscribers is normal (no dashboard open).
        let _ = self.0.send(event);
    }
}
