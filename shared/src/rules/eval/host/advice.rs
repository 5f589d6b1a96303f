//! What to show when the host firewall refuses: the ACCEPT rules that nearly match (other
//! source, other port), and the rule to add in the syntax of the table that refused
//! (written by `iptables::accept_fix`, `nft::accept_fix` and, for ufw, `iptables::ufw_fix`).

use super::hooks::Branch;
use super::matching::{Addr, Pkt, Tri};
use super::{HostEval, HostFixSpec, HostPath};
use crate::rules::eval::{NearestKind, NearestRule, Question, RuleFix, RuleRef, MAX_NEAREST};
use crate::rules::iptables;
use crate::rules::model::{HostAction, HostBackend, HostFamily, HostMatch, RuleSet};
use crate::rules::nft;

/// ACCEPT rules near the question, for a packet that fell through to a DROP policy.
pub(super) fn host_nearest(
    ev: &mut HostEval,
    sets: &[&RuleSet],
    members: &[usize],
    pkt: &Pkt,
) -> Vec<NearestRule> {
    let mut found: Vec<NearestRule> = Vec::new();
    for &si in members {
        for rule in &sets[si].rules {
            let Some(h) = &rule.host else { continue };
            if h.action != HostAction::Accept || rule.implicit {
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
pub(super) fn host_fixes(
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
        iptables::accept_fix(&spec)
    } else {
        nft::accept_fix(&spec)
    }];
    if !forward && table.chains.iter().any(|c| c.name.starts_with("ufw-")) && q.protocol.has_ports()
    {
        out.push(iptables::ufw_fix(&spec));
    }
    out
}
