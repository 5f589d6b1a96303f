//! One run's results: the machine it ran on, the break-even verdict, the charts, and the
//! blur and transfer figures as tables.

use leptos::prelude::*;
use vantage_shared::duration::bench_ms;
use vantage_shared::gpu::{GpuRun, HostMemory, TransferDirection, TransferResult};
use vantage_shared::size::human_bytes;

use super::charts::{Chart, StackedBars};
use super::Live;
use crate::api;
use crate::components::data_table::{Column, DataTable};
use crate::components::loaded::{Loaded, OnError};
use crate::format::date_time;
use crate::gpu_chart;
use crate::state::{use_refresh, use_session};

/// One run: the verdict sentence, charts, and the figures as tables.
#[component]
pub fn RunDetail(id: String) -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let run = Live::new(move || {
        refresh.track_gpu();
        let token = session.token();
        let id = id.clone();
        async move { session.check(api::gpu_run(&token, &id).await) }
    });
    let data = run.data();
    view! {
        <Loaded
            outcome=run.outcome()
            what="the run"
            on_error=OnError::Line { prefix: "Could not load this run: ", testid: Some("run-error") }
        >
            {move || data.get().map(|r| view! { <RunView run=r /> })}
        </Loaded>
    }
}

#[component]
fn RunView(run: GpuRun) -> impl IntoView {
    let blur = run.blur.clone();
    let headline = blur.as_ref().and_then(|b| {
        b.break_even_all_cores
            .as_ref()
            .map(|be| be.sentence("blur"))
    });
    let agreement = blur
        .as_ref()
        .and_then(|b| b.gpu.as_ref())
        .and_then(|g| g.agreement.clone());
    view! {
        <article class="panel gpu-run" data-testid="gpu-run" data-status=format!("{:?}", run.status).to_lowercase()>
            <header>
                <h3>{format!("Run of {}", date_time(run.started_at))}</h3>
                <p class="muted small">
                    {run.machine.hostname.clone()} " · "
                    {run.machine.cpu_model.clone().unwrap_or_else(|| "CPU".into())} ", "
                    {format!("{} threads", run.machine.cpu_cores)} " · "
                    {run.machine.gpu.clone().unwrap_or_else(|| "no GPU".into())}
                    {run.machine.driver_version.clone().map(|v| format!(" · driver {v}"))}
                    " · " {format!("{0}×{0} image, N = {1:?}", run.config.image_side, run.config.ns)}
                </p>
            </header>
            {run.error.clone().map(|e| view! { <p class="error-box small" role="alert">{e}</p> })}
            {headline.map(|h| view! { <p class="verdict-line" data-testid="break-even">{h}</p> })}
            {run.gpu_skipped.clone().map(|s| view! {
                <p class="callout warn small" data-testid="gpu-skipped">"GPU part not run: " {s}</p>
            })}
            {agreement.map(|a| view! {
                <p class=if a.pass { "small good-text" } else { "small error-box" } data-testid="agreement">
                    {if a.pass { "✓ GPU and CPU outputs agree" } else { "✗ GPU and CPU outputs differ" }}
                    {format!(" (N = {}: largest difference {:.2e}, tolerance {:.0e})", a.n, a.max_abs_diff, a.tolerance)}
                </p>
            })}
            {blur.clone().map(|b| {
                let chart = gpu_chart::time_vs_n(&b);
                view! {
                    <h4>"Time against N"</h4>
                    <Chart chart label="Time against the number of chained blurs, per engine" />
                    <p class="small muted">"Dots: measured runs. Lines: the model behind N*: each CPU engine costs its per-blur time × N; the GPU costs the upload and download once plus its per-blur kernel time × N. Where the GPU line drops below a CPU line, the GPU pays off."</p>
                }
            })}
            {blur.clone().and_then(|b| gpu_chart::stacked_bars(&b)).map(|(bars, ticks)| view! { <StackedBars bars ticks /> })}
            {blur.map(|b| view! { <BlurTable blur=b /> })}
            {run.transfers.clone().map(|t| view! { <Transfers t /> })}
        </article>
    }
}

