//! A committed table into its [`RuleSet`]: every rule parsed, the family settled (and
//! checked against every address), each chain's rules followed by its policy.

use std::collections::{BTreeMap, BTreeSet};

use super::reader::TableDraft;
use super::rule::parse_rule;
use super::token::{bad, err, At, HINT};
use crate::rules::error::{RulesError, RulesErrorKind};
use crate::rules::model::{
    Action, Direction, HostAction, HostBackend, HostChain, HostFamily, HostHook, HostRule,
    HostTable, IptablesBackend, Rule, RuleSet, RuleSetKind,
};

/// An address family observed in a table, with where, for the consistency check.
pub(super) struct Seen {
    pub(super) v6: bool,
    pub(super) line: usize,
    pub(super) col: usize,
    pub(super) token: String,
}

/// The rule set of a committed table; `earlier` are the tables already read (two snapshots
/// of one table get distinct ids).
pub(super) fn finish_table(
    draft: TableDraft,
    origin: &str,
    earlier: &[RuleSet],
) -> Result<RuleSet, RulesError> {
    let ctx = format!("*{}", draft.name);
    let declared: BTreeSet<&str> = draft.chains.iter().map(|(c, _)| c.name.as_str()).collect();
    let mut parsed: Vec<(usize, String, HostRule, Option<String>)> = Vec::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut numbers: BTreeMap<String, usize> = Default::default();
    for (line, toks, text) in &draft.rules {
        let at = At {
            line: *line,
            context: &ctx,
        };
        let Some(chain_tok) = toks.first() else {
            return Err(err(
                &at,
                1,
                RulesErrorKind::Syntax,
                "`-A` needs a chain name",
            ));
        };
        if !declared.contains(chain_tok.text.as_str()) {
            return Err(bad(
                &at,
                chain_tok,
                format!(
                    "chain {} is not declared in table {} (a `:{} - [0:0]` line is missing)",
                    chain_tok.text, draft.name, chain_tok.text
                ),
            ));
        }
        let ctx_rule = format!("*{} -A {}", draft.name, chain_tok.text);
        let at = At {
            line: *line,
            context: &ctx_rule,
        };
        let (matches, action, comment) = parse_rule(&toks[1..], &at, &declared, &mut seen)?;
        let n = numbers.entry(chain_tok.text.clone()).or_default();
        *n += 1;
        parsed.push((
            *line,
            chain_tok.text.clone(),
            HostRule {
                chain: chain_tok.text.clone(),
                number: *n,
                matches,
                action,
                text: text.clone(),
            },
            comment,
        ));
    }
    let family = table_family(draft.family, &seen, ctx)?;
    let v6 = family == HostFamily::Ipv6;
    let backend = draft.tool.as_deref().and_then(backend_of);
    // A legacy table gets its own id: beside an nf_tables one it is another table, which
    // the kernel applies too (ids would otherwise collide across two loaded files).
    let tool_prefix = match (v6, backend) {
        (false, Some(IptablesBackend::Legacy)) => "iptables-legacy",
        (true, Some(IptablesBackend::Legacy)) => "ip6tables-legacy",
        (false, _) => "iptables",
        (true, _) => "ip6tables",
    };
    let mut id = format!("{tool_prefix}:{}", draft.name);
    // Two snapshots of one table (legacy and nf_tables backends both in use) stay apart.
    let mut n = 2;
    while earlier.iter().any(|s| s.id == id) {
        id = format!("{tool_prefix}:{}#{n}", draft.name);
        n += 1;
    }
    let name = match &draft.tool {
        Some(t) => format!("{} table {} ({t})", tool_prefix, draft.name),
        None => format!("{} table {}", tool_prefix, draft.name),
    };
    let mut set = RuleSet::new(RuleSetKind::HostFirewall, id, name, origin);
    let chains: Vec<HostChain> = draft.chains.iter().map(|(c, _)| c.clone()).collect();
    for (chain, decl_line) in &draft.chains {
        let direction = match chain.hook {
            Some(HostHook::Output | HostHook::Postrouting) => Direction::Outbound,
            _ => Direction::Inbound,
        };
        for (line, _, host, comment) in parsed.iter().filter(|p| p.1 == chain.name) {
            let label = format!("{} #{}", chain.name, host.number);
            let mut r = Rule::from_host(
                label,
                direction,
                host.clone(),
                false,
                format!("line {line}"),
            );
            r.description = comment.clone();
            set.rules.push(r);
        }
        if let Some(policy) = chain.policy {
            set.rules
                .push(policy_rule(chain, policy, direction, *decl_line));
        }
    }
    set.host = Some(HostTable {
        backend: HostBackend::Iptables,
        family,
        table: draft.name,
        chains,
        iptables_backend: backend,
    });
    Ok(set.finish())
}

/// The backend a `# Generated by` tool names: `iptables-save v1.8.9 (nf_tables)` or
/// `iptables-nft-save …` is nf_tables; `(legacy)`, `iptables-legacy-save`, or a v1.8+ tool
/// without `(nf_tables)` is legacy. Before v1.8 there was only one backend: `None`, as for
/// a tool that does not say.
pub(super) fn backend_of(tool: &str) -> Option<IptablesBackend> {
    if tool.contains("nf_tables") || tool.contains("-nft") {
        return Some(IptablesBackend::NfTables);
    }
    if tool.contains("legacy") {
        return Some(IptablesBackend::Legacy);
    }
    let version = tool.split_whitespace().find_map(|w| w.strip_prefix('v'))?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next()??, parts.next()??);
    ((major, minor) >= (1, 8)).then_some(IptablesBackend::Legacy)
}

/// The table's family: the header's, else the addresses', else IPv4; every address must
/// agree with it.
fn table_family(
    declared: Option<HostFamily>,
    seen: &[Seen],
    ctx: String,
) -> Result<HostFamily, RulesError> {
    let family = declared.unwrap_or(match seen.first() {
        Some(s) if s.v6 => HostFamily::Ipv6,
        _ => HostFamily::Ipv4,
    });
    let v6 = family == HostFamily::Ipv6;
    if let Some(s) = seen.iter().find(|s| s.v6 != v6) {
        let (want, tool) = if v6 {
            ("IPv6", "ip6tables-save")
        } else {
            ("IPv4", "iptables-save")
        };
        return Err(RulesError {
            kind: RulesErrorKind::InvalidField,
            path: ctx,
            line: Some(s.line),
            column: Some(s.col),
            message: format!(
                "`{}` does not belong in an {want} table (this part is {tool} output)",
                s.token
            ),
            hint: Some(HINT.to_owned()),
        });
    }
    Ok(family)
}

/// A built-in chain's policy as the chain's last rule; `decl_line` declares the chain.
fn policy_rule(chain: &HostChain, policy: Action, direction: Direction, decl_line: usize) -> Rule {
    let (action, word) = match policy {
        Action::Allow => (HostAction::Accept, "ACCEPT"),
        Action::Deny => (HostAction::Drop, "DROP"),
    };
    let host = HostRule {
        chain: chain.name.clone(),
        number: 0,
        matches: Vec::new(),
        action,
        text: format!("-P {} {word}", chain.name),
    };
    Rule::from_host(
        format!("{} policy", chain.name),
        direction,
        host,
        true,
        format!("line {decl_line}"),
    )
}
