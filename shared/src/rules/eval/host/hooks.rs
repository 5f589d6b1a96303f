//! The hooks in the order a packet meets them: PREROUTING (filter and nat chains, where
//! DNAT decides the path), then INPUT, or FORWARD and POSTROUTING for a packet DNAT sent to
//! a container (a Docker published port), or OUTPUT and POSTROUTING for outbound traffic.
//! Each base chain of each table on a hook runs in priority order over every open branch.

use std::net::IpAddr;

use super::chains::{Assume, End};
use super::matching::{Addr, Iface, Pkt};
use super::{HostEval, NO_RULE};
use crate::rules::eval::layer::At;
use crate::rules::eval::matching::UnknownKind;
use crate::rules::eval::{HostDenial, HostPath, Outcome, Question};
use crate::rules::model::{Direction, HostChainType, HostFamily, HostHook, RuleSet};

/// One complete branch: its packet, path and decision.
#[derive(Debug, Clone)]
pub(super) struct Branch {
    pub(super) pkt: Pkt,
    pub(super) path: HostPath,
    pub(super) assumed: Vec<Assume>,
    pub(super) trace: Vec<At>,
    /// ACCEPTs (rules and policies) on the decisive hook.
    pub(super) accepted: Vec<At>,
    pub(super) nat: Option<Nat>,
    /// Set when the branch ended: `None` while it still passes.
    pub(super) end: Option<End>,
    /// The base chain (set, chain) where it ended.
    pub(super) base: Option<(usize, String)>,
}

/// A destination rewrite decided in PREROUTING.
#[derive(Debug, Clone, Copy)]
pub(super) enum Nat {
    /// `at` is `None` when the question supplied it (`published_to`); `addr` is `None`
    /// when the input hides it.
    Dnat {
        at: Option<At>,
        addr: Option<IpAddr>,
        port: Option<u16>,
    },
    Redirect,
}

impl HostEval<'_> {
    /// The base chains on `hook` of the tables that see `pkt`'s family, in priority order.
    fn base_chains(
        &self,
        hook: HostHook,
        v6: bool,
        types: &[HostChainType],
    ) -> Vec<(usize, String)> {
        let mut out: Vec<(i32, usize, String)> = Vec::new();
        for &si in self.chains.keys() {
            let Some(t) = &self.sets[si].host else {
                continue;
            };
            let family_ok = match t.family {
                HostFamily::Inet => true,
                HostFamily::Ipv4 => !v6,
                HostFamily::Ipv6 => v6,
            };
            if !family_ok {
                continue;
            }
            for c in &t.chains {
                if c.hook == Some(hook) && types.contains(&c.chain_type) {
                    out.push((c.priority, si, c.name.clone()));
                }
            }
        }
        out.sort_by_key(|(p, si, _)| (*p, *si));
        out.into_iter().map(|(_, si, c)| (si, c)).collect()
    }

    /// Passes every still-open branch through the base chains of `hook`.
    fn run_hook(
        &mut self,
        hook: HostHook,
        types: &[HostChainType],
        branches: Vec<Branch>,
        decisive: bool,
    ) -> Vec<Branch> {
        let mut out = Vec::new();
        for b in branches {
            if b.end.is_some() {
                out.push(b);
                continue;
            }
            let chains = self.base_chains(hook, b.pkt.v6, types);
            let mut open = vec![b];
            for (si, chain) in chains {
                let nat = self.sets[si]
                    .host
                    .as_ref()
                    .and_then(|t| t.chain(&chain))
                    .is_some_and(|c| c.chain_type == HostChainType::Nat);
                let mut next = Vec::new();
                for b in open {
                    if b.end.is_some() || (nat && b.nat.is_some()) {
                        // Ended, or its NAT is already decided (one binding per connection).
                        next.push(b);
                        continue;
                    }
                    for w in self.run_base(si, &chain, &b) {
                        let mut nb = b.clone();
                        nb.assumed = w.assumed;
                        nb.trace = w.trace;
                        match w.end {
                            End::Accept(at) => {
                                if decisive && at != NO_RULE {
                                    nb.accepted.push(at);
                                }
                            }
                            End::Dnat(at, addr, port) => {
                                nb.nat = Some(Nat::Dnat {
                                    at: Some(at),
                                    addr,
                                    port,
                                });
                            }
                            End::Redirect(port) => {
                                // To a local port: still the INPUT path.
                                nb.nat = Some(Nat::Redirect);
                                nb.pkt.dport = port.or(nb.pkt.dport);
                            }
                            End::Return => {}
                            end @ (End::Drop(_) | End::Reject(..) | End::Unknown(..)) => {
                                nb.end = Some(end);
                                nb.base = Some((si, chain.clone()));
                            }
                        }
                        next.push(nb);
                    }
                }
                open = next;
            }
            out.extend(open);
        }
        out
    }

    fn initial(&self, q: &Question) -> Pkt {
        let remote = q.source;
        let v6 = remote.is_ipv6();
        let destination = q.destination.as_ref();
        let host_addr = match destination.and_then(|t| t.address) {
            Some(a) => Addr::Known(a.to_canonical()),
            None => Addr::Host {
                loopback_possible: remote.is_loopback(),
            },
        };
        let given = destination.and_then(|t| t.interface.clone());
        let remote_iface = match given {
            Some(n) => Iface::Named(n),
            None if remote.is_loopback() => Iface::Named("lo".to_owned()),
            None => match self.bridge_of(remote) {
                Some(b) => Iface::Named(b.to_owned()),
                None => {
                    let mut not = vec!["lo".to_owned()];
                    not.extend(self.bridge_names());
                    Iface::Other(not)
                }
            },
        };
        let (src, dst, iif, oif) = match q.direction {
            Direction::Inbound => (Addr::Known(remote), host_addr, remote_iface, Iface::Absent),
            Direction::Outbound => (host_addr, Addr::Known(remote), Iface::Absent, remote_iface),
        };
        let inbound = q.direction == Direction::Inbound;
        Pkt {
            v6,
            src,
            dst,
            protocol: q.protocol,
            dport: q.port,
            icmp_type: q.icmp_type.filter(|_| q.protocol.is_icmp()),
            icmp_code: q.icmp_code.filter(|_| q.protocol.is_icmp()),
            iif,
            oif,
            orig_dst: dst,
            orig_dport: q.port,
            dnat: false,
            local_dst: inbound || remote.is_loopback(),
            local_src: !inbound || remote.is_loopback(),
            ct: self.ct,
        }
    }
}

