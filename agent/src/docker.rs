//! The only module that talks to Docker (bollard). It keeps an in-memory copy of
//! containers and networks, updated from Docker's event stream and a periodic
//! full re-read, records every healthcheck probe into the history store, and
//! reconnects by itself when the daemon goes away and comes back.
//!
//! Read-only towards Docker: it lists, inspects and subscribes to events; it
//! never creates, starts, stops or execs anything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bollard::models::{
    ContainerInspectResponse, EventMessage, EventMessageTypeEnum, HealthcheckResult, Network,
};
use bollard::query_parameters::{
    EventsOptions, InspectContainerOptions, ListContainersOptions, ListNetworksOptions,
};
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};
use vantage_shared::gpu::{ContainerGpuFields, EngineGpuFields};
use vantage_shared::{
    AgentEvent, ContainerDetail, ContainerState, ContainerSummary, DockerState, DockerStatus,
    HealthProbe, HealthStats, HealthStatus, HealthcheckConfig, NetworkAttachment, NetworkMember,
    NetworkSummary, PortMapping, PREDEFINED_NETWORKS,
};

use crate::store::{truncate_utf8, Store, MAX_OUTPUT_BYTES};

/// Requests that do not answer within this time count as a failed connection.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A session that lasted this long resets the reconnection backoff.
const STABLE_SESSION: Duration = Duration::from_secs(30);
/// Health events arrive when the probe process exits, a moment before Docker
/// writes the result into `State.Health.Log`; inspecting a little later sees it.
const HEALTH_SETTLE: Duration = Duration::from_millis(250);

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
    /// The inspect fields that decide GPU access, per container id (issue 5).
    gpu_fields: HashMap<String, ContainerGpuFields>,
    /// `docker info`'s runtimes and CDI settings, read at each connection.
    engine_gpu: Option<EngineGpuFields>,
}

struct Shared {
    status: RwLock<DockerStatus>,
    inventory: RwLock<Inventory>,
    events: broadcast::Sender<AgentEvent>,
}

/// One container for the GPU page: id, name, running, GPU-relevant inspect fields.
pub type ContainerGpuRow = (String, String, bool, ContainerGpuFields);

/// Read side of the Docker view, shared with the API. Cheap to clone.
#[derive(Clone)]
pub struct DockerHandle {
    shared: Arc<Shared>,
}

