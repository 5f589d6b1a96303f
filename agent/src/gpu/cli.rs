//! `vantage bench gpu`: a run in this process, from the command line to the terminal
//! and the history database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use vantage_shared::gpu::{GpuRunStatus, OptionsSource};

use super::bench;
use super::plan::{check_memory, new_run_id, prepare};
use super::status::status_blocking;
use super::text::render_text;

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
