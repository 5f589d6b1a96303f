//! The host firewall layer (iptables / nftables): the packet's path through netfilter.
//!
//! Netfilter semantics, as far as a connection attempt needs them: the packet enters at a
//! hook (PREROUTING, then INPUT for the host itself or FORWARD once DNAT has sent it to a
//! container), where every base chain of every table of its family runs in priority order;
//! within a chain the first rule with a terminal target decides (ACCEPT ends that base
//! chain, DROP/REJECT end everything), jumps descend and RETURN comes back, and a base
//! chain that runs out applies its policy. The packet is the first of a new connection:
//! conntrack state NEW, TCP flags SYN.
//!
//! What the question does not say (the host's own address, the input interface, the
//! client's port) or what Vantage does not evaluate (`-m recent`, …) makes a rule "maybe".
//! A maybe-rule splits the walk in two (it matched / it did not); the answer is certain
//! only when every branch ends the same way, otherwise `Unknown`, naming the rules.
//!
//! One file per stage:
//! * `verdict`: the public types ([`HostVerdict`], [`HostPath`], [`HostDenial`]) and what
//!   the rule-to-add writers need ([`HostFixSpec`]);
//! * `matching`: the packet as each hook sees it, and one match or rule against it;
//! * `chains`: one chain, with jumps, gotos, returns and the base chain's policy;
//! * `hooks`: the hooks in order, conntrack's NAT and DNAT into FORWARD, the branches;
//! * `layer`: the branches combined into the layer's outcome and explanation;
//! * `advice`: the nearest ACCEPT rules and the rule to add;
//! * `neighbour`: IPv6 neighbour discovery, without which no IPv6 connection gets through;
//! * `established`: the connection's later packets, which a NEW-only rule leaves out.
//!
//! This file holds the walker's state: the chains of each table and the Docker bridges
//! read from the rules.

mod advice;
mod chains;
mod established;
mod hooks;
mod layer;
mod matching;
mod neighbour;
mod verdict;

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::layer::At;
use crate::rules::model::{CtState, HostAction, HostAddr, HostMatch, HostRule, Rule, RuleSet};
use chains::ChainRules;

pub(in crate::rules::eval) use layer::{host_layer, HostLayer};
pub(crate) use verdict::HostFixSpec;
pub use verdict::{HostDenial, HostPath, HostVerdict};

/// At most this many branches are followed; a ruleset with more maybe-rules on the path
/// is `Unknown` rather than slow.
const MAX_HOST_PATHS: usize = 256;
/// Deeper jump nesting than this is a loop (the kernel refuses loops; a hand-edited file
/// may not).
const MAX_JUMP_DEPTH: usize = 32;
/// A reason that belongs to no rule (the `rule` of its
/// [`UnknownReason`](super::UnknownReason) is `None`).
const NO_RULE: At = (usize::MAX, usize::MAX);

/// Docker's documentation, quoted where a published port is involved.
const DOCKER_DOCS_URL: &str = "https://docs.docker.com/engine/network/packet-filtering-firewalls/";

/// The walker's state over the host tables of one question.
struct HostEval<'a> {
    sets: &'a [&'a RuleSet],
    /// Per set index: chain name → its rules.
    chains: BTreeMap<usize, BTreeMap<&'a str, ChainRules>>,
    forks: usize,
    notes: Vec<String>,
    /// (subnet, bridge) from SNAT/MASQUERADE rules (`-s 172.17.0.0/16 ! -o docker0`), then
    /// from accept rules naming a destination and an output interface.
    bridges: Vec<(HostAddr, String)>,
    /// Conntrack's state for the packet: `New` for a connection's first packet,
    /// `Untracked` for IPv6 neighbour discovery (the kernel does not track it).
    ct: CtState,
}

fn host_rule<'a>(sets: &[&'a RuleSet], at: At) -> Option<(&'a Rule, &'a HostRule)> {
    let r = sets.get(at.0)?.rules.get(at.1)?;
    Some((r, r.host.as_ref()?))
}

/// Which address of a Docker rule names the containers behind its bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// MASQUERADE: `-s 172.17.0.0/16 ! -o docker0`.
    Source,
    /// ACCEPT: `-d 172.17.0.2/32 ! -i docker0 -o docker0`.
    Destination,
}

/// The (address, bridge) pairs a Docker rule names: its first non-negated address match
/// on `side`, with its first output interface that is not a wildcard and is negated as
/// `out_negated` says. Empty when the rule lacks either.
fn docker_bridges(h: &HostRule, side: Side, out_negated: bool) -> Vec<(HostAddr, String)> {
    let addrs = h.matches.iter().find_map(|m| match (m, side) {
        (
            HostMatch::Source {
                addrs,
                negated: false,
            },
            Side::Source,
        )
        | (
            HostMatch::Destination {
                addrs,
                negated: false,
            },
            Side::Destination,
        ) => Some(addrs),
        _ => None,
    });
    let out = h.matches.iter().find_map(|m| match m {
        HostMatch::OutInterface { name, negated }
            if *negated == out_negated && !name.ends_with('+') && !name.ends_with('*') =>
        {
            Some(name)
        }
        _ => None,
    });
    match (addrs, out) {
        (Some(addrs), Some(name)) => addrs.iter().map(|a| (a.clone(), name.clone())).collect(),
        _ => Vec::new(),
    }
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
                if matches!(h.action, HostAction::Accept) {
                    weak.extend(docker_bridges(h, Side::Destination, false));
                }
                if matches!(h.action, HostAction::Snat { .. }) {
                    bridges.extend(docker_bridges(h, Side::Source, true));
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
            ct: CtState::New,
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
}
