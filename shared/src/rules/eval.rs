//! Evaluates a [`Question`] ("would 203.0.113.7 reach tcp/443 here?") against the rule sets
//! that protect one resource, and explains the answer.
//!
//! Sets combine by kind, as the clouds apply them to a packet:
//! * every AWS security group passed is on the same network interface: their rules are one
//!   union of allows (one layer);
//! * every other set (a network ACL, a GCP network's rules, an NSG on a subnet or a NIC) is
//!   a layer of its own, and the traffic must pass every layer.
//!
//! Within a layer: security groups admit if any rule matches; network ACLs, GCP firewalls
//! and NSGs take the first matching rule in their order (the parsers have already sorted
//! them: rule number, or priority with GCP's deny-before-allow at equal priority). A rule
//! that *might* match (a prefix list, a security-group reference, a service tag, a target
//! tag the question did not settle) makes the answer `Unknown` only when it could change
//! it: a maybe-rule before a certain match with the same action changes nothing.
//!
//! Network ACLs are stateless, so an admitted request is checked again for its reply: the
//! other direction, towards the client's ephemeral ports (1024–65535).
//!
//! Explanation codes follow AWS Reachability Analyzer where it has one
//! (`SG_HAS_NO_RULES`, `ENI_SG_RULES_MISMATCH`, `SUBNET_ACL_RESTRICTION`); the GCP, Azure and
//! "unknown" codes are ours and documented on [`ExplanationCode`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::fix;
use super::model::{
    peers_text, traffic_text, Action, Direction, Peer, PortMatch, PortRange, Protocol, Rule,
    RuleSet, RuleSetKind,
};
use crate::ownership::classify;
use crate::probe::AddressOwner;

/// The ephemeral ports a client may reply to: 1024–65535 covers every OS and every NAT
/// (AWS's own recommendation for network ACLs).
pub const EPHEMERAL_PORTS: PortRange = PortRange {
    from: 1024,
    to: 65535,
};

/// Azure's platform address behind the `AzureLoadBalancer` service tag (health probes).
const AZURE_PLATFORM_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(168, 63, 129, 16));

/// How many nearest rules a verdict lists at most.
const MAX_NEAREST: usize = 10;

/// What the resource is, where rules select by it (GCP target tags and service accounts,
/// Azure destination ASGs and addresses). `None` in a question means "not known": rules
/// that select targets then make the answer `Unknown`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetInfo {
    /// The resource's own (private) address, for rules restricted to a destination.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub address: Option<IpAddr>,
    /// GCP network tags of the instance.
    #[serde(default)]
    pub tags: Vec<String>,
    /// GCP service account of the instance.
    #[serde(default)]
    pub service_accounts: Vec<String>,
    /// Azure application security groups of the NIC (resource ids or names).
    #[serde(default)]
    pub application_security_groups: Vec<String>,
}

/// "Would traffic from `source` on `protocol`/`port` be admitted?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallQuestion))]
pub struct Question {
    /// The remote address: the client for inbound traffic, the destination for outbound.
    /// IPv4-mapped IPv6 (`::ffff:203.0.113.7`) is read as IPv4.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub source: IpAddr,
    /// A single protocol (not `all`).
    pub protocol: Protocol,
    /// Destination port; required for tcp and udp.
    #[serde(default)]
    pub port: Option<u16>,
    /// ICMP/ICMPv6 type (8 = echo request); `None` = any type.
    #[serde(default)]
    pub icmp_type: Option<u8>,
    #[serde(default)]
    pub icmp_code: Option<u8>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub target: Option<TargetInfo>,
}

impl Question {
    pub fn new(source: IpAddr, protocol: Protocol, port: Option<u16>) -> Self {
        Self {
            source,
            protocol,
            port,
            icmp_type: None,
            icmp_code: None,
            direction: Direction::Inbound,
            target: None,
        }
    }

    /// Inbound TCP to `port`.
    pub fn tcp(source: IpAddr, port: u16) -> Self {
        Self::new(source, Protocol::Tcp, Some(port))
    }

    /// Inbound UDP to `port`.
    pub fn udp(source: IpAddr, port: u16) -> Self {
        Self::new(source, Protocol::Udp, Some(port))
    }

    /// An inbound echo request (ICMP type 8, or ICMPv6 type 128 for an IPv6 source).
    pub fn ping(source: IpAddr) -> Self {
        let v6 = source.to_canonical().is_ipv6();
        let mut q = Self::new(
            source,
            if v6 { Protocol::Icmpv6 } else { Protocol::Icmp },
            None,
        );
        q.icmp_type = Some(if v6 { 128 } else { 8 });
        q
    }

    pub fn outbound(mut self) -> Self {
        self.direction = Direction::Outbound;
        self
    }

    pub fn with_target(mut self, target: TargetInfo) -> Self {
        self.target = Some(target);
        self
    }

    /// `tcp/443`, `icmp type 8`, `proto 47`.
    pub fn traffic(&self) -> String {
        let ports = match (self.protocol, self.port) {
            (p, _) if p.is_icmp() => PortMatch::Icmp {
                icmp_type: self.icmp_type,
                code: self.icmp_code.filter(|_| self.icmp_type.is_some()),
            },
            (_, Some(port)) => PortMatch::Ports {
                ranges: vec![PortRange::single(port)],
            },
            (_, None) => PortMatch::Any,
        };
        traffic_text(self.protocol, &ports)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallOutcome))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allowed,
    Denied,
    /// It depends on something not loaded (named in `unknown_reasons`).
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the verdict is what it is. The first three are AWS Reachability Analyzer's codes
/// with its meaning; the others are Vantage's analogues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExplanationCode {
    /// Every loaded layer admits the traffic (and, for a network ACL, its reply).
    Allowed,
    /// AWS: the security groups have no rules at all in this direction.
    SgHasNoRules,
    /// AWS: the security groups have rules in this direction, but none applies.
    EniSgRulesMismatch,
    /// AWS: the subnet's network ACL denies the traffic, or its reply (stateless).
    SubnetAclRestriction,
    /// GCP: a deny rule of higher precedence than any allow matches.
    GcpFirewallDenyRule,
    /// GCP: no rule admits the ingress, so the implied deny-all (priority 65535) applies.
    GcpImpliedDenyIngress,
    /// Azure: a custom deny rule matches first.
    AzureNsgDenyRule,
    /// Azure: no custom rule admits it, so `DenyAllInBound`/`DenyAllOutBound` applies.
    AzureNsgDefaultDeny,
    /// Unknown: a rule that could decide refers to something not loaded (prefix list,
    /// security group, GCP tag or service account, Azure service tag or ASG).
    UnresolvedReference,
    /// Unknown: a rule that could decide applies only to some targets (tags, ASGs,
    /// destination addresses) and the question does not say which the resource has.
    TargetNotSpecified,
    /// Unknown: the answer depends on the client's port (a NACL admits replies to only
    /// part of the ephemeral range, or an NSG rule names source ports).
    DependsOnClientPort,
    /// Unknown: the question lacks a port (tcp/udp), names `all` as its protocol, or
    /// leaves out the ICMP type a deciding rule is specific to.
    IncompleteQuestion,
    /// Unknown: no rule set was given.
    NoRuleSets,
}

