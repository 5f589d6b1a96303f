//! Container-to-container connectivity (docs/incidents.md, "Two containers that cannot
//! talk"): do two containers share a network on which one can find the other by name?

use serde::{Deserialize, Serialize};

use super::{Finding, FindingCode, Severity};
use crate::api::{ContainerState, ContainerSummary, PREDEFINED_NETWORKS};

/// How container `from` can (or cannot) reach container `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// Both names refer to the same container.
    SameContainer,
    /// They share at least one user-defined network: Docker's DNS resolves names there.
    SharedNetwork { networks: Vec<String> },
    /// They share only the default `bridge`: reachable by IP, names do not resolve.
    DefaultBridgeOnly { ip: Option<String> },
    /// One or both use the host's network stack.
    HostNetwork { containers: Vec<String> },
    /// A container that is not running: nothing answers there, whatever the networks.
    NotRunning { container: String },
    /// A container with no network at all (`--network none`).
    NoNetwork { container: String },
    /// No network in common: Docker isolates bridge networks from each other.
    NoSharedNetwork {
        from_networks: Vec<String>,
        to_networks: Vec<String>,
    },
}

fn user_defined(name: &str) -> bool {
    !PREDEFINED_NETWORKS.contains(&name)
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn network_names(c: &ContainerSummary) -> Vec<String> {
    let mut v: Vec<String> = c
        .networks
        .iter()
        .map(|n| n.name.clone())
        .filter(|n| n != "none")
        .collect();
    v.sort();
    v
}

/// The port to show in "http://name:port" examples: the first exposed one.
fn example_port(c: &ContainerSummary) -> String {
    c.ports
        .first()
        .map(|p| format!(":{}", p.container_port))
        .unwrap_or_default()
}

/// A verdict and the finding that explains it.
type Outcome = (Verdict, Finding);

/// Decides whether `from` can reach `to`, and explains it.
///
/// The checks run from the most basic (same container, not running, no network) to the
/// most specific; the first that applies decides.
pub fn check(from: &ContainerSummary, to: &ContainerSummary) -> (Verdict, Finding) {
    if from.id == to.id {
        return same_container(from);
    }
    if let Some(o) = not_running(from, to) {
        return o;
    }
    let from_nets = network_names(from);
    let to_nets = network_names(to);
    if let Some(o) = without_network(from, &from_nets, to, &to_nets) {
        return o;
    }
    if let Some(o) = host_network(from, &from_nets, to, &to_nets) {
        return o;
    }
    let shared: Vec<String> = from_nets
        .iter()
        .filter(|n| to_nets.contains(n))
        .cloned()
        .collect();
    let shared_user: Vec<String> = shared.iter().filter(|n| user_defined(n)).cloned().collect();
    if !shared_user.is_empty() {
        return shared_network(from, to, shared_user);
    }
    if !shared.is_empty() {
        return default_bridge_only(from, to);
    }
    no_shared_network(from, from_nets, to, to_nets)
}

fn same_container(from: &ContainerSummary) -> Outcome {
    let f = Finding::new(
        FindingCode::SameContainer,
        Severity::Info,
        format!("`{}` is the same container", from.name),
        "Pick two different containers.",
    );
    (Verdict::SameContainer, f)
}

/// Docker keeps a stopped container's network attachments (with no IP), so
/// the networks alone would wrongly say "reachable".
fn not_running(from: &ContainerSummary, to: &ContainerSummary) -> Option<Outcome> {
    let c = [from, to]
        .into_iter()
        .find(|c| c.state != ContainerState::Running)?;
    let f = Finding::new(
        FindingCode::ContainerNotRunning,
        Severity::Critical,
        format!("`{}` is not running ({})", c.name, c.state),
        format!(
            "A stopped container neither answers nor calls anyone; its network settings are kept but unused. Start `{}` first, then check again.",
            c.name
        ),
    );
    Some((
        Verdict::NotRunning {
            container: c.name.clone(),
        },
        f,
    ))
}

/// A container with no network attachment (`--network none`).
fn without_network(
    from: &ContainerSummary,
    from_nets: &[String],
    to: &ContainerSummary,
    to_nets: &[String],
) -> Option<Outcome> {
    let (c, _) = [(from, from_nets), (to, to_nets)]
        .into_iter()
        .find(|(_, nets)| nets.is_empty())?;
    let f = Finding::new(
        FindingCode::ContainerWithoutNetwork,
        Severity::Critical,
        format!("`{}` is on no network", c.name),
        format!("`{}` has no network attachment (it runs with `--network none`), so it can neither reach nor be reached.", c.name),
    );
    Some((
        Verdict::NoNetwork {
            container: c.name.clone(),
        },
        f,
    ))
}

/// One or both on the host's network stack: no Docker DNS name, only published ports.
fn host_network(
    from: &ContainerSummary,
    from_nets: &[String],
    to: &ContainerSummary,
    to_nets: &[String],
) -> Option<Outcome> {
    let host: Vec<String> = [(from, from_nets), (to, to_nets)]
        .iter()
        .filter(|(_, nets)| nets.iter().any(|n| n == "host"))
        .map(|(c, _)| c.name.clone())
        .collect();
    if host.is_empty() {
        return None;
    }
    let f = Finding::new(
        FindingCode::HostNetwork,
        Severity::Info,
        format!("{} use{} the host's network stack", list(&host), if host.len() == 1 { "s" } else { "" }),
        format!(
            "A container on the host network has no Docker DNS name. `{}` reaches `{}` only through ports published on the host (e.g. http://localhost{} from the host network, or the bridge gateway IP from a bridge container).",
            from.name,
            to.name,
            example_port(to)
        ),
    );
    Some((Verdict::HostNetwork { containers: host }, f))
}

/// They share a user-defined network (`shared_user`, not empty): names resolve there.
fn shared_network(
    from: &ContainerSummary,
    to: &ContainerSummary,
    shared_user: Vec<String>,
) -> Outcome {
    let aliases: Vec<String> = to
        .networks
        .iter()
        .filter(|n| shared_user.contains(&n.name))
        .flat_map(|n| n.aliases.iter().cloned())
        .filter(|a| a != &to.name && !to.id.starts_with(a.as_str()))
        .collect();
    let alias_note = if aliases.is_empty() {
        String::new()
    } else {
        format!(" (also as {})", list(&aliases))
    };
    let f = Finding::new(
        FindingCode::SharedNetwork,
        Severity::Ok,
        format!("`{}` can reach `{}` by name on {}", from.name, to.name, list(&shared_user)),
        format!(
            "Both are on the user-defined network {}; Docker's embedded DNS resolves `{}`{alias_note}, e.g. http://{}{}.",
            list(&shared_user),
            to.name,
            to.name,
            example_port(to)
        ),
    );
    (
        Verdict::SharedNetwork {
            networks: shared_user,
        },
        f,
    )
}

/// They share only a predefined network, the default `bridge`: IP only, no names.
fn default_bridge_only(from: &ContainerSummary, to: &ContainerSummary) -> Outcome {
    let ip = to
        .networks
        .iter()
        .find(|n| n.name == "bridge")
        .and_then(|n| n.ip_address.clone());
    let f = Finding::new(
        FindingCode::DefaultBridgeOnly,
        Severity::Warning,
        format!("`{}` and `{}` share only the default `bridge` network: the name `{}` does not resolve there", from.name, to.name, to.name),
        format!(
            "On Docker's default bridge, containers reach each other only by IP ({}), which changes when the container is recreated. Names resolve only on user-defined networks.",
            ip.as_deref().unwrap_or("unknown")
        ),
    )
    .with_fix(
        "Put both on a user-defined network.",
        Some(format!(
            "docker network create shared-net\ndocker network connect shared-net {}\ndocker network connect shared-net {}",
            from.name, to.name
        )),
        Some("shell"),
    );
    (Verdict::DefaultBridgeOnly { ip }, f)
}

/// No network in common (`to_nets` is not empty): how to attach `from` to one of `to`'s.
fn no_shared_network(
    from: &ContainerSummary,
    from_nets: Vec<String>,
    to: &ContainerSummary,
    to_nets: Vec<String>,
) -> Outcome {
    let target_net = to_nets
        .iter()
        .find(|n| user_defined(n))
        .cloned()
        .unwrap_or_else(|| to_nets[0].clone());
    let from_service = from
        .compose_service
        .clone()
        .unwrap_or_else(|| from.name.clone());
    let snippet = format!(
        "# Either connect the running container:\ndocker network connect {target_net} {}\n\n# or, in the compose file of `{}`:\nservices:\n  {from_service}:\n    networks: [default, {target_net}]\nnetworks:\n  {target_net}:\n    external: true\n",
        from.name, from.name
    );
    let f = Finding::new(
        FindingCode::NoSharedNetwork,
        Severity::Critical,
        format!(
            "No shared network: `{}` is on {}, `{}` on {}",
            to.name,
            list(&to_nets),
            from.name,
            list(&from_nets)
        ),
        format!(
            "Docker isolates networks from each other: `{}` cannot resolve `{}` by name nor route to its IP. Apps in this situation often fall back to the public domain, going out through a CDN or proxy and back in, which adds latency and intermittent timeouts (ETIMEDOUT).",
            from.name, to.name
        ),
    )
    .with_fix(format!("Attach `{}` to `{target_net}` as well, then call it as http://{}{}.", from.name, to.name, example_port(to)), Some(snippet), Some("yaml"));
    (
        Verdict::NoSharedNetwork {
            from_networks: from_nets,
            to_networks: to_nets,
        },
        f,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HealthStatus, NetworkAttachment};

    fn container(id: &str, name: &str, nets: &[&str]) -> ContainerSummary {
        ContainerSummary {
            id: id.into(),
            name: name.into(),
            image: "img".into(),
            state: ContainerState::Running,
            status: "Up".into(),
            health: HealthStatus::None,
            failing_streak: 0,
            created: None,
            started_at: None,
            finished_at: None,
            exit_code: None,
            restart_count: 0,
            ports: vec![],
            networks: nets
                .iter()
                .enumerate()
                .map(|(i, n)| NetworkAttachment {
                    name: (*n).into(),
                    network_id: None,
                    ip_address: Some(format!("172.18.0.{}", i + 2)),
                    ipv6_address: None,
                    gateway: None,
                    aliases: vec![name.into()],
                })
                .collect(),
            healthcheck: None,
            compose_project: None,
            compose_service: None,
        }
    }

    #[test]
    fn different_projects_share_no_network() {
        let dash = container("a", "dashboard", &["proj-a_default"]);
        let api = container("b", "api", &["proj-b_default"]);
        let (v, f) = check(&dash, &api);
        assert_eq!(
            v,
            Verdict::NoSharedNetwork {
                from_networks: vec!["proj-a_default".into()],
                to_networks: vec!["proj-b_default".into()]
            }
        );
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(
            f.summary,
            "No shared network: `api` is on `proj-b_default`, `dashboard` on `proj-a_default`"
        );
        let snippet = f.fix.and_then(|x| x.snippet).expect("snippet");
        assert!(
            snippet.contains("docker network connect proj-b_default dashboard"),
            "{snippet}"
        );
    }

    #[test]
    fn shared_user_network_resolves_names() {
        let a = container("a", "web", &["bridge", "app"]);
        let b = container("b", "db", &["app"]);
        let (v, f) = check(&a, &b);
        assert_eq!(
            v,
            Verdict::SharedNetwork {
                networks: vec!["app".into()]
            }
        );
        assert_eq!(f.severity, Severity::Ok);
    }

    #[test]
    fn default_bridge_gives_no_names() {
        let (v, f) = check(
            &container("a", "x", &["bridge"]),
            &container("b", "y", &["bridge"]),
        );
        assert!(matches!(v, Verdict::DefaultBridgeOnly { ip: Some(_) }));
        assert_eq!(f.code, "default_bridge_only");
        assert!(f.fix.is_some());
    }

    #[test]
    fn stopped_containers_are_not_reachable_whatever_their_networks() {
        let mut api = container("b", "api", &["app"]);
        api.state = ContainerState::Exited;
        let (v, f) = check(&container("a", "web", &["app"]), &api);
        assert_eq!(
            v,
            Verdict::NotRunning {
                container: "api".into()
            }
        );
        assert_eq!(f.severity, Severity::Critical);
    }

    #[test]
    fn host_none_and_same() {
        let (v, _) = check(
            &container("a", "x", &["host"]),
            &container("b", "y", &["bridge"]),
        );
        assert_eq!(
            v,
            Verdict::HostNetwork {
                containers: vec!["x".into()]
            }
        );
        let (v, _) = check(
            &container("a", "x", &["none"]),
            &container("b", "y", &["bridge"]),
        );
        assert_eq!(
            v,
            Verdict::NoNetwork {
                container: "x".into()
            }
        );
        let (v, _) = check(
            &container("a", "x", &["bridge"]),
            &container("a", "x", &["bridge"]),
        );
        assert_eq!(v, Verdict::SameContainer);
    }
}
