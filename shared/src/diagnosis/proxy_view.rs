//! The proxy's own view next to the probe (docs/incidents.md, "Proxy says 503, backend says
//! 200"): when the probe got a 5xx and the proxy's admin endpoint holds every server of the
//! backend down, the proxy answered itself; the finding names the servers and why, and it
//! stands in for the generic "proxy error page" finding (one root cause, one finding).

use std::collections::BTreeMap;

use super::{sort_findings, Finding, FindingCode, Severity};
use crate::probe::{AgentProbe, Target};
use crate::proxy_admin::{ProxyObservation, ProxyServer, ServerState};

/// Adds what the proxy's view explains to a concluded probe.
pub fn apply(probe: &mut AgentProbe) {
    let Some(obs) = probe.proxy.clone() else {
        return;
    };
    let proxy = obs.kind.proxy();
    if let Some(e) = &obs.error {
        probe.findings.push(unreadable(&obs, proxy, e));
        sort_findings(&mut probe.findings);
        return;
    }
    let backends = by_backend(&obs);
    let dead = dead_servers(&obs);
    let status = probe.http.as_ref().map(|h| h.status);
    match status {
        // The proxy's own "no server" answers, and only when the servers are known to be
        // this target's: its backend is named, or the output has that one backend.
        Some(code @ (502..=504)) if !dead.is_empty() => {
            let f = backend_down(&obs, proxy, code, &dead);
            probe.findings.retain(|f| {
                !matches!(
                    f.code,
                    FindingCode::HttpProxyErrorPage | FindingCode::HttpErrorStatus
                )
            });
            // What the browser will make of the 503 (a CORS error) follows from it: still
            // worth knowing, no longer a root cause of its own.
            for f in &mut probe.findings {
                if f.code == FindingCode::CorsProxyErrorPage {
                    f.severity = Severity::Info;
                }
            }
            probe.summary = format!("{}: {}", probe.summary, held_down(proxy, &dead));
            probe.findings.push(f);
        }
        _ => {
            for (backend, list) in &backends {
                if let Some(f) = some_down(proxy, backend, list) {
                    probe.findings.push(f);
                }
            }
        }
    }
    sort_findings(&mut probe.findings);
}

/// The servers by backend.
fn by_backend(obs: &ProxyObservation) -> BTreeMap<&str, Vec<&ProxyServer>> {
    let mut backends: BTreeMap<&str, Vec<&ProxyServer>> = BTreeMap::new();
    for s in &obs.servers {
        backends.entry(s.backend.as_str()).or_default().push(s);
    }
    backends
}

/// The servers of this target's backend when none of them is up; empty when some is, or
/// when the target names no backend and the output has several (which one serves it is
/// then unknown).
fn dead_servers(obs: &ProxyObservation) -> Vec<&ProxyServer> {
    let backends = by_backend(obs);
    if obs.backend.is_none() && backends.len() != 1 {
        return Vec::new();
    }
    backends
        .into_values()
        .filter(|list| list.iter().all(|s| s.state != ServerState::Up))
        .flatten()
        .collect()
}

/// Connects a proxied target to a direct one that reaches the same backend server: when
/// the proxy holds a server down and another target's probe reached that very address
/// (`host:port`) and got an answer below 500, the finding says the backend answers directly
/// and the proxy holds it down. `others` are the other targets' latest probes.
pub fn connect_direct(probe: &mut AgentProbe, others: &[(&Target, &AgentProbe)]) {
    let Some(obs) = probe.proxy.as_ref() else {
        return;
    };
    let down: Vec<String> = dead_servers(obs)
        .iter()
        .filter_map(|s| s.address.clone())
        .collect();
    let direct = others.iter().find_map(|(t, p)| {
        let status = p.http.as_ref().map(|h| h.status).filter(|s| *s < 500)?;
        let reached = reached_addresses(t, p);
        let server = down.iter().find(|d| reached.iter().any(|r| r == *d))?;
        Some((t.name.clone(), server.clone(), status))
    });
    let Some((name, server, status)) = direct else {
        return;
    };
    if let Some(f) = probe
        .findings
        .iter_mut()
        .find(|f| f.code == FindingCode::ProxyBackendDown)
    {
        f.summary = format!("{}; directly, {server} answers HTTP {status}", f.summary);
        f.explanation = format!(
            "{} The target `{name}` reaches {server} directly and gets HTTP {status}: the backend answers, and the proxy holds it down, so the health check is what fails (its path, its expected status, or its timeout against the app's answer time).",
            f.explanation
        );
    }
}

