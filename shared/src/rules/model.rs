//! The common model every cloud rule format is parsed into: rule sets, rules in evaluation
//! order, protocols, ports, and the remote side as CIDRs or references we cannot resolve.
//!
//! One model for AWS, GCP and Azure keeps the evaluator provider-neutral: the provider's
//! semantics (union of allows, first match by number, priority with deny winning ties) is a
//! property of the [`RuleSetKind`], and each provider's defaults (the NACL's `*` rule, GCP's
//! implied rules, Azure's default rules) are ordinary [`Rule`]s marked `implicit`, so the
//! dashboard can show them and the verdict can name them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ownership::{cidr_contains, parse_cidr};

/// Whose rule format a set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallProvider))]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Aws,
    Gcp,
    Azure,
    /// The host's own firewall: `iptables-save` / `ip6tables-save` or `nft -j list ruleset`.
    Host,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Gcp => "gcp",
            Self::Azure => "azure",
            Self::Host => "host",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of filter a set is; this decides how its rules combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleSetKind {
    /// AWS security group: stateful, allow rules only; the groups on one network interface
    /// are a union (any rule of any group admits).
    AwsSecurityGroup,
    /// AWS network ACL: stateless, rules in ascending `RuleNumber`, first match wins, a final
    /// `*` deny; the reply needs its own rule in the other direction (ephemeral ports).
    AwsNetworkAcl,
    /// GCP VPC firewall rules of one network: stateful, lowest priority number first, deny
    /// beats allow at equal priority, implied deny-ingress / allow-egress at 65535.
    GcpFirewall,
    /// Azure network security group: stateful, lowest priority first, first match wins,
    /// default rules at 65000–65500.
    AzureNsg,
    /// One table of the host's own firewall (iptables or nftables): stateful (conntrack),
    /// chains traversed from the hook's base chains with jumps and returns, first terminal
    /// verdict wins, else the base chain's policy. [`RuleSet::host`] holds the chains;
    /// every rule's [`Rule::host`] its matches and target.
    HostFirewall,
}

impl RuleSetKind {
    pub fn provider(self) -> Provider {
        match self {
            Self::AwsSecurityGroup | Self::AwsNetworkAcl => Provider::Aws,
            Self::GcpFirewall => Provider::Gcp,
            Self::AzureNsg => Provider::Azure,
            Self::HostFirewall => Provider::Host,
        }
    }

    /// Whether replies to admitted traffic pass without a rule of their own.
    pub fn stateful(self) -> bool {
        !matches!(self, Self::AwsNetworkAcl)
    }

    /// A short noun for sentences: "security group", "network ACL", …
    pub fn noun(self) -> &'static str {
        match self {
            Self::AwsSecurityGroup => "security group",
            Self::AwsNetworkAcl => "network ACL",
            Self::GcpFirewall => "GCP network",
            Self::AzureNsg => "network security group",
            Self::HostFirewall => "host firewall table",
        }
    }
}

/// Which way the traffic flows, seen from the protected resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallDirection))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Towards the resource (AWS ingress, GCP `INGRESS`, Azure `Inbound`).
    #[default]
    Inbound,
    /// From the resource (AWS egress, GCP `EGRESS`, Azure `Outbound`).
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    pub fn opposite(self) -> Self {
        match self {
            Self::Inbound => Self::Outbound,
            Self::Outbound => Self::Inbound,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallAction))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Deny,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IP protocol. Numbers with a name are normalised to it when parsed (`6` → `tcp`), so
/// `Number` only ever holds protocols without their own variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallProtocol))]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Every protocol (AWS `-1`, GCP `all`, Azure `*`).
    All,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// Any other IANA protocol number (e.g. 47 GRE, 50 ESP, 132 SCTP).
    Number(u8),
}

impl Protocol {
    /// Normalises a protocol number: 6, 17, 1 and 58 become their named variants.
    pub fn from_number(n: u8) -> Self {
        match n {
            6 => Self::Tcp,
            17 => Self::Udp,
            1 => Self::Icmp,
            58 => Self::Icmpv6,
            n => Self::Number(n),
        }
    }

    /// The IANA number, `None` for [`Protocol::All`].
    pub fn number(self) -> Option<u8> {
        match self {
            Self::All => None,
            Self::Tcp => Some(6),
            Self::Udp => Some(17),
            Self::Icmp => Some(1),
            Self::Icmpv6 => Some(58),
            Self::Number(n) => Some(n),
        }
    }

