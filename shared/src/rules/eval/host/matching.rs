//! The packet as each netfilter hook sees it, and one match or rule against it: yes, no,
//! or maybe (with what it depends on: the host's own address or interface, the client's
//! port, a match Vantage does not evaluate).

use std::net::IpAddr;

use super::{At, HostEval};
use crate::rules::eval::matching::UnknownKind;
use crate::rules::eval::EPHEMERAL_PORTS;
use crate::rules::model::{
    ranges_text, CtState, HostAddr, HostMatch, HostRule, IcmpTypeCode, PortRange, Protocol,
};

/// What is known about an interface of the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Iface {
    /// The hook has none (no output interface on INPUT).
    Absent,
    Named(String),
    /// Some interface other than these; which one the question does not say.
    Other(Vec<String>),
}

/// What is known about an address of the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Addr {
    Known(IpAddr),
    /// The host's own address, not given; a packet from a remote address is never
    /// addressed to loopback (the kernel drops such martians).
    Host {
        loopback_possible: bool,
    },
}

/// The first packet of the connection, as each hook sees it.
#[derive(Debug, Clone)]
pub(super) struct Pkt {
    pub(super) v6: bool,
    pub(super) src: Addr,
    pub(super) dst: Addr,
    pub(super) protocol: Protocol,
    pub(super) dport: Option<u16>,
    pub(super) icmp_type: Option<u8>,
    pub(super) icmp_code: Option<u8>,
    pub(super) iif: Iface,
    pub(super) oif: Iface,
    /// The destination before DNAT.
    pub(super) orig_dst: Addr,
    pub(super) orig_dport: Option<u16>,
    /// Its destination was rewritten (conntrack's DNAT state).
    pub(super) dnat: bool,
    /// The (current) destination is one of this host's addresses.
    pub(super) local_dst: bool,
    pub(super) local_src: bool,
    /// Conntrack's state for it.
    pub(super) ct: CtState,
}

/// The answer of one condition or rule.
#[derive(Debug)]
pub(super) enum Tri {
    Yes,
    No,
    Maybe(Vec<(UnknownKind, String)>),
}

impl Tri {
    fn of(b: bool) -> Self {
        if b {
            Self::Yes
        } else {
            Self::No
        }
    }

    fn negate(self, negated: bool) -> Self {
        match (self, negated) {
            (Self::Yes, true) => Self::No,
            (Self::No, true) => Self::Yes,
            (t, _) => t,
        }
    }
}

