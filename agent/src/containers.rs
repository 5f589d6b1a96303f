//! A container's stored life beyond its healthcheck runs: the lifecycle events Docker
//! reported (`events`), what they and the runs add up to (`summary`: healthcheck uptime,
//! restarts, the last exit explained), and the restart-loop finding the container's
//! diagnoses include. Served from the database, so they answer after the container is gone.

use axum::extract::State;
use axum::Json;
use chrono::{Duration, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::diagnosis::restarts::{last_exit, restart_loop, restarts, LOOP_MINUTES};
use vantage_shared::diagnosis::{sort_findings, Finding, FindingCode};
use vantage_shared::probe::{uptime_windows, Uptime};
use vantage_shared::routes;
use vantage_shared::{ApiErrorBody, ContainerHistorySummary, ContainerTimeline};

use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::routes::RangeParams;
use crate::AppState;

/// Events the summary reads (30 days of a container that restarts every few seconds is
/// far more; the newest are the ones that matter).
const SUMMARY_EVENTS: u32 = 5_000;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(container_events))
        .routes(routes!(container_summary))
}

/// The container's id and name: from Docker, else from its stored runs or events.
async fn resolve(state: &AppState, id: &str) -> Result<(String, String), ApiError> {
    if let Some(d) = state.docker.container(id) {
        return Ok((d.summary.id, d.summary.name));
    }
    if let Some(found) = state.store.find_container(id.to_owned()).await? {
        return Ok(found);
    }
    state
        .store
        .find_lifecycle_container(id.to_owned())
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no container `{id}`: use its name, full id or an id prefix of at least 4 characters"
            ))
        })
}

/// `findings` with the restart-loop finding added when the events of the last
/// [`LOOP_MINUTES`] show one. The loop then stands for "restarting" too: one cause, one
/// critical finding.
pub(crate) async fn add_restart_findings(
    state: &AppState,
    id: &str,
    name: &str,
    mut findings: Vec<Finding>,
) -> Result<Vec<Finding>, ApiError> {
    let now = Utc::now();
    let since = now - Duration::minutes(LOOP_MINUTES);
    let (events, _) = state
        .store
        .lifecycle_events(id.to_owned(), Some(since), None, 1_000)
        .await?;
    if let Some(looping) = restart_loop(name, &events, now) {
        findings.retain(|f| f.code != FindingCode::ContainerRestarting);
        findings.push(looping);
        sort_findings(&mut findings);
    }
    Ok(findings)
}

/// The container's stored lifecycle events, newest first: create, start, die (with its exit
/// code), oom, kill (with its signal), stop, restart, pause, unpause, health (with the new
/// status), destroy.
#[utoipa::path(get, path = routes::CONTAINER_EVENTS, tag = "docker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Container name, id, or id prefix"), RangeParams),
    responses((status = 200, body = ContainerTimeline), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn container_events(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RangeParams>,
) -> Result<Json<ContainerTimeline>, ApiError> {
    let limit = q.checked_limit()?;
    let (container_id, container_name) = resolve(&state, &id).await?;
    let (events, total) = state
        .store
        .lifecycle_events(container_id.clone(), q.since, q.until, limit)
        .await?;
    Ok(Json(ContainerTimeline {
        container_id,
        container_name,
        events,
        total,
    }))
}

/// Healthcheck uptime over 24 h, 7 d and 30 d (the share of runs that passed), restarts in
/// the last 24 hours, the last exit with its meaning, and the restart-loop finding.
#[utoipa::path(get, path = routes::CONTAINER_SUMMARY, tag = "docker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Container name, id, or id prefix")),
    responses((status = 200, body = ContainerHistorySummary), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(crate) async fn container_summary(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ContainerHistorySummary>, ApiError> {
    let (container_id, container_name) = resolve(&state, &id).await?;
    let now = Utc::now();
    let windows = uptime_windows(now);
    let counts = state
        .store
        .healthcheck_counts(container_id.clone(), windows.iter().map(|w| w.1).collect())
        .await?;
    let uptime: Vec<Uptime> = windows
        .iter()
        .zip(counts)
        .map(|((label, _), (checks, up))| Uptime::new(label, checks, up))
        .collect();
    let has_runs = uptime.iter().any(|u| u.checks > 0);
    let (events, _) = state
        .store
        .lifecycle_events(
            container_id.clone(),
            Some(now - Duration::days(30)),
            None,
            SUMMARY_EVENTS,
        )
        .await?;
    // Restarts are counted from the whole day's events, which a fast loop makes more than
    // the newest SUMMARY_EVENTS of the month.
    let day = now - Duration::days(1);
    let (today, _) = state
        .store
        .lifecycle_events(
            container_id.clone(),
            Some(day),
            None,
            crate::routes::MAX_HISTORY_LIMIT * 10,
        )
        .await?;
    Ok(Json(ContainerHistorySummary {
        uptime: if has_runs { uptime } else { vec![] },
        restarts_24h: restarts(&today, now).iter().filter(|r| r.at > day).count() as u64,
        last_exit: last_exit(&events, now),
        findings: restart_loop(&container_name, &events, now)
            .into_iter()
            .collect(),
        container_id,
        container_name,
    }))
}
