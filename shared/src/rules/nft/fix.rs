//! The `nft insert rule` command (and its JSON form) that admits a question's traffic.

use serde_json::{json, Value};

use crate::rules::eval::{HostFixSpec, RuleFix};
use crate::rules::fix::sh_quote;
use crate::rules::model::{Protocol, Provider};

/// The `nft insert rule …` command that admits the question's traffic.
pub(crate) fn accept_fix(spec: &HostFixSpec) -> RuleFix {
    let src = spec.source.to_canonical();
    let ipk = if src.is_ipv6() { "ip6" } else { "ip" };
    let mut words: Vec<String> = vec![format!("{ipk} saddr {src}")];
    let mut expr: Vec<Value> = vec![json!({"match": {"op": "==",
        "left": {"payload": {"protocol": ipk, "field": "saddr"}}, "right": src.to_string()}})];
    if let Some(d) = spec.destination {
        let k = if d.is_ipv6() { "ip6" } else { "ip" };
        words.push(format!("{k} daddr {d}"));
        expr.push(json!({"match": {"op": "==",
            "left": {"payload": {"protocol": k, "field": "daddr"}}, "right": d.to_string()}}));
    }
    match (spec.protocol, spec.port) {
        (p @ (Protocol::Tcp | Protocol::Udp), Some(port)) => {
            words.push(format!("{p} dport {port}"));
            expr.push(json!({"match": {"op": "==",
                "left": {"payload": {"protocol": p.to_string(), "field": "dport"}}, "right": port}}));
        }
        (p @ (Protocol::Icmp | Protocol::Icmpv6), _) => {
            let name = if p == Protocol::Icmp {
                "icmp"
            } else {
                "icmpv6"
            };
            match spec.icmp_type {
                Some(t) => {
                    words.push(format!("{name} type {t}"));
                    expr.push(json!({"match": {"op": "==",
                        "left": {"payload": {"protocol": name, "field": "type"}}, "right": t}}));
                }
                None => {
                    words.push(format!("meta l4proto {name}"));
                    expr.push(json!({"match": {"op": "==",
                        "left": {"meta": {"key": "l4proto"}}, "right": name}}));
                }
            }
        }
        (Protocol::Number(n), _) => {
            words.push(format!("meta l4proto {n}"));
            expr.push(json!({"match": {"op": "==",
                "left": {"meta": {"key": "l4proto"}}, "right": n}}));
        }
        _ => {}
    }
    words.push("accept".to_owned());
    expr.push(json!({"accept": null}));
    let family = spec.table.family.nft_name();
    let command = format!(
        "nft insert rule {family} {} {} {}",
        sh_quote(&spec.table.table),
        sh_quote(spec.chain),
        words.join(" ")
    );
    let doc = json!({"nftables": [{"insert": {"rule": {
        "family": family,
        "table": spec.table.table,
        "chain": spec.chain,
        "expr": expr,
    }}}]});
    RuleFix {
        set_id: spec.set.id.clone(),
        provider: Provider::Host,
        description: format!(
            "{} It admits only {src}; `nft insert` puts it first in the chain. Add it to your \
             nftables config (e.g. /etc/nftables.conf) to keep it after a reboot. The JSON is \
             for `nft -j -f`.",
            spec.why
        ),
        command,
        json: serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string()),
    }
}
