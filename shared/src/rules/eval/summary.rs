//! The verdict in one line ([`summary`]), as the dashboard's headline and the comparison
//! view's row ([`to_rules_verdict`]) show it. It is rendered from the [`Verdict`] alone,
//! apart from the evaluation.

use super::{
    ExplanationCode, HostDenial, HostPath, HostVerdict, NearestKind, Outcome, RuleRef, Verdict,
};
use crate::rules::model::{Direction, RuleSetKind};

/// The verdict in one line, e.g. `no inbound rule admits 203.0.113.7 on tcp/443; rules
/// admit only 198.51.100.0/24` (docs/incidents.md, "Blocked from the guest Wi-Fi").
pub fn summary(v: &Verdict) -> String {
    if let Some(h) = &v.host {
        let first = v.layers.iter().find(|l| l.outcome == v.outcome);
        let host_decided = first.is_some_and(|l| l.kind == RuleSetKind::HostFirewall);
        let forward = h.path == HostPath::Forward;
        if (v.outcome == Outcome::Denied && host_decided)
            || (v.outcome == Outcome::Allowed && forward)
        {
            if let Some(s) = host_summary(v, h) {
                return s;
            }
        }
    }
    let q = &v.question;
    let src = q.source;
    let what = q.traffic();
    let admits = match q.direction {
        Direction::Inbound => format!("admits {src} on {what}"),
        Direction::Outbound => format!("admits traffic to {src} on {what}"),
    };
    match v.outcome {
        Outcome::Allowed => {
            let rules: Vec<String> = v
                .deciding_rules
                .iter()
                .take(2)
                .map(|r| format!("{} {}", r.set_id, r.text))
                .collect();
            let more = v.deciding_rules.len().saturating_sub(2);
            let mut s = format!(
                "allowed: {src} on {what} is admitted by {}",
                rules.join("; ")
            );
            if more > 0 {
                s.push_str(&format!(" (and {more} more)"));
            }
            s
        }
        Outcome::Unknown => {
            let first = v.unknown_reasons.first().map_or_else(
                || "it depends on rules not loaded".to_owned(),
                |r| r.reason.clone(),
            );
            let more = v.unknown_reasons.len().saturating_sub(1);
            let admit = match q.direction {
                Direction::Inbound => format!("admit {src} on {what}"),
                Direction::Outbound => format!("admit traffic to {src} on {what}"),
            };
            let mut s = format!("unknown whether the rules {admit}: {first}");
            if more > 0 {
                s.push_str(&format!(" (and {more} more)"));
            }
            s
        }
        Outcome::Denied => {
            let layer = v.layers.iter().find(|l| l.outcome == Outcome::Denied);
            let decider = layer.and_then(|l| l.deciding_rules.first());
            let reply = layer.is_some_and(|l| l.refused_reply);
            let explicit = decider.is_some_and(|r| !r.implicit);
            if let (Some(l), Some(r), true) = (layer, decider, reply) {
                return format!(
                    "{} {admits}, but denies the reply to its ephemeral ports (rule {}: {})",
                    l.set_ids.join(", "),
                    r.label,
                    rule_body(r)
                );
            }
            if let (Some(r), true) = (decider, explicit) {
                return format!(
                    "{} rule {} denies {src} on {what}: {}",
                    r.set_id,
                    r.label,
                    rule_body(r)
                );
            }
            let dir = q.direction;
            let mut s = format!("no {dir} rule {admits}");
            let peers = other_sources(v);
            let disabled = v
                .nearest_rules
                .iter()
                .find(|n| n.kind == NearestKind::Disabled);
            if let Some(d) = disabled {
                s.push_str(&format!("; rule {} would, but is disabled", d.rule.label));
            } else if !peers.is_empty() {
                s.push_str(&format!("; rules admit only {}", peers.join(", ")));
            } else if v.explanation_code == ExplanationCode::SgHasNoRules {
                s.push_str(&format!("; the security groups have no {dir} rules at all"));
            } else {
                s.push_str(&format!("; no rule admits {what} from anywhere"));
            }
            s
        }
    }
}

/// A rule's one-line form without its label and priority prefix (`deny tcp/22 from …`).
fn rule_body(r: &RuleRef) -> &str {
    let rest = r.text.strip_prefix(r.label.as_str()).unwrap_or(&r.text);
    let rest = match rest.strip_prefix(" (priority ") {
        Some(after) => after.split_once(')').map_or(rest, |(_, tail)| tail),
        None => rest,
    };
    rest.strip_prefix(": ").unwrap_or(&r.text)
}

/// The comparison view's row (`probe::RulesVerdict`): `admitted` is true only when the
/// outcome is `Allowed` (an `Unknown` is not an admission; the summary says why).
pub fn to_rules_verdict(v: &Verdict) -> crate::probe::RulesVerdict {
    crate::probe::RulesVerdict {
        source_ip: v.question.source.to_string(),
        admitted: v.outcome == Outcome::Allowed,
        summary: summary(v),
        fix: v.fixes.first().cloned(),
    }
}

/// The host-firewall sentence for [`summary`], when the host layer decided.
fn host_summary(v: &Verdict, h: &HostVerdict) -> Option<String> {
    let q = &v.question;
    let (src, what) = (q.source, q.traffic());
    let prefix = match (&h.path, &h.dnat_to, q.port) {
        (HostPath::Forward, Some(to), Some(port)) => {
            format!("published port {port} → {to} (Docker DNAT, FORWARD path; INPUT/ufw rules do not apply): ")
        }
        (HostPath::Forward, _, _) => {
            "published port (Docker DNAT, FORWARD path; INPUT/ufw rules do not apply): ".to_owned()
        }
        _ => String::new(),
    };
    let layer = v
        .layers
        .iter()
        .find(|l| l.outcome == v.outcome && l.kind == RuleSetKind::HostFirewall)?;
    match v.outcome {
        Outcome::Denied => {
            let r = layer.deciding_rules.first()?;
            let sees = h.denial.map_or("", HostDenial::client_sees);
            if r.implicit {
                let peers = other_sources(v);
                let mut s = format!(
                    "{prefix}no host firewall rule admits {src} on {what}, so {} applies ({sees})",
                    r.text
                );
                if !peers.is_empty() {
                    s.push_str(&format!("; rules admit only {}", peers.join(", ")));
                }
                Some(s)
            } else {
                let verb = if h.denial == Some(HostDenial::Dropped) {
                    "drops"
                } else {
                    "rejects"
                };
                Some(format!(
                    "{prefix}{} rule {} {verb} {src} on {what} ({sees}): {}",
                    r.set_id, r.label, r.text
                ))
            }
        }
        Outcome::Allowed if !prefix.is_empty() => {
            let r = layer.deciding_rules.first()?;
            let input = match h.input_would {
                Some(Outcome::Denied) => "; INPUT alone would refuse it",
                _ => "",
            };
            Some(format!(
                "allowed: {prefix}{src} on {what} is accepted by {} {}{input}",
                r.set_id, r.text
            ))
        }
        _ => None,
    }
}

/// The sources the nearest rules admit instead, each once, in order.
fn other_sources(v: &Verdict) -> Vec<&str> {
    let mut peers: Vec<&str> = Vec::new();
    for n in v
        .nearest_rules
        .iter()
        .filter(|n| n.kind == NearestKind::OtherSource)
    {
        for p in &n.peers {
            if !peers.contains(&p.as_str()) {
                peers.push(p);
            }
        }
    }
    peers
}
