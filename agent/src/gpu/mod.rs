//! GPU (issue 5): the GPU's identity and versions, which containers can use it, and
//! benchmark runs (transfers, a chained blur on GPU and CPU, the break-even N*), as API
//! routes, a background task with progress events, and `vantage bench gpu`.
//!
//! `cuda` alone touches cudarc and `nvml` alone NVML; both load their libraries at run
//! time, so the agent starts and answers on a machine without a driver, reporting
//! "unavailable, because …". Built without the `gpu` feature, the same routes answer
//! with the CPU baseline only.

mod bench;
pub mod cpu;
#[cfg(feature = "gpu")]
pub mod cuda;
#[cfg(feature = "gpu")]
mod nvml;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::gpu::{
    check_host_memory, classify_container, engine_support, mem_available_bytes, BreakEven,
    ContainerGpu, DockerGpu, GpuBenchConfig, GpuBenchOptions, GpuBlurPoint, GpuColdRun, GpuDevice,
    GpuLibrary, GpuRun, GpuRunStarted, GpuRunStatus, GpuRunSummary, GpuStatus, HostMemory,
    MachineIdentity, OptionsSource, TransferDirection, TransferPoint,
};
use vantage_shared::{AgentEvent, ApiErrorBody};

use crate::docker::DockerHandle;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::AppState;

pub use bench::GpuPlan;

/// How many runs `GET /api/gpu/runs` lists.
pub const HISTORY_LIMIT: u32 = 100;

/// The GPU blur's raw results, before fits and comparison.
pub struct GpuBlurRun {
    pub device: String,
    pub kernel_build: String,
    pub cold: GpuColdRun,
    pub points: Vec<GpuBlurPoint>,
    /// The output image of the largest N, for the comparison with the CPU.
    pub output: Vec<f32>,
}

/// The run holding the benchmark slot, and the flag that stops it.
struct Slot {
    id: String,
    cancel: Arc<AtomicBool>,
}

/// The one benchmark that may run at a time. Cheap to clone.
#[derive(Clone, Default)]
pub struct Gpu {
    running: Arc<Mutex<Option<Slot>>>,
}

impl Gpu {
    /// The id of the run in progress.
    pub fn running(&self) -> Option<String> {
        self.running
            .lock()
            .ok()
            .and_then(|r| r.as_ref().map(|s| s.id.clone()))
    }

    /// Claims the benchmark slot for `id` and returns its cancel flag; `Err` with the id
    /// holding it.
    fn try_start(&self, id: &str) -> Result<Arc<AtomicBool>, String> {
        let mut slot = self
            .running
            .lock()
            .map_err(|_| "benchmark state poisoned".to_owned())?;
        if let Some(other) = slot.as_ref() {
            return Err(other.id.clone());
        }
        let cancel = Arc::new(AtomicBool::new(false));
        *slot = Some(Slot {
            id: id.to_owned(),
            cancel: Arc::clone(&cancel),
        });
        Ok(cancel)
    }