impl DockerHandle {
    pub fn new(endpoint: &str) -> Self {
        let (events, _) = broadcast::channel(1024);
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

    /// Live events for the dashboard's stream.
    pub fn subscribe(&self) -> broadcast::Receiver<AgentEvent> {
        self.shared.events.subscribe()
    }

    pub fn publish(&self, event: AgentEvent) {
        // No subscribers is normal (no dashboard open).
        let _ = self.shared.events.send(event);
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

    /// Every container, sorted by name.
    pub fn containers(&self) -> Vec<ContainerSummary> {
        let now = Utc::now();
        let mut list: Vec<ContainerSummary> = self.read_inventory(|inv| {
            inv.containers
                .values()
                .map(|d| with_status_text(d.summary.clone(), now))
                .collect()
        });
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// A container by full id, name, or unique id prefix (at least 4 characters).
    pub fn container(&self, id_or_name: &str) -> Option<ContainerDetail> {
        let key = id_or_name.trim_start_matches('/');
        self.read_inventory(|inv| {
            if let Some(d) = inv.containers.get(key) {
                return Some(d.clone());
            }
            if let Some(d) = inv.containers.values().find(|d| d.summary.name == key) {
                return Some(d.clone());
            }
            if key.len() >= 4 {
                let mut matches = inv
                    .containers
                    .values()
                    .filter(|d| d.summary.id.starts_with(key));
                if let (Some(d), None) = (matches.next(), matches.next()) {
                    return Some(d.clone());
                }
            }
            None
        })
        .map(|mut d| {
            d.summary = with_status_text(d.summary, Utc::now());
            d
        })
    }

    /// Networks with the containers attached to each.
    pub fn networks(&self) -> Vec<NetworkSummary> {
        let mut list: Vec<NetworkSummary> = self.read_inventory(|inv| {
            inv.networks
                .iter()
                .map(|n| {
                    let mut containers: Vec<NetworkMember> = inv
                        .containers
                        .values()
                        .filter_map(|c| {
                            let att = c.summary.networks.iter().find(|a| {
                                a.network_id.as_deref() == Some(&n.id) || a.name == n.name
                            })?;
                            Some(NetworkMember {
                                id: c.summary.id.clone(),
                                name: c.summary.name.clone(),
                                ip_address: att.ip_address.clone(),
                            })
                        })
                        .collect();
                    containers.sort_by(|a, b| a.name.cmp(&b.name));
                    NetworkSummary {
                        id: n.id.clone(),
                        name: n.name.clone(),
                        driver: n.driver.clone(),
                        scope: n.scope.clone(),
                        internal: n.internal,
                        user_defined: !PREDEFINED_NETWORKS.contains(&n.name.as_str()),
                        subnets: n.subnets.clone(),
                        containers,
                    }
                })
                .collect()
        });
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    pub fn network_count(&self) -> usize {
        self.read_inventory(|inv| inv.networks.len())
    }

    /// What the GPU page needs from Docker: the engine's runtimes and CDI settings
    /// (`None` before the first `docker info`) and, per container, `(id, name, running,
    /// GPU-relevant inspect fields)`.
    pub fn gpu_view(&self) -> (Option<EngineGpuFields>, Vec<ContainerGpuRow>) {
        self.read_inventory(|inv| {
            let containers = inv
                .containers
                .values()
                .map(|d| {
                    (
                        d.summary.id.clone(),
                        d.summary.name.clone(),
                        d.summary.state == ContainerState::Running,
                        inv.gpu_fields
                            .get(&d.summary.id)
                            .cloned()
                            .unwrap_or_default(),
                    )
                })
                .collect();
            (inv.engine_gpu.clone(), containers)
        })
    }
}

/// Docker-style human status (`Up 3 minutes (healthy)`), computed at read time
/// because it depends on the clock.
fn with_status_text(mut s: ContainerSummary, now: DateTime<Utc>) -> ContainerSummary {
    let ago = |t: Option<DateTime<Utc>>| {
        t.map(|t| {
            vantage_shared::duration::human_ms(
                u64::try_from((now - t).num_milliseconds()).unwrap_or(0),
            )
        })
        .unwrap_or_else(|| "?".into())
    };
    s.status = match s.state {
        ContainerState::Running => {
            let health = match s.health {
                HealthStatus::None => String::new(),
                HealthStatus::Starting => " (health: starting)".into(),
                h => format!(" ({h})"),
            };
            format!("Up {}{health}", ago(s.started_at))
        }
        ContainerState::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code.unwrap_or(0),
            ago(s.finished_at)
        ),
        ContainerState::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code.unwrap_or(0),
            ago(s.finished_at)
        ),
        ContainerState::Paused => format!("Up {} (Paused)", ago(s.started_at)),
        other => capitalise(other.as_str()),
    };
    s
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Docker writes `0001-01-01T00:00:00Z` for "never".
fn docker_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s?).ok()?.with_timezone(&Utc);
    (t.timestamp() > 0).then_some(t)
}

/// Converts `docker inspect` output to our type (without stats and findings).
fn convert_inspect(c: &ContainerInspectResponse) -> Option<ContainerDetail> {
    let id = c.id.clone()?;
    let name = c
        .name
        .as_deref()
        .unwrap_or("")
        .trim_start_matches('/')
        .to_owned();
    let config = c.config.clone().unwrap_or_default();
    let state = c.state.clone().unwrap_or_default();
    let labels: BTreeMap<String, String> = config
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let health = state.health.as_ref();
    let healthcheck = config.healthcheck.as_ref().and_then(|h| {
        let test = h.test.clone().unwrap_or_default();
        // An image healthcheck disabled with `--no-healthcheck` reads ["NONE"].
        (!test.is_empty() && test[0] != "NONE").then(|| {
            HealthcheckConfig::from_docker(
                test,
                h.interval.unwrap_or(0),
                h.timeout.unwrap_or(0),
                h.start_period.unwrap_or(0),
                h.retries.unwrap_or(0),
            )
        })
    });
    let net = c.network_settings.clone().unwrap_or_default();
    let mut ports: Vec<PortMapping> = net
        .ports
        .unwrap_or_default()
        .into_iter()
        .flat_map(|(key, bindings)| {
            let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let container_port = port.parse().unwrap_or(0);
            let proto = proto.to_owned();
            match bindings {
                Some(b) if !b.is_empty() => b
                    .into_iter()
                    .map(|b| PortMapping {
                        container_port,
                        protocol: proto.clone(),
                        host_ip: b.host_ip.filter(|s| !s.is_empty()),
                        host_port: b.host_port.and_then(|p| p.parse().ok()),
                    })
                    .collect::<Vec<_>>(),
                _ => vec![PortMapping {
                    container_port,
                    protocol: proto,
                    host_ip: None,
                    host_port: None,
                }],
            }
        })
        .collect();
    ports.sort_by(|a, b| {
        (a.container_port, &a.protocol, &a.host_ip).cmp(&(
            b.container_port,
            &b.protocol,
            &b.host_ip,
        ))
    });
    let mut networks: Vec<NetworkAttachment> = net
        .networks
        .unwrap_or_default()
        .into_iter()
        .map(|(name, e)| {
            let mut aliases: Vec<String> = e.aliases.unwrap_or_default();
            aliases.extend(e.dns_names.unwrap_or_default());
            aliases.sort();
            aliases.dedup();
            NetworkAttachment {
                name,
                network_id: e.network_id.filter(|s| !s.is_empty()),
                ip_address: e.ip_address.filter(|s| !s.is_empty()),
                ipv6_address: e.global_ipv6_address.filter(|s| !s.is_empty()),
                gateway: e.gateway.filter(|s| !s.is_empty()),
                aliases,
            }
        })
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    // Docker keeps the last health status of a stopped container; only a running
    // (or paused/restarting) container has a current health.
    let state_enum =
        ContainerState::from_docker(&state.status.map(|s| s.to_string()).unwrap_or_default());
    let summary = ContainerSummary {
        id,
        name,
        image: config.image.clone().unwrap_or_default(),
        state: state_enum,
        status: String::new(),
        health: match state_enum {
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting => health
                .and_then(|h| h.status)
                .map(|s| HealthStatus::from_docker(s.as_ref()))
                .unwrap_or(HealthStatus::None),
            _ => HealthStatus::None,
        },
        failing_streak: health
            .and_then(|h| h.failing_streak)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        created: c.created,
        started_at: docker_time(state.started_at.as_deref()),
        finished_at: docker_time(state.finished_at.as_deref()),
        exit_code: state.exit_code,
        restart_count: c
            .restart_count
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        ports,
        networks,
        healthcheck,
        compose_project: labels.get("com.docker.compose.project").cloned(),
        compose_service: labels.get("com.docker.compose.service").cloned(),
    };
    Some(ContainerDetail {
        summary,
        command: config.cmd.unwrap_or_default(),
        entrypoint: config.entrypoint.unwrap_or_default(),
        labels,
        restart_policy: c
            .host_config
            .as_ref()
            .and_then(|h| h.restart_policy.as_ref())
            .and_then(|r| r.name.map(|n| n.to_string()))
            .filter(|n| !n.is_empty()),
        health_stats: HealthStats::default(),
        findings: Vec::new(),
    })
}

/// Turns Docker's health log into probes. Docker does not record the status each
/// probe led to; we replay its rule (a pass makes it healthy, `retries`
/// consecutive failures outside the start period make it unhealthy) and take the
/// newest entry's status from Docker itself.
fn convert_health_log(detail: &ContainerDetail, log: &[HealthcheckResult]) -> Vec<HealthProbe> {
    let s = &detail.summary;
    let cfg = s.healthcheck.as_ref();
    let retries = cfg.map_or(3, |c| c.retries);
    let start_period = chrono::Duration::milliseconds(
        cfg.map_or(0, |c| i64::try_from(c.start_period_ms).unwrap_or(0)),
    );
    let mut streak = 0u64;
    let mut status = HealthStatus::Starting;
    let mut probes: Vec<HealthProbe> = log
        .iter()
        .filter_map(|r| {
            let start = r.start?;
            let end = r.end.unwrap_or(start);
            let exit_code = r.exit_code.unwrap_or(-1);
            if exit_code == 0 {
                streak = 0;
                status = HealthStatus::Healthy;
            } else {
                let in_start_period = s.started_at.is_some_and(|st| start < st + start_period);
                if !in_start_period {
                    streak += 1;
                    if streak >= retries {
                        status = HealthStatus::Unhealthy;
                    }
                }
            }
            Some(HealthProbe {
                start,
                end,
                duration_ms: u64::try_from((end - start).num_milliseconds()).unwrap_or(0),
                exit_code,
                output: truncate_utf8(r.output.as_deref().unwrap_or(""), MAX_OUTPUT_BYTES)
                    .to_owned(),
                status,
            })
        })
        .collect();
    probes.sort_by_key(|p| p.start);
    if let Some(last) = probes.last_mut() {
        if s.health != HealthStatus::None {
            last.status = s.health;
        }
    }
    probes
}

/// Plain words for why Docker cannot be reached.
fn describe(e: &bollard::errors::Error, endpoint: &str) -> String {
    use bollard::errors::Error as E;
    match e {
        E::RequestTimeoutError => format!(
            "{endpoint} did not answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ),
        E::SocketNotFoundError(path) => {
            format!("socket {path} does not exist (is dockerd running?)")
        }
        E::HyperResponseError { .. } | E::IOError { .. } => {
            format!("cannot connect to {endpoint}: {e} (is dockerd running, and may this user read the socket?)")
        }
        other => format!("{endpoint}: {other}"),
    }
}

/// True for errors that mean the daemon is gone or unreachable (as opposed to
/// an error about one object).
fn is_connection_error(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        e,
        E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_)
            | E::HttpClientError { .. }
    )
}

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

    async fn connect(&self) -> Result<Docker, String> {
        let docker = Docker::connect_with_host(&self.endpoint)
            .map_err(|e| describe(&e, &self.endpoint))?
            .with_timeout(REQUEST_TIMEOUT);
        // Debian's engine speaks API 1.41; bollard defaults to a newer one.
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| describe(&e, &self.endpoint))?;
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
        // resync below: `since` makes Docker replay what happened in between.
        let since = (Utc::now() - chrono::Duration::seconds(1))
            .timestamp()
            .to_string();
        let mut events = docker.events(Some(EventsOptions {
            filters: Some(filters),
            since: Some(since),
            ..Default::default()
        }));
        if let Err(e) = self.resync_all(&docker).await {
            return SessionEnd::Lost(describe(&e, &self.endpoint));
        }
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
                        Some(Ok(ev)) => self.on_event(ev, &mut dirty, &mut networks_dirty),
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
        let infos: Vec<NetworkInfo> = nets
            .into_iter()
            .filter_map(|n| {
                Some(NetworkInfo {
                    id: n.id?,
                    name: n.name?,
                    driver: n.driver.unwrap_or_default(),
                    scope: n.scope.unwrap_or_default(),
                    internal: n.internal.unwrap_or(false),
                    subnets: n
                        .ipam
                        .and_then(|i| i.config)
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|c| c.subnet)
                        .collect(),
                })
            })
            .collect();
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

    /// Inspects one container, updates the inventory and records new probe results.
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
        let log = inspect
            .state
            .as_ref()
            .and_then(|s| s.health.as_ref())
            .and_then(|h| h.log.clone())
            .unwrap_or_default();
        let probes = convert_health_log(&detail, &log);
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
        match self
            .store
            .insert_probes(id.clone(), name.clone(), probes)
            .await
        {
            Ok(new) => {
                for probe in new {
                    self.handle.publish(AgentEvent::HealthProbe {
                        container_id: id.clone(),
                        container_name: name.clone(),
                        probe,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_never_time_is_none() {
        assert_eq!(docker_time(Some("0001-01-01T00:00:00Z")), None);
        assert!(docker_time(Some("2026-11-22T10:00:00.123456789Z")).is_some());
        assert_eq!(docker_time(None), None);
    }

    /// Shape of `docker inspect` from Docker 20.10 (API 1.41), trimmed.
    const INSPECT: &str = r#"{
        "Id": "4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d1234",
        "Created": "2026-11-22T10:00:00.000000000Z",
        "Name": "/inference",
        "RestartCount": 2,
        "State": {"Status": "running", "Running": true, "ExitCode": 0,
            "StartedAt": "2026-11-22T10:00:01.000000000Z", "FinishedAt": "0001-01-01T00:00:00Z",
            "Health": {"Status": "healthy", "FailingStreak": 0, "Log": [
                {"Start": "2026-11-22T10:00:03.000000000Z", "End": "2026-11-22T10:00:06.000000000Z", "ExitCode": -1, "Output": "Health check exceeded timeout (3s)"},
                {"Start": "2026-11-22T10:00:08.000000000Z", "End": "2026-11-22T10:00:08.050000000Z", "ExitCode": 0, "Output": "ok"}
            ]}},
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
        "Config": {"Image": "vantage-test/busybox", "Cmd": ["sh", "-c", "sleep 1d"],
            "Labels": {"com.docker.compose.project": "ai", "com.docker.compose.service": "inference"},
            "Healthcheck": {"Test": ["CMD-SHELL", "wget -q -O- http://localhost:8000/health"], "Interval": 2000000000, "Timeout": 3000000000, "Retries": 3}},
        "NetworkSettings": {
            "Ports": {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18000"}], "9000/tcp": null},
            "Networks": {"ai_default": {"NetworkID": "net1", "IPAddress": "172.20.0.2", "Gateway": "172.20.0.1", "Aliases": ["inference", "4f2a9c0e7b1d"], "GlobalIPv6Address": ""}}
        }
    }"#;

    #[test]
    fn converts_inspect_output() {
        let raw: ContainerInspectResponse = serde_json::from_str(INSPECT).unwrap();
        let d = convert_inspect(&raw).unwrap();
        let s = &d.summary;
        assert_eq!(s.name, "inference");
        assert_eq!(s.state, ContainerState::Running);
        assert_eq!(s.health, HealthStatus::Healthy);
        assert_eq!(s.restart_count, 2);
        assert_eq!(s.finished_at, None);
        assert_eq!(s.compose_service.as_deref(), Some("inference"));
        assert_eq!(d.restart_policy.as_deref(), Some("unless-stopped"));
        let hc = s.healthcheck.as_ref().unwrap();
        assert_eq!(
            (
                hc.interval_ms,
                hc.timeout_ms,
                hc.start_period_ms,
                hc.retries
            ),
            (2000, 3000, 0, 3)
        );
        assert_eq!(s.ports.len(), 2);
        assert_eq!(s.ports[0].to_string(), "127.0.0.1:18000→8000/tcp");
        assert_eq!(s.ports[1].host_port, None);
        assert_eq!(s.networks[0].name, "ai_default");
        assert_eq!(s.networks[0].ip_address.as_deref(), Some("172.20.0.2"));
        assert_eq!(s.networks[0].ipv6_address, None);

        let log = raw.state.unwrap().health.unwrap().log.unwrap();
        let probes = convert_health_log(&d, &log);
        assert_eq!(probes.len(), 2);
        assert_eq!(probes[0].exit_code, -1);
        assert_eq!(probes[0].duration_ms, 3000);
        assert_eq!(
            probes[0].status,
            HealthStatus::Starting,
            "one failure < 3 retries"
        );
        assert_eq!(probes[1].status, HealthStatus::Healthy);
        assert_eq!(probes[1].duration_ms, 50);
    }

    #[test]
    fn status_text_reads_like_docker_ps() {
        let raw: ContainerInspectResponse = serde_json::from_str(INSPECT).unwrap();
        let d = convert_inspect(&raw).unwrap();
        let now = d.summary.started_at.unwrap() + chrono::Duration::seconds(185);
        assert_eq!(
            with_status_text(d.summary, now).status,
            "Up 3 min 5 s (healthy)"
        );
    }
}
