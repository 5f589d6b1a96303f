//! GCP VPC firewall rules from `gcloud compute firewall-rules list --format=json`.
//!
//! The list covers every network of the project, so rules are grouped into one
//! [`RuleSet`] per network. Within a network, lower `priority` wins, a deny beats an allow
//! at equal priority, and two implied rules close the list at priority 65535: deny all
//! ingress, allow all egress. They are added as `implicit` rules so verdicts can name them.
//! `disabled` rules are kept (the dashboard shows them) but never match.

use serde::Deserialize;

use super::error::RulesError;
use super::locate::{path_string, Seg};
use super::model::{
    short_id, Action, Cidr, Direction, Peer, PortMatch, PortRange, Protocol, Rule, RuleSet,
    RuleSetKind,
};
use super::{parse_expecting, Format, Layout};

const COMMAND: &str = "gcloud compute firewall-rules list --format=json";

/// The priority of the implied rules (lowest precedence).
pub const IMPLIED_PRIORITY: u32 = 65535;
/// gcloud's default priority for a new rule.
pub const DEFAULT_PRIORITY: u32 = 1000;

/// Parses `gcloud compute firewall-rules list --format=json` output (also one rule from
/// `describe`, or the REST API's `{"items": […]}`): one [`RuleSet`] per network.
pub fn parse_firewall_rules(text: &str, name_hint: &str) -> Result<Vec<RuleSet>, RulesError> {
    parse_expecting(text, Format::GcpFirewallRules, name_hint)
}

#[derive(Deserialize)]
struct FirewallList {
    items: Vec<Firewall>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Firewall {
    name: String,
    // A uint64 written as a string by the API; accept a number too.
    id: Option<serde_json::Value>,
    network: Option<String>,
    priority: Option<i64>,
    direction: Option<String>,
    source_ranges: Option<Vec<String>>,
    destination_ranges: Option<Vec<String>>,
    source_tags: Option<Vec<String>>,
    source_service_accounts: Option<Vec<String>>,
    target_tags: Option<Vec<String>>,
    target_service_accounts: Option<Vec<String>>,
    allowed: Option<Vec<ProtoPorts>>,
    denied: Option<Vec<ProtoPorts>>,
    disabled: Option<bool>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct ProtoPorts {
    #[serde(rename = "IPProtocol")]
    ip_protocol: String,
    ports: Option<Vec<String>>,
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "all" => Ok(Protocol::All),
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "icmp" => Ok(Protocol::Icmp),
        "esp" => Ok(Protocol::Number(50)),
        "ah" => Ok(Protocol::Number(51)),
        "sctp" => Ok(Protocol::Number(132)),
        "ipip" => Ok(Protocol::Number(4)),
        n => n.parse::<u8>().map(Protocol::from_number).map_err(|_| {
            format!(
                "unknown IPProtocol \"{t}\" (expected tcp, udp, icmp, esp, ah, sctp, ipip, all \
                 or a protocol number)"
            )
        }),
    }
}

/// `"80"` or `"8000-8100"`.
pub(crate) fn parse_port_range(s: &str) -> Result<PortRange, String> {
    let t = s.trim();
    let bad = || format!("\"{t}\" is not a port or port range (e.g. \"443\" or \"8000-8100\")");
    let (a, b) = t.split_once('-').unwrap_or((t, t));
    let from: u16 = a.trim().parse().map_err(|_| bad())?;
    let to: u16 = b.trim().parse().map_err(|_| bad())?;
    if to < from {
        return Err(format!("port range \"{t}\" ends before it starts"));
    }
    Ok(PortRange::new(from, to))
}

fn cidrs(
    text: &str,
    path: &[Seg],
    key: &str,
    list: &Option<Vec<String>>,
) -> Result<Vec<Peer>, RulesError> {
    list.iter()
        .flatten()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<Cidr>().map(Peer::cidr).map_err(|m| {
                let mut p = path.to_vec();
                p.extend([Seg::key(key), Seg::Idx(i)]);
                RulesError::at(text, &p, format!("\"{s}\" is not a CIDR: {m}"))
            })
        })
        .collect()
}

