//! Alerts and notifications: `engine.rs` decides when (thresholds, recovery, reminders,
//! muting) from what the agent sees, the outbox in SQLite keeps what is to be sent across
//! restarts, `deliver.rs` sends it with retries and backoff (webhook with an HMAC
//! signature, Slack/Mattermost, Discord, ntfy, e-mail), and `routes.rs` shows channels
//! (without secrets) and the delivery log, and sends tests.

pub mod config;
pub mod deliver;
pub mod engine;
pub mod routes;

use std::sync::Arc;

use tokio::sync::Notify;
use vantage_shared::alerts::Alert;

pub use config::Settings;

use crate::AppState;

/// The configured channels and policy, and the delivery worker's doorbell.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    pub settings: Arc<Settings>,
    /// Rung when the outbox gets something, so delivery starts at once.
    pub wake: Arc<Notify>,
}

impl Alerts {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Whether any of `names` (a target's id and name, a container's name and id) is muted.
    /// A container id matches by prefix, as `docker` takes them.
    pub fn muted(&self, names: &[&str]) -> bool {
        self.settings.mute.iter().any(|m| {
            names
                .iter()
                .any(|n| n == m || (m.len() >= 12 && n.starts_with(m.as_str())))
        })
    }

    /// Puts `alert` in the outbox of every channel that wants it and wakes the delivery.
    pub async fn raise(&self, state: &AppState, alert: Alert) -> anyhow::Result<()> {
        tracing::info!(kind = alert.kind.as_str(), subject = %alert.subject.name, "{}", alert.title);
        for c in self
            .settings
            .channels
            .iter()
            .filter(|c| c.wants(alert.kind))
        {
            state
                .store
                .enqueue_notification(c.config.name.clone(), &alert)
                .await?;
        }
        self.wake.notify_one();
        Ok(())
    }
}
