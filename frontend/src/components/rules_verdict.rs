//! What the loaded firewall rules say: the full verdict (outcome, summary, explanation
//! code, deciding and nearest rules, unknowns, notes, the fix to paste) and the compact
//! badge the reachability page shows per device.

use leptos::prelude::*;
use vantage_shared::probe::RulesVerdict;
use vantage_shared::rules::{summary, Outcome, RuleRef, Verdict};

use super::finding::Snippet;
use super::rules_table::row_dom_id;

/// The badge tone of an outcome (CSS `outcome-…`).
pub fn outcome_tone(o: Outcome) -> &'static str {
    match o {
        Outcome::Allowed => "good",
        Outcome::Denied => "bad",
        Outcome::Unknown => "neutral",
    }
}

/// The reachability page's word for a device's rules verdict. `admitted` is false for an
/// unknown verdict too, whose summary then starts with "unknown".
pub fn rules_badge(v: &RulesVerdict) -> (&'static str, &'static str) {
    if v.admitted {
        ("rules: admitted", "good")
    } else if v.summary.starts_with("unknown") {
        ("rules: unknown", "neutral")
    } else {
        ("rules: denied", "bad")
    }
}

/// A device's rules verdict as a badge; the summary is the tooltip unless `with_summary`.
#[component]
pub fn DeviceRulesBadge(v: RulesVerdict, #[prop(optional)] with_summary: bool) -> impl IntoView {
    let (label, tone) = rules_badge(&v);
    let summary = v.summary.clone();
    let title = summary.clone();
    view! {
        <span
            class="device-rules"
            data-testid="device-rules"
            data-admitted=v.admitted.to_string()
            title=title
        >
            <span class=format!("badge reach reach-{tone}")>{label}</span>
            {with_summary.then(|| view! { <span class="small device-rules-summary">{summary}</span> })}
        </span>
    }
}

/// Scrolls the table row of a rule into view (it is highlighted there).
fn show_row(r: &RuleRef) {
    let id = row_dom_id(&r.set_id, r.position);
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(&id))
    {
        el.scroll_into_view();
    }
}

#[component]
fn RuleLine(rule: RuleRef, #[prop(optional, into)] extra: Option<String>) -> impl IntoView {
    let r = rule.clone();
    view! {
        <li>
            <code class="rule">{format!("{} {}", rule.set_id, rule.text)}</code>
            {extra.map(|e| view! { <span class="muted">{format!(" — {e}")}</span> })}
            " "
            <button type="button" class="link-button small" on:click=move |_| show_row(&r)>
                "show in table"
            </button>
        </li>
    }
}

/// The whole verdict, as answered by the agent (or evaluated here).
#[component]
pub fn VerdictPanel(verdict: Verdict) -> impl IntoView {
    let outcome = verdict.outcome;
    let line = summary(&verdict);
    let Verdict {
        explanation_code,
        explanation,
        deciding_rules,
        nearest_rules,
        unknown_reasons,
        notes,
        layers,
        fixes,
        ..
    } = verdict;
    let deciding = (!deciding_rules.is_empty()).then(|| {
        view! {
            <h3>"Decided by"</h3>
            <ul class="verdict-rules">
                {deciding_rules.into_iter().map(|rule| view! { <RuleLine rule /> }).collect_view()}
            </ul>
        }
    });
    let nearest = (!nearest_rules.is_empty()).then(|| {
        view! {
            <h3>"Nearest rules"</h3>
            <ul class="verdict-rules">
                {nearest_rules
                    .into_iter()
                    .map(|n| view! { <RuleLine rule=n.rule extra=n.difference /> })
                    .collect_view()}
            </ul>
        }
    });
    let unknowns = (!unknown_reasons.is_empty()).then(|| {
        view! {
            <h3>"Depends on what is not loaded"</h3>
            <ul>{unknown_reasons.into_iter().map(|u| view! { <li>{u.reason}</li> }).collect_view()}</ul>
        }
    });
    let notes = (!notes.is_empty()).then(|| {
        view! {
            <h3>"Assumptions"</h3>
            <ul class="muted">{notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
        }
    });
    let layers = (layers.len() > 1).then(|| {
        view! {
            <h3>"Each layer"</h3>
            <ul class="verdict-layers">
                {layers
                    .into_iter()
                    .map(|l| {
                        view! {
                            <li>
                                <span class=format!("badge outcome outcome-{}", outcome_tone(l.outcome))>
                                    {l.outcome.as_str()}
                                </span>
                                " "
                                <strong>{l.title}</strong>
                                ": "
                                {l.explanation}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    });
    let fixes = (!fixes.is_empty()).then(|| {
        view! {
            <h3>"Fix"</h3>
            {fixes
                .into_iter()
                .map(|f| {
                    view! {
                        <div class="fix" data-testid="ask-fix" data-set-id=f.set_id.clone()>
                            <p>{f.description}</p>
                            <Snippet text=f.command language=Some("shell".to_owned()) />
                            <Snippet text=f.json language=Some("json".to_owned()) />
                        </div>
                    }
                })
                .collect_view()}
        }
    });
    view! {
        <section
            class=format!("verdict-panel verdict-{}", outcome_tone(outcome))
            data-testid="ask-verdict"
            data-outcome=outcome.as_str()
            aria-live="polite"
        >
            <p class="verdict-head">
                <span class=format!("badge outcome outcome-{}", outcome_tone(outcome))>{outcome.as_str()}</span>
                " "
                <strong class="verdict-summary">{line}</strong>
            </p>
            <p class="finding-code">
                <code data-testid="explanation-code">{explanation_code.as_str()}</code>
            </p>
            <p>{explanation}</p>
            {deciding}
            {nearest}
            {unknowns}
            {notes}
            {layers}
            {fixes}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_badges() {
        let v = |admitted: bool, summary: &str| RulesVerdict {
            source_ip: "203.0.113.7".into(),
            admitted,
            summary: summary.into(),
            fix: None,
        };
        assert_eq!(rules_badge(&v(true, "allowed: …")).0, "rules: admitted");
        assert_eq!(
            rules_badge(&v(false, "no inbound rule admits 203.0.113.7 on tcp/443")).0,
            "rules: denied"
        );
        assert_eq!(
            rules_badge(&v(false, "unknown whether the rules admit …")),
            ("rules: unknown", "neutral")
        );
        assert_eq!(outcome_tone(Outcome::Denied), "bad");
    }
}
