//! What one layer's evaluation yields, whichever kind of layer it is: its outcome and
//! explanation code, the deciding rules (as positions, resolved to [`RuleRef`]s only for
//! the verdict), the maybe-rules an `Unknown` depends on, and its notes.
//!
//! [`RuleRef`]: super::RuleRef

use super::host::HostLayer;
use super::matching::UnknownKind;
use super::{ExplanationCode, Outcome};
use crate::rules::model::{Action, Direction, PortRange, Rule, RuleSet, RuleSetKind};

/// A rule named by (set index, position), resolved to a [`RuleRef`](super::RuleRef) at the
/// end.
pub(super) type At = (usize, usize);

/// A rule that may or may not match, and why it is not known.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub(super) at: At,
    pub(super) action: Action,
    pub(super) reasons: Vec<(UnknownKind, String)>,
}

/// The result of one first-match or union pass.
#[derive(Debug)]
pub(super) struct Pass {
    pub(super) outcome: Outcome,
    /// Rules that matched for certain (the decider for first-match, every admitting rule
    /// for a union).
    pub(super) deciding: Vec<At>,
    /// Maybe-rules that make the outcome unknown.
    pub(super) unknown: Vec<Pending>,
    pub(super) notes: Vec<String>,
}

/// The explanation code of an `Unknown`: the weightiest thing it depends on.
pub(super) fn unknown_code(pending: &[Pending]) -> ExplanationCode {
    let kinds: Vec<UnknownKind> = pending
        .iter()
        .flat_map(|m| m.reasons.iter().map(|(k, _)| *k))
        .collect();
    if kinds.contains(&UnknownKind::Reference) {
        ExplanationCode::UnresolvedReference
    } else if kinds.contains(&UnknownKind::Unsupported) {
        ExplanationCode::UnsupportedMatch
    } else if kinds.contains(&UnknownKind::Destination) {
        ExplanationCode::DestinationNotSpecified
    } else if kinds.contains(&UnknownKind::Question) {
        ExplanationCode::IncompleteQuestion
    } else {
        ExplanationCode::DependsOnClientPort
    }
}

/// One layer's full result, before rule references are resolved.
#[derive(Debug)]
pub(super) struct LayerResult {
    pub(super) kind: RuleSetKind,
    pub(super) members: Vec<usize>,
    pub(super) outcome: Outcome,
    pub(super) code: ExplanationCode,
    pub(super) deciding: Vec<At>,
    pub(super) unknown: Vec<Pending>,
    pub(super) notes: Vec<String>,
    pub(super) explanation: String,
    /// The layer refused because no rule admitted (not an explicit deny): list nearest.
    pub(super) nothing_matched: bool,
    /// For a stateless ACL whose reply is refused: the direction and port ranges refused.
    pub(super) reply_refused: Option<(Direction, Vec<PortRange>)>,
    /// Host firewall layers: what the generic passes cannot compute.
    pub(super) host: Option<Box<HostLayer>>,
}

/// "security groups sg-1, sg-2", or the one set's title.
pub(super) fn layer_title(sets: &[&RuleSet], members: &[usize]) -> String {
    match members {
        [one] => sets[*one].title(),
        many => format!(
            "security groups {}",
            many.iter()
                .map(|&i| sets[i].id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) fn rule_at<'a>(sets: &[&'a RuleSet], at: At) -> Option<&'a Rule> {
    sets.get(at.0)?.rules.get(at.1)
}

pub(super) fn label_of(sets: &[&RuleSet], at: At) -> String {
    rule_at(sets, at).map_or_else(String::new, |r| r.label.clone())
}