    /// Whether the protocol has ports (and so needs a port in a question).
    pub fn has_ports(self) -> bool {
        matches!(self, Self::Tcp | Self::Udp)
    }

    pub fn is_icmp(self) -> bool {
        matches!(self, Self::Icmp | Self::Icmpv6)
    }

    /// Whether a rule for `self` covers traffic of protocol `other`.
    pub fn covers(self, other: Protocol) -> bool {
        self == Self::All || self == other
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Tcp => f.write_str("tcp"),
            Self::Udp => f.write_str("udp"),
            Self::Icmp => f.write_str("icmp"),
            Self::Icmpv6 => f.write_str("icmpv6"),
            Self::Number(n) => write!(f, "proto {n}"),
        }
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    pub fn new(from: u16, to: u16) -> Self {
        Self { from, to }
    }

    pub fn single(port: u16) -> Self {
        Self {
            from: port,
            to: port,
        }
    }

    pub fn contains(self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }

    pub fn is_all(self) -> bool {
        self.from == 0 && self.to == u16::MAX
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// Which ports (or ICMP type/code) of its protocol a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PortMatch {
    /// Every port, type and code: AWS `-1`, a protocol without ports, Azure `*`.
    Any,
    /// Destination ports; any listed range matches (GCP and Azure allow several per rule).
    Ports { ranges: Vec<PortRange> },
    /// ICMP/ICMPv6 type and code; `None` is "all" (AWS -1).
    Icmp {
        icmp_type: Option<u8>,
        code: Option<u8>,
    },
}

impl PortMatch {
    pub fn ports(ranges: Vec<PortRange>) -> Self {
        if ranges.is_empty() || ranges.iter().any(|r| r.is_all()) {
            Self::Any
        } else {
            Self::Ports { ranges }
        }
    }
}

/// An address block. Serialised as text (`198.51.100.0/24`, `2001:db8::/32`); a bare
/// address is a host route (/32 or /128). Host bits are kept as written, so the dashboard
/// shows what the rule says, and ignored when matching, as the clouds do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// The host route of one address.
    pub fn host(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        Self {
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        cidr_contains(self.addr, self.prefix, ip)
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// `0.0.0.0/0` or `::/0`.
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = parse_cidr(s)?;
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Cidr {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An address block, e.g. `198.51.100.0/24` or `2001:db8::/32`",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Cidr {}

/// One entry on the remote side of a rule (the source of inbound traffic, the destination
/// of outbound), or on the local side (Azure destination prefixes, GCP destination ranges).
///
/// Everything but [`Peer::Cidr`] and [`Peer::Any`] refers to something defined elsewhere:
/// a question whose answer depends on one is `Unknown`, with the reference named.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallPeer))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Peer {
    Cidr {
        cidr: Cidr,
    },
    /// Every address of both families (Azure `*`, `Any`).
    Any,
    /// An AWS managed prefix list (`pl-…`), whose entries are not in the rule JSON.
    PrefixList {
        id: String,
    },
    /// An AWS security group reference: the private addresses of the interfaces in it.
    SecurityGroup {
        id: String,
        owner: Option<String>,
    },
    /// GCP source/target network tag: the VMs carrying it.
    GcpTag {
        tag: String,
    },
    /// GCP source/target service account: the VMs running as it.
    GcpServiceAccount {
        account: String,
    },
    /// Azure service tag (`Internet`, `VirtualNetwork`, `AzureLoadBalancer`, `Storage.WestUS`…).
    AzureServiceTag {
        tag: String,
    },
    /// Azure application security group (resource id).
    AzureAsg {
        id: String,
    },
}

impl Peer {
    pub fn cidr(cidr: Cidr) -> Self {
        Self::Cidr { cidr }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cidr { cidr } => write!(f, "{cidr}"),
            Self::Any => f.write_str("any address"),
            Self::PrefixList { id } => write!(f, "prefix list {id}"),
            Self::SecurityGroup { id, .. } => write!(f, "security group {id}"),
            Self::GcpTag { tag } => write!(f, "tag {tag}"),
            Self::GcpServiceAccount { account } => write!(f, "service account {account}"),
            Self::AzureServiceTag { tag } => write!(f, "service tag {tag}"),
            Self::AzureAsg { id } => write!(f, "application security group {}", short_id(id)),
        }
    }
}

/// The last segment of a cloud resource id (`/subscriptions/…/asgWeb` → `asgWeb`).
pub fn short_id(id: &str) -> &str {
    id.rsplit('/').find(|s| !s.is_empty()).unwrap_or(id)
}

/// One rule, in the provider-neutral form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = FirewallRule))]
pub struct Rule {
    /// Index in [`RuleSet::rules`] (evaluation order).
    pub position: usize,
    /// What the provider's console calls it: `#3` (security group), `100` or `*` (network
    /// ACL rule number), the GCP firewall rule or Azure rule name.
    pub label: String,
    /// Provider id where one exists (`sgr-…`, GCP numeric id, Azure resource id).
    pub id: Option<String>,
    /// NACL rule number, GCP or Azure priority; lower is evaluated first.
    pub priority: Option<u32>,
    pub direction: Direction,
    pub action: Action,
    pub protocol: Protocol,
    pub ports: PortMatch,
    /// The remote side; any entry matches. Security-group permissions with several ranges
    /// are split into one rule per range (as `describe-security-group-rules` does) so each
    /// keeps its description.
    pub peers: Vec<Peer>,
    /// Local-side address restriction (Azure destination prefix on inbound rules, GCP
    /// `destinationRanges` on ingress); empty = any.
    #[serde(default)]
    pub local: Vec<Peer>,
    /// Which instances the rule applies to (GCP target tags/service accounts, Azure
    /// destination ASGs); empty = every instance the set protects.
    #[serde(default)]
    pub targets: Vec<Peer>,
    /// Source ports (Azure `sourcePortRange`); `None` = any, which is the norm.
    #[serde(default)]
    pub source_ports: Option<Vec<PortRange>>,
    /// GCP `disabled: true`: kept for display, never matched.
    #[serde(default)]
    pub disabled: bool,
    /// A default or implied rule the provider applies without listing it (or that we add
    /// because the input left it out): the NACL `*` deny, GCP implied rules, Azure defaults.
    #[serde(default)]
    pub implicit: bool,
    pub description: Option<String>,
    /// Where the rule is in the input (`SecurityGroups[0].IpPermissions[2].IpRanges[0]`);
    /// empty for implicit rules the input did not contain. Host firewalls: `line 12` of
    /// `iptables-save` output, or the JSON path in `nft -j` output.
    #[serde(default)]
    pub path: String,
    /// Host firewall rules only: the chain, the matches and the target, which the common
    /// fields above can only approximate (negation, interfaces, conntrack, jumps). For
    /// them `action` is `deny` for DROP/REJECT and `allow` otherwise (ACCEPT, but also
    /// jumps and non-terminating targets): `host.target` is what the rule does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostRule>,
}

impl Rule {
    /// A rule with the common defaults; parsers fill in the rest.
    pub(crate) fn new(
        label: impl Into<String>,
        direction: Direction,
        action: Action,
        protocol: Protocol,
        ports: PortMatch,
        peers: Vec<Peer>,
    ) -> Self {
        Self {
            position: 0,
            label: label.into(),
            id: None,
            priority: None,
            direction,
            action,
            protocol,
            ports,
            peers,
            local: Vec::new(),
            targets: Vec::new(),
            source_ports: None,
            disabled: false,
            implicit: false,
            description: None,
            path: String::new(),
            host: None,
        }
    }

    /// `tcp/443`, `tcp/8000-8100`, `udp/53,123`, `icmp type 8`, `all traffic`.
    pub fn traffic(&self) -> String {
        traffic_text(self.protocol, &self.ports)
    }

    /// The readable one-line form, e.g. `allow tcp/443 from 198.51.100.0/24 ("office")`,
    /// `100: deny all traffic from 0.0.0.0/0`, `deny-ssh (priority 900): deny tcp/22 from
    /// 0.0.0.0/0 to tag bastion`.
    pub fn one_line(&self, kind: RuleSetKind) -> String {
        if let (RuleSetKind::HostFirewall, Some(h)) = (kind, &self.host) {
            // The rule as its tool prints it is what people search their config for.
            return h.text.clone();
        }
        let mut s = String::new();
        match kind {
            RuleSetKind::AwsSecurityGroup => {}
            RuleSetKind::AwsNetworkAcl => {
                s.push_str(&self.label);
                s.push_str(": ");
            }
            RuleSetKind::GcpFirewall | RuleSetKind::AzureNsg | RuleSetKind::HostFirewall => {
                s.push_str(&self.label);
                if let Some(p) = self.priority {
                    s.push_str(&format!(" (priority {p})"));
                }
                s.push_str(": ");
            }
        }
        if self.disabled {
            s.push_str("[disabled] ");
        }
        s.push_str(self.action.as_str());
        s.push(' ');
        s.push_str(&self.traffic());
        s.push_str(match self.direction {
            Direction::Inbound => " from ",
            Direction::Outbound => " to ",
        });
        s.push_str(&peers_text(&self.peers));
        if let Some(ranges) = &self.source_ports {
            s.push_str(" source ports ");
            s.push_str(&ranges_text(ranges));
        }
        if !self.local.is_empty() {
            s.push_str(match self.direction {
                Direction::Inbound => " to ",
                Direction::Outbound => " from ",
            });
            s.push_str(&peers_text(&self.local));
        }
        if !self.targets.is_empty() {
            s.push_str(" on ");
            s.push_str(&peers_text(&self.targets));
        }
        if let Some(d) = self.description.as_deref().filter(|d| !d.is_empty()) {
            s.push_str(&format!(" (\"{d}\")"));
        }
        if self.implicit {
            s.push_str(" [default]");
        }
        s
    }
}

pub(crate) fn ranges_text(ranges: &[PortRange]) -> String {
    ranges
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn peers_text(peers: &[Peer]) -> String {
    if peers.is_empty() {
        return "nowhere".to_owned();
    }
    peers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `tcp/443`, `icmp type 8 code 0`, `all traffic`, `proto 47`.
pub(crate) fn traffic_text(protocol: Protocol, ports: &PortMatch) -> String {
    match (protocol, ports) {
        (Protocol::All, _) => "all traffic".to_owned(),
        (p, PortMatch::Any) if p.has_ports() => format!("{p}/all ports"),
        (p, PortMatch::Any) => p.to_string(),
        (p, PortMatch::Ports { ranges }) => format!("{p}/{}", ranges_text(ranges)),
        (p, PortMatch::Icmp { icmp_type, code }) => match (icmp_type, code) {
            (None, _) => p.to_string(),
            (Some(t), None) => format!("{p} type {t}"),
            (Some(t), Some(c)) => format!("{p} type {t} code {c}"),
        },
    }
}

/// One loaded rule set: a security group, a network ACL, the firewall rules of one GCP
/// network, or one Azure NSG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleSet {
    pub provider: Provider,
    pub kind: RuleSetKind,
    /// `sg-…`, `acl-…`, the GCP network name, the NSG name.
    pub id: String,
    /// Human name: the group name, the `Name` tag, the network or NSG name.
    pub name: String,
    /// Whether replies pass without a rule of their own (false only for network ACLs).
    pub stateful: bool,
    /// VPC id (AWS) or network URL (GCP), when the input says.
    pub network: Option<String>,
    /// Azure resource group (for the `az` command that fixes it).
    pub resource_group: Option<String>,
    /// Subnets a network ACL is associated with.
    #[serde(default)]
    pub associations: Vec<String>,
    /// Rules in evaluation order, defaults included and marked `implicit`.
    pub rules: Vec<Rule>,
    /// Where the set came from (the file name or label given to the parser).
    pub origin: String,
    /// Host firewall tables only: the backend, address family, table name and chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostTable>,
}

impl RuleSet {
    pub(crate) fn new(kind: RuleSetKind, id: String, name: String, origin: &str) -> Self {
        Self {
            provider: kind.provider(),
            kind,
            id,
            name,
            stateful: kind.stateful(),
            network: None,
            resource_group: None,
            associations: Vec::new(),
            rules: Vec::new(),
            origin: origin.to_owned(),
            host: None,
        }
    }

    /// "security group sg-0abc (web-lb)" — the set named as a sentence would.
    pub fn title(&self) -> String {
        if self.name.is_empty() || self.name == self.id {
            format!("{} {}", self.kind.noun(), self.id)
        } else {
            format!("{} {} ({})", self.kind.noun(), self.id, self.name)
        }
    }

    /// Renumbers `position` after the parser has put the rules in evaluation order.
    pub(crate) fn finish(mut self) -> Self {
        for (i, r) in self.rules.iter_mut().enumerate() {
            r.position = i;
        }
        self
    }

    /// The rules of one direction, in evaluation order.
    pub fn rules_in(&self, direction: Direction) -> impl Iterator<Item = &Rule> + '_ {
        self.rules.iter().filter(move |r| r.direction == direction)
    }
}

// ---------------------------------------------------------------------------------------
// Host firewalls: iptables and nftables
//
// Netfilter has what the cloud rule formats lack: chains reached by jumps, a verdict per
// rule (not just allow/deny), negation, interfaces, connection-tracking state, address
// families, and DNAT that moves a packet from the INPUT path to FORWARD. Both parsers
// (`iptables-save` and `nft -j list ruleset`) produce these types; the evaluator walks the
// chains. Nothing the parsers do not understand is dropped: it becomes
// [`HostMatch::Unsupported`] or [`HostTarget::Other`], and a verdict that depends on it
// is `Unknown`.

/// Which tool's output a host table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostBackend {
    /// `iptables-save` / `ip6tables-save` (legacy or nf_tables backend).
    Iptables,
    /// `nft -j list ruleset`.
    Nftables,
}

/// The packets a table sees: IPv4 (`iptables`, nft `ip`), IPv6 (`ip6tables`, nft `ip6`) or
/// both (nft `inet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostFamily {
    Ipv4,
    Ipv6,
    Inet,
}

