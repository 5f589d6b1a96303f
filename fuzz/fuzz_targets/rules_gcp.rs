//! `rules::gcp::parse_firewall_rules` (`gcloud compute firewall-rules list --format=json`) on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_fuzz::{check_rules, NAME_HINT};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = vantage_shared::rules::gcp::parse_firewall_rules(text, NAME_HINT);
    check_rules(text, &result);
});
