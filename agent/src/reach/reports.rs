//! Device reports: one device's browser results, recorded with the address the agent saw it
//! from (within the link's budget of reports and devices), answered with the comparison for
//! that device; worded from what a phone may see when a phone link posted it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use chrono::Utc;
use vantage_shared::diagnosis::page_origin::settle_device_verdicts;
use vantage_shared::diagnosis::vantage_points::{compare, compare_for_link_holder};
use vantage_shared::probe::{
    classify_browser, AgentProbe, BrowserCheck, Comparison, DeviceReportIn, DeviceResult, Target,
    TargetComparison, MAX_REPORT_RESULTS,
};
use vantage_shared::routes;
use vantage_shared::{AgentEvent, ApiErrorBody};

use super::comparison::{rules_of, target_port};
use super::probes::redact_probe;
use super::targets::all_targets;
use super::ClientIp;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::AppState;

/// Reports one phone link may post per minute.
const PHONE_REPORTS_PER_MINUTE: usize = 20;
/// Devices one phone link may report from (a family's phones, a team's laptops).
pub const MAX_DEVICES_PER_LINK: usize = 50;
/// Device result rows kept in all; the oldest go first.
const MAX_DEVICE_ROWS: usize = 20_000;
/// Largest report body: a result per target for the most targets allowed.
pub const MAX_REPORT_BYTES: usize = 1024 * 1024;

fn valid_device_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A target as a phone link holder may see it: name and URL, none of its settings
/// (request headers may hold keys; the rest is the admin's business).
fn redact_target(t: &Target) -> Target {
    Target {
        id: t.id.clone(),
        name: t.name.clone(),
        url: t.url.clone(),
        expected_status: None,
        cors_origin: None,
        cors_method: None,
        cors_headers: Vec::new(),
        cors_credentials: Default::default(),
        cors_mode: Default::default(),
        proxy_admin: None,
        // Which security groups apply is the admin's business, not the phone's.
        firewall: Default::default(),
        interval_seconds: t.interval_seconds,
        source: t.source,
    }
}

/// Records one device's browser results with the address the agent saw, and answers with
/// the comparison for that device.
#[utoipa::path(post, path = routes::REPORTS, tag = "reach", security(("bearer" = [])), request_body = DeviceReportIn,
    responses((status = 200, body = Comparison), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 413, body = ApiErrorBody)))]
pub(super) async fn post_report(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(report): ApiJson<DeviceReportIn>,
) -> Result<Json<Comparison>, ApiError> {
    check_report(&report)?;
    let targets = all_targets(&state).await?;
    for r in &report.results {
        if !targets.iter().any(|t| t.id == r.target_id) {
            return Err(ApiError::BadRequest(format!(
                "no target `{}`: the probe set changed; reload the page",
                r.target_id.chars().take(80).collect::<String>()
            )));
        }
    }
    let results = device_results(
        &report.device_id,
        &report.page_origin,
        report.results,
        ip,
        &headers,
    );
    let owner = report_owner(&state, &caller)?;
    let saved = state
        .store
        .save_device_results(
            owner,
            results.clone(),
            MAX_DEVICES_PER_LINK,
            MAX_DEVICE_ROWS,
        )
        .await?;
    if !saved {
        return Err(ApiError::TooManyRequests(format!(
            "this link has already reported from {MAX_DEVICES_PER_LINK} devices: create a new link"
        )));
    }
    state.events.publish(AgentEvent::DeviceReported {
        device_id: report.device_id.clone(),
        client_ip: ip.to_string(),
    });
    let agents = state.store.agent_probes().await?;
    // Alerts are judged on the admin's view (rules included), whoever reported.
    let full = device_comparison(&state, &targets, results.clone(), agents.clone(), false);
    tokio::spawn(crate::alerts::devices::reported(
        state.clone(),
        full.clone(),
    ));
    Ok(Json(match caller {
        Caller::Phone { .. } => device_comparison(&state, &targets, results, agents, true),
        Caller::Admin => full,
    }))
}