/// The `host:port` a probe reached: its connected addresses and its URL's authority.
fn reached_addresses(t: &Target, p: &AgentProbe) -> Vec<String> {
    let mut out: Vec<String> = p
        .tcp
        .iter()
        .filter(|a| a.outcome == crate::probe::TcpOutcome::Connected)
        .map(|a| a.address.clone())
        .collect();
    if let Ok(a) = crate::probe::parse_target_url(&t.url) {
        out.push(a.authority());
    }
    out
}

/// `app/app2 (127.0.0.1:18082): health check: connection refused (L4CON)`.
fn server_words(s: &ProxyServer) -> String {
    match &s.reason {
        Some(r) => format!("{}: {r}", s.label()),
        None => s.label(),
    }
}

/// "HAProxy holds app/app2 (127.0.0.1:18082) down (health check: …)".
fn held_down(proxy: &str, dead: &[&ProxyServer]) -> String {
    let list: Vec<String> = dead
        .iter()
        .map(|s| match &s.reason {
            Some(r) => format!("{} down ({r})", s.label()),
            None => format!("{} {}", s.label(), state_word(s.state)),
        })
        .collect();
    format!("{proxy} holds {}", list.join(", "))
}

fn state_word(state: ServerState) -> &'static str {
    match state {
        ServerState::Up => "up",
        ServerState::Down => "down",
        ServerState::Maintenance => "in maintenance",
        ServerState::Draining => "draining",
    }
}

fn backend_down(obs: &ProxyObservation, proxy: &str, code: u16, dead: &[&ProxyServer]) -> Finding {
    let first = dead[0];
    let summary = format!(
        "{proxy} answers {code} because it marked {} {}{}",
        first.address.as_deref().unwrap_or(&first.label()),
        state_word(first.state),
        first
            .reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    let summary = if dead.len() > 1 {
        format!("{summary} and {} more", dead.len() - 1)
    } else {
        summary
    };
    let list: Vec<String> = dead.iter().map(|s| server_words(s)).collect();
    let direct = first
        .address
        .as_deref()
        .map(|a| format!(" (`curl -v http://{a}/` from the proxy's host, with the path the health check asks for)"))
        .unwrap_or_default();
    Finding::new(
        FindingCode::ProxyBackendDown,
        Severity::Critical,
        summary,
        format!(
            "{proxy}'s admin view ({}) has no server up for this target: {}. With none up, {proxy} answers {code} itself and the application is never asked. {}",
            obs.url,
            list.join("; "),
            meaning(first.reason.as_deref())
        ),
    )
    .with_fix(
        format!(
            "Check the server the way the proxy does{direct}: a refused or timed-out check means the app is down or listens elsewhere; a bad status means the check's path or expected status does not fit the app. Once the check passes again (`rise` times for HAProxy), the proxy sends traffic again, and the next probe shows it."
        ),
        None,
        None,
    )
}

/// What the check's result says about the server, for the explanation.
fn meaning(reason: Option<&str>) -> &'static str {
    let r = reason.unwrap_or_default();
    if r.contains("L4CON") || r.contains("L4TOUT") || r.contains("refused") {
        "The proxy cannot even connect to the server: it is stopped, listens on another address or port, or a firewall drops the proxy's packets."
    } else if r.contains("L7TOUT")
        || r.contains("L7STS")
        || r.contains("L7RSP")
        || r.contains("active health check")
    {
        "The server accepts connections but fails the health check itself (too slow, or the wrong status or path): it may well answer a direct request."
    } else if r.contains("outlier") {
        "Envoy ejected it for errors on live traffic; it returns after the ejection time."
    } else {
        "A direct request to the server shows whether it or the check is at fault."
    }
}

fn some_down(proxy: &str, backend: &str, list: &[&ProxyServer]) -> Option<Finding> {
    let out: Vec<&&ProxyServer> = list.iter().filter(|s| s.state != ServerState::Up).collect();
    if out.is_empty() {
        return None;
    }
    let severity = if out.iter().any(|s| s.state == ServerState::Down) {
        Severity::Warning
    } else {
        Severity::Info
    };
    let words: Vec<String> = out.iter().map(|s| server_words(s)).collect();
    let consequence = if out.len() == list.len() {
        format!("None is left: {proxy} answers requests for this backend itself (503).")
    } else {
        format!("{proxy} sends every request to the servers left; if they fail too, it answers 503 itself.")
    };
    Some(Finding::new(
        FindingCode::ProxyServersDown,
        severity,
        format!(
            "{} of {} servers of {proxy}'s backend `{backend}` are not taking traffic",
            out.len(),
            list.len()
        ),
        format!("{}. {consequence}", words.join("; ")),
    ))
}

