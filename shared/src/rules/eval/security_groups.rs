//! The AWS security-group layer: every group on the network interface is one union of
//! allows. Any matching rule admits; with none, the groups deny (they have no deny rules).

use super::layer::{layer_title, rule_at, unknown_code, LayerResult, Pass, Pending};
use super::matching::{match_rule, Match, Miss, Packet};
use super::{ExplanationCode, Outcome, Question};
use crate::rules::model::{RuleSet, RuleSetKind};

/// Every rule of every group that admits the packet, or the maybe-rules when none does.
fn union_of_allows(sets: &[&RuleSet], members: &[usize], p: &Packet) -> Pass {
    let mut deciding = Vec::new();
    let mut unknown = Vec::new();
    let mut notes = Vec::new();
    for &si in members {
        for rule in sets[si].rules_in(p.direction) {
            match match_rule(sets[si], rule, p) {
                Match::Yes => deciding.push((si, rule.position)),
                Match::Maybe(reasons) => unknown.push(Pending {
                    at: (si, rule.position),
                    action: rule.action,
                    reasons,
                }),
                Match::No(Miss::Peer, n) => notes.extend(n),
                Match::No(..) => {}
            }
        }
    }
    let outcome = if !deciding.is_empty() {
        unknown.clear();
        notes.clear();
        Outcome::Allowed
    } else if !unknown.is_empty() {
        Outcome::Unknown
    } else {
        Outcome::Denied
    };
    Pass {
        outcome,
        deciding,
        unknown,
        notes,
    }
}

/// The layer of the security groups `members` (indexes into `sets`).
pub(super) fn eval_sg_layer(
    sets: &[&RuleSet],
    members: &[usize],
    p: &Packet,
    q: &Question,
) -> LayerResult {
    let pass = union_of_allows(sets, members, p);
    let title = layer_title(sets, members);
    let dir = p.direction;
    let one = members.len() == 1;
    let (admits, has) = if one {
        ("admits", "has")
    } else {
        ("admit", "have")
    };
    let (code, explanation) = match pass.outcome {
        Outcome::Allowed => (
            ExplanationCode::Allowed,
            format!(
                "The {title} {admits} {} on {}: {}.",
                q.source,
                q.traffic(),
                pass.deciding
                    .iter()
                    .filter_map(
                        |&at| rule_at(sets, at).map(|r| r.one_line(RuleSetKind::AwsSecurityGroup))
                    )
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Outcome::Unknown => (
            unknown_code(&pass.unknown),
            format!(
                "No rule of the {title} admits {} for certain; some rules depend on references \
                 that are not loaded.",
                q.source
            ),
        ),
        Outcome::Denied => {
            let any_rules = members
                .iter()
                .any(|&i| sets[i].rules_in(dir).next().is_some());
            if any_rules {
                (
                    ExplanationCode::EniSgRulesMismatch,
                    format!(
                        "No {dir} rule of the {title} admits {} on {}; security groups deny \
                         whatever no rule allows.",
                        q.source,
                        q.traffic()
                    ),
                )
            } else {
                (
                    ExplanationCode::SgHasNoRules,
                    format!("The {title} {has} no {dir} rules, so no {dir} traffic is admitted."),
                )
            }
        }
    };
    LayerResult {
        kind: RuleSetKind::AwsSecurityGroup,
        members: members.to_vec(),
        outcome: pass.outcome,
        code,
        nothing_matched: pass.outcome == Outcome::Denied,
        deciding: pass.deciding,
        unknown: pass.unknown,
        notes: pass.notes,
        explanation,
        reply_refused: None,
        host: None,
    }
}
