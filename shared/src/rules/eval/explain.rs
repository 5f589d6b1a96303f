//! Renders the layers' decisions as a [`Verdict`]: the combined outcome and its code, the
//! explanation (one paragraph per layer), the deciding rules resolved to [`RuleRef`]s, what
//! an `Unknown` depends on, the nearest rules, and the rules to add, which are handed to
//! the writers in `rules::fix` (cloud layers) or come from the host layer.
//!
//! The decisions are made in the layer modules; nothing here changes an outcome.

use super::layer::{layer_title, rule_at, At, LayerResult};
use super::matching::Packet;
use super::nearest::nearest;
use super::{
    ExplanationCode, LayerVerdict, NearestRule, Outcome, Question, RuleFix, RuleRef, UnknownReason,
    Verdict,
};
use crate::rules::fix;
use crate::rules::model::{RuleSet, RuleSetKind};

/// The verdict of `layers` (in the order the packet meets them).
pub(super) fn verdict(
    sets: &[&RuleSet],
    q: &Question,
    packet: &Packet,
    layers: &[LayerResult],
) -> Verdict {
    let outcome = if layers.iter().any(|l| l.outcome == Outcome::Denied) {
        Outcome::Denied
    } else if layers.iter().any(|l| l.outcome == Outcome::Unknown) {
        Outcome::Unknown
    } else {
        Outcome::Allowed
    };
    let code = layers
        .iter()
        .find(|l| l.outcome == outcome)
        .map_or(ExplanationCode::Allowed, |l| l.code);
    let mut found = Found::default();
    for l in layers {
        found.add(sets, q, packet, outcome, l);
    }
    several_sets_notes(sets, &mut found.notes);

    let layer_verdicts: Vec<LayerVerdict> = layers
        .iter()
        .map(|l| LayerVerdict {
            title: layer_title(sets, &l.members),
            kind: l.kind,
            set_ids: l.members.iter().map(|&i| sets[i].id.clone()).collect(),
            outcome: l.outcome,
            code: l.code,
            deciding_rules: refs_of(sets, &l.deciding),
            refused_reply: l.reply_refused.is_some(),
            explanation: l.explanation.clone(),
        })
        .collect();
    let explanation = layers
        .iter()
        .map(|l| l.explanation.as_str())
        .collect::<Vec<_>>()
        .join("\n");

    Verdict {
        question: q.clone(),
        outcome,
        explanation_code: code,
        explanation,
        deciding_rules: found.deciding_rules,
        nearest_rules: found.nearest_rules,
        unknown_reasons: found.unknown_reasons,
        notes: found.notes,
        layers: layer_verdicts,
        fixes: found.fixes,
        host: layers
            .iter()
            .find_map(|l| l.host.as_ref().map(|h| h.verdict.clone())),
    }
}

fn refs_of(sets: &[&RuleSet], ats: &[At]) -> Vec<RuleRef> {
    ats.iter()
        .filter_map(|&at| rule_at(sets, at).map(|r| RuleRef::new(sets[at.0], r)))
        .collect()
}

/// What the verdict lists, gathered layer by layer.
#[derive(Default)]
struct Found {
    deciding_rules: Vec<RuleRef>,
    nearest_rules: Vec<NearestRule>,
    unknown_reasons: Vec<UnknownReason>,
    notes: Vec<String>,
    fixes: Vec<RuleFix>,
}

impl Found {
    /// Adds what layer `l` contributes to a verdict whose combined outcome is `outcome`.
    fn add(
        &mut self,
        sets: &[&RuleSet],
        q: &Question,
        packet: &Packet,
        outcome: Outcome,
        l: &LayerResult,
    ) {
        // An unknown outcome has no decider, only what it depends on.
        if l.outcome == outcome && outcome != Outcome::Unknown {
            self.deciding_rules.extend(refs_of(sets, &l.deciding));
        }
        if outcome == Outcome::Unknown && l.outcome == Outcome::Unknown {
            for m in &l.unknown {
                let rule = rule_at(sets, m.at).map(|r| RuleRef::new(sets[m.at.0], r));
                for (_, reason) in &m.reasons {
                    self.unknown_reasons.push(UnknownReason {
                        rule: rule.clone(),
                        reason: reason.clone(),
                    });
                }
            }
        }
        if let (Outcome::Denied, Some(h)) = (l.outcome, &l.host) {
            self.nearest_rules.extend(h.nearest.iter().cloned());
            self.fixes.extend(h.fixes.iter().cloned());
        } else if l.outcome == Outcome::Denied {
            if l.nothing_matched {
                self.nearest_rules.extend(nearest(sets, &l.members, packet));
            }
            // The rule to add is written per provider in `rules::fix`.
            self.fixes.extend(fix::for_layer(
                sets,
                l.kind,
                &l.members,
                &l.deciding,
                l.reply_refused.as_ref(),
                q,
                &self.nearest_rules,
            ));
        }
        for n in &l.notes {
            if !self.notes.contains(n) {
                self.notes.push(n.clone());
            }
        }
    }
}

/// Notes for inputs that pass more sets than one resource can have.
fn several_sets_notes(sets: &[&RuleSet], notes: &mut Vec<String>) {
    let nacls = sets
        .iter()
        .filter(|s| s.kind == RuleSetKind::AwsNetworkAcl)
        .count();
    if nacls > 1 {
        notes.push(format!(
            "{nacls} network ACLs were given and all were applied; a subnet has exactly one: \
             pass only the ACL associated with the resource's subnet"
        ));
    }
    let networks = sets
        .iter()
        .filter(|s| s.kind == RuleSetKind::GcpFirewall)
        .count();
    if networks > 1 {
        notes.push(format!(
            "{networks} GCP networks were given and all were applied; an interface is in one \
             network: pass only that network's rules"
        ));
    }
}
