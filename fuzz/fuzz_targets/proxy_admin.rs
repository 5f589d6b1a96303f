//! The proxy admin parsers (HAProxy's stats CSV and `show servers state`, Envoy's
//! `/clusters` text and JSON) on arbitrary text, which the agent reads from an endpoint it
//! does not control; then the observation filtered by backend. Every server parsed has a
//! backend and a name, and a server that is not up says why or is an operator's choice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vantage_shared::proxy_admin::{ProxyAdmin, ProxyAdminKind, ProxyObservation, ServerState};

fuzz_target!(|text: &str| {
    for kind in [
        ProxyAdminKind::HaproxyCsv,
        ProxyAdminKind::HaproxyServersState,
        ProxyAdminKind::EnvoyClusters,
    ] {
        let admin = ProxyAdmin {
            kind,
            url: "http://127.0.0.1:8404/stats;csv".into(),
            backend: Some("app".into()),
        };
        if let Ok(servers) = admin.parse(text) {
            for s in &servers {
                let _ = s.label();
                assert!(
                    s.state != ServerState::Up || s.reason.is_none(),
                    "an up server with a reason: {s:?}"
                );
            }
        }
        let obs = ProxyObservation::from_read(&admin, Ok(text.to_owned()));
        assert!(obs.servers.iter().all(|s| s.backend == "app"));
    }
});
