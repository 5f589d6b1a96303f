//! The host firewall layer's outcome: the walk's branches combined (certain only when every
//! branch ends the same way), the path and DNAT for the verdict, and the layer's
//! explanation, with Docker's caveat for published ports.

use std::net::IpAddr;

use super::advice::{host_fixes, host_nearest};
use super::chains::End;
use super::hooks::{decided, host_walk, Branch, Decided, Nat};
use super::{host_rule, At, HostEval, DOCKER_DOCS_URL, NO_RULE};
use crate::rules::eval::layer::{unknown_code, LayerResult, Pending};
use crate::rules::eval::matching::UnknownKind;
use crate::rules::eval::{
    ExplanationCode, HostDenial, HostPath, HostVerdict, NearestRule, Outcome, Question, RuleFix,
    RuleRef,
};
use crate::rules::model::{
    Action, CtState, Direction, HostAction, HostBackend, HostHook, IptablesBackend, RuleSet,
    RuleSetKind,
};

/// A host layer's extras for [`evaluate_refs`](crate::rules::eval::evaluate_refs).
#[derive(Debug)]
pub(in crate::rules::eval) struct HostLayer {
    pub(in crate::rules::eval) verdict: HostVerdict,
    pub(in crate::rules::eval) nearest: Vec<NearestRule>,
    pub(in crate::rules::eval) fixes: Vec<RuleFix>,
}

/// Evaluates the question against the host firewall tables `members` of `sets`, then the
/// packets the connection needs beside its first: the data after the handshake
/// (`established.rs`) and, for an IPv6 source, neighbour discovery (`neighbour.rs`).
pub(in crate::rules::eval) fn host_layer(
    sets: &[&RuleSet],
    members: &[usize],
    q: &Question,
) -> LayerResult {
    let mut result = host_layer_ct(sets, members, q, CtState::New);
    super::established::check(sets, members, q, &mut result);
    super::neighbour::check(sets, members, q, &mut result);
    result
}

