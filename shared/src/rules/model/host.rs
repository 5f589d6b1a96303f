//! Host firewalls: iptables and nftables.
//!
//! Netfilter has what the cloud rule formats lack: chains reached by jumps, a verdict per
//! rule (not just allow/deny), negation, interfaces, connection-tracking state, address
//! families, and DNAT that moves a packet from the INPUT path to FORWARD. Both parsers
//! (`iptables-save` and `nft -j list ruleset`) produce these types; the evaluator walks the
//! chains. Nothing the parsers do not understand is dropped: it becomes
//! [`HostMatch::Unsupported`] or [`HostAction::Other`], and a verdict that depends on it
//! is `Unknown`.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{Action, Cidr, Direction, Peer, PortMatch, PortRange, Protocol, Rule};

/// Which tool's output a host table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostBackend {
    /// `iptables-save` / `ip6tables-save` (legacy or nf_tables backend).
    Iptables,
    /// `nft -j list ruleset`.
    Nftables,
}

/// The packets a table sees: IPv4 (`iptables`, nft `ip`), IPv6 (`ip6tables`, nft `ip6`) or
/// both (nft `inet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostFamily {
    Ipv4,
    Ipv6,
    Inet,
}

impl HostFamily {
    /// Whether packets of `ip`'s family pass through this table.
    pub fn covers(self, ip: IpAddr) -> bool {
        match self {
            Self::Inet => true,
            Self::Ipv4 => ip.to_canonical().is_ipv4(),
            Self::Ipv6 => ip.to_canonical().is_ipv6(),
        }
    }

    /// nft's name for it (`ip`, `ip6`, `inet`).
    pub fn nft_name(self) -> &'static str {
        match self {
            Self::Ipv4 => "ip",
            Self::Ipv6 => "ip6",
            Self::Inet => "inet",
        }
    }
}

/// Where in the kernel's path a base chain is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostHook {
    Prerouting,
    /// Packets addressed to this host.
    Input,
    /// Packets routed through this host, e.g. to a container after Docker's DNAT.
    Forward,
    Output,
    Postrouting,
    /// nft `netdev` ingress (before prerouting).
    Ingress,
}

impl HostHook {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prerouting => "prerouting",
            Self::Input => "input",
            Self::Forward => "forward",
            Self::Output => "output",
            Self::Postrouting => "postrouting",
            Self::Ingress => "ingress",
        }
    }
}

/// What a base chain does with the verdicts of its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostChainType {
    /// Accepts or drops (iptables `filter`, `mangle`, `raw`, `security`; nft `type filter`).
    Filter,
    /// Rewrites addresses (iptables `nat`; nft `type nat`): DNAT decides the path.
    Nat,
    /// nft `type route` (output only).
    Route,
}

/// One chain of a host table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostChain {
    pub name: String,
    /// Set for base chains (where packets enter); user chains are reached by jumps only.
    pub hook: Option<HostHook>,
    pub chain_type: HostChainType,
    /// Lower runs first among base chains on the same hook (iptables: raw -300, mangle
    /// -150, nat -100 (prerouting), filter 0, security 50).
    pub priority: i32,
    /// Base chains: what happens when no rule decides (`:INPUT DROP`, `policy drop;`).
    pub policy: Option<Action>,
}

/// One host firewall table: an iptables table of one family, or an nft table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostTable {
    pub backend: HostBackend,
    pub family: HostFamily,
    /// `filter`, `nat`, … (iptables) or the nft table's name.
    pub table: String,
    pub chains: Vec<HostChain>,
}

impl HostTable {
    pub fn chain(&self, name: &str) -> Option<&HostChain> {
        self.chains.iter().find(|c| c.name == name)
    }
}

/// An address, block or range in a host rule (`-s 198.51.100.0/24`, `--src-range
/// 10.0.0.1-10.0.0.9`, nft `ip saddr 10.0.0.0-10.0.0.9`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostAddr {
    Cidr {
        cidr: Cidr,
    },
    Range {
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        from: IpAddr,
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        to: IpAddr,
    },
}

