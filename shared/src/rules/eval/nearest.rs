//! The nearest rules of a cloud layer that refused because nothing admitted: allow rules
//! for the same traffic from other sources or to other destinations, disabled rules that
//! would match, and rules for other ports ("rules admit only 198.51.100.0/24").

use super::matching::{match_rule, Match, Miss, Packet};
use super::{NearestKind, NearestRule, RuleRef, MAX_NEAREST};
use crate::rules::model::{Action, Peer, Rule, RuleSet};

/// Up to [`MAX_NEAREST`] allow rules of the sets `members` close to the packet, the most
/// telling first.
pub(super) fn nearest(sets: &[&RuleSet], members: &[usize], p: &Packet) -> Vec<NearestRule> {
    // Classify every allow rule cheaply; describe only the few that are listed.
    let mut found: Vec<(NearestKind, &RuleSet, &Rule)> = Vec::new();
    for &si in members {
        let set = sets[si];
        for rule in set.rules_in(p.direction) {
            if rule.action != Action::Allow || rule.implicit {
                continue;
            }
            let kind = if rule.disabled {
                let mut enabled = rule.clone();
                enabled.disabled = false;
                match match_rule(set, &enabled, p) {
                    Match::Yes | Match::Maybe(_) => NearestKind::Disabled,
                    _ => continue,
                }
            } else {
                match match_rule(set, rule, p) {
                    Match::No(Miss::Peer, _) => NearestKind::OtherSource,
                    Match::No(Miss::Local | Miss::AppliesTo, _) => NearestKind::OtherDestination,
                    Match::No(Miss::Port, _) => NearestKind::OtherPort,
                    _ => continue,
                }
            };
            found.push((kind, set, rule));
        }
    }
    // Disabled look-alikes first, then same traffic, then other ports; stable otherwise.
    found.sort_by_key(|(k, _, _)| match k {
        NearestKind::Disabled => 0,
        NearestKind::OtherSource => 1,
        NearestKind::OtherDestination => 2,
        NearestKind::OtherPort => 3,
    });
    found
        .into_iter()
        .take(MAX_NEAREST)
        .map(|(kind, set, rule)| describe_nearest(kind, set, rule, p))
        .collect()
}

/// What `rule` admits and how that differs from the packet, in words.
fn describe_nearest(kind: NearestKind, set: &RuleSet, rule: &Rule, p: &Packet) -> NearestRule {
    let peers: Vec<String> = rule.peers.iter().map(ToString::to_string).collect();
    let difference = match kind {
        NearestKind::OtherSource => {
            let family_note =
                if rule.peers.iter().all(
                    |x| matches!(x, Peer::Cidr { cidr } if cidr.is_ipv4() != p.remote.is_ipv4()),
                ) {
                    if p.remote.is_ipv4() {
                        " (IPv6 ranges only)"
                    } else {
                        " (IPv4 ranges only)"
                    }
                } else {
                    ""
                };
            format!(
                "admits {} from {}{family_note}, not {}",
                rule.traffic(),
                peers.join(", "),
                p.remote
            )
        }
        NearestKind::OtherDestination => {
            let mut only: Vec<String> = rule.local.iter().map(ToString::to_string).collect();
            only.extend(rule.applies_to.iter().map(ToString::to_string));
            format!(
                "admits {} from {}, but only to {}",
                rule.traffic(),
                peers.join(", "),
                only.join(", ")
            )
        }
        NearestKind::Disabled => "would admit it, but the rule is disabled".to_owned(),
        NearestKind::OtherPort => format!("admits {} only", rule.traffic()),
    };
    NearestRule {
        rule: RuleRef::new(set, rule),
        kind,
        peers,
        difference,
    }
}
