//! The host's own firewall from `nft -j list ruleset` (libnftables JSON, see
//! `libnftables-json(5)`), parsed into one [`RuleSet`] per `ip`, `ip6` or `inet` table.
//!
//! Objects read: `table`, `chain` (type, hook, prio, policy), `rule` (its `expr`
//! statements), and named `set`/`map` elements for `@name` references. Statements
//! evaluated: `match` on `ip`/`ip6 saddr`/`daddr`, `ip protocol`, `ip6 nexthdr`,
//! `tcp`/`udp`/`th dport`/`sport`, `tcp flags`, `icmp`/`icmpv6 type`, `meta l4proto`,
//! `meta nfproto`, `meta iifname`/`oifname`/`iif`/`oif`, `meta pkttype`, `ct state`,
//! `ct status dnat`, `fib daddr type`, with prefixes, ranges and (named) sets; verdicts
//! `accept`, `drop`, `reject`, `jump`, `goto`, `return`, `continue`; `vmap` (one rule per
//! entry); `dnat`, `redirect`, `snat`, `masquerade`; `counter`, `log` and other
//! non-terminating statements.
//!
//! Anything else (a `limit`, `meta mark`, an iptables-nft `xt` match that nft cannot
//! translate, `queue`…) is kept as [`HostMatch::Unsupported`] or [`HostTarget::Other`]:
//! a verdict that depends on it is `Unknown`. Tables of the `arp` and `bridge` families do
//! not filter IP traffic to this host and are left out; `netdev` ingress chains are kept
//! (and named as not evaluated). Errors carry the JSON path and line/column.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{RulesError, RulesErrorKind};
use super::eval::{HostFixSpec, RuleFix};
use super::fix::sh_quote;
use super::iptables::parse_protocol;
use super::locate::{path_string, Seg};
use super::model::{
    Action, Cidr, CtState, Direction, HostAddr, HostBackend, HostChain, HostChainType, HostFamily,
    HostHook, HostMatch, HostRule, HostTable, HostTarget, IcmpTypeCode, PortRange, Protocol,
    Provider, Rule, RuleSet, RuleSetKind,
};
use super::{parse_expecting, Format};

const COMMAND: &str = "nft -j list ruleset";

/// Parses `nft -j list ruleset` output: one [`RuleSet`] per `ip`/`ip6`/`inet`/`netdev`
/// table (`nft:inet filter`, `nft:ip nat`, …).
pub fn parse_nft_ruleset(text: &str, name_hint: &str) -> Result<Vec<RuleSet>, RulesError> {
    parse_expecting(text, Format::NftRuleset, name_hint)
}

/// The error for `nft list ruleset` without `-j`.
pub(crate) fn near_miss(text: &str) -> Option<RulesError> {
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    let l = line.trim();
    if l.starts_with("table ") && l.ends_with('{') {
        return Some(RulesError {
            kind: RulesErrorKind::NotJson,
            path: String::new(),
            line: Some(i + 1),
            column: Some(1),
            message: "this is `nft list ruleset` text; Vantage reads its JSON form".to_owned(),
            hint: Some("run `sudo nft -j list ruleset` instead".to_owned()),
        });
    }
    None
}

#[derive(Deserialize)]
struct Doc {
    nftables: Vec<Entry>,
}

