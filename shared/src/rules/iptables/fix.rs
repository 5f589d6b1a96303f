//! The `iptables -I` (or ufw) command that admits a question's traffic.

use serde_json::json;

use crate::rules::eval::{HostFixSpec, RuleFix};
use crate::rules::fix::sh_quote;
use crate::rules::model::{Protocol, Provider};

/// The `iptables -I …` command that admits the question's traffic.
pub(crate) fn accept_fix(spec: &HostFixSpec) -> RuleFix {
    let v6 = spec.source.to_canonical().is_ipv6();
    let bin = if v6 { "ip6tables" } else { "iptables" };
    let mut rule: Vec<String> = Vec::new();
    match spec.protocol {
        Protocol::Tcp => rule.push("-p tcp".to_owned()),
        Protocol::Udp => rule.push("-p udp".to_owned()),
        Protocol::Icmp => rule.push("-p icmp".to_owned()),
        Protocol::Icmpv6 => rule.push("-p ipv6-icmp".to_owned()),
        Protocol::Number(n) => rule.push(format!("-p {n}")),
        Protocol::All => {}
    }
    rule.push(format!("-s {}", spec.source.to_canonical()));
    if let Some(d) = spec.destination {
        rule.push(format!("-d {d}"));
    }
    if spec.protocol.has_ports() {
        if let Some(p) = spec.port {
            rule.push(format!("--dport {p}"));
        }
    }
    if let Some(t) = spec.icmp_type.filter(|_| spec.protocol.is_icmp()) {
        let opt = if v6 { "--icmpv6-type" } else { "--icmp-type" };
        rule.push(format!("{opt} {t}"));
    }
    rule.push("-j ACCEPT".to_owned());
    let rule = rule.join(" ");
    let table = spec.table.table.as_str();
    let t = if table == "filter" {
        String::new()
    } else {
        format!("-t {} ", sh_quote(table))
    };
    let command = format!("{bin} {t}-I {} {rule}", sh_quote(spec.chain));
    let json = json!({
        "tool": bin,
        "table": table,
        "chain": spec.chain,
        "position": 1,
        "rule": rule,
    });
    RuleFix {
        set_id: spec.set.id.clone(),
        provider: Provider::Host,
        description: format!(
            "{} It admits only {} on this one port; a rule added by hand is lost at reboot \
             unless saved (`{bin}-save > /etc/iptables/rules.v{}`, or your firewall \
             manager's own rule).",
            spec.why,
            spec.source.to_canonical(),
            if v6 { 6 } else { 4 }
        ),
        command,
        json: serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string()),
    }
}

/// The ufw rule that admits the question's traffic, when ufw manages the chains.
pub(crate) fn ufw_fix(spec: &HostFixSpec) -> RuleFix {
    let port = spec.port.map_or_else(String::new, |p| format!(" port {p}"));
    let rule = format!(
        "allow proto {} from {} to any{port}",
        spec.protocol,
        spec.source.to_canonical()
    );
    let json = json!({ "tool": "ufw", "rule": rule });
    RuleFix {
        set_id: spec.set.id.clone(),
        provider: Provider::Host,
        description: "ufw manages these chains (ufw-user-input): add the rule with ufw so it \
                      survives `ufw reload`; use `ufw insert 1 …` when a ufw deny rule matches \
                      it first."
            .to_owned(),
        command: format!("ufw {rule}"),
        json: serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string()),
    }
}