impl HostFamily {
    /// Whether packets of `ip`'s family pass through this table.
    pub fn covers(self, ip: IpAddr) -> bool {
        match self {
            Self::Inet => true,
            Self::Ipv4 => ip.to_canonical().is_ipv4(),
            Self::Ipv6 => ip.to_canonical().is_ipv6(),
        }
    }

    /// nft's name for it (`ip`, `ip6`, `inet`).
    pub fn nft_name(self) -> &'static str {
        match self {
            Self::Ipv4 => "ip",
            Self::Ipv6 => "ip6",
            Self::Inet => "inet",
        }
    }
}

/// Where in the kernel's path a base chain is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostHook {
    Prerouting,
    /// Packets addressed to this host.
    Input,
    /// Packets routed through this host, e.g. to a container after Docker's DNAT.
    Forward,
    Output,
    Postrouting,
    /// nft `netdev` ingress (before prerouting).
    Ingress,
}

impl HostHook {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prerouting => "prerouting",
            Self::Input => "input",
            Self::Forward => "forward",
            Self::Output => "output",
            Self::Postrouting => "postrouting",
            Self::Ingress => "ingress",
        }
    }
}

/// What a base chain does with the verdicts of its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostChainType {
    /// Accepts or drops (iptables `filter`, `mangle`, `raw`, `security`; nft `type filter`).
    Filter,
    /// Rewrites addresses (iptables `nat`; nft `type nat`): DNAT decides the path.
    Nat,
    /// nft `type route` (output only).
    Route,
}

