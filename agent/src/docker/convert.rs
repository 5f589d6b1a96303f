//! Conversion of bollard's types (`docker inspect`, the health log, `docker network ls`)
//! into ours.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerInspectResponse, EndpointSettings, HealthcheckResult, Network, PortBinding,
};
use chrono::{DateTime, Utc};
use vantage_shared::{
    ContainerDetail, ContainerState, ContainerSummary, HealthStats, HealthStatus,
    HealthcheckConfig, HealthcheckRun, NetworkAttachment, PortMapping,
};

use super::NetworkInfo;
use crate::store::{truncate_utf8, MAX_OUTPUT_BYTES};

/// Docker writes `0001-01-01T00:00:00Z` for "never".
pub(super) fn docker_time(s: Option<&str>) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s?).ok()?.with_timezone(&Utc);
    (t.timestamp() > 0).then_some(t)
}

/// Converts `docker inspect` output to our type (without stats and findings).
pub(super) fn convert_inspect(c: &ContainerInspectResponse) -> Option<ContainerDetail> {
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
            let mut cfg = HealthcheckConfig::from_docker(
                test,
                h.interval.unwrap_or(0),
                h.timeout.unwrap_or(0),
                h.start_period.unwrap_or(0),
                h.retries.unwrap_or(0),
            );
            cfg.tools = super::image_tools::look(c);
            cfg
        })
    });
    let net = c.network_settings.clone().unwrap_or_default();
    let ports = convert_ports(net.ports.unwrap_or_default());
    let networks = convert_networks(net.networks.unwrap_or_default());
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

/// Published ports, one per binding (a port exposed but not published has no host side),
/// sorted by container port, protocol and host address.
fn convert_ports(ports: HashMap<String, Option<Vec<PortBinding>>>) -> Vec<PortMapping> {
    let mut ports: Vec<PortMapping> = ports
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
    ports
}

/// The networks a container is attached to, sorted by name; Docker's empty strings
/// (no IPv6, no gateway) become `None`.
fn convert_networks(networks: HashMap<String, EndpointSettings>) -> Vec<NetworkAttachment> {
    let mut networks: Vec<NetworkAttachment> = networks
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
    networks
}

/// Docker's health log (its last 5 runs) from `docker inspect`; empty without one.
pub(super) fn health_log(inspect: &ContainerInspectResponse) -> Vec<HealthcheckResult> {
    inspect
        .state
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .and_then(|h| h.log.clone())
        .unwrap_or_default()
}

/// Turns Docker's health log into runs. Docker does not record the status each
/// run led to; we replay its rule (a pass makes it healthy, `retries`
/// consecutive failures outside the start period make it unhealthy) and take the
/// newest entry's status from Docker itself.
pub(super) fn convert_health_log(
    detail: &ContainerDetail,
    log: &[HealthcheckResult],
) -> Vec<HealthcheckRun> {
    let s = &detail.summary;
    let cfg = s.healthcheck.as_ref();
    let retries = cfg.map_or(3, |c| c.retries);
    let start_period = chrono::Duration::milliseconds(
        cfg.map_or(0, |c| i64::try_from(c.start_period_ms).unwrap_or(0)),
    );
    let mut streak = 0u64;
    let mut status = HealthStatus::Starting;
    let mut runs: Vec<HealthcheckRun> = log
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
            Some(HealthcheckRun {
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
    runs.sort_by_key(|p| p.start);
    if let Some(last) = runs.last_mut() {
        if s.health != HealthStatus::None {
            last.status = s.health;
        }
    }
    runs
}

/// A network from `docker network ls`; `None` without an id or name.
pub(super) fn convert_network(n: Network) -> Option<NetworkInfo> {
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
}