/// A branch entering the hooks with nothing decided yet.
fn start_branch(pkt: Pkt, path: HostPath) -> Branch {
    Branch {
        pkt,
        path,
        assumed: Vec::new(),
        trace: Vec::new(),
        accepted: Vec::new(),
        nat: None,
        end: None,
        base: None,
    }
}

/// The decision of a finished branch.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Decided {
    Allowed,
    Denied(At, HostDenial),
    Unknown,
}

pub(super) fn decided(b: &Branch) -> Decided {
    match &b.end {
        None => Decided::Allowed,
        Some(End::Drop(at)) => Decided::Denied(*at, HostDenial::Dropped),
        Some(End::Reject(at, with)) => {
            Decided::Denied(*at, HostDenial::of_reject(with.as_deref(), b.pkt.v6))
        }
        Some(End::Unknown(..)) => Decided::Unknown,
        // Not produced as branch ends.
        Some(End::Accept(_) | End::Return | End::Dnat(..) | End::Redirect(..)) => Decided::Allowed,
    }
}

/// Walks the question's packet through the hooks: PREROUTING (where DNAT may send it to a
/// container), then INPUT or FORWARD (and POSTROUTING), or OUTPUT for outbound questions.
/// Returns every branch, and for published ports what INPUT alone would have decided.
pub(super) fn host_walk(
    ev: &mut HostEval,
    sets: &[&RuleSet],
    relevant: &[usize],
    q: &Question,
) -> (Vec<Branch>, Option<Outcome>) {
    let pkt = ev.initial(q);
    let filter = [HostChainType::Filter];
    if q.direction == Direction::Outbound {
        let b = ev.run_hook(
            HostHook::Output,
            &filter,
            vec![start_branch(pkt, HostPath::Output)],
            true,
        );
        return (ev.run_hook(HostHook::Postrouting, &filter, b, false), None);
    }
    let pre = ev.run_hook(
        HostHook::Prerouting,
        &[HostChainType::Filter, HostChainType::Nat],
        vec![start_branch(pkt.clone(), HostPath::Input)],
        false,
    );
    let mut to_input = Vec::new();
    let mut to_forward = Vec::new();
    for b in pre {
        match route(ev, b, q) {
            Route::Input(b) => to_input.push(b),
            Route::Forward(b) => to_forward.push(b),
        }
    }
    let input_would = (!to_forward.is_empty()).then(|| input_alone(sets, relevant, &pkt));
    let inp = ev.run_hook(HostHook::Input, &filter, to_input, true);
    let fwd = ev.run_hook(HostHook::Forward, &filter, to_forward, true);
    let fwd = ev.run_hook(HostHook::Postrouting, &filter, fwd, false);
    let mut finished = inp;
    finished.extend(fwd);
    (finished, input_would)
}