/// One chain of a host table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostChain {
    pub name: String,
    /// Set for base chains (where packets enter); user chains are reached by jumps only.
    pub hook: Option<HostHook>,
    pub chain_type: HostChainType,
    /// Lower runs first among base chains on the same hook (iptables: raw -300, mangle
    /// -150, nat -100 (prerouting), filter 0, security 50).
    pub priority: i32,
    /// Base chains: what happens when no rule decides (`:INPUT DROP`, `policy drop;`).
    pub policy: Option<Action>,
}

/// One host firewall table: an iptables table of one family, or an nft table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostTable {
    pub backend: HostBackend,
    pub family: HostFamily,
    /// `filter`, `nat`, … (iptables) or the nft table's name.
    pub table: String,
    pub chains: Vec<HostChain>,
}

impl HostTable {
    pub fn chain(&self, name: &str) -> Option<&HostChain> {
        self.chains.iter().find(|c| c.name == name)
    }
}

/// An address, block or range in a host rule (`-s 198.51.100.0/24`, `--src-range
/// 10.0.0.1-10.0.0.9`, nft `ip saddr 10.0.0.0-10.0.0.9`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostAddr {
    Cidr {
        cidr: Cidr,
    },
    Range {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        from: IpAddr,
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        to: IpAddr,
    },
}

