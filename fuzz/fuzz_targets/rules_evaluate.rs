//! Parse, then `rules::evaluate` a question built from the input's first 64 bytes (the rest
//! is the rules text): evaluation must not panic whatever the rules and the question, and
//! the verdict must serialise and carry valid fix JSON.
#![no_main]

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
    check_verdict(&evaluate_refs(&picked, &question));
    // Each set on its own too (what the dashboard does per row).
    for set in sets.iter().take(4) {
        check_verdict(&evaluate(std::slice::from_ref(set), &question));
    }
});
