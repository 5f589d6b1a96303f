//! A rule's statements: matches, verdicts (`accept`, `jump`, …), NAT and other
//! terminating statements, and verdict maps (one host rule per entry).

use std::net::IpAddr;

use serde_json::{json, Value};

use super::json::{child, seg, RuleObj};
use super::matches::parse_match;
use super::render::{render_rule, render_value};
use super::table::Draft;
use super::values::ValErr;
use crate::rules::error::RulesError;
use crate::rules::locate::Seg;
use crate::rules::model::{HostAction, HostMatch, HostRule};

/// A verdict object (`{"accept": null}`, `{"jump": {"target": "x"}}`), if it is one.
fn verdict_of(
    text: &str,
    v: &Value,
    draft: &Draft,
    path: &[Seg],
) -> Result<Option<HostAction>, RulesError> {
    let Some((k, body)) = v.as_object().and_then(|o| o.iter().next()) else {
        return Ok(None);
    };
    Ok(Some(match k.as_str() {
        "accept" => HostAction::Accept,
        "drop" => HostAction::Drop,
        "return" => HostAction::Return,
        "continue" => HostAction::Continue { what: None },
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
                HostAction::Jump {
                    chain: chain.to_owned(),
                }
            } else {
                HostAction::Goto {
                    chain: chain.to_owned(),
                }
            }
        }
        _ => return Ok(None),
    }))
}

/// A host rule and, for a verdict map's entry, which entry (`entry established`).
type Built = (HostRule, Option<String>);

/// The rule's host rules: one, or one per entry of a verdict map.
///
/// A match over statement names, as libnftables-json(5) lists them; each arm is short or
/// calls a helper.
pub(super) fn parse_rule(
    text: &str,
    draft: &Draft,
    r: &RuleObj,
    path: &[Seg],
    number: usize,
) -> Result<Vec<Built>, RulesError> {
    let mut matches: Vec<HostMatch> = Vec::new();
    let mut action: Option<HostAction> = None;
    let rendered = render_rule(&r.expr, r.comment.as_deref());
    let host = |matches: Vec<HostMatch>, action: HostAction, text: String| HostRule {
        chain: r.chain.clone(),
        number,
        matches,
        action,
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
        if action.is_some() {
            // Statements after a verdict never run.
            break;
        }
        if let Some(t) = verdict_of(text, e, draft, &epath)? {
            action = Some(t);
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
                if let Some(t) = xt_statement(body, &mut matches) {
                    action = Some(t);
                }
            }
            "limit" | "quota" | "ct count" | "synproxy" => matches.push(HostMatch::Unsupported {
                what: format!("nft `{k}` (it passes only some packets)"),
            }),
            "reject" => {
                // `reject with icmp …` implies `meta nfproto ipv4` (and `icmpv6 …` ipv6):
                // in an `inet` table the rule does not match the other family at all, and
                // `nft -j` does not show that dependency.
                match body.get("type").and_then(Value::as_str) {
                    Some("icmp") => matches.push(HostMatch::Family { ipv6: false }),
                    Some("icmpv6") => matches.push(HostMatch::Family { ipv6: true }),
                    _ => {}
                }
                action = Some(HostAction::Reject {
                    with: reject_with(body),
                });
            }
            "dnat" => action = Some(dnat_action(text, body, &epath)?),
            "redirect" => {
                action = Some(HostAction::Redirect {
                    port: body
                        .get("port")
                        .and_then(Value::as_u64)
                        .and_then(|p| u16::try_from(p).ok()),
                })
            }
            "snat" | "masquerade" => {
                action = Some(HostAction::Snat {
                    what: k.to_uppercase(),
                })
            }
            "vmap" => match verdict_map(text, draft, body, &epath, &matches)? {
                VerdictMap::Entries(entries) => {
                    // No entry matched: the rule falls through.
                    return Ok(entries
                        .into_iter()
                        .map(|(m, t, entry)| {
                            (
                                host(m, t, format!("{rendered} [entry {entry}]")),
                                Some(format!("entry {entry}")),
                            )
                        })
                        .collect());
                }
                VerdictMap::Unlisted(name) => {
                    matches.push(HostMatch::Unsupported {
                        what: format!("nft verdict map {name} (its elements are not listed)"),
                    });
                    action = Some(HostAction::Other {
                        name: format!("verdict map {name}"),
                    });
                }
            },
            "queue" | "tproxy" | "fwd" | "notrack" => {
                action = Some(HostAction::Other {
                    name: format!("nft {k}"),
                })
            }
            other => matches.push(HostMatch::Unsupported {
                what: format!("nft statement `{other}`"),
            }),
        }
    }
    let action = action.unwrap_or(HostAction::Continue { what: None });
    Ok(vec![(host(matches, action, rendered), None)])
}

