//! Envoy's admin `/clusters`: the text form (`cluster::host::stat::value` lines, one of
//! them `health_flags`) and the JSON form (`?format=json`, `cluster_statuses`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ProxyServer, ServerState};

/// Parses either form.
pub fn parse_envoy_clusters(text: &str) -> Result<Vec<ProxyServer>, String> {
    if text.trim_start().starts_with('{') {
        json(text)
    } else {
        plain(text)
    }
}

/// One host's health from its flags; `None` when healthy.
fn judge(flags: &[&str]) -> (ServerState, Option<String>) {
    let has = |f: &str| flags.contains(&f);
    let mut why = Vec::new();
    if has("failed_active_hc") {
        why.push(if has("active_hc_timeout") {
            "failed its active health check (timeout)"
        } else {
            "failed its active health check"
        });
    }
    if has("failed_outlier_check") {
        why.push("ejected by outlier detection");
    }
    if has("failed_eds_health") {
        why.push("marked unhealthy by EDS (the control plane)");
    }
    if has("excluded_via_immediate_hc_fail") {
        why.push("excluded after an immediate health-check failure");
    }
    if has("pending_dynamic_removal") {
        why.push("being removed from the cluster");
    }
    if why.is_empty() {
        (ServerState::Up, None)
    } else {
        (ServerState::Down, Some(why.join("; ")))
    }
}

/// `service::10.0.0.100:18443::health_flags::/failed_active_hc/failed_outlier_check`.
fn plain(text: &str) -> Result<Vec<ProxyServer>, String> {
    let mut hosts: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut any = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // An IPv6 host (`[::1]:8080`) holds `::` itself: take the value and the stat from
        // the end, the cluster from the start, and the host is what is left.
        if !line.contains("::") {
            return Err(format!(
                "not Envoy's /clusters output: `{}` is not `cluster::…::value`",
                line.chars().take(80).collect::<String>()
            ));
        };
        any = true;
        let mut from_end = line.rsplitn(3, "::");
        let (Some(value), Some(stat), Some(rest)) =
            (from_end.next(), from_end.next(), from_end.next())
        else {
            // `version_info::static`.
            continue;
        };
        if let ("health_flags", Some((cluster, host))) = (stat, rest.split_once("::")) {
            hosts.insert((cluster.to_owned(), host.to_owned()), value.to_owned());
        }
    }
    if !any {
        return Err("Envoy's /clusters output is empty".into());
    }
    Ok(hosts
        .into_iter()
        .map(|((cluster, host), flags)| {
            let list: Vec<&str> = flags
                .split('/')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect();
            let (state, reason) = judge(&list);
            ProxyServer {
                backend: cluster,
                name: host.clone(),
                address: Some(host),
                state,
                reason,
            }
        })
        .collect())
}

#[derive(Deserialize)]
struct Clusters {
    #[serde(default)]
    cluster_statuses: Vec<Cluster>,
}

#[derive(Deserialize)]
struct Cluster {
    name: String,
    #[serde(default)]
    host_statuses: Vec<Host>,
}

#[derive(Deserialize)]
struct Host {
    #[serde(default)]
    address: Option<Address>,
    #[serde(default)]
    health_status: Health,
}

#[derive(Deserialize)]
struct Address {
    socket_address: Option<SocketAddress>,
}

#[derive(Deserialize)]
struct SocketAddress {
    address: String,
    #[serde(default)]
    port_value: u32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Health {
    failed_active_health_check: bool,
    failed_outlier_check: bool,
    eds_health_status: Option<String>,
    pending_dynamic_removal: bool,
    excluded_via_immediate_hc_fail: bool,
    active_hc_timeout: bool,
}

fn json(text: &str) -> Result<Vec<ProxyServer>, String> {
    let c: Clusters = serde_json::from_str(text)
        .map_err(|e| format!("Envoy's /clusters JSON is not readable: {e}"))?;
    let mut out = Vec::new();
    for cluster in c.cluster_statuses {
        for h in cluster.host_statuses {
            let hs = &h.health_status;
            let mut flags = Vec::new();
            for (on, flag) in [
                (hs.failed_active_health_check, "failed_active_hc"),
                (hs.active_hc_timeout, "active_hc_timeout"),
                (hs.failed_outlier_check, "failed_outlier_check"),
                (
                    matches!(
                        hs.eds_health_status.as_deref(),
                        Some("UNHEALTHY" | "TIMEOUT")
                    ),
                    "failed_eds_health",
                ),
                (
                    hs.excluded_via_immediate_hc_fail,
                    "excluded_via_immediate_hc_fail",
                ),
                (hs.pending_dynamic_removal, "pending_dynamic_removal"),
            ] {
                if on {
                    flags.push(flag);
                }
            }
            let (state, reason) = judge(&flags);
            let address = h.address.and_then(|a| a.socket_address).map(|s| {
                if s.address.contains(':') {
                    format!("[{}]:{}", s.address, s.port_value)
                } else {
                    format!("{}:{}", s.address, s.port_value)
                }
            });
            out.push(ProxyServer {
                backend: cluster.name.clone(),
                name: address.clone().unwrap_or_default(),
                address,
                state,
                reason,
            });
        }
    }
    Ok(out)
}
