//! One rule after `-A CHAIN`: the top-level options (`-p`, `-s`, `-m`, `-j`, …).

use std::collections::BTreeSet;

use super::action::parse_action;
use super::matches::module_option;
use super::table::Seen;
use super::token::{bad, At, Tok};
use super::values::{parse_addrs, parse_protocol};
use crate::rules::error::RulesError;
use crate::rules::model::{HostAction, HostMatch, Protocol};

/// Options that start a new top-level part of a rule (they end a match's options).
pub(super) fn top_level(t: &str) -> bool {
    matches!(
        t,
        "-p" | "--protocol"
            | "-s"
            | "--source"
            | "--src"
            | "-d"
            | "--destination"
            | "--dst"
            | "-i"
            | "--in-interface"
            | "-o"
            | "--out-interface"
            | "-f"
            | "--fragment"
            | "-m"
            | "--match"
            | "-j"
            | "--jump"
            | "-g"
            | "--goto"
    )
}

/// The matches iptables knows how to evaluate; any other `-m` is kept as unsupported.
const KNOWN_MODULES: [&str; 11] = [
    "tcp",
    "udp",
    "multiport",
    "conntrack",
    "state",
    "comment",
    "icmp",
    "icmp6",
    "icmpv6",
    "addrtype",
    "iprange",
];

/// Parses the part of a rule after `-A CHAIN`.
///
/// One match over the top-level option names, in the order iptables-save writes them; it
/// stays whole because each arm moves the token index its own way (a value, a match's
/// options, a target's options to the end).
pub(super) fn parse_rule(
    toks: &[Tok],
    at: &At,
    declared: &BTreeSet<&str>,
    seen: &mut Vec<Seen>,
) -> Result<(Vec<HostMatch>, HostAction, Option<String>), RulesError> {
    let mut matches: Vec<HostMatch> = Vec::new();
    let mut action: Option<HostAction> = None;
    let mut comment: Option<String> = None;
    let mut module: Option<String> = None;
    let mut protocol: Option<Protocol> = None;
    let mut negated = false;
    let mut neg_tok: Option<&Tok> = None;
    let mut i = 0;
    let value = |i: usize, opt: &Tok| -> Result<&Tok, RulesError> {
        toks.get(i + 1)
            .filter(|t| !top_level(&t.text))
            .ok_or_else(|| bad(at, opt, format!("`{}` needs a value", opt.text)))
    };
    while i < toks.len() {
        let tok = &toks[i];
        let t = tok.text.as_str();
        if t == "!" {
            if negated {
                return Err(bad(at, tok, "`!` twice in a row"));
            }
            negated = true;
            neg_tok = Some(tok);
            i += 1;
            continue;
        }
        let neg = std::mem::take(&mut negated);
        match t {
            "-p" | "--protocol" => {
                let v = value(i, tok)?;
                let p = parse_protocol(&v.text).ok_or_else(|| {
                    bad(
                        at,
                        v,
                        format!(
                            "unknown protocol `{}` (expected a name such as tcp, udp, icmp, \
                             ipv6-icmp, or a number 0-255)",
                            v.text
                        ),
                    )
                })?;
                if p == Protocol::Icmpv6 {
                    seen.push(Seen {
                        v6: true,
                        line: at.line,
                        col: v.col,
                        token: v.text.clone(),
                    });
                }
                if !neg {
                    protocol = Some(p);
                }
                // `-p all` matches everything; `! -p all` nothing.
                if p != Protocol::All || neg {
                    matches.push(HostMatch::Protocol {
                        protocols: vec![p],
                        negated: neg,
                    });
                }
                i += 2;
            }
            "-s" | "--source" | "--src" | "-d" | "--destination" | "--dst" => {
                let v = value(i, tok)?;
                let addrs = parse_addrs(at, v, seen)?;
                matches.push(if matches!(t, "-s" | "--source" | "--src") {
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
                i += 2;
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                let v = value(i, tok)?;
                let name = v.text.clone();
                matches.push(if matches!(t, "-i" | "--in-interface") {
                    HostMatch::InInterface { name, negated: neg }
                } else {
                    HostMatch::OutInterface { name, negated: neg }
                });
                i += 2;
            }
            "-f" | "--fragment" => {
                matches.push(HostMatch::Fragment { negated: neg });
                i += 1;
            }
            "-m" | "--match" => {
                if neg {
                    return Err(bad(at, tok, "`!` cannot negate `-m`"));
                }
                let v = value(i, tok)?;
                let name = v.text.clone();
                let ext_header = matches!(name.as_str(), "rt" | "frag" | "hbh" | "dst");
                if ext_header || !KNOWN_MODULES.contains(&name.as_str()) {
                    matches.push(if ext_header {
                        HostMatch::ExtensionHeader {
                            header: name.clone(),
                        }
                    } else {
                        HostMatch::Unsupported {
                            what: format!("iptables match `-m {name}`"),
                        }
                    });
                    // Its options run to the next top-level option.
                    i += 2;
                    while i < toks.len() {
                        let here = toks[i].text.as_str();
                        let next_top =
                            here == "!" && toks.get(i + 1).is_some_and(|n| top_level(&n.text));
                        if top_level(here) || next_top {
                            break;
                        }
                        i += 1;
                    }
                    module = None;
                    continue;
                }
                module = Some(name);
                i += 2;
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                if neg {
                    return Err(bad(at, tok, "`!` cannot negate a target"));
                }
                if action.is_some() {
                    return Err(bad(at, tok, "a rule has one target; this is a second"));
                }
                let v = value(i, tok)?;
                let goto = matches!(t, "-g" | "--goto");
                // Target options run to the end (iptables-save writes the target last).
                let mut j = i + 2;
                while j < toks.len() && !top_level(&toks[j].text) {
                    j += 1;
                }
                let opts = &toks[i + 2..j];
                action = Some(parse_action(at, v, goto, opts, declared, seen)?);
                i = j;
            }
            opt if opt.starts_with("--") => {
                let m = module
                    .clone()
                    .or_else(|| implicit_module(protocol))
                    .ok_or_else(|| {
                        bad(
                            at,
                            tok,
                            format!("option `{opt}` belongs to no match (a `-m` is missing?)"),
                        )
                    })?;
                i = module_option(&m, toks, i, neg, at, &mut matches, &mut comment, seen)?;
            }
            _ => {
                return Err(bad(
                    at,
                    tok,
                    format!("unexpected `{t}`: not an iptables option (`-p`, `-s`, `-m`, `-j`, …)"),
                ))
            }
        }
    }
    if negated {
        if let Some(t) = neg_tok {
            return Err(bad(at, t, "`!` at the end of the rule negates nothing"));
        }
    }
    Ok((
        matches,
        action.unwrap_or(HostAction::Continue { what: None }),
        comment,
    ))
}

/// `--dport` right after `-p tcp` works without `-m tcp` when typed by hand.
fn implicit_module(p: Option<Protocol>) -> Option<String> {
    match p? {
        Protocol::Tcp => Some("tcp".to_owned()),
        Protocol::Udp => Some("udp".to_owned()),
        Protocol::Icmp => Some("icmp".to_owned()),
        Protocol::Icmpv6 => Some("icmp6".to_owned()),
        _ => None,
    }
}
