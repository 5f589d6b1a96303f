//! Where shipping browsers depart from the Fetch standard. Each entry was checked in real
//! Chromium (`tests/tests/cors_chromium.rs`); Firefox and Safari are as their documentation
//! and MDN's compatibility data say. The evaluator's `allowed` follows Chromium and
//! `standard_allowed` the standard; docs/cors.md shows the same table.

use super::types::CorsDivergence;

/// Stable id of "`Access-Control-Allow-Headers: *` and `Authorization`".
pub const ACAH_WILDCARD_AUTHORIZATION: &str = "acah_wildcard_authorization";

/// Every known divergence, in the order docs/cors.md lists them.
pub fn known_divergences() -> Vec<CorsDivergence> {
    vec![acah_wildcard_authorization()]
}

/// Fetch makes `Authorization` a "CORS non-wildcard request-header name": `*` in
/// `Access-Control-Allow-Headers` never covers it. Browsers ship the older behaviour.
pub fn acah_wildcard_authorization() -> CorsDivergence {
    CorsDivergence {
        id: ACAH_WILDCARD_AUTHORIZATION.to_owned(),
        rule: "headers_allowed".to_owned(),
        standard: "`*` does not cover `Authorization`: it must be listed by name, so the \
                   preflight fails."
            .to_owned(),
        chromium: "`*` covers `Authorization` on requests without credentials. The standard's \
                   behaviour is behind the `CorsNonWildcardRequestHeadersSupport` feature, off \
                   by default; its launch waits for the other engines."
            .to_owned(),
        firefox: "`*` covers `Authorization` by default; since Firefox 115 the preference \
                  `network.cors_preflight.authorization_covered_by_wildcard = false` applies \
                  the standard."
            .to_owned(),
        safari: "`*` covers `Authorization` (the standard's rule is not implemented).".to_owned(),
        fix: "List it by name: `Access-Control-Allow-Headers: *, Authorization` (or the exact \
              headers). That passes the standard and every browser."
            .to_owned(),
        sources: vec![
            "https://fetch.spec.whatwg.org/#cors-non-wildcard-request-header-name".to_owned(),
            "https://chromestatus.com/feature/5742041264816128".to_owned(),
            "https://bugzilla.mozilla.org/show_bug.cgi?id=1687364".to_owned(),
            "https://github.com/mdn/browser-compat-data/blob/main/http/headers/Access-Control-Allow-Headers.json"
                .to_owned(),
        ],
    }
}
