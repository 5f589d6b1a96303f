//! `rules::iptables::parse_iptables_save` (`iptables-save` / `ip6tables-save` text) on
//! arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_fuzz::{check_rules, NAME_HINT};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = vantage_shared::rules::iptables::parse_iptables_save(text, NAME_HINT);
    check_rules(text, &result);
});
