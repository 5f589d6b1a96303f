//! `cors::parse_response` on arbitrary pasted text (what the offline CORS page and
//! `POST /api/cors/evaluate` read from `curl -i` output), then `evaluate` on what it
//! accepts: an error names a line that exists, and a parsed response is judged without
//! panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_shared::cors::{evaluate, parse_response, CorsRequest};

fuzz_target!(|text: &str| {
    match parse_response(text, 200) {
        Err(e) => assert!(
            e.line <= text.lines().count(),
            "error on line {} of {}",
            e.line,
            text.lines().count()
        ),
        Ok(p) => {
            let req = CorsRequest::new("https://shop.example", "PUT").header("X-Api-Key", "k");
            let _ = evaluate(&req, Some(&p.response), Some(&p.response));
        }
    }
});