/// One element of the `nftables` list: a single-key object.
enum Entry {
    Table(TableObj),
    Chain(ChainObj),
    Rule(RuleObj),
    Set(SetObj),
    Other,
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object such as {\"rule\": {…}}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
                let mut out = Entry::Other;
                while let Some(k) = map.next_key::<String>()? {
                    match k.as_str() {
                        "table" => out = Entry::Table(map.next_value()?),
                        "chain" => out = Entry::Chain(map.next_value()?),
                        "rule" => out = Entry::Rule(map.next_value()?),
                        "set" | "map" => out = Entry::Set(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct TableObj {
    family: String,
    name: String,
}

#[derive(Deserialize)]
struct ChainObj {
    family: String,
    table: String,
    name: String,
    #[serde(rename = "type")]
    chain_type: Option<String>,
    hook: Option<String>,
    prio: Option<Value>,
    policy: Option<String>,
}

#[derive(Deserialize)]
struct RuleObj {
    family: String,
    table: String,
    chain: String,
    handle: Option<u64>,
    comment: Option<String>,
    #[serde(default)]
    expr: Vec<Value>,
}

#[derive(Deserialize)]
struct SetObj {
    family: String,
    table: String,
    name: String,
    elem: Option<Value>,
}

fn seg(k: &str) -> Seg {
    Seg::key(k)
}

fn child(path: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.extend_from_slice(more);
    p
}

/// A table being built: its set, and its chains' rules in order.
struct Draft {
    family_name: String,
    name: String,
    family: HostFamily,
    path: Vec<Seg>,
    chains: Vec<HostChain>,
    /// Per chain: its rules in order.
    rules: BTreeMap<String, Vec<Rule>>,
    /// Named sets and maps: name → elements.
    sets: BTreeMap<String, Value>,
}

pub(crate) fn ruleset(text: &str, origin: &str) -> Result<Vec<RuleSet>, RulesError> {
    let doc: Doc =
        serde_json::from_str(text).map_err(|e| RulesError::from_serde(text, &e, COMMAND))?;
    let mut drafts: Vec<Draft> = Vec::new();
    let find = |drafts: &[Draft], family: &str, table: &str| {
        drafts
            .iter()
            .position(|d| d.family_name == family && d.name == table)
    };
    // Tables, chains and sets first: rules may refer to any of them.
    for (i, e) in doc.nftables.iter().enumerate() {
        let base = vec![seg("nftables"), Seg::Idx(i)];
        match e {
            Entry::Table(t) => {
                let family = match t.family.as_str() {
                    "ip" => HostFamily::Ipv4,
                    "ip6" => HostFamily::Ipv6,
                    "inet" | "netdev" => HostFamily::Inet,
                    // They filter bridged frames and ARP, not IP traffic to this host.
                    "bridge" | "arp" => continue,
                    other => {
                        return Err(RulesError::at(
                            text,
                            &child(&base, &[seg("table"), seg("family")]),
                            format!(
                                "unknown table family \"{other}\" (ip, ip6, inet, arp, bridge, \
                                 netdev)"
                            ),
                        ))
                    }
                };
                if find(&drafts, &t.family, &t.name).is_none() {
                    drafts.push(Draft {
                        family_name: t.family.clone(),
                        name: t.name.clone(),
                        family,
                        path: child(&base, &[seg("table")]),
                        chains: Vec::new(),
                        rules: BTreeMap::new(),
                        sets: BTreeMap::new(),
                    });
                }
            }
            Entry::Chain(c) => {
                if matches!(c.family.as_str(), "bridge" | "arp") {
                    continue;
                }
                let path = child(&base, &[seg("chain")]);
                let Some(d) = find(&drafts, &c.family, &c.table) else {
                    return Err(RulesError::at(
                        text,
                        &child(&path, &[seg("table")]),
                        format!(
                            "chain {} belongs to table {} {}, which is not listed",
                            c.name, c.family, c.table
                        ),
                    ));
                };
                let chain = parse_chain(text, c, &path)?;
                drafts[d].chains.push(chain);
            }
            Entry::Set(s) => {
                if let Some(d) = find(&drafts, &s.family, &s.table) {
                    drafts[d]
                        .sets
                        .insert(s.name.clone(), s.elem.clone().unwrap_or(Value::Null));
                }
            }
            Entry::Rule(_) | Entry::Other => {}
        }
    }
    for (i, e) in doc.nftables.iter().enumerate() {
        let Entry::Rule(r) = e else { continue };
        if matches!(r.family.as_str(), "bridge" | "arp") {
            continue;
        }
        let path = vec![seg("nftables"), Seg::Idx(i), seg("rule")];
        let Some(d) = find(&drafts, &r.family, &r.table) else {
            return Err(RulesError::at(
                text,
                &child(&path, &[seg("table")]),
                format!(
                    "the rule belongs to table {} {}, which is not listed",
                    r.family, r.table
                ),
            ));
        };
        let draft = &drafts[d];
        let Some(chain) = draft.chains.iter().find(|c| c.name == r.chain) else {
            return Err(RulesError::at(
                text,
                &child(&path, &[seg("chain")]),
                format!(
                    "chain \"{}\" is not listed in table {} {}",
                    r.chain, r.family, r.table
                ),
            ));
        };
        let direction = match chain.hook {
            Some(HostHook::Output | HostHook::Postrouting) => Direction::Outbound,
            _ => Direction::Inbound,
        };
        let number = draft.rules.get(&r.chain).map_or(0, |v| {
            v.iter()
                .filter_map(|x| x.host.as_ref().map(|h| h.number))
                .max()
                .unwrap_or(0)
        }) + 1;
        let built = parse_rule(text, draft, r, &path, number)?;
        let rule_path = path_string(&[seg("nftables"), Seg::Idx(i)]);
        let rules: Vec<Rule> = built
            .into_iter()
            .map(|(host, entry)| {
                let label = match entry {
                    Some(k) => format!("{} #{number} ({k})", r.chain),
                    None => format!("{} #{number}", r.chain),
                };
                let mut rule = Rule::from_host(label, direction, host, false, rule_path.clone());
                rule.id = r.handle.map(|h| format!("handle {h}"));
                rule.description = r.comment.clone();
                rule
            })
            .collect();
        drafts[d]
            .rules
            .entry(r.chain.clone())
            .or_default()
            .extend(rules);
    }
    let mut sets = Vec::new();
    for mut d in drafts {
        let id = format!("nft:{} {}", d.family_name, d.name);
        let name = format!("nft table {} {}", d.family_name, d.name);
        let mut set = RuleSet::new(RuleSetKind::HostFirewall, id, name, origin);
        for c in &d.chains {
            let direction = match c.hook {
                Some(HostHook::Output | HostHook::Postrouting) => Direction::Outbound,
                _ => Direction::Inbound,
            };
            set.rules
                .extend(d.rules.remove(&c.name).unwrap_or_default());
            if let Some(policy) = c.policy {
                let (target, word) = match policy {
                    Action::Allow => (HostTarget::Accept, "accept"),
                    Action::Deny => (HostTarget::Drop, "drop"),
                };
                let host = HostRule {
                    chain: c.name.clone(),
                    number: 0,
                    matches: Vec::new(),
                    target,
                    text: format!(
                        "chain {} {{ type {} hook {} priority {}; policy {word}; }}",
                        c.name,
                        match c.chain_type {
                            HostChainType::Filter => "filter",
                            HostChainType::Nat => "nat",
                            HostChainType::Route => "route",
                        },
                        c.hook.map_or("?", HostHook::as_str),
                        c.priority
                    ),
                };
                set.rules.push(Rule::from_host(
                    format!("{} policy", c.name),
                    direction,
                    host,
                    true,
                    path_string(&d.path),
                ));
            }
        }
        set.host = Some(HostTable {
            backend: HostBackend::Nftables,
            family: d.family,
            table: d.name.clone(),
            chains: d.chains,
        });
        sets.push(set.finish());
    }
    if sets.is_empty() {
        // An empty ruleset filters nothing; say so with a set rather than an error, so
        // the verdict can be "allowed: no chain filters it".
        let mut set = RuleSet::new(
            RuleSetKind::HostFirewall,
            "nft:empty".to_owned(),
            "nft ruleset (empty)".to_owned(),
            origin,
        );
        set.host = Some(HostTable {
            backend: HostBackend::Nftables,
            family: HostFamily::Inet,
            table: String::new(),
            chains: Vec::new(),
        });
        sets.push(set);
    }
    Ok(sets)
}

fn parse_chain(text: &str, c: &ChainObj, path: &[Seg]) -> Result<HostChain, RulesError> {
    let hook = match c.hook.as_deref() {
        None => None,
        Some("prerouting") => Some(HostHook::Prerouting),
        Some("input") => Some(HostHook::Input),
        Some("forward") => Some(HostHook::Forward),
        Some("output") => Some(HostHook::Output),
        Some("postrouting") => Some(HostHook::Postrouting),
        Some("ingress") => Some(HostHook::Ingress),
        // netdev egress sees only what leaves; an inbound question never meets it.
        Some("egress") => None,
        Some(other) => {
            return Err(RulesError::at(
                text,
                &child(path, &[seg("hook")]),
                format!(
                    "unknown hook \"{other}\" (prerouting, input, forward, output, \
                     postrouting, ingress, egress)"
                ),
            ))
        }
    };
    let chain_type = match c.chain_type.as_deref() {
        None | Some("filter") => HostChainType::Filter,
        Some("nat") => HostChainType::Nat,
        Some("route") => HostChainType::Route,
        Some(other) => {
            return Err(RulesError::at(
                text,
                &child(path, &[seg("type")]),
                format!("unknown chain type \"{other}\" (filter, nat, route)"),
            ))
        }
    };
    let priority = match &c.prio {
        None => 0,
        Some(v) => parse_priority(v).ok_or_else(|| {
            RulesError::at(
                text,
                &child(path, &[seg("prio")]),
                format!("\"{v}\" is not a chain priority (a number, or raw/mangle/dstnat/filter/security/srcnat ± n)"),
            )
        })?,
    };
    let policy = match (c.policy.as_deref(), hook) {
        (_, None) => None,
        (None | Some("accept"), Some(_)) => Some(Action::Allow),
        (Some("drop"), Some(_)) => Some(Action::Deny),
        (Some(other), Some(_)) => {
            return Err(RulesError::at(
                text,
                &child(path, &[seg("policy")]),
                format!("\"{other}\" is not a chain policy (accept or drop)"),
            ))
        }
    };
    Ok(HostChain {
        name: c.name.clone(),
        hook,
        chain_type,
        priority,
        policy,
    })
}

fn parse_priority(v: &Value) -> Option<i32> {
    if let Some(n) = v.as_i64() {
        return i32::try_from(n).ok();
    }
    let s = v.as_str()?.replace(' ', "");
    let (name, offset) = match s.find(['+', '-']) {
        Some(i) if i > 0 => (&s[..i], s[i..].parse::<i32>().ok()?),
        _ => (s.as_str(), 0),
    };
    let base = match name {
        "raw" => -300,
        "mangle" => -150,
        "dstnat" => -100,
        "filter" => 0,
        "security" => 50,
        "srcnat" => 100,
        n => n.parse().ok()?,
    };
    Some(base + offset)
}

/// What the left side of a match reads.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Addr {
        source: bool,
        v6: bool,
    },
    Port {
        source: bool,
        proto: Option<Protocol>,
    },
    L4Proto,
    /// `ip protocol` / `ip6 nexthdr` (implies the family).
    IpProto {
        v6: bool,
    },
    NfProto,
    /// `meta protocol` (ethertype: ip, ip6).
    EtherProto,
    Iface {
        input: bool,
    },
    CtState,
    CtStatus,
    IcmpType {
        v6: bool,
    },
    IcmpCode {
        v6: bool,
    },
    TcpFlags {
        mask: Option<u8>,
    },
    FibDaddrType,
    PktType,
    /// Anything else, described for the "not evaluated" reason.
    Other(String),
}

fn field_of(left: &Value) -> Field {
    let Some((k, v)) = left.as_object().and_then(|o| o.iter().next()) else {
        return Field::Other(format!("nft expression {left}"));
    };
    let key = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    match k.as_str() {
        "payload" => {
            let (proto, field) = (key(v, "protocol"), key(v, "field"));
            match (proto.as_str(), field.as_str()) {
                ("ip" | "ip6", "saddr" | "daddr") => Field::Addr {
                    source: field == "saddr",
                    v6: proto == "ip6",
                },
                ("ip", "protocol") => Field::IpProto { v6: false },
                ("ip6", "nexthdr") => Field::IpProto { v6: true },
                ("tcp" | "udp" | "udplite" | "sctp" | "dccp" | "th", "dport" | "sport") => {
                    Field::Port {
                        source: field == "sport",
                        proto: match proto.as_str() {
                            "th" => None,
                            p => parse_protocol(p),
                        },
                    }
                }
                ("tcp", "flags") => Field::TcpFlags { mask: None },
                ("icmp", "type") => Field::IcmpType { v6: false },
                ("icmpv6", "type") => Field::IcmpType { v6: true },
                ("icmp", "code") => Field::IcmpCode { v6: false },
                ("icmpv6", "code") => Field::IcmpCode { v6: true },
                ("", _) => Field::Other("nft raw payload match".to_owned()),
                (p, f) => Field::Other(format!("nft match `{p} {f}`")),
            }
        }
        "meta" => match key(v, "key").as_str() {
            "l4proto" => Field::L4Proto,
            "nfproto" => Field::NfProto,
            "protocol" => Field::EtherProto,
            "iifname" | "iif" => Field::Iface { input: true },
            "oifname" | "oif" => Field::Iface { input: false },
            "pkttype" => Field::PktType,
            other => Field::Other(format!("nft match `meta {other}`")),
        },
        "ct" => match (key(v, "key").as_str(), v.get("dir")) {
            ("state", None) => Field::CtState,
            ("status", None) => Field::CtStatus,
            (other, _) => Field::Other(format!("nft match `ct {other}`")),
        },
        "fib" => {
            let flags = v.get("flags");
            let has_daddr = match flags {
                Some(Value::String(s)) => s == "daddr",
                Some(Value::Array(a)) => a.iter().any(|f| f == "daddr"),
                _ => false,
            };
            if key(v, "result") == "type"
                && has_daddr
                && flags.is_some_and(|f| f.as_array().is_none_or(|a| a.len() == 1))
            {
                Field::FibDaddrType
            } else {
                Field::Other("nft match `fib`".to_owned())
            }
        }
        "&" => {
            let parts = v.as_array();
            match parts.map(|p| (field_of(&p[0]), p.get(1))) {
                Some((Field::TcpFlags { .. }, Some(mask))) => match flag_bits(mask) {
                    Some(m) => Field::TcpFlags { mask: Some(m) },
                    None => Field::Other("nft match `tcp flags &`".to_owned()),
                },
                _ => Field::Other("nft bitwise match".to_owned()),
            }
        }
        other => Field::Other(format!("nft expression `{other}`")),
    }
}

fn flag_bits(v: &Value) -> Option<u8> {
    let one = |s: &str| -> Option<u8> {
        Some(match s {
            "fin" => 0x01,
            "syn" => 0x02,
            "rst" => 0x04,
            "psh" => 0x08,
            "ack" => 0x10,
            "urg" => 0x20,
            "ecn" => 0x40,
            "cwr" => 0x80,
            _ => return None,
        })
    };
    match v {
        Value::String(s) => one(s),
        Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
        Value::Array(a) => a.iter().try_fold(0u8, |acc, x| Some(acc | flag_bits(x)?)),
        Value::Object(o) => {
            // `(syn | ack)` arrives as {"|": [a, b]}.
            let parts = o.get("|")?.as_array()?;
            parts
                .iter()
                .try_fold(0u8, |acc, x| Some(acc | flag_bits(x)?))
        }
        _ => None,
    }
}

/// A problem with one value, located by the caller.
enum ValErr {
    /// Not a valid value: an error naming the field, and the value's path below the
    /// `match` object (`right.set[2].prefix.addr`).
    Invalid(String, Vec<Seg>),
    /// Valid but not evaluated (a dynamic set, a concatenation): Unsupported.
    Unsupported(String),
}

impl ValErr {
    fn at(message: impl Into<String>) -> Self {
        Self::Invalid(message.into(), Vec::new())
    }

    /// Puts the value's path below `prefix` (where the value sits).
    fn under(self, prefix: &[Seg]) -> Self {
        match self {
            Self::Invalid(m, p) => Self::Invalid(m, [prefix, &p].concat()),
            u => u,
        }
    }
}

/// The items of a right-hand side: a set's elements, a list, a named set's elements, or
/// the value itself.
/// Each item comes with its path below the `match` object.
type Items<'v> = Vec<(Vec<Seg>, &'v Value)>;

fn items<'v>(right: &'v Value, draft: &'v Draft) -> Result<Items<'v>, ValErr> {
    // `{"elem": {"val": …, "comment": …}}` wraps an element that carries options.
    let unwrap_elem = |mut path: Vec<Seg>, v: &'v Value| -> (Vec<Seg>, &'v Value) {
        match v.get("elem").and_then(|e| e.get("val")) {
            Some(inner) => {
                path.extend([seg("elem"), seg("val")]);
                (path, inner)
            }
            None => (path, v),
        }
    };
    let right_path = || vec![seg("right")];
    match right {
        Value::String(s) if s.starts_with('@') => {
            let name = &s[1..];
            // The elements sit in the set's own object: errors point at the reference.
            match draft.sets.get(name) {
                Some(Value::Array(a)) => {
                    Ok(a.iter().map(|v| unwrap_elem(right_path(), v)).collect())
                }
                Some(Value::Null) | None => Err(ValErr::Unsupported(format!(
                    "named set @{name} (its elements are not listed)"
                ))),
                Some(v) => Ok(vec![unwrap_elem(right_path(), v)]),
            }
        }
        Value::Object(o) if o.contains_key("set") => match o.get("set") {
            Some(Value::Array(a)) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| unwrap_elem(vec![seg("right"), seg("set"), Seg::Idx(i)], v))
                .collect()),
            Some(v) => Ok(vec![unwrap_elem(vec![seg("right"), seg("set")], v)]),
            None => Ok(Vec::new()),
        },
        Value::Array(a) => Ok(a
            .iter()
            .enumerate()
            .map(|(i, v)| (vec![seg("right"), Seg::Idx(i)], v))
            .collect()),
        v => Ok(vec![(right_path(), v)]),
    }
}