    /// Asks run `id` to stop; false when it is not the one running.
    pub fn cancel(&self, id: &str) -> bool {
        let Ok(slot) = self.running.lock() else {
            return false;
        };
        match slot.as_ref() {
            Some(s) if s.id == id => {
                s.cancel.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Asks whatever runs to stop (the agent is stopping).
    pub fn cancel_all(&self) {
        if let Ok(Some(s)) = self.running.lock().as_deref() {
            s.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Waits until no run holds the slot, at most `limit`; true when idle. A cancelled
    /// run returns within about a second and then stores its record.
    pub async fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.running().is_some() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        true
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.running.lock() {
            *slot = None;
        }
    }
}

/// Whether the NVIDIA driver library can be loaded (always false without the `gpu` feature).
pub fn driver_present() -> bool {
    #[cfg(feature = "gpu")]
    return cuda::driver_present();
    #[cfg(not(feature = "gpu"))]
    false
}

/// Whether the driver initialises (`cuInit`), and the reason it reports when not.
pub fn driver_init() -> Result<(), String> {
    #[cfg(feature = "gpu")]
    return cuda::init();
    #[cfg(not(feature = "gpu"))]
    Err(NOT_BUILT.into())
}

#[cfg(feature = "gpu")]
fn transfers(
    device: u32,
    sizes: &[u64],
    reps: u32,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&TransferPoint),
) -> Result<Vec<TransferPoint>, String> {
    cuda::transfers(device, sizes, reps, cancel, progress)
}

#[cfg(not(feature = "gpu"))]
fn transfers(
    _: u32,
    _: &[u64],
    _: u32,
    _: &AtomicBool,
    _: &mut dyn FnMut(&TransferPoint),
) -> Result<Vec<TransferPoint>, String> {
    Err(NOT_BUILT.into())
}

#[cfg(feature = "gpu")]
#[allow(clippy::too_many_arguments)]
fn gpu_blur(
    device: u32,
    image: &[f32],
    side: u32,
    weights: &[f32],
    ns: &[u32],
    reps: u32,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u32),
) -> Result<GpuBlurRun, String> {
    cuda::blur(device, image, side, weights, ns, reps, cancel, progress)
}

#[cfg(not(feature = "gpu"))]
#[allow(clippy::too_many_arguments)]
fn gpu_blur(
    _: u32,
    _: &[f32],
    _: u32,
    _: &[f32],
    _: &[u32],
    _: u32,
    _: &AtomicBool,
    _: &mut dyn FnMut(u32),
) -> Result<GpuBlurRun, String> {
    Err(NOT_BUILT.into())
}

#[cfg(not(feature = "gpu"))]
const NOT_BUILT: &str =
    "this agent was built without GPU support (cargo feature `gpu`): rebuild with default features";

/// Driver, NVML, NVRTC and devices (no Docker part). Blocking: loads libraries and
/// initialises the driver the first time.
#[cfg(feature = "gpu")]
fn probe_gpu() -> (
    GpuLibrary,
    Option<String>,
    GpuLibrary,
    GpuLibrary,
    Vec<GpuDevice>,
) {
    let (driver, mut devices) = match cuda::driver_cuda_version() {
        Ok(v) => match cuda::devices() {
            Ok(d) => (GpuLibrary::available(Some(v)), d),
            Err(e) => (GpuLibrary::unavailable(e), Vec::new()),
        },
        Err(e) => (GpuLibrary::unavailable(e), Vec::new()),
    };
    let (nvml_lib, driver_version) = match nvml::query() {
        Ok(info) => {
            for (i, d) in devices.iter_mut().enumerate() {
                // Same GPU in both APIs by UUID; by position when NVML has no UUID.
                let n = info
                    .devices
                    .iter()
                    .find(|n| n.uuid.is_some() && n.uuid == d.uuid)
                    .or_else(|| info.devices.get(i).filter(|n| n.uuid.is_none()));
                if let Some(n) = n {
                    d.pcie = n.pcie.clone();
                    d.free_memory_bytes = n.free_memory_bytes;
                    d.memory_bus_width_bits = d.memory_bus_width_bits.or(n.memory_bus_width_bits);
                    d.memory_clock_mhz = d.memory_clock_mhz.or(n.memory_clock_mhz);
                    if d.theoretical_memory_bandwidth_gbps.is_none() {
                        d.theoretical_memory_bandwidth_gbps = d
                            .memory_clock_mhz
                            .zip(d.memory_bus_width_bits)
                            .and_then(|(c, b)| {
                                vantage_shared::gpu::math::memory_bandwidth_gbps(c, b)
                            });
                    }
                }
            }
            (
                GpuLibrary::available(info.nvml_version),
                info.driver_version,
            )
        }
        Err(e) => (GpuLibrary::unavailable(e), None),
    };
    let nvrtc = match cuda::nvrtc_version() {
        Ok(v) => GpuLibrary::available(Some(v)),
        Err(e) => GpuLibrary::unavailable(e),
    };
    (driver, driver_version, nvml_lib, nvrtc, devices)
}

#[cfg(not(feature = "gpu"))]
fn probe_gpu() -> (
    GpuLibrary,
    Option<String>,
    GpuLibrary,
    GpuLibrary,
    Vec<GpuDevice>,
) {
    (
        GpuLibrary::unavailable(NOT_BUILT),
        None,
        GpuLibrary::unavailable(NOT_BUILT),
        GpuLibrary::unavailable(NOT_BUILT),
        Vec::new(),
    )
}

/// What the GPU benchmark still needs, or `None` when it can run on `device`.
fn benchmark_needs(
    driver: &GpuLibrary,
    nvrtc: &GpuLibrary,
    devices: &[GpuDevice],
    device: u32,
) -> Option<String> {
    if !driver.available {
        return Some(format!(
            "The GPU part needs the NVIDIA driver: {}. Install it (e.g. `apt-get install nvidia-driver`, or the GPU's vendor image); the CPU baseline runs without it.",
            driver.reason.as_deref().unwrap_or("driver unavailable")
        ));
    }
    if devices.is_empty() {
        return Some("The GPU part needs a CUDA device: the driver loaded but reports none (check `nvidia-smi`).".into());
    }
    if devices.len() <= device as usize {
        return Some(format!(
            "There is no CUDA device {device}: this machine has {} (0 to {}).",
            devices.len(),
            devices.len() - 1
        ));
    }
    if !nvrtc.available {
        return Some(format!(
            "The GPU part needs NVRTC to compile the blur kernel: {}.",
            nvrtc.reason.as_deref().unwrap_or("NVRTC unavailable")
        ));
    }
    None
}

/// Docker's part of the status, from the watcher's inventory.
fn docker_gpu(docker: &DockerHandle) -> DockerGpu {
    let status = docker.status();
    if !docker.is_connected() {
        return DockerGpu {
            available: false,
            reason: Some(status.to_string()),
            engine: None,
            containers: Vec::new(),
        };
    }
    let (engine, containers) = docker.gpu_view();
    let mut containers: Vec<ContainerGpu> = containers
        .into_iter()
        .map(|(id, name, running, fields)| ContainerGpu {
            id,
            name,
            running,
            access: classify_container(&fields),
        })
        .collect();
    containers.sort_by(|a, b| {
        b.access
            .has_gpu
            .cmp(&a.access.has_gpu)
            .then_with(|| a.name.cmp(&b.name))
    });
    DockerGpu {
        available: true,
        reason: None,
        engine: engine.as_ref().map(engine_support),
        containers,
    }
}

/// The whole `GET /api/gpu` answer; blocking (see `probe_gpu`).
pub fn status_blocking(docker: Option<&DockerHandle>) -> GpuStatus {
    let (driver, driver_version, nvml, nvrtc, devices) = probe_gpu();
    GpuStatus {
        benchmark_needs: benchmark_needs(&driver, &nvrtc, &devices, 0),
        driver,
        driver_version,
        nvml,
        nvrtc,
        devices,
        docker: docker.map(docker_gpu).unwrap_or(DockerGpu {
            available: false,
            reason: Some("not asked (command line)".into()),
            engine: None,
            containers: Vec::new(),
        }),
        running: None,
    }
}

/// The CPU's model name from /proc/cpuinfo (x86 `model name`, Arm `Model`/`CPU part`).
fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    ["model name", "Model", "Hardware", "CPU part"]
        .iter()
        .find_map(|key| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_owned())
            })
        })
}