fn everything() -> Vec<Peer> {
    vec![
        Peer::cidr(Cidr {
            addr: std::net::Ipv4Addr::UNSPECIFIED.into(),
            prefix: 0,
        }),
        Peer::cidr(Cidr {
            addr: std::net::Ipv6Addr::UNSPECIFIED.into(),
            prefix: 0,
        }),
    ]
}

/// The rules one firewall resource expands to: one per protocol entry of `allowed` or
/// `denied`, sharing name, priority, sources and targets.
fn expand_firewall(text: &str, f: &Firewall, path: &[Seg]) -> Result<Vec<Rule>, RulesError> {
    let shared = Shared::read(text, f, path)?;
    let mut out = Vec::new();
    for (action, key, list) in [
        (Action::Allow, "allowed", &f.allowed),
        (Action::Deny, "denied", &f.denied),
    ] {
        for (i, pp) in list.iter().flatten().enumerate() {
            let mut epath = path.to_vec();
            epath.extend([Seg::key(key), Seg::Idx(i)]);
            out.push(entry_rule(text, f, &shared, action, pp, &epath)?);
        }
    }
    if out.is_empty() {
        return Err(RulesError::at(
            text,
            path,
            format!(
                "firewall rule \"{}\" has neither \"allowed\" nor \"denied\" entries",
                f.name
            ),
        ));
    }
    Ok(out)
}

/// What every rule of one firewall resource shares.
struct Shared {
    direction: Direction,
    priority: u32,
    peers: Vec<Peer>,
    local: Vec<Peer>,
    applies_to: Vec<Peer>,
    id: Option<String>,
}

impl Shared {
    fn read(text: &str, f: &Firewall, path: &[Seg]) -> Result<Self, RulesError> {
        let direction = firewall_direction(text, f, path)?;
        let priority = firewall_priority(text, f, path)?;
        let (peers, local) = firewall_sides(text, f, path, direction)?;
        let applies_to: Vec<Peer> = f
            .target_tags
            .iter()
            .flatten()
            .map(|t| Peer::GcpTag { tag: t.clone() })
            .chain(
                f.target_service_accounts
                    .iter()
                    .flatten()
                    .map(|a| Peer::GcpServiceAccount { account: a.clone() }),
            )
            .collect();
        let id = f.id.as_ref().map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        Ok(Self {
            direction,
            priority,
            peers,
            local,
            applies_to,
            id,
        })
    }
}

fn field_path(path: &[Seg], field: &str) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg::key(field));
    p
}

fn firewall_direction(text: &str, f: &Firewall, path: &[Seg]) -> Result<Direction, RulesError> {
    match f
        .direction
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("INGRESS") => Ok(Direction::Inbound),
        Some("EGRESS") => Ok(Direction::Outbound),
        Some(_) => {
            let other = f.direction.as_deref().unwrap_or_default();
            Err(RulesError::at(
                text,
                &field_path(path, "direction"),
                format!("direction \"{other}\" is neither \"INGRESS\" nor \"EGRESS\""),
            ))
        }
    }
}

fn firewall_priority(text: &str, f: &Firewall, path: &[Seg]) -> Result<u32, RulesError> {
    match f.priority {
        None => Ok(DEFAULT_PRIORITY),
        Some(p) => u32::try_from(p)
            .ok()
            .filter(|p| *p <= IMPLIED_PRIORITY)
            .ok_or_else(|| {
                RulesError::at(
                    text,
                    &field_path(path, "priority"),
                    format!("priority {p} is outside 0-65535"),
                )
            }),
    }
}

