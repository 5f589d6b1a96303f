//! One chain of one table: its rules in order until a terminal target decides, jumps and
//! gotos into user chains, RETURN back, and a base chain's policy where the walk runs out.
//! A maybe-rule forks the walk (matched / not matched), up to `MAX_HOST_PATHS` forks.

use std::net::IpAddr;

use super::hooks::Branch;
use super::matching::{Pkt, Tri};
use super::{host_rule, At, HostEval, MAX_HOST_PATHS, MAX_JUMP_DEPTH, NO_RULE};
use crate::rules::eval::matching::UnknownKind;
use crate::rules::model::{Action, HostAction};

/// A maybe-rule and which way this branch took it.
#[derive(Debug, Clone)]
pub(super) struct Assume {
    pub(super) at: At,
    pub(super) matched: bool,
    pub(super) action: Action,
    pub(super) reasons: Vec<(UnknownKind, String)>,
}

/// How one walk through a chain (or a hook) ended.
#[derive(Debug, Clone)]
pub(super) enum End {
    Accept(At),
    Drop(At),
    Reject(At, Option<String>),
    Dnat(At, Option<IpAddr>, Option<u16>),
    Redirect(Option<u16>),
    /// RETURN, or the end of a user chain: the caller continues.
    Return,
    Unknown(At, UnknownKind, String),
}

/// One way a walk through a chain went: how it ended, what it assumed, what it passed.
#[derive(Debug, Clone)]
pub(super) struct Walk {
    pub(super) end: End,
    pub(super) assumed: Vec<Assume>,
    pub(super) trace: Vec<At>,
}

/// The rule positions of one chain, and its policy rule.
#[derive(Debug, Default)]
pub(super) struct ChainRules {
    pub(super) rules: Vec<usize>,
    pub(super) policy: Option<usize>,
}

impl HostEval<'_> {
    /// Walks `chain` of set `si` from rule index `from`. Each branch owns its assumptions
    /// and trace, so they are passed by value rather than kept in `self`.
    #[allow(clippy::too_many_arguments)]
    fn run_chain(
        &mut self,
        si: usize,
        chain: &str,
        from: usize,
        pkt: &Pkt,
        depth: usize,
        mut assumed: Vec<Assume>,
        trace: Vec<At>,
    ) -> Vec<Walk> {
        let rules: Vec<usize> = self
            .chains
            .get(&si)
            .and_then(|c| c.get(chain))
            .map(|c| c.rules.clone())
            .unwrap_or_default();
        let mut i = from;
        while i < rules.len() {
            let at = (si, rules[i]);
            let Some((rule, h)) = host_rule(self.sets, at) else {
                i += 1;
                continue;
            };
            // LOG, MARK, counters: whether they match changes nothing.
            if !h.action.is_terminal() {
                i += 1;
                continue;
            }
            match self.rule_matches(h, pkt, at) {
                Tri::No => i += 1,
                Tri::Yes => {
                    return self.apply(si, chain, i, at, &h.action, pkt, depth, assumed, trace)
                }
                Tri::Maybe(reasons) => {
                    self.forks += 1;
                    if self.forks > MAX_HOST_PATHS {
                        return vec![Walk {
                            end: End::Unknown(
                                at,
                                UnknownKind::Unsupported,
                                format!(
                                    "more than {MAX_HOST_PATHS} combinations of rules that \
                                     may or may not match; the answer depends on them"
                                ),
                            ),
                            assumed,
                            trace,
                        }];
                    }
                    let mut taken = assumed.clone();
                    taken.push(Assume {
                        at,
                        matched: true,
                        action: rule.action,
                        reasons: reasons.clone(),
                    });
                    let mut out = self.apply(
                        si,
                        chain,
                        i,
                        at,
                        &h.action,
                        pkt,
                        depth,
                        taken,
                        trace.clone(),
                    );
                    assumed.push(Assume {
                        at,
                        matched: false,
                        action: rule.action,
                        reasons,
                    });
                    out.extend(self.run_chain(si, chain, i + 1, pkt, depth, assumed, trace));
                    return out;
                }
            }
        }
        vec![Walk {
            end: End::Return,
            assumed,
            trace,
        }]
    }

    /// What a matching rule's target does, continuing the walk where it falls through.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        si: usize,
        chain: &str,
        i: usize,
        at: At,
        action: &HostAction,
        pkt: &Pkt,
        depth: usize,
        assumed: Vec<Assume>,
        mut trace: Vec<At>,
    ) -> Vec<Walk> {
        trace.push(at);
        let done = |end: End, assumed: Vec<Assume>, trace: Vec<At>| {
            vec![Walk {
                end,
                assumed,
                trace,
            }]
        };
        match action {
            HostAction::Accept | HostAction::Snat { .. } => done(End::Accept(at), assumed, trace),
            HostAction::Drop => done(End::Drop(at), assumed, trace),
            HostAction::Reject { with } => done(End::Reject(at, with.clone()), assumed, trace),
            HostAction::Return => done(End::Return, assumed, trace),
            HostAction::Dnat { addr, port } => done(End::Dnat(at, *addr, *port), assumed, trace),
            HostAction::Redirect { port } => done(End::Redirect(*port), assumed, trace),
            HostAction::Other { name } => {
                let why = format!("{}: action `{name}` is not evaluated", self.name(at));
                done(
                    End::Unknown(at, UnknownKind::Unsupported, why),
                    assumed,
                    trace,
                )
            }
            // Skipped before matching.
            HostAction::Continue { .. } => done(End::Return, assumed, trace),
            HostAction::Jump { chain: to } | HostAction::Goto { chain: to } => {
                if depth >= MAX_JUMP_DEPTH {
                    let why = format!(
                        "{}: jumps nest deeper than {MAX_JUMP_DEPTH} chains (a loop?)",
                        self.name(at)
                    );
                    return done(
                        End::Unknown(at, UnknownKind::Unsupported, why),
                        assumed,
                        trace,
                    );
                }
                let sub = self.run_chain(si, to, 0, pkt, depth + 1, assumed, trace);
                if matches!(action, HostAction::Goto { .. }) {
                    // A return from a goto'd chain returns from this one too.
                    return sub;
                }
                let mut out = Vec::new();
                for w in sub {
                    match w.end {
                        End::Return => out.extend(self.run_chain(
                            si,
                            chain,
                            i + 1,
                            pkt,
                            depth,
                            w.assumed,
                            w.trace,
                        )),
                        _ => out.push(w),
                    }
                }
                out
            }
        }
    }

    /// Runs one base chain; its policy applies where the walk runs out.
    pub(super) fn run_base(&mut self, si: usize, chain: &str, b: &Branch) -> Vec<Walk> {
        let walks = self.run_chain(si, chain, 0, &b.pkt, 0, b.assumed.clone(), b.trace.clone());
        let policy = self
            .chains
            .get(&si)
            .and_then(|c| c.get(chain))
            .and_then(|c| c.policy);
        walks
            .into_iter()
            .map(|mut w| {
                if let End::Return = w.end {
                    match policy {
                        Some(p) => {
                            let at = (si, p);
                            let drop = host_rule(self.sets, at)
                                .is_some_and(|(_, h)| h.action == HostAction::Drop);
                            w.trace.push(at);
                            w.end = if drop { End::Drop(at) } else { End::Accept(at) };
                        }
                        // Without a listed policy a chain accepts (nft's default).
                        None => w.end = End::Accept(NO_RULE),
                    }
                }
                w
            })
            .collect()
    }
}
