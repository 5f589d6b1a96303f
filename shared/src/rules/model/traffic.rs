//! What a rule matches: the protocol, the ports (or ICMP type and code), and the
//! addresses, as CIDRs or as references to things defined elsewhere ([`Peer`]).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ownership::{cidr_contains, parse_cidr};

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
