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
    peers_text, traffic_text, Action, CtState, Direction, HostAddr, HostBackend, HostChainType,
    HostFamily, HostHook, HostMatch, HostRule, HostTable, HostTarget, Peer, PortMatch, PortRange,
    Protocol, Rule, RuleSet, RuleSetKind,
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
    /// Host firewall: the interface the traffic arrives on (`eth0`), for rules that match
    /// `-i`/`iifname`. Without it such rules make the answer `Unknown` (except `lo` and
    /// Docker's bridges, which a remote source never arrives on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Host firewall: the question's port is a Docker published port forwarded to this
    /// container address and port (`172.17.0.2:80`). Used when the loaded rules have no
    /// DNAT rule for it (only the filter table was loaded, or nft hides the target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub published_to: Option<std::net::SocketAddr>,
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
    /// Unknown: no rule set was given (or none for the question's address family).
    NoRuleSets,
    /// Host firewall: a DROP or REJECT rule matches before anything accepts.
    HostFirewallRule,
    /// Host firewall: no rule decides, so the base chain's policy (DROP) applies.
    HostChainPolicy,
    /// Unknown: a rule that could decide uses a match or target Vantage does not
    /// evaluate (iptables `-m recent`, `-m limit`, `-m set`, nft `limit`, `xt`, `NFQUEUE`).
    UnsupportedMatch,
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
            Self::HostFirewallRule => "HOST_FIREWALL_RULE",
            Self::HostChainPolicy => "HOST_CHAIN_POLICY",
            Self::UnsupportedMatch => "UNSUPPORTED_MATCH",
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
    /// Set when host firewall tables were evaluated: the path the packet takes (INPUT, or
    /// FORWARD for a Docker published port), how a refusal looks to the client, and the
    /// rules it passed on the way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostVerdict>,
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
    /// A host firewall match or target that is not evaluated.
    Unsupported,
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
        RuleSetKind::HostFirewall => format!("{} rule {}", set.id, rule.label),
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
    } else if kinds.contains(&UnknownKind::Unsupported) {
        ExplanationCode::UnsupportedMatch
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
    /// Host firewall layers: what the generic passes cannot compute.
    host: Option<Box<HostLayer>>,
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
        host: None,
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
        host: None,
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
                // Host tables never reach this first-match pass (see `host_layer`).
                (RuleSetKind::HostFirewall, _) => ExplanationCode::HostFirewallRule,
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
        host: None,
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
        .filter(|&i| {
            !matches!(
                sets[i].kind,
                RuleSetKind::AwsSecurityGroup | RuleSetKind::HostFirewall
            )
        })
        .map(|i| eval_first_match_layer(sets, i, &probe, &q))
        .collect();
    let sg_layer = (!sg_members.is_empty()).then(|| eval_sg_layer(sets, &sg_members, &probe, &q));
    // The host's own firewall is the last thing an inbound packet meets (after the cloud's
    // filters in front of the machine) and the first an outbound one does.
    let host_members: Vec<usize> = (0..sets.len())
        .filter(|&i| sets[i].kind == RuleSetKind::HostFirewall)
        .collect();
    let host = (!host_members.is_empty()).then(|| host_layer(sets, &host_members, &q));
    match q.direction {
        Direction::Inbound => {
            layers.append(&mut others);
            layers.extend(sg_layer);
            layers.extend(host);
        }
        Direction::Outbound => {
            layers.extend(host);
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
        if let (Outcome::Denied, Some(h)) = (l.outcome, &l.host) {
            nearest_rules.extend(h.nearest.iter().cloned());
            fixes.extend(h.fixes.iter().cloned());
        } else if l.outcome == Outcome::Denied {
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
        host: layers
            .iter()
            .find_map(|l| l.host.as_ref().map(|h| h.verdict.clone())),
    }
}

/// The verdict in one line, e.g. incident 1's `no inbound rule admits 203.0.113.7 on
/// tcp/443; rules admit only 198.51.100.0/24`.
pub fn summary(v: &Verdict) -> String {
    if let Some(h) = &v.host {
        let first = v.layers.iter().find(|l| l.outcome == v.outcome);
        let host_decided = first.is_some_and(|l| l.kind == RuleSetKind::HostFirewall);
        let forward = h.path == HostPath::Forward;
        if (v.outcome == Outcome::Denied && host_decided)
            || (v.outcome == Outcome::Allowed && forward)
        {
            if let Some(s) = host_summary(v, h) {
                return s;
            }
        }
    }
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

// ---------------------------------------------------------------------------------------
// Host firewalls (iptables / nftables)
//
// Netfilter semantics, as far as a connection attempt needs them: the packet enters at a
// hook (PREROUTING, then INPUT for the host itself or FORWARD once DNAT has sent it to a
// container), where every base chain of every table of its family runs in priority order;
// within a chain the first rule with a terminal target decides (ACCEPT ends that base
// chain, DROP/REJECT end everything), jumps descend and RETURN comes back, and a base
// chain that runs out applies its policy. The packet is the first of a new connection:
// conntrack state NEW, TCP flags SYN.
//
// What the question does not say (the host's own address, the input interface, the
// client's port) or what Vantage does not evaluate (`-m recent`, …) makes a rule "maybe".
// A maybe-rule splits the walk in two (it matched / it did not); the answer is certain
// only when every branch ends the same way, otherwise `Unknown`, naming the rules.

/// At most this many branches are followed; a ruleset with more maybe-rules on the path
/// is `Unknown` rather than slow.
const MAX_HOST_PATHS: usize = 256;
/// Deeper jump nesting than this is a loop (the kernel refuses loops; a hand-edited file
/// may not).
const MAX_JUMP_DEPTH: usize = 32;
/// A reason that belongs to no rule (the `rule` of its [`UnknownReason`] is `None`).
const NO_RULE: At = (usize::MAX, usize::MAX);

/// Docker's documentation, quoted where a published port is involved.
const DOCKER_DOCS_URL: &str = "https://docs.docker.com/engine/network/packet-filtering-firewalls/";

/// Which way through the host's netfilter hooks the packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostPath {
    /// To a socket on the host: PREROUTING, then INPUT.
    Input,
    /// Rewritten by DNAT (a Docker published port) to another address: PREROUTING, then
    /// FORWARD (`DOCKER-USER`, `DOCKER`). INPUT, and so ufw, never sees it.
    Forward,
    /// From the host: OUTPUT, then POSTROUTING.
    Output,
}

/// How a host firewall's refusal looks to the client: what a TCP probe measures, so the
/// probe result and the rule that caused it can be put side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostDenial {
    /// DROP: no answer at all; the client's connect times out.
    Dropped,
    /// REJECT with a TCP reset or ICMP port-unreachable (the default): "connection refused".
    Refused,
    /// REJECT with ICMP host/net-unreachable or admin/host-prohibited: "no route to host".
    Unreachable,
    /// REJECT whose reply the input does not show (nft's view of an iptables-nft target):
    /// an immediate error, refused or unreachable.
    Rejected,
}

impl HostDenial {
    /// What the agent's TCP probe reports for it (`None`: refused or unreachable).
    pub fn tcp_outcome(self) -> Option<crate::probe::TcpOutcome> {
        use crate::probe::TcpOutcome;
        match self {
            Self::Dropped => Some(TcpOutcome::TimedOut),
            Self::Refused => Some(TcpOutcome::Refused),
            Self::Unreachable => Some(TcpOutcome::Unreachable),
            Self::Rejected => None,
        }
    }

    /// What the client sees, for sentences.
    pub fn client_sees(self) -> &'static str {
        match self {
            Self::Dropped => "no answer: the client's connect times out",
            Self::Refused => "the client sees \"connection refused\" at once",
            Self::Unreachable => "the client sees \"no route to host\" at once",
            Self::Rejected => "the client gets an error at once (refused or unreachable)",
        }
    }

    /// The refusal a REJECT with this `--reject-with` (or nft reject type) produces.
    pub(crate) fn of_reject(with: Option<&str>) -> Self {
        // The default of both iptables and nft is ICMP port-unreachable.
        let Some(w) = with else {
            return Self::Refused;
        };
        let w = w.to_ascii_lowercase();
        if w.contains("reset") || w.contains("port-unreach") {
            Self::Refused
        } else if [
            "host-unreach",
            "net-unreach",
            "prohibited",
            "no-route",
            "addr-unreach",
        ]
        .iter()
        .any(|k| w.contains(k))
        {
            Self::Unreachable
        } else {
            Self::Rejected
        }
    }
}

