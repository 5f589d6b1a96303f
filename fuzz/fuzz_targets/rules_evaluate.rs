//! Parse, then `rules::evaluate` a question built from the input's first 64 bytes (the rest
//! is the rules text): evaluation must not panic whatever the rules and the question, and
//! the verdict must serialise, carry valid fix JSON and name only rules that exist, and an
//! IPv4 source written as IPv4-mapped IPv6 must get the same verdict.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use vantage_fuzz::{check_verdict, question_from, NAME_HINT, QUESTION_HEADER};
use vantage_shared::rules::{evaluate, evaluate_refs, parse_rules, RuleSet};

fuzz_target!(|data: &[u8]| {
    let (header, rest) = data.split_at(data.len().min(QUESTION_HEADER));
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let sets = parse_rules(text, NAME_HINT).unwrap_or_default();
    let (question, chosen) = question_from(header, &sets);
    let picked: Vec<&RuleSet> = chosen.iter().map(|&i| &sets[i]).collect();
    let verdict = evaluate_refs(&picked, &question);
    check_verdict(&verdict, &picked);
    // The same address written as IPv4-mapped IPv6 is read as IPv4: same verdict.
    if let IpAddr::V4(v4) = question.source {
        let mut mapped = question.clone();
        mapped.source = IpAddr::V6(v4.to_ipv6_mapped());
        let mut other = evaluate_refs(&picked, &mapped);
        other.question.source = verdict.question.source;
        assert_eq!(
            other, verdict,
            "{v4} and {} give different verdicts",
            mapped.source
        );
    }
    // Each set on its own too (what the dashboard does per row).
    for set in sets.iter().take(4) {
        check_verdict(&evaluate(std::slice::from_ref(set), &question), &[set]);
    }
});
