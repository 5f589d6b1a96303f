//! One firewall rule set as a readable table (order, direction, allow/deny, traffic,
//! remote side, description), with the rules a verdict names marked: the deciding rule
//! highlighted, the nearest rules outlined, defaults greyed and disabled rules struck.

use std::collections::HashSet;

use leptos::prelude::*;
use vantage_shared::rules::{Action, Direction, Rule, RuleSet, Verdict};

use super::data_table::{Column, DataTable};

/// Larger sets show this many rows until asked (or until a verdict names a later rule):
/// thousands of rows make the page slow to scroll for no benefit.
pub const ROWS_SHOWN: usize = 300;

/// The rules a verdict names, by (set id, position), for highlighting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleMarks {
    pub deciding: HashSet<(String, usize)>,
    pub nearest: HashSet<(String, usize)>,
}

impl RuleMarks {
    /// The deciding rules (of every layer, so a NACL that refused the reply is marked
    /// too) and the nearest rules of a verdict.
    pub fn of(v: &Verdict) -> Self {
        let mut deciding: HashSet<(String, usize)> = v
            .deciding_rules
            .iter()
            .map(|r| (r.set_id.clone(), r.position))
            .collect();
        for l in v.layers.iter().filter(|l| l.outcome == v.outcome) {
            deciding.extend(
                l.deciding_rules
                    .iter()
                    .map(|r| (r.set_id.clone(), r.position)),
            );
        }
        let nearest = v
            .nearest_rules
            .iter()
            .map(|n| (n.rule.set_id.clone(), n.rule.position))
            .filter(|k| !deciding.contains(k))
            .collect();
        Self { deciding, nearest }
    }

    /// The last marked position in a set, to show enough rows to include it.
    pub fn last_in(&self, set_id: &str) -> Option<usize> {
        self.deciding
            .iter()
            .chain(&self.nearest)
            .filter(|(s, _)| s == set_id)
            .map(|(_, p)| *p)
            .max()
    }
}

/// The `id` of a rule's row, so the verdict can scroll to it. Set ids may hold any
/// character (an Azure NSG name); only letters, digits, `-` and `_` are kept.
pub fn row_dom_id(set_id: &str, position: usize) -> String {
    let clean: String = set_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("rule-{clean}-{position}")
}

/// The order column: the NACL rule number, the GCP/Azure priority, or the security
/// group's `#n` (whose rules have no order: any of them admits).
pub fn order_text(rule: &Rule) -> String {
    match rule.priority {
        Some(p) => p.to_string(),
        None => rule.label.clone(),
    }
}

/// The rule's name when it has one besides its order (GCP and Azure rule names).
pub fn rule_name(rule: &Rule) -> Option<String> {
    let order = order_text(rule);
    (rule.label != order && !rule.label.starts_with('#')).then(|| rule.label.clone())
}

/// The remote side, then what the rule is limited to on this side (`to 10.0.0.5`,
/// `on tag web`).
pub fn peers_text(rule: &Rule) -> String {
    let join = |peers: &[vantage_shared::rules::Peer]| {
        peers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = if rule.peers.is_empty() {
        "nowhere".to_owned()
    } else {
        join(&rule.peers)
    };
    if !rule.local.is_empty() {
        let word = match rule.direction {
            Direction::Inbound => " to ",
            Direction::Outbound => " from ",
        };
        s.push_str(word);
        s.push_str(&join(&rule.local));
    }
    if !rule.applies_to.is_empty() {
        s.push_str(" on ");
        s.push_str(&join(&rule.applies_to));
    }
    s
}

/// The description column: the rule's own description, the host firewall's rule text,
/// and whether the provider adds it by default.
pub fn description_text(rule: &Rule) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(d) = rule.description.as_deref().filter(|d| !d.is_empty()) {
        parts.push(d.to_owned());
    }
    if let Some(h) = &rule.host {
        parts.push(h.text.clone());
    }
    if rule.disabled {
        parts.push("disabled".to_owned());
    }
    if rule.implicit {
        parts.push("default rule".to_owned());
    }
    parts.join(" · ")
}

/// A rule set's heading: its title, kind and where it came from.
fn set_meta(set: &RuleSet) -> String {
    let mut parts = vec![if set.stateful {
        "stateful".to_owned()
    } else {
        "stateless: replies need their own rule".to_owned()
    }];
    if let Some(n) = &set.network {
        parts.push(n.clone());
    }
    if !set.associations.is_empty() {
        parts.push(format!("subnets {}", set.associations.join(", ")));
    }
    parts.push(format!(
        "{} rule{}",
        set.rules.len(),
        if set.rules.len() == 1 { "" } else { "s" }
    ));
    parts.join(" · ")
}