/// Whether interface `name` matches an iptables (`eth+`) or nft (`eth*`) pattern.
fn iface_matches(pattern: &str, name: &str) -> bool {
    match pattern
        .strip_suffix('+')
        .or_else(|| pattern.strip_suffix('*'))
    {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn addrs_text(addrs: &[HostAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn ranges_covers(ranges: &[PortRange], lo: u16, hi: u16) -> bool {
    // Whether the union of `ranges` covers lo..=hi.
    let mut sorted: Vec<PortRange> = ranges.to_vec();
    sorted.sort_by_key(|r| r.from);
    let mut next = u32::from(lo);
    for r in sorted {
        if u32::from(r.from) > next {
            break;
        }
        next = next.max(u32::from(r.to) + 1);
    }
    next > u32::from(hi)
}

impl HostEval<'_> {
    fn addr_in(&mut self, a: Addr, addrs: &[HostAddr], at: At, what: &str) -> Tri {
        match a {
            Addr::Known(ip) => Tri::of(addrs.iter().any(|x| x.contains(ip))),
            Addr::Host { loopback_possible } => {
                if addrs.iter().any(HostAddr::is_everything) {
                    return Tri::Yes;
                }
                if !loopback_possible && addrs.iter().all(HostAddr::is_loopback_only) {
                    self.note(
                        "A packet from a remote address is never addressed to a loopback \
                         address (the kernel drops such packets), so rules for 127.0.0.0/8 \
                         or ::1 do not match it."
                            .to_owned(),
                    );
                    return Tri::No;
                }
                Tri::Maybe(vec![(
                    UnknownKind::Destination,
                    format!(
                        "{} applies only to {what} {}; the host's own address was not given \
                         (set the destination address)",
                        self.name(at),
                        addrs_text(addrs)
                    ),
                )])
            }
        }
    }

    fn iface(&mut self, known: &Iface, pattern: &str, at: At, dir: &str) -> Tri {
        match known {
            Iface::Absent => Tri::No,
            Iface::Named(n) => Tri::of(iface_matches(pattern, n)),
            Iface::Other(not) => {
                if not.iter().any(|n| n == pattern) {
                    return Tri::No;
                }
                Tri::Maybe(vec![(
                    UnknownKind::Destination,
                    format!(
                        "{} applies only to traffic {dir} interface {pattern}; the question \
                         does not say which interface it uses (set the destination interface)",
                        self.name(at)
                    ),
                )])
            }
        }
    }

    fn source_port(&mut self, ranges: &[PortRange], at: At) -> Tri {
        // A client connects from an ephemeral port; which one is not known.
        if ranges_covers(ranges, EPHEMERAL_PORTS.from, EPHEMERAL_PORTS.to) {
            return Tri::Yes;
        }
        if !ranges.iter().any(|r| r.to >= EPHEMERAL_PORTS.from) {
            self.note(format!(
                "Clients connect from ephemeral ports ({EPHEMERAL_PORTS}): source-port rules \
                 for lower ports (such as DNS replies from port 53) are taken not to match a \
                 new connection."
            ));
            return Tri::No;
        }
        Tri::Maybe(vec![(
            UnknownKind::ClientPort,
            format!(
                "{} applies only to source ports {}; the client's source port is not known",
                self.name(at),
                ranges_text(ranges)
            ),
        )])
    }

    pub(super) fn cond(&mut self, m: &HostMatch, pkt: &Pkt, at: At) -> Tri {
        match m {
            HostMatch::Protocol { protocols, negated } => {
                Tri::of(protocols.iter().any(|p| p.covers(pkt.protocol))).negate(*negated)
            }
            HostMatch::Source { addrs, negated } => self
                .addr_in(pkt.src, addrs, at, "traffic from")
                .negate(*negated),
            HostMatch::Destination { addrs, negated } => self
                .addr_in(pkt.dst, addrs, at, "traffic to")
                .negate(*negated),
            HostMatch::OrigDestination { addrs, negated } => self
                .addr_in(pkt.orig_dst, addrs, at, "connections to")
                .negate(*negated),
            HostMatch::DestPort { ranges, negated } => match pkt.dport {
                Some(p) => Tri::of(ranges.iter().any(|r| r.contains(p))).negate(*negated),
                // Port matches need a protocol with ports (`th dport` in nft).
                None => Tri::No,
            },
            HostMatch::OrigDestPort { ranges, negated } => match pkt.orig_dport {
                Some(p) => Tri::of(ranges.iter().any(|r| r.contains(p))).negate(*negated),
                None => Tri::No,
            },
            HostMatch::SourcePort { ranges, negated } => {
                if !pkt.protocol.has_ports() {
                    return Tri::No;
                }
                self.source_port(ranges, at).negate(*negated)
            }
            HostMatch::EitherPort { ranges, negated } => match pkt.dport {
                Some(p) if ranges.iter().any(|r| r.contains(p)) => Tri::Yes.negate(*negated),
                Some(_) => self.source_port(ranges, at).negate(*negated),
                None => Tri::No,
            },
            HostMatch::InInterface { name, negated } => {
                let known = pkt.iif.clone();
                self.iface(&known, name, at, "arriving on").negate(*negated)
            }
            HostMatch::OutInterface { name, negated } => {
                let known = pkt.oif.clone();
                self.iface(&known, name, at, "leaving through")
                    .negate(*negated)
            }
            HostMatch::CtState { states, negated } => Tri::of(
                states
                    .iter()
                    .any(|s| *s == pkt.ct || (*s == CtState::Dnat && pkt.dnat)),
            )
            .negate(*negated),
            HostMatch::Family { ipv6 } => Tri::of(*ipv6 == pkt.v6),
            HostMatch::IcmpType { types, negated } => self.icmp_types(types, *negated, pkt, at),
            HostMatch::TcpFlags {
                mask,
                comp,
                any,
                negated,
            } => tcp_flags(pkt, *mask, *comp, *any, *negated),
            HostMatch::AddrType {
                source,
                types,
                negated,
            } => self.addr_types(*source, types, *negated, pkt, at),
            HostMatch::PacketType { types, negated } => Tri::of(
                types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case("host") || t.eq_ignore_ascii_case("unicast")),
            )
            .negate(*negated),
            // A connection attempt's first packet is not a later fragment.
            HostMatch::Fragment { negated } => Tri::No.negate(*negated),
            HostMatch::ExtensionHeader { .. } => Tri::No,
            HostMatch::Unsupported { what } => Tri::Maybe(vec![(
                UnknownKind::Unsupported,
                format!("{}: {what} is not evaluated", self.name(at)),
            )]),
        }
    }

    /// `--icmp-type` / nft `icmp type`: a question without the type (or code) a rule needs
    /// makes it a maybe.
    fn icmp_types(&self, types: &[IcmpTypeCode], negated: bool, pkt: &Pkt, at: At) -> Tri {
        if !pkt.protocol.is_icmp() {
            return Tri::No;
        }
        let Some(t) = pkt.icmp_type else {
            return Tri::Maybe(vec![(
                UnknownKind::Question,
                format!(
                    "{} applies only to some ICMP types; the question names none",
                    self.name(at)
                ),
            )]);
        };
        let mut unknown_code = false;
        let mut hit = false;
        for tc in types.iter().filter(|tc| tc.icmp_type == t) {
            match (tc.code, pkt.icmp_code) {
                (None, _) => hit = true,
                (Some(c), Some(pc)) => hit |= c == pc,
                (Some(_), None) => unknown_code = true,
            }
        }
        if hit {
            Tri::Yes.negate(negated)
        } else if unknown_code {
            Tri::Maybe(vec![(
                UnknownKind::Question,
                format!(
                    "{} applies only to some ICMP codes; the question names none",
                    self.name(at)
                ),
            )])
        } else {
            Tri::No.negate(negated)
        }
    }

    /// `-m addrtype` / nft `fib … type`: whether the address is one of the host's own.
    fn addr_types(&self, source: bool, types: &[String], negated: bool, pkt: &Pkt, at: At) -> Tri {
        let local = if source { pkt.local_src } else { pkt.local_dst };
        let mut hit = false;
        for t in types {
            match t.to_ascii_uppercase().as_str() {
                "LOCAL" => hit |= local,
                "UNICAST" => hit |= !local,
                "BROADCAST" | "MULTICAST" | "ANYCAST" | "BLACKHOLE" | "UNREACHABLE"
                | "PROHIBIT" | "THROW" | "NAT" | "XRESOLVE" | "UNSPEC" => {}
                other => {
                    return Tri::Maybe(vec![(
                        UnknownKind::Unsupported,
                        format!("{}: address type `{other}` is not evaluated", self.name(at)),
                    )])
                }
            }
        }
        Tri::of(hit).negate(negated)
    }

    pub(super) fn rule_matches(&mut self, h: &HostRule, pkt: &Pkt, at: At) -> Tri {
        let mut maybes = Vec::new();
        for m in &h.matches {
            match self.cond(m, pkt, at) {
                Tri::No => return Tri::No,
                Tri::Yes => {}
                Tri::Maybe(r) => maybes.extend(r),
            }
        }
        if maybes.is_empty() {
            Tri::Yes
        } else {
            Tri::Maybe(maybes)
        }
    }
}

/// `--tcp-flags` / `--syn` against the packet: a connection attempt's first packet, or a
/// data packet of the established connection.
fn tcp_flags(pkt: &Pkt, mask: u8, comp: u8, any: bool, negated: bool) -> Tri {
    if pkt.protocol != Protocol::Tcp {
        return Tri::No;
    }
    // The first packet carries SYN alone; the request's data ACK and PSH.
    const SYN: u8 = 0x02;
    const ACK_PSH: u8 = 0x18;
    let flags = if pkt.ct == CtState::Established {
        ACK_PSH
    } else {
        SYN
    };
    let hit = if any {
        flags & mask != 0
    } else {
        flags & mask == comp
    };
    Tri::of(hit).negate(negated)
}
