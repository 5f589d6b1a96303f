//! The host firewall's part of a verdict (which path the packet took, DNAT, how a refusal
//! looks to the client, the rules on the way), and what the rule to add must say.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::rules::eval::{Outcome, RuleRef};
use crate::rules::model::{HostTable, Protocol, RuleSet};

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
    /// REJECT with a TCP reset or ICMP port-unreachable (the default): "connection
    /// refused" (ECONNREFUSED).
    Refused,
    /// REJECT with IPv4 host-unreachable, host-prohibited or admin-prohibited, or IPv6
    /// addr-unreachable: "no route to host" (EHOSTUNREACH).
    Unreachable,
    /// REJECT with IPv4 net-unreachable or net-prohibited, or IPv6 no-route: "network is
    /// unreachable" (ENETUNREACH).
    NetworkUnreachable,
    /// REJECT with IPv6 adm-prohibited, policy-fail or reject-route: "permission denied"
    /// (EACCES).
    PermissionDenied,
    /// REJECT whose reply the input does not show (nft's view of an iptables-nft target),
    /// or one Vantage does not map: an immediate error.
    Rejected,
    /// The first packet is accepted but the connection's later ones are not (a rule admits
    /// only conntrack state NEW): the client connects, and its request gets no answer.
    HandshakeOnly,
}

impl HostDenial {
    /// What the agent's TCP probe reports for it (`None`: an error not known in advance).
    pub fn tcp_outcome(self) -> Option<crate::probe::TcpOutcome> {
        use crate::probe::TcpOutcome;
        match self {
            Self::Dropped => Some(TcpOutcome::TimedOut),
            Self::Refused => Some(TcpOutcome::Refused),
            Self::Unreachable | Self::NetworkUnreachable | Self::PermissionDenied => {
                Some(TcpOutcome::Unreachable)
            }
            Self::Rejected => None,
            Self::HandshakeOnly => Some(TcpOutcome::Connected),
        }
    }

    /// What the client sees, for sentences.
    pub fn client_sees(self) -> &'static str {
        match self {
            Self::Dropped => "no answer: the client's connect times out",
            Self::Refused => "the client sees \"connection refused\" at once",
            Self::Unreachable => "the client sees \"no route to host\" at once",
            Self::NetworkUnreachable => "the client sees \"network is unreachable\" at once",
            Self::PermissionDenied => "the client sees \"permission denied\" at once",
            Self::Rejected => "the client gets an error at once (refused or unreachable)",
            Self::HandshakeOnly => {
                "the client connects, then its request gets no answer and times out"
            }
        }
    }

    /// The refusal a REJECT with this `--reject-with` (or nft reject type) produces for a
    /// packet of the given family, as the client's kernel reports it (Linux's
    /// `icmp_err_convert` and `icmpv6_err_convert`). nft's `icmpx` types become the
    /// family's own: `admin-prohibited` is IPv4's code 13 or IPv6's adm-prohibited,
    /// `no-route` IPv4's net-unreachable, `host-unreachable` IPv6's addr-unreachable.
    pub(super) fn of_reject(with: Option<&str>, v6: bool) -> Self {
        // The default of both iptables and nft is ICMP port-unreachable.
        let Some(w) = with else {
            return Self::Refused;
        };
        let w = w.to_ascii_lowercase();
        let has = |keys: &[&str]| keys.iter().any(|k| w.contains(k));
        if has(&["reset", "port-unreach"]) {
            Self::Refused
        } else if v6
            && has(&[
                "adm-prohibited",
                "admin-prohibited",
                "policy-fail",
                "reject-route",
            ])
        {
            Self::PermissionDenied
        } else if has(&["net-unreach", "net-prohibited", "no-route"]) {
            Self::NetworkUnreachable
        } else if has(&[
            "host-unreach",
            "host-prohibited",
            "admin-prohibited",
            "addr-unreach",
        ]) {
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