/// (peers, local side): which ranges are the peer's depends on the direction.
fn firewall_sides(
    text: &str,
    f: &Firewall,
    path: &[Seg],
    direction: Direction,
) -> Result<(Vec<Peer>, Vec<Peer>), RulesError> {
    let (mut peers, local) = match direction {
        Direction::Inbound => {
            let mut peers = cidrs(text, path, "sourceRanges", &f.source_ranges)?;
            peers.extend(
                f.source_tags
                    .iter()
                    .flatten()
                    .map(|t| Peer::GcpTag { tag: t.clone() }),
            );
            peers.extend(
                f.source_service_accounts
                    .iter()
                    .flatten()
                    .map(|a| Peer::GcpServiceAccount { account: a.clone() }),
            );
            let local = cidrs(text, path, "destinationRanges", &f.destination_ranges)?;
            (peers, local)
        }
        Direction::Outbound => {
            let peers = cidrs(text, path, "destinationRanges", &f.destination_ranges)?;
            let local = cidrs(text, path, "sourceRanges", &f.source_ranges)?;
            (peers, local)
        }
    };
    // gcloud fills in 0.0.0.0/0 when a rule is created with no source (or destination);
    // read a rule without one the same way.
    if peers.is_empty() {
        peers = vec![Peer::cidr(Cidr {
            addr: std::net::Ipv4Addr::UNSPECIFIED.into(),
            prefix: 0,
        })];
    }
    Ok((peers, local))
}

