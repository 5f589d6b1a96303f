//! The question the evaluator answers: the traffic ("203.0.113.7 on tcp/443, inbound") and,
//! where rules select by it, what the protected resource is ([`DestinationInfo`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::rules::model::{traffic_text, Direction, PortMatch, PortRange, Protocol};

/// What the protected resource (the destination of inbound traffic) is, where rules select
/// by it (GCP target tags and service accounts, Azure destination ASGs and addresses).
/// `None` in a question means "not known": rules that apply only to some resources then
/// make the answer `Unknown`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DestinationInfo {
    /// The resource's own (private) address, for rules restricted to a destination.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, schema_with = crate::openapi::optional_ip_address)
    )]
    pub address: Option<IpAddr>,
    /// GCP network tags of the instance (at most 64, each up to 300 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 64, max_length = 300))]
    pub tags: Vec<String>,
    /// GCP service account of the instance (at most 64, each up to 300 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 64, max_length = 300))]
    pub service_accounts: Vec<String>,
    /// Azure application security groups of the NIC (resource ids or names; at most 64,
    /// each up to 300 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 64, max_length = 300))]
    pub application_security_groups: Vec<String>,
    /// Host firewall: the interface the traffic arrives on (`eth0`), for rules that match
    /// `-i`/`iifname`. Without it such rules make the answer `Unknown` (except `lo` and
    /// Docker's bridges, which a remote source never arrives on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 15))]
    pub interface: Option<String>,
    /// Host firewall: the question's port is a Docker published port forwarded to this
    /// container address and port (`172.17.0.2:80`). Used when the loaded rules have no
    /// DNAT rule for it (only the filter table was loaded, or nft hides the target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, schema_with = crate::openapi::optional_socket_address)
    )]
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
    pub destination: Option<DestinationInfo>,
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
            destination: None,
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

    pub fn with_destination(mut self, destination: DestinationInfo) -> Self {
        self.destination = Some(destination);
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