/// One rule set as a table. `marks` are the current verdict's rules.
#[component]
pub fn RuleSetTable(set: RuleSet, #[prop(into)] marks: Signal<RuleMarks>) -> impl IntoView {
    let total = set.rules.len();
    let expanded = RwSignal::new(false);
    let set_id = set.id.clone();
    let show_all = Memo::new(move |_| {
        expanded.get()
            || total <= ROWS_SHOWN
            || marks.with(|m| m.last_in(&set_id).is_some_and(|p| p >= ROWS_SHOWN))
    });
    let title = set.title();
    let meta = set_meta(&set);
    let kind = format!("{:?}", set.kind);
    let set_id = set.id.clone();
    let columns = vec![
        Column::new("Order"),
        Column::new("Dir."),
        Column::new("Action"),
        Column::new("Protocol / ports"),
        Column::new("Source / destination"),
        Column::new("Description"),
    ];
    let rules = StoredValue::new(set.rules);
    let rows = move || {
        let limit = if show_all.get() {
            usize::MAX
        } else {
            ROWS_SHOWN
        };
        rules.with_value(|rules| {
            rules
                .iter()
                .take(limit)
                .map(|r| view! { <RuleRow rule=r.clone() set_id=set_id.clone() marks /> })
                .collect_view()
        })
    };
    view! {
        <section class="rule-set" data-testid="rule-set" data-set-id=set.id.clone() data-kind=kind>
            <h3 class="rule-set-title">{title}</h3>
            <p class="muted small rule-set-meta">{meta}</p>
            <DataTable columns class="rules-table">
                {rows}
            </DataTable>
            <Show when=move || !show_all.get()>
                <button type="button" class="link-button" on:click=move |_| expanded.set(true)>
                    {format!("Show all {total} rules (first {ROWS_SHOWN} shown)")}
                </button>
            </Show>
        </section>
    }
}

#[component]
fn RuleRow(rule: Rule, set_id: String, marks: Signal<RuleMarks>) -> impl IntoView {
    let key = (set_id.clone(), rule.position);
    let key2 = key.clone();
    // Memos: each row re-renders only when its own mark changes, not on every verdict.
    let deciding = Memo::new(move |_| marks.with(|m| m.deciding.contains(&key)));
    let nearest = Memo::new(move |_| marks.with(|m| m.nearest.contains(&key2)));
    let mut base = vec!["rule-row"];
    if rule.implicit {
        base.push("implicit");
    }
    if rule.disabled {
        base.push("disabled");
    }
    let base = base.join(" ");
    let class = move || {
        let mut c = base.clone();
        if deciding.get() {
            c.push_str(" deciding");
        } else if nearest.get() {
            c.push_str(" nearest");
        }
        c
    };
    let action = rule.action;
    let (action_class, action_text) = match action {
        Action::Allow => ("badge action-allow", "allow"),
        Action::Deny => ("badge action-deny", "deny"),
    };
    let dir = match rule.direction {
        Direction::Inbound => "in",
        Direction::Outbound => "out",
    };
    let name = rule_name(&rule);
    view! {
        <tr
            class=class
            id=row_dom_id(&set_id, rule.position)
            data-testid="rule-row"
            data-position=rule.position.to_string()
            data-deciding=move || deciding.get().then_some("true")
            data-nearest=move || nearest.get().then_some("true")
            title=rule.path.clone()
        >
            <td data-label="Order" class="rule-order">
                <span>{order_text(&rule)}</span>
                {name.map(|n| view! { <span class="rule-name">{n}</span> })}
                {move || deciding.get().then(|| view! { <span class="badge deciding-mark">"decides"</span> })}
                {move || nearest.get().then(|| view! { <span class="badge nearest-mark">"nearest"</span> })}
            </td>
            <td data-label="Direction">{dir}</td>
            <td data-label="Action">
                <span class=action_class>{action_text}</span>
            </td>
            <td data-label="Protocol / ports">
                <code>{rule.traffic()}</code>
            </td>
            <td data-label="Source / dest." class="rule-peers">
                <code>{peers_text(&rule)}</code>
            </td>
            <td data-label="Description" class="rule-desc">{description_text(&rule)}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vantage_shared::rules::{evaluate, parse_rules, Question};

    const SG: &str = r#"{"SecurityGroups":[{"GroupId":"sg-1","GroupName":"web","VpcId":"vpc-1",
      "IpPermissions":[{"IpProtocol":"tcp","FromPort":443,"ToPort":443,
        "IpRanges":[{"CidrIp":"198.51.100.0/24","Description":"office"}]}],
      "IpPermissionsEgress":[]}]}"#;

    fn sets() -> Vec<RuleSet> {
        match parse_rules(SG, "test") {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn cells_read_like_the_console() {
        let sets = sets();
        let rule = &sets[0].rules[0];
        assert_eq!(order_text(rule), rule.label);
        assert_eq!(rule_name(rule), None);
        assert_eq!(peers_text(rule), "198.51.100.0/24");
        assert_eq!(description_text(rule), "office");
        assert_eq!(rule.traffic(), "tcp/443");
    }

    #[test]
    fn marks_name_the_nearest_rule_when_nothing_admits() {
        let sets = sets();
        let denied = evaluate(&sets, &Question::tcp([203, 0, 113, 7].into(), 443));
        let marks = RuleMarks::of(&denied);
        assert!(marks.nearest.contains(&("sg-1".to_owned(), 0)));
        assert_eq!(marks.last_in("sg-1"), Some(0));
        assert_eq!(marks.last_in("sg-2"), None);

        let allowed = evaluate(&sets, &Question::tcp([198, 51, 100, 9].into(), 443));
        let marks = RuleMarks::of(&allowed);
        assert!(marks.deciding.contains(&("sg-1".to_owned(), 0)));
        assert!(marks.nearest.is_empty());
    }

    #[test]
    fn row_ids_are_safe() {
        assert_eq!(row_dom_id("sg-1", 3), "rule-sg-1-3");
        assert_eq!(row_dom_id("my nsg/x", 0), "rule-my-nsg-x-0");
    }
}