impl HostAddr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            Self::Cidr { cidr } => cidr.contains(ip),
            Self::Range { from, to } => match (from, to, ip) {
                (IpAddr::V4(f), IpAddr::V4(t), IpAddr::V4(a)) => f <= &a && &a <= t,
                (IpAddr::V6(f), IpAddr::V6(t), IpAddr::V6(a)) => f <= &a && &a <= t,
                _ => false,
            },
        }
    }

    pub fn is_ipv4(&self) -> bool {
        match self {
            Self::Cidr { cidr } => cidr.is_ipv4(),
            Self::Range { from, .. } => from.is_ipv4(),
        }
    }

    /// Whether every address in it is a loopback address (`127.0.0.0/8`, `::1`).
    pub fn is_loopback_only(&self) -> bool {
        match self {
            Self::Cidr { cidr } => match cidr.addr {
                IpAddr::V4(a) => cidr.prefix >= 8 && a.octets()[0] == 127,
                IpAddr::V6(a) => cidr.prefix == 128 && a.is_loopback(),
            },
            Self::Range { from, to } => from.is_loopback() && to.is_loopback(),
        }
    }

    /// Whether it is every address of its family (`0.0.0.0/0`, `::/0`).
    pub fn is_everything(&self) -> bool {
        matches!(self, Self::Cidr { cidr } if cidr.is_everything())
    }
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cidr { cidr } => write!(f, "{cidr}"),
            Self::Range { from, to } => write!(f, "{from}-{to}"),
        }
    }
}

