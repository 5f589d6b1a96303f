//! Walks the document: tables, chains and named sets first, then each rule into its
//! chain, then one [`RuleSet`] per table with the chains' policies as final rules.

use std::collections::BTreeMap;

use serde_json::Value;

use super::json::{child, seg, ChainObj, Doc, Entry};
use super::statement::parse_rule;
use super::COMMAND;
use crate::rules::error::RulesError;
use crate::rules::locate::{path_string, Seg};
use crate::rules::model::{
    Action, Direction, HostAction, HostBackend, HostChain, HostChainType, HostFamily, HostHook,
    HostRule, HostTable, Rule, RuleSet, RuleSetKind,
};

/// A table being built: its set, and its chains' rules in order.
pub(super) struct Draft {
    /// As nft spells it (`ip`, `ip6`, `inet`, `netdev`).
    pub(super) family_name: String,
    pub(super) name: String,
    family: HostFamily,
    path: Vec<Seg>,
    pub(super) chains: Vec<HostChain>,
    /// Per chain: its rules in order.
    rules: BTreeMap<String, Vec<Rule>>,
    /// Named sets and maps: name → elements.
    pub(super) sets: BTreeMap<String, Value>,
}

/// Parses `nft -j list ruleset` output (already known to be that format) into one rule set
/// per table; `origin` names where the text came from.
pub(crate) fn ruleset(text: &str, origin: &str) -> Result<Vec<RuleSet>, RulesError> {
    let doc: Doc =
        serde_json::from_str(text).map_err(|e| RulesError::from_serde(text, &e, COMMAND))?;
    let mut drafts: Vec<Draft> = Vec::new();
    // Tables, chains and sets first: rules may refer to any of them.
    declare(text, &doc, &mut drafts)?;
    add_rules(text, &doc, &mut drafts)?;
    let mut sets: Vec<RuleSet> = drafts.into_iter().map(|d| finish(d, origin)).collect();
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
            iptables_backend: None,
        });
        sets.push(set);
    }
    Ok(sets)
}

/// The draft of table `family` `table`, if it is listed.
fn find(drafts: &[Draft], family: &str, table: &str) -> Option<usize> {
    drafts
        .iter()
        .position(|d| d.family_name == family && d.name == table)
}

/// The tables, their chains and their named sets, in document order.
fn declare(text: &str, doc: &Doc, drafts: &mut Vec<Draft>) -> Result<(), RulesError> {
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
                if find(drafts, &t.family, &t.name).is_none() {
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
                let Some(d) = find(drafts, &c.family, &c.table) else {
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
                if let Some(d) = find(drafts, &s.family, &s.table) {
                    drafts[d]
                        .sets
                        .insert(s.name.clone(), s.elem.clone().unwrap_or(Value::Null));
                }
            }
            Entry::Rule(_) | Entry::Other => {}
        }
    }
    Ok(())
}

/// Each rule into its chain's list, numbered within the chain (a verdict map gives several
/// rules with one number).
fn add_rules(text: &str, doc: &Doc, drafts: &mut [Draft]) -> Result<(), RulesError> {
    for (i, e) in doc.nftables.iter().enumerate() {
        let Entry::Rule(r) = e else { continue };
        if matches!(r.family.as_str(), "bridge" | "arp") {
            continue;
        }
        let path = vec![seg("nftables"), Seg::Idx(i), seg("rule")];
        let Some(d) = find(drafts, &r.family, &r.table) else {
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
    Ok(())
}

/// One table's rule set: each chain's rules in order, then its policy as a final rule.
fn finish(mut d: Draft, origin: &str) -> RuleSet {
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
            let (action, word) = match policy {
                Action::Allow => (HostAction::Accept, "accept"),
                Action::Deny => (HostAction::Drop, "drop"),
            };
            let host = HostRule {
                chain: c.name.clone(),
                number: 0,
                matches: Vec::new(),
                action,
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
        iptables_backend: None,
    });
    set.finish()
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
