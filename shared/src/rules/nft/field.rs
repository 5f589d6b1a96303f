//! The left side of a `match`: which packet field an nft expression reads.

use serde_json::Value;

use crate::rules::iptables::parse_protocol;
use crate::rules::model::Protocol;

/// What the left side of a match reads.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Field {
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

/// The field `left` reads; anything not evaluated is [`Field::Other`], described.
pub(super) fn field_of(left: &Value) -> Field {
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

/// TCP flag bits from a name, a number, a list or an `a | b` expression.
pub(super) fn flag_bits(v: &Value) -> Option<u8> {
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
