//! `cors::serialize_origin` and `normalize_method` on arbitrary text: never panic, and
//! serialising an already serialised origin changes nothing (the agent compares the
//! server's `Access-Control-Allow-Origin` with it byte for byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_shared::cors::{normalize_method, serialize_origin};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let once = serialize_origin(text);
    let twice = serialize_origin(&once);
    assert_eq!(
        once, twice,
        "serialize_origin is not idempotent for {text:?}"
    );
    let m = normalize_method(text);
    assert_eq!(
        normalize_method(&m),
        m,
        "normalize_method is not idempotent for {text:?}"
    );
});
