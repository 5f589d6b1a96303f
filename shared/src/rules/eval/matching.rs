//! Matching one rule against the traffic: protocol, ports or ICMP type, the remote
//! address (CIDRs, and the references a rule set cannot resolve by itself: prefix lists,
//! security groups, GCP tags and service accounts, Azure ASGs and service tags), the local
//! side and the instances they apply to. Each answer is yes, no (and why), or maybe (and what it depends on).

use std::net::IpAddr;

use super::{DestinationInfo, Question};
use crate::ownership::classify;
use crate::probe::AddressOwner;
use crate::rules::model::{
    peers_text, ranges_text, short_id, Direction, Peer, PortMatch, Protocol, Rule, RuleSet,
    RuleSetKind,
};

/// Azure's platform address behind the `AzureLoadBalancer` service tag (health probes).
const AZURE_PLATFORM_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(168, 63, 129, 16));

/// What kind of address the remote side is: it decides whether references can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceClass {
    /// Private, CGNAT, link-local or loopback: may belong to instances, VNets, ASGs.
    Internal,
    /// A public IPv4 address: never an instance's private address.
    PublicV4,
    /// A global IPv6 address: instances have these too, so references may match.
    PublicV6,
}

/// The traffic being matched: the question, or its reply for a stateless ACL.
#[derive(Debug, Clone)]
pub(crate) struct Packet<'q> {
    pub(super) direction: Direction,
    pub(super) protocol: Protocol,
    pub(super) port: Option<u16>,
    pub(super) icmp_type: Option<u8>,
    pub(super) icmp_code: Option<u8>,
    pub(super) remote: IpAddr,
    pub(super) class: SourceClass,
    pub(super) destination: Option<&'q DestinationInfo>,
}

impl<'q> Packet<'q> {
    /// The question's traffic (an ICMP type or code only for ICMP, a code only with a type).
    pub(super) fn of_question(q: &'q Question) -> Self {
        Self {
            direction: q.direction,
            protocol: q.protocol,
            port: q.port,
            icmp_type: q.icmp_type.filter(|_| q.protocol.is_icmp()),
            icmp_code: q
                .icmp_code
                .filter(|_| q.protocol.is_icmp() && q.icmp_type.is_some()),
            remote: q.source,
            class: source_class(q.source),
            destination: q.destination.as_ref(),
        }
    }
}

/// What a maybe-match depends on; it picks the explanation code of an `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnknownKind {
    Reference,
    Destination,
    ClientPort,
    /// The question left out something the rule needs (an ICMP type).
    Question,
    /// A host firewall match or action that is not evaluated.
    Unsupported,
}

/// Which part of a rule did not match (the nearest rules are sorted by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Miss {
    Direction,
    Disabled,
    Protocol,
    Port,
    Peer,
    Local,
    AppliesTo,
}

#[derive(Debug)]
pub(super) enum Match {
    Yes,
    Maybe(Vec<(UnknownKind, String)>),
    /// With the assumptions that excluded a reference, if any.
    No(Miss, Vec<String>),
}

enum PeerMatch {
    Yes,
    No,
    /// Excluded by an assumption, stated for the verdict's notes.
    NoAssumed(String),
    Maybe(UnknownKind, String),
}

fn match_ports(rule: &Rule, p: &Packet, name: &dyn Fn() -> String) -> Result<bool, String> {
    match &rule.ports {
        PortMatch::Any => Ok(true),
        PortMatch::Ports { ranges } => match p.port {
            Some(port) => Ok(ranges.iter().any(|r| r.contains(port))),
            None => Err(format!(
                "{} applies only to ports {}",
                name(),
                ranges_text(ranges)
            )),
        },
        PortMatch::Icmp { icmp_type, code } => match (icmp_type, p.icmp_type) {
            (None, _) => Ok(true),
            (Some(t), Some(pt)) if *t != pt => Ok(false),
            (Some(_), Some(_)) => match (code, p.icmp_code) {
                (None, _) => Ok(true),
                (Some(c), Some(pc)) => Ok(*c == pc),
                (Some(c), None) => Err(format!("{} applies only to ICMP code {c}", name())),
            },
            (Some(t), None) => Err(format!("{} applies only to ICMP type {t}", name())),
        },
    }
}