/// What the host firewall layer concluded beyond the common verdict fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostVerdict {
    pub path: HostPath,
    /// Forward path: where DNAT sends the packet (`172.17.0.2:80`).
    pub dnat_to: Option<String>,
    /// The DNAT rule (nat table), when the loaded rules have it.
    pub dnat_rule: Option<RuleRef>,
    /// Forward path: what the INPUT chain alone would decide. People (and ufw) look there,
    /// but it does not apply to a published port.
    pub input_would: Option<Outcome>,
    /// Denied: dropped (the client times out) or rejected (refused / unreachable).
    pub denial: Option<HostDenial>,
    /// The rules the packet matched on the deciding path, in order: jumps, the verdict,
    /// and the policies that applied.
    pub trace: Vec<RuleRef>,
}

/// A host layer's extras for [`evaluate_refs`].
#[derive(Debug)]
struct HostLayer {
    verdict: HostVerdict,
    nearest: Vec<NearestRule>,
    fixes: Vec<RuleFix>,
}

/// What the rule to add must say; `iptables::accept_fix` and `nft::accept_fix` write it
/// in their syntax.
pub(crate) struct HostFixSpec<'a> {
    pub set: &'a RuleSet,
    pub table: &'a HostTable,
    pub chain: &'a str,
    pub protocol: Protocol,
    pub port: Option<u16>,
    pub icmp_type: Option<u8>,
    pub source: IpAddr,
    /// Forward path: the container's address (the rule sees the packet after DNAT).
    pub destination: Option<IpAddr>,
    /// Why this chain, in a sentence (prefixed to the fix's description).
    pub why: String,
}

/// What is known about an interface of the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Iface {
    /// The hook has none (no output interface on INPUT).
    Absent,
    Named(String),
    /// Some interface other than these; which one the question does not say.
    Other(Vec<String>),
}

/// What is known about an address of the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Addr {
    Known(IpAddr),
    /// The host's own address, not given; a packet from a remote address is never
    /// addressed to loopback (the kernel drops such martians).
    Host {
        loopback_possible: bool,
    },
}

/// The first packet of the connection, as each hook sees it.
#[derive(Debug, Clone)]
struct Pkt {
    v6: bool,
    src: Addr,
    dst: Addr,
    protocol: Protocol,
    dport: Option<u16>,
    icmp_type: Option<u8>,
    icmp_code: Option<u8>,
    iif: Iface,
    oif: Iface,
    /// The destination before DNAT.
    orig_dst: Addr,
    orig_dport: Option<u16>,
    /// Its destination was rewritten (conntrack's DNAT state).
    dnat: bool,
    /// The (current) destination is one of this host's addresses.
    local_dst: bool,
    local_src: bool,
}

/// The answer of one condition or rule.
#[derive(Debug)]
enum Tri {
    Yes,
    No,
    Maybe(Vec<(UnknownKind, String)>),
}

impl Tri {
    fn of(b: bool) -> Self {
        if b {
            Self::Yes
        } else {
            Self::No
        }
    }

    fn negate(self, negated: bool) -> Self {
        match (self, negated) {
            (Self::Yes, true) => Self::No,
            (Self::No, true) => Self::Yes,
            (t, _) => t,
        }
    }
}

/// A maybe-rule and which way this branch took it.
#[derive(Debug, Clone)]
struct Assume {
    at: At,
    matched: bool,
    action: Action,
    reasons: Vec<(UnknownKind, String)>,
}

/// How one walk through a chain (or a hook) ended.
#[derive(Debug, Clone)]
enum End {
    Accept(At),
    Drop(At),
    Reject(At, Option<String>),
    Dnat(At, Option<IpAddr>, Option<u16>),
    Redirect(Option<u16>),
    /// RETURN, or the end of a user chain: the caller continues.
    Return,
    Unknown(At, UnknownKind, String),
}

#[derive(Debug, Clone)]
struct Walk {
    end: End,
    assumed: Vec<Assume>,
    trace: Vec<At>,
}

/// One complete branch: its packet, path and decision.
#[derive(Debug, Clone)]
struct Branch {
    pkt: Pkt,
    path: HostPath,
    assumed: Vec<Assume>,
    trace: Vec<At>,
    /// ACCEPTs (rules and policies) on the decisive hook.
    accepted: Vec<At>,
    nat: Option<Nat>,
    /// Set when the branch ended: `None` while it still passes.
    end: Option<End>,
    /// The base chain (set, chain) where it ended.
    base: Option<(usize, String)>,
}

/// A destination rewrite decided in PREROUTING.
#[derive(Debug, Clone, Copy)]
enum Nat {
    /// `at` is `None` when the question supplied it (`published_to`); `addr` is `None`
    /// when the input hides it.
    Dnat {
        at: Option<At>,
        addr: Option<IpAddr>,
        port: Option<u16>,
    },
    Redirect,
}

/// The rule positions of one chain, and its policy rule.
#[derive(Debug, Default)]
struct ChainRules {
    rules: Vec<usize>,
    policy: Option<usize>,
}

struct HostEval<'a> {
    sets: &'a [&'a RuleSet],
    /// Per set index: chain name → its rules.
    chains: BTreeMap<usize, BTreeMap<&'a str, ChainRules>>,
    forks: usize,
    notes: Vec<String>,
    /// (subnet, bridge) from SNAT/MASQUERADE rules (`-s 172.17.0.0/16 ! -o docker0`), then
    /// from accept rules naming a destination and an output interface.
    bridges: Vec<(HostAddr, String)>,
}

fn host_rule<'a>(sets: &[&'a RuleSet], at: At) -> Option<(&'a Rule, &'a HostRule)> {
    let r = sets.get(at.0)?.rules.get(at.1)?;
    Some((r, r.host.as_ref()?))
}