fn as_addr(v: &Value, v6: bool) -> Result<HostAddr, ValErr> {
    let ip = |s: &Value| -> Result<IpAddr, ValErr> {
        let t = s
            .as_str()
            .ok_or_else(|| ValErr::at(format!("expected an address, got {s}")))?;
        let ip: IpAddr = t
            .parse()
            .map_err(|_| ValErr::at(format!("\"{t}\" is not an IP address")))?;
        if ip.is_ipv6() != v6 {
            return Err(ValErr::at(format!(
                "\"{t}\" is not an {} address",
                if v6 { "IPv6" } else { "IPv4" }
            )));
        }
        Ok(ip)
    };
    match v {
        Value::String(_) => {
            let a = ip(v)?;
            Ok(HostAddr::Cidr {
                cidr: Cidr::host(a),
            })
        }
        Value::Object(o) => {
            if let Some(p) = o.get("prefix") {
                let addr = ip(p.get("addr").unwrap_or(&Value::Null))
                    .map_err(|e| e.under(&[seg("prefix"), seg("addr")]))?;
                let max = if v6 { 128 } else { 32 };
                let len = p
                    .get("len")
                    .and_then(Value::as_u64)
                    .and_then(|l| u8::try_from(l).ok())
                    .filter(|l| *l <= max)
                    .ok_or_else(|| {
                        ValErr::at(format!(
                            "prefix length {} is not 0-{max}",
                            p.get("len").unwrap_or(&Value::Null)
                        ))
                        .under(&[seg("prefix"), seg("len")])
                    })?;
                return Ok(HostAddr::Cidr {
                    cidr: Cidr { addr, prefix: len },
                });
            }
            if let Some(Value::Array(r)) = o.get("range") {
                if let [a, b] = r.as_slice() {
                    return Ok(HostAddr::Range {
                        from: ip(a).map_err(|e| e.under(&[seg("range"), Seg::Idx(0)]))?,
                        to: ip(b).map_err(|e| e.under(&[seg("range"), Seg::Idx(1)]))?,
                    });
                }
            }
            Err(ValErr::Unsupported(format!("address expression {v}")))
        }
        other => Err(ValErr::at(format!("expected an address, got {other}"))),
    }
}