fn match_peer(peer: &Peer, p: &Packet, name: &dyn Fn() -> String) -> PeerMatch {
    let ip = p.remote;
    let label = || name();
    let reference_match = |what: String, member: &str| match p.class {
        SourceClass::PublicV4 => PeerMatch::NoAssumed(format!(
            "{} admits {what}, which matches only the private addresses of {member}; \
             {ip} is a public address, so it cannot match",
            label()
        )),
        SourceClass::Internal | SourceClass::PublicV6 => PeerMatch::Maybe(
            UnknownKind::Reference,
            format!(
                "{} admits {what}: {ip} matches only if it is an address of {member}, \
                 which is not loaded",
                label()
            ),
        ),
    };
    match peer {
        Peer::Cidr { cidr } => {
            if cidr.contains(ip) {
                PeerMatch::Yes
            } else {
                PeerMatch::No
            }
        }
        Peer::Any => PeerMatch::Yes,
        Peer::PrefixList { id } => PeerMatch::Maybe(
            UnknownKind::Reference,
            format!(
                "{} admits prefix list {id}, whose entries are not loaded (`aws ec2 \
                 get-managed-prefix-list-entries --prefix-list-id {id}` lists them)",
                label()
            ),
        ),
        Peer::SecurityGroup { id, .. } => reference_match(
            format!("security group {id}"),
            &format!("a network interface in {id}"),
        ),
        Peer::GcpTag { tag } => {
            reference_match(format!("tag {tag}"), &format!("a VM tagged {tag}"))
        }
        Peer::GcpServiceAccount { account } => reference_match(
            format!("service account {account}"),
            &format!("a VM running as {account}"),
        ),
        Peer::AzureAsg { id } => {
            let short = short_id(id);
            reference_match(
                format!("application security group {short}"),
                &format!("a NIC in {short}"),
            )
        }
        Peer::AzureServiceTag { tag } => match tag.to_ascii_lowercase().as_str() {
            "internet" => match p.class {
                SourceClass::Internal => PeerMatch::No,
                _ => PeerMatch::Yes,
            },
            "virtualnetwork" => match p.class {
                SourceClass::PublicV4 => PeerMatch::NoAssumed(format!(
                    "{}: treated service tag VirtualNetwork as not containing the public \
                     address {ip} (VNets and connected networks normally use private ranges)",
                    label()
                )),
                _ => PeerMatch::Maybe(
                    UnknownKind::Reference,
                    format!(
                        "{} admits service tag VirtualNetwork (the VNet, peered VNets and \
                         connected on-premises ranges), which is not loaded",
                        label()
                    ),
                ),
            },
            "azureloadbalancer" => {
                if ip == AZURE_PLATFORM_IP {
                    PeerMatch::Yes
                } else {
                    PeerMatch::No
                }
            }
            _ => PeerMatch::Maybe(
                UnknownKind::Reference,
                format!(
                    "{} admits service tag {tag}, whose address ranges are not loaded \
                     (Azure publishes them in the service tags JSON)",
                    label()
                ),
            ),
        },
    }
}

/// Whether the rule's local-side restriction (a destination prefix) includes the destination.
fn match_local(
    rule: &Rule,
    p: &Packet,
    name: &dyn Fn() -> String,
) -> Result<bool, (UnknownKind, String)> {
    if rule.local.is_empty() {
        return Ok(true);
    }
    let address = p.destination.and_then(|t| t.address);
    let mut unknown = None;
    for peer in &rule.local {
        match peer {
            Peer::Any => return Ok(true),
            // The protected resource is in its own VNet by definition.
            Peer::AzureServiceTag { tag } if tag.eq_ignore_ascii_case("virtualnetwork") => {
                return Ok(true)
            }
            Peer::Cidr { cidr } => match address {
                Some(a) if cidr.contains(a.to_canonical()) => return Ok(true),
                Some(_) => {}
                None => {
                    unknown.get_or_insert((
                        UnknownKind::Destination,
                        format!(
                            "{} applies only to traffic to {}; the destination's address was not \
                             given",
                            name(),
                            peers_text(&rule.local)
                        ),
                    ));
                }
            },
            other => {
                unknown.get_or_insert((
                    UnknownKind::Reference,
                    format!(
                        "{} applies only to traffic to {other}, which is not loaded",
                        name()
                    ),
                ));
            }
        }
    }
    match unknown {
        Some(u) => Err(u),
        None => Ok(false),
    }
}

