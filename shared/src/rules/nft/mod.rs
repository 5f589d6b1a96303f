//! The host's own firewall from `nft -j list ruleset` (libnftables JSON, see
//! `libnftables-json(5)`), parsed into one [`RuleSet`] per `ip`, `ip6` or `inet` table.
//!
//! Objects read: `table`, `chain` (type, hook, prio, policy), `rule` (its `expr`
//! statements), and named `set`/`map` elements for `@name` references. Statements
//! evaluated: `match` on `ip`/`ip6 saddr`/`daddr`, `ip protocol`, `ip6 nexthdr`,
//! `tcp`/`udp`/`th dport`/`sport`, `tcp flags`, `icmp`/`icmpv6 type`, `meta l4proto`,
//! `meta nfproto`, `meta iifname`/`oifname`/`iif`/`oif`, `meta pkttype`, `ct state`,
//! `ct status dnat`, `fib daddr type`, with prefixes, ranges and (named) sets; verdicts
//! `accept`, `drop`, `reject`, `jump`, `goto`, `return`, `continue`; `vmap` (one rule per
//! entry); `dnat`, `redirect`, `snat`, `masquerade`; `counter`, `log` and other
//! non-terminating statements.
//!
//! Anything else (a `limit`, `meta mark`, an iptables-nft `xt` match that nft cannot
//! translate, `queue`…) is kept as [`HostMatch::Unsupported`] or [`HostAction::Other`]:
//! a verdict that depends on it is `Unknown`. Tables of the `arp` and `bridge` families do
//! not filter IP traffic to this host and are left out; `netdev` ingress chains are kept
//! (and named as not evaluated). Errors carry the JSON path and line/column.
//!
//! Layout: `json` is the document's shape, `table` walks it into rule sets, `statement`
//! reads a rule's statements and verdicts, `matches` one `match` (its left side from `field`,
//! its right side from `values`), `render` the rule's text, `fix` the rule that admits a
//! question's traffic.

mod field;
mod fix;
mod json;
mod matches;
mod render;
mod statement;
mod table;
mod values;

pub(crate) use fix::accept_fix;
pub(crate) use table::ruleset;

use super::error::{RulesError, RulesErrorKind};
use super::model::RuleSet;
#[cfg(doc)]
use super::model::{HostAction, HostMatch};
use super::{parse_expecting, Format};

const COMMAND: &str = "nft -j list ruleset";

/// Parses `nft -j list ruleset` output: one [`RuleSet`] per `ip`/`ip6`/`inet`/`netdev`
/// table (`nft:inet filter`, `nft:ip nat`, …).
pub fn parse_nft_ruleset(text: &str, name_hint: &str) -> Result<Vec<RuleSet>, RulesError> {
    parse_expecting(text, Format::NftRuleset, name_hint)
}

/// The error for `nft list ruleset` without `-j`.
pub(crate) fn near_miss(text: &str) -> Option<RulesError> {
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    let l = line.trim();
    if l.starts_with("table ") && l.ends_with('{') {
        return Some(RulesError {
            kind: RulesErrorKind::NotJson,
            path: String::new(),
            line: Some(i + 1),
            column: Some(1),
            message: "this is `nft list ruleset` text; Vantage reads its JSON form".to_owned(),
            hint: Some("run `sudo nft -j list ruleset` instead".to_owned()),
        });
    }
    None
}
