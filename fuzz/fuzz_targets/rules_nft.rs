//! `rules::nft::parse_nft_ruleset` (`nft -j list ruleset` JSON) on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_fuzz::{check_rules, NAME_HINT};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = vantage_shared::rules::nft::parse_nft_ruleset(text, NAME_HINT);
    check_rules(text, &result);
});
