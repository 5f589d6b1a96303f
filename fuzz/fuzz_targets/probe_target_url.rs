//! `probe::parse_target_url` on arbitrary text: never panics, and an accepted URL is
//! usable (port ≥ 1, non-empty host, known scheme) and parses to the same address again
//! when written back from its parts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_shared::probe::parse_target_url;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_target_url(text) {
        Err(message) => assert!(!message.trim().is_empty(), "empty error for {text:?}"),
        Ok(addr) => {
            assert!(addr.port >= 1, "port 0 accepted: {text:?}");
            assert!(!addr.host.is_empty(), "empty host accepted: {text:?}");
            assert!(
                matches!(addr.scheme.as_str(), "http" | "https" | "tcp"),
                "scheme {:?} from {text:?}",
                addr.scheme
            );
            let again = if addr.is_http() {
                format!("{}://{}{}", addr.scheme, addr.authority(), addr.path)
            } else {
                addr.authority()
            };
            let reparsed = parse_target_url(&again)
                .unwrap_or_else(|e| panic!("{again:?} (from {text:?}) is refused: {e}"));
            assert_eq!(reparsed, addr, "{text:?} and {again:?} differ");
        }
    }
});
