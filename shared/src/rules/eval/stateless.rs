//! The stateless part of a network ACL: an admitted request is checked again for its reply,
//! in the other direction. For tcp and udp the reply goes to the client's ephemeral port,
//! which the question does not know, so the ACL's rules are swept over the whole range
//! (1024–65535) at once: the reply is admitted, refused, or depends on the port.

use std::collections::BTreeMap;

use super::first_match::first_match;
use super::layer::{label_of, unknown_code, At, LayerResult, Pending};
use super::matching::{match_rule, Match, Packet, UnknownKind};
use super::{ExplanationCode, Outcome, Question, EPHEMERAL_PORTS};
use crate::rules::model::{ranges_text, Action, PortMatch, PortRange, Protocol, RuleSet};

/// A stateless layer that admitted the request: the reply must pass too, in the other
/// direction (to the client's ephemeral port, for tcp and udp).
pub(super) fn check_reply(
    sets: &[&RuleSet],
    si: usize,
    p: &Packet,
    q: &Question,
    mut result: LayerResult,
) -> LayerResult {
    let Some(reply) = reply_packet(p) else {
        result
            .explanation
            .push_str(" This ICMP type expects no reply.");
        return result;
    };
    if reply.protocol.has_ports() {
        return reply_to_ephemeral_ports(sets, si, &reply, q, result);
    }
    let reply_dir = reply.direction;
    let rpass = first_match(sets, si, &reply);
    match rpass.outcome {
        Outcome::Allowed => {
            result.explanation.push_str(&format!(
                " The ACL is stateless; its {reply_dir} rules admit the reply ({}).",
                rpass
                    .deciding
                    .iter()
                    .map(|&at| format!("rule {}", label_of(sets, at)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            result.deciding.extend(rpass.deciding);
        }
        Outcome::Denied => {
            result.outcome = Outcome::Denied;
            result.code = ExplanationCode::SubnetAclRestriction;
            result.deciding = rpass.deciding.clone();
            result.explanation.push_str(&format!(
                " But the ACL is stateless and its {reply_dir} rules deny the reply ({}).",
                rpass
                    .deciding
                    .iter()
                    .map(|&at| format!("rule {}", label_of(sets, at)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            result.reply_refused = Some((reply_dir, Vec::new()));
        }
        Outcome::Unknown => {
            result.outcome = Outcome::Unknown;
            result.code = unknown_code(&rpass.unknown);
            result.unknown.extend(rpass.unknown);
        }
    }
    result
}

/// The reply of a tcp or udp request: the ACL must admit it on every port the client may
/// have picked, or the answer depends on the port.
fn reply_to_ephemeral_ports(
    sets: &[&RuleSet],
    si: usize,
    reply: &Packet,
    q: &Question,
    mut result: LayerResult,
) -> LayerResult {
    let set = sets[si];
    let reply_dir = reply.direction;
    let segments = ephemeral_segments(sets, si, reply);
    let allowed: Vec<PortRange> = segments
        .iter()
        .filter(|s| s.1 == Outcome::Allowed)
        .map(|s| s.0)
        .collect();
    let denied: Vec<&Segment> = segments.iter().filter(|s| s.1 == Outcome::Denied).collect();
    let unknown: Vec<Pending> = segments
        .iter()
        .filter(|s| s.1 == Outcome::Unknown)
        .flat_map(|s| s.3.clone())
        .collect();
    let deciders = |list: &[&Segment]| {
        let mut v: Vec<At> = list.iter().filter_map(|s| s.2).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    if denied.is_empty() && unknown.is_empty() {
        let mut ds: Vec<At> = segments.iter().filter_map(|s| s.2).collect();
        ds.sort_unstable();
        ds.dedup();
        result.explanation.push_str(&format!(
            " The ACL is stateless; its {reply_dir} rules admit the reply to {} on ephemeral \
             ports {EPHEMERAL_PORTS} ({}).",
            q.source,
            ds.iter()
                .map(|&at| format!("rule {}", label_of(sets, at)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        result.deciding.extend(ds);
        return result;
    }
    let denied_ranges: Vec<PortRange> = denied.iter().map(|s| s.0).collect();
    let denied_text = ranges_text(&denied_ranges);
    if allowed.is_empty() && unknown.is_empty() {
        result.outcome = Outcome::Denied;
        result.code = ExplanationCode::SubnetAclRestriction;
        result.deciding = deciders(&denied);
        result.explanation.push_str(&format!(
            " But the ACL is stateless: the reply to {}'s ephemeral port ({EPHEMERAL_PORTS}) \
             needs an {reply_dir} rule, and {} denies it.",
            q.source,
            result
                .deciding
                .iter()
                .map(|&at| format!("rule {}", label_of(sets, at)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        result.reply_refused = Some((reply_dir, denied_ranges));
        return result;
    }
    // Part of the range: it depends on the port the client picked.
    result.outcome = Outcome::Unknown;
    result.code = if unknown.is_empty() {
        ExplanationCode::DependsOnClientPort
    } else {
        unknown_code(&unknown)
    };
    let mut reasons = Vec::new();
    if !denied.is_empty() {
        reasons.push((
            UnknownKind::ClientPort,
            format!(
                "network ACL {} is stateless and its {reply_dir} rules admit the reply only \
                 to ports {} of {}; ports {denied_text} are denied ({}). Clients pick \
                 ephemeral ports from 32768-60999 (Linux, Android), 49152-65535 (Windows, \
                 macOS, iOS), and NAT gateways, load balancers and carrier NAT use 1024-65535",
                set.id,
                ranges_text(&allowed),
                q.source,
                deciders(&denied)
                    .iter()
                    .map(|&at| format!("rule {}", label_of(sets, at)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let mut pend = unknown;
    if let Some(&first) = deciders(&denied).first() {
        pend.push(Pending {
            at: first,
            action: Action::Deny,
            reasons,
        });
    }
    result.unknown.extend(pend);
    result.explanation.push_str(&format!(
        " The reply to {}'s ephemeral port is admitted only on part of {EPHEMERAL_PORTS}.",
        q.source
    ));
    result
}

/// The reply's traffic for a stateless ACL, or `None` when no reply is expected.
pub(super) fn reply_packet<'q>(p: &Packet<'q>) -> Option<Packet<'q>> {
    let mut r = p.clone();
    r.direction = p.direction.opposite();
    r.port = None;
    r.icmp_code = None;
    match p.protocol {
        Protocol::Tcp | Protocol::Udp => Some(r),
        Protocol::Icmp if p.icmp_type == Some(8) => {
            r.icmp_type = Some(0);
            r.icmp_code = Some(0);
            Some(r)
        }
        Protocol::Icmpv6 if p.icmp_type == Some(128) => {
            r.icmp_type = Some(129);
            r.icmp_code = Some(0);
            Some(r)
        }
        Protocol::Icmp | Protocol::Icmpv6 => None,
        Protocol::Number(_) | Protocol::All => Some(r),
    }
}

/// A stretch of the ephemeral range with the outcome for the reply there, the rule that
/// decided it, and any maybe-rules that make it unknown.
pub(super) type Segment = (PortRange, Outcome, Option<At>, Vec<Pending>);

/// Disjoint port ranges keyed by their first port.
type PortSet = BTreeMap<u16, u16>;

/// The parts of `have` that lie in `cover`, in port order.
fn intersect(have: &PortSet, cover: &[PortRange]) -> Vec<PortRange> {
    let mut out = Vec::new();
    for c in cover {
        // Disjoint and ordered: walk back from the last range starting at or before c.to
        // until one ends before c.from.
        for (&from, &to) in have.range(..=c.to).rev() {
            if to < c.from {
                break;
            }
            out.push(PortRange::new(from.max(c.from), to.min(c.to)));
        }
    }
    out.sort_by_key(|r| r.from);
    out
}

/// Removes `piece` from `have`; `piece` lies inside one of its ranges.
fn remove_piece(have: &mut PortSet, piece: PortRange) {
    let Some((&from, &to)) = have.range(..=piece.from).next_back() else {
        return;
    };
    if to < piece.to {
        return;
    }
    have.remove(&from);
    if from < piece.from {
        have.insert(from, piece.from - 1);
    }
    if piece.to < to {
        have.insert(piece.to + 1, to);
    }
}

/// First-match over the ephemeral ports, as one sweep through the rules: each rule decides
/// the still-undecided ports it covers. Linear in the rules for real ACLs (whose rules
/// have no references, so never "maybe"), however many port ranges they carve.
pub(super) fn ephemeral_segments(sets: &[&RuleSet], si: usize, reply: &Packet) -> Vec<Segment> {
    let set = sets[si];
    let all = [PortRange::new(0, u16::MAX)];
    let mut undecided: PortSet = BTreeMap::from([(EPHEMERAL_PORTS.from, EPHEMERAL_PORTS.to)]);
    let mut decided: Vec<(PortRange, Action, At)> = Vec::new();
    let mut maybes: Vec<(Vec<PortRange>, Pending)> = Vec::new();
    for rule in set.rules_in(reply.direction) {
        if undecided.is_empty() {
            break;
        }
        let cover = match &rule.ports {
            PortMatch::Ports { ranges } => ranges.as_slice(),
            PortMatch::Any | PortMatch::Icmp { .. } => &all,
        };
        let pieces = intersect(&undecided, cover);
        let Some(first) = pieces.first() else {
            continue;
        };
        let mut packet = reply.clone();
        packet.port = Some(first.from);
        let at = (si, rule.position);
        match match_rule(set, rule, &packet) {
            Match::Yes => {
                for &piece in &pieces {
                    remove_piece(&mut undecided, piece);
                }
                decided.extend(pieces.into_iter().map(|r| (r, rule.action, at)));
            }
            Match::Maybe(reasons) => maybes.push((
                pieces,
                Pending {
                    at,
                    action: rule.action,
                    reasons,
                },
            )),
            Match::No(..) => {}
        }
    }
    let mut segments: Vec<Segment> = decided
        .into_iter()
        .map(|(range, action, at)| {
            let conflicting: Vec<Pending> = maybes
                .iter()
                .filter(|(ranges, m)| {
                    m.action != action
                        && m.at.1 < at.1
                        && ranges
                            .iter()
                            .any(|r| r.from <= range.to && range.from <= r.to)
                })
                .map(|(_, m)| m.clone())
                .collect();
            let outcome = match (conflicting.is_empty(), action) {
                (false, _) => Outcome::Unknown,
                (true, Action::Allow) => Outcome::Allowed,
                (true, Action::Deny) => Outcome::Denied,
            };
            (range, outcome, Some(at), conflicting)
        })
        .collect();
    // Ports no rule reached (only in hand-built sets without the `*` rule) are refused.
    segments.extend(
        undecided
            .into_iter()
            .map(|(from, to)| (PortRange::new(from, to), Outcome::Denied, None, Vec::new())),
    );
    segments.sort_by_key(|s| s.0.from);
    let mut merged: Vec<Segment> = Vec::with_capacity(segments.len());
    for s in segments {
        match merged.last_mut() {
            Some(last)
                if last.1 == s.1
                    && last.2 == s.2
                    && last.3.is_empty()
                    && s.3.is_empty()
                    && u32::from(last.0.to) + 1 == u32::from(s.0.from) =>
            {
                last.0.to = s.0.to;
            }
            _ => merged.push(s),
        }
    }
    merged
}
