//! The long-lived task that keeps `DockerHandle` current: it follows Docker's event
//! stream, re-reads everything periodically, records new healthcheck runs and lifecycle
//! events into the history store, and reconnects with backoff when the daemon goes away.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bollard::models::{EventMessage, EventMessageTypeEnum, Network};
use bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, ListContainersOptions, ListNetworksOptions,
};
use bollard::Docker;
use chrono::Utc;
use futures_util::StreamExt;
use tokio::sync::watch;
use vantage_shared::gpu::{ContainerGpuFields, EngineGpuFields};
use vantage_shared::{AgentEvent, DockerState};

use super::client::{self, describe, is_connection_error};
use super::convert::{convert_health_log, convert_inspect, convert_network, health_log};
use super::lifecycle;
use super::{DockerHandle, NetworkInfo};
use crate::store::Store;

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A session that lasted this long resets the reconnection backoff.
const STABLE_SESSION: Duration = Duration::from_secs(30);
/// Health events arrive when the probe process exits, a moment before Docker
/// writes the result into `State.Health.Log`; inspecting a little later sees it.
const HEALTH_SETTLE: Duration = Duration::from_millis(250);

/// The long-lived task that keeps `DockerHandle` current and records health history.
pub struct DockerWatcher {
    pub handle: DockerHandle,
    pub store: Store,
    pub endpoint: String,
    pub resync: Duration,
    pub shutdown: watch::Receiver<bool>,
}

enum SessionEnd {
    Shutdown,
    Lost(String),
}

