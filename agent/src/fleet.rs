//! `POST /api/fleet/check`: when the Fleet page cannot reach another agent, the browser
//! cannot say why (a CORS refusal and a dead port are the same `TypeError`). The page asks
//! the agent that serves it to probe the other agent's `/api/health` as the page would
//! call it: with the page's origin and an `Authorization` header, so Vantage's own CORS
//! evaluation tells a missing `--cors-allow-origin` from an agent that is down. Only the
//! health route of the given base URL is probed, and only the admin may ask.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::fleet::{check_agent_url, FleetCheck};
use vantage_shared::probe::{AgentProbe, Target, TargetSource};
use vantage_shared::rules::RuleScope;
use vantage_shared::{routes as paths, ApiErrorBody};

use crate::error::{ApiError, ApiJson};
use crate::probe::{probe_target, ProbeContext};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(fleet_check))
}

/// The probe of another agent's health route, as the dashboard asking would make it.
#[utoipa::path(post, path = paths::FLEET_CHECK, tag = "fleet", security(("bearer" = [])), request_body = FleetCheck,
    responses((status = 200, body = AgentProbe), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody)))]
pub(crate) async fn fleet_check(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FleetCheck>,
) -> Result<Json<AgentProbe>, ApiError> {
    let url = check_agent_url(&body.url).map_err(|e| ApiError::BadRequest(format!("url: {e}")))?;
    let origin = crate::reach::request_origin(&headers);
    let target = Target {
        id: "fleet-check".to_owned(),
        name: url.clone(),
        url: format!("{url}{}", paths::HEALTH),
        expected_status: Some(200),
        cors_origin: Some(origin),
        cors_method: Some("GET".to_owned()),
        // The value does not matter to CORS; the name makes the request need a preflight.
        cors_headers: vec!["Authorization: Bearer …".to_owned()],
        cors_credentials: Default::default(),
        cors_mode: Default::default(),
        proxy_admin: None,
        firewall: RuleScope::default(),
        interval_seconds: vantage_shared::probe::DEFAULT_INTERVAL_SECONDS,
        source: TargetSource::Dashboard,
    };
    let _permit = state
        .reach
        .probes
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(probe_target(&target, &ProbeContext::default()).await))
}