fn unreadable(obs: &ProxyObservation, proxy: &str, e: &str) -> Finding {
    Finding::new(
        FindingCode::ProxyAdminUnreadable,
        Severity::Warning,
        format!("Could not read {proxy}'s admin endpoint {}: {e}", obs.url),
        "Without the proxy's own view, a 5xx from it cannot be traced to the server it holds down.",
    )
    .with_fix(
        match obs.kind.proxy() {
            "HAProxy" => "Give a stats page the agent can read without credentials (`listen stats` bound to 127.0.0.1 with `stats uri /stats`; the URL ends in `;csv`), or the stats socket (`stats socket /run/haproxy/admin.sock mode 660 level operator`) as `unix:/run/haproxy/admin.sock`.",
            _ => "Give Envoy's admin listener (`admin: address: 127.0.0.1:9901`) as `http://127.0.0.1:9901/clusters`.",
        },
        None,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy_admin::{ProxyAdmin, ProxyAdminKind};

    fn server(name: &str, addr: &str, state: ServerState, reason: Option<&str>) -> ProxyServer {
        ProxyServer {
            backend: "app".into(),
            name: name.into(),
            address: Some(addr.into()),
            state,
            reason: reason.map(str::to_owned),
        }
    }

    fn probe_with(status: u16, servers: Vec<ProxyServer>) -> AgentProbe {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let mut p = AgentProbe::empty("shop", at);
        p.http = Some(crate::probe::HttpResult {
            url: "http://127.0.0.1:8080/".into(),
            status,
            headers: vec![],
            body_size: 0,
            body_head: String::new(),
            body_truncated: false,
            timing: Default::default(),
            redirects: vec![],
            fingerprint: crate::fingerprint::attribute(status, &[], b""),
        });
        p.summary = format!("HTTP {status} in 2 ms from 127.0.0.1:8080");
        for code in [
            FindingCode::HttpProxyErrorPage,
            FindingCode::CorsProxyErrorPage,
        ] {
            p.findings
                .push(Finding::new(code, Severity::Critical, "x", "y"));
        }
        let admin = ProxyAdmin {
            kind: ProxyAdminKind::HaproxyCsv,
            url: "http://127.0.0.1:8404/stats;csv".into(),
            backend: None,
        };
        p.proxy = Some(ProxyObservation {
            servers,
            ..ProxyObservation::from_read(&admin, Ok("# pxname,svname,status\n".into()))
        });
        p
    }

    #[test]
    fn a_503_with_every_server_down_names_them_once() {
        let reason = "health check: timeout (no HTTP answer in time) (L7TOUT)";
        let mut p = probe_with(
            503,
            vec![server(
                "app1",
                "10.0.0.100:18443",
                ServerState::Down,
                Some(reason),
            )],
        );
        apply(&mut p);
        let codes: Vec<(FindingCode, Severity)> =
            p.findings.iter().map(|f| (f.code, f.severity)).collect();
        assert_eq!(
            codes,
            [
                (FindingCode::ProxyBackendDown, Severity::Critical),
                (FindingCode::CorsProxyErrorPage, Severity::Info)
            ]
        );
        assert_eq!(
            p.findings[0].summary,
            format!("HAProxy answers 503 because it marked 10.0.0.100:18443 down ({reason})")
        );
        assert!(
            p.summary.ends_with(&format!(
                "HAProxy holds app/app1 (10.0.0.100:18443) down ({reason})"
            )),
            "{}",
            p.summary
        );
    }

    #[test]
    fn partial_outages_and_recoveries() {
        let mut p = probe_with(
            200,
            vec![
                server("app1", "10.0.0.1:80", ServerState::Up, None),
                server(
                    "app2",
                    "10.0.0.2:80",
                    ServerState::Down,
                    Some("health check: HTTP 500 (L7STS)"),
                ),
            ],
        );
        p.findings.clear();
        apply(&mut p);
        assert_eq!(p.findings.len(), 1);
        assert_eq!(
            (p.findings[0].code, p.findings[0].severity),
            (FindingCode::ProxyServersDown, Severity::Warning)
        );
        assert!(
            p.findings[0].summary.starts_with("1 of 2 servers"),
            "{}",
            p.findings[0].summary
        );
        // Everything up: nothing to say, and the headline stays.
        let mut p = probe_with(
            200,
            vec![server("app1", "10.0.0.1:80", ServerState::Up, None)],
        );
        p.findings.clear();
        let before = p.summary.clone();
        apply(&mut p);
        assert!(p.findings.is_empty());
        assert_eq!(p.summary, before);
        // A 503 while a server is still up is not the proxy holding the backend down.
        let mut p = probe_with(
            503,
            vec![
                server("app1", "10.0.0.1:80", ServerState::Up, None),
                server(
                    "app2",
                    "10.0.0.2:80",
                    ServerState::Maintenance,
                    Some("set to maint by an operator"),
                ),
            ],
        );
        apply(&mut p);
        let codes: Vec<FindingCode> = p.findings.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                FindingCode::HttpProxyErrorPage,
                FindingCode::CorsProxyErrorPage,
                FindingCode::ProxyServersDown
            ]
        );
    }

    #[test]
    fn a_direct_target_on_the_held_down_server_is_named() {
        let reason = "health check: timeout (no HTTP answer in time) (L7TOUT)";
        let mut p = probe_with(
            503,
            vec![server(
                "app1",
                "10.0.0.100:18443",
                ServerState::Down,
                Some(reason),
            )],
        );
        apply(&mut p);
        let direct = Target::from_new(
            crate::probe::NewTarget {
                name: "api direct".into(),
                url: "http://10.0.0.100:18443/health".into(),
                expected_status: None,
                cors_origin: None,
                cors_method: None,
                cors_headers: vec![],
                cors_credentials: Default::default(),
                cors_mode: Default::default(),
                proxy_admin: None,
                firewall: Default::default(),
                interval_seconds: None,
                interval: None,
            },
            crate::probe::TargetSource::Dashboard,
        );
        // The direct probe failing too says nothing about the health check.
        let failing = probe_with(502, vec![]);
        let before = p.clone();
        connect_direct(&mut p, &[(&direct, &failing)]);
        assert_eq!(p, before);
        let ok = probe_with(200, vec![]);
        connect_direct(&mut p, &[(&direct, &ok)]);
        let f = &p.findings[0];
        assert!(
            f.summary
                .ends_with("; directly, 10.0.0.100:18443 answers HTTP 200"),
            "{}",
            f.summary
        );
        assert!(f.explanation.contains("`api direct`"), "{}", f.explanation);
    }

    #[test]
    fn the_cause_is_claimed_only_for_this_targets_backend_and_the_proxys_own_answers() {
        let mut other = server(
            "db1",
            "10.0.0.9:5432",
            ServerState::Down,
            Some("health check: TCP connect timed out (L4TOUT)"),
        );
        other.backend = "db".into();
        // Two backends, none named: which one serves this target is unknown.
        let mut p = probe_with(
            503,
            vec![
                server("app1", "10.0.0.1:80", ServerState::Up, None),
                other.clone(),
            ],
        );
        apply(&mut p);
        assert!(
            p.findings
                .iter()
                .all(|f| f.code != FindingCode::ProxyBackendDown),
            "{:#?}",
            p.findings
        );
        assert!(p
            .findings
            .iter()
            .any(|f| f.code == FindingCode::ProxyServersDown));
        // The app's own 500 through a backend that is down is not the proxy's answer.
        let mut p = probe_with(
            500,
            vec![server(
                "app1",
                "10.0.0.1:80",
                ServerState::Down,
                Some("health check: HTTP 500 (L7STS)"),
            )],
        );
        apply(&mut p);
        assert!(p
            .findings
            .iter()
            .all(|f| f.code != FindingCode::ProxyBackendDown));
        // Named, the dead backend is this target's.
        let mut p = probe_with(503, vec![other]);
        if let Some(o) = p.proxy.as_mut() {
            o.backend = Some("db".into());
        }
        apply(&mut p);
        assert!(p
            .findings
            .iter()
            .any(|f| f.code == FindingCode::ProxyBackendDown));
    }

    #[test]
    fn an_unreadable_endpoint_is_a_warning() {
        let mut p = probe_with(503, vec![]);
        if let Some(obs) = p.proxy.as_mut() {
            obs.error = Some("HTTP 401: the stats page asks for credentials".into());
        }
        apply(&mut p);
        let f = p
            .findings
            .iter()
            .find(|f| f.code == FindingCode::ProxyAdminUnreadable)
            .expect("finding");
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.summary.contains("HTTP 401"), "{}", f.summary);
    }
}
