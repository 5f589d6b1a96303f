//! `cors::evaluate` with an arbitrary request and arbitrary (or missing) preflight and
//! actual responses; header names and values are drawn mostly from those CORS reads.
//! Also `needs_preflight` and the request headers the agent would send.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_fuzz::CorsInput;
use vantage_shared::cors::{
    actual_request_headers, evaluate, needs_preflight, preflight_request_headers, CorsReport,
};

fuzz_target!(|input: CorsInput| {
    let req = input.request();
    let (preflight, actual) = input.responses();
    let _ = needs_preflight(&req);
    let _ = preflight_request_headers(&req);
    let _ = actual_request_headers(&req);
    let report = evaluate(&req, preflight.as_ref(), actual.as_ref());
    let json = serde_json::to_string(&report).expect("report serialises");
    let back: CorsReport = serde_json::from_str(&json).expect("report deserialises");
    assert_eq!(back, report, "report does not survive a serde round trip");
});
