//! The comparison diagnosis on devices' results next to the agent's probe.

use super::*;
use crate::probe::{
    AddressFamily, BrowserCheck, FetchAttempt, FetchOutcome, TargetSource, TcpAttempt,
};

fn target() -> Target {
    Target {
        id: "api".into(),
        name: "API".into(),
        url: "https://api.shop.example/products".into(),
        expected_status: None,
        cors_origin: None,
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

fn agent(verdict: ReachVerdict) -> AgentProbe {
    AgentProbe {
        tcp: vec![TcpAttempt {
            address: "198.51.100.10:443".into(),
            family: AddressFamily::Ipv4,
            outcome: if verdict.network_ok() {
                TcpOutcome::Connected
            } else {
                TcpOutcome::TimedOut
            },
            elapsed_ms: 1.0,
            error: None,
        }],
        verdict,
        summary: "HTTP 200 in 42 ms".into(),
        ..AgentProbe::empty("api", chrono::Utc::now())
    }
}

fn attempt(outcome: FetchOutcome, ms: u32) -> FetchAttempt {
    FetchAttempt {
        outcome,
        status: None,
        elapsed_ms: ms,
        error: None,
    }
}

fn device(ip: &str, no_cors: FetchOutcome, cors: FetchOutcome) -> DeviceResult {
    let check = BrowserCheck {
        target_id: "api".into(),
        no_cors: attempt(no_cors, 8000),
        cors: attempt(cors, 8000),
        blocked_by: None,
        timing: None,
    };
    DeviceResult {
        device_id: "d".into(),
        client_ip: ip.into(),
        user_agent: "phone".into(),
        received_at: chrono::Utc::now(),
        verdict: crate::probe::classify_browser(&check),
        check,
        rules: None,
        page_origin: None,
    }
}

fn no_rules(_: &str) -> Option<RulesVerdict> {
    None
}

#[test]
fn guest_wifi_timeout_names_the_source_and_the_address() {
    let a = agent(ReachVerdict::Reachable);
    let d = device("203.0.113.7", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let f = compare(&target(), Some(&a), &[d], &no_rules);
    assert_eq!(f[0].code, "device_blocked_timeout");
    assert_eq!(f[0].severity, Severity::Critical);
    assert!(f[0].summary.contains("203.0.113.7"), "{}", f[0].summary);
    assert!(
        f[0].summary.contains("api.shop.example:443"),
        "{}",
        f[0].summary
    );
    assert!(
        f[0].explanation.contains("198.51.100.10:443"),
        "{}",
        f[0].explanation
    );
    assert!(
        f[0].explanation.contains("No security-group"),
        "{}",
        f[0].explanation
    );
    // No rules: no made-up group id, but how to get the real one.
    let fix = f[0].fix.as_ref().unwrap();
    assert_eq!(fix.snippet, None);
    assert!(
        fix.description.contains("Load the security groups"),
        "{}",
        fix.description
    );
    // A public agent address: no "if it is private" advice.
    assert!(
        !f[0].explanation.contains("private address"),
        "{}",
        f[0].explanation
    );
}

fn rules_saying(admitted: bool, fix: Option<&str>) -> impl Fn(&str) -> Option<RulesVerdict> + '_ {
    move |ip: &str| {
        Some(RulesVerdict {
            source_ip: ip.to_owned(),
            admitted,
            summary: if admitted {
                format!("allowed: sg-0ffffffffffffffff admits {ip} (0.0.0.0/0)")
            } else {
                format!("no inbound rule admits {ip} on tcp/443")
            },
            fix: fix.map(|command| crate::rules::RuleFix {
                set_id: "sg-0123456789abcdef0".into(),
                provider: crate::rules::Provider::Aws,
                description: "adds an inbound rule".into(),
                command: command.into(),
                json: "{}".into(),
            }),
        })
    }
}

#[test]
fn the_rules_name_the_group_or_are_contradicted() {
    let a = agent(ReachVerdict::Reachable);
    let d = device("203.0.113.7", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let cmd = "aws ec2 authorize-security-group-ingress --group-id sg-0123456789abcdef0 --protocol tcp --port 443 --cidr 203.0.113.7/32";
    let f = compare(
        &target(),
        Some(&a),
        std::slice::from_ref(&d),
        &rules_saying(false, Some(cmd)),
    );
    let fix = f[0].fix.as_ref().unwrap();
    assert_eq!(fix.snippet.as_deref(), Some(cmd));
    assert!(
        fix.description
            .contains("sg-0123456789abcdef0 refuses it now"),
        "{}",
        fix.description
    );

    // The loaded rules (every set: none is attached) admit it, and it timed out.
    let f = compare(
        &target(),
        Some(&a),
        std::slice::from_ref(&d),
        &rules_saying(true, None),
    );
    assert_eq!(
        (f[0].code, f[0].severity),
        (FindingCode::DeviceBlockedTimeout, Severity::Critical)
    );
    assert!(
        f[0].summary.contains("the evidence contradicts the rules"),
        "{}",
        f[0].summary
    );
    assert!(
        f[0].explanation.contains("may not apply here at all"),
        "{}",
        f[0].explanation
    );
    assert!(f[0]
        .fix
        .as_ref()
        .unwrap()
        .description
        .contains("Say which loaded rule sets apply"));
    // Attached sets admit it: another layer drops it.
    let mut scoped = target();
    scoped.firewall.sets = vec!["sg-0123456789abcdef0".into()];
    let f = compare(
        &scoped,
        Some(&a),
        std::slice::from_ref(&d),
        &rules_saying(true, None),
    );
    assert!(
        f[0].explanation
            .contains("a layer that is not loaded drops it"),
        "{}",
        f[0].explanation
    );

    // A phone-link holder hears nothing about rules, loaded or not.
    let f = compare_for_link_holder(&target(), Some(&a), std::slice::from_ref(&d));
    assert!(!f[0].explanation.contains("rules"), "{}", f[0].explanation);
}

#[test]
fn a_failed_probe_with_its_own_finding_is_not_said_twice() {
    let mut a = agent(ReachVerdict::HttpError);
    a.summary = "HTTP 503 in 5 ms from 127.0.0.1:8080 (HAProxy error page)".into();
    let f = compare(&target(), Some(&a), &[], &no_rules);
    assert_eq!(
        (f[0].code, f[0].severity),
        (FindingCode::AgentProbeFailed, Severity::Warning)
    );
    a.findings.push(Finding::new(
        FindingCode::ProxyBackendDown,
        Severity::Critical,
        "HAProxy answers 503 because it marked 10.0.0.100:18443 down",
        "…",
    ));
    let f = compare(&target(), Some(&a), &[], &no_rules);
    assert_eq!(
        (f[0].code, f[0].severity),
        (FindingCode::AgentProbeFailed, Severity::Info)
    );
}

#[test]
fn the_agent_line_is_one_sentence_and_private_paths_are_checked() {
    let mut a = agent(ReachVerdict::Reachable);
    a.summary = "The agent reaches it (HTTP 200).".into();
    assert_eq!(
        agent_line(Some(&a)),
        "Reachable from the agent: the agent reaches it (HTTP 200)"
    );
    a.summary = "HTTP 200 in 42 ms".into();
    assert_eq!(
        agent_line(Some(&a)),
        "Reachable from the agent: HTTP 200 in 42 ms"
    );
    // The agent reached a private address; the guest is outside.
    a.tcp[0].address = "10.0.1.20:443".into();
    let d = device("203.0.113.7", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let f = compare(&target(), Some(&a), &[d], &no_rules);
    assert!(
        f[0].explanation
            .contains("The agent reached 10.0.1.20:443, a private address"),
        "{}",
        f[0].explanation
    );
    // Both inside: nothing to say about it.
    let d = device("10.0.9.9", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let f = compare(&target(), Some(&a), &[d], &no_rules);
    assert!(
        !f[0].explanation.contains("private address"),
        "{}",
        f[0].explanation
    );
    assert!(!private_path_note("[fd00::5]:443", "2001:db8::9").is_empty());
}

#[test]
fn a_slow_service_is_not_called_a_firewall() {
    let mut a = agent(ReachVerdict::Reachable);
    a.http = Some(crate::probe::HttpResult {
        url: "https://api.shop.example/products".into(),
        status: 200,
        headers: vec![],
        body_size: 2,
        body_head: "{}".into(),
        body_truncated: false,
        timing: crate::probe::HttpTiming {
            total_ms: 9500.0,
            ..Default::default()
        },
        redirects: vec![],
        fingerprint: crate::fingerprint::attribute(200, &[], b"{}"),
    });
    let d = device("203.0.113.7", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let f = compare(&target(), Some(&a), &[d], &no_rules);
    assert_eq!(f[0].code, "device_timeout_slow_service");
    assert!(f[0].summary.contains("9.5 s"), "{}", f[0].summary);
}

#[test]
fn loaded_rules_are_quoted() {
    let a = agent(ReachVerdict::Reachable);
    let d = device("203.0.113.7", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let rules = |ip: &str| {
        Some(RulesVerdict {
            source_ip: ip.to_owned(),
            admitted: false,
            summary: "no inbound rule admits 203.0.113.7 on tcp/443".into(),
            fix: None,
        })
    };
    let f = compare(&target(), Some(&a), &[d], &rules);
    assert!(f[0]
        .explanation
        .contains("Rules loaded: no inbound rule admits"));
}

#[test]
fn everything_reachable_is_ok_and_failures_everywhere_say_so() {
    let a = agent(ReachVerdict::Reachable);
    let d = device("10.78.0.2", FetchOutcome::Ok, FetchOutcome::Ok);
    let f = compare(&target(), Some(&a), std::slice::from_ref(&d), &no_rules);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code, "reachable_everywhere");
    assert_eq!(f[0].severity, Severity::Ok);

    let down = agent(ReachVerdict::TimedOut);
    let g = device("203.0.113.7", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let f = compare(&target(), Some(&down), &[g], &no_rules);
    assert_eq!(f[0].code, "unreachable_everywhere");

    let f = compare(&target(), Some(&down), &[d], &no_rules);
    assert_eq!(f[0].code, "agent_only_blocked");
}

#[test]
fn cors_and_not_attempted_cases() {
    let a = agent(ReachVerdict::Reachable);
    let d = device("10.78.0.2", FetchOutcome::Ok, FetchOutcome::NetworkError);
    assert_eq!(d.verdict, ReachVerdict::CorsBlocked);
    let f = compare(&target(), Some(&a), &[d], &no_rules);
    assert_eq!(f[0].code, "device_cors_blocked");

    let mut m = device("10.78.0.2", FetchOutcome::Skipped, FetchOutcome::Skipped);
    m.check.blocked_by = Some(BrowserBlock::MixedContent);
    m.verdict = crate::probe::classify_browser(&m.check);
    let f = compare(&target(), Some(&a), &[m], &no_rules);
    assert_eq!(f[0].code, "device_not_attempted");
    assert!(f[0].explanation.contains("mixed content"));

    let r = device(
        "10.79.0.2",
        FetchOutcome::NetworkError,
        FetchOutcome::NetworkError,
    );
    let f = compare(&target(), Some(&a), &[r], &no_rules);
    assert_eq!(f[0].code, "device_failed_before_http");
}

#[test]
fn no_agent_probe_yet() {
    let d = device("10.78.0.2", FetchOutcome::Ok, FetchOutcome::Ok);
    let f = compare(&target(), None, &[d], &no_rules);
    assert_eq!(f[0].code, "agent_not_probed");
    let t = device("203.0.113.7", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let f = compare(&target(), None, &[t], &no_rules);
    assert_eq!(
        f[0].code, "device_failed_agent_not_probed",
        "not 'neither can reach'"
    );
    assert!(compare(&target(), None, &[], &no_rules).is_empty());
    assert_eq!(target_address(&target(), None), "api.shop.example:443");
}

#[test]
fn loaded_rules_without_a_command_are_not_called_missing() {
    let a = agent(ReachVerdict::Reachable);
    let d = device("203.0.113.7", FetchOutcome::Timeout, FetchOutcome::Timeout);
    let f = compare(&target(), Some(&a), &[d], &rules_saying(false, None));
    let fix = f[0].fix.as_ref().unwrap();
    assert!(
        fix.description.contains("give no exact command"),
        "{}",
        fix.description
    );
    assert!(
        !fix.description.contains("Load the security groups"),
        "{}",
        fix.description
    );
}

#[test]
fn addresses_of_both_families_are_classified_whole() {
    // A full IPv6 address has no `::` and ends in a number that is not a port.
    assert!(!private_path_note("fd12:3456:789a:1:2:3:4:5", "10.0.0.9").contains("private address"));
    assert!(
        private_path_note("[fd12:3456:789a:1:2:3:4:5]:443", "2001:db8::9")
            .contains("private address")
    );
    assert!(private_path_note("10.0.1.20:443", "203.0.113.7").contains("private address"));
    // Unreadable: nothing said.
    assert_eq!(private_path_note("api.internal:443", "203.0.113.7"), "");
}
