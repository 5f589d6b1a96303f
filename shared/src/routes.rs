//! The API's route paths, written once: the agent's router and OpenAPI document, its
//! body-limit and phone-link scope checks, and the dashboard's `api.rs` all use these,
//! so a path cannot drift between the two sides. Parameters are in OpenAPI / axum form
//! (`{id}`); [`fill`] puts values in for a request.

pub const HEALTH: &str = "/api/health";
pub const OPENAPI: &str = "/api/openapi.json";
pub const OVERVIEW: &str = "/api/overview";
pub const CONTAINERS: &str = "/api/containers";
pub const CONTAINER: &str = "/api/containers/{id}";
pub const HEALTH_HISTORY: &str = "/api/containers/{id}/health-history";
pub const CONTAINER_EVENTS: &str = "/api/containers/{id}/events";
pub const CONTAINER_SUMMARY: &str = "/api/containers/{id}/summary";
pub const NETWORKS: &str = "/api/networks";
pub const CONNECTIVITY: &str = "/api/connectivity";
pub const EVENTS: &str = "/api/events";
pub const EVENT_TICKET: &str = "/api/events/ticket";

pub const TARGETS: &str = "/api/targets";
pub const TARGET: &str = "/api/targets/{id}";
pub const TARGET_PROBE: &str = "/api/targets/{id}/probe";
pub const TARGET_HISTORY: &str = "/api/targets/{id}/history";
pub const TARGET_SUMMARY: &str = "/api/targets/{id}/summary";
pub const COMPARISON: &str = "/api/comparison";
pub const PHONE_LINKS: &str = "/api/phone-links";
pub const PHONE_LINK: &str = "/api/phone-links/{code}";
pub const PHONE_TARGETS: &str = "/api/phone/targets";
pub const REPORTS: &str = "/api/reports";

pub const RULES: &str = "/api/rules";
pub const RULE_SET: &str = "/api/rules/{id}";
pub const RULES_EVALUATE: &str = "/api/rules/evaluate";
pub const RULES_HOST: &str = "/api/rules/host";

pub const NOTIFICATIONS: &str = "/api/notifications";
pub const NOTIFICATIONS_TEST: &str = "/api/notifications/test";
pub const CHANNELS: &str = "/api/notifications/channels";
pub const CHANNEL: &str = "/api/notifications/channels/{name}";

pub const FLEET_CHECK: &str = "/api/fleet/check";
pub const CORS_EVALUATE: &str = "/api/cors/evaluate";

pub const GPU: &str = "/api/gpu";
pub const GPU_RUNS: &str = "/api/gpu/runs";
pub const GPU_RUN: &str = "/api/gpu/runs/{id}";
pub const GPU_RUN_CANCEL: &str = "/api/gpu/runs/{id}/cancel";

/// The path of a route with its `{…}` parameters replaced, in order, by `values`, each
/// percent-encoded as one path segment (as `encodeURIComponent` does). A value without
/// a parameter to go into is dropped; a parameter without a value is left as it is.
pub fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        match values.next() {
            Some(v) => out.push_str(&encode_component(v)),
            None => out.push_str(&rest[open..open + close + 1]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Percent-encodes everything but `encodeURIComponent`'s unreserved characters, so a
/// value can be neither a path separator nor a query.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_encodes_each_value_as_one_segment() {
        assert_eq!(fill(CONTAINER, &["web-1"]), "/api/containers/web-1");
        assert_eq!(
            fill(GPU_RUN_CANCEL, &["a/b c"]),
            "/api/gpu/runs/a%2Fb%20c/cancel"
        );
        assert_eq!(fill(TARGETS, &[]), "/api/targets");
        assert_eq!(fill(TARGET, &[]), "/api/targets/{id}");
    }

    #[test]
    fn encoding_matches_encode_uri_component() {
        // encodeURIComponent("é?&=#/ ~*'()!") in any browser.
        assert_eq!(
            encode_component("é?&=#/ ~*'()!"),
            "%C3%A9%3F%26%3D%23%2F%20~*'()!"
        );
    }
}
