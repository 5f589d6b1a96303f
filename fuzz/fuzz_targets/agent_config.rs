//! The agent's TOML config file: `FileConfig::parse` on arbitrary text; an error must say
//! something. Built only with the default `agent` feature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_agent::config::FileConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = FileConfig::parse(text) {
        assert!(!format!("{e:#}").trim().is_empty());
    }
});
