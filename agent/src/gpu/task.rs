//! The background task of one API run (see `routes::start_run`).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinError;
use vantage_shared::gpu::{GpuBenchConfig, GpuRun, GpuRunStatus, MachineIdentity};
use vantage_shared::AgentEvent;

use super::bench;
use super::plan::{machine_identity, GpuPlan};
use super::status::status_blocking;
use crate::AppState;

/// The background task of one run: the blocking work on the blocking pool, progress
/// onto the event bus, the record into the store as each phase ends and at the end,
/// the slot freed whatever happens. A stopping agent sets the cancel flag, so the
/// blocking work returns within about a second and the run is stored as `interrupted`
/// (`serve` waits for that before it returns).
pub(super) async fn run_task(
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
    let events = state.events.clone();
    let store = state.store.clone();
    let runtime = tokio::runtime::Handle::current();
    let (run_id, cfg) = (id.clone(), config.clone());
    let started = Utc::now();
    let joined = tokio::task::spawn_blocking(move || {
        let mut publish = |progress| events.publish(AgentEvent::GpuBenchProgress { progress });
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
            failed_run(&state, &id, config, started, &e).await
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
    state.events.publish(AgentEvent::GpuBenchFinished {
        run_id: id,
        status: run.status,
    });
}

/// The record of a run whose blocking work panicked: what the store has of it, or a
/// new record, marked failed with the panic's message.
async fn failed_run(
    state: &AppState,
    id: &str,
    config: GpuBenchConfig,
    started: DateTime<Utc>,
    e: &JoinError,
) -> GpuRun {
    let stored = state.store.gpu_run(id.to_owned()).await.ok().flatten();
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
                id: id.to_owned(),
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