/// Where a run is measured.
pub fn machine_identity(status: &GpuStatus, device: u32, hostname: &str) -> MachineIdentity {
    let dev = status.devices.get(device as usize);
    MachineIdentity {
        hostname: hostname.to_owned(),
        cpu_model: cpu_model(),
        cpu_cores: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        gpu: dev.map(|d| d.name.clone()),
        gpu_uuid: dev.and_then(|d| d.uuid.clone()),
        cuda_arch_bin: dev.map(|d| d.cuda_arch_bin.clone()),
        driver_version: status.driver_version.clone(),
        cuda_driver_version: status.driver.version.clone(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// `gpu-20261122T101500-3fa9`: sortable by time, unique enough for one agent.
fn new_run_id() -> String {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    format!(
        "gpu-{}-{:02x}{:02x}",
        Utc::now().format("%Y%m%dT%H%M%S"),
        b[0],
        b[1]
    )
}

/// Decides the plan and the machine identity for a run on `config.device`.
pub fn prepare(
    config: &GpuBenchConfig,
    status: &GpuStatus,
    hostname: &str,
) -> (GpuPlan, MachineIdentity) {
    // Transfers need only the driver; the blur also needs NVRTC to build its kernel.
    let ok = GpuLibrary::available(None);
    let plan = match benchmark_needs(&status.driver, &ok, &status.devices, config.device) {
        Some(why) => GpuPlan::Skip(why),
        None => GpuPlan::Run {
            device_name: status
                .devices
                .get(config.device as usize)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
            blur_needs: benchmark_needs(
                &status.driver,
                &status.nvrtc,
                &status.devices,
                config.device,
            ),
        },
    };
    (plan, machine_identity(status, config.device, hostname))
}

/// Refuses a run the host's memory cannot hold (see `GpuBenchConfig::host_memory_bytes`);
/// where /proc/meminfo cannot be read there is nothing to check against.
pub fn check_memory(config: &GpuBenchConfig, plan: &GpuPlan) -> Result<(), String> {
    let (transfers, gpu_blur) = match plan {
        GpuPlan::Skip(_) => (false, false),
        GpuPlan::Run { blur_needs, .. } => (true, blur_needs.is_none()),
    };
    let need = config.host_memory_bytes(transfers, gpu_blur);
    match std::fs::read_to_string("/proc/meminfo")
        .ok()
        .as_deref()
        .and_then(mem_available_bytes)
    {
        Some(available) => check_host_memory(need, available),
        None => Ok(()),
    }
}

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
#[utoipa::path(get, path = "/api/gpu", tag = "gpu", security(("bearer" = [])),
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
#[utoipa::path(get, path = "/api/gpu/runs", tag = "gpu", security(("bearer" = [])),
    responses((status = 200, body = [GpuRunSummary]), (status = 401, body = ApiErrorBody)))]
async fn list_runs(State(state): State<AppState>) -> Result<Json<Vec<GpuRunSummary>>, ApiError> {
    let runs = state.store.gpu_runs(HISTORY_LIMIT).await?;
    Ok(Json(runs.iter().map(GpuRun::summary).collect()))
}

/// One run with all its results. While it runs: the record so far, saved as each
/// phase ends (transfers, GPU blur, CPU one thread); progress within a phase comes as
/// `gpu_bench_progress` events.
#[utoipa::path(get, path = "/api/gpu/runs/{id}", tag = "gpu", security(("bearer" = [])),
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
#[utoipa::path(post, path = "/api/gpu/runs/{id}/cancel", tag = "gpu", security(("bearer" = [])),
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
#[utoipa::path(post, path = "/api/gpu/runs", tag = "gpu", security(("bearer" = [])), request_body = GpuBenchOptions,
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

/// The background task of one run: the blocking work on the blocking pool, progress
/// onto the event bus, the record into the store as each phase ends and at the end,
/// the slot freed whatever happens. A stopping agent sets the cancel flag, so the
/// blocking work returns within about a second and the run is stored as `interrupted`
/// (`serve` waits for that before it returns).
async fn run_task(
    state: AppState,
    id: String,
    config: GpuBenchConfig,
    machine: MachineIdentity,
    plan: GpuPlan,
    cancel: Arc<AtomicBool>,
) {
    let mut stop = state.shutdown.subscribe();
    let gpu = state.gpu.clone();
    let watcher = tokio::spawn(async move {
        if stop.wait_for(|s| *s).await.is_ok() {
            gpu.cancel_all();
        }
    });
    let docker = state.docker.clone();
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let (run_id, cfg) = (id.clone(), config.clone());
    let started = Utc::now();
    let joined = tokio::task::spawn_blocking(move || {
        let mut publish = |progress| docker.publish(AgentEvent::GpuBenchProgress { progress });
        // The blocking pool may wait on the runtime: this thread is not a worker.
        let mut checkpoint = |partial: &GpuRun| {
            if let Err(e) = runtime.block_on(store.save_gpu_run(partial)) {
                tracing::warn!(run = %partial.id, error = %e, "Could not store the GPU run's progress");
            }
        };
        bench::run(
            run_id,
            cfg,
            machine.clone(),
            plan,
            &cancel,
            &mut publish,
            &mut checkpoint,
        )
    })
    .await;
    watcher.abort();
    let mut run = match joined {
        Ok(run) => run,
        Err(e) => {
            tracing::error!(run = %id, error = %e, "GPU benchmark task failed");
            let stored = state.store.gpu_run(id.clone()).await.ok().flatten();
            let mut failed = match stored {
                Some(run) => run,
                None => {
                    let hostname = state.hostname.clone();
                    let machine = tokio::task::spawn_blocking(move || {
                        machine_identity(&status_blocking(None), 0, &hostname)
                    })
                    .await
                    .unwrap_or_else(|_| MachineIdentity {
                        hostname: state.hostname.clone(),
                        cpu_model: None,
                        cpu_cores: 1,
                        gpu: None,
                        gpu_uuid: None,
                        cuda_arch_bin: None,
                        driver_version: None,
                        cuda_driver_version: None,
                        agent_version: env!("CARGO_PKG_VERSION").into(),
                    });
                    GpuRun {
                        id: id.clone(),
                        status: GpuRunStatus::Failed,
                        started_at: started,
                        finished_at: None,
                        config,
                        machine,
                        transfers: None,
                        blur: None,
                        gpu_skipped: None,
                        error: None,
                    }
                }
            };
            failed.status = GpuRunStatus::Failed;
            failed.finished_at = Some(Utc::now());
            failed.error = Some(format!("the benchmark stopped unexpectedly: {e}"));
            failed
        }
    };
    // Cancelled because the agent is stopping, not on request.
    if run.status == GpuRunStatus::Cancelled && *state.shutdown.borrow() {
        run.status = GpuRunStatus::Interrupted;
        run.error = Some(
            "the agent stopped while this run was going; the figures measured until then are kept"
                .into(),
        );
    }
    if let Err(e) = state.store.save_gpu_run(&run).await {
        tracing::error!(run = %id, error = %e, "Could not store the GPU benchmark run");
    }
    state.gpu.finish();
    tracing::info!(run = %id, status = ?run.status, "GPU benchmark finished");
    state.docker.publish(AgentEvent::GpuBenchFinished {
        run_id: id,
        status: run.status,
    });
}

/// `vantage bench gpu`: runs the benchmark in this process, progress on stderr, the
/// tables (or `--json`, the run record) on stdout, and stores the run in the agent's
/// database in the data directory (unless `--no-store`), so the dashboard's history
/// shows it; a running agent on the same directory is fine (SQLite WAL). `stop`
/// (Ctrl-C, SIGTERM) cancels the run, which is then stored as `cancelled`. A run that
/// does not complete is an error exit.
pub async fn bench_cli(
    args: &crate::config::GpuBenchArgs,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let config = args
        .options()
        .resolve_for(OptionsSource::Cli)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = if args.no_store {
        None
    } else {
        let dir = args
            .data_dir
            .clone()
            .unwrap_or_else(crate::config::default_data_dir);
        crate::prepare_data_dir(&dir)?;
        Some((
            crate::store::Store::open(&dir).with_context(|| {
                format!(
                    "opening the history database in {} (or pass --no-store)",
                    dir.display()
                )
            })?,
            dir,
        ))
    };
    let hostname = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into());
    let prep_config = config.clone();
    let (plan, machine) = tokio::task::spawn_blocking(move || {
        let status = status_blocking(None);
        prepare(&prep_config, &status, &hostname)
    })
    .await?;
    check_memory(&config, &plan).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cancel = Arc::new(AtomicBool::new(false));
    let on_stop = Arc::clone(&cancel);
    let signal = tokio::spawn(async move {
        stop.await;
        eprintln!("stopping the benchmark (the figures so far are kept)");
        on_stop.store(true, Ordering::Relaxed);
    });
    let id = new_run_id();
    let run = tokio::task::spawn_blocking(move || {
        let mut progress = |p: vantage_shared::gpu::GpuBenchProgress| {
            eprintln!("[{:>3}/{}] {}", p.done, p.total, p.message);
        };
        // Only the final record is stored: an agent starting meanwhile marks runs it
        // finds `running` as interrupted, which this one is not.
        bench::run(
            id,
            config,
            machine,
            plan,
            &cancel,
            &mut progress,
            &mut |_| {},
        )
    })
    .await?;
    signal.abort();
    if let Some((store, dir)) = &store {
        store
            .save_gpu_run(&run)
            .await
            .with_context(|| format!("storing run {} in {}", run.id, dir.display()))?;
        eprintln!(
            "stored as {} in {} (GET /api/gpu/runs)",
            run.id,
            dir.join("history.sqlite3").display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print!("{}", render_text(&run));
    }
    match (run.status, &run.error) {
        (GpuRunStatus::Completed, _) => Ok(()),
        (GpuRunStatus::Cancelled, _) => anyhow::bail!("the benchmark was cancelled"),
        (_, Some(e)) => anyhow::bail!("the benchmark failed: {e}"),
        (status, None) => anyhow::bail!("the benchmark ended as {status:?}"),
    }
}

/// Human-readable size: 64 KiB, 1 MiB, 256 MiB.
pub fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 && b.is_multiple_of(1 << 30) => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b.is_multiple_of(1 << 20) => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b.is_multiple_of(1 << 10) => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// Parses `64K`, `1M`, `256MiB`, `1G` or plain bytes (binary multiples).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a size (e.g. 64K, 1M, 256M, 1G)"))?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{t}` (use K, M or G)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{t}` is too large"))
}