/// A connection-tracking state (`-m conntrack --ctstate`, `-m state --state`, nft `ct
/// state`). A connection attempt's first packet is `new`; `dnat` is conntrack's virtual
/// state for a connection whose destination was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
    Untracked,
    Snat,
    Dnat,
}

impl CtState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Established => "established",
            Self::Related => "related",
            Self::Invalid => "invalid",
            Self::Untracked => "untracked",
            Self::Snat => "snat",
            Self::Dnat => "dnat",
        }
    }
}

/// One condition of a host rule; a rule matches when all of its conditions hold. `negated`
/// is iptables' `!` or nft's `!=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostMatch {
    /// `-p tcp`, nft `meta l4proto`/`ip protocol`, or implied by `tcp dport`.
    Protocol {
        protocols: Vec<Protocol>,
        negated: bool,
    },
    /// `-s`, `--src-range`, nft `ip saddr`.
    Source { addrs: Vec<HostAddr>, negated: bool },
    /// `-d`, `--dst-range`, nft `ip daddr`.
    Destination { addrs: Vec<HostAddr>, negated: bool },
    /// `--dport`, `--dports`, nft `tcp dport`.
    DestPort {
        ranges: Vec<PortRange>,
        negated: bool,
    },
    /// `--sport`, `--sports`, nft `tcp sport`: the client's port, which a question does
    /// not know.
    SourcePort {
        ranges: Vec<PortRange>,
        negated: bool,
    },
    /// `-m multiport --ports`: the source or the destination port.
    EitherPort {
        ranges: Vec<PortRange>,
        negated: bool,
    },
    /// `-i eth0`, `-i docker+` (prefix wildcard), nft `iifname "eth*"`, `iif "lo"`.
    InInterface { name: String, negated: bool },
    /// `-o docker0`, nft `oifname`.
    OutInterface { name: String, negated: bool },
    /// `--ctstate`, `--state`, nft `ct state` (`ct status dnat` becomes `dnat`).
    CtState { states: Vec<CtState>, negated: bool },
    /// `-m conntrack --ctorigdstport`: the port the client connected to, before DNAT.
    OrigDestPort {
        ranges: Vec<PortRange>,
        negated: bool,
    },
    /// `-m conntrack --ctorigdst`: the address the client connected to, before DNAT.
    OrigDestination { addrs: Vec<HostAddr>, negated: bool },
    /// nft `meta nfproto ipv6` (or an `ip`/`ip6` match in an `inet` table).
    Family { ipv6: bool },
    /// `--icmp-type 8`, `--icmpv6-type`, nft `icmp type echo-request`.
    IcmpType {
        types: Vec<IcmpTypeCode>,
        negated: bool,
    },
    /// `--tcp-flags MASK COMP` / `--syn`: (flags & mask) == comp; with `any`, nft's
    /// `tcp flags syn` form: (flags & mask) != 0. Bits: FIN 1, SYN 2, RST 4, PSH 8, ACK 16,
    /// URG 32, ECE 64, CWR 128.
    TcpFlags {
        mask: u8,
        comp: u8,
        any: bool,
        negated: bool,
    },
    /// `-m addrtype --dst-type LOCAL` (`source: false`) or `--src-type`, nft `fib daddr type
    /// local`: kernel address types in upper case (`LOCAL`, `UNICAST`, `BROADCAST`, …).
    AddrType {
        source: bool,
        types: Vec<String>,
        negated: bool,
    },
    /// nft `meta pkttype host` (`host`, `broadcast`, `multicast`, `other`).
    PacketType { types: Vec<String>, negated: bool },
    /// `-f`: the second and later fragments of a packet.
    Fragment { negated: bool },
    /// `-m rt`, `-m frag`, `-m hbh`, `-m dst` (ip6tables): packets carrying that IPv6
    /// extension header. Whatever its options (negated or not), it never matches a packet
    /// without the header, and a connection attempt carries none.
    ExtensionHeader { header: String },
    /// A condition Vantage does not evaluate (`-m recent`, `-m limit`, `-m set`, nft
    /// `limit`, an iptables-nft `xt` match…). A verdict that depends on the rule is
    /// `Unknown`, naming it; never ignored, since ignoring a match could turn a DROP into a
    /// false "allowed".
    Unsupported { what: String },
}

