//! The common model every rule format is parsed into: rule sets, rules in evaluation
//! order, protocols, ports, and the remote side as CIDRs or references we cannot resolve.
//!
//! One model for AWS, GCP and Azure keeps the evaluator provider-neutral: the provider's
//! semantics (union of allows, first match by number, priority with deny winning ties) is a
//! property of the [`RuleSetKind`], and each provider's defaults (the NACL's `*` rule, GCP's
//! implied rules, Azure's default rules) are ordinary [`Rule`]s marked `implicit`, so the
//! dashboard can show them and the verdict can name them. The host's own firewall
//! (iptables, nftables) adds its chains, matches and targets on top.
//!
//! * `kinds`: the provider, the kind of set, the direction and the action;
//! * `traffic`: protocols, ports, CIDRs and the other peers a rule names;
//! * `rule`: [`Rule`] and [`RuleSet`];
//! * `text`: their readable one-line forms;
//! * `host`: the netfilter tables, chains, matches and targets.

mod host;
mod kinds;
mod rule;
mod text;
mod traffic;

#[cfg(test)]
mod tests;

pub use host::{
    CtState, HostAction, HostAddr, HostBackend, HostChain, HostChainType, HostFamily, HostHook,
    HostMatch, HostRule, HostTable, IcmpTypeCode, IptablesBackend,
};
pub use kinds::{Action, Direction, Provider, RuleSetKind};
pub use rule::{Rule, RuleSet};
pub(crate) use text::{peers_text, ranges_text, traffic_text};
pub use traffic::{short_id, Cidr, Peer, PortMatch, PortRange, Protocol};