fn as_port_range(v: &Value) -> Result<PortRange, ValErr> {
    let port = |x: &Value| -> Result<u16, ValErr> {
        x.as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| ValErr::at(format!("{x} is not a port (0-65535)")))
    };
    if let Some(Value::Array(r)) = v.get("range") {
        if let [a, b] = r.as_slice() {
            let (a, b) = (
                port(a).map_err(|e| e.under(&[seg("range"), Seg::Idx(0)]))?,
                port(b).map_err(|e| e.under(&[seg("range"), Seg::Idx(1)]))?,
            );
            if b < a {
                return Err(ValErr::at(format!("port range {a}-{b} runs backwards")));
            }
            return Ok(PortRange::new(a, b));
        }
    }
    if v.is_object() {
        return Err(ValErr::Unsupported(format!("port expression {v}")));
    }
    port(v).map(PortRange::single)
}

fn as_str_item(v: &Value) -> Result<String, ValErr> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(ValErr::Unsupported(format!("value {other}"))),
    }
}

/// ICMP type names as nft prints them.
fn icmp_type_number(s: &str, v6: bool) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return Some(n);
    }
    let v4 = [
        ("echo-reply", 0),
        ("destination-unreachable", 3),
        ("source-quench", 4),
        ("redirect", 5),
        ("echo-request", 8),
        ("router-advertisement", 9),
        ("router-solicitation", 10),
        ("time-exceeded", 11),
        ("parameter-problem", 12),
        ("timestamp-request", 13),
        ("timestamp-reply", 14),
        ("info-request", 15),
        ("info-reply", 16),
        ("address-mask-request", 17),
        ("address-mask-reply", 18),
    ];
    let v6t = [
        ("destination-unreachable", 1),
        ("packet-too-big", 2),
        ("time-exceeded", 3),
        ("parameter-problem", 4),
        ("echo-request", 128),
        ("echo-reply", 129),
        ("mld-listener-query", 130),
        ("mld-listener-report", 131),
        ("mld-listener-done", 132),
        ("mld-listener-reduction", 132),
        ("nd-router-solicit", 133),
        ("nd-router-advert", 134),
        ("nd-neighbor-solicit", 135),
        ("nd-neighbor-advert", 136),
        ("nd-redirect", 137),
        ("router-renumbering", 138),
        ("ind-neighbor-solicit", 141),
        ("ind-neighbor-advert", 142),
        ("mld2-listener-report", 143),
    ];
    let table: &[(&str, u8)] = if v6 { &v6t } else { &v4 };
    table.iter().find(|(n, _)| *n == s).map(|(_, t)| *t)
}