/// [`host_layer`] for a packet in conntrack state `ct`.
pub(super) fn host_layer_ct(
    sets: &[&RuleSet],
    members: &[usize],
    q: &Question,
    ct: CtState,
) -> LayerResult {
    let covering: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| {
            sets[i]
                .host
                .as_ref()
                .is_some_and(|t| t.family.covers(q.source))
        })
        .collect();
    let (relevant, same_tables) = without_nft_views(sets, &covering);
    let title = title_of(sets, &relevant);
    let mut result = LayerResult {
        kind: RuleSetKind::HostFirewall,
        members: relevant.clone(),
        outcome: Outcome::Unknown,
        code: ExplanationCode::NoRuleSets,
        deciding: Vec::new(),
        unknown: Vec::new(),
        notes: Vec::new(),
        explanation: String::new(),
        nothing_matched: false,
        reply_refused: None,
        host: None,
    };
    for (nft, ipt) in same_tables {
        result.notes.push(format!(
            "`{}` is iptables' nf_tables backend seen through nft (its matches as opaque `xt` \
             expressions): the same kernel table as `{}`, which iptables-save shows in full, \
             so it is evaluated once, as `{}`.",
            sets[nft].id, sets[ipt].id, sets[ipt].id
        ));
    }
    let what = format!("{} on {}", q.source, q.traffic());
    let mut verdict = HostVerdict {
        path: match q.direction {
            Direction::Inbound => HostPath::Input,
            Direction::Outbound => HostPath::Output,
        },
        dnat_to: None,
        dnat_rule: None,
        input_would: None,
        denial: None,
        trace: Vec::new(),
    };
    if relevant.is_empty() {
        return no_table(q, result, verdict);
    }

    let mut ev = HostEval::new(sets, &relevant);
    ev.ct = ct;
    let (finished, input_would) = host_walk(&mut ev, sets, &relevant, q);

    // Combine the branches.
    let decisions: Vec<Decided> = finished.iter().map(decided).collect();
    let all_allowed = decisions.iter().all(|d| *d == Decided::Allowed);
    let all_denied = decisions.iter().all(|d| matches!(d, Decided::Denied(..)));
    let principal_idx = (0..finished.len())
        .min_by_key(|&i| finished[i].assumed.iter().filter(|a| a.matched).count())
        .unwrap_or(0);
    let Some(principal) = finished.get(principal_idx).cloned() else {
        result.explanation = format!("The {title} has no chain that {what} passes.");
        result.outcome = Outcome::Allowed;
        result.code = ExplanationCode::Allowed;
        return result;
    };
    describe_path(sets, q, &principal, input_would, &mut verdict);

    let mut explanation = String::new();
    if principal.path == HostPath::Forward {
        explanation.push_str(&docker_paragraph(q, &verdict));
        explanation.push(' ');
    }
    let walked = Walked {
        sets,
        relevant: &relevant,
        q,
        principal: &principal,
        title: &title,
        what: &what,
        path_words: match principal.path {
            HostPath::Input => "on the INPUT path",
            HostPath::Forward => "on the FORWARD path",
            HostPath::Output => "on the OUTPUT path",
        },
    };
    let (nearest_rules, fixes) = if all_allowed {
        walked.accepted(&mut result, &mut explanation);
        (Vec::new(), Vec::new())
    } else if all_denied {
        result.outcome = Outcome::Denied;
        let Some(advice) = walked.denied(
            &mut ev,
            &decisions,
            &mut result,
            &mut verdict,
            &mut explanation,
        ) else {
            return result;
        };
        advice
    } else {
        walked.undecided(&finished, &decisions, &mut result, &mut explanation);
        (Vec::new(), Vec::new())
    };
    ingress_doubt(sets, &relevant, q, &mut result, &mut explanation);
    published_port_notes(
        &mut ev,
        q,
        &principal,
        &verdict,
        result.outcome,
        &mut explanation,
    );
    result.explanation = explanation;
    result.notes.extend(ev.notes);
    result.host = Some(Box::new(HostLayer {
        verdict,
        nearest: nearest_rules,
        fixes,
    }));
    result
}

/// What a published port adds: INPUT alone would have refused it (the ufw confusion), and
/// where to restrict it instead.
fn published_port_notes(
    ev: &mut HostEval,
    q: &Question,
    principal: &Branch,
    verdict: &HostVerdict,
    outcome: Outcome,
    explanation: &mut String,
) {
    if let Some(Outcome::Denied) = verdict.input_would {
        explanation.push_str(
            " The INPUT chain alone would refuse it, but INPUT does not see traffic to a \
             published port.",
        );
    }
    if principal.path == HostPath::Forward && outcome == Outcome::Allowed {
        if let (Some(port), Some(to)) = (q.port, &verdict.dnat_to) {
            ev.note(format!(
                "To restrict who reaches published port {port} ({to}), filter in DOCKER-USER, \
                 e.g. `iptables -I DOCKER-USER -p {} -m conntrack --ctorigdstport {port} ! -s \
                 <allowed network> -j DROP`: Docker's docs say to add rules there, not to INPUT.",
                q.protocol
            ));
        }
    }
}

