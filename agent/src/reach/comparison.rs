//! The comparison: every target with the agent's latest probe, every device's latest
//! result, and the diagnosis of where they differ.

use axum::extract::State;
use axum::Json;
use vantage_shared::diagnosis::page_origin::settle_device_verdicts;
use vantage_shared::diagnosis::proxy_view::connect_direct;
use vantage_shared::diagnosis::vantage_points::compare;
use vantage_shared::probe::{
    AgentProbe, Comparison, DeviceResult, RulesVerdict, Target, TargetComparison,
};
use vantage_shared::routes;
use vantage_shared::ApiErrorBody;

use super::targets::all_targets;
use crate::error::ApiError;
use crate::AppState;

/// Devices shown per target in the comparison.
const DEVICES_PER_TARGET: usize = 20;

/// Every target with the agent's latest probe, every device's latest result, and the
/// diagnosis (admin).
#[utoipa::path(get, path = routes::COMPARISON, tag = "reach", security(("bearer" = [])),
    responses((status = 200, body = Comparison), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody)))]
pub(super) async fn comparison(
    State(state): State<AppState>,
) -> Result<Json<Comparison>, ApiError> {
    let targets = all_targets(&state).await?;
    let mut agents = state.store.agent_probes().await?;
    // A proxied target's held-down server, answering a direct target: said in one finding.
    let latest: Vec<(Target, AgentProbe)> = targets
        .iter()
        .filter_map(|t| agents.get(&t.id).map(|p| (t.clone(), p.clone())))
        .collect();
    for (t, probe) in agents.iter_mut() {
        let others: Vec<(&Target, &AgentProbe)> = latest
            .iter()
            .filter(|(o, _)| o.id != *t)
            .map(|(o, p)| (o, p))
            .collect();
        connect_direct(probe, &others);
    }
    let mut devices = state.store.device_results(DEVICES_PER_TARGET).await?;
    let rules_loaded = !state.rules.is_empty();
    let targets = targets
        .into_iter()
        .map(|t| {
            let agent = agents.remove(&t.id);
            let mut devices = devices.remove(&t.id).unwrap_or_default();
            let port = target_port(&t);
            for d in &mut devices {
                d.rules = state.rules.verdict_for(&d.client_ip, port, &t.firewall);
            }
            settle_device_verdicts(&t, agent.as_ref(), &mut devices);
            let findings = compare(&t, agent.as_ref(), &devices, &|ip| rules_of(&devices, ip));
            TargetComparison {
                target: t,
                agent,
                devices,
                findings,
            }
        })
        .collect();
    Ok(Json(Comparison {
        targets,
        rules_loaded,
    }))
}

/// The port the rules are asked about: the target's.
pub(super) fn target_port(t: &Target) -> u16 {
    vantage_shared::probe::parse_target_url(&t.url).map_or(443, |a| a.port)
}

/// The rules verdict already worked out for the device at `ip` (the diagnosis quotes it;
/// evaluating the rules again would give the same answer at the same cost).
pub(super) fn rules_of(devices: &[DeviceResult], ip: &str) -> Option<RulesVerdict> {
    devices
        .iter()
        .find(|d| d.client_ip == ip)
        .and_then(|d| d.rules.clone())
}