/// An ICMP type with an optional code (`--icmp-type 3/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IcmpTypeCode {
    pub icmp_type: u8,
    pub code: Option<u8>,
}

/// What a host rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostTarget {
    Accept,
    /// Silently discarded: the client's connect times out.
    Drop,
    /// Refused with an error reply; `with` is iptables' `--reject-with` or nft's reject
    /// type and code (`tcp-reset`, `icmp-host-prohibited`, `icmpx admin-prohibited`),
    /// `None` for the default (ICMP port unreachable).
    Reject {
        with: Option<String>,
    },
    /// Back to the calling chain (in a base chain: the policy).
    Return,
    Jump {
        chain: String,
    },
    /// Like a jump, but a return from `chain` returns from the chain that went there.
    Goto {
        chain: String,
    },
    /// Matches but decides nothing: the next rule is evaluated (`LOG`, `MARK`, an nft rule
    /// with only `counter`/`log`).
    Continue {
        what: Option<String>,
    },
    /// Destination NAT (`-j DNAT --to-destination 172.17.0.2:80`, nft `dnat to`): the
    /// packet goes to another address, usually FORWARD to a container. `addr`/`port` are
    /// `None` where the input does not show them (nft's view of an iptables-nft target).
    Dnat {
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        addr: Option<IpAddr>,
        port: Option<u16>,
    },
    /// `-j REDIRECT --to-ports`, nft `redirect to :22`: to a local port (stays on INPUT).
    Redirect {
        port: Option<u16>,
    },
    /// SNAT / MASQUERADE: only rewrites the source on the way out.
    Snat {
        what: String,
    },
    /// A target Vantage does not evaluate (`NFQUEUE`, `TPROXY`, `CT`, nft `queue`…): a
    /// verdict that reaches it is `Unknown`.
    Other {
        name: String,
    },
}

impl HostTarget {
    /// Whether a matching rule with this target ends the chain (for this packet).
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::Continue { .. })
    }
}

impl Rule {
    /// A host firewall rule with the common fields filled in as far as they can say what
    /// it does (for tables and for the generic views): the protocol, destination ports or
    /// ICMP type, and the sources and destinations that are not negated.
    pub(crate) fn from_host(
        label: String,
        direction: Direction,
        host: HostRule,
        implicit: bool,
        path: String,
    ) -> Self {
        let mut protocol = Protocol::All;
        let mut ports = PortMatch::Any;
        let mut peers: Vec<Peer> = Vec::new();
        let mut local: Vec<Peer> = Vec::new();
        let cidrs = |addrs: &[HostAddr]| -> Vec<Peer> {
            addrs
                .iter()
                .filter_map(|a| match a {
                    HostAddr::Cidr { cidr } => Some(Peer::cidr(*cidr)),
                    HostAddr::Range { .. } => None,
                })
                .collect()
        };
        for m in &host.matches {
            match m {
                HostMatch::Protocol {
                    protocols,
                    negated: false,
                } if protocols.len() == 1 => protocol = protocols[0],
                HostMatch::DestPort {
                    ranges,
                    negated: false,
                } => ports = PortMatch::ports(ranges.clone()),
                HostMatch::IcmpType {
                    types,
                    negated: false,
                } if types.len() == 1 => {
                    ports = PortMatch::Icmp {
                        icmp_type: Some(types[0].icmp_type),
                        code: types[0].code,
                    }
                }
                HostMatch::Source {
                    addrs,
                    negated: false,
                } => peers.extend(cidrs(addrs)),
                HostMatch::Destination {
                    addrs,
                    negated: false,
                } => local.extend(cidrs(addrs)),
                _ => {}
            }
        }
        if peers.is_empty() {
            peers.push(Peer::Any);
        }
        // A port list only means something with a protocol that has ports.
        if !protocol.has_ports() && matches!(ports, PortMatch::Ports { .. }) {
            ports = PortMatch::Any;
        }
        let action = match host.target {
            HostTarget::Drop | HostTarget::Reject { .. } => Action::Deny,
            _ => Action::Allow,
        };
        let mut r = Rule::new(label, direction, action, protocol, ports, peers);
        r.local = local;
        r.implicit = implicit;
        r.path = path;
        r.host = Some(host);
        r
    }
}

