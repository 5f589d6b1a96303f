//! The probe set: config targets (read-only here) and dashboard targets, listed, added,
//! changed and removed; and the lookups the other handlers use.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use vantage_shared::probe::{
    validate_new_target, NewTarget, Target, TargetPatch, TargetSource, MAX_TARGETS,
};
use vantage_shared::routes;
use vantage_shared::{AgentEvent, ApiErrorBody};

use crate::error::{ApiError, ApiJson, ApiPath};
use crate::AppState;

/// Config targets, then dashboard targets not shadowed by them.
pub(super) async fn all_targets(state: &AppState) -> Result<Vec<Target>, ApiError> {
    let mut out: Vec<Target> = state.reach.config_targets.to_vec();
    for t in state.store.targets().await? {
        if !out.iter().any(|o| o.id == t.id) {
            out.push(t);
        }
    }
    Ok(out)
}

pub(super) async fn find_target(state: &AppState, id: &str) -> Result<Target, ApiError> {
    all_targets(state)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no target `{id}`: only targets in the config file or added in the dashboard can be probed"
            ))
        })
}

/// Every probe target, config targets first.
#[utoipa::path(get, path = routes::TARGETS, tag = "reach", security(("bearer" = [])),
    responses((status = 200, body = [Target]), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody)))]
pub(super) async fn list_targets(
    State(state): State<AppState>,
) -> Result<Json<Vec<Target>>, ApiError> {
    Ok(Json(all_targets(&state).await?))
}

/// Adds a target (admin). Its id is the slug of its name.
#[utoipa::path(post, path = routes::TARGETS, tag = "reach", security(("bearer" = [])), request_body = NewTarget,
    responses((status = 201, body = Target), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(super) async fn add_target(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewTarget>,
) -> Result<(StatusCode, Json<Target>), ApiError> {
    validate_new_target(&new).map_err(ApiError::BadRequest)?;
    let existing = all_targets(&state).await?;
    if existing.len() >= MAX_TARGETS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_TARGETS} targets; delete some first"
        )));
    }
    let target = Target::from_new(new, TargetSource::Dashboard);
    if existing.iter().any(|t| t.id == target.id)
        || !state.store.insert_target(target.clone()).await?
    {
        return Err(ApiError::Conflict(format!(
            "a target with id `{}` exists: choose another name",
            target.id
        )));
    }
    state.events.publish(AgentEvent::TargetsChanged);
    Ok((StatusCode::CREATED, Json(target)))
}

/// Removes a dashboard target with its results (admin). Config targets are removed in the file.
#[utoipa::path(delete, path = routes::TARGET, tag = "reach", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")),
    responses((status = 204), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(super) async fn delete_target(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.reach.config_targets.iter().any(|t| t.id == id) {
        return Err(ApiError::Conflict(format!(
            "target `{id}` is defined in the config file: remove it there and restart the agent"
        )));
    }
    if !state.store.delete_target(id.clone()).await? {
        return Err(ApiError::NotFound(format!("no dashboard target `{id}`")));
    }
    state.events.publish(AgentEvent::TargetsChanged);
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a dashboard target's probe interval (admin); its history stays. Config targets
/// change in the file.
#[utoipa::path(patch, path = routes::TARGET, tag = "reach", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")), request_body = TargetPatch,
    responses((status = 200, body = Target), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub(super) async fn patch_target(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<TargetPatch>,
) -> Result<Json<Target>, ApiError> {
    if state.reach.config_targets.iter().any(|t| t.id == id) {
        return Err(ApiError::Conflict(format!(
            "target `{id}` is defined in the config file: change it there and restart the agent"
        )));
    }
    let mut target = state
        .store
        .targets()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no dashboard target `{id}`")))?;
    patch.apply(&mut target).map_err(ApiError::BadRequest)?;
    if !state.store.update_target(target.clone()).await? {
        return Err(ApiError::NotFound(format!("no dashboard target `{id}`")));
    }
    state.events.publish(AgentEvent::TargetsChanged);
    Ok(Json(target))
}