/// The rule for one `allowed` or `denied` entry at `epath`.
fn entry_rule(
    text: &str,
    f: &Firewall,
    shared: &Shared,
    action: Action,
    pp: &ProtoPorts,
    epath: &[Seg],
) -> Result<Rule, RulesError> {
    let protocol = parse_protocol(&pp.ip_protocol).map_err(|m| {
        let mut p = epath.to_vec();
        p.push(Seg::key("IPProtocol"));
        RulesError::at(text, &p, m)
    })?;
    let ports = if protocol.has_ports() || protocol == Protocol::Number(132) {
        let ranges = pp
            .ports
            .iter()
            .flatten()
            .enumerate()
            .map(|(k, s)| {
                parse_port_range(s).map_err(|m| {
                    let mut p = epath.to_vec();
                    p.extend([Seg::key("ports"), Seg::Idx(k)]);
                    RulesError::at(text, &p, m)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        PortMatch::ports(ranges)
    } else if protocol.is_icmp() {
        PortMatch::Icmp {
            icmp_type: None,
            code: None,
        }
    } else {
        PortMatch::Any
    };
    let mut r = Rule::new(
        f.name.clone(),
        shared.direction,
        action,
        protocol,
        ports,
        shared.peers.clone(),
    );
    r.id = shared.id.clone();
    r.priority = Some(shared.priority);
    r.local = shared.local.clone();
    r.applies_to = shared.applies_to.clone();
    r.disabled = f.disabled.unwrap_or(false);
    r.description = f.description.clone().filter(|d| !d.is_empty());
    r.path = path_string(epath);
    Ok(r)
}

fn implied(direction: Direction) -> Rule {
    let (label, action) = match direction {
        Direction::Inbound => ("implied-deny-ingress", Action::Deny),
        Direction::Outbound => ("implied-allow-egress", Action::Allow),
    };
    let mut r = Rule::new(
        label,
        direction,
        action,
        Protocol::All,
        PortMatch::Any,
        everything(),
    );
    r.priority = Some(IMPLIED_PRIORITY);
    r.implicit = true;
    r
}

pub(crate) fn firewall_rules(
    text: &str,
    layout: Layout,
    origin: &str,
) -> Result<Vec<RuleSet>, RulesError> {
    let de = |e: serde_json::Error| RulesError::from_serde(text, &e, COMMAND);
    let firewalls = match layout {
        Layout::Wrapped => {
            serde_json::from_str::<FirewallList>(text)
                .map_err(de)?
                .items
        }
        Layout::List | Layout::RuleList => {
            serde_json::from_str::<Vec<Firewall>>(text).map_err(de)?
        }
        Layout::Single => vec![serde_json::from_str::<Firewall>(text).map_err(de)?],
    };
    let mut sets: Vec<RuleSet> = Vec::new();
    for (fi, f) in firewalls.iter().enumerate() {
        let path = match layout {
            Layout::Wrapped => vec![Seg::key("items"), Seg::Idx(fi)],
            Layout::List | Layout::RuleList => vec![Seg::Idx(fi)],
            Layout::Single => Vec::new(),
        };
        let rules = expand_firewall(text, f, &path)?;
        let network = f.network.clone().unwrap_or_else(|| "default".to_owned());
        let short = short_id(&network).to_owned();
        let i = match sets.iter().position(|s| s.id == short) {
            Some(i) => i,
            None => {
                let mut s = RuleSet::new(RuleSetKind::GcpFirewall, short.clone(), short, origin);
                s.network = Some(network);
                sets.push(s);
                sets.len() - 1
            }
        };
        sets[i].rules.extend(rules);
    }
    Ok(sets
        .into_iter()
        .map(|mut s| {
            s.rules.push(implied(Direction::Inbound));
            s.rules.push(implied(Direction::Outbound));
            // Evaluation order: direction, priority, deny before allow (deny wins ties),
            // then the input order (stable sort).
            s.rules.sort_by_key(|r| {
                (
                    r.direction == Direction::Outbound,
                    r.priority,
                    r.action == Action::Allow,
                )
            });
            s.finish()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = r#"[
  {"kind": "compute#firewall", "id": "111", "name": "allow-https-office", "network": "https://www.googleapis.com/compute/v1/projects/shop/global/networks/prod",
   "direction": "INGRESS", "priority": 1000, "sourceRanges": ["198.51.100.0/24"],
   "allowed": [{"IPProtocol": "tcp", "ports": ["443", "8000-8100"]}], "targetTags": ["api"], "disabled": false},
  {"kind": "compute#firewall", "id": "112", "name": "deny-bad", "network": "https://www.googleapis.com/compute/v1/projects/shop/global/networks/prod",
   "direction": "INGRESS", "priority": 1000, "sourceRanges": ["198.51.100.66/32"],
   "denied": [{"IPProtocol": "all"}]},
  {"kind": "compute#firewall", "id": "113", "name": "allow-ssh", "network": "https://www.googleapis.com/compute/v1/projects/shop/global/networks/default",
   "direction": "INGRESS", "priority": 65534, "sourceRanges": ["0.0.0.0/0"],
   "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}, {"IPProtocol": "icmp"}]}
]"#;

    #[test]
    fn rules_group_by_network_sorted_with_implied_rules() {
        let sets = parse_firewall_rules(LIST, "fw.json").expect("parses");
        assert_eq!(sets.len(), 2);
        let prod = &sets[0];
        assert_eq!(prod.id, "prod");
        let lines: Vec<String> = prod.rules.iter().map(|r| r.one_line(prod.kind)).collect();
        assert_eq!(
            lines,
            [
                "deny-bad (priority 1000): deny all traffic from 198.51.100.66/32",
                "allow-https-office (priority 1000): allow tcp/443,8000-8100 from 198.51.100.0/24 on tag api",
                "implied-deny-ingress (priority 65535): deny all traffic from 0.0.0.0/0, ::/0 [default]",
                "implied-allow-egress (priority 65535): allow all traffic to 0.0.0.0/0, ::/0 [default]",
            ]
        );
        let default = &sets[1];
        assert_eq!(default.rules.len(), 4);
        assert_eq!(default.rules[1].path, "[2].allowed[1]");
    }

    #[test]
    fn bad_port_is_located() {
        let bad = LIST.replace("\"8000-8100\"", "\"8100-8000\"");
        let e = parse_firewall_rules(&bad, "x").expect_err("range");
        assert_eq!(e.path, "[0].allowed[0].ports[1]");
        assert_eq!(e.line, Some(4));
        let bad = LIST.replace(
            "\"direction\": \"INGRESS\", \"priority\": 65534",
            "\"direction\": \"IN\", \"priority\": 65534",
        );
        let e = parse_firewall_rules(&bad, "x").expect_err("direction");
        assert_eq!(e.path, "[2].direction");
    }

    #[test]
    fn rest_items_form_is_accepted() {
        let rest = format!("{{\"kind\": \"compute#firewallList\", \"items\": {LIST}}}");
        let sets = parse_firewall_rules(&rest, "x").expect("rest");
        assert_eq!(sets[0].rules[0].path, "items[1].denied[0]");
    }
}
