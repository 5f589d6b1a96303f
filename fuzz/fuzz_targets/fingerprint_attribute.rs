//! `fingerprint::attribute(status, headers, body)` on arbitrary responses (header names
//! mostly `Server`, bodies arbitrary bytes, possibly invalid UTF-8).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vantage_shared::fingerprint::{attribute, Attribution};

#[derive(Debug, Arbitrary)]
struct Input {
    status: u16,
    headers: Vec<(bool, String, String)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let headers: Vec<(String, String)> = input
        .headers
        .into_iter()
        .map(|(server, name, value)| (if server { "Server".to_owned() } else { name }, value))
        .collect();
    let a = attribute(input.status, &headers, &input.body);
    assert!(!a.label.trim().is_empty(), "empty label: {a:?}");
    let json = serde_json::to_string(&a).expect("attribution serialises");
    let back: Attribution = serde_json::from_str(&json).expect("attribution deserialises");
    assert_eq!(back, a);
});