#[component]
fn BlurTable(blur: vantage_shared::gpu::BlurResult) -> impl IntoView {
    let gpu = blur.gpu.clone();
    let rows: Vec<_> = blur
        .cpu
        .iter()
        .map(|c| {
            let g = gpu
                .as_ref()
                .and_then(|g| g.points.iter().find(|p| p.n == c.n).cloned());
            (c.clone(), g)
        })
        .collect();
    let cold = gpu.as_ref().map(|g| g.cold.clone());
    let columns = vec![
        Column::new("N"),
        Column::new("CPU, one thread"),
        Column::new("CPU, all threads"),
        Column::new("GPU upload"),
        Column::new("GPU kernels"),
        Column::new("GPU download"),
        Column::new("GPU total"),
    ];
    view! {
        <details class="figures">
            <summary>"The figures"</summary>
            <p class="small muted">
                {format!("{}×{} image, {}×{} kernel (σ = {:.2}), {}; CPU on {} threads.", blur.width, blur.height, blur.kernel_size, blur.kernel_size, blur.sigma, blur.method, blur.cpu_threads)}
            </p>
            <DataTable columns testid="blur-table">
                {rows.into_iter().map(|(c, g)| view! {
                    <tr>
                        <td data-label="N">{c.n}</td>
                        <td data-label="CPU, one thread">{bench_ms(c.single_thread_ms, 1)}</td>
                        <td data-label="CPU, all threads">{bench_ms(c.all_cores_ms, 1)}</td>
                        <td data-label="GPU upload">{g.as_ref().map(|g| bench_ms(g.upload_ms, 2)).unwrap_or_else(|| "—".into())}</td>
                        <td data-label="GPU kernels">{g.as_ref().map(|g| bench_ms(g.kernels_ms, 2)).unwrap_or_else(|| "—".into())}</td>
                        <td data-label="GPU download">{g.as_ref().map(|g| bench_ms(g.download_ms, 2)).unwrap_or_else(|| "—".into())}</td>
                        <td data-label="GPU total">{g.as_ref().map(|g| bench_ms(g.total_ms, 2)).unwrap_or_else(|| "—".into())}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
            {cold.map(|c| view! {
                <p class="small">
                    {format!("Cold first run, reported apart: kernel compile {:.1} ms, module load {:.1} ms, setup {:.1} ms, then N = {}: upload {:.2} ms, kernels {:.2} ms, download {:.2} ms.", c.compile_ms, c.module_load_ms, c.setup_ms, c.n, c.upload_ms, c.kernels_ms, c.download_ms)}
                </p>
            })}
            {blur.break_even_single.map(|b| view! { <p class="small">"Against one CPU core: " {b.sentence("blur")}</p> })}
        </details>
    }
}

fn transfer_label(d: TransferDirection, m: HostMemory) -> &'static str {
    match (d, m) {
        (TransferDirection::HostToDevice, HostMemory::Pinned) => "upload, pinned",
        (TransferDirection::HostToDevice, _) => "upload, pageable",
        (TransferDirection::DeviceToHost, HostMemory::Pinned) => "download, pinned",
        (TransferDirection::DeviceToHost, _) => "download, pageable",
        (TransferDirection::DeviceToDevice, _) => "device to device",
    }
}

#[component]
fn Transfers(t: TransferResult) -> impl IntoView {
    let chart = gpu_chart::bandwidth(&t);
    let d2d_best = t
        .points
        .iter()
        .filter(|p| p.direction == TransferDirection::DeviceToDevice)
        .map(|p| p.best_gbps)
        .reduce(f64::max);
    let mut points = t.points.clone();
    points.sort_by_key(|p| (p.direction as u8, p.memory as u8, p.bytes));
    let columns = vec![
        Column::new("Copy"),
        Column::new("Size"),
        Column::new("Best"),
        Column::new("Median"),
    ];
    view! {
        <h4>"Bandwidth against transfer size"</h4>
        {chart.map(|c| view! { <Chart chart=c label="Copy bandwidth in GB/s against transfer size" /> })}
        {d2d_best.map(|g| view! {
            <p class="small">
                {format!("Device to device: {g:.0} GB/s (bytes copied once; the memory moves each byte twice: {:.0} GB/s of traffic", 2.0 * g)}
                {t.memory_limit_gbps.map(|m| format!(", {:.0}% of the theoretical {m:.0} GB/s", 2.0 * g / m * 100.0))}
                ")."
            </p>
        })}
        <p class="small muted">{t.convention.clone()}</p>
        <details class="figures">
            <summary>"The figures"</summary>
            <DataTable columns testid="transfer-table">
                {points.into_iter().map(|p| view! {
                    <tr>
                        <td data-label="Copy">{transfer_label(p.direction, p.memory)}</td>
                        <td data-label="Size">{human_bytes(p.bytes)}</td>
                        <td data-label="Best">{format!("{:.2} GB/s", p.best_gbps)}</td>
                        <td data-label="Median">{format!("{:.2} GB/s", p.median_gbps)}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
        </details>
    }
}