fn fmt_ms(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "-".into()
    }
}

/// The run as a person reads it in a terminal.
pub fn render_text(run: &GpuRun) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let m = &run.machine;
    let _ = writeln!(
        o,
        "GPU benchmark {} on {} ({}, {} CPU threads)",
        run.id,
        m.hostname,
        m.cpu_model.as_deref().unwrap_or("unknown CPU"),
        m.cpu_cores
    );
    match (&m.gpu, &run.gpu_skipped) {
        (_, Some(why)) => {
            let _ = writeln!(o, "GPU part skipped: {why}");
        }
        (Some(g), None) => {
            let _ = writeln!(
                o,
                "GPU: {g} (CUDA_ARCH_BIN {}), driver {}, CUDA {}",
                m.cuda_arch_bin.as_deref().unwrap_or("?"),
                m.driver_version.as_deref().unwrap_or("?"),
                m.cuda_driver_version.as_deref().unwrap_or("?")
            );
        }
        (None, None) => {}
    }
    if let Some(t) = &run.transfers {
        let _ = writeln!(
            o,
            "\nTransfers, best GB/s (GB = 1e9 bytes; bytes counted once, d2d too). PCIe limit {}, memory {}",
            t.pcie_limit_gbps.map(|v| format!("{v:.1} GB/s")).unwrap_or_else(|| "unknown".into()),
            t.memory_limit_gbps.map(|v| format!("{v:.0} GB/s")).unwrap_or_else(|| "unknown".into()),
        );
        let cols = [
            (
                TransferDirection::HostToDevice,
                HostMemory::Pageable,
                "h2d pageable",
            ),
            (
                TransferDirection::HostToDevice,
                HostMemory::Pinned,
                "h2d pinned",
            ),
            (
                TransferDirection::DeviceToHost,
                HostMemory::Pageable,
                "d2h pageable",
            ),
            (
                TransferDirection::DeviceToHost,
                HostMemory::Pinned,
                "d2h pinned",
            ),
            (TransferDirection::DeviceToDevice, HostMemory::None, "d2d"),
        ];
        let _ = write!(o, "{:>10}", "size");
        for (_, _, name) in cols {
            let _ = write!(o, " {name:>13}");
        }
        let _ = writeln!(o);
        for &size in &run.config.transfer_sizes {
            let _ = write!(o, "{:>10}", human_bytes(size));
            for (dir, mem, _) in cols {
                let v = t
                    .points
                    .iter()
                    .find(|p| p.bytes == size && p.direction == dir && p.memory == mem)
                    .map(|p| format!("{:.2}", p.best_gbps))
                    .unwrap_or_else(|| "-".into());
                let _ = write!(o, " {v:>13}");
            }
            let _ = writeln!(o);
        }
    }
    if let Some(b) = &run.blur {
        let _ = writeln!(
            o,
            "\nBlur {}x{}, {}x{} Gaussian (sigma {:.2}), chained N times, ms",
            b.width, b.height, b.kernel_size, b.kernel_size, b.sigma
        );
        let _ = writeln!(
            o,
            "{:>4} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
            "N",
            "CPU 1 thr",
            format!("CPU {} thr", b.cpu_threads),
            "GPU up",
            "GPU kern",
            "GPU down",
            "GPU total"
        );
        for c in &b.cpu {
            let g = b
                .gpu
                .as_ref()
                .and_then(|g| g.points.iter().find(|p| p.n == c.n));
            let gf =
                |f: fn(&GpuBlurPoint) -> f64| g.map(|p| fmt_ms(f(p))).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                o,
                "{:>4} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
                c.n,
                fmt_ms(c.single_thread_ms),
                fmt_ms(c.all_cores_ms),
                gf(|p| p.upload_ms),
                gf(|p| p.kernels_ms),
                gf(|p| p.download_ms),
                gf(|p| p.total_ms)
            );
        }
        let per = |f: &Option<vantage_shared::gpu::LineFit>| {
            f.as_ref()
                .map(|f| format!("{:.2} ms/blur", f.slope))
                .unwrap_or_else(|| "-".into())
        };
        let _ = writeln!(
            o,
            "Per blur (least-squares slope): CPU 1 thread {}, CPU {} threads {}",
            per(&b.cpu_single_fit),
            b.cpu_threads,
            per(&b.cpu_all_cores_fit)
        );
        if let Some(g) = &b.gpu {
            let _ = writeln!(
                o,
                "GPU kernels {}, upload + download {:.2} ms; cold first run: compile {:.1} ms, module load {:.1} ms, setup {:.1} ms, N={} total {:.2} ms ({})",
                per(&g.kernels_fit),
                g.transfer_ms,
                g.cold.compile_ms,
                g.cold.module_load_ms,
                g.cold.setup_ms,
                g.cold.n,
                g.cold.upload_ms + g.cold.kernels_ms + g.cold.download_ms,
                g.kernel_build
            );
            if let Some(a) = &g.agreement {
                let _ = writeln!(
                    o,
                    "Output agreement at N={}: max |GPU - CPU| = {:.2e} (tolerance {:.0e}): {}",
                    a.n,
                    a.max_abs_diff,
                    a.tolerance,
                    if a.pass { "pass" } else { "FAIL" }
                );
            }
        }
        let sentence = |be: &Option<BreakEven>| be.as_ref().map(|b| b.sentence("blur"));
        match (
            sentence(&b.break_even_all_cores),
            sentence(&b.break_even_single),
        ) {
            (Some(all), Some(single)) => {
                let _ = writeln!(
                    o,
                    "\nAgainst all {} CPU threads: {all}\nAgainst one CPU thread: {single}",
                    b.cpu_threads
                );
            }
            _ => {
                let _ = writeln!(o, "\nBreak-even N*: needs the GPU part.");
            }
        }
    }
    if let Some(e) = &run.error {
        let _ = writeln!(o, "\nError: {e}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert_eq!(human_bytes(64 << 10), "64 KiB");
        assert_eq!(human_bytes(256 << 20), "256 MiB");
        assert_eq!(human_bytes(1000), "1000 B");
    }

    #[test]
    fn one_run_at_a_time() {
        let gpu = Gpu::default();
        let a = gpu.try_start("a").expect("free slot");
        assert_eq!(gpu.try_start("b").err(), Some("a".to_owned()));
        assert_eq!(gpu.running().as_deref(), Some("a"));
        // Cancelling another id does nothing; the running one's flag is set.
        assert!(!gpu.cancel("b"));
        assert!(!a.load(Ordering::Relaxed));
        assert!(gpu.cancel("a"));
        assert!(a.load(Ordering::Relaxed));
        gpu.finish();
        assert!(!gpu.cancel("a"), "nothing runs");
        assert!(gpu.try_start("b").is_ok());
    }

    #[test]
    fn needs_name_the_missing_part() {
        let none = GpuLibrary::unavailable("no NVIDIA driver found (libcuda.so.1 not loadable)");
        let ok = GpuLibrary::available(Some("12.4".into()));
        let needs = benchmark_needs(&none, &ok, &[], 0).expect("needs the driver");
        assert!(needs.contains("libcuda.so.1 not loadable"), "{needs}");
        assert!(benchmark_needs(&ok, &ok, &[], 0)
            .expect("no device")
            .contains("reports none"));
    }

    /// A small run with the GPU part skipped: the CPU baseline is complete, the record
    /// goes through the store and survives a reopen, and an interrupted one is marked.
    #[tokio::test]
    async fn cpu_only_run_is_stored_and_survives_restart() {
        let config = GpuBenchOptions {
            image_side: Some(64),
            ns: Some(vec![1, 2, 3]),
            repetitions: Some(1),
            ..Default::default()
        }
        .resolve()
        .expect("valid options");
        let status = status_blocking(None);
        let machine = machine_identity(&status, 0, "test-host");
        let mut events = Vec::new();
        let mut checkpoints = Vec::new();
        let run = bench::run(
            "gpu-test-1".into(),
            config,
            machine,
            GpuPlan::Skip("no NVIDIA driver found (libcuda.so.1 not loadable)".into()),
            &AtomicBool::new(false),
            &mut |p| events.push(p),
            &mut |partial| checkpoints.push(partial.status),
        );
        assert_eq!(run.status, GpuRunStatus::Completed, "{:?}", run.error);
        let blur = run.blur.as_ref().expect("CPU baseline");
        assert_eq!(blur.cpu.len(), 3);
        assert!(blur
            .cpu
            .iter()
            .all(|p| p.single_thread_ms > 0.0 && p.all_cores_ms > 0.0));
        assert!(blur.cpu_single_fit.is_some() && blur.gpu.is_none());
        assert!(blur.break_even_all_cores.is_none(), "no N* without the GPU");
        assert!(render_text(&run).contains("GPU part skipped: no NVIDIA driver found"));
        let last = events.last().expect("progress events");
        assert_eq!((last.done, last.total), (last.total, 1 + 2 * 3 + 1));
        // Without a GPU part: one record so far, after the single-threaded phase.
        assert_eq!(checkpoints, vec![GpuRunStatus::Running]);

        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = crate::store::Store::open(dir.path()).expect("open");
            store.save_gpu_run(&run).await.expect("save");
            let mut running = run.clone();
            running.id = "gpu-test-2".into();
            running.status = GpuRunStatus::Running;
            running.started_at += chrono::Duration::seconds(1);
            store.save_gpu_run(&running).await.expect("save running");
        }
        let store = crate::store::Store::open(dir.path()).expect("reopen");
        assert_eq!(store.interrupt_gpu_runs().await.expect("interrupt"), 1);
        let list = store.gpu_runs(10).await.expect("list");
        assert_eq!(
            list.iter()
                .map(|r| (r.id.as_str(), r.status))
                .collect::<Vec<_>>(),
            vec![
                ("gpu-test-2", GpuRunStatus::Interrupted),
                ("gpu-test-1", GpuRunStatus::Completed)
            ]
        );
        // serde_json may round the last bit of an f64: compare what matters exactly,
        // timings to 1e-12.
        let back = store
            .gpu_run("gpu-test-1".into())
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(
            (&back.config, &back.machine, &back.gpu_skipped),
            (&run.config, &run.machine, &run.gpu_skipped)
        );
        let times = |r: &GpuRun| -> Vec<f64> {
            r.blur
                .iter()
                .flat_map(|b| b.cpu.iter().map(|p| p.single_thread_ms))
                .collect()
        };
        assert_eq!(times(&back).len(), 3);
        for (a, b) in times(&back).iter().zip(times(&run)) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
        }
        assert_eq!(store.gpu_run("nope".into()).await.expect("get"), None);
    }
}
