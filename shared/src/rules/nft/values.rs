//! The right side of a `match`: its items (sets, lists, named sets) and each item as an
//! address, a port range, a name or an ICMP type.

use std::net::IpAddr;

use serde_json::Value;

use super::json::seg;
use super::table::Draft;
use crate::rules::locate::Seg;
use crate::rules::model::{Cidr, HostAddr, PortRange};

/// A problem with one value, located by the caller.
pub(super) enum ValErr {
    /// Not a valid value: an error naming the field, and the value's path below the
    /// `match` object (`right.set[2].prefix.addr`).
    Invalid(String, Vec<Seg>),
    /// Valid but not evaluated (a dynamic set, a concatenation): Unsupported.
    Unsupported(String),
}

impl ValErr {
    pub(super) fn at(message: impl Into<String>) -> Self {
        Self::Invalid(message.into(), Vec::new())
    }

    /// Puts the value's path below `prefix` (where the value sits).
    pub(super) fn under(self, prefix: &[Seg]) -> Self {
        match self {
            Self::Invalid(m, p) => Self::Invalid(m, [prefix, &p].concat()),
            u => u,
        }
    }
}

/// The items of a right-hand side: a set's elements, a list, a named set's elements, or
/// the value itself.
/// Each item comes with its path below the `match` object.
pub(super) type Items<'v> = Vec<(Vec<Seg>, &'v Value)>;

pub(super) fn items<'v>(right: &'v Value, draft: &'v Draft) -> Result<Items<'v>, ValErr> {
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

/// An address, prefix or range of the family `v6` says.
pub(super) fn as_addr(v: &Value, v6: bool) -> Result<HostAddr, ValErr> {
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

/// A port or a port range.
pub(super) fn as_port_range(v: &Value) -> Result<PortRange, ValErr> {
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

/// A name (or a number, as text): interfaces, states, protocols.
pub(super) fn as_str_item(v: &Value) -> Result<String, ValErr> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(ValErr::Unsupported(format!("value {other}"))),
    }
}

/// ICMP type names as nft prints them.
pub(super) fn icmp_type_number(s: &str, v6: bool) -> Option<u8> {
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