impl HostAddr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match self {
            Self::Cidr { cidr } => cidr.contains(ip),
            Self::Range { from, to } => match (from, to, ip) {
                (IpAddr::V4(f), IpAddr::V4(t), IpAddr::V4(a)) => f <= &a && &a <= t,
                (IpAddr::V6(f), IpAddr::V6(t), IpAddr::V6(a)) => f <= &a && &a <= t,
                _ => false,
            },
        }
    }

    pub fn is_ipv4(&self) -> bool {
        match self {
            Self::Cidr { cidr } => cidr.is_ipv4(),
            Self::Range { from, .. } => from.is_ipv4(),
        }
    }

    /// Whether every address in it is a loopback address (`127.0.0.0/8`, `::1`).
    pub fn is_loopback_only(&self) -> bool {
        match self {
            Self::Cidr { cidr } => match cidr.addr {
                IpAddr::V4(a) => cidr.prefix >= 8 && a.octets()[0] == 127,
                IpAddr::V6(a) => cidr.prefix == 128 && a.is_loopback(),
            },
            Self::Range { from, to } => from.is_loopback() && to.is_loopback(),
        }
    }

    /// Whether it is every address of its family (`0.0.0.0/0`, `::/0`).
    pub fn is_everything(&self) -> bool {
        matches!(self, Self::Cidr { cidr } if cidr.is_everything())
    }
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cidr { cidr } => write!(f, "{cidr}"),
            Self::Range { from, to } => write!(f, "{from}-{to}"),
        }
    }
}

/// A connection-tracking state (`-m conntrack --ctstate`, `-m state --state`, nft `ct
/// state`). A connection attempt's first packet is `new`; `dnat` is conntrack's virtual
/// state for a connection whose destination was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
    Untracked,
    Snat,
    Dnat,
}

impl CtState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Established => "established",
            Self::Related => "related",
            Self::Invalid => "invalid",
            Self::Untracked => "untracked",
            Self::Snat => "snat",
            Self::Dnat => "dnat",
        }
    }
}

/// One condition of a host rule; a rule matches when all of its conditions hold. `negated`
/// is iptables' `!` or nft's `!=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostMatch {
    /// `-p tcp`, nft `meta l4proto`/`ip protocol`, or implied by `tcp dport`.
    Protocol {
        protocols: Vec<Protocol>,
        negated: bool,
    },
    /// `-s`, `--src-range`, nft `ip saddr`.
    Source { addrs: Vec<HostAddr>, negated: bool },
    /// `-d`, `--dst-range`, nft `ip daddr`.
    Destination { addrs: Vec<HostAddr>, negated: bool },
    /// `--dport`, `--dports`, nft `tcp dport`.
    DestPort {
        ranges: Vec<PortRange>,
        negated: bool,
    },
    /// `--sport`, `--sports`, nft `tcp sport`: the client's port, which a question does
    /// not know.
    SourcePort {
        ranges: Vec<PortRange>,
        negated: bool,
    },
    /// `-m multiport --ports`: the source or the destination port.
    EitherPort {
        ranges: Vec<PortRange>,
        negated: bool,
    },
    /// `-i eth0`, `-i docker+` (prefix wildcard), nft `iifname "eth*"`, `iif "lo"`.
    InInterface { name: String, negated: bool },
    /// `-o docker0`, nft `oifname`.
    OutInterface { name: String, negated: bool },
    /// `--ctstate`, `--state`, nft `ct state` (`ct status dnat` becomes `dnat`).
    CtState { states: Vec<CtState>, negated: bool },
    /// `-m conntrack --ctorigdstport`: the port the client connected to, before DNAT.
    OrigDestPort {
        ranges: Vec<PortRange>,
        negated: bool,
    },
    /// `-m conntrack --ctorigdst`: the address the client connected to, before DNAT.
    OrigDestination { addrs: Vec<HostAddr>, negated: bool },
    /// nft `meta nfproto ipv6` (or an `ip`/`ip6` match in an `inet` table).
    Family { ipv6: bool },
    /// `--icmp-type 8`, `--icmpv6-type`, nft `icmp type echo-request`.
    IcmpType {
        types: Vec<IcmpTypeCode>,
        negated: bool,
    },
    /// `--tcp-flags MASK COMP` / `--syn`: (flags & mask) == comp; with `any`, nft's
    /// `tcp flags syn` form: (flags & mask) != 0. Bits: FIN 1, SYN 2, RST 4, PSH 8, ACK 16,
    /// URG 32, ECE 64, CWR 128.
    TcpFlags {
        mask: u8,
        comp: u8,
        any: bool,
        negated: bool,
    },
    /// `-m addrtype --dst-type LOCAL` (`source: false`) or `--src-type`, nft `fib daddr type
    /// local`: kernel address types in upper case (`LOCAL`, `UNICAST`, `BROADCAST`, …).
    AddrType {
        source: bool,
        types: Vec<String>,
        negated: bool,
    },
    /// nft `meta pkttype host` (`host`, `broadcast`, `multicast`, `other`).
    PacketType { types: Vec<String>, negated: bool },
    /// `-f`: the second and later fragments of a packet.
    Fragment { negated: bool },
    /// `-m rt`, `-m frag`, `-m hbh`, `-m dst` (ip6tables): packets carrying that IPv6
    /// extension header. Whatever its options (negated or not), it never matches a packet
    /// without the header, and a connection attempt carries none.
    ExtensionHeader { header: String },
    /// A condition Vantage does not evaluate (`-m recent`, `-m limit`, `-m set`, nft
    /// `limit`, an iptables-nft `xt` match…). A verdict that depends on the rule is
    /// `Unknown`, naming it; never ignored, since ignoring a match could turn a DROP into a
    /// false "allowed".
    Unsupported { what: String },
}

