//! One `match` statement into host matches.

use serde_json::Value;

use super::field::{field_of, flag_bits, Field};
use super::json::seg;
use super::table::Draft;
use super::values::{as_addr, as_port_range, as_str_item, icmp_type_number, items, Items, ValErr};
use crate::rules::iptables::parse_protocol;
use crate::rules::model::{CtState, HostMatch, IcmpTypeCode, PortRange, Protocol};

/// Turns one `match` statement into host matches (several when nft implies a protocol).
pub(super) fn parse_match(
    m: &Value,
    draft: &Draft,
    out: &mut Vec<HostMatch>,
) -> Result<(), ValErr> {
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
        "<" | ">" | "<=" | ">=" | "⇐" => return comparison(op, &field, right, out),
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
        Field::NfProto | Field::EtherProto => family_match(&list, negated, out)?,
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
            ct_states(field == Field::CtStatus, &list, negated, out)?;
        }
        Field::IcmpType { v6 } | Field::IcmpCode { v6 } => {
            let code = matches!(field, Field::IcmpCode { .. });
            icmp_types(v6, code, &list, negated, out)?;
        }
        Field::TcpFlags { mask } => tcp_flags(mask, op, right, negated, out)?,
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

/// `<`, `>`, `<=`, `>=` (`⇐` in older nft): only port comparisons are read
/// (`tcp dport < 1024`); any other is kept as unsupported.
fn comparison(
    op: &str,
    field: &Field,
    right: &Value,
    out: &mut Vec<HostMatch>,
) -> Result<(), ValErr> {
    if let Field::Port { source, proto } = *field {
        let n = right
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| ValErr::at(format!("{right} is not a port")).under(&[seg("right")]))?;
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
    Ok(())
}

/// `meta nfproto` / `meta protocol`: which address families the rule admits.
fn family_match(list: &Items, negated: bool, out: &mut Vec<HostMatch>) -> Result<(), ValErr> {
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
    Ok(())
}

/// `ct state` (or `ct status` when `status`): conntrack states; a status other than
/// dnat/snat is kept as unsupported.
fn ct_states(
    status: bool,
    list: &Items,
    negated: bool,
    out: &mut Vec<HostMatch>,
) -> Result<(), ValErr> {
    let mut states = Vec::new();
    for (p, v) in list {
        let s = as_str_item(v)?;
        let st = match (status, s.as_str()) {
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
                return Err(ValErr::at(format!("unknown connection state \"{other}\"")).under(p))
            }
        };
        states.push(st);
    }
    out.push(HostMatch::CtState { states, negated });
    Ok(())
}

/// `icmp type` / `icmpv6 type` (a `code` match is kept as unsupported); either implies the
/// protocol.
fn icmp_types(
    v6: bool,
    code: bool,
    list: &Items,
    negated: bool,
    out: &mut Vec<HostMatch>,
) -> Result<(), ValErr> {
    out.push(HostMatch::Protocol {
        protocols: vec![if v6 { Protocol::Icmpv6 } else { Protocol::Icmp }],
        negated: false,
    });
    if code {
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
    Ok(())
}

/// `tcp flags …`, optionally under a mask (`tcp flags & (syn | ack) == syn`).
fn tcp_flags(
    mask: Option<u8>,
    op: &str,
    right: &Value,
    negated: bool,
    out: &mut Vec<HostMatch>,
) -> Result<(), ValErr> {
    out.push(HostMatch::Protocol {
        protocols: vec![Protocol::Tcp],
        negated: false,
    });
    let bits =
        flag_bits(right).ok_or_else(|| ValErr::Unsupported(format!("tcp flags value {right}")))?;
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
    Ok(())
}

/// A port match and the protocol(s) it implies.
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