/// Where a branch goes after PREROUTING.
enum Route {
    Input(Branch),
    Forward(Branch),
}

/// Sends a branch on after PREROUTING: DNAT to another address (a Docker published port,
/// or the question's `published_to` when the rules show no DNAT) rewrites its destination
/// and takes it to FORWARD; everything else goes to INPUT.
fn route(ev: &mut HostEval, mut b: Branch, q: &Question) -> Route {
    if b.end.is_some() {
        return Route::Input(b);
    }
    let published = q.destination.as_ref().and_then(|t| t.published_to);
    if b.nat.is_none() {
        if let Some(sa) = published {
            b.nat = Some(Nat::Dnat {
                at: None,
                addr: Some(sa.ip()),
                port: Some(sa.port()),
            });
            ev.note(format!(
                "The loaded rules have no DNAT rule for {}; the question says the port \
                 is published to {sa}, so it is evaluated as Docker forwards it.",
                q.traffic()
            ));
        }
    }
    match b.nat {
        Some(Nat::Dnat {
            addr: Some(addr),
            port,
            ..
        }) if !addr.is_loopback() => {
            b.path = HostPath::Forward;
            b.pkt.orig_dst = b.pkt.dst;
            b.pkt.orig_dport = b.pkt.dport;
            b.pkt.dst = Addr::Known(addr.to_canonical());
            b.pkt.dport = port.or(b.pkt.dport);
            b.pkt.dnat = true;
            b.pkt.local_dst = false;
            b.pkt.oif = match ev.bridge_of(addr) {
                Some(br) => Iface::Named(br.to_owned()),
                None => Iface::Other(vec!["lo".to_owned()]),
            };
            Route::Forward(b)
        }
        Some(Nat::Dnat {
            addr: Some(addr),
            port,
            ..
        }) => {
            // DNAT to a loopback address: still delivered locally.
            b.pkt.dst = Addr::Known(addr);
            b.pkt.dport = port.or(b.pkt.dport);
            b.pkt.dnat = true;
            Route::Input(b)
        }
        Some(Nat::Dnat { at, addr: None, .. }) => {
            let at = at.unwrap_or(NO_RULE);
            b.path = HostPath::Forward;
            let why = format!(
                "{} sends {} elsewhere with DNAT, but its destination is not shown \
                 (nft prints iptables-nft's DNAT as an `xt` target): load \
                 `iptables-save` output, or give the container's address and port \
                 (published_to)",
                ev.name(at),
                q.traffic()
            );
            b.end = Some(End::Unknown(at, UnknownKind::Reference, why));
            Route::Input(b)
        }
        Some(Nat::Redirect) | None => Route::Input(b),
    }
}

/// What INPUT alone would decide for the packet, for the "ufw says blocked" confusion: a
/// published port never goes through INPUT.
fn input_alone(sets: &[&RuleSet], relevant: &[usize], pkt: &Pkt) -> Outcome {
    let mut walk = HostEval::new(sets, relevant);
    let alone = walk.run_hook(
        HostHook::Input,
        &[HostChainType::Filter],
        vec![start_branch(pkt.clone(), HostPath::Input)],
        true,
    );
    let ds: Vec<Decided> = alone.iter().map(decided).collect();
    if ds.iter().all(|d| *d == Decided::Allowed) {
        Outcome::Allowed
    } else if ds.iter().all(|d| matches!(d, Decided::Denied(..))) {
        Outcome::Denied
    } else {
        Outcome::Unknown
    }
}
