//! Which CORS result counts for a device. The phone page runs on the agent's address, so
//! its own `cors` fetch tests CORS for the agent's origin, not for the page users visit (the
//! target's `cors_origin`). For a target whose page origin is another one, the device's
//! `no-cors` fetch decides the network path and the agent's evaluation for the configured
//! origin decides CORS; the device's own `cors` result decides only when the target names
//! no origin, or names the device page's own.

use crate::cors::serialize_origin;
use crate::probe::{AgentProbe, DeviceResult, ReachVerdict, Target};

/// Whether the device's own `cors` fetch tested the origin the target is about.
pub fn device_tested_the_origin(target: &Target, d: &DeviceResult) -> bool {
    let Some(origin) = target.cors_origin.as_deref().map(str::trim) else {
        return true;
    };
    match d.page_origin.as_deref() {
        Some(page) => serialize_origin(page) == serialize_origin(origin),
        // Stored before devices sent their page's origin: their own result is all there is.
        None => true,
    }
}

/// Replaces a device's "CORS blocked" that came from the wrong origin with what the agent's
/// evaluation for the configured origin says: reachable when it passes, still blocked when
/// it fails; unchanged while the agent has not evaluated it.
pub fn settle_device_verdicts(
    target: &Target,
    agent: Option<&AgentProbe>,
    devices: &mut [DeviceResult],
) {
    let allowed = agent.and_then(|a| a.cors.as_ref()).map(|c| c.allowed);
    for d in devices {
        if d.verdict != ReachVerdict::CorsBlocked || device_tested_the_origin(target, d) {
            continue;
        }
        // Blocked for the configured origin too, or not evaluated yet: it stays.
        if allowed == Some(true) {
            d.verdict = ReachVerdict::Reachable;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cors::{evaluate, CorsRequest, ObservedResponse};
    use crate::diagnosis::vantage_points::compare;
    use crate::diagnosis::Severity;
    use crate::probe::{BrowserCheck, FetchAttempt, FetchOutcome, RulesVerdict, TargetSource};

    fn target(origin: Option<&str>) -> Target {
        Target {
            id: "api".into(),
            name: "Shop API".into(),
            url: "https://api.shop.example/products".into(),
            expected_status: None,
            cors_origin: origin.map(str::to_owned),
            cors_method: None,
            cors_headers: vec![],
            cors_credentials: Default::default(),
            cors_mode: Default::default(),
            proxy_admin: None,
            firewall: Default::default(),
            interval_seconds: 60,
            source: TargetSource::Config,
        }
    }

    /// The agent's probe with its CORS evaluation for `https://shop.example`, the API
    /// answering `acao` (or nothing).
    fn agent(acao: Option<&str>) -> AgentProbe {
        let req = CorsRequest::new("https://shop.example", "GET");
        let mut actual = ObservedResponse::new(200);
        if let Some(v) = acao {
            actual = actual.header("Access-Control-Allow-Origin", v);
        }
        let report = evaluate(&req, None, Some(&actual));
        AgentProbe {
            verdict: if report.allowed {
                ReachVerdict::Reachable
            } else {
                ReachVerdict::CorsBlocked
            },
            summary: "HTTP 200 in 40 ms".into(),
            cors: Some(report),
            ..AgentProbe::empty("api", chrono::Utc::now())
        }
    }

    /// A phone on the agent's page: its no-cors fetch answered, its cors fetch (for the
    /// agent's origin) was refused by the browser.
    fn phone(page: Option<&str>) -> DeviceResult {
        let ok = FetchAttempt {
            outcome: FetchOutcome::Ok,
            status: None,
            elapsed_ms: 90,
            error: None,
        };
        let check = BrowserCheck {
            target_id: "api".into(),
            no_cors: ok.clone(),
            cors: FetchAttempt {
                outcome: FetchOutcome::NetworkError,
                ..ok
            },
            blocked_by: None,
            timing: None,
        };
        DeviceResult {
            device_id: "office-phone".into(),
            client_ip: "198.51.100.23".into(),
            user_agent: "phone".into(),
            received_at: chrono::Utc::now(),
            verdict: crate::probe::classify_browser(&check),
            check,
            rules: None,
            page_origin: page.map(str::to_owned),
        }
    }

    fn no_rules(_: &str) -> Option<RulesVerdict> {
        None
    }

    const AGENT_PAGE: &str = "http://203.0.113.5:8787";

    #[test]
    fn the_configured_origin_decides_when_the_phone_tested_another() {
        let t = target(Some("https://shop.example"));
        // The API admits the shop: the office phone's path works, and nothing is wrong.
        let a = agent(Some("https://shop.example"));
        let mut devices = [phone(Some(AGENT_PAGE))];
        assert_eq!(devices[0].verdict, ReachVerdict::CorsBlocked);
        settle_device_verdicts(&t, Some(&a), &mut devices);
        assert_eq!(devices[0].verdict, ReachVerdict::Reachable);
        let f = compare(&t, Some(&a), &devices, &no_rules);
        assert!(f.iter().all(|f| f.severity < Severity::Warning), "{f:#?}");
        // The API admits nobody: still blocked, and the finding is about the shop's origin.
        let a = agent(None);
        let mut devices = [phone(Some(AGENT_PAGE))];
        settle_device_verdicts(&t, Some(&a), &mut devices);
        assert_eq!(devices[0].verdict, ReachVerdict::CorsBlocked);
        let f = compare(&t, Some(&a), &devices, &no_rules);
        assert!(f[0].explanation.contains("https://shop.example"), "{f:#?}");
    }

    #[test]
    fn the_phones_own_result_counts_for_its_own_origin() {
        let a = agent(Some("https://shop.example"));
        for (t, page) in [
            // No origin configured: the page is the phone page's, and its result is the test.
            (target(None), Some(AGENT_PAGE)),
            // The target is about the phone page's origin (written differently).
            (target(Some("HTTP://203.0.113.5:8787/")), Some(AGENT_PAGE)),
            // Stored before devices sent their origin.
            (target(Some("https://shop.example")), None),
        ] {
            let mut devices = [phone(page)];
            settle_device_verdicts(&t, Some(&a), &mut devices);
            assert_eq!(
                devices[0].verdict,
                ReachVerdict::CorsBlocked,
                "{:?}",
                t.cors_origin
            );
        }
        // The agent has not evaluated CORS yet: nothing to replace it with.
        let t = target(Some("https://shop.example"));
        let mut devices = [phone(Some(AGENT_PAGE))];
        settle_device_verdicts(&t, None, &mut devices);
        assert_eq!(devices[0].verdict, ReachVerdict::CorsBlocked);
    }
}