/// Whether the rule applies to the destination (GCP target tags/service accounts, Azure ASGs).
fn match_applies_to(
    rule: &Rule,
    p: &Packet,
    name: &dyn Fn() -> String,
) -> Result<bool, (UnknownKind, String)> {
    if rule.applies_to.is_empty() {
        return Ok(true);
    }
    let Some(t) = p.destination else {
        return Err((
            UnknownKind::Destination,
            format!(
                "{} applies only to instances with {}; the question does not say which the \
                 destination has",
                name(),
                peers_text(&rule.applies_to)
            ),
        ));
    };
    Ok(rule.applies_to.iter().any(|peer| match peer {
        Peer::GcpTag { tag } => t.tags.iter().any(|x| x == tag),
        Peer::GcpServiceAccount { account } => t.service_accounts.iter().any(|x| x == account),
        Peer::AzureAsg { id } => t
            .application_security_groups
            .iter()
            .any(|x| x.eq_ignore_ascii_case(id) || x.eq_ignore_ascii_case(short_id(id))),
        _ => false,
    }))
}

/// How messages name a rule: "rule #2 of sg-0a1…", "rule 100 of acl-0b2…", "rule
/// allow-https". Built only when a message needs it: matching runs over every rule.
fn rule_name(set: &RuleSet, rule: &Rule) -> String {
    match set.kind {
        RuleSetKind::AwsSecurityGroup | RuleSetKind::AwsNetworkAcl => {
            format!("rule {} of {}", rule.label, set.id)
        }
        RuleSetKind::GcpFirewall | RuleSetKind::AzureNsg => format!("rule {}", rule.label),
        RuleSetKind::HostFirewall => format!("{} rule {}", set.id, rule.label),
    }
}

pub(super) fn match_rule(set: &RuleSet, rule: &Rule, p: &Packet) -> Match {
    let name = || rule_name(set, rule);
    if rule.direction != p.direction {
        return Match::No(Miss::Direction, Vec::new());
    }
    if rule.disabled {
        return Match::No(Miss::Disabled, Vec::new());
    }
    if !rule.protocol.covers(p.protocol) {
        return Match::No(Miss::Protocol, Vec::new());
    }
    let mut maybes = Vec::new();
    match match_ports(rule, p, &name) {
        Ok(true) => {}
        Ok(false) => return Match::No(Miss::Port, Vec::new()),
        Err(m) => maybes.push((UnknownKind::Question, m)),
    }
    let mut notes = Vec::new();
    let mut peer_yes = false;
    let mut peer_maybes = Vec::new();
    for peer in &rule.peers {
        match match_peer(peer, p, &name) {
            PeerMatch::Yes => {
                peer_yes = true;
                break;
            }
            PeerMatch::No => {}
            PeerMatch::NoAssumed(n) => notes.push(n),
            PeerMatch::Maybe(k, m) => peer_maybes.push((k, m)),
        }
    }
    if !peer_yes {
        if peer_maybes.is_empty() {
            return Match::No(Miss::Peer, notes);
        }
        maybes.extend(peer_maybes);
    }
    match match_local(rule, p, &name) {
        Ok(true) => {}
        Ok(false) => return Match::No(Miss::Local, Vec::new()),
        Err(u) => maybes.push(u),
    }
    match match_applies_to(rule, p, &name) {
        Ok(true) => {}
        Ok(false) => return Match::No(Miss::AppliesTo, Vec::new()),
        Err(u) => maybes.push(u),
    }
    if let Some(ranges) = &rule.source_ports {
        maybes.push((
            UnknownKind::ClientPort,
            format!(
                "{} applies only to source ports {}; the client's source port is not known",
                name(),
                ranges_text(ranges)
            ),
        ));
    }
    if maybes.is_empty() {
        Match::Yes
    } else {
        Match::Maybe(maybes)
    }
}

/// Whether `ip` may be an instance's or a VNet's address (see [`SourceClass`]).
pub(super) fn source_class(ip: IpAddr) -> SourceClass {
    match classify(ip, &[]) {
        AddressOwner::Private
        | AddressOwner::Cgnat
        | AddressOwner::LinkLocal
        | AddressOwner::Loopback
        | AddressOwner::DockerNetwork { .. } => SourceClass::Internal,
        _ if ip.is_ipv6() => SourceClass::PublicV6,
        _ => SourceClass::PublicV4,
    }
}
