//! What the evaluator answers: the [`Verdict`] with its [`Outcome`], the
//! [`ExplanationCode`], the rules it names ([`RuleRef`], [`NearestRule`]), each layer's
//! verdict and the rules to add ([`RuleFix`]). These are the API's types; the host
//! firewall's own part of a verdict is in `host::verdict`.

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(doc)]
use super::evaluate;
use super::{HostVerdict, Question};
use crate::rules::model::{Action, Provider, Rule, RuleSet, RuleSetKind};

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
    DestinationNotSpecified,
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
    /// Host firewall, IPv6: the connection itself would be accepted, but neighbour
    /// discovery (ICMPv6 types 135 and 136) is dropped, so it never gets through.
    HostNeighbourDiscovery,
    /// Host firewall, TCP: the first packet is accepted, but the connection's later
    /// packets (conntrack state ESTABLISHED) are dropped: the handshake completes and no
    /// data passes.
    HostHandshakeOnly,
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
            Self::DestinationNotSpecified => "DESTINATION_NOT_SPECIFIED",
            Self::DependsOnClientPort => "DEPENDS_ON_CLIENT_PORT",
            Self::IncompleteQuestion => "INCOMPLETE_QUESTION",
            Self::NoRuleSets => "NO_RULE_SETS",
            Self::HostFirewallRule => "HOST_FIREWALL_RULE",
            Self::HostChainPolicy => "HOST_CHAIN_POLICY",
            Self::HostNeighbourDiscovery => "HOST_NEIGHBOUR_DISCOVERY",
            Self::HostHandshakeOnly => "HOST_HANDSHAKE_ONLY",
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
    pub provider: Provider,
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
