//! Alerts and notifications: `engine.rs` decides when (thresholds, recovery, reminders,
//! muting) from what the agent sees, `devices.rs` from what devices report, the outbox in SQLite keeps what is to be sent across
//! restarts, `deliver.rs` sends it with retries and backoff (webhook with an HMAC
//! signature, Slack/Mattermost, Discord, ntfy, e-mail), and `routes.rs` shows channels
//! (without secrets) and the delivery log, and sends tests.

pub mod config;
pub mod deliver;
pub mod devices;
pub mod engine;
pub mod new_channel;
pub mod routes;

use std::sync::{Arc, RwLock};

use tokio::sync::Notify;
use vantage_shared::alerts::Alert;

pub use config::Settings;
use config::{check_channel, Channel, ChannelConfig};

use crate::store::Store;
use crate::AppState;

/// The policy and the config file's channels, the channels added on the dashboard, and the
/// delivery worker's doorbell.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    pub settings: Arc<Settings>,
    /// Added on the dashboard: stored, loaded at start, changed through the API.
    dashboard: Arc<RwLock<Vec<Channel>>>,
    /// Rung when the outbox gets something, so delivery starts at once.
    pub wake: Arc<Notify>,
    /// Held while a result is judged: a subject's state is read, stepped and written as one,
    /// even when probes of one target finish together.
    pub(crate) judging: Arc<tokio::sync::Mutex<()>>,
    /// Each subject's state, as stored: read once per start, written through on change.
    states: Arc<
        std::sync::Mutex<std::collections::HashMap<String, vantage_shared::alerts::AlertState>>,
    >,
}

/// Why a channel cannot be added or removed.
#[derive(Debug)]
pub enum ChannelError {
    Invalid(String),
    Exists(String),
    InConfig(String),
    Missing(String),
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for ChannelError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Store(e)
    }
}

impl Alerts {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
            dashboard: Arc::default(),
            wake: Arc::new(Notify::new()),
            judging: Arc::default(),
            states: Arc::default(),
        }
    }

    /// A subject's state if it was read or written since the start.
    pub(crate) fn cached(&self, key: &str) -> Option<vantage_shared::alerts::AlertState> {
        self.states.lock().ok()?.get(key).cloned()
    }

    pub(crate) fn cache(&self, key: String, s: vantage_shared::alerts::AlertState) {
        if let Ok(mut m) = self.states.lock() {
            m.insert(key, s);
        }
    }

    /// Every channel: the config file's, then the dashboard's.
    pub fn channels(&self) -> Vec<Channel> {
        let mut all = self.settings.channels.clone();
        if let Ok(d) = self.dashboard.read() {
            all.extend(d.iter().cloned());
        }
        all
    }

    pub fn channel(&self, name: &str) -> Option<Channel> {
        self.channels().into_iter().find(|c| c.config.name == name)
    }

    /// Loads the dashboard's channels; one that no longer passes the checks is skipped
    /// with a warning rather than stopping the agent.
    pub async fn load(&self, store: &Store) -> Result<(), crate::store::StoreError> {
        let mut loaded = Vec::new();
        for json in store.channels().await? {
            match serde_json::from_str::<ChannelConfig>(&json)
                .map_err(|e| e.to_string())
                .and_then(check_channel)
            {
                Ok(mut c) => {
                    c.from_dashboard = true;
                    loaded.push(c);
                }
                Err(e) => tracing::warn!(error = %e, "Skipping a stored notification channel"),
            }
        }
        if let Ok(mut d) = self.dashboard.write() {
            *d = loaded;
        }
        Ok(())
    }

    /// Adds a channel from the dashboard, checked like the config file's.
    pub async fn add(&self, store: &Store, c: ChannelConfig) -> Result<Channel, ChannelError> {
        if c.ca_file.is_some() {
            return Err(ChannelError::Invalid(
                "ca_file names a file on the agent's host: set it in the config file".into(),
            ));
        }
        let mut channel = check_channel(c).map_err(ChannelError::Invalid)?;
        channel.from_dashboard = true;
        let name = channel.config.name.clone();
        if self.settings.channel(&name).is_some() {
            return Err(ChannelError::Exists(name));
        }
        let json =
            serde_json::to_string(&channel.config).map_err(crate::store::StoreError::from)?;
        if !store.insert_channel(name.clone(), json).await? {
            return Err(ChannelError::Exists(name));
        }
        if let Ok(mut d) = self.dashboard.write() {
            d.push(channel.clone());
        }
        Ok(channel)
    }

    /// Removes a dashboard channel (its pending notifications then give up).
    pub async fn remove(&self, store: &Store, name: &str) -> Result<(), ChannelError> {
        if self.settings.channel(name).is_some() {
            return Err(ChannelError::InConfig(name.to_owned()));
        }
        if !store.delete_channel(name.to_owned()).await? {
            return Err(ChannelError::Missing(name.to_owned()));
        }
        if let Ok(mut d) = self.dashboard.write() {
            d.retain(|c| c.config.name != name);
        }
        Ok(())
    }

    /// Whether any of `names` (a target's id and name, a container's name and id) is muted.
    /// A container id also matches by a prefix of 12 or more hex digits, as `docker` takes
    /// them; names match only whole.
    pub fn muted(&self, names: &[&str]) -> bool {
        self.settings.mute.iter().any(|m| {
            let id_prefix = m.len() >= 12 && m.bytes().all(|b| b.is_ascii_hexdigit());
            names
                .iter()
                .any(|n| n == m || (id_prefix && n.starts_with(m.as_str())))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutes_match_whole_names_and_id_prefixes() {
        let alerts = Alerts::new(Settings {
            mute: vec!["shop-api-prod".into(), "0123456789ab".into()],
            ..Settings::default()
        });
        assert!(alerts.muted(&["shop-api-prod"]));
        assert!(
            !alerts.muted(&["shop-api-production"]),
            "a name is not a prefix"
        );
        assert!(alerts.muted(&["web", "0123456789abcdef0123"]));
        assert!(!alerts.muted(&["web", "fedcba9876543210"]));
    }
}