impl ExplanationCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "ALLOWED",
            Self::SgHasNoRules => "SG_HAS_NO_RULES",
            Self::EniSgRulesMismatch => "ENI_SG_RULES_MISMATCH",
            Self::SubnetAclRestriction => "SUBNET_ACL_RESTRICTION",
            Self::GcpFirewallDenyRule => "GCP_FIREWALL_DENY_RULE",
            Self::GcpImpliedDenyIngress => "GCP_IMPLIED_DENY_INGRESS",
            Self::AzureNsgDenyRule => "AZURE_NSG_DENY_RULE",
            Self::AzureNsgDefaultDeny => "AZURE_NSG_DEFAULT_DENY",
            Self::UnresolvedReference => "UNRESOLVED_REFERENCE",
            Self::TargetNotSpecified => "TARGET_NOT_SPECIFIED",
            Self::DependsOnClientPort => "DEPENDS_ON_CLIENT_PORT",
            Self::IncompleteQuestion => "INCOMPLETE_QUESTION",
            Self::NoRuleSets => "NO_RULE_SETS",
        }
    }
}

impl fmt::Display for ExplanationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule named in a verdict, with enough context to find and highlight it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleRef {
    pub set_id: String,
    pub set_name: String,
    pub set_kind: RuleSetKind,
    /// Index in the set's `rules`.
    pub position: usize,
    pub label: String,
    pub action: Action,
    pub implicit: bool,
    /// The rule's readable one-line form.
    pub text: String,
    /// Where the rule is in the input JSON (empty for defaults the input did not list).
    pub path: String,
}

impl RuleRef {
    pub(crate) fn new(set: &RuleSet, rule: &Rule) -> Self {
        Self {
            set_id: set.id.clone(),
            set_name: set.name.clone(),
            set_kind: set.kind,
            position: rule.position,
            label: rule.label.clone(),
            action: rule.action,
            implicit: rule.implicit,
            text: rule.one_line(set.kind),
            path: rule.path.clone(),
        }
    }
}

/// How a nearest rule differs from the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NearestKind {
    /// Same traffic, other sources: "rules admit only 198.51.100.0/24".
    OtherSource,
    /// Same traffic and source, but only to other destinations or instances (an Azure
    /// destination prefix or ASG, GCP target tags).
    OtherDestination,
    /// Would match, but is disabled (GCP).
    Disabled,
    /// Same protocol, other ports.
    OtherPort,
}

/// An allow rule close to the question, listed when nothing admitted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NearestRule {
    pub rule: RuleRef,
    pub kind: NearestKind,
    /// The remote side of the rule, as text (`198.51.100.0/24`).
    pub peers: Vec<String>,
    /// Why it does not apply, in words.
    pub difference: String,
}

/// One thing the verdict depends on that is not loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnknownReason {
    pub rule: Option<RuleRef>,
    pub reason: String,
}

/// The verdict of one layer (the security groups together, or one other set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LayerVerdict {
    /// "security groups sg-1, sg-2", "network ACL acl-1 (public-web)".
    pub title: String,
    pub kind: RuleSetKind,
    pub set_ids: Vec<String>,
    pub outcome: Outcome,
    pub code: ExplanationCode,
    pub deciding_rules: Vec<RuleRef>,
    /// A stateless ACL that admits the request but refuses its reply.
    pub refused_reply: bool,
    pub explanation: String,
}

/// The smallest rule that would admit the traffic, as a command and as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleFix {
    pub set_id: String,
    pub provider: super::model::Provider,
    /// What the command does, and its caveats.
    pub description: String,
    /// `aws …`, `gcloud …` or `az …`, ready to paste (values shell-quoted).
    pub command: String,
    /// The same rule as the API's JSON (`--ip-permissions`, `--cli-input-json`, the
    /// firewall resource, the ARM rule).
    pub json: String,
}

/// Everything [`evaluate`] concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallVerdict))]
pub struct Verdict {
    pub question: Question,
    pub outcome: Outcome,
    pub explanation_code: ExplanationCode,
    /// A few sentences: what each layer did and why.
    pub explanation: String,
    /// The rules that decided: the allow rules that admitted, or the deny rules that
    /// refused (a security group denies with no rule: then this is empty and
    /// `nearest_rules` says what is there instead).
    pub deciding_rules: Vec<RuleRef>,
    /// When nothing admitted the traffic: allow rules for the same traffic from other
    /// sources, disabled rules that would match, rules for other ports.
    pub nearest_rules: Vec<NearestRule>,
    /// When the outcome is `Unknown`: what it depends on.
    pub unknown_reasons: Vec<UnknownReason>,
    /// Assumptions the verdict rests on (e.g. a public address is not in `VirtualNetwork`).
    pub notes: Vec<String>,
    pub layers: Vec<LayerVerdict>,
    /// Rules to add, one per refusing layer.
    pub fixes: Vec<RuleFix>,
}

// ---------------------------------------------------------------------------------------
// Matching one rule

/// What kind of address the remote side is: it decides whether references can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceClass {
    /// Private, CGNAT, link-local or loopback: may belong to instances, VNets, ASGs.
    Internal,
    /// A public IPv4 address: never an instance's private address.
    PublicV4,
    /// A global IPv6 address: instances have these too, so references may match.
    PublicV6,
}

