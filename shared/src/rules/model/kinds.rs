//! What a rule set is and which way its rules point: the provider, the kind of filter
//! (which decides how its rules combine), the direction and the action.

use std::fmt;

use serde::{Deserialize, Serialize};

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