/// "host firewall (iptables-filter)", naming every table evaluated.
fn title_of(sets: &[&RuleSet], relevant: &[usize]) -> String {
    if relevant.len() == 1 {
        format!("host firewall ({})", sets[relevant[0]].id)
    } else {
        format!(
            "host firewall ({})",
            relevant
                .iter()
                .map(|&i| sets[i].id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The layer when no table of the question's address family is loaded: unknown.
fn no_table(q: &Question, mut result: LayerResult, verdict: HostVerdict) -> LayerResult {
    let v6 = q.source.is_ipv6();
    let family = if v6 { "IPv6" } else { "IPv4" };
    let why = format!(
        "no {family} host firewall table is loaded ({}), so the host's filtering of {} is \
         not known",
        if v6 {
            "load `ip6tables-save` or `nft -j list ruleset`"
        } else {
            "load `iptables-save` or `nft -j list ruleset`"
        },
        q.source
    );
    result.explanation = format!("The {why}.");
    result.unknown.push(Pending {
        at: NO_RULE,
        action: Action::Allow,
        reasons: vec![(UnknownKind::Reference, why)],
    });
    result.host = Some(Box::new(HostLayer {
        verdict,
        nearest: Vec::new(),
        fixes: Vec::new(),
    }));
    result
}

/// The principal branch's path for the verdict: FORWARD or INPUT, where DNAT sent it, and
/// the rules it passed.
fn describe_path(
    sets: &[&RuleSet],
    q: &Question,
    principal: &Branch,
    input_would: Option<Outcome>,
    verdict: &mut HostVerdict,
) {
    verdict.path = principal.path;
    verdict.input_would = input_would.filter(|_| principal.path == HostPath::Forward);
    if let Some(Nat::Dnat {
        at: dat,
        addr,
        port,
    }) = principal.nat
    {
        if principal.path == HostPath::Forward {
            verdict.dnat_to = addr.map(|a| match (a, port.or(q.port)) {
                (IpAddr::V6(a6), Some(p)) => format!("[{a6}]:{p}"),
                (a, Some(p)) => format!("{a}:{p}"),
                (a, None) => a.to_string(),
            });
            verdict.dnat_rule =
                dat.and_then(|at| host_rule(sets, at).map(|(r, _)| RuleRef::new(sets[at.0], r)));
        }
    }
    verdict.trace = principal
        .trace
        .iter()
        .filter_map(|&at| host_rule(sets, at).map(|(r, _)| RuleRef::new(sets[at.0], r)))
        .collect();
}

/// A finished walk, for the sentences of the layer's outcome. The principal branch is
/// the one that assumed the fewest maybe-rules matched.
struct Walked<'w> {
    sets: &'w [&'w RuleSet],
    relevant: &'w [usize],
    q: &'w Question,
    principal: &'w Branch,
    title: &'w str,
    what: &'w str,
    path_words: &'static str,
}

impl Walked<'_> {
    fn rule_text(&self, at: At) -> String {
        host_rule(self.sets, at)
            .map_or_else(String::new, |(r, h)| format!("{} ({})", r.label, h.text))
    }

    /// Every branch accepts: the explicit ACCEPT rules decide (or the last policy).
    fn accepted(&self, result: &mut LayerResult, explanation: &mut String) {
        let (sets, title, what, path_words) = (self.sets, self.title, self.what, self.path_words);
        result.outcome = Outcome::Allowed;
        result.code = ExplanationCode::Allowed;
        let explicit: Vec<At> = self
            .principal
            .accepted
            .iter()
            .copied()
            .filter(|&at| host_rule(sets, at).is_some_and(|(r, _)| !r.implicit))
            .collect();
        result.deciding = if explicit.is_empty() {
            self.principal
                .accepted
                .last()
                .copied()
                .into_iter()
                .collect()
        } else {
            explicit
        };
        if result.deciding.is_empty() {
            explanation.push_str(&format!(
                "No base chain of the {title} filters {what} {path_words}, so it passes."
            ));
        } else {
            explanation.push_str(&format!(
                "The {title} accepts {what} {path_words}: {}.",
                result
                    .deciding
                    .iter()
                    .map(|&at| self.rule_text(at))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }

    /// Every branch refuses: the principal branch's DROP/REJECT rule or policy decides.
    /// Returns the nearest ACCEPT rules and the rules to add; `None` only if the principal
    /// branch did not refuse (it always does here).
    fn denied(
        &self,
        ev: &mut HostEval,
        decisions: &[Decided],
        result: &mut LayerResult,
        verdict: &mut HostVerdict,
        explanation: &mut String,
    ) -> Option<(Vec<NearestRule>, Vec<RuleFix>)> {
        let (sets, title, what, path_words) = (self.sets, self.title, self.what, self.path_words);
        let principal = self.principal;
        let Decided::Denied(at, denial) = decided(principal) else {
            return None;
        };
        verdict.denial = Some(denial);
        let denials: Vec<HostDenial> = decisions
            .iter()
            .filter_map(|d| match d {
                Decided::Denied(_, k) => Some(*k),
                _ => None,
            })
            .collect();
        if denials.iter().any(|k| *k != denial) {
            ev.note(
                "Depending on rules that may or may not match, the packet is dropped or \
                 rejected: the client may see a timeout or an error."
                    .to_owned(),
            );
        }
        result.deciding = vec![at];
        let policy = host_rule(sets, at).is_some_and(|(r, _)| r.implicit);
        result.nothing_matched = policy;
        let (set_i, chain) = principal.base.clone().unwrap_or((at.0, String::new()));
        let mut nearest_rules = Vec::new();
        if policy {
            result.code = ExplanationCode::HostChainPolicy;
            explanation.push_str(&format!(
                "No rule of the {title} accepts {what} {path_words}, so chain {chain}'s policy \
                 applies: {}; {}.",
                self.rule_text(at),
                denial.client_sees()
            ));
            nearest_rules = host_nearest(ev, sets, self.relevant, &principal.pkt);
        } else {
            result.code = ExplanationCode::HostFirewallRule;
            let verb = if denial == HostDenial::Dropped {
                "drops"
            } else {
                "rejects"
            };
            explanation.push_str(&format!(
                "The {title} {verb} {what} {path_words}: {} matches first; {}.",
                self.rule_text(at),
                denial.client_sees()
            ));
        }
        let fixes = host_fixes(sets, set_i, &chain, principal, self.q);
        Some((nearest_rules, fixes))
    }

    /// The branches disagree: unknown, naming the maybe-rules that make the difference.
    fn undecided(
        &self,
        finished: &[Branch],
        decisions: &[Decided],
        result: &mut LayerResult,
        explanation: &mut String,
    ) {
        let (title, what, path_words) = (self.title, self.what, self.path_words);
        result.outcome = Outcome::Unknown;
        let pend = doubts(finished, decisions);
        result.code = unknown_code(&pend);
        explanation.push_str(&format!(
            "Whether the {title} accepts {what} {path_words} depends on rules that may or may \
             not match it: {}.",
            pend.iter()
                .flat_map(|p| p.reasons.iter().map(|(_, r)| r.clone()))
                .collect::<Vec<_>>()
                .join("; ")
        ));
        result.unknown = pend;
    }
}

/// netdev ingress chains run before everything else and are not walked: one that can drop
/// makes an "allowed" uncertain (an accept there changes nothing later on).
fn ingress_doubt(
    sets: &[&RuleSet],
    relevant: &[usize],
    q: &Question,
    result: &mut LayerResult,
    explanation: &mut String,
) {
    if result.outcome == Outcome::Allowed && q.direction == Direction::Inbound {
        for &si in relevant {
            let Some(t) = &sets[si].host else { continue };
            for c in t
                .chains
                .iter()
                .filter(|c| c.hook == Some(HostHook::Ingress))
            {
                let may_drop = c.policy == Some(Action::Deny)
                    || sets[si].rules.iter().any(|r| {
                        r.host.as_ref().is_some_and(|h| {
                            h.chain == c.name
                                && !r.implicit
                                && !matches!(
                                    h.action,
                                    HostAction::Accept | HostAction::Continue { .. }
                                )
                        })
                    });
                if may_drop {
                    let why = format!(
                        "{}: ingress chain {} (netdev) runs before every other chain and is not evaluated; it may drop the packet",
                        sets[si].id, c.name
                    );
                    explanation.push_str(&format!(" But {why}."));
                    result.outcome = Outcome::Unknown;
                    result.code = ExplanationCode::UnsupportedMatch;
                    result.deciding.clear();
                    result.unknown.push(Pending {
                        at: NO_RULE,
                        action: Action::Deny,
                        reasons: vec![(UnknownKind::Unsupported, why)],
                    });
                }
            }
        }
    }
}

/// What an Unknown depends on: the unsupported targets reached, and the maybe-rules whose
/// two branches end differently (the others explain nothing).
fn doubts(finished: &[Branch], decisions: &[Decided]) -> Vec<Pending> {
    let category = |d: &Decided| match d {
        Decided::Allowed => 0u8,
        Decided::Denied(..) => 1,
        Decided::Unknown => 2,
    };
    let outcomes_when = |at: At, matched: bool| -> Vec<u8> {
        let mut v: Vec<u8> = finished
            .iter()
            .zip(decisions)
            .filter(|(b, _)| b.assumed.iter().any(|a| a.at == at && a.matched == matched))
            .map(|(_, d)| category(d))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let matters = |at: At| outcomes_when(at, true) != outcomes_when(at, false);
    let mut pend: Vec<Pending> = Vec::new();
    let mut seen: Vec<At> = Vec::new();
    for b in finished {
        if let Some(End::Unknown(at, kind, why)) = &b.end {
            if !seen.contains(at) {
                seen.push(*at);
                pend.push(Pending {
                    at: *at,
                    action: Action::Deny,
                    reasons: vec![(*kind, why.clone())],
                });
            }
        }
        for a in &b.assumed {
            if !seen.contains(&a.at) && matters(a.at) {
                seen.push(a.at);
                pend.push(Pending {
                    at: a.at,
                    action: a.action,
                    reasons: a.reasons.clone(),
                });
            }
        }
    }
    pend
}

/// The Docker caveat in Docker's own words.
fn docker_paragraph(q: &Question, v: &HostVerdict) -> String {
    let port = q.port.map_or_else(|| q.traffic(), |p| format!("port {p}"));
    let to = v
        .dnat_to
        .clone()
        .unwrap_or_else(|| "a container".to_owned());
    let by = v
        .dnat_rule
        .as_ref()
        .map_or_else(String::new, |r| format!(" by {} ({})", r.label, r.text));
    format!(
        "{port} is a published container port: it is rewritten to {to} (DNAT){by} before the \
         filter table sees it, so it goes through FORWARD (DOCKER-USER, then Docker's own \
         chains), not INPUT. INPUT and ufw rules do not apply to published ports: \"Docker \
         routes container traffic in the nat table, which means that packets are diverted \
         before it reaches the INPUT and OUTPUT chains that ufw uses\", and \"to add \
         additional rules to filter these packets, use the DOCKER-USER chain\" \
         ({DOCKER_DOCS_URL})."
    )
}

/// `members` without the nft tables that are another view of a loaded iptables table, and
/// which (nft, iptables) pairs those are. With iptables' nf_tables backend, `iptables-save`
/// and `nft -j list ruleset` both show the table (nft with opaque `xt` matches); loaded
/// together, it must count once, as the live read does. A table counts as the same when
/// the iptables one says it is nf_tables, or says nothing and nft's table has no chain the
/// iptables one lacks; a legacy table is never the same (the kernel applies both).
fn without_nft_views(sets: &[&RuleSet], members: &[usize]) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut same = Vec::new();
    let kept = members
        .iter()
        .copied()
        .filter(|&n| {
            let Some(nft) = sets[n]
                .host
                .as_ref()
                .filter(|t| t.backend == HostBackend::Nftables)
            else {
                return true;
            };
            let twin = members.iter().copied().find(|&i| {
                sets[i].host.as_ref().is_some_and(|ipt| {
                    ipt.backend == HostBackend::Iptables
                        && ipt.family == nft.family
                        && ipt.table == nft.table
                        && match ipt.iptables_backend {
                            Some(IptablesBackend::NfTables) => true,
                            Some(IptablesBackend::Legacy) => false,
                            None => nft
                                .chains
                                .iter()
                                .all(|c| ipt.chains.iter().any(|d| d.name == c.name)),
                        }
                })
            });
            match twin {
                Some(i) => {
                    same.push((n, i));
                    false
                }
                None => true,
            }
        })
        .collect();
    (kept, same)
}
