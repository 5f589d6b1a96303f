//! Values shared by rules, matches and targets: protocols, ports and addresses.

use std::net::IpAddr;

use super::table::Seen;
use super::token::{bad, At, Tok};
use crate::rules::error::RulesError;
use crate::rules::model::{Cidr, HostAddr, PortRange, Protocol};

/// Protocol names as iptables-save writes them (from /etc/protocols) or numbers.
pub(crate) fn parse_protocol(s: &str) -> Option<Protocol> {
    Some(match s.to_ascii_lowercase().as_str() {
        "all" | "0" => Protocol::All,
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        "ipv6-icmp" | "icmpv6" | "icmp6" => Protocol::Icmpv6,
        "gre" => Protocol::Number(47),
        "esp" => Protocol::Number(50),
        "ah" => Protocol::Number(51),
        "sctp" => Protocol::Number(132),
        "udplite" => Protocol::Number(136),
        "dccp" => Protocol::Number(33),
        "igmp" => Protocol::Number(2),
        "ipip" | "ipencap" => Protocol::Number(4),
        "ospf" => Protocol::Number(89),
        "vrrp" => Protocol::Number(112),
        "l2tp" => Protocol::Number(115),
        n => Protocol::from_number(n.parse::<u8>().ok()?),
    })
}

/// `22`, `8000:8100`, `:1023`, `1024:` (iptables' port range forms).
pub(super) fn parse_port_range(at: &At, t: &Tok) -> Result<PortRange, RulesError> {
    let bad_port = || {
        bad(
            at,
            t,
            format!(
                "`{}` is not a port or port range (0-65535, or from:to)",
                t.text
            ),
        )
    };
    let port = |s: &str, default: u16| -> Result<u16, RulesError> {
        if s.is_empty() {
            return Ok(default);
        }
        s.parse::<u16>().map_err(|_| bad_port())
    };
    let r = match t.text.split_once(':') {
        Some((a, b)) => PortRange::new(port(a, 0)?, port(b, u16::MAX)?),
        None => {
            let p = port(&t.text, 0).and_then(|p| {
                if t.text.is_empty() {
                    Err(bad_port())
                } else {
                    Ok(p)
                }
            })?;
            PortRange::single(p)
        }
    };
    if r.to < r.from {
        return Err(bad(
            at,
            t,
            format!("port range `{}` runs backwards", t.text),
        ));
    }
    Ok(r)
}

/// An IP address (part `s` of token `t`), recording its family in `seen`.
pub(super) fn parse_ip(
    at: &At,
    t: &Tok,
    s: &str,
    seen: &mut Vec<Seen>,
) -> Result<IpAddr, RulesError> {
    let ip: IpAddr = s
        .parse()
        .map_err(|_| bad(at, t, format!("`{s}` is not an IP address")))?;
    seen.push(Seen {
        v6: ip.is_ipv6(),
        line: at.line,
        col: t.col,
        token: t.text.clone(),
    });
    Ok(ip)
}

/// `198.51.100.0/24`, `10.0.0.1`, `10.0.0.0/255.0.0.0`, comma lists.
pub(super) fn parse_addrs(
    at: &At,
    t: &Tok,
    seen: &mut Vec<Seen>,
) -> Result<Vec<HostAddr>, RulesError> {
    let mut out = Vec::new();
    for part in t.text.split(',') {
        let (addr, mask) = match part.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (part, None),
        };
        let ip = parse_ip(at, t, addr, seen)?;
        let max = if ip.is_ipv4() { 32u8 } else { 128 };
        let prefix = match mask {
            None => max,
            Some(m) => match m.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => match m.parse::<IpAddr>() {
                    Ok(IpAddr::V4(mask)) if ip.is_ipv4() => {
                        let bits = u32::from(mask);
                        if bits.leading_ones() + bits.trailing_zeros() != 32 {
                            return Err(bad(
                                at,
                                t,
                                format!(
                                    "`{part}` has a non-contiguous mask, which Vantage does not \
                                     evaluate"
                                ),
                            ));
                        }
                        bits.leading_ones() as u8
                    }
                    _ => {
                        return Err(bad(
                            at,
                            t,
                            format!("`{part}`: `/{m}` is not a prefix length (0-{max}) or mask"),
                        ))
                    }
                },
            },
        };
        out.push(HostAddr::Cidr {
            cidr: Cidr { addr: ip, prefix },
        });
    }
    Ok(out)
}
