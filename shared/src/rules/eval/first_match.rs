//! First-match layers: a network ACL (by rule number), a GCP network's firewall rules (by
//! priority, deny before allow at equal priority) and an Azure NSG (by priority). The
//! parsers have put the rules in that order, so the first rule that matches decides; a
//! maybe-rule before it makes the answer unknown only when its action differs.
//!
//! A stateless layer (a network ACL) that admits the request checks the reply too, in
//! `stateless`.

use super::layer::{rule_at, unknown_code, LayerResult, Pass, Pending};
use super::matching::{match_rule, Match, Miss, Packet};
use super::stateless;
use super::{ExplanationCode, Outcome, Question};
use crate::rules::model::{Action, RuleSet, RuleSetKind};

/// The first rule of set `si` that matches the packet for certain, and the maybe-rules
/// before it whose action differs.
pub(super) fn first_match(sets: &[&RuleSet], si: usize, p: &Packet) -> Pass {
    let set = sets[si];
    let mut pending: Vec<Pending> = Vec::new();
    let mut notes = Vec::new();
    for rule in set.rules_in(p.direction) {
        match match_rule(set, rule, p) {
            Match::Yes => {
                let conflicting: Vec<Pending> = pending
                    .iter()
                    .filter(|m| m.action != rule.action)
                    .cloned()
                    .collect();
                let at = (si, rule.position);
                if conflicting.is_empty() {
                    return Pass {
                        outcome: match rule.action {
                            Action::Allow => Outcome::Allowed,
                            Action::Deny => Outcome::Denied,
                        },
                        deciding: vec![at],
                        unknown: Vec::new(),
                        notes,
                    };
                }
                return Pass {
                    outcome: Outcome::Unknown,
                    deciding: vec![at],
                    unknown: conflicting,
                    notes,
                };
            }
            Match::Maybe(reasons) => pending.push(Pending {
                at: (si, rule.position),
                action: rule.action,
                reasons,
            }),
            Match::No(Miss::Peer, n) => notes.extend(n),
            Match::No(..) => {}
        }
    }
    // Only reachable for hand-built sets without the provider's final rule.
    Pass {
        outcome: if pending.iter().any(|m| m.action == Action::Allow) {
            Outcome::Unknown
        } else {
            Outcome::Denied
        },
        deciding: Vec::new(),
        unknown: pending,
        notes,
    }
}

/// The layer of set `si` (an ACL, a GCP network, an NSG).
pub(super) fn eval_first_match_layer(
    sets: &[&RuleSet],
    si: usize,
    p: &Packet,
    q: &Question,
) -> LayerResult {
    let set = sets[si];
    let title = set.title();
    let pass = first_match(sets, si, p);
    let decider = pass.deciding.first().and_then(|&at| rule_at(sets, at));
    let decider_text = decider.map_or_else(String::new, |r| r.one_line(set.kind));
    let implicit_decider = decider.is_some_and(|r| r.implicit);
    let mut result = LayerResult {
        kind: set.kind,
        members: vec![si],
        outcome: pass.outcome,
        code: ExplanationCode::Allowed,
        deciding: pass.deciding.clone(),
        unknown: pass.unknown.clone(),
        notes: pass.notes.clone(),
        explanation: String::new(),
        nothing_matched: false,
        reply_refused: None,
        host: None,
    };
    let what = format!("{} on {}", q.source, q.traffic());
    match pass.outcome {
        Outcome::Allowed => {
            result.explanation = format!("The {title} admits {what}: {decider_text}.");
        }
        Outcome::Unknown => {
            result.code = unknown_code(&pass.unknown);
            result.explanation = format!(
                "The {title} would decide by {decider_text}, but an earlier rule with the \
                 opposite action may match first."
            );
            if decider.is_none() {
                result.explanation = format!(
                    "No rule of the {title} matches {what} for certain; some depend on \
                     references that are not loaded."
                );
            }
        }
        Outcome::Denied => {
            result.nothing_matched = implicit_decider || decider.is_none();
            result.code = match (set.kind, result.nothing_matched) {
                (RuleSetKind::AwsNetworkAcl, _) => ExplanationCode::SubnetAclRestriction,
                (RuleSetKind::GcpFirewall, true) => ExplanationCode::GcpImpliedDenyIngress,
                (RuleSetKind::GcpFirewall, false) => ExplanationCode::GcpFirewallDenyRule,
                (RuleSetKind::AzureNsg, true) => ExplanationCode::AzureNsgDefaultDeny,
                (RuleSetKind::AzureNsg, false) => ExplanationCode::AzureNsgDenyRule,
                (RuleSetKind::AwsSecurityGroup, _) => ExplanationCode::EniSgRulesMismatch,
                // Host tables never reach this first-match pass (see `host_layer`).
                (RuleSetKind::HostFirewall, _) => ExplanationCode::HostFirewallRule,
            };
            result.explanation = if result.nothing_matched {
                format!(
                    "No {} rule of the {title} admits {what}, so its final rule denies it: \
                     {decider_text}.",
                    p.direction
                )
            } else {
                format!("The {title} denies {what}: {decider_text} matches first.")
            };
        }
    }
    if set.stateful || pass.outcome == Outcome::Denied {
        return result;
    }
    // Stateless: the reply must pass too.
    stateless::check_reply(sets, si, p, q, result)
}
