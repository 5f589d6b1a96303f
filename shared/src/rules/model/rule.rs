//! One rule and one rule set, in the provider-neutral form every parser produces.

use serde::{Deserialize, Serialize};

use super::{
    Action, Direction, HostRule, HostTable, Peer, PortMatch, PortRange, Protocol, Provider,
    RuleSetKind,
};

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
    pub applies_to: Vec<Peer>,
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
            applies_to: Vec::new(),
            source_ports: None,
            disabled: false,
            implicit: false,
            description: None,
            path: String::new(),
            host: None,
        }
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