impl fmt::Display for HostTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accept => f.write_str("ACCEPT"),
            Self::Drop => f.write_str("DROP"),
            Self::Reject { with: None } => f.write_str("REJECT"),
            Self::Reject { with: Some(w) } => write!(f, "REJECT ({w})"),
            Self::Return => f.write_str("RETURN"),
            Self::Jump { chain } => write!(f, "jump to {chain}"),
            Self::Goto { chain } => write!(f, "goto {chain}"),
            Self::Continue { what: Some(w) } => f.write_str(w),
            Self::Continue { what: None } => f.write_str("continue"),
            Self::Dnat { addr, port } => {
                f.write_str("DNAT")?;
                match (addr, port) {
                    (Some(IpAddr::V6(a)), Some(p)) => write!(f, " to [{a}]:{p}"),
                    (Some(a), Some(p)) => write!(f, " to {a}:{p}"),
                    (Some(a), None) => write!(f, " to {a}"),
                    (None, Some(p)) => write!(f, " to port {p}"),
                    (None, None) => Ok(()),
                }
            }
            Self::Redirect { port: Some(p) } => write!(f, "REDIRECT to port {p}"),
            Self::Redirect { port: None } => f.write_str("REDIRECT"),
            Self::Snat { what } | Self::Other { name: what } => f.write_str(what),
        }
    }
}

/// One host firewall rule (or a base chain's policy, as an `implicit` rule at the end of
/// its chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostRule {
    pub chain: String,
    /// 1-based position in the chain, as `iptables -L --line-numbers` counts (and
    /// `iptables -D CHAIN n` takes); 0 for the policy.
    pub number: usize,
    pub matches: Vec<HostMatch>,
    pub target: HostTarget,
    /// The rule as its tool prints it: `-A INPUT -s 198.51.100.0/24 -p tcp -m tcp --dport
    /// 8080 -j ACCEPT`, `ip saddr 198.51.100.0/24 tcp dport 8080 accept`, `-P INPUT DROP`.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_round_trips_as_text_and_matches_by_prefix() {
        let c: Cidr = "198.51.100.0/24".parse().expect("cidr");
        assert!(c.contains("198.51.100.200".parse().expect("ip")));
        assert!(!c.contains("203.0.113.7".parse().expect("ip")));
        assert_eq!(
            serde_json::to_string(&c).expect("json"),
            "\"198.51.100.0/24\""
        );
        let v6: Cidr = "2001:db8::/32".parse().expect("cidr");
        assert!(v6.contains("2001:db8::1".parse().expect("ip")));
        assert!(!v6.contains("198.51.100.1".parse().expect("ip")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert_eq!(
            Cidr::host("::ffff:203.0.113.7".parse().expect("ip")).to_string(),
            "203.0.113.7/32"
        );
    }

    #[test]
    fn protocol_numbers_normalise_to_names() {
        assert_eq!(Protocol::from_number(6), Protocol::Tcp);
        assert_eq!(Protocol::from_number(58), Protocol::Icmpv6);
        assert_eq!(Protocol::from_number(47), Protocol::Number(47));
        assert!(Protocol::All.covers(Protocol::Udp));
        assert!(!Protocol::Tcp.covers(Protocol::Udp));
    }

    #[test]
    fn one_line_forms_read_like_the_consoles() {
        let mut r = Rule::new(
            "#1",
            Direction::Inbound,
            Action::Allow,
            Protocol::Tcp,
            PortMatch::ports(vec![PortRange::single(443)]),
            vec![Peer::cidr("198.51.100.0/24".parse().expect("cidr"))],
        );
        r.description = Some("office".to_owned());
        assert_eq!(
            r.one_line(RuleSetKind::AwsSecurityGroup),
            "allow tcp/443 from 198.51.100.0/24 (\"office\")"
        );
        let mut n = Rule::new(
            "*",
            Direction::Inbound,
            Action::Deny,
            Protocol::All,
            PortMatch::Any,
            vec![Peer::cidr("0.0.0.0/0".parse().expect("cidr"))],
        );
        n.implicit = true;
        assert_eq!(
            n.one_line(RuleSetKind::AwsNetworkAcl),
            "*: deny all traffic from 0.0.0.0/0 [default]"
        );
    }
}
