//! The options of the match modules iptables knows how to evaluate (`-m tcp --dport`,
//! `-m conntrack --ctstate`, …) and their values (states, TCP flags, ICMP types).

use super::rule::top_level;
use super::table::Seen;
use super::token::{bad, At, Tok};
use super::values::{parse_addrs, parse_ip, parse_port_range};
use crate::rules::error::RulesError;
use crate::rules::model::{CtState, HostAddr, HostMatch, IcmpTypeCode};

/// One `--option [value…]` of match `m` at `toks[i]`; returns the index after it.
///
/// One match over (module, option) pairs, the documented subset the module header lists;
/// any other pair is an error, since it means the text is not iptables-save output.
#[allow(clippy::too_many_arguments)]
pub(super) fn module_option(
    m: &str,
    toks: &[Tok],
    i: usize,
    neg: bool,
    at: &At,
    matches: &mut Vec<HostMatch>,
    comment: &mut Option<String>,
    seen: &mut Vec<Seen>,
) -> Result<usize, RulesError> {
    let tok = &toks[i];
    let opt = tok.text.as_str();
    let value = |n: usize| -> Result<&Tok, RulesError> {
        toks.get(i + n)
            .filter(|t| !top_level(&t.text))
            .ok_or_else(|| bad(at, tok, format!("`{opt}` needs a value")))
    };
    let unknown = || {
        bad(
            at,
            tok,
            format!("unknown option `{opt}` for match `{m}` (this is not iptables-save output?)"),
        )
    };
    match (m, opt) {
        ("tcp" | "udp", "--dport" | "--destination-port") => {
            let v = value(1)?;
            matches.push(HostMatch::DestPort {
                ranges: vec![parse_port_range(at, v)?],
                negated: neg,
            });
            Ok(i + 2)
        }
        ("tcp" | "udp", "--sport" | "--source-port") => {
            let v = value(1)?;
            matches.push(HostMatch::SourcePort {
                ranges: vec![parse_port_range(at, v)?],
                negated: neg,
            });
            Ok(i + 2)
        }
        ("tcp", "--syn") => {
            // SYN set, ACK/RST/FIN clear.
            matches.push(HostMatch::TcpFlags {
                mask: 0x17,
                comp: 0x02,
                any: false,
                negated: neg,
            });
            Ok(i + 1)
        }
        ("tcp", "--tcp-flags") => {
            let mask = value(1)?;
            let comp = value(2)?;
            matches.push(HostMatch::TcpFlags {
                mask: parse_flags(at, mask)?,
                comp: parse_flags(at, comp)?,
                any: false,
                negated: neg,
            });
            Ok(i + 3)
        }
        ("tcp", "--tcp-option") => {
            value(1)?;
            matches.push(HostMatch::Unsupported {
                what: "iptables match `--tcp-option`".to_owned(),
            });
            Ok(i + 2)
        }
        (
            "multiport",
            "--dports" | "--destination-ports" | "--sports" | "--source-ports" | "--ports",
        ) => {
            let v = value(1)?;
            let ranges = v
                .text
                .split(',')
                .map(|p| {
                    parse_port_range(
                        at,
                        &Tok {
                            text: p.to_owned(),
                            col: v.col,
                        },
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            matches.push(match opt {
                "--dports" | "--destination-ports" => HostMatch::DestPort {
                    ranges,
                    negated: neg,
                },
                "--sports" | "--source-ports" => HostMatch::SourcePort {
                    ranges,
                    negated: neg,
                },
                _ => HostMatch::EitherPort {
                    ranges,
                    negated: neg,
                },
            });
            Ok(i + 2)
        }
        ("conntrack", "--ctstate") | ("state", "--state") => {
            let v = value(1)?;
            let states = v
                .text
                .split(',')
                .map(|s| {
                    parse_ct_state(s).ok_or_else(|| {
                        bad(
                            at,
                            v,
                            format!(
                                "unknown connection state `{s}` (NEW, ESTABLISHED, RELATED, \
                                 INVALID, UNTRACKED, SNAT, DNAT)"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            matches.push(HostMatch::CtState {
                states,
                negated: neg,
            });
            Ok(i + 2)
        }
        ("conntrack", "--ctorigdstport") => {
            let v = value(1)?;
            matches.push(HostMatch::OrigDestPort {
                ranges: vec![parse_port_range(at, v)?],
                negated: neg,
            });
            Ok(i + 2)
        }
        ("conntrack", "--ctorigdst" | "--ctorigsrc") => {
            let v = value(1)?;
            let addrs = parse_addrs(at, v, seen)?;
            matches.push(if opt == "--ctorigsrc" {
                HostMatch::Source {
                    addrs,
                    negated: neg,
                }
            } else {
                HostMatch::OrigDestination {
                    addrs,
                    negated: neg,
                }
            });
            Ok(i + 2)
        }
        ("conntrack", o) if o.starts_with("--ct") => {
            // --ctproto, --ctstatus, --ctexpire, --ctdir, --ctrepl…: kept, not evaluated.
            let mut j = i + 1;
            while j < toks.len() && !toks[j].text.starts_with('-') && toks[j].text != "!" {
                j += 1;
            }
            matches.push(HostMatch::Unsupported {
                what: format!("iptables match `-m conntrack {o}`"),
            });
            Ok(j)
        }
        ("comment", "--comment") => {
            let v = value(1)?;
            *comment = Some(v.text.clone());
            Ok(i + 2)
        }
        ("icmp", "--icmp-type") | ("icmp6" | "icmpv6", "--icmpv6-type") => {
            let v = value(1)?;
            let v6 = m != "icmp";
            let tc = parse_icmp_type(&v.text, v6)
                .ok_or_else(|| bad(at, v, format!("unknown ICMP type `{}`", v.text)))?;
            if v6 {
                seen.push(Seen {
                    v6: true,
                    line: at.line,
                    col: v.col,
                    token: v.text.clone(),
                });
            }
            // `any` matches every type.
            if tc.is_some() || neg {
                matches.push(HostMatch::IcmpType {
                    types: tc.into_iter().collect(),
                    negated: neg,
                });
            }
            Ok(i + 2)
        }
        ("addrtype", "--dst-type" | "--src-type") => {
            let v = value(1)?;
            matches.push(HostMatch::AddrType {
                source: opt == "--src-type",
                types: v.text.split(',').map(str::to_ascii_uppercase).collect(),
                negated: neg,
            });
            Ok(i + 2)
        }
        ("addrtype", "--limit-iface-in" | "--limit-iface-out") => {
            matches.push(HostMatch::Unsupported {
                what: format!("iptables match `-m addrtype {opt}`"),
            });
            Ok(i + 1)
        }
        ("iprange", "--src-range" | "--dst-range") => {
            let v = value(1)?;
            let Some((a, b)) = v.text.split_once('-') else {
                return Err(bad(
                    at,
                    v,
                    format!("`{}` is not an address range (a-b)", v.text),
                ));
            };
            let from = parse_ip(at, v, a, seen)?;
            let to = parse_ip(at, v, b, seen)?;
            if from.is_ipv4() != to.is_ipv4() || to < from {
                return Err(bad(
                    at,
                    v,
                    format!("`{}` is not an address range (a-b)", v.text),
                ));
            }
            let addrs = vec![HostAddr::Range { from, to }];
            matches.push(if opt == "--src-range" {
                HostMatch::Source {
                    addrs,
                    negated: neg,
                }
            } else {
                HostMatch::Destination {
                    addrs,
                    negated: neg,
                }
            });
            Ok(i + 2)
        }
        _ => Err(unknown()),
    }
}

fn parse_ct_state(s: &str) -> Option<CtState> {
    Some(match s.to_ascii_uppercase().as_str() {
        "NEW" => CtState::New,
        "ESTABLISHED" => CtState::Established,
        "RELATED" => CtState::Related,
        "INVALID" => CtState::Invalid,
        "UNTRACKED" => CtState::Untracked,
        "SNAT" => CtState::Snat,
        "DNAT" => CtState::Dnat,
        _ => return None,
    })
}

fn parse_flags(at: &At, t: &Tok) -> Result<u8, RulesError> {
    let mut bits = 0u8;
    for f in t.text.split(',') {
        bits |= match f.to_ascii_uppercase().as_str() {
            "FIN" => 0x01,
            "SYN" => 0x02,
            "RST" => 0x04,
            "PSH" => 0x08,
            "ACK" => 0x10,
            "URG" => 0x20,
            "ECE" => 0x40,
            "CWR" => 0x80,
            "ALL" => 0xff,
            "NONE" => 0,
            _ => {
                return Err(bad(
                    at,
                    t,
                    format!("unknown TCP flag `{f}` in `{}`", t.text),
                ))
            }
        };
    }
    Ok(bits)
}

/// ICMP type names iptables accepts (`iptables -p icmp -h`), or `type[/code]` numbers;
/// `Ok(None)` for `any`.
fn parse_icmp_type(s: &str, v6: bool) -> Option<Option<IcmpTypeCode>> {
    let tc = |t: u8, c: Option<u8>| {
        Some(Some(IcmpTypeCode {
            icmp_type: t,
            code: c,
        }))
    };
    let lower = s.to_ascii_lowercase();
    if lower == "any" {
        return Some(None);
    }
    if let Some((t, c)) = lower.split_once('/') {
        return tc(t.parse().ok()?, Some(c.parse().ok()?));
    }
    if let Ok(t) = lower.parse::<u8>() {
        return tc(t, None);
    }
    let v4 = |name: &str| -> Option<(u8, Option<u8>)> {
        Some(match name {
            "echo-reply" | "pong" => (0, None),
            "destination-unreachable" => (3, None),
            "network-unreachable" => (3, Some(0)),
            "host-unreachable" => (3, Some(1)),
            "protocol-unreachable" => (3, Some(2)),
            "port-unreachable" => (3, Some(3)),
            "fragmentation-needed" => (3, Some(4)),
            "source-quench" => (4, None),
            "redirect" => (5, None),
            "echo-request" | "ping" => (8, None),
            "router-advertisement" => (9, None),
            "router-solicitation" => (10, None),
            "time-exceeded" | "ttl-exceeded" => (11, None),
            "parameter-problem" => (12, None),
            "timestamp-request" => (13, None),
            "timestamp-reply" => (14, None),
            _ => return None,
        })
    };
    let v6n = |name: &str| -> Option<(u8, Option<u8>)> {
        Some(match name {
            "destination-unreachable" => (1, None),
            "no-route" => (1, Some(0)),
            "communication-prohibited" => (1, Some(1)),
            "address-unreachable" => (1, Some(3)),
            "port-unreachable" => (1, Some(4)),
            "packet-too-big" => (2, None),
            "time-exceeded" | "ttl-exceeded" => (3, None),
            "parameter-problem" => (4, None),
            "echo-request" | "ping" => (128, None),
            "echo-reply" | "pong" => (129, None),
            "router-solicitation" => (133, None),
            "router-advertisement" => (134, None),
            "neighbour-solicitation" | "neighbor-solicitation" => (135, None),
            "neighbour-advertisement" | "neighbor-advertisement" => (136, None),
            "redirect" => (137, None),
            _ => return None,
        })
    };
    let (t, c) = if v6 { v6n(&lower)? } else { v4(&lower)? };
    tc(t, c)
}