/// Whether interface `name` matches an iptables (`eth+`) or nft (`eth*`) pattern.
fn iface_matches(pattern: &str, name: &str) -> bool {
    match pattern
        .strip_suffix('+')
        .or_else(|| pattern.strip_suffix('*'))
    {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn addrs_text(addrs: &[HostAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn ranges_covers(ranges: &[PortRange], lo: u16, hi: u16) -> bool {
    // Whether the union of `ranges` covers lo..=hi.
    let mut sorted: Vec<PortRange> = ranges.to_vec();
    sorted.sort_by_key(|r| r.from);
    let mut next = u32::from(lo);
    for r in sorted {
        if u32::from(r.from) > next {
            break;
        }
        next = next.max(u32::from(r.to) + 1);
    }
    next > u32::from(hi)
}

impl<'a> HostEval<'a> {
    fn new(sets: &'a [&'a RuleSet], members: &[usize]) -> Self {
        let mut chains: BTreeMap<usize, BTreeMap<&'a str, ChainRules>> = BTreeMap::new();
        let mut bridges = Vec::new();
        let mut weak = Vec::new();
        for &si in members {
            let per = chains.entry(si).or_default();
            if let Some(t) = &sets[si].host {
                for c in &t.chains {
                    per.entry(c.name.as_str()).or_default();
                }
            }
            for r in &sets[si].rules {
                let Some(h) = &r.host else { continue };
                let entry = per.entry(h.chain.as_str()).or_default();
                if r.implicit {
                    entry.policy = Some(r.position);
                } else {
                    entry.rules.push(r.position);
                }
                // Docker's own accept rules (`-d 172.17.0.2/32 ! -i docker0 -o docker0`) say
                // which bridge a container is behind, when no MASQUERADE rule does.
                if matches!(h.target, HostTarget::Accept) {
                    let dst = h.matches.iter().find_map(|m| match m {
                        HostMatch::Destination {
                            addrs,
                            negated: false,
                        } => Some(addrs.clone()),
                        _ => None,
                    });
                    let out = h.matches.iter().find_map(|m| match m {
                        HostMatch::OutInterface {
                            name,
                            negated: false,
                        } if !name.ends_with('+') && !name.ends_with('*') => Some(name.clone()),
                        _ => None,
                    });
                    if let (Some(addrs), Some(name)) = (dst, out) {
                        weak.extend(addrs.into_iter().map(|a| (a, name.clone())));
                    }
                }
                if matches!(h.target, HostTarget::Snat { .. }) {
                    let src = h.matches.iter().find_map(|m| match m {
                        HostMatch::Source {
                            addrs,
                            negated: false,
                        } => Some(addrs.clone()),
                        _ => None,
                    });
                    let out = h.matches.iter().find_map(|m| match m {
                        HostMatch::OutInterface {
                            name,
                            negated: true,
                        } if !name.ends_with('+') && !name.ends_with('*') => Some(name.clone()),
                        _ => None,
                    });
                    if let (Some(addrs), Some(name)) = (src, out) {
                        bridges.extend(addrs.into_iter().map(|a| (a, name.clone())));
                    }
                }
            }
        }
        // MASQUERADE subnets first: they cover every container of the bridge.
        bridges.extend(weak);
        Self {
            sets,
            chains,
            forks: 0,
            notes: Vec::new(),
            bridges,
        }
    }

    fn note(&mut self, n: String) {
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    fn bridge_of(&self, ip: IpAddr) -> Option<&str> {
        self.bridges
            .iter()
            .find(|(a, _)| a.contains(ip))
            .map(|(_, b)| b.as_str())
    }

    fn bridge_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.bridges.iter().map(|(_, b)| b.clone()).collect();
        v.sort();
        v.dedup();
        v
    }

    fn name(&self, at: At) -> String {
        match host_rule(self.sets, at) {
            Some((r, _)) => format!("{} {}", self.sets[at.0].id, r.label),
            None => "a rule".to_owned(),
        }
    }

    fn addr_in(&mut self, a: Addr, addrs: &[HostAddr], at: At, what: &str) -> Tri {
        match a {
            Addr::Known(ip) => Tri::of(addrs.iter().any(|x| x.contains(ip))),
            Addr::Host { loopback_possible } => {
                if addrs.iter().any(HostAddr::is_everything) {
                    return Tri::Yes;
                }
                if !loopback_possible && addrs.iter().all(HostAddr::is_loopback_only) {
                    self.note(
                        "A packet from a remote address is never addressed to a loopback \
                         address (the kernel drops such packets), so rules for 127.0.0.0/8 \
                         or ::1 do not match it."
                            .to_owned(),
                    );
                    return Tri::No;
                }
                Tri::Maybe(vec![(
                    UnknownKind::Target,
                    format!(
                        "{} applies only to {what} {}; the host's own address was not given \
                         (set the target address)",
                        self.name(at),
                        addrs_text(addrs)
                    ),
                )])
            }
        }
    }

    fn iface(&mut self, known: &Iface, pattern: &str, at: At, dir: &str) -> Tri {
        match known {
            Iface::Absent => Tri::No,
            Iface::Named(n) => Tri::of(iface_matches(pattern, n)),
            Iface::Other(not) => {
                if not.iter().any(|n| n == pattern) {
                    return Tri::No;
                }
                Tri::Maybe(vec![(
                    UnknownKind::Target,
                    format!(
                        "{} applies only to traffic {dir} interface {pattern}; the question \
                         does not say which interface it uses (set the target interface)",
                        self.name(at)
                    ),
                )])
            }
        }
    }

    fn source_port(&mut self, ranges: &[PortRange], at: At) -> Tri {
        // A client connects from an ephemeral port; which one is not known.
        if ranges_covers(ranges, EPHEMERAL_PORTS.from, EPHEMERAL_PORTS.to) {
            return Tri::Yes;
        }
        if !ranges.iter().any(|r| r.to >= EPHEMERAL_PORTS.from) {
            self.note(format!(
                "Clients connect from ephemeral ports ({EPHEMERAL_PORTS}): source-port rules \
                 for lower ports (such as DNS replies from port 53) are taken not to match a \
                 new connection."
            ));
            return Tri::No;
        }
        Tri::Maybe(vec![(
            UnknownKind::ClientPort,
            format!(
                "{} applies only to source ports {}; the client's source port is not known",
                self.name(at),
                super::model::ranges_text(ranges)
            ),
        )])
    }

    fn cond(&mut self, m: &HostMatch, pkt: &Pkt, at: At) -> Tri {
        match m {
            HostMatch::Protocol { protocols, negated } => {
                Tri::of(protocols.iter().any(|p| p.covers(pkt.protocol))).negate(*negated)
            }
            HostMatch::Source { addrs, negated } => self
                .addr_in(pkt.src, addrs, at, "traffic from")
                .negate(*negated),
            HostMatch::Destination { addrs, negated } => self
                .addr_in(pkt.dst, addrs, at, "traffic to")
                .negate(*negated),
            HostMatch::OrigDestination { addrs, negated } => self
                .addr_in(pkt.orig_dst, addrs, at, "connections to")
                .negate(*negated),
            HostMatch::DestPort { ranges, negated } => match pkt.dport {
                Some(p) => Tri::of(ranges.iter().any(|r| r.contains(p))).negate(*negated),
                // Port matches need a protocol with ports (`th dport` in nft).
                None => Tri::No,
            },
            HostMatch::OrigDestPort { ranges, negated } => match pkt.orig_dport {
                Some(p) => Tri::of(ranges.iter().any(|r| r.contains(p))).negate(*negated),
                None => Tri::No,
            },
            HostMatch::SourcePort { ranges, negated } => {
                if !pkt.protocol.has_ports() {
                    return Tri::No;
                }
                self.source_port(ranges, at).negate(*negated)
            }
            HostMatch::EitherPort { ranges, negated } => match pkt.dport {
                Some(p) if ranges.iter().any(|r| r.contains(p)) => Tri::Yes.negate(*negated),
                Some(_) => self.source_port(ranges, at).negate(*negated),
                None => Tri::No,
            },
            HostMatch::InInterface { name, negated } => {
                let known = pkt.iif.clone();
                self.iface(&known, name, at, "arriving on").negate(*negated)
            }
            HostMatch::OutInterface { name, negated } => {
                let known = pkt.oif.clone();
                self.iface(&known, name, at, "leaving through")
                    .negate(*negated)
            }
            HostMatch::CtState { states, negated } => Tri::of(
                states
                    .iter()
                    .any(|s| *s == CtState::New || (*s == CtState::Dnat && pkt.dnat)),
            )
            .negate(*negated),
            HostMatch::Family { ipv6 } => Tri::of(*ipv6 == pkt.v6),
            HostMatch::IcmpType { types, negated } => {
                if !pkt.protocol.is_icmp() {
                    return Tri::No;
                }
                let Some(t) = pkt.icmp_type else {
                    return Tri::Maybe(vec![(
                        UnknownKind::Question,
                        format!(
                            "{} applies only to some ICMP types; the question names none",
                            self.name(at)
                        ),
                    )]);
                };
                let mut unknown_code = false;
                let mut hit = false;
                for tc in types.iter().filter(|tc| tc.icmp_type == t) {
                    match (tc.code, pkt.icmp_code) {
                        (None, _) => hit = true,
                        (Some(c), Some(pc)) => hit |= c == pc,
                        (Some(_), None) => unknown_code = true,
                    }
                }
                if hit {
                    Tri::Yes.negate(*negated)
                } else if unknown_code {
                    Tri::Maybe(vec![(
                        UnknownKind::Question,
                        format!(
                            "{} applies only to some ICMP codes; the question names none",
                            self.name(at)
                        ),
                    )])
                } else {
                    Tri::No.negate(*negated)
                }
            }
            HostMatch::TcpFlags {
                mask,
                comp,
                any,
                negated,
            } => {
                if pkt.protocol != Protocol::Tcp {
                    return Tri::No;
                }
                // A connection attempt's first packet carries SYN alone.
                const SYN: u8 = 0x02;
                let hit = if *any {
                    SYN & mask != 0
                } else {
                    SYN & mask == *comp
                };
                Tri::of(hit).negate(*negated)
            }
            HostMatch::AddrType {
                source,
                types,
                negated,
            } => {
                let local = if *source {
                    pkt.local_src
                } else {
                    pkt.local_dst
                };
                let mut hit = false;
                for t in types {
                    match t.to_ascii_uppercase().as_str() {
                        "LOCAL" => hit |= local,
                        "UNICAST" => hit |= !local,
                        "BROADCAST" | "MULTICAST" | "ANYCAST" | "BLACKHOLE" | "UNREACHABLE"
                        | "PROHIBIT" | "THROW" | "NAT" | "XRESOLVE" | "UNSPEC" => {}
                        other => {
                            return Tri::Maybe(vec![(
                                UnknownKind::Unsupported,
                                format!(
                                    "{}: address type `{other}` is not evaluated",
                                    self.name(at)
                                ),
                            )])
                        }
                    }
                }
                Tri::of(hit).negate(*negated)
            }
            HostMatch::PacketType { types, negated } => Tri::of(
                types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case("host") || t.eq_ignore_ascii_case("unicast")),
            )
            .negate(*negated),
            // A connection attempt's first packet is not a later fragment.
            HostMatch::Fragment { negated } => Tri::No.negate(*negated),
            HostMatch::ExtensionHeader { .. } => Tri::No,
            HostMatch::Unsupported { what } => Tri::Maybe(vec![(
                UnknownKind::Unsupported,
                format!("{}: {what} is not evaluated", self.name(at)),
            )]),
        }
    }

    fn rule_matches(&mut self, h: &HostRule, pkt: &Pkt, at: At) -> Tri {
        let mut maybes = Vec::new();
        for m in &h.matches {
            match self.cond(m, pkt, at) {
                Tri::No => return Tri::No,
                Tri::Yes => {}
                Tri::Maybe(r) => maybes.extend(r),
            }
        }
        if maybes.is_empty() {
            Tri::Yes
        } else {
            Tri::Maybe(maybes)
        }
    }

    /// Walks `chain` of set `si` from rule index `from`. Each branch owns its assumptions
    /// and trace, so they are passed by value rather than kept in `self`.
    #[allow(clippy::too_many_arguments)]
    fn run_chain(
        &mut self,
        si: usize,
        chain: &str,
        from: usize,
        pkt: &Pkt,
        depth: usize,
        mut assumed: Vec<Assume>,
        trace: Vec<At>,
    ) -> Vec<Walk> {
        let rules: Vec<usize> = self
            .chains
            .get(&si)
            .and_then(|c| c.get(chain))
            .map(|c| c.rules.clone())
            .unwrap_or_default();
        let mut i = from;
        while i < rules.len() {
            let at = (si, rules[i]);
            let Some((rule, h)) = host_rule(self.sets, at) else {
                i += 1;
                continue;
            };
            // LOG, MARK, counters: whether they match changes nothing.
            if !h.target.is_terminal() {
                i += 1;
                continue;
            }
            match self.rule_matches(h, pkt, at) {
                Tri::No => i += 1,
                Tri::Yes => {
                    return self.apply(si, chain, i, at, &h.target, pkt, depth, assumed, trace)
                }
                Tri::Maybe(reasons) => {
                    self.forks += 1;
                    if self.forks > MAX_HOST_PATHS {
                        return vec![Walk {
                            end: End::Unknown(
                                at,
                                UnknownKind::Unsupported,
                                format!(
                                    "more than {MAX_HOST_PATHS} combinations of rules that \
                                     may or may not match; the answer depends on them"
                                ),
                            ),
                            assumed,
                            trace,
                        }];
                    }
                    let mut taken = assumed.clone();
                    taken.push(Assume {
                        at,
                        matched: true,
                        action: rule.action,
                        reasons: reasons.clone(),
                    });
                    let mut out = self.apply(
                        si,
                        chain,
                        i,
                        at,
                        &h.target,
                        pkt,
                        depth,
                        taken,
                        trace.clone(),
                    );
                    assumed.push(Assume {
                        at,
                        matched: false,
                        action: rule.action,
                        reasons,
                    });
                    out.extend(self.run_chain(si, chain, i + 1, pkt, depth, assumed, trace));
                    return out;
                }
            }
        }
        vec![Walk {
            end: End::Return,
            assumed,
            trace,
        }]
    }

    /// What a matching rule's target does, continuing the walk where it falls through.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        si: usize,
        chain: &str,
        i: usize,
        at: At,
        target: &HostTarget,
        pkt: &Pkt,
        depth: usize,
        assumed: Vec<Assume>,
        mut trace: Vec<At>,
    ) -> Vec<Walk> {
        trace.push(at);
        let done = |end: End, assumed: Vec<Assume>, trace: Vec<At>| {
            vec![Walk {
                end,
                assumed,
                trace,
            }]
        };
        match target {
            HostTarget::Accept | HostTarget::Snat { .. } => done(End::Accept(at), assumed, trace),
            HostTarget::Drop => done(End::Drop(at), assumed, trace),
            HostTarget::Reject { with } => done(End::Reject(at, with.clone()), assumed, trace),
            HostTarget::Return => done(End::Return, assumed, trace),
            HostTarget::Dnat { addr, port } => done(End::Dnat(at, *addr, *port), assumed, trace),
            HostTarget::Redirect { port } => done(End::Redirect(*port), assumed, trace),
            HostTarget::Other { name } => {
                let why = format!("{}: target `{name}` is not evaluated", self.name(at));
                done(
                    End::Unknown(at, UnknownKind::Unsupported, why),
                    assumed,
                    trace,
                )
            }
            // Skipped before matching.
            HostTarget::Continue { .. } => done(End::Return, assumed, trace),
            HostTarget::Jump { chain: to } | HostTarget::Goto { chain: to } => {
                if depth >= MAX_JUMP_DEPTH {
                    let why = format!(
                        "{}: jumps nest deeper than {MAX_JUMP_DEPTH} chains (a loop?)",
                        self.name(at)
                    );
                    return done(
                        End::Unknown(at, UnknownKind::Unsupported, why),
                        assumed,
                        trace,
                    );
                }
                let sub = self.run_chain(si, to, 0, pkt, depth + 1, assumed, trace);
                if matches!(target, HostTarget::Goto { .. }) {
                    // A return from a goto'd chain returns from this one too.
                    return sub;
                }
                let mut out = Vec::new();
                for w in sub {
                    match w.end {
                        End::Return => out.extend(self.run_chain(
                            si,
                            chain,
                            i + 1,
                            pkt,
                            depth,
                            w.assumed,
                            w.trace,
                        )),
                        _ => out.push(w),
                    }
                }
                out
            }
        }
    }

    /// Runs one base chain; its policy applies where the walk runs out.
    fn run_base(&mut self, si: usize, chain: &str, b: &Branch) -> Vec<Walk> {
        let walks = self.run_chain(si, chain, 0, &b.pkt, 0, b.assumed.clone(), b.trace.clone());
        let policy = self
            .chains
            .get(&si)
            .and_then(|c| c.get(chain))
            .and_then(|c| c.policy);
        walks
            .into_iter()
            .map(|mut w| {
                if let End::Return = w.end {
                    match policy {
                        Some(p) => {
                            let at = (si, p);
                            let drop = host_rule(self.sets, at)
                                .is_some_and(|(_, h)| h.target == HostTarget::Drop);
                            w.trace.push(at);
                            w.end = if drop { End::Drop(at) } else { End::Accept(at) };
                        }
                        // Without a listed policy a chain accepts (nft's default).
                        None => w.end = End::Accept(NO_RULE),
                    }
                }
                w
            })
            .collect()
    }

    /// The base chains on `hook` of the tables that see `pkt`'s family, in priority order.
    fn base_chains(
        &self,
        hook: HostHook,
        v6: bool,
        types: &[HostChainType],
    ) -> Vec<(usize, String)> {
        let mut out: Vec<(i32, usize, String)> = Vec::new();
        for &si in self.chains.keys() {
            let Some(t) = &self.sets[si].host else {
                continue;
            };
            let family_ok = match t.family {
                HostFamily::Inet => true,
                HostFamily::Ipv4 => !v6,
                HostFamily::Ipv6 => v6,
            };
            if !family_ok {
                continue;
            }
            for c in &t.chains {
                if c.hook == Some(hook) && types.contains(&c.chain_type) {
                    out.push((c.priority, si, c.name.clone()));
                }
            }
        }
        out.sort_by_key(|(p, si, _)| (*p, *si));
        out.into_iter().map(|(_, si, c)| (si, c)).collect()
    }

    /// Passes every still-open branch through the base chains of `hook`.
    fn run_hook(
        &mut self,
        hook: HostHook,
        types: &[HostChainType],
        branches: Vec<Branch>,
        decisive: bool,
    ) -> Vec<Branch> {
        let mut out = Vec::new();
        for b in branches {
            if b.end.is_some() {
                out.push(b);
                continue;
            }
            let chains = self.base_chains(hook, b.pkt.v6, types);
            let mut open = vec![b];
            for (si, chain) in chains {
                let nat = self.sets[si]
                    .host
                    .as_ref()
                    .and_then(|t| t.chain(&chain))
                    .is_some_and(|c| c.chain_type == HostChainType::Nat);
                let mut next = Vec::new();
                for b in open {
                    if b.end.is_some() || (nat && b.nat.is_some()) {
                        // Ended, or its NAT is already decided (one binding per connection).
                        next.push(b);
                        continue;
                    }
                    for w in self.run_base(si, &chain, &b) {
                        let mut nb = b.clone();
                        nb.assumed = w.assumed;
                        nb.trace = w.trace;
                        match w.end {
                            End::Accept(at) => {
                                if decisive && at != NO_RULE {
                                    nb.accepted.push(at);
                                }
                            }
                            End::Dnat(at, addr, port) => {
                                nb.nat = Some(Nat::Dnat {
                                    at: Some(at),
                                    addr,
                                    port,
                                });
                            }
                            End::Redirect(port) => {
                                // To a local port: still the INPUT path.
                                nb.nat = Some(Nat::Redirect);
                                nb.pkt.dport = port.or(nb.pkt.dport);
                            }
                            End::Return => {}
                            end @ (End::Drop(_) | End::Reject(..) | End::Unknown(..)) => {
                                nb.end = Some(end);
                                nb.base = Some((si, chain.clone()));
                            }
                        }
                        next.push(nb);
                    }
                }
                open = next;
            }
            out.extend(open);
        }
        out
    }

    fn initial(&self, q: &Question) -> Pkt {
        let remote = q.source;
        let v6 = remote.is_ipv6();
        let target = q.target.as_ref();
        let host_addr = match target.and_then(|t| t.address) {
            Some(a) => Addr::Known(a.to_canonical()),
            None => Addr::Host {
                loopback_possible: remote.is_loopback(),
            },
        };
        let given = target.and_then(|t| t.interface.clone());
        let remote_iface = match given {
            Some(n) => Iface::Named(n),
            None if remote.is_loopback() => Iface::Named("lo".to_owned()),
            None => match self.bridge_of(remote) {
                Some(b) => Iface::Named(b.to_owned()),
                None => {
                    let mut not = vec!["lo".to_owned()];
                    not.extend(self.bridge_names());
                    Iface::Other(not)
                }
            },
        };
        let (src, dst, iif, oif) = match q.direction {
            Direction::Inbound => (Addr::Known(remote), host_addr, remote_iface, Iface::Absent),
            Direction::Outbound => (host_addr, Addr::Known(remote), Iface::Absent, remote_iface),
        };
        let inbound = q.direction == Direction::Inbound;
        Pkt {
            v6,
            src,
            dst,
            protocol: q.protocol,
            dport: q.port,
            icmp_type: q.icmp_type.filter(|_| q.protocol.is_icmp()),
            icmp_code: q.icmp_code.filter(|_| q.protocol.is_icmp()),
            iif,
            oif,
            orig_dst: dst,
            orig_dport: q.port,
            dnat: false,
            local_dst: inbound || remote.is_loopback(),
            local_src: !inbound || remote.is_loopback(),
        }
    }
}

fn start_branch(pkt: Pkt, path: HostPath) -> Branch {
    Branch {
        pkt,
        path,
        assumed: Vec::new(),
        trace: Vec::new(),
        accepted: Vec::new(),
        nat: None,
        end: None,
        base: None,
    }
}

/// The decision of a finished branch.
#[derive(Debug, Clone, PartialEq)]
enum Decided {
    Allowed,
    Denied(At, HostDenial),
    Unknown,
}

fn decided(b: &Branch) -> Decided {
    match &b.end {
        None => Decided::Allowed,
        Some(End::Drop(at)) => Decided::Denied(*at, HostDenial::Dropped),
        Some(End::Reject(at, with)) => Decided::Denied(*at, HostDenial::of_reject(with.as_deref())),
        Some(End::Unknown(..)) => Decided::Unknown,
        // Not produced as branch ends.
        Some(End::Accept(_) | End::Return | End::Dnat(..) | End::Redirect(..)) => Decided::Allowed,
    }
}

/// Walks the question's packet through the hooks: PREROUTING (where DNAT may send it to a
/// container), then INPUT or FORWARD (and POSTROUTING), or OUTPUT for outbound questions.
/// Returns every branch, and for published ports what INPUT alone would have decided.
fn host_walk(
    ev: &mut HostEval,
    sets: &[&RuleSet],
    relevant: &[usize],
    q: &Question,
) -> (Vec<Branch>, Option<Outcome>) {
    let pkt = ev.initial(q);
    let filter = [HostChainType::Filter];
    let mut input_would = None;
    if q.direction == Direction::Outbound {
        let b = ev.run_hook(
            HostHook::Output,
            &filter,
            vec![start_branch(pkt, HostPath::Output)],
            true,
        );
        return (ev.run_hook(HostHook::Postrouting, &filter, b, false), None);
    }
    let pre = ev.run_hook(
        HostHook::Prerouting,
        &[HostChainType::Filter, HostChainType::Nat],
        vec![start_branch(pkt.clone(), HostPath::Input)],
        false,
    );
    let published = q.target.as_ref().and_then(|t| t.published_to);
    let mut to_input = Vec::new();
    let mut to_forward = Vec::new();
    for mut b in pre {
        if b.end.is_some() {
            to_input.push(b);
            continue;
        }
        if b.nat.is_none() {
            if let Some(sa) = published {
                b.nat = Some(Nat::Dnat {
                    at: None,
                    addr: Some(sa.ip()),
                    port: Some(sa.port()),
                });
                ev.note(format!(
                    "The loaded rules have no DNAT rule for {}; the question says the port \
                     is published to {sa}, so it is evaluated as Docker forwards it.",
                    q.traffic()
                ));
            }
        }
        match b.nat {
            Some(Nat::Dnat {
                addr: Some(addr),
                port,
                ..
            }) if !addr.is_loopback() => {
                b.path = HostPath::Forward;
                b.pkt.orig_dst = b.pkt.dst;
                b.pkt.orig_dport = b.pkt.dport;
                b.pkt.dst = Addr::Known(addr.to_canonical());
                b.pkt.dport = port.or(b.pkt.dport);
                b.pkt.dnat = true;
                b.pkt.local_dst = false;
                b.pkt.oif = match ev.bridge_of(addr) {
                    Some(br) => Iface::Named(br.to_owned()),
                    None => Iface::Other(vec!["lo".to_owned()]),
                };
                to_forward.push(b);
            }
            Some(Nat::Dnat {
                addr: Some(addr),
                port,
                ..
            }) => {
                // DNAT to a loopback address: still delivered locally.
                b.pkt.dst = Addr::Known(addr);
                b.pkt.dport = port.or(b.pkt.dport);
                b.pkt.dnat = true;
                to_input.push(b);
            }
            Some(Nat::Dnat { at, addr: None, .. }) => {
                let at = at.unwrap_or(NO_RULE);
                b.path = HostPath::Forward;
                let why = format!(
                    "{} sends {} elsewhere with DNAT, but its destination is not shown \
                     (nft prints iptables-nft's DNAT as an `xt` target): load \
                     `iptables-save` output, or give the container's address and port \
                     (published_to)",
                    ev.name(at),
                    q.traffic()
                );
                b.end = Some(End::Unknown(at, UnknownKind::Reference, why));
                to_input.push(b);
            }
            Some(Nat::Redirect) | None => to_input.push(b),
        }
    }
    if !to_forward.is_empty() {
        // What INPUT alone would say, for the "ufw says blocked" confusion.
        let mut probe = HostEval::new(sets, relevant);
        let alone = probe.run_hook(
            HostHook::Input,
            &filter,
            vec![start_branch(pkt.clone(), HostPath::Input)],
            true,
        );
        let ds: Vec<Decided> = alone.iter().map(decided).collect();
        input_would = Some(if ds.iter().all(|d| *d == Decided::Allowed) {
            Outcome::Allowed
        } else if ds.iter().all(|d| matches!(d, Decided::Denied(..))) {
            Outcome::Denied
        } else {
            Outcome::Unknown
        });
    }
    let inp = ev.run_hook(HostHook::Input, &filter, to_input, true);
    let fwd = ev.run_hook(HostHook::Forward, &filter, to_forward, true);
    let fwd = ev.run_hook(HostHook::Postrouting, &filter, fwd, false);
    let mut finished = inp;
    finished.extend(fwd);
    (finished, input_would)
}

/// Evaluates the question against the host firewall tables `members` of `sets`.
fn host_layer(sets: &[&RuleSet], members: &[usize], q: &Question) -> LayerResult {
    let v6 = q.source.is_ipv6();
    let family = if v6 { "IPv6" } else { "IPv4" };
    let relevant: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| {
            sets[i]
                .host
                .as_ref()
                .is_some_and(|t| t.family.covers(q.source))
        })
        .collect();
    let title = if relevant.len() == 1 {
        format!("host firewall ({})", sets[relevant[0]].id)
    } else {
        format!(
            "host firewall ({})",
            relevant
                .iter()
                .map(|&i| sets[i].id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut result = LayerResult {
        kind: RuleSetKind::HostFirewall,
        members: relevant.clone(),
        outcome: Outcome::Unknown,
        code: ExplanationCode::NoRuleSets,
        deciding: Vec::new(),
        unknown: Vec::new(),
        notes: Vec::new(),
        explanation: String::new(),
        nothing_matched: false,
        reply_refused: None,
        host: None,
    };
    let what = format!("{} on {}", q.source, q.traffic());
    let mut verdict = HostVerdict {
        path: match q.direction {
            Direction::Inbound => HostPath::Input,
            Direction::Outbound => HostPath::Output,
        },
        dnat_to: None,
        dnat_rule: None,
        input_would: None,
        denial: None,
        trace: Vec::new(),
    };
    if relevant.is_empty() {
        let why = format!(
            "no {family} host firewall table is loaded ({}), so the host's filtering of {} is \
             not known",
            if v6 {
                "load `ip6tables-save` or `nft -j list ruleset`"
            } else {
                "load `iptables-save` or `nft -j list ruleset`"
            },
            q.source
        );
        result.explanation = format!("The {why}.");
        result.unknown.push(Pending {
            at: NO_RULE,
            action: Action::Allow,
            reasons: vec![(UnknownKind::Reference, why)],
        });
        result.host = Some(Box::new(HostLayer {
            verdict,
            nearest: Vec::new(),
            fixes: Vec::new(),
        }));
        return result;
    }

    let mut ev = HostEval::new(sets, &relevant);
    let (finished, input_would) = host_walk(&mut ev, sets, &relevant, q);

    // Combine the branches.
    let decisions: Vec<Decided> = finished.iter().map(decided).collect();
    let all_allowed = decisions.iter().all(|d| *d == Decided::Allowed);
    let all_denied = decisions.iter().all(|d| matches!(d, Decided::Denied(..)));
    let principal_idx = (0..finished.len())
        .min_by_key(|&i| finished[i].assumed.iter().filter(|a| a.matched).count())
        .unwrap_or(0);
    let Some(principal) = finished.get(principal_idx).cloned() else {
        result.explanation = format!("The {title} has no chain that {what} passes.");
        result.outcome = Outcome::Allowed;
        result.code = ExplanationCode::Allowed;
        return result;
    };
    verdict.path = principal.path;
    verdict.input_would = input_would.filter(|_| principal.path == HostPath::Forward);
    if let Some(Nat::Dnat {
        at: dat,
        addr,
        port,
    }) = principal.nat
    {
        if principal.path == HostPath::Forward {
            verdict.dnat_to = addr.map(|a| match (a, port.or(q.port)) {
                (IpAddr::V6(a6), Some(p)) => format!("[{a6}]:{p}"),
                (a, Some(p)) => format!("{a}:{p}"),
                (a, None) => a.to_string(),
            });
            verdict.dnat_rule =
                dat.and_then(|at| host_rule(sets, at).map(|(r, _)| RuleRef::new(sets[at.0], r)));
        }
    }
    verdict.trace = principal
        .trace
        .iter()
        .filter_map(|&at| host_rule(sets, at).map(|(r, _)| RuleRef::new(sets[at.0], r)))
        .collect();

    let path_words = match principal.path {
        HostPath::Input => "on the INPUT path",
        HostPath::Forward => "on the FORWARD path",
        HostPath::Output => "on the OUTPUT path",
    };
    let mut explanation = String::new();
    if principal.path == HostPath::Forward {
        explanation.push_str(&docker_paragraph(q, &verdict));
        explanation.push(' ');
    }
    let rule_text = |at: At| {
        host_rule(sets, at).map_or_else(String::new, |(r, h)| format!("{} ({})", r.label, h.text))
    };
    let mut nearest_rules = Vec::new();
    let mut fixes = Vec::new();
    if all_allowed {
        result.outcome = Outcome::Allowed;
        result.code = ExplanationCode::Allowed;
        let explicit: Vec<At> = principal
            .accepted
            .iter()
            .copied()
            .filter(|&at| host_rule(sets, at).is_some_and(|(r, _)| !r.implicit))
            .collect();
        result.deciding = if explicit.is_empty() {
            principal.accepted.last().copied().into_iter().collect()
        } else {
            explicit
        };
        if result.deciding.is_empty() {
            explanation.push_str(&format!(
                "No base chain of the {title} filters {what} {path_words}, so it passes."
            ));
        } else {
            explanation.push_str(&format!(
                "The {title} accepts {what} {path_words}: {}.",
                result
                    .deciding
                    .iter()
                    .map(|&at| rule_text(at))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    } else if all_denied {
        result.outcome = Outcome::Denied;
        let Decided::Denied(at, denial) = decided(&principal) else {
            return result;
        };
        verdict.denial = Some(denial);
        let denials: Vec<HostDenial> = decisions
            .iter()
            .filter_map(|d| match d {
                Decided::Denied(_, k) => Some(*k),
                _ => None,
            })
            .collect();
        if denials.iter().any(|k| *k != denial) {
            ev.note(
                "Depending on rules that may or may not match, the packet is dropped or \
                 rejected: the client may see a timeout or an error."
                    .to_owned(),
            );
        }
        result.deciding = vec![at];
        let policy = host_rule(sets, at).is_some_and(|(r, _)| r.implicit);
        result.nothing_matched = policy;
        let (set_i, chain) = principal.base.clone().unwrap_or((at.0, String::new()));
        if policy {
            result.code = ExplanationCode::HostChainPolicy;
            explanation.push_str(&format!(
                "No rule of the {title} accepts {what} {path_words}, so chain {chain}'s policy \
                 applies: {}; {}.",
                rule_text(at),
                denial.client_sees()
            ));
            nearest_rules = host_nearest(&mut ev, sets, &relevant, &principal.pkt);
        } else {
            result.code = ExplanationCode::HostFirewallRule;
            let verb = if denial == HostDenial::Dropped {
                "drops"
            } else {
                "rejects"
            };
            explanation.push_str(&format!(
                "The {title} {verb} {what} {path_words}: {} matches first; {}.",
                rule_text(at),
                denial.client_sees()
            ));
        }
        fixes = host_fixes(sets, set_i, &chain, &principal, q);
    } else {
        result.outcome = Outcome::Unknown;
        let pend = doubts(&finished, &decisions);
        result.code = unknown_code(&pend);
        explanation.push_str(&format!(
            "Whether the {title} accepts {what} {path_words} depends on rules that may or may \
             not match it: {}.",
            pend.iter()
                .flat_map(|p| p.reasons.iter().map(|(_, r)| r.clone()))
                .collect::<Vec<_>>()
                .join("; ")
        ));
        result.unknown = pend;
    }
    // netdev ingress chains run before everything else and are not walked: one that can
    // drop makes an "allowed" uncertain (an accept there changes nothing later on).
    if result.outcome == Outcome::Allowed && q.direction == Direction::Inbound {
        for &si in &relevant {
            let Some(t) = &sets[si].host else { continue };
            for c in t
                .chains
                .iter()
                .filter(|c| c.hook == Some(HostHook::Ingress))
            {
                let may_drop = c.policy == Some(Action::Deny)
                    || sets[si].rules.iter().any(|r| {
                        r.host.as_ref().is_some_and(|h| {
                            h.chain == c.name
                                && !r.implicit
                                && !matches!(
                                    h.target,
                                    HostTarget::Accept | HostTarget::Continue { .. }
                                )
                        })
                    });
                if may_drop {
                    let why = format!(
                        "{}: ingress chain {} (netdev) runs before every other chain and is                          not evaluated; it may drop the packet",
                        sets[si].id, c.name
                    );
                    explanation.push_str(&format!(" But {why}."));
                    result.outcome = Outcome::Unknown;
                    result.code = ExplanationCode::UnsupportedMatch;
                    result.deciding.clear();
                    result.unknown.push(Pending {
                        at: NO_RULE,
                        action: Action::Deny,
                        reasons: vec![(UnknownKind::Unsupported, why)],
                    });
                }
            }
        }
    }
    if let Some(Outcome::Denied) = verdict.input_would {
        explanation.push_str(
            " The INPUT chain alone would refuse it, but INPUT does not see traffic to a \
             published port.",
        );
    }
    if principal.path == HostPath::Forward && result.outcome == Outcome::Allowed {
        if let (Some(port), Some(to)) = (q.port, &verdict.dnat_to) {
            ev.note(format!(
                "To restrict who reaches published port {port} ({to}), filter in DOCKER-USER, \
                 e.g. `iptables -I DOCKER-USER -p {} -m conntrack --ctorigdstport {port} ! -s \
                 <allowed network> -j DROP`: Docker's docs say to add rules there, not to INPUT.",
                q.protocol
            ));
        }
    }
    result.explanation = explanation;
    result.notes = ev.notes;
    result.host = Some(Box::new(HostLayer {
        verdict,
        nearest: nearest_rules,
        fixes,
    }));
    result
}

/// What an Unknown depends on: the unsupported targets reached, and the maybe-rules whose
/// two branches end differently (the others explain nothing).
fn doubts(finished: &[Branch], decisions: &[Decided]) -> Vec<Pending> {
    let category = |d: &Decided| match d {
        Decided::Allowed => 0u8,
        Decided::Denied(..) => 1,
        Decided::Unknown => 2,
    };
    let outcomes_when = |at: At, matched: bool| -> Vec<u8> {
        let mut v: Vec<u8> = finished
            .iter()
            .zip(decisions)
            .filter(|(b, _)| b.assumed.iter().any(|a| a.at == at && a.matched == matched))
            .map(|(_, d)| category(d))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let matters = |at: At| outcomes_when(at, true) != outcomes_when(at, false);
    let mut pend: Vec<Pending> = Vec::new();
    let mut seen: Vec<At> = Vec::new();
    for b in finished {
        if let Some(End::Unknown(at, kind, why)) = &b.end {
            if !seen.contains(at) {
                seen.push(*at);
                pend.push(Pending {
                    at: *at,
                    action: Action::Deny,
                    reasons: vec![(*kind, why.clone())],
                });
            }
        }
        for a in &b.assumed {
            if !seen.contains(&a.at) && matters(a.at) {
                seen.push(a.at);
                pend.push(Pending {
                    at: a.at,
                    action: a.action,
                    reasons: a.reasons.clone(),
                });
            }
        }
    }
    pend
}

/// The Docker caveat in Docker's own words.
fn docker_paragraph(q: &Question, v: &HostVerdict) -> String {
    let port = q.port.map_or_else(|| q.traffic(), |p| format!("port {p}"));
    let to = v
        .dnat_to
        .clone()
        .unwrap_or_else(|| "a container".to_owned());
    let by = v
        .dnat_rule
        .as_ref()
        .map_or_else(String::new, |r| format!(" by {} ({})", r.label, r.text));
    format!(
        "{port} is a published container port: it is rewritten to {to} (DNAT){by} before the \
         filter table sees it, so it goes through FORWARD (DOCKER-USER, then Docker's own \
         chains), not INPUT. INPUT and ufw rules do not apply to published ports: \"Docker \
         routes container traffic in the nat table, which means that packets are diverted \
         before it reaches the INPUT and OUTPUT chains that ufw uses\", and \"to add \
         additional rules to filter these packets, use the DOCKER-USER chain\" \
         ({DOCKER_DOCS_URL})."
    )
}

/// ACCEPT rules near the question, for a packet that fell through to a DROP policy.
fn host_nearest(
    ev: &mut HostEval,
    sets: &[&RuleSet],
    members: &[usize],
    pkt: &Pkt,
) -> Vec<NearestRule> {
    let mut found: Vec<NearestRule> = Vec::new();
    for &si in members {
        for rule in &sets[si].rules {
            let Some(h) = &rule.host else { continue };
            if h.target != HostTarget::Accept || rule.implicit {
                continue;
            }
            let at = (si, rule.position);
            let mut misses: Vec<&HostMatch> = Vec::new();
            let mut maybe = false;
            for m in &h.matches {
                match ev.cond(m, pkt, at) {
                    Tri::No => misses.push(m),
                    Tri::Maybe(_) => maybe = true,
                    Tri::Yes => {}
                }
            }
            if maybe || misses.is_empty() {
                continue;
            }
            let kind = if misses
                .iter()
                .all(|m| matches!(m, HostMatch::Source { negated: false, .. }))
            {
                NearestKind::OtherSource
            } else if misses
                .iter()
                .all(|m| matches!(m, HostMatch::DestPort { negated: false, .. }))
            {
                NearestKind::OtherPort
            } else {
                continue;
            };
            let peers: Vec<String> = h
                .matches
                .iter()
                .filter_map(|m| match m {
                    HostMatch::Source {
                        addrs,
                        negated: false,
                    } => Some(addrs.iter().map(ToString::to_string).collect::<Vec<_>>()),
                    _ => None,
                })
                .flatten()
                .collect();
            let difference = match kind {
                NearestKind::OtherSource => format!(
                    "{} accepts only {}, not the question's source",
                    rule.label,
                    peers.join(", ")
                ),
                _ => format!("{} accepts {} only", rule.label, rule.traffic()),
            };
            found.push(NearestRule {
                rule: RuleRef::new(sets[si], rule),
                kind,
                peers,
                difference,
            });
        }
    }
    found.sort_by_key(|n| n.kind != NearestKind::OtherSource);
    found.truncate(MAX_NEAREST);
    found
}

/// The rule to add, in the syntax of the table that refused.
fn host_fixes(
    sets: &[&RuleSet],
    si: usize,
    base_chain: &str,
    b: &Branch,
    q: &Question,
) -> Vec<RuleFix> {
    let Some(set) = sets.get(si) else {
        return Vec::new();
    };
    let Some(table) = &set.host else {
        return Vec::new();
    };
    let forward = b.path == HostPath::Forward;
    let (chain, why) = if forward && table.chain("DOCKER-USER").is_some() {
        (
            "DOCKER-USER",
            "Docker's DOCKER-USER chain runs first in FORWARD and is where Docker says to \
             filter published ports; the rule sees the packet after DNAT, so it matches the \
             container's address and port."
                .to_owned(),
        )
    } else {
        (
            base_chain,
            format!(
                "Inserted at the top of {base_chain}, before the rule or policy that refuses it."
            ),
        )
    };
    let destination = match (forward, b.pkt.dst) {
        (true, Addr::Known(a)) => Some(a),
        _ => None,
    };
    let spec = HostFixSpec {
        set,
        table,
        chain,
        protocol: q.protocol,
        port: b.pkt.dport,
        icmp_type: q.icmp_type,
        source: q.source,
        destination,
        why,
    };
    // A table managed by iptables-nft (seen through `nft -j`) must be changed with
    // iptables: nft warns not to touch it.
    let iptables_managed = table.backend == HostBackend::Iptables
        || (table.family != HostFamily::Inet
            && ["filter", "nat", "mangle", "raw"].contains(&table.table.as_str())
            && table
                .chains
                .iter()
                .any(|c| c.name == "INPUT" || c.name == "FORWARD"));
    let mut out = vec![if iptables_managed {
        super::iptables::accept_fix(&spec)
    } else {
        super::nft::accept_fix(&spec)
    }];
    if !forward && table.chains.iter().any(|c| c.name.starts_with("ufw-")) && q.protocol.has_ports()
    {
        out.push(super::iptables::ufw_fix(&spec));
    }
    out
}

/// The host-firewall sentence for [`summary`], when the host layer decided.
fn host_summary(v: &Verdict, h: &HostVerdict) -> Option<String> {
    let q = &v.question;
    let (src, what) = (q.source, q.traffic());
    let prefix = match (&h.path, &h.dnat_to, q.port) {
        (HostPath::Forward, Some(to), Some(port)) => {
            format!("published port {port} → {to} (Docker DNAT, FORWARD path; INPUT/ufw rules do not apply): ")
        }
        (HostPath::Forward, _, _) => {
            "published port (Docker DNAT, FORWARD path; INPUT/ufw rules do not apply): ".to_owned()
        }
        _ => String::new(),
    };
    let layer = v
        .layers
        .iter()
        .find(|l| l.outcome == v.outcome && l.kind == RuleSetKind::HostFirewall)?;
    match v.outcome {
        Outcome::Denied => {
            let r = layer.deciding_rules.first()?;
            let sees = h.denial.map_or("", HostDenial::client_sees);
            if r.implicit {
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
                let mut s = format!(
                    "{prefix}no host firewall rule admits {src} on {what}, so {} applies ({sees})",
                    r.text
                );
                if !peers.is_empty() {
                    s.push_str(&format!("; rules admit only {}", peers.join(", ")));
                }
                Some(s)
            } else {
                let verb = if h.denial == Some(HostDenial::Dropped) {
                    "drops"
                } else {
                    "rejects"
                };
                Some(format!(
                    "{prefix}{} rule {} {verb} {src} on {what} ({sees}): {}",
                    r.set_id, r.label, r.text
                ))
            }
        }
        Outcome::Allowed if !prefix.is_empty() => {
            let r = layer.deciding_rules.first()?;
            let input = match h.input_would {
                Some(Outcome::Denied) => "; INPUT alone would refuse it",
                _ => "",
            };
            Some(format!(
                "allowed: {prefix}{src} on {what} is accepted by {} {}{input}",
                r.set_id, r.text
            ))
        }
        _ => None,
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
