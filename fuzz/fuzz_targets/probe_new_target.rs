//! `probe::validate_new_target` (the `POST /api/targets` body) on arbitrary fields, then
//! `Target::from_new` and `slug` on what it accepts (the interval text included).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vantage_shared::cors::{Credentials, RequestMode};
use vantage_shared::probe::{slug, validate_new_target, NewTarget, Target, TargetSource};
use vantage_shared::proxy_admin::{ProxyAdmin, ProxyAdminKind};
use vantage_shared::rules::{DestinationInfo, RuleScope};

#[derive(Debug, Arbitrary)]
struct Input {
    name: String,
    url: String,
    expected_status: Option<u16>,
    cors_origin: Option<String>,
    cors_method: Option<String>,
    cors_headers: Vec<String>,
    cors_credentials: u8,
    no_cors: bool,
    proxy_admin: Option<(u8, String, Option<String>)>,
    firewall_sets: Vec<String>,
    firewall_tags: Option<Vec<String>>,
    interval_seconds: Option<u32>,
    interval: Option<String>,
}

fuzz_target!(|input: Input| {
    let t = NewTarget {
        name: input.name,
        url: input.url,
        expected_status: input.expected_status,
        cors_origin: input.cors_origin,
        cors_method: input.cors_method,
        cors_headers: input.cors_headers,
        cors_credentials: match input.cors_credentials % 3 {
            0 => Credentials::Omit,
            1 => Credentials::SameOrigin,
            _ => Credentials::Include,
        },
        cors_mode: if input.no_cors {
            RequestMode::NoCors
        } else {
            RequestMode::Cors
        },
        proxy_admin: input.proxy_admin.map(|(kind, url, backend)| ProxyAdmin {
            kind: match kind % 3 {
                0 => ProxyAdminKind::HaproxyCsv,
                1 => ProxyAdminKind::HaproxyServersState,
                _ => ProxyAdminKind::EnvoyClusters,
            },
            url,
            backend,
        }),
        firewall: RuleScope {
            sets: input.firewall_sets,
            destination: input.firewall_tags.map(|tags| DestinationInfo {
                tags,
                ..DestinationInfo::default()
            }),
        },
        interval_seconds: input.interval_seconds,
        interval: input.interval,
    };
    let id = slug(&t.name);
    assert!(!id.is_empty());
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    match validate_new_target(&t) {
        Err(message) => assert!(!message.trim().is_empty()),
        Ok(_) => {
            let target = Target::from_new(t, TargetSource::Dashboard);
            assert!(!target.name.is_empty());
            let json = serde_json::to_string(&target).expect("target serialises");
            let back: Target = serde_json::from_str(&json).expect("target deserialises");
            assert_eq!(back, target);
        }
    }
});