/// The report's own limits, before anything is looked up.
fn check_report(report: &DeviceReportIn) -> Result<(), ApiError> {
    if !valid_device_id(&report.device_id) {
        return Err(ApiError::BadRequest(
            "device_id must be 1–64 letters, digits, `-` or `_`".into(),
        ));
    }
    if report.results.len() > MAX_REPORT_RESULTS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_REPORT_RESULTS} results per report"
        )));
    }
    if report.page_origin.chars().count() > 300 {
        return Err(ApiError::BadRequest("page_origin is too long".into()));
    }
    Ok(())
}

/// The rows to store: each browser result with the device, the address the agent saw it
/// from, its user agent and its verdict.
fn device_results(
    device_id: &str,
    page_origin: &str,
    results: Vec<BrowserCheck>,
    ip: IpAddr,
    headers: &HeaderMap,
) -> Vec<DeviceResult> {
    let user_agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .chars()
        .take(300)
        .collect();
    let now = Utc::now();
    results
        .into_iter()
        .map(|mut check| {
            // Error texts come from the browser: keep them short.
            for a in [&mut check.no_cors, &mut check.cors] {
                if let Some(e) = &mut a.error {
                    *e = e.chars().take(300).collect();
                }
            }
            DeviceResult {
                device_id: device_id.to_owned(),
                client_ip: ip.to_string(),
                user_agent: user_agent.clone(),
                received_at: now,
                verdict: classify_browser(&check),
                check,
                rules: None,
                page_origin: Some(page_origin.to_owned()).filter(|o| !o.is_empty()),
            }
        })
        .collect()
}

/// Whose rows these are ("admin", or the phone link's code), once a phone link is within
/// its budget of reports.
fn report_owner(state: &AppState, caller: &Caller) -> Result<String, ApiError> {
    Ok(match caller {
        Caller::Admin => "admin".to_owned(),
        Caller::Phone { code, .. } => {
            if !state.reach.limiter.allow(
                &format!("report:{code}"),
                PHONE_REPORTS_PER_MINUTE,
                Duration::from_secs(60),
            ) {
                return Err(ApiError::TooManyRequests(format!(
                    "at most {PHONE_REPORTS_PER_MINUTE} reports a minute per phone link"
                )));
            }
            code.clone()
        }
    })
}

/// The comparison for the reporting device alone; for a phone, with the target, the agent's
/// probe and the rules left out as in the phone's own view.
fn device_comparison(
    state: &AppState,
    targets: &[Target],
    results: Vec<DeviceResult>,
    mut agents: HashMap<String, AgentProbe>,
    phone: bool,
) -> Comparison {
    let targets = results
        .into_iter()
        .filter_map(|d| {
            let t = targets.iter().find(|t| t.id == d.check.target_id)?;
            let mut agent = agents.remove(&t.id);
            // Which CORS result counts is settled on the full probe, before any redaction.
            let mut d = d;
            settle_device_verdicts(t, agent.as_ref(), std::slice::from_mut(&mut d));
            if phone {
                // The diagnosis is worded from what the phone may see, so it does not quote
                // resolved addresses or server headers.
                agent = agent.as_ref().map(redact_probe);
            }
            // Phone holders do not learn what the firewall admits; the admin's view does.
            d.rules = if phone {
                None
            } else {
                state
                    .rules
                    .verdict_for(&d.client_ip, target_port(t), &t.firewall)
            };
            let one = std::slice::from_ref(&d);
            let findings = if phone {
                compare_for_link_holder(t, agent.as_ref(), one)
            } else {
                compare(t, agent.as_ref(), one, &|ip| rules_of(one, ip))
            };
            Some(TargetComparison {
                target: if phone { redact_target(t) } else { t.clone() },
                agent,
                devices: vec![d],
                findings,
            })
        })
        .collect();
    Comparison {
        targets,
        rules_loaded: !phone && !state.rules.is_empty(),
    }
}