/// An ICMP type with an optional code (`--icmp-type 3/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IcmpTypeCode {
    pub icmp_type: u8,
    pub code: Option<u8>,
}

/// What a host rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostAction {
    Accept,
    /// Silently discarded: the client's connect times out.
    Drop,
    /// Refused with an error reply; `with` is iptables' `--reject-with` or nft's reject
    /// type and code (`tcp-reset`, `icmp-host-prohibited`, `icmpx admin-prohibited`),
    /// `None` for the default (ICMP port unreachable).
    Reject {
        with: Option<String>,
    },
    /// Back to the calling chain (in a base chain: the policy).
    Return,
    Jump {
        chain: String,
    },
    /// Like a jump, but a return from `chain` returns from the chain that went there.
    Goto {
        chain: String,
    },
    /// Matches but decides nothing: the next rule is evaluated (`LOG`, `MARK`, an nft rule
    /// with only `counter`/`log`).
    Continue {
        what: Option<String>,
    },
    /// Destination NAT (`-j DNAT --to-destination 172.17.0.2:80`, nft `dnat to`): the
    /// packet goes to another address, usually FORWARD to a container. `addr`/`port` are
    /// `None` where the input does not show them (nft's view of an iptables-nft target).
    Dnat {
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        addr: Option<IpAddr>,
        port: Option<u16>,
    },
    /// `-j REDIRECT --to-ports`, nft `redirect to :22`: to a local port (stays on INPUT).
    Redirect {
        port: Option<u16>,
    },
    /// SNAT / MASQUERADE: only rewrites the source on the way out.
    Snat {
        what: String,
    },
    /// A target Vantage does not evaluate (`NFQUEUE`, `TPROXY`, `CT`, nft `queue`…): a
    /// verdict that reaches it is `Unknown`.
    Other {
        name: String,
    },
}

impl HostAction {
    /// Whether a matching rule with this target ends the chain (for this packet).
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::Continue { .. })
    }
}