impl DockerWatcher {
    pub async fn run(mut self) {
        let mut backoff = Duration::from_millis(250);
        loop {
            let end = match self.connect().await {
                Ok(docker) => {
                    let began = tokio::time::Instant::now();
                    let end = self.session(docker).await;
                    // Only a session that stayed up resets the backoff, so a daemon
                    // that accepts connections but fails every resync cannot make the
                    // status flap several times a second.
                    if began.elapsed() >= STABLE_SESSION {
                        backoff = Duration::from_millis(250);
                    }
                    end
                }
                Err(reason) => SessionEnd::Lost(reason),
            };
            match end {
                SessionEnd::Shutdown => return,
                SessionEnd::Lost(reason) => {
                    self.handle
                        .set_status(DockerState::Unavailable, Some(reason), None, None)
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.shutdown.changed() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Connects, reads the engine's version and GPU settings, and reports "connected".
    async fn connect(&self) -> Result<Docker, String> {
        let docker = client::connect(&self.endpoint).await?;
        let version = docker
            .version()
            .await
            .map_err(|e| describe(&e, &self.endpoint))?;
        // Only the GPU page uses `docker info`; an engine that refuses it still works.
        match docker.info().await {
            Ok(info) => {
                let fields = serde_json::to_value(&info)
                    .map(|v| EngineGpuFields::from_info(&v))
                    .unwrap_or_default();
                self.handle
                    .write_inventory(|inv| inv.engine_gpu = Some(fields));
            }
            Err(e) => tracing::warn!(error = %e, "Could not read docker info for GPU support"),
        }
        self.handle.set_status(
            DockerState::Connected,
            None,
            version.version,
            Some(docker.client_version().to_string()),
        );
        Ok(docker)
    }

    /// One connection's life: follow events, re-read everything periodically.
    async fn session(&mut self, docker: Docker) -> SessionEnd {
        let mut filters = HashMap::new();
        filters.insert(
            "type".to_owned(),
            vec!["container".to_owned(), "network".to_owned()],
        );
        // bollard sends `GET /events` only when the stream is first polled, after the
        // resync below: `since` makes Docker replay what happened in between, and what
        // happened while the agent was away (lifecycle events are stored once).
        let latest = self.store.latest_lifecycle_event().await.ok().flatten();
        let replay_from = lifecycle::replay_since(latest, Utc::now());
        let since = replay_from.timestamp().to_string();
        let mut events = docker.events(Some(EventsOptions {
            filters: Some(filters),
            since: Some(since),
            ..Default::default()
        }));
        if let Err(e) = self.resync_all(&docker).await {
            return SessionEnd::Lost(describe(&e, &self.endpoint));
        }
        self.backfill_lifecycle(replay_from).await;
        let mut resync = tokio::time::interval(self.resync);
        resync.tick().await;
        // Armed when the first container turns dirty, so the inspect runs
        // HEALTH_SETTLE after the event, not at once.
        let mut settle: Option<tokio::time::Instant> = None;
        let mut dirty: HashSet<String> = HashSet::new();
        let mut networks_dirty = false;
        loop {
            tokio::select! {
                ev = events.next() => {
                    match ev {
                        Some(Ok(ev)) => {
                            self.record(&ev).await;
                            self.on_event(ev, &mut dirty, &mut networks_dirty);
                        }
                        Some(Err(e)) => return SessionEnd::Lost(describe(&e, &self.endpoint)),
                        None => return SessionEnd::Lost(format!("{} closed the event stream (daemon stopped?)", self.endpoint)),
                    }
                    if settle.is_none() && (!dirty.is_empty() || networks_dirty) {
                        settle = Some(tokio::time::Instant::now() + HEALTH_SETTLE);
                    }
                }
                _ = tokio::time::sleep_until(settle.unwrap_or_else(tokio::time::Instant::now)), if settle.is_some() => {
                    settle = None;
                    if networks_dirty {
                        networks_dirty = false;
                        if let Err(e) = self.refresh_networks(&docker).await {
                            return SessionEnd::Lost(describe(&e, &self.endpoint));
                        }
                    }
                    for id in std::mem::take(&mut dirty) {
                        if let Err(e) = self.refresh_container(&docker, &id).await {
                            return SessionEnd::Lost(describe(&e, &self.endpoint));
                        }
                    }
                }
                _ = resync.tick() => {
                    if let Err(e) = self.resync_all(&docker).await {
                        return SessionEnd::Lost(describe(&e, &self.endpoint));
                    }
                }
                _ = self.shutdown.changed() => return SessionEnd::Shutdown,
            }
        }
    }

    /// Gives containers the agent has never seen an event of their last start (and exit)
    /// from `docker inspect`, when it happened before `replay_from` (so the replayed
    /// stream cannot bring it twice): their timeline starts with what Docker knows.
    async fn backfill_lifecycle(&self, replay_from: chrono::DateTime<Utc>) {
        let containers: Vec<_> = self
            .handle
            .read_inventory(|inv| inv.containers.values().map(|d| d.summary.clone()).collect());
        for c in containers {
            let events = lifecycle::from_inspect(&c, replay_from);
            if events.is_empty() {
                continue;
            }
            match self
                .store
                .lifecycle_events(c.id.clone(), None, None, 1)
                .await
            {
                Ok((_, 0)) => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(container = %c.name, error = %e, "Could not read container events");
                    continue;
                }
            }
            for e in events {
                if let Err(e) = self
                    .store
                    .insert_lifecycle_event(c.id.clone(), c.name.clone(), e)
                    .await
                {
                    tracing::error!(container = %c.name, error = %e, "Could not record a container event");
                }
            }
        }
    }

    /// Stores the event when it is a lifecycle event worth keeping.
    async fn record(&self, ev: &EventMessage) {
        let Some((id, name, event)) = lifecycle::lifecycle_event(ev) else {
            return;
        };
        // A full disk must not stop the watcher; the inventory stays current without it.
        match self
            .store
            .insert_lifecycle_event(id.clone(), name.clone(), event.clone())
            .await
        {
            // New (not a replay): the alert engine and open dashboards hear of it.
            Ok(true) => self.handle.publish(AgentEvent::ContainerLifecycle {
                container_id: id,
                container_name: name,
                event,
            }),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(container = %name, error = %e, "Could not record a container event")
            }
        }
    }

    fn on_event(&self, ev: EventMessage, dirty: &mut HashSet<String>, networks_dirty: &mut bool) {
        let action = ev.action.unwrap_or_default();
        let actor = ev.actor.unwrap_or_default();
        match ev.typ {
            Some(EventMessageTypeEnum::CONTAINER) => {
                let Some(id) = actor.id else { return };
                if action == "destroy" {
                    dirty.remove(&id);
                    let removed = self.handle.write_inventory(|inv| {
                        inv.gpu_fields.remove(&id);
                        inv.containers.remove(&id)
                    });
                    if let Some(d) = removed {
                        self.handle.publish(AgentEvent::ContainerRemoved {
                            id,
                            name: d.summary.name,
                        });
                    }
                } else {
                    // Every healthcheck run ends with `exec_die`; state changes, renames,
                    // restarts and `health_status: …` all mean "re-read this container".
                    dirty.insert(id);
                }
            }
            Some(EventMessageTypeEnum::NETWORK) => {
                *networks_dirty = true;
                if let Some(c) = actor.attributes.as_ref().and_then(|a| a.get("container")) {
                    dirty.insert(c.clone());
                }
            }
            _ => {}
        }
    }

    /// Re-reads every container and network; drops containers that are gone.
    async fn resync_all(&self, docker: &Docker) -> Result<(), bollard::errors::Error> {
        self.refresh_networks(docker).await?;
        let list = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            }))
            .await?;
        let ids: HashSet<String> = list.into_iter().filter_map(|c| c.id).collect();
        for id in &ids {
            self.refresh_container(docker, id).await?;
        }
        let gone: Vec<(String, String)> = self.handle.write_inventory(|inv| {
            let gone: Vec<String> = inv
                .containers
                .keys()
                .filter(|k| !ids.contains(*k))
                .cloned()
                .collect();
            inv.gpu_fields.retain(|k, _| ids.contains(k));
            gone.into_iter()
                .filter_map(|id| inv.containers.remove(&id).map(|d| (id, d.summary.name)))
                .collect()
        });
        for (id, name) in gone {
            self.handle
                .publish(AgentEvent::ContainerRemoved { id, name });
        }
        Ok(())
    }

    async fn refresh_networks(&self, docker: &Docker) -> Result<(), bollard::errors::Error> {
        let nets: Vec<Network> = docker.list_networks(None::<ListNetworksOptions>).await?;
        let infos: Vec<NetworkInfo> = nets.into_iter().filter_map(convert_network).collect();
        let changed = self.handle.write_inventory(|inv| {
            let before: Vec<&str> = inv.networks.iter().map(|n| n.id.as_str()).collect();
            let after: Vec<&str> = infos.iter().map(|n| n.id.as_str()).collect();
            let changed = before != after;
            inv.networks = infos;
            changed
        });
        if changed {
            self.handle.publish(AgentEvent::NetworksChanged);
        }
        Ok(())
    }

    /// Inspects one container, updates the inventory and records new healthcheck runs.
    async fn refresh_container(
        &self,
        docker: &Docker,
        id: &str,
    ) -> Result<(), bollard::errors::Error> {
        let inspect = match docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
        {
            Ok(i) => i,
            // Removed between the event and now: the destroy event handles it.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(()),
            // Only a lost connection ends the session; one container Docker cannot
            // describe (a 500, an odd field) must not take the whole view down.
            Err(e) if !is_connection_error(&e) => {
                tracing::warn!(container = %id, error = %e, "Could not inspect container; skipping it");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Some(detail) = convert_inspect(&inspect) else {
            return Ok(());
        };
        let log = health_log(&inspect);
        let runs = convert_health_log(&detail, &log);
        let (id, name) = (detail.summary.id.clone(), detail.summary.name.clone());
        // bollard serializes with Docker's own field names, so the GPU classification
        // reads the same shape as `docker inspect` fixtures.
        let gpu_fields = serde_json::to_value(&inspect)
            .map(|v| ContainerGpuFields::from_inspect(&v))
            .unwrap_or_default();
        let changed = self.handle.write_inventory(|inv| {
            inv.gpu_fields.insert(id.clone(), gpu_fields);
            let changed = inv
                .containers
                .get(&id)
                .map(|old| old.summary != detail.summary || old.labels != detail.labels)
                != Some(false);
            inv.containers.insert(id.clone(), detail);
            changed
        });
        if changed {
            self.handle.publish(AgentEvent::ContainerChanged {
                id: id.clone(),
                name: name.clone(),
            });
        }
        match self.store.insert_runs(id.clone(), name.clone(), runs).await {
            Ok(new) => {
                for run in new {
                    self.handle.publish(AgentEvent::HealthcheckRun {
                        container_id: id.clone(),
                        container_name: name.clone(),
                        run,
                    });
                }
            }
            // A full disk must not stop the watcher; the next inspect retries the same log.
            Err(e) => {
                tracing::error!(container = %name, error = %e, "Could not record healthcheck results")
            }
        }
        Ok(())
    }
}