/// The traffic being matched: the question, or its reply for a stateless ACL.
#[derive(Debug, Clone)]
pub(crate) struct Probe<'q> {
    direction: Direction,
    protocol: Protocol,
    port: Option<u16>,
    icmp_type: Option<u8>,
    icmp_code: Option<u8>,
    remote: IpAddr,
    class: SourceClass,
    target: Option<&'q TargetInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnknownKind {
    Reference,
    Target,
    ClientPort,
    /// The question left out something the rule needs (an ICMP type).
    Question,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    Direction,
    Disabled,
    Protocol,
    Port,
    Peer,
    Local,
    Target,
}

#[derive(Debug)]
enum Match {
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

fn match_ports(rule: &Rule, p: &Probe, name: &dyn Fn() -> String) -> Result<bool, String> {
    match &rule.ports {
        PortMatch::Any => Ok(true),
        PortMatch::Ports { ranges } => match p.port {
            Some(port) => Ok(ranges.iter().any(|r| r.contains(port))),
            None => Err(format!(
                "{} applies only to ports {}",
                name(),
                super::model::ranges_text(ranges)
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

fn match_peer(peer: &Peer, p: &Probe, name: &dyn Fn() -> String) -> PeerMatch {
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
            let short = super::model::short_id(id);
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

/// Whether the rule's local-side restriction (a destination prefix) includes the target.
fn match_local(
    rule: &Rule,
    p: &Probe,
    name: &dyn Fn() -> String,
) -> Result<bool, (UnknownKind, String)> {
    if rule.local.is_empty() {
        return Ok(true);
    }
    let address = p.target.and_then(|t| t.address);
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
                        UnknownKind::Target,
                        format!(
                            "{} applies only to traffic to {}; the target's address was not \
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

/// Whether the rule applies to the target (GCP target tags/service accounts, Azure ASGs).
fn match_targets(
    rule: &Rule,
    p: &Probe,
    name: &dyn Fn() -> String,
) -> Result<bool, (UnknownKind, String)> {
    if rule.targets.is_empty() {
        return Ok(true);
    }
    let Some(t) = p.target else {
        return Err((
            UnknownKind::Target,
            format!(
                "{} applies only to instances with {}; the question does not say which the \
                 target has",
                name(),
                peers_text(&rule.targets)
            ),
        ));
    };
    Ok(rule.targets.iter().any(|peer| match peer {
        Peer::GcpTag { tag } => t.tags.iter().any(|x| x == tag),
        Peer::GcpServiceAccount { account } => t.service_accounts.iter().any(|x| x == account),
        Peer::AzureAsg { id } => t.application_security_groups.iter().any(|x| {
            x.eq_ignore_ascii_case(id) || x.eq_ignore_ascii_case(super::model::short_id(id))
        }),
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
    }
}

fn match_rule(set: &RuleSet, rule: &Rule, p: &Probe) -> Match {
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
    match match_targets(rule, p, &name) {
        Ok(true) => {}
        Ok(false) => return Match::No(Miss::Target, Vec::new()),
        Err(u) => maybes.push(u),
    }
    if let Some(ranges) = &rule.source_ports {
        maybes.push((
            UnknownKind::ClientPort,
            format!(
                "{} applies only to source ports {}; the client's source port is not known",
                name(),
                super::model::ranges_text(ranges)
            ),
        ));
    }
    if maybes.is_empty() {
        Match::Yes
    } else {
        Match::Maybe(maybes)
    }
}

// ---------------------------------------------------------------------------------------
// Layers

/// A rule named by (set index, position), resolved to a [`RuleRef`] at the end.
type At = (usize, usize);

#[derive(Debug, Clone)]
struct Pending {
    at: At,
    action: Action,
    reasons: Vec<(UnknownKind, String)>,
}

/// The result of one first-match or union pass.
#[derive(Debug)]
struct Pass {
    outcome: Outcome,
    /// Rules that matched for certain (the decider for first-match, every admitting rule
    /// for a union).
    deciding: Vec<At>,
    /// Maybe-rules that make the outcome unknown.
    unknown: Vec<Pending>,
    notes: Vec<String>,
}

fn first_match(sets: &[&RuleSet], si: usize, p: &Probe) -> Pass {
    let set = sets[si];
    let mut pending: Vec<Pending> = Vec::new();
    let mut notes = Vec::new();
    for rule in set.rules_in(p.direction) {
        match match_rule(set, rule, p) {
            Match::Yes => {
                let conflicting: Vec<Pending> = pending
                    .iter()
                    .filter(|m| m.action != rule.action)
                    .cloned()
                    .collect();
                let at = (si, rule.position);
                if conflicting.is_empty() {
                    return Pass {
                        outcome: match rule.action {
                            Action::Allow => Outcome::Allowed,
                            Action::Deny => Outcome::Denied,
                        },
                        deciding: vec![at],
                        unknown: Vec::new(),
                        notes,
                    };
                }
                return Pass {
                    outcome: Outcome::Unknown,
                    deciding: vec![at],
                    unknown: conflicting,
                    notes,
                };
            }
            Match::Maybe(reasons) => pending.push(Pending {
                at: (si, rule.position),
                action: rule.action,
                reasons,
            }),
            Match::No(Miss::Peer, n) => notes.extend(n),
            Match::No(..) => {}
        }
    }
    // Only reachable for hand-built sets without the provider's final rule.
    Pass {
        outcome: if pending.iter().any(|m| m.action == Action::Allow) {
            Outcome::Unknown
        } else {
            Outcome::Denied
        },
        deciding: Vec::new(),
        unknown: pending,
        notes,
    }
}

fn union_of_allows(sets: &[&RuleSet], members: &[usize], p: &Probe) -> Pass {
    let mut deciding = Vec::new();
    let mut unknown = Vec::new();
    let mut notes = Vec::new();
    for &si in members {
        for rule in sets[si].rules_in(p.direction) {
            match match_rule(sets[si], rule, p) {
                Match::Yes => deciding.push((si, rule.position)),
                Match::Maybe(reasons) => unknown.push(Pending {
                    at: (si, rule.position),
                    action: rule.action,
                    reasons,
                }),
                Match::No(Miss::Peer, n) => notes.extend(n),
                Match::No(..) => {}
            }
        }
    }
    let outcome = if !deciding.is_empty() {
        unknown.clear();
        notes.clear();
        Outcome::Allowed
    } else if !unknown.is_empty() {
        Outcome::Unknown
    } else {
        Outcome::Denied
    };
    Pass {
        outcome,
        deciding,
        unknown,
        notes,
    }
}

fn unknown_code(pending: &[Pending]) -> ExplanationCode {
    let kinds: Vec<UnknownKind> = pending
        .iter()
        .flat_map(|m| m.reasons.iter().map(|(k, _)| *k))
        .collect();
    if kinds.contains(&UnknownKind::Reference) {
        ExplanationCode::UnresolvedReference
    } else if kinds.contains(&UnknownKind::Target) {
        ExplanationCode::TargetNotSpecified
    } else if kinds.contains(&UnknownKind::Question) {
        ExplanationCode::IncompleteQuestion
    } else {
        ExplanationCode::DependsOnClientPort
    }
}

/// One layer's full result, before rule references are resolved.
#[derive(Debug)]
struct LayerResult {
    kind: RuleSetKind,
    members: Vec<usize>,
    outcome: Outcome,
    code: ExplanationCode,
    deciding: Vec<At>,
    unknown: Vec<Pending>,
    notes: Vec<String>,
    explanation: String,
    /// The layer refused because no rule admitted (not an explicit deny): list nearest.
    nothing_matched: bool,
    /// For a stateless ACL whose reply is refused: the direction and port ranges refused.
    reply_refused: Option<(Direction, Vec<PortRange>)>,
}

fn layer_title(sets: &[&RuleSet], members: &[usize]) -> String {
    match members {
        [one] => sets[*one].title(),
        many => format!(
            "security groups {}",
            many.iter()
                .map(|&i| sets[i].id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn rule_at<'a>(sets: &[&'a RuleSet], at: At) -> Option<&'a Rule> {
    sets.get(at.0)?.rules.get(at.1)
}

fn label_of(sets: &[&RuleSet], at: At) -> String {
    rule_at(sets, at).map_or_else(String::new, |r| r.label.clone())
}

fn eval_sg_layer(sets: &[&RuleSet], members: &[usize], p: &Probe, q: &Question) -> LayerResult {
    let pass = union_of_allows(sets, members, p);
    let title = layer_title(sets, members);
    let dir = p.direction;
    let one = members.len() == 1;
    let (admits, has) = if one {
        ("admits", "has")
    } else {
        ("admit", "have")
    };
    let (code, explanation) = match pass.outcome {
        Outcome::Allowed => (
            ExplanationCode::Allowed,
            format!(
                "The {title} {admits} {} on {}: {}.",
                q.source,
                q.traffic(),
                pass.deciding
                    .iter()
                    .filter_map(
                        |&at| rule_at(sets, at).map(|r| r.one_line(RuleSetKind::AwsSecurityGroup))
                    )
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Outcome::Unknown => (
            unknown_code(&pass.unknown),
            format!(
                "No rule of the {title} admits {} for certain; some rules depend on references \
                 that are not loaded.",
                q.source
            ),
        ),
        Outcome::Denied => {
            let any_rules = members
                .iter()
                .any(|&i| sets[i].rules_in(dir).next().is_some());
            if any_rules {
                (
                    ExplanationCode::EniSgRulesMismatch,
                    format!(
                        "No {dir} rule of the {title} admits {} on {}; security groups deny \
                         whatever no rule allows.",
                        q.source,
                        q.traffic()
                    ),
                )
            } else {
                (
                    ExplanationCode::SgHasNoRules,
                    format!("The {title} {has} no {dir} rules, so no {dir} traffic is admitted."),
                )
            }
        }
    };
    LayerResult {
        kind: RuleSetKind::AwsSecurityGroup,
        members: members.to_vec(),
        outcome: pass.outcome,
        code,
        nothing_matched: pass.outcome == Outcome::Denied,
        deciding: pass.deciding,
        unknown: pass.unknown,
        notes: pass.notes,
        explanation,
        reply_refused: None,
    }
}

/// The reply's traffic for a stateless ACL, or `None` when no reply is expected.
fn reply_probe<'q>(p: &Probe<'q>) -> Option<Probe<'q>> {
    let mut r = p.clone();
    r.direction = p.direction.opposite();
    r.port = None;
    r.icmp_code = None;
    match p.protocol {
        Protocol::Tcp | Protocol::Udp => Some(r),
        Protocol::Icmp if p.icmp_type == Some(8) => {
            r.icmp_type = Some(0);
            r.icmp_code = Some(0);
            Some(r)
        }
        Protocol::Icmpv6 if p.icmp_type == Some(128) => {
            r.icmp_type = Some(129);
            r.icmp_code = Some(0);
            Some(r)
        }
        Protocol::Icmp | Protocol::Icmpv6 => None,
        Protocol::Number(_) | Protocol::All => Some(r),
    }
}

/// A stretch of the ephemeral range with the outcome for the reply there, the rule that
/// decided it, and any maybe-rules that make it unknown.
type Segment = (PortRange, Outcome, Option<At>, Vec<Pending>);

/// Disjoint port ranges keyed by their first port.
type PortSet = BTreeMap<u16, u16>;

/// The parts of `have` that lie in `cover`, in port order.
fn intersect(have: &PortSet, cover: &[PortRange]) -> Vec<PortRange> {
    let mut out = Vec::new();
    for c in cover {
        // Disjoint and ordered: walk back from the last range starting at or before c.to
        // until one ends before c.from.
        for (&from, &to) in have.range(..=c.to).rev() {
            if to < c.from {
                break;
            }
            out.push(PortRange::new(from.max(c.from), to.min(c.to)));
        }
    }
    out.sort_by_key(|r| r.from);
    out
}

/// Removes `piece` from `have`; `piece` lies inside one of its ranges.
fn remove_piece(have: &mut PortSet, piece: PortRange) {
    let Some((&from, &to)) = have.range(..=piece.from).next_back() else {
        return;
    };
    if to < piece.to {
        return;
    }
    have.remove(&from);
    if from < piece.from {
        have.insert(from, piece.from - 1);
    }
    if piece.to < to {
        have.insert(piece.to + 1, to);
    }
}

/// First-match over the ephemeral ports, as one sweep through the rules: each rule decides
/// the still-undecided ports it covers. Linear in the rules for real ACLs (whose rules
/// have no references, so never "maybe"), however many port ranges they carve.
fn ephemeral_segments(sets: &[&RuleSet], si: usize, reply: &Probe) -> Vec<Segment> {
    let set = sets[si];
    let all = [PortRange::new(0, u16::MAX)];
    let mut undecided: PortSet = BTreeMap::from([(EPHEMERAL_PORTS.from, EPHEMERAL_PORTS.to)]);
    let mut decided: Vec<(PortRange, Action, At)> = Vec::new();
    let mut maybes: Vec<(Vec<PortRange>, Pending)> = Vec::new();
    for rule in set.rules_in(reply.direction) {
        if undecided.is_empty() {
            break;
        }
        let cover = match &rule.ports {
            PortMatch::Ports { ranges } => ranges.as_slice(),
            PortMatch::Any | PortMatch::Icmp { .. } => &all,
        };
        let pieces = intersect(&undecided, cover);
        let Some(first) = pieces.first() else {
            continue;
        };
        let mut probe = reply.clone();
        probe.port = Some(first.from);
        let at = (si, rule.position);
        match match_rule(set, rule, &probe) {
            Match::Yes => {
                for &piece in &pieces {
                    remove_piece(&mut undecided, piece);
                }
                decided.extend(pieces.into_iter().map(|r| (r, rule.action, at)));
            }
            Match::Maybe(reasons) => maybes.push((
                pieces,
                Pending {
                    at,
                    action: rule.action,
                    reasons,
                },
            )),
            Match::No(..) => {}
        }
    }
    let mut segments: Vec<Segment> = decided
        .into_iter()
        .map(|(range, action, at)| {
            let conflicting: Vec<Pending> = maybes
                .iter()
                .filter(|(ranges, m)| {
                    m.action != action
                        && m.at.1 < at.1
                        && ranges
                            .iter()
                            .any(|r| r.from <= range.to && range.from <= r.to)
                })
                .map(|(_, m)| m.clone())
                .collect();
            let outcome = match (conflicting.is_empty(), action) {
                (false, _) => Outcome::Unknown,
                (true, Action::Allow) => Outcome::Allowed,
                (true, Action::Deny) => Outcome::Denied,
            };
            (range, outcome, Some(at), conflicting)
        })
        .collect();
    // Ports no rule reached (only in hand-built sets without the `*` rule) are refused.
    segments.extend(
        undecided
            .into_iter()
            .map(|(from, to)| (PortRange::new(from, to), Outcome::Denied, None, Vec::new())),
    );
    segments.sort_by_key(|s| s.0.from);
    let mut merged: Vec<Segment> = Vec::with_capacity(segments.len());
    for s in segments {
        match merged.last_mut() {
            Some(last)
                if last.1 == s.1
                    && last.2 == s.2
                    && last.3.is_empty()
                    && s.3.is_empty()
                    && u32::from(last.0.to) + 1 == u32::from(s.0.from) =>
            {
                last.0.to = s.0.to;
            }
            _ => merged.push(s),
        }
    }
    merged
}

fn eval_first_match_layer(sets: &[&RuleSet], si: usize, p: &Probe, q: &Question) -> LayerResult {
    let set = sets[si];
    let title = set.title();
    let pass = first_match(sets, si, p);
    let decider = pass.deciding.first().and_then(|&at| rule_at(sets, at));
    let decider_text = decider.map_or_else(String::new, |r| r.one_line(set.kind));
    let implicit_decider = decider.is_some_and(|r| r.implicit);
    let mut result = LayerResult {
        kind: set.kind,
        members: vec![si],
        outcome: pass.outcome,
        code: ExplanationCode::Allowed,
        deciding: pass.deciding.clone(),
        unknown: pass.unknown.clone(),
        notes: pass.notes.clone(),
        explanation: String::new(),
        nothing_matched: false,
        reply_refused: None,
    };
    let what = format!("{} on {}", q.source, q.traffic());
    match pass.outcome {
        Outcome::Allowed => {
            result.explanation = format!("The {title} admits {what}: {decider_text}.");
        }
        Outcome::Unknown => {
            result.code = unknown_code(&pass.unknown);
            result.explanation = format!(
                "The {title} would decide by {decider_text}, but an earlier rule with the \
                 opposite action may match first."
            );
            if decider.is_none() {
                result.explanation = format!(
                    "No rule of the {title} matches {what} for certain; some depend on \
                     references that are not loaded."
                );
            }
        }
        Outcome::Denied => {
            result.nothing_matched = implicit_decider || decider.is_none();
            result.code = match (set.kind, result.nothing_matched) {
                (RuleSetKind::AwsNetworkAcl, _) => ExplanationCode::SubnetAclRestriction,
                (RuleSetKind::GcpFirewall, true) => ExplanationCode::GcpImpliedDenyIngress,
                (RuleSetKind::GcpFirewall, false) => ExplanationCode::GcpFirewallDenyRule,
                (RuleSetKind::AzureNsg, true) => ExplanationCode::AzureNsgDefaultDeny,
                (RuleSetKind::AzureNsg, false) => ExplanationCode::AzureNsgDenyRule,
                (RuleSetKind::AwsSecurityGroup, _) => ExplanationCode::EniSgRulesMismatch,
            };
            result.explanation = if result.nothing_matched {
                format!(
                    "No {} rule of the {title} admits {what}, so its final rule denies it: \
                     {decider_text}.",
                    p.direction
                )
            } else {
                format!("The {title} denies {what}: {decider_text} matches first.")
            };
        }
    }
    if set.stateful || pass.outcome == Outcome::Denied {
        return result;
    }
    // Stateless: the reply must pass too.
    let Some(reply) = reply_probe(p) else {
        result
            .explanation
            .push_str(" This ICMP type expects no reply.");
        return result;
    };
    let reply_dir = reply.direction;
    if reply.protocol.has_ports() {
        let segments = ephemeral_segments(sets, si, &reply);
        let allowed: Vec<PortRange> = segments
            .iter()
            .filter(|s| s.1 == Outcome::Allowed)
            .map(|s| s.0)
            .collect();
        let denied: Vec<&Segment> = segments.iter().filter(|s| s.1 == Outcome::Denied).collect();
        let unknown: Vec<Pending> = segments
            .iter()
            .filter(|s| s.1 == Outcome::Unknown)
            .flat_map(|s| s.3.clone())
            .collect();
        let deciders = |list: &[&Segment]| {
            let mut v: Vec<At> = list.iter().filter_map(|s| s.2).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if denied.is_empty() && unknown.is_empty() {
            let mut ds: Vec<At> = segments.iter().filter_map(|s| s.2).collect();
            ds.sort_unstable();
            ds.dedup();
            result.explanation.push_str(&format!(
                " The ACL is stateless; its {reply_dir} rules admit the reply to {} on ephemeral \
                 ports {EPHEMERAL_PORTS} ({}).",
                q.source,
                ds.iter()
                    .map(|&at| format!("rule {}", label_of(sets, at)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            result.deciding.extend(ds);
            return result;
        }
        let denied_ranges: Vec<PortRange> = denied.iter().map(|s| s.0).collect();
        let denied_text = super::model::ranges_text(&denied_ranges);
        if allowed.is_empty() && unknown.is_empty() {
            result.outcome = Outcome::Denied;
            result.code = ExplanationCode::SubnetAclRestriction;
            result.deciding = deciders(&denied);
            result.explanation.push_str(&format!(
                " But the ACL is stateless: the reply to {}'s ephemeral port ({EPHEMERAL_PORTS}) \
                 needs an {reply_dir} rule, and {} denies it.",
                q.source,
                result
                    .deciding
                    .iter()
                    .map(|&at| format!("rule {}", label_of(sets, at)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            result.reply_refused = Some((reply_dir, denied_ranges));
            return result;
        }
        // Part of the range: it depends on the port the client picked.
        result.outcome = Outcome::Unknown;
        result.code = if unknown.is_empty() {
            ExplanationCode::DependsOnClientPort
        } else {
            unknown_code(&unknown)
        };
        let mut reasons = Vec::new();
        if !denied.is_empty() {
            reasons.push((
                UnknownKind::ClientPort,
                format!(
                    "network ACL {} is stateless and its {reply_dir} rules admit the reply only \
                     to ports {} of {}; ports {denied_text} are denied ({}). Clients pick \
                     ephemeral ports from 32768-60999 (Linux, Android), 49152-65535 (Windows, \
                     macOS, iOS), and NAT gateways, load balancers and carrier NAT use 1024-65535",
                    set.id,
                    super::model::ranges_text(&allowed),
                    q.source,
                    deciders(&denied)
                        .iter()
                        .map(|&at| format!("rule {}", label_of(sets, at)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let mut pend = unknown;
        if let Some(&first) = deciders(&denied).first() {
            pend.push(Pending {
                at: first,
                action: Action::Deny,
                reasons,
            });
        }
        result.unknown.extend(pend);
        result.explanation.push_str(&format!(
            " The reply to {}'s ephemeral port is admitted only on part of {EPHEMERAL_PORTS}.",
            q.source
        ));
        return result;
    }
    let rpass = first_match(sets, si, &reply);
    match rpass.outcome {
        Outcome::Allowed => {
            result.explanation.push_str(&format!(
                " The ACL is stateless; its {reply_dir} rules admit the reply ({}).",
                rpass
                    .deciding
                    .iter()
                    .map(|&at| format!("rule {}", label_of(sets, at)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            result.deciding.extend(rpass.deciding);
        }
        Outcome::Denied => {
            result.outcome = Outcome::Denied;
            result.code = ExplanationCode::SubnetAclRestriction;
            result.deciding = rpass.deciding.clone();
            result.explanation.push_str(&format!(
                " But the ACL is stateless and its {reply_dir} rules deny the reply ({}).",
                rpass
                    .deciding
                    .iter()
                    .map(|&at| format!("rule {}", label_of(sets, at)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            result.reply_refused = Some((reply_dir, Vec::new()));
        }
        Outcome::Unknown => {
            result.outcome = Outcome::Unknown;
            result.code = unknown_code(&rpass.unknown);
            result.unknown.extend(rpass.unknown);
        }
    }
    result
}

// ---------------------------------------------------------------------------------------
// Nearest rules

fn nearest(sets: &[&RuleSet], members: &[usize], p: &Probe) -> Vec<NearestRule> {
    // Classify every allow rule cheaply; describe only the few that are listed.
    let mut found: Vec<(NearestKind, &RuleSet, &Rule)> = Vec::new();
    for &si in members {
        let set = sets[si];
        for rule in set.rules_in(p.direction) {
            if rule.action != Action::Allow || rule.implicit {
                continue;
            }
            let kind = if rule.disabled {
                let mut enabled = rule.clone();
                enabled.disabled = false;
                match match_rule(set, &enabled, p) {
                    Match::Yes | Match::Maybe(_) => NearestKind::Disabled,
                    _ => continue,
                }
            } else {
                match match_rule(set, rule, p) {
                    Match::No(Miss::Peer, _) => NearestKind::OtherSource,
                    Match::No(Miss::Local | Miss::Target, _) => NearestKind::OtherDestination,
                    Match::No(Miss::Port, _) => NearestKind::OtherPort,
                    _ => continue,
                }
            };
            found.push((kind, set, rule));
        }
    }
    // Disabled look-alikes first, then same traffic, then other ports; stable otherwise.
    found.sort_by_key(|(k, _, _)| match k {
        NearestKind::Disabled => 0,
        NearestKind::OtherSource => 1,
        NearestKind::OtherDestination => 2,
        NearestKind::OtherPort => 3,
    });
    found
        .into_iter()
        .take(MAX_NEAREST)
        .map(|(kind, set, rule)| describe_nearest(kind, set, rule, p))
        .collect()
}

fn describe_nearest(kind: NearestKind, set: &RuleSet, rule: &Rule, p: &Probe) -> NearestRule {
    let peers: Vec<String> = rule.peers.iter().map(ToString::to_string).collect();
    let difference = match kind {
        NearestKind::OtherSource => {
            let family_note =
                if rule.peers.iter().all(
                    |x| matches!(x, Peer::Cidr { cidr } if cidr.is_ipv4() != p.remote.is_ipv4()),
                ) {
                    if p.remote.is_ipv4() {
                        " (IPv6 ranges only)"
                    } else {
                        " (IPv4 ranges only)"
                    }
                } else {
                    ""
                };
            format!(
                "admits {} from {}{family_note}, not {}",
                rule.traffic(),
                peers.join(", "),
                p.remote
            )
        }
        NearestKind::OtherDestination => {
            let mut only: Vec<String> = rule.local.iter().map(ToString::to_string).collect();
            only.extend(rule.targets.iter().map(ToString::to_string));
            format!(
                "admits {} from {}, but only to {}",
                rule.traffic(),
                peers.join(", "),
                only.join(", ")
            )
        }
        NearestKind::Disabled => "would admit it, but the rule is disabled".to_owned(),
        NearestKind::OtherPort => format!("admits {} only", rule.traffic()),
    };
    NearestRule {
        rule: RuleRef::new(set, rule),
        kind,
        peers,
        difference,
    }
}

// ---------------------------------------------------------------------------------------
// The verdict

fn source_class(ip: IpAddr) -> SourceClass {
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

fn early(question: &Question, code: ExplanationCode, reason: String) -> Verdict {
    Verdict {
        question: question.clone(),
        outcome: Outcome::Unknown,
        explanation_code: code,
        explanation: reason.clone(),
        deciding_rules: Vec::new(),
        nearest_rules: Vec::new(),
        unknown_reasons: vec![UnknownReason { rule: None, reason }],
        notes: Vec::new(),
        layers: Vec::new(),
        fixes: Vec::new(),
    }
}

/// Evaluates `question` against the rule sets that protect one resource.
///
/// Pass only the sets that apply: the security groups attached to the network interface
/// and the network ACL of its subnet (not every group `describe-security-groups` listed),
/// the GCP network the instance is in, the NSGs of its subnet and NIC.
pub fn evaluate(sets: &[RuleSet], question: &Question) -> Verdict {
    let refs: Vec<&RuleSet> = sets.iter().collect();
    evaluate_refs(&refs, question)
}

/// [`evaluate`] for callers holding references (e.g. the sets a person selected).
pub fn evaluate_refs(sets: &[&RuleSet], question: &Question) -> Verdict {
    let mut q = question.clone();
    q.source = q.source.to_canonical();
    if sets.is_empty() {
        return early(
            &q,
            ExplanationCode::NoRuleSets,
            "no rule set is loaded: load the security group, firewall or NSG JSON first".to_owned(),
        );
    }
    if q.protocol == Protocol::All {
        return early(
            &q,
            ExplanationCode::IncompleteQuestion,
            "the question needs one protocol (tcp, udp, icmp…), not `all`".to_owned(),
        );
    }
    if q.protocol.has_ports() && q.port.is_none() {
        return early(
            &q,
            ExplanationCode::IncompleteQuestion,
            format!("the question needs a destination port for {}", q.protocol),
        );
    }
    let probe = Probe {
        direction: q.direction,
        protocol: q.protocol,
        port: q.port,
        icmp_type: q.icmp_type.filter(|_| q.protocol.is_icmp()),
        icmp_code: q
            .icmp_code
            .filter(|_| q.protocol.is_icmp() && q.icmp_type.is_some()),
        remote: q.source,
        class: source_class(q.source),
        target: q.target.as_ref(),
    };

    // Layers in the order a packet meets them: inbound through the subnet's ACL first,
    // outbound through the interface's security groups first.
    let sg_members: Vec<usize> = (0..sets.len())
        .filter(|&i| sets[i].kind == RuleSetKind::AwsSecurityGroup)
        .collect();
    let mut layers: Vec<LayerResult> = Vec::new();
    let mut others: Vec<LayerResult> = (0..sets.len())
        .filter(|&i| sets[i].kind != RuleSetKind::AwsSecurityGroup)
        .map(|i| eval_first_match_layer(sets, i, &probe, &q))
        .collect();
    let sg_layer = (!sg_members.is_empty()).then(|| eval_sg_layer(sets, &sg_members, &probe, &q));
    match q.direction {
        Direction::Inbound => {
            layers.append(&mut others);
            layers.extend(sg_layer);
        }
        Direction::Outbound => {
            layers.extend(sg_layer);
            layers.append(&mut others);
        }
    }

    let outcome = if layers.iter().any(|l| l.outcome == Outcome::Denied) {
        Outcome::Denied
    } else if layers.iter().any(|l| l.outcome == Outcome::Unknown) {
        Outcome::Unknown
    } else {
        Outcome::Allowed
    };
    let code = layers
        .iter()
        .find(|l| l.outcome == outcome)
        .map_or(ExplanationCode::Allowed, |l| l.code);

    let refs_of = |ats: &[At]| -> Vec<RuleRef> {
        ats.iter()
            .filter_map(|&at| rule_at(sets, at).map(|r| RuleRef::new(sets[at.0], r)))
            .collect()
    };
    let mut deciding_rules = Vec::new();
    let mut nearest_rules = Vec::new();
    let mut unknown_reasons = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut fixes = Vec::new();
    for l in &layers {
        // An unknown outcome has no decider, only what it depends on.
        if l.outcome == outcome && outcome != Outcome::Unknown {
            deciding_rules.extend(refs_of(&l.deciding));
        }
        if outcome == Outcome::Unknown && l.outcome == Outcome::Unknown {
            for m in &l.unknown {
                let rule = rule_at(sets, m.at).map(|r| RuleRef::new(sets[m.at.0], r));
                for (_, reason) in &m.reasons {
                    unknown_reasons.push(UnknownReason {
                        rule: rule.clone(),
                        reason: reason.clone(),
                    });
                }
            }
        }
        if l.outcome == Outcome::Denied {
            if l.nothing_matched {
                nearest_rules.extend(nearest(sets, &l.members, &probe));
            }
            fixes.extend(fix::for_layer(
                sets,
                l.kind,
                &l.members,
                &l.deciding,
                l.reply_refused.as_ref(),
                &q,
                &nearest_rules,
            ));
        }
        for n in &l.notes {
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
    }
    let nacls = sets
        .iter()
        .filter(|s| s.kind == RuleSetKind::AwsNetworkAcl)
        .count();
    if nacls > 1 {
        notes.push(format!(
            "{nacls} network ACLs were given and all were applied; a subnet has exactly one: \
             pass only the ACL associated with the resource's subnet"
        ));
    }
    let networks = sets
        .iter()
        .filter(|s| s.kind == RuleSetKind::GcpFirewall)
        .count();
    if networks > 1 {
        notes.push(format!(
            "{networks} GCP networks were given and all were applied; an interface is in one \
             network: pass only that network's rules"
        ));
    }

    let layer_verdicts: Vec<LayerVerdict> = layers
        .iter()
        .map(|l| LayerVerdict {
            title: layer_title(sets, &l.members),
            kind: l.kind,
            set_ids: l.members.iter().map(|&i| sets[i].id.clone()).collect(),
            outcome: l.outcome,
            code: l.code,
            deciding_rules: refs_of(&l.deciding),
            refused_reply: l.reply_refused.is_some(),
            explanation: l.explanation.clone(),
        })
        .collect();
    let explanation = layers
        .iter()
        .map(|l| l.explanation.as_str())
        .collect::<Vec<_>>()
        .join("\n");

    Verdict {
        question: q,
        outcome,
        explanation_code: code,
        explanation,
        deciding_rules,
        nearest_rules,
        unknown_reasons,
        notes,
        layers: layer_verdicts,
        fixes,
    }
}

/// The verdict in one line, e.g. incident 1's `no inbound rule admits 203.0.113.7 on
/// tcp/443; rules admit only 198.51.100.0/24`.
pub fn summary(v: &Verdict) -> String {
    let q = &v.question;
    let src = q.source;
    let what = q.traffic();
    let admits = match q.direction {
        Direction::Inbound => format!("admits {src} on {what}"),
        Direction::Outbound => format!("admits traffic to {src} on {what}"),
    };
    match v.outcome {
        Outcome::Allowed => {
            let rules: Vec<String> = v
                .deciding_rules
                .iter()
                .take(2)
                .map(|r| format!("{} {}", r.set_id, r.text))
                .collect();
            let more = v.deciding_rules.len().saturating_sub(2);
            let mut s = format!(
                "allowed: {src} on {what} is admitted by {}",
                rules.join("; ")
            );
            if more > 0 {
                s.push_str(&format!(" (and {more} more)"));
            }
            s
        }
        Outcome::Unknown => {
            let first = v.unknown_reasons.first().map_or_else(
                || "it depends on rules not loaded".to_owned(),
                |r| r.reason.clone(),
            );
            let more = v.unknown_reasons.len().saturating_sub(1);
            let admit = match q.direction {
                Direction::Inbound => format!("admit {src} on {what}"),
                Direction::Outbound => format!("admit traffic to {src} on {what}"),
            };
            let mut s = format!("unknown whether the rules {admit}: {first}");
            if more > 0 {
                s.push_str(&format!(" (and {more} more)"));
            }
            s
        }
        Outcome::Denied => {
            let layer = v.layers.iter().find(|l| l.outcome == Outcome::Denied);
            let decider = layer.and_then(|l| l.deciding_rules.first());
            let reply = layer.is_some_and(|l| l.refused_reply);
            let explicit = decider.is_some_and(|r| !r.implicit);
            if let (Some(l), Some(r), true) = (layer, decider, reply) {
                return format!(
                    "{} {admits}, but denies the reply to its ephemeral ports (rule {}: {})",
                    l.set_ids.join(", "),
                    r.label,
                    rule_body(r)
                );
            }
            if let (Some(r), true) = (decider, explicit) {
                return format!(
                    "{} rule {} denies {src} on {what}: {}",
                    r.set_id,
                    r.label,
                    rule_body(r)
                );
            }
            let dir = q.direction;
            let mut s = format!("no {dir} rule {admits}");
            let mut peers: Vec<&str> = Vec::new();
            for n in v
                .nearest_rules
                .iter()
                .filter(|n| n.kind == NearestKind::OtherSource)
            {
                for p in &n.peers {
                    if !peers.contains(&p.as_str()) {
                        peers.push(p);
                    }
                }
            }
            let disabled = v
                .nearest_rules
                .iter()
                .find(|n| n.kind == NearestKind::Disabled);
            if let Some(d) = disabled {
                s.push_str(&format!("; rule {} would, but is disabled", d.rule.label));
            } else if !peers.is_empty() {
                s.push_str(&format!("; rules admit only {}", peers.join(", ")));
            } else if v.explanation_code == ExplanationCode::SgHasNoRules {
                s.push_str(&format!("; the security groups have no {dir} rules at all"));
            } else {
                s.push_str(&format!("; no rule admits {what} from anywhere"));
            }
            s
        }
    }
}

/// A rule's one-line form without its label and priority prefix (`deny tcp/22 from …`).
fn rule_body(r: &RuleRef) -> &str {
    let rest = r.text.strip_prefix(r.label.as_str()).unwrap_or(&r.text);
    let rest = match rest.strip_prefix(" (priority ") {
        Some(after) => after.split_once(')').map_or(rest, |(_, tail)| tail),
        None => rest,
    };
    rest.strip_prefix(": ").unwrap_or(&r.text)
}

/// The comparison view's row (`probe::RulesVerdict`): `admitted` is true only when the
/// outcome is `Allowed` (an `Unknown` is not an admission; the summary says why).
pub fn to_rules_verdict(v: &Verdict) -> crate::probe::RulesVerdict {
    crate::probe::RulesVerdict {
        source_ip: v.question.source.to_string(),
        admitted: v.outcome == Outcome::Allowed,
        summary: summary(v),
    }
}

/// Hooks for the cross-module tests in `rules::tests`.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub(crate) fn reply_probe_for(q: &Question) -> Probe<'_> {
        let p = Probe {
            direction: q.direction,
            protocol: q.protocol,
            port: q.port,
            icmp_type: q.icmp_type,
            icmp_code: q.icmp_code,
            remote: q.source,
            class: source_class(q.source),
            target: q.target.as_ref(),
        };
        reply_probe(&p).expect("a reply")
    }

    pub(crate) fn segments(sets: &[&RuleSet], reply: &Probe) -> Vec<(PortRange, Outcome)> {
        ephemeral_segments(sets, 0, reply)
            .into_iter()
            .map(|s| (s.0, s.1))
            .collect()
    }

    pub(crate) fn first_match_outcome(sets: &[&RuleSet], reply: &Probe, port: u16) -> Outcome {
        let mut p = reply.clone();
        p.port = Some(port);
        first_match(sets, 0, &p).outcome
    }
}
