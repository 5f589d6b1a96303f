//! The `/api/gpu` routes, all behind the admin token: the status, the run list, one
//! run, starting a run in the background and cancelling it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::gpu::{
    GpuBenchOptions, GpuRun, GpuRunStarted, GpuRunStatus, GpuRunSummary, GpuStatus,
};
use vantage_shared::routes;
use vantage_shared::ApiErrorBody;

use super::plan::{check_memory, new_run_id, prepare, GpuPlan};
use super::status::status_blocking;
use super::task::run_task;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::AppState;

/// How many runs `GET /api/gpu/runs` lists.
pub const HISTORY_LIMIT: u32 = 100;

/// The routes of this module, all behind the admin token.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_status))
        .routes(routes!(list_runs, start_run))
        .routes(routes!(get_run))
        .routes(routes!(cancel_run))
}

/// GPU identity and versions, driver/NVML/NVRTC availability with the reason when
/// missing, Docker's GPU support and every container's GPU access.
#[utoipa::path(get, path = routes::GPU, tag = "gpu", security(("bearer" = [])),
    responses((status = 200, body = GpuStatus), (status = 401, body = ApiErrorBody)))]
async fn get_status(State(state): State<AppState>) -> Result<Json<GpuStatus>, ApiError> {
    let docker = state.docker.clone();
    let mut status = tokio::task::spawn_blocking(move || status_blocking(Some(&docker)))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    status.running = state.gpu.running();
    Ok(Json(status))
}

/// Past and current benchmark runs, newest first (at most 100), including those of
/// `vantage bench gpu` on this machine's data directory.
#[utoipa::path(get, path = routes::GPU_RUNS, tag = "gpu", security(("bearer" = [])),
    responses((status = 200, body = [GpuRunSummary]), (status = 401, body = ApiErrorBody)))]
async fn list_runs(State(state): State<AppState>) -> Result<Json<Vec<GpuRunSummary>>, ApiError> {
    let runs = state.store.gpu_runs(HISTORY_LIMIT).await?;
    Ok(Json(runs.iter().map(GpuRun::summary).collect()))
}

/// One run with all its results. While it runs: the record so far, saved as each
/// phase ends (transfers, GPU blur, CPU one thread); progress within a phase comes as
/// `gpu_bench_progress` events.
#[utoipa::path(get, path = routes::GPU_RUN, tag = "gpu", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id from POST /api/gpu/runs")),
    responses((status = 200, body = GpuRun), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
async fn get_run(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GpuRun>, ApiError> {
    state
        .store
        .gpu_run(id.clone())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no GPU benchmark run `{id}`")))
}

/// Asks a running benchmark to stop. It stops within about a second, keeps what it
/// measured, and ends as `cancelled` (announced by `gpu_bench_finished`).
#[utoipa::path(post, path = routes::GPU_RUN_CANCEL, tag = "gpu", security(("bearer" = [])),
    params(("id" = String, Path, description = "Run id from POST /api/gpu/runs")),
    responses(
        (status = 202, description = "The run was going and is stopping"),
        (status = 401, body = ApiErrorBody),
        (status = 404, description = "No such run", body = ApiErrorBody),
        (status = 409, description = "The run is not running (finished, failed, cancelled, interrupted)", body = ApiErrorBody)))]
async fn cancel_run(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.gpu.cancel(&id) {
        tracing::info!(run = %id, "GPU benchmark cancel requested");
        return Ok(StatusCode::ACCEPTED);
    }
    match state.store.gpu_run(id.clone()).await? {
        Some(run) => Err(ApiError::Conflict(format!(
            "benchmark run `{id}` is not running (it is {})",
            serde_json::to_value(run.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ))),
        None => Err(ApiError::NotFound(format!("no GPU benchmark run `{id}`"))),
    }
}

/// Starts a benchmark run in the background (one at a time). Progress arrives as
/// `gpu_bench_progress` events, the end as `gpu_bench_finished`. Without a GPU the CPU
/// baseline still runs and the run says what the GPU part needs. Refused (400) when the
/// CPU part would take over 10 minutes by a conservative estimate, or the host has not
/// the memory for it; the message gives the figures.
#[utoipa::path(post, path = routes::GPU_RUNS, tag = "gpu", security(("bearer" = [])), request_body = GpuBenchOptions,
    responses((status = 202, body = GpuRunStarted), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 409, description = "A run is already going", body = ApiErrorBody)))]
async fn start_run(
    State(state): State<AppState>,
    ApiJson(options): ApiJson<GpuBenchOptions>,
) -> Result<(StatusCode, Json<GpuRunStarted>), ApiError> {
    let config = options.resolve().map_err(ApiError::BadRequest)?;
    let status = tokio::task::spawn_blocking(|| status_blocking(None))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if status.driver.available && config.device as usize >= status.devices.len() {
        return Err(ApiError::BadRequest(format!(
            "there is no CUDA device {}: this machine has {}",
            config.device,
            status.devices.len()
        )));
    }
    let (plan, machine) = prepare(&config, &status, &state.hostname);
    check_memory(&config, &plan).map_err(ApiError::BadRequest)?;
    let id = new_run_id();
    let cancel = state.gpu.try_start(&id).map_err(|other| {
        ApiError::Conflict(format!(
            "benchmark run `{other}` is still going: wait for it to finish or cancel it (one run at a time)"
        ))
    })?;
    let record = GpuRun {
        id: id.clone(),
        status: GpuRunStatus::Running,
        started_at: Utc::now(),
        finished_at: None,
        config: config.clone(),
        machine: machine.clone(),
        transfers: None,
        blur: None,
        gpu_skipped: match &plan {
            GpuPlan::Skip(why) => Some(why.clone()),
            GpuPlan::Run { blur_needs, .. } => blur_needs.clone(),
        },
        error: None,
    };
    if let Err(e) = state.store.save_gpu_run(&record).await {
        state.gpu.finish();
        return Err(e.into());
    }
    tokio::spawn(run_task(
        state.clone(),
        id.clone(),
        config.clone(),
        machine,
        plan,
        cancel,
    ));
    Ok((StatusCode::ACCEPTED, Json(GpuRunStarted { id, config })))
}