/// An iptables-nft `xt` statement: an untranslated match is kept as unsupported; a target
/// is returned unless it is one of the non-terminating ones (then the rest of the rule
/// decides).
fn xt_statement(body: &Value, matches: &mut Vec<HostMatch>) -> Option<HostAction> {
    let name = body.get("name").and_then(Value::as_str).unwrap_or("?");
    match body.get("type").and_then(Value::as_str) {
        Some("watcher") => None,
        Some("match") => {
            matches.push(HostMatch::Unsupported {
                what: format!(
                    "iptables match `-m {name}` (nft shows iptables-nft's match as `xt` \
                     without its options; `iptables-save` has them)"
                ),
            });
            None
        }
        _ => Some(match name {
            "REJECT" => HostAction::Reject {
                with: Some("not shown by nft (iptables-nft `xt` action)".to_owned()),
            },
            "DNAT" => HostAction::Dnat {
                addr: None,
                port: None,
            },
            "SNAT" | "MASQUERADE" => HostAction::Snat {
                what: name.to_owned(),
            },
            "LOG" | "NFLOG" | "MARK" | "CONNMARK" | "TCPMSS" | "CHECKSUM" | "CLASSIFY" | "DSCP"
            | "TOS" | "TTL" | "HL" | "TRACE" | "AUDIT" => {
                // Non-terminating: the rest of the rule decides.
                return None;
            }
            other => HostAction::Other {
                name: format!("iptables target {other}"),
            },
        }),
    }
}

/// A `reject` statement's `with` text (`icmpx admin-prohibited`, `tcp reset`), if any.
fn reject_with(body: &Value) -> Option<String> {
    match body {
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
    }
}

/// A `dnat` statement: the new address (when a literal) and port.
fn dnat_action(text: &str, body: &Value, epath: &[Seg]) -> Result<HostAction, RulesError> {
    let addr = match body.get("addr") {
        Some(Value::String(s)) => Some(s.parse::<IpAddr>().map_err(|_| {
            RulesError::at(
                text,
                &child(epath, &[seg("dnat"), seg("addr")]),
                format!("\"{s}\" is not an IP address"),
            )
        })?),
        _ => None,
    };
    let port = body
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok());
    Ok(HostAction::Dnat { addr, port })
}

/// What a `vmap` statement becomes.
enum VerdictMap {
    /// Per entry: the rule's matches plus the entry's key, its verdict, and the key as text.
    Entries(Vec<(Vec<HostMatch>, HostAction, String)>),
    /// A named map whose elements are not listed (`@name`): the rule cannot be evaluated.
    Unlisted(String),
}

/// `ct state vmap { established : accept, … }`: one rule per entry, each with the
/// statements' matches so far and the key as one more match.
fn verdict_map(
    text: &str,
    draft: &Draft,
    body: &Value,
    epath: &[Seg],
    matches: &[HostMatch],
) -> Result<VerdictMap, RulesError> {
    let key = body.get("key").cloned().unwrap_or(Value::Null);
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    let pairs: Vec<Value> = match &data {
        Value::String(s) if s.starts_with('@') => match draft.sets.get(&s[1..]) {
            Some(Value::Array(a)) => a.clone(),
            _ => return Ok(VerdictMap::Unlisted(s.clone())),
        },
        other => match other.get("set") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        },
    };
    let mut entries = Vec::new();
    for (n, pair) in pairs.iter().enumerate() {
        let Some([k_val, verdict]) = pair
            .as_array()
            .map(Vec::as_slice)
            .and_then(|s| <&[Value; 2]>::try_from(s).ok())
        else {
            return Err(RulesError::at(
                text,
                &child(epath, &[seg("vmap"), seg("data")]),
                "a verdict map entry must be [key, verdict]",
            ));
        };
        let entry_path = |i: usize| {
            child(
                epath,
                &[
                    seg("vmap"),
                    seg("data"),
                    seg("set"),
                    Seg::Idx(n),
                    Seg::Idx(i),
                ],
            )
        };
        let vpath = entry_path(1);
        let Some(t) = verdict_of(text, verdict, draft, &vpath)? else {
            return Err(RulesError::at(
                text,
                &vpath,
                format!("expected a verdict, got {verdict}"),
            ));
        };
        let mut m = matches.to_vec();
        let synthetic = json!({"op": "==", "left": key, "right": k_val});
        if let Err(ve) = parse_match(&synthetic, draft, &mut m) {
            match ve {
                ValErr::Invalid(msg, _) => {
                    return Err(RulesError::at(text, &entry_path(0), msg));
                }
                ValErr::Unsupported(what) => m.push(HostMatch::Unsupported {
                    what: format!("nft {what}"),
                }),
            }
        }
        entries.push((m, t, render_value(k_val)));
    }
    Ok(VerdictMap::Entries(entries))
}