impl Rule {
    /// A host firewall rule with the common fields filled in as far as they can say what
    /// it does (for tables and for the generic views): the protocol, destination ports or
    /// ICMP type, and the sources and destinations that are not negated.
    pub(crate) fn from_host(
        label: String,
        direction: Direction,
        host: HostRule,
        implicit: bool,
        path: String,
    ) -> Self {
        let mut protocol = Protocol::All;
        let mut ports = PortMatch::Any;
        let mut peers: Vec<Peer> = Vec::new();
        let mut local: Vec<Peer> = Vec::new();
        let cidrs = |addrs: &[HostAddr]| -> Vec<Peer> {
            addrs
                .iter()
                .filter_map(|a| match a {
                    HostAddr::Cidr { cidr } => Some(Peer::cidr(*cidr)),
                    HostAddr::Range { .. } => None,
                })
                .collect()
        };
        for m in &host.matches {
            match m {
                HostMatch::Protocol {
                    protocols,
                    negated: false,
                } if protocols.len() == 1 => protocol = protocols[0],
                HostMatch::DestPort {
                    ranges,
                    negated: false,
                } => ports = PortMatch::ports(ranges.clone()),
                HostMatch::IcmpType {
                    types,
                    negated: false,
                } if types.len() == 1 => {
                    ports = PortMatch::Icmp {
                        icmp_type: Some(types[0].icmp_type),
                        code: types[0].code,
                    }
                }
                HostMatch::Source {
                    addrs,
                    negated: false,
                } => peers.extend(cidrs(addrs)),
                HostMatch::Destination {
                    addrs,
                    negated: false,
                } => local.extend(cidrs(addrs)),
                _ => {}
            }
        }
        if peers.is_empty() {
            peers.push(Peer::Any);
        }
        // A port list only means something with a protocol that has ports.
        if !protocol.has_ports() && matches!(ports, PortMatch::Ports { .. }) {
            ports = PortMatch::Any;
        }
        let action = match host.action {
            HostAction::Drop | HostAction::Reject { .. } => Action::Deny,
            _ => Action::Allow,
        };
        let mut r = Rule::new(label, direction, action, protocol, ports, peers);
        r.local = local;
        r.implicit = implicit;
        r.path = path;
        r.host = Some(host);
        r
    }
}

impl fmt::Display for HostAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accept => f.write_str("ACCEPT"),
            Self::Drop => f.write_str("DROP"),
            Self::Reject { with: None } => f.write_str("REJECT"),
            Self::Reject { with: Some(w) } => write!(f, "REJECT ({w})"),
            Self::Return => f.write_str("RETURN"),
            Self::Jump { chain } => write!(f, "jump to {chain}"),
            Self::Goto { chain } => write!(f, "goto {chain}"),
            Self::Continue { what: Some(w) } => f.write_str(w),
            Self::Continue { what: None } => f.write_str("continue"),
            Self::Dnat { addr, port } => {
                f.write_str("DNAT")?;
                match (addr, port) {
                    (Some(IpAddr::V6(a)), Some(p)) => write!(f, " to [{a}]:{p}"),
                    (Some(a), Some(p)) => write!(f, " to {a}:{p}"),
                    (Some(a), None) => write!(f, " to {a}"),
                    (None, Some(p)) => write!(f, " to port {p}"),
                    (None, None) => Ok(()),
                }
            }
            Self::Redirect { port: Some(p) } => write!(f, "REDIRECT to port {p}"),
            Self::Redirect { port: None } => f.write_str("REDIRECT"),
            Self::Snat { what } | Self::Other { name: what } => f.write_str(what),
        }
    }
}

/// One host firewall rule (or a base chain's policy, as an `implicit` rule at the end of
/// its chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostRule {
    pub chain: String,
    /// 1-based position in the chain, as `iptables -L --line-numbers` counts (and
    /// `iptables -D CHAIN n` takes); 0 for the policy.
    pub number: usize,
    pub matches: Vec<HostMatch>,
    pub action: HostAction,
    /// The rule as its tool prints it: `-A INPUT -s 198.51.100.0/24 -p tcp -m tcp --dport
    /// 8080 -j ACCEPT`, `ip saddr 198.51.100.0/24 tcp dport 8080 accept`, `-P INPUT DROP`.
    pub text: String,
}
