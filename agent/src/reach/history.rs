//! A target's stored results: the raw list (`history`) and what it adds up to over 24
//! hours, 7 and 30 days (`summary`). Both answer for targets the agent has not probed yet
//! (empty), and 404 for targets that do not exist.

use axum::extract::State;
use axum::Json;
use chrono::{Duration, Utc};
use vantage_shared::probe::{summarize, TargetHistory, TargetSummary};
use vantage_shared::routes;
use vantage_shared::ApiErrorBody;

use super::targets::find_target;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::routes::RangeParams;
use crate::AppState;

/// The summary reads at most this many results: 30 days at the shortest interval (5 s) is
/// 518,400, so this bounds the work per request, not what a normal target has.
const SUMMARY_ROWS: u32 = 600_000;

/// Every stored result of a target, newest first: time, verdict, per-phase timings, HTTP
/// status, body size, fingerprint, CORS verdict, certificate expiry and error.
#[utoipa::path(get, path = routes::TARGET_HISTORY, tag = "reach", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id"), RangeParams),
    responses((status = 200, body = TargetHistory), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(super) async fn target_history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RangeParams>,
) -> Result<Json<TargetHistory>, ApiError> {
    let limit = q.checked_limit()?;
    let target = find_target(&state, &id).await?;
    let (results, total) = state
        .store
        .target_results(target.id.clone(), q.since, q.until, limit)
        .await?;
    Ok(Json(TargetHistory {
        target_id: target.id,
        results,
        total,
    }))
}

/// Uptime over 24 h, 7 d and 30 d, latency percentiles per phase over 24 h, and the
/// incidents of the last 30 days (down from … to …, with the verdict and finding at the
/// start).
#[utoipa::path(get, path = routes::TARGET_SUMMARY, tag = "reach", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")),
    responses((status = 200, body = TargetSummary), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(super) async fn target_summary(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TargetSummary>, ApiError> {
    let target = find_target(&state, &id).await?;
    let now = Utc::now();
    let (results, _) = state
        .store
        .target_results(
            target.id.clone(),
            Some(now - Duration::days(30)),
            Some(now),
            SUMMARY_ROWS,
        )
        .await?;
    Ok(Json(summarize(&target.id, &results, now)))
}
