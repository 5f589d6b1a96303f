//! Evaluates a [`Question`] ("would 203.0.113.7 reach tcp/443 here?") against the rule sets
//! that protect one resource, and explains the answer.
//!
//! Sets combine by kind, as the clouds apply them to a packet:
//! * every AWS security group passed is on the same network interface: their rules are one
//!   union of allows (one layer);
//! * every other set (a network ACL, a GCP network's rules, an NSG on a subnet or a NIC) is
//!   a layer of its own, and the traffic must pass every layer.
//!
//! Within a layer: security groups admit if any rule matches; network ACLs, GCP firewalls
//! and NSGs take the first matching rule in their order (the parsers have already sorted
//! them: rule number, or priority with GCP's deny-before-allow at equal priority). A rule
//! that *might* match (a prefix list, a security-group reference, a service tag, a target
//! tag the question did not settle) makes the answer `Unknown` only when it could change
//! it: a maybe-rule before a certain match with the same action changes nothing.
//!
//! Network ACLs are stateless, so an admitted request is checked again for its reply: the
//! other direction, towards the client's ephemeral ports (1024–65535).
//!
//! Explanation codes follow AWS Reachability Analyzer where it has one
//! (`SG_HAS_NO_RULES`, `ENI_SG_RULES_MISMATCH`, `SUBNET_ACL_RESTRICTION`); the GCP, Azure and
//! "unknown" codes are ours and documented on [`ExplanationCode`].
//!
//! The evaluator is built in layers, one file each:
//! * `question` and `verdict`: what is asked and what is answered (the public types);
//! * `matching`: one rule against the traffic (addresses, ports, protocols, references);
//! * `layer`: what every layer's pass yields; `security_groups` (the union of allows),
//!   `first_match` (network ACLs, GCP, Azure) and `stateless` (the NACL's reply over the
//!   ephemeral ports) compute it for the cloud layers;
//! * `host`: the netfilter path walker for iptables and nftables tables;
//! * `nearest`: the allow rules close to a refused question;
//! * `explain` turns the layers' decisions into the [`Verdict`] (and hands refusals to the
//!   rule-to-add writers), `summary` renders it as one line.
//!
//! This file only orders the layers the way a packet meets them.

mod explain;
mod first_match;
mod host;
mod layer;
mod matching;
mod nearest;
mod question;
mod security_groups;
mod stateless;
mod summary;
#[cfg(test)]
pub(crate) mod tests_support;
mod verdict;

use super::model::{Direction, PortRange, Protocol, RuleSet, RuleSetKind};
use layer::LayerResult;
use matching::Packet;

pub(crate) use host::HostFixSpec;
pub use host::{HostDenial, HostPath, HostVerdict};
pub use question::{DestinationInfo, Question};
pub use summary::{summary, to_rules_verdict};
pub use verdict::{
    ExplanationCode, LayerVerdict, NearestKind, NearestRule, Outcome, RuleFix, RuleRef,
    UnknownReason, Verdict,
};

/// The ephemeral ports a client may reply to: 1024–65535 covers every OS and every NAT
/// (AWS's own recommendation for network ACLs).
pub const EPHEMERAL_PORTS: PortRange = PortRange {
    from: 1024,
    to: 65535,
};

/// How many nearest rules a verdict lists at most.
const MAX_NEAREST: usize = 10;

fn early(question: &Question, code: ExplanationCode, reason: String) -> Verdict {
    Verdict {
        question: question.clone(),
        outcome: Outcome::Unknown,
        explanation_code: code,
        explanation: reason.clone(),
        deciding_rules: Vec::new(),
        nearest_rules: Vec::new(),
        unknown_reasons: vec![UnknownReason { rule: None, reason }],
        notes: Vec::new(),
        layers: Vec::new(),
        fixes: Vec::new(),
        host: None,
    }
}

/// Evaluates `question` against the rule sets that protect one resource.
///
/// Pass only the sets that apply: the security groups attached to the network interface
/// and the network ACL of its subnet (not every group `describe-security-groups` listed),
/// the GCP network the instance is in, the NSGs of its subnet and NIC.
pub fn evaluate(sets: &[RuleSet], question: &Question) -> Verdict {
    let refs: Vec<&RuleSet> = sets.iter().collect();
    evaluate_refs(&refs, question)
}

/// [`evaluate`] for callers holding references (e.g. the sets a person selected).
pub fn evaluate_refs(sets: &[&RuleSet], question: &Question) -> Verdict {
    let mut q = question.clone();
    q.source = q.source.to_canonical();
    if sets.is_empty() {
        return early(
            &q,
            ExplanationCode::NoRuleSets,
            "no rule set is loaded: load the security group, firewall or NSG JSON first".to_owned(),
        );
    }
    if q.protocol == Protocol::All {
        return early(
            &q,
            ExplanationCode::IncompleteQuestion,
            "the question needs one protocol (tcp, udp, icmp…), not `all`".to_owned(),
        );
    }
    if q.protocol.has_ports() && q.port.is_none() {
        return early(
            &q,
            ExplanationCode::IncompleteQuestion,
            format!("the question needs a destination port for {}", q.protocol),
        );
    }
    let packet = Packet::of_question(&q);
    let layers = layers_in_order(sets, &packet, &q);
    explain::verdict(sets, &q, &packet, &layers)
}

/// Every layer's decision, in the order a packet meets them: inbound through the subnet's
/// ACL first, outbound through the interface's security groups first.
fn layers_in_order(sets: &[&RuleSet], packet: &Packet, q: &Question) -> Vec<LayerResult> {
    let sg_members: Vec<usize> = (0..sets.len())
        .filter(|&i| sets[i].kind == RuleSetKind::AwsSecurityGroup)
        .collect();
    let mut layers: Vec<LayerResult> = Vec::new();
    let mut others: Vec<LayerResult> = (0..sets.len())
        .filter(|&i| {
            !matches!(
                sets[i].kind,
                RuleSetKind::AwsSecurityGroup | RuleSetKind::HostFirewall
            )
        })
        .map(|i| first_match::eval_first_match_layer(sets, i, packet, q))
        .collect();
    let sg_layer = (!sg_members.is_empty())
        .then(|| security_groups::eval_sg_layer(sets, &sg_members, packet, q));
    // The host's own firewall is the last thing an inbound packet meets (after the cloud's
    // filters in front of the machine) and the first an outbound one does.
    let host_members: Vec<usize> = (0..sets.len())
        .filter(|&i| sets[i].kind == RuleSetKind::HostFirewall)
        .collect();
    let host = (!host_members.is_empty()).then(|| host::host_layer(sets, &host_members, q));
    match q.direction {
        Direction::Inbound => {
            layers.append(&mut others);
            layers.extend(sg_layer);
            layers.extend(host);
        }
        Direction::Outbound => {
            layers.extend(host);
            layers.extend(sg_layer);
            layers.append(&mut others);
        }
    }
    layers
}
