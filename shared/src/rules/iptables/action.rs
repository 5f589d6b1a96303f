//! The action of a rule, which iptables calls its target: `-j NAME opts…` or `-g NAME`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::table::Seen;
use super::token::{bad, At, Tok};
use super::values::parse_ip;
use crate::rules::error::RulesError;
use crate::rules::model::HostAction;

/// The action of `-j NAME opts…` (or `-g NAME`).
pub(super) fn parse_action(
    at: &At,
    name: &Tok,
    goto: bool,
    opts: &[Tok],
    declared: &BTreeSet<&str>,
    seen: &mut Vec<Seen>,
) -> Result<HostAction, RulesError> {
    let n = name.text.as_str();
    if goto || declared.contains(n) {
        if !declared.contains(n) {
            return Err(bad(
                at,
                name,
                format!("`-g {n}`: chain {n} is not declared in this table"),
            ));
        }
        return Ok(if goto {
            HostAction::Goto {
                chain: n.to_owned(),
            }
        } else {
            HostAction::Jump {
                chain: n.to_owned(),
            }
        });
    }
    let opt = |key: &str| -> Option<&Tok> {
        opts.iter()
            .position(|t| t.text == key)
            .and_then(|p| opts.get(p + 1))
    };
    Ok(match n {
        "ACCEPT" => HostAction::Accept,
        "DROP" => HostAction::Drop,
        "RETURN" => HostAction::Return,
        "REJECT" => HostAction::Reject {
            with: opt("--reject-with").map(|t| t.text.clone()),
        },
        "DNAT" => {
            let Some(to) = opt("--to-destination").or_else(|| opt("--to")) else {
                return Ok(HostAction::Dnat {
                    addr: None,
                    port: None,
                });
            };
            let (addr, port) = parse_nat_to(at, to, seen)?;
            HostAction::Dnat { addr, port }
        }
        "REDIRECT" => HostAction::Redirect {
            port: opt("--to-ports").and_then(|t| t.text.split(['-', ':']).next()?.parse().ok()),
        },
        "SNAT" | "MASQUERADE" => HostAction::Snat { what: n.to_owned() },
        "LOG" | "NFLOG" | "ULOG" | "MARK" | "CONNMARK" | "TRACE" | "AUDIT" | "CLASSIFY"
        | "DSCP" | "TOS" | "TTL" | "HL" | "TCPMSS" | "SECMARK" | "CONNSECMARK" | "CHECKSUM"
        | "IDLETIMER" | "LED" | "SET" | "TEE" | "RATEEST" => HostAction::Continue {
            what: Some(n.to_owned()),
        },
        _ => HostAction::Other { name: n.to_owned() },
    })
}

/// `172.17.0.2:80`, `172.17.0.2`, `[2001:db8::2]:80`, `10.0.0.1-10.0.0.5:80-90` (a range
/// is kept only by its first address and port).
fn parse_nat_to(
    at: &At,
    t: &Tok,
    seen: &mut Vec<Seen>,
) -> Result<(Option<IpAddr>, Option<u16>), RulesError> {
    let s = t.text.as_str();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => (rest, None),
        }
    } else if s.matches(':').count() == 1 {
        let (h, p) = s.split_once(':').unwrap_or((s, ""));
        (h, Some(p))
    } else {
        (s, None)
    };
    let first = host.split('-').next().unwrap_or(host);
    let addr = if first.is_empty() {
        None
    } else {
        Some(parse_ip(at, t, first, seen)?)
    };
    let port = match port {
        Some(p) => Some(
            p.split(['-', ':'])
                .next()
                .and_then(|x| x.parse::<u16>().ok())
                .ok_or_else(|| bad(at, t, format!("`{s}`: `{p}` is not a port")))?,
        ),
        None => None,
    };
    Ok((addr, port))
}