/// Turns one `match` statement into host matches (several when nft implies a protocol).
fn parse_match(m: &Value, draft: &Draft, out: &mut Vec<HostMatch>) -> Result<(), ValErr> {
    let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
    let left = m
        .get("left")
        .ok_or_else(|| ValErr::at("a match needs \"left\"".to_owned()))?;
    let right = m
        .get("right")
        .ok_or_else(|| ValErr::at("a match needs \"right\"".to_owned()))?;
    let field = field_of(left);
    if let Field::Other(what) = &field {
        out.push(HostMatch::Unsupported { what: what.clone() });
        return Ok(());
    }
    let negated = match op {
        "==" | "in" => false,
        "!=" => true,
        "<" | ">" | "<=" | ">=" | "⇐" => {
            // Only port comparisons are read (`tcp dport < 1024`).
            if let Field::Port { source, proto } = field {
                let n = right
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| {
                        ValErr::at(format!("{right} is not a port")).under(&[seg("right")])
                    })?;
                let r = match op {
                    "<" => PortRange::new(
                        0,
                        n.checked_sub(1)
                            .ok_or_else(|| ValErr::at("no port is below 0".to_owned()))?,
                    ),
                    ">" => PortRange::new(
                        n.checked_add(1)
                            .ok_or_else(|| ValErr::at("no port is above 65535".to_owned()))?,
                        u16::MAX,
                    ),
                    ">=" => PortRange::new(n, u16::MAX),
                    _ => PortRange::new(0, n),
                };
                push_port(out, source, proto, vec![r], false);
                return Ok(());
            }
            out.push(HostMatch::Unsupported {
                what: format!("nft comparison `{op}`"),
            });
            return Ok(());
        }
        other => {
            return Err(ValErr::at(format!("unknown operator \"{other}\"")).under(&[seg("op")]))
        }
    };
    let list = items(right, draft)?;
    match field {
        Field::Addr { source, v6 } => {
            let addrs = list
                .iter()
                .map(|(p, v)| as_addr(v, v6).map_err(|e| e.under(p)))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(HostMatch::Family { ipv6: v6 });
            out.push(if source {
                HostMatch::Source { addrs, negated }
            } else {
                HostMatch::Destination { addrs, negated }
            });
        }
        Field::Port { source, proto } => {
            let ranges = list
                .iter()
                .map(|(p, v)| as_port_range(v).map_err(|e| e.under(p)))
                .collect::<Result<Vec<_>, _>>()?;
            push_port(out, source, proto, ranges, negated);
        }
        Field::L4Proto | Field::IpProto { .. } => {
            if let Field::IpProto { v6 } = field {
                out.push(HostMatch::Family { ipv6: v6 });
            }
            let protocols = list
                .iter()
                .map(|(p, v)| {
                    let s = as_str_item(v)?;
                    parse_protocol(&s)
                        .ok_or_else(|| ValErr::at(format!("unknown protocol \"{s}\"")).under(p))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(HostMatch::Protocol { protocols, negated });
        }
        Field::NfProto | Field::EtherProto => {
            let names: Vec<String> = list
                .iter()
                .map(|(_, v)| as_str_item(v))
                .collect::<Result<_, _>>()?;
            let v4 = names.iter().any(|n| n == "ipv4" || n == "ip");
            let v6 = names.iter().any(|n| n == "ipv6" || n == "ip6");
            match (v4 ^ negated, v6 ^ negated) {
                (true, true) => {}
                (false, true) => out.push(HostMatch::Family { ipv6: true }),
                (true, false) => out.push(HostMatch::Family { ipv6: false }),
                // Neither family: never an IP packet of ours.
                (false, false) => out.push(HostMatch::Protocol {
                    protocols: Vec::new(),
                    negated: false,
                }),
            }
        }
        Field::Iface { input } => {
            let names: Vec<String> = list
                .iter()
                .map(|(_, v)| as_str_item(v))
                .collect::<Result<_, _>>()?;
            match names.as_slice() {
                [name] => out.push(if input {
                    HostMatch::InInterface {
                        name: name.clone(),
                        negated,
                    }
                } else {
                    HostMatch::OutInterface {
                        name: name.clone(),
                        negated,
                    }
                }),
                _ => out.push(HostMatch::Unsupported {
                    what: "nft match on a set of interfaces".to_owned(),
                }),
            }
        }
        Field::CtState | Field::CtStatus => {
            let mut states = Vec::new();
            for (p, v) in &list {
                let s = as_str_item(v)?;
                let st = match (field == Field::CtStatus, s.as_str()) {
                    (false, "new") => CtState::New,
                    (false, "established") => CtState::Established,
                    (false, "related") => CtState::Related,
                    (false, "invalid") => CtState::Invalid,
                    (false, "untracked") => CtState::Untracked,
                    (true, "dnat") => CtState::Dnat,
                    (true, "snat") => CtState::Snat,
                    (true, other) => {
                        out.push(HostMatch::Unsupported {
                            what: format!("nft match `ct status {other}`"),
                        });
                        return Ok(());
                    }
                    (false, other) => {
                        return Err(
                            ValErr::at(format!("unknown connection state \"{other}\"")).under(p)
                        )
                    }
                };
                states.push(st);
            }
            out.push(HostMatch::CtState { states, negated });
        }
        Field::IcmpType { v6 } | Field::IcmpCode { v6 } => {
            out.push(HostMatch::Protocol {
                protocols: vec![if v6 { Protocol::Icmpv6 } else { Protocol::Icmp }],
                negated: false,
            });
            if matches!(field, Field::IcmpCode { .. }) {
                out.push(HostMatch::Unsupported {
                    what: "nft match `icmp code`".to_owned(),
                });
                return Ok(());
            }
            let types = list
                .iter()
                .map(|(p, v)| {
                    let s = as_str_item(v)?;
                    icmp_type_number(&s, v6)
                        .map(|t| IcmpTypeCode {
                            icmp_type: t,
                            code: None,
                        })
                        .ok_or_else(|| ValErr::at(format!("unknown ICMP type \"{s}\"")).under(p))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(HostMatch::IcmpType { types, negated });
        }
        Field::TcpFlags { mask } => {
            out.push(HostMatch::Protocol {
                protocols: vec![Protocol::Tcp],
                negated: false,
            });
            let bits = flag_bits(right)
                .ok_or_else(|| ValErr::Unsupported(format!("tcp flags value {right}")))?;
            out.push(match (mask, op) {
                (Some(m), _) => HostMatch::TcpFlags {
                    mask: m,
                    comp: bits,
                    any: false,
                    negated,
                },
                // `tcp flags syn` (op "in"): any of them set.
                (None, "in") => HostMatch::TcpFlags {
                    mask: bits,
                    comp: 0,
                    any: true,
                    negated,
                },
                (None, _) => HostMatch::TcpFlags {
                    mask: 0xff,
                    comp: bits,
                    any: false,
                    negated,
                },
            });
        }
        Field::FibDaddrType => {
            let types: Vec<String> = list
                .iter()
                .map(|(_, v)| as_str_item(v).map(|s| s.to_ascii_uppercase()))
                .collect::<Result<_, _>>()?;
            out.push(HostMatch::AddrType {
                source: false,
                types,
                negated,
            });
        }
        Field::PktType => {
            let types: Vec<String> = list
                .iter()
                .map(|(_, v)| as_str_item(v))
                .collect::<Result<_, _>>()?;
            out.push(HostMatch::PacketType { types, negated });
        }
        Field::Other(_) => {}
    }
    Ok(())
}

fn push_port(
    out: &mut Vec<HostMatch>,
    source: bool,
    proto: Option<Protocol>,
    ranges: Vec<PortRange>,
    negated: bool,
) {
    // `tcp dport 22` implies `meta l4proto tcp`; `th dport` any protocol with ports.
    out.push(HostMatch::Protocol {
        protocols: match proto {
            Some(p) => vec![p],
            None => vec![
                Protocol::Tcp,
                Protocol::Udp,
                Protocol::Number(132),
                Protocol::Number(33),
                Protocol::Number(136),
            ],
        },
        negated: false,
    });
    out.push(if source {
        HostMatch::SourcePort { ranges, negated }
    } else {
        HostMatch::DestPort { ranges, negated }
    });
}

/// A verdict object (`{"accept": null}`, `{"jump": {"target": "x"}}`), if it is one.
fn verdict_of(
    text: &str,
    v: &Value,
    draft: &Draft,
    path: &[Seg],
) -> Result<Option<HostTarget>, RulesError> {
    let Some((k, body)) = v.as_object().and_then(|o| o.iter().next()) else {
        return Ok(None);
    };
    Ok(Some(match k.as_str() {
        "accept" => HostTarget::Accept,
        "drop" => HostTarget::Drop,
        "return" => HostTarget::Return,
        "continue" => HostTarget::Continue { what: None },
        "jump" | "goto" => {
            let tpath = child(path, &[seg(k), seg("target")]);
            let chain = body.get("target").and_then(Value::as_str).ok_or_else(|| {
                RulesError::at(
                    text,
                    &child(path, &[seg(k)]),
                    format!("`{k}` needs a \"target\" chain"),
                )
            })?;
            if !draft.chains.iter().any(|c| c.name == chain) {
                return Err(RulesError::at(
                    text,
                    &tpath,
                    format!(
                        "`{k}` to chain \"{chain}\", which is not listed in table {} {}",
                        draft.family_name, draft.name
                    ),
                ));
            }
            if k == "jump" {
                HostTarget::Jump {
                    chain: chain.to_owned(),
                }
            } else {
                HostTarget::Goto {
                    chain: chain.to_owned(),
                }
            }
        }
        _ => return Ok(None),
    }))
}

/// The rule's host rules: one, or one per entry of a verdict map.
fn parse_rule(
    text: &str,
    draft: &Draft,
    r: &RuleObj,
    path: &[Seg],
    number: usize,
) -> Result<Vec<(HostRule, Option<String>)>, RulesError> {
    let mut matches: Vec<HostMatch> = Vec::new();
    let mut target: Option<HostTarget> = None;
    let mut entries: Vec<(HostRule, Option<String>)> = Vec::new();
    let rendered = render_rule(&r.expr, r.comment.as_deref());
    let host = |matches: Vec<HostMatch>, target: HostTarget, text: String| HostRule {
        chain: r.chain.clone(),
        number,
        matches,
        target,
        text,
    };
    for (j, e) in r.expr.iter().enumerate() {
        let epath = child(path, &[seg("expr"), Seg::Idx(j)]);
        let Some((k, body)) = e.as_object().and_then(|o| o.iter().next()) else {
            return Err(RulesError::at(
                text,
                &epath,
                format!("expected a statement object, got {e}"),
            ));
        };
        if target.is_some() {
            // Statements after a verdict never run.
            break;
        }
        if let Some(t) = verdict_of(text, e, draft, &epath)? {
            target = Some(t);
            continue;
        }
        match k.as_str() {
            "match" => {
                if let Err(ve) = parse_match(body, draft, &mut matches) {
                    match ve {
                        ValErr::Invalid(msg, rel) => {
                            let at = child(&child(&epath, &[seg("match")]), &rel);
                            return Err(RulesError::at(text, &at, msg));
                        }
                        ValErr::Unsupported(what) => matches.push(HostMatch::Unsupported {
                            what: format!("nft {what}"),
                        }),
                    }
                }
            }
            "counter" | "log" | "mangle" | "meta" | "ct" | "set" | "flow" | "objref"
            | "ct helper" | "ct timeout" | "ct expectation" | "secmark" | "dup" => {
                // Non-terminating: changes nothing about this packet's fate.
            }
            "xt" => {
                let name = body.get("name").and_then(Value::as_str).unwrap_or("?");
                match body.get("type").and_then(Value::as_str) {
                    Some("watcher") => {}
                    Some("match") => matches.push(HostMatch::Unsupported {
                        what: format!(
                            "iptables match `-m {name}` (nft shows iptables-nft's match as `xt` \
                             without its options; `iptables-save` has them)"
                        ),
                    }),
                    _ => {
                        target = Some(match name {
                            "REJECT" => HostTarget::Reject {
                                with: Some(
                                    "not shown by nft (iptables-nft `xt` target)".to_owned(),
                                ),
                            },
                            "DNAT" => HostTarget::Dnat {
                                addr: None,
                                port: None,
                            },
                            "SNAT" | "MASQUERADE" => HostTarget::Snat {
                                what: name.to_owned(),
                            },
                            "LOG" | "NFLOG" | "MARK" | "CONNMARK" | "TCPMSS" | "CHECKSUM"
                            | "CLASSIFY" | "DSCP" | "TOS" | "TTL" | "HL" | "TRACE" | "AUDIT" => {
                                // Non-terminating: the rest of the rule decides.
                                continue;
                            }
                            other => HostTarget::Other {
                                name: format!("iptables target {other}"),
                            },
                        });
                    }
                }
            }
            "limit" | "quota" | "ct count" | "synproxy" => matches.push(HostMatch::Unsupported {
                what: format!("nft `{k}` (it passes only some packets)"),
            }),
            "reject" => {
                let with = match body {
                    Value::Null => None,
                    b => {
                        let ty = b.get("type").and_then(Value::as_str);
                        let code = b.get("expr").map(|c| match c {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        });
                        match (ty, code) {
                            (None, None) => None,
                            (Some(t), None) => Some(t.to_owned()),
                            (None, Some(c)) => Some(c),
                            (Some(t), Some(c)) => Some(format!("{t} {c}")),
                        }
                    }
                };
                target = Some(HostTarget::Reject { with });
            }
            "dnat" => {
                let addr = match body.get("addr") {
                    Some(Value::String(s)) => Some(s.parse::<IpAddr>().map_err(|_| {
                        RulesError::at(
                            text,
                            &child(&epath, &[seg("dnat"), seg("addr")]),
                            format!("\"{s}\" is not an IP address"),
                        )
                    })?),
                    _ => None,
                };
                let port = body
                    .get("port")
                    .and_then(Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok());
                target = Some(HostTarget::Dnat { addr, port });
            }
            "redirect" => {
                target = Some(HostTarget::Redirect {
                    port: body
                        .get("port")
                        .and_then(Value::as_u64)
                        .and_then(|p| u16::try_from(p).ok()),
                })
            }
            "snat" | "masquerade" => {
                target = Some(HostTarget::Snat {
                    what: k.to_uppercase(),
                })
            }
            "vmap" => {
                // One rule per entry: `ct state vmap { established : accept, … }`.
                let key = body.get("key").cloned().unwrap_or(Value::Null);
                let data = body.get("data").cloned().unwrap_or(Value::Null);
                let pairs: Vec<Value> = match &data {
                    Value::String(s) if s.starts_with('@') => match draft.sets.get(&s[1..]) {
                        Some(Value::Array(a)) => a.clone(),
                        _ => {
                            matches.push(HostMatch::Unsupported {
                                what: format!("nft verdict map {s} (its elements are not listed)"),
                            });
                            target = Some(HostTarget::Other {
                                name: format!("verdict map {s}"),
                            });
                            continue;
                        }
                    },
                    other => match other.get("set") {
                        Some(Value::Array(a)) => a.clone(),
                        _ => Vec::new(),
                    },
                };
                for (n, pair) in pairs.iter().enumerate() {
                    let Some([k_val, verdict]) = pair
                        .as_array()
                        .map(Vec::as_slice)
                        .and_then(|s| <&[Value; 2]>::try_from(s).ok())
                    else {
                        return Err(RulesError::at(
                            text,
                            &child(&epath, &[seg("vmap"), seg("data")]),
                            "a verdict map entry must be [key, verdict]",
                        ));
                    };
                    let vpath = child(
                        &epath,
                        &[
                            seg("vmap"),
                            seg("data"),
                            seg("set"),
                            Seg::Idx(n),
                            Seg::Idx(1),
                        ],
                    );
                    let Some(t) = verdict_of(text, verdict, draft, &vpath)? else {
                        return Err(RulesError::at(
                            text,
                            &vpath,
                            format!("expected a verdict, got {verdict}"),
                        ));
                    };
                    let mut m = matches.clone();
                    let synthetic = json!({"op": "==", "left": key, "right": k_val});
                    if let Err(ve) = parse_match(&synthetic, draft, &mut m) {
                        match ve {
                            ValErr::Invalid(msg, _) => {
                                return Err(RulesError::at(
                                    text,
                                    &child(
                                        &epath,
                                        &[
                                            seg("vmap"),
                                            seg("data"),
                                            seg("set"),
                                            Seg::Idx(n),
                                            Seg::Idx(0),
                                        ],
                                    ),
                                    msg,
                                ))
                            }
                            ValErr::Unsupported(what) => m.push(HostMatch::Unsupported {
                                what: format!("nft {what}"),
                            }),
                        }
                    }
                    let entry = render_value(k_val);
                    entries.push((
                        host(m, t, format!("{rendered} [entry {entry}]")),
                        Some(format!("entry {entry}")),
                    ));
                }
                // No entry matched: the rule falls through.
                return Ok(entries);
            }
            "queue" | "tproxy" | "fwd" | "notrack" => {
                target = Some(HostTarget::Other {
                    name: format!("nft {k}"),
                })
            }
            other => matches.push(HostMatch::Unsupported {
                what: format!("nft statement `{other}`"),
            }),
        }
    }
    let target = target.unwrap_or(HostTarget::Continue { what: None });
    Ok(vec![(host(matches, target, rendered), None)])
}

/// A readable one-line form of a rule, close to `nft list ruleset`'s.
fn render_rule(expr: &[Value], comment: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in expr {
        let Some((k, body)) = e.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let part = match k.as_str() {
            "match" => {
                let left = body.get("left").map_or_else(String::new, render_value);
                let right = body.get("right").map_or_else(String::new, render_value);
                match body.get("op").and_then(Value::as_str).unwrap_or("==") {
                    "==" | "in" => format!("{left} {right}"),
                    op => format!("{left} {op} {right}"),
                }
            }
            "counter" => "counter".to_owned(),
            "accept" | "drop" | "return" | "continue" => k.clone(),
            "jump" | "goto" => format!(
                "{k} {}",
                body.get("target").and_then(Value::as_str).unwrap_or("?")
            ),
            "reject" => match body {
                Value::Null => "reject".to_owned(),
                b => {
                    let mut s = "reject".to_owned();
                    if let Some(t) = b.get("type").and_then(Value::as_str) {
                        let _ = write!(s, " with {t}");
                    }
                    if let Some(c) = b.get("expr") {
                        let _ = write!(s, " {}", render_value(c));
                    }
                    s
                }
            },
            "dnat" | "snat" => {
                let mut s = format!("{k} to");
                if let Some(a) = body.get("addr") {
                    let _ = write!(s, " {}", render_value(a));
                }
                if let Some(p) = body.get("port") {
                    let _ = write!(s, ":{}", render_value(p));
                }
                s
            }
            "redirect" => match body.get("port") {
                Some(p) => format!("redirect to :{}", render_value(p)),
                None => "redirect".to_owned(),
            },
            "xt" => format!(
                "xt {} {}",
                body.get("type").and_then(Value::as_str).unwrap_or("?"),
                body.get("name").and_then(Value::as_str).unwrap_or("?")
            ),
            "vmap" => format!(
                "{} vmap {}",
                body.get("key").map_or_else(String::new, render_value),
                body.get("data").map_or_else(String::new, render_value)
            ),
            "log" => "log".to_owned(),
            other => other.to_owned(),
        };
        parts.push(part);
    }
    let mut s = parts.join(" ");
    if let Some(c) = comment {
        let _ = write!(s, " comment \"{c}\"");
    }
    s
}

fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => a.iter().map(render_value).collect::<Vec<_>>().join(","),
        Value::Object(o) => {
            let Some((k, body)) = o.iter().next() else {
                return String::new();
            };
            match k.as_str() {
                "payload" => format!(
                    "{} {}",
                    body.get("protocol")
                        .and_then(Value::as_str)
                        .unwrap_or("raw"),
                    body.get("field").and_then(Value::as_str).unwrap_or("")
                ),
                "meta" => {
                    let key = body.get("key").and_then(Value::as_str).unwrap_or("");
                    match key {
                        "iifname" | "oifname" | "iif" | "oif" => key.to_owned(),
                        _ => format!("meta {key}"),
                    }
                }
                "ct" => format!(
                    "ct {}",
                    body.get("key").and_then(Value::as_str).unwrap_or("")
                ),
                "fib" => "fib daddr type".to_owned(),
                "prefix" => format!(
                    "{}/{}",
                    body.get("addr").map_or_else(String::new, render_value),
                    body.get("len").map_or_else(String::new, render_value)
                ),
                "range" => match body.as_array().map(Vec::as_slice) {
                    Some([a, b]) => format!("{}-{}", render_value(a), render_value(b)),
                    _ => body.to_string(),
                },
                "set" => match body {
                    Value::Array(a) => format!(
                        "{{ {} }}",
                        a.iter()
                            .map(|x| match x {
                                Value::Array(pair) => pair
                                    .iter()
                                    .map(render_value)
                                    .collect::<Vec<_>>()
                                    .join(" : "),
                                x => render_value(x),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    x => render_value(x),
                },
                "elem" => body.get("val").map_or_else(String::new, render_value),
                "accept" | "drop" | "return" | "continue" => k.clone(),
                "jump" | "goto" => format!(
                    "{k} {}",
                    body.get("target").and_then(Value::as_str).unwrap_or("?")
                ),
                "&" | "|" => match body.as_array().map(Vec::as_slice) {
                    Some([a, b]) => format!("{} {k} {}", render_value(a), render_value(b)),
                    _ => body.to_string(),
                },
                _ => v.to_string(),
            }
        }
    }
}

/// The `nft insert rule …` command that admits the question's traffic.
pub(crate) fn accept_fix(spec: &HostFixSpec) -> RuleFix {
    let src = spec.source.to_canonical();
    let ipk = if src.is_ipv6() { "ip6" } else { "ip" };
    let mut words: Vec<String> = vec![format!("{ipk} saddr {src}")];
    let mut expr: Vec<Value> = vec![json!({"match": {"op": "==",
        "left": {"payload": {"protocol": ipk, "field": "saddr"}}, "right": src.to_string()}})];
    if let Some(d) = spec.destination {
        let k = if d.is_ipv6() { "ip6" } else { "ip" };
        words.push(format!("{k} daddr {d}"));
        expr.push(json!({"match": {"op": "==",
            "left": {"payload": {"protocol": k, "field": "daddr"}}, "right": d.to_string()}}));
    }
    match (spec.protocol, spec.port) {
        (p @ (Protocol::Tcp | Protocol::Udp), Some(port)) => {
            words.push(format!("{p} dport {port}"));
            expr.push(json!({"match": {"op": "==",
                "left": {"payload": {"protocol": p.to_string(), "field": "dport"}}, "right": port}}));
        }
        (p @ (Protocol::Icmp | Protocol::Icmpv6), _) => {
            let name = if p == Protocol::Icmp {
                "icmp"
            } else {
                "icmpv6"
            };
            match spec.icmp_type {
                Some(t) => {
                    words.push(format!("{name} type {t}"));
                    expr.push(json!({"match": {"op": "==",
                        "left": {"payload": {"protocol": name, "field": "type"}}, "right": t}}));
                }
                None => {
                    words.push(format!("meta l4proto {name}"));
                    expr.push(json!({"match": {"op": "==",
                        "left": {"meta": {"key": "l4proto"}}, "right": name}}));
                }
            }
        }
        (Protocol::Number(n), _) => {
            words.push(format!("meta l4proto {n}"));
            expr.push(json!({"match": {"op": "==",
                "left": {"meta": {"key": "l4proto"}}, "right": n}}));
        }
        _ => {}
    }
    words.push("accept".to_owned());
    expr.push(json!({"accept": null}));
    let family = spec.table.family.nft_name();
    let command = format!(
        "nft insert rule {family} {} {} {}",
        sh_quote(&spec.table.table),
        sh_quote(spec.chain),
        words.join(" ")
    );
    let doc = json!({"nftables": [{"insert": {"rule": {
        "family": family,
        "table": spec.table.table,
        "chain": spec.chain,
        "expr": expr,
    }}}]});
    RuleFix {
        set_id: spec.set.id.clone(),
        provider: Provider::Host,
        description: format!(
            "{} It admits only {src}; `nft insert` puts it first in the chain. Add it to your \
             nftables config (e.g. /etc/nftables.conf) to keep it after a reboot. The JSON is \
             for `nft -j -f`.",
            spec.why
        ),
        command,
        json: serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string()),
    }
}
