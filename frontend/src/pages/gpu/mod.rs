//! `/gpu` (docs/incidents.md, "Is the GPU worth it here?"): what the agent's machine has
//! (driver, devices with `CUDA_ARCH_BIN`, NVRTC, PCIe link), which containers can use a
//! GPU, and benchmark runs that answer "from how many chained operations does the GPU pay
//! off?": the time-vs-N lines crossing at N*, upload/kernels/download per N, bandwidth
//! against size, and the history of runs. Without a GPU the CPU baseline still runs and
//! the page says what the GPU part needs.

use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::duration::bench_ms;
use vantage_shared::gpu::{
    BreakEven, GpuBenchOptions, GpuDevice, GpuLibrary, GpuRun, GpuRunStatus, GpuRunSummary,
    GpuStatus, HostMemory, TransferDirection, TransferResult,
};

use super::Live;
use crate::api;
use crate::components::data_table::{Column, DataTable};
use crate::components::loaded::{Loaded, OnError};
use crate::components::status::{error_text, Empty};
use crate::format::{bytes, date_time};
use crate::gpu_chart::{self, LineChart};
use crate::state::{use_refresh, use_session};

#[component]
pub fn GpuPage() -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let status = Live::new(move || {
        refresh.track_gpu();
        let token = session.token();
        async move { session.check(api::gpu_status(&token).await) }
    });
    let runs = Live::new(move || {
        refresh.track_gpu();
        let token = session.token();
        async move { session.check(api::gpu_runs(&token).await) }
    });
    view! {
        <h1>"GPU"</h1>
        <p class="lead">
            "What this machine's GPU is, which containers can use it, and from how many chained operations the GPU beats the CPU once the image's upload and download are paid for."
        </p>
        <Loaded outcome=status.outcome() what="GPU status">
            <GpuBody status runs />
        </Loaded>
    }
}

#[component]
fn GpuBody(status: Live<GpuStatus>, runs: Live<Vec<GpuRunSummary>>) -> impl IntoView {
    let data = status.data();
    let runs_outcome = runs.outcome();
    let runs = runs.data();
    let runs = Signal::derive(move || runs.get().unwrap_or_default());
    // The run shown below: the one picked in the history, else the newest.
    let picked = RwSignal::new(None::<String>);
    let shown_id = Signal::derive(move || {
        picked
            .get()
            .or_else(|| runs.with(|r| r.first().map(|r| r.id.clone())))
    });
    view! {
        {move || data.get().map(|s| view! { <Identity status=s /> })}
        <BenchmarkPanel status=data />
        <section aria-labelledby="runs-title">
            <h2 id="runs-title">"Benchmark runs"</h2>
            <Loaded
                outcome=runs_outcome
                what="the runs"
                on_error=OnError::Line { prefix: "Could not load the runs: ", testid: None }
                is_empty=Signal::derive(move || runs.with(Vec::is_empty))
                empty=|| view! {
                    <Empty title="No run yet." testid="runs-empty">
                        <p>"Start one above. (" <code>"vantage bench gpu --json"</code> " runs the same benchmark from a shell and prints the record.)"</p>
                    </Empty>
                }
            >
                <RunHistory runs picked shown_id />
                {move || shown_id.get().map(|id| view! { <RunDetail id /> })}
            </Loaded>
        </section>
    }
}

fn library_line(name: &'static str, lib: &GpuLibrary) -> impl IntoView {
    let (class, text) = if lib.available {
        (
            "badge ok",
            lib.version
                .clone()
                .map(|v| format!("available, {v}"))
                .unwrap_or_else(|| "available".into()),
        )
    } else {
        (
            "badge bad",
            lib.reason.clone().unwrap_or_else(|| "not available".into()),
        )
    };
    view! {
        <li data-testid="gpu-library" data-available=lib.available.to_string()>
            <strong>{name}</strong> ": "
            <span class=class>{if lib.available { "yes" } else { "no" }}</span> " " <span class="small">{text}</span>
        </li>
    }
}

/// Driver, libraries, devices, Docker's GPU support and containers with GPU access.
#[component]
fn Identity(status: GpuStatus) -> impl IntoView {
    let driver_missing = !status.driver.available;
    let docker = status.docker.clone();
    view! {
        <section class="panel" aria-labelledby="gpu-id-title" data-testid="gpu-identity">
            <h2 id="gpu-id-title">"This machine"</h2>
            {driver_missing.then(|| view! {
                <div class="callout warn" role="status" data-testid="gpu-unavailable">
                    <p><strong>{status.driver.reason.clone().unwrap_or_else(|| "No NVIDIA driver found".into())}</strong></p>
                    <p class="small">
                        "The CPU baseline still runs, so a run shows what the CPU does with the same work. "
                        {status.benchmark_needs.clone().unwrap_or_default()}
                    </p>
                </div>
            })}
            <ul class="plain-list">
                {library_line("NVIDIA driver (libcuda)", &status.driver)}
                {library_line("NVML (PCIe link, clocks)", &status.nvml)}
                {library_line("NVRTC (kernel compiler)", &status.nvrtc)}
                {status.driver_version.clone().map(|v| view! { <li><strong>"Driver version"</strong> ": " {v}</li> })}
            </ul>
            <div class="gpu-devices">
                {status.devices.into_iter().map(|d| view! { <DeviceCard device=d /> }).collect_view()}
            </div>
        </section>
        <section class="panel" aria-labelledby="gpu-docker-title" data-testid="gpu-docker">
            <h2 id="gpu-docker-title">"Containers and the GPU"</h2>
            {if docker.available {
                view! {
                    <p class="small">{docker.engine.as_ref().map(|e| e.summary.clone()).unwrap_or_default()}</p>
                    {if docker.containers.iter().any(|c| c.access.has_gpu) {
                        let rows = docker.containers.iter().filter(|c| c.access.has_gpu).map(|c| view! {
                            <tr data-testid="gpu-container">
                                <td data-label="Container"><code>{c.name.clone()}</code>{(!c.running).then(|| view! { " " <span class="muted small">"(stopped)"</span> })}</td>
                                <td data-label="GPUs">{c.access.gpus.clone()}</td>
                                <td data-label="How" class="small">{c.access.detail.clone()}</td>
                            </tr>
                        }).collect_view();
                        let columns = vec![Column::new("Container"), Column::new("GPUs"), Column::new("How")];
                        view! { <DataTable columns>{rows}</DataTable> }.into_any()
                    } else {
                        view! { <p class="muted small" data-testid="gpu-no-containers">"No container has GPU access (" <code>"--gpus"</code> ", CDI or the nvidia runtime)."</p> }.into_any()
                    }}
                    {docker.containers.iter().filter(|c| !c.access.has_gpu && c.access.kind != vantage_shared::gpu::GpuAccessKind::None).map(|c| view! {
                        <p class="small warn-text">
                            <code>{c.name.clone()}</code> ": " {c.access.detail.clone()}
                        </p>
                    }).collect_view()}
                }.into_any()
            } else {
                view! { <p class="muted small">{docker.reason.clone().unwrap_or_else(|| "Docker is not available.".into())}</p> }.into_any()
            }}
        </section>
    }
}

#[component]
fn DeviceCard(device: GpuDevice) -> impl IntoView {
    let used = device
        .free_memory_bytes
        .map(|free| device.total_memory_bytes.saturating_sub(free));
    let pct = used
        .filter(|_| device.total_memory_bytes > 0)
        .map(|u| u as f64 / device.total_memory_bytes as f64 * 100.0);
    let pcie = device.pcie.clone().map(|p| {
        let now = match (p.current_gen, p.current_width) {
            (Some(g), Some(w)) => format!("Gen{g} x{w}"),
            _ => "unknown".into(),
        };
        let max = match (p.max_gen, p.max_width) {
            (Some(g), Some(w)) => format!(" (max Gen{g} x{w})"),
            _ => String::new(),
        };
        let limit = p
            .theoretical_gbps
            .map(|g| format!(", {g:.1} GB/s each way"))
            .unwrap_or_default();
        format!("{now}{max}{limit}")
    });
    view! {
        <article class="gpu-device" data-testid="gpu-device">
            <h3>{format!("#{} {}", device.index, device.name)}</h3>
            <p>
                <span class="badge">"compute " {format!("{}.{}", device.compute_capability_major, device.compute_capability_minor)}</span>
                " "
                <code title="Pass this to builds: CUDA_ARCH_BIN, TORCH_CUDA_ARCH_LIST, -gencode">{format!("CUDA_ARCH_BIN={}", device.cuda_arch_bin)}</code>
            </p>
            <p class="small">
                "Memory " {bytes(device.total_memory_bytes)}
                {used.map(|u| format!(", {} in use", bytes(u)))}
                {device.theoretical_memory_bandwidth_gbps.map(|g| format!(", {g:.0} GB/s theoretical"))}
            </p>
            {pct.map(|p| view! {
                <div class="meter" role="img" aria-label=format!("{p:.0}% of GPU memory in use")>
                    <span style=format!("width:{p:.1}%")></span>
                </div>
            })}
            {pcie.map(|p| view! { <p class="small">"PCIe " {p}</p> })}
            {device.uuid.clone().map(|u| view! { <p class="muted small"><code>{u}</code></p> })}
        </article>
    }
}

/// Start a run; show its progress from the event stream.
#[component]
fn BenchmarkPanel(status: Signal<Option<GpuStatus>>) -> impl IntoView {
    let session = use_session();
    let refresh = use_refresh();
    let quick = RwSignal::new(true);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // The agent's own word on whether a run is going (refetched when one starts or ends,
    // and after a reconnect), so a missed `gpu_bench_finished` cannot leave this stuck.
    let running = move || status.with(|s| s.as_ref().and_then(|s| s.running.clone()));
    let start = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let options = GpuBenchOptions {
            quick: quick.get_untracked(),
            ..GpuBenchOptions::default()
        };
        spawn_local(async move {
            let token = session.token_untracked();
            let result = session.check(api::start_gpu_run(&token, &options).await);
            busy.set(false);
            match result {
                Ok(_) => refresh.bump_gpu(),
                Err(e) => error.set(Some(error_text(&e))),
            }
        });
    };
    let cancelling = RwSignal::new(false);
    let cancel = move |id: String| {
        cancelling.set(true);
        spawn_local(async move {
            let token = session.token_untracked();
            let result = session.check(api::cancel_gpu_run(&token, &id).await);
            cancelling.set(false);
            match result {
                Ok(()) => {}
                Err(e) => error.set(Some(format!("Could not stop the run: {}", error_text(&e)))),
            }
            // A run that had already ended answers 409: either way, ask the agent again.
            refresh.bump_gpu();
        });
    };
    let progress = move || {
        let current = running()?;
        refresh.gpu_progress.get().filter(|p| p.run_id == current).map(|p| {
            let pct = if p.total > 0 {
                f64::from(p.done) / f64::from(p.total) * 100.0
            } else {
                0.0
            };
            view! {
                <div class="gpu-progress" data-testid="gpu-progress">
                    <progress max=p.total.max(1).to_string() value=p.done.to_string()></progress>
                    <span class="small">{format!("{pct:.0}% · {}", p.message)}</span>
                </div>
            }
        })
    };
    view! {
        <section class="panel" aria-labelledby="bench-title">
            <h2 id="bench-title">"Run the benchmark"</h2>
            <p class="small">
                "A 21×21 Gaussian blur chained N times (N = 1, 2, 4 … 32) on a 4096×4096 image, on the GPU (kernel compiled at run time, upload / kernels / download timed with CUDA events) and on the CPU (one thread and all threads); transfers host↔device over a size sweep. The quick run uses a 512×512 image and N up to 8 (seconds instead of minutes)."
            </p>
            <div class="bench-controls">
                <label class="check">
                    <input type="checkbox" data-testid="bench-quick" prop:checked=move || quick.get()
                        on:change=move |ev| quick.set(event_target_checked(&ev)) />
                    " Quick run"
                </label>
                <button type="button" class="button" data-testid="bench-start"
                    disabled=move || busy.get() || running().is_some()
                    on:click=start>
                    {move || if running().is_some() { "Running…" } else if busy.get() { "Starting…" } else { "Run benchmark" }}
                </button>
                {move || running().map(|id| {
                    let id = StoredValue::new(id);
                    view! {
                        <button type="button" class="button secondary" data-testid="bench-cancel"
                            disabled=move || cancelling.get()
                            on:click=move |_| cancel(id.get_value())>
                            {move || if cancelling.get() { "Stopping…" } else { "Stop" }}
                        </button>
                    }
                })}
            </div>
            {progress}
            {move || error.get().map(|e| view! { <p class="error-box small" role="alert">{e}</p> })}
        </section>
    }
}

fn break_even_text(b: &Option<BreakEven>) -> String {
    match b {
        Some(BreakEven::AtN { n }) => format!("N* ≈ {n:.1}"),
        Some(BreakEven::GpuAlwaysWins { .. }) => "GPU from N = 1".into(),
        Some(BreakEven::Never { .. }) => "GPU never wins".into(),
        Some(BreakEven::Undetermined { .. }) => "undetermined".into(),
        None => "—".into(),
    }
}

#[component]
fn RunHistory(
    #[prop(into)] runs: Signal<Vec<GpuRunSummary>>,
    picked: RwSignal<Option<String>>,
    shown_id: Signal<Option<String>>,
) -> impl IntoView {
    let columns = vec![
        Column::new("Started"),
        Column::new("Machine"),
        Column::new("Break-even (all threads)"),
        Column::new("Upload, pinned"),
        Column::new("Status"),
    ];
    view! {
        <DataTable columns class="gpu-runs">
            <For each=move || runs.get() key=|r| (r.id.clone(), r.status as u8) let:r>
                {
                    let id = r.id.clone();
                    let id_sel = r.id.clone();
                    let selected = Signal::derive(move || shown_id.with(|s| s.as_deref() == Some(id_sel.as_str())));
                    view! {
                        <tr data-testid="gpu-run-row" class:selected=selected>
                            <td data-label="Started">
                                <button type="button" class="link-button" aria-pressed=move || selected.get().to_string()
                                    on:click=move |_| picked.set(Some(id.clone()))>
                                    {date_time(r.started_at)}
                                </button>
                                {r.quick.then(|| view! { " " <span class="badge">"quick"</span> })}
                            </td>
                            <td data-label="Machine" class="small">
                                {r.hostname.clone()} " · " {r.gpu.clone().unwrap_or_else(|| "no GPU".into())}
                            </td>
                            <td data-label="Break-even">{if r.gpu_ran { break_even_text(&r.break_even_all_cores) } else { "CPU only (no GPU)".to_owned() }}</td>
                            <td data-label="Upload, pinned">{r.best_h2d_pinned_gbps.map(|g| format!("{g:.1} GB/s")).unwrap_or_else(|| "—".into())}</td>
                            <td data-label="Status">{status_badge(r.status)}</td>
                        </tr>
                    }
                }
            </For>
        </DataTable>
    }
}

fn status_badge(s: GpuRunStatus) -> impl IntoView {
    let (class, text) = match s {
        GpuRunStatus::Running => ("badge", "running"),
        GpuRunStatus::Completed => ("badge ok", "completed"),
        GpuRunStatus::Failed => ("badge bad", "failed"),
        GpuRunStatus::Interrupted => ("badge warn", "interrupted"),
        GpuRunStatus::Cancelled => ("badge warn", "cancelled"),
    };
    view! { <span class=class>{text}</span> }
}

/// One run: the verdict sentence, charts, and the figures as tables.
#[component]
fn RunDetail(id: String) -> impl IntoView {
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
            {blur.clone().and_then(|b| gpu_chart::stacked_bars(&b)).map(|(bars, ticks)| {
                let (l, t, r, bottom) = gpu_chart::plot_box();
                view! {
                    <h4>"GPU time per N: upload, kernels, download"</h4>
                    <figure class="chart">
                        <svg viewBox=format!("0 0 {} {}", gpu_chart::WIDTH, gpu_chart::HEIGHT) role="img"
                            aria-label="Stacked bars of GPU upload, kernel and download time per N" data-testid="stacked-bars">
                            {ticks.into_iter().map(|tk| view! {
                                <line class="grid" x1=l x2=r y1=tk.pos y2=tk.pos></line>
                                <text class="tick" x=l - 6.0 y=tk.pos + 4.0 text-anchor="end">{tk.label}</text>
                            }).collect_view()}
                            <line class="axis" x1=l x2=r y1=bottom y2=bottom></line>
                            {bars.into_iter().map(|bar| view! {
                                <g>
                                    {bar.parts.into_iter().map(|(class, y, h, label)| view! {
                                        <rect class=class x=bar.x y=y width=bar.w height=h><title>{label}</title></rect>
                                    }).collect_view()}
                                    <text class="tick" x=bar.x + bar.w / 2.0 y=bottom + 16.0 text-anchor="middle">{format!("N={}", bar.n)}</text>
                                </g>
                            }).collect_view()}
                            <text class="tick" x=l y=t - 6.0>"ms"</text>
                        </svg>
                        <figcaption class="legend small">
                            <span class="key b-up"></span>" upload " <span class="key b-kern"></span>" kernels " <span class="key b-down"></span>" download"
                        </figcaption>
                    </figure>
                }
            })}
            {blur.map(|b| view! { <BlurTable blur=b /> })}
            {run.transfers.clone().map(|t| view! { <Transfers t /> })}
        </article>
    }
}

/// A line chart with axes, legend, and the N* marker.
#[component]
fn Chart(chart: LineChart, #[prop(into)] label: String) -> impl IntoView {
    let (l, t, r, b) = gpu_chart::plot_box();
    let legend: Vec<(String, &'static str, bool)> = chart
        .series
        .iter()
        .map(|s| (s.label.clone(), s.class, s.dashed))
        .collect();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {} {}", gpu_chart::WIDTH, gpu_chart::HEIGHT) role="img" aria-label=label data-testid="line-chart">
                {chart.y_ticks.into_iter().map(|tk| view! {
                    <line class="grid" x1=l x2=r y1=tk.pos y2=tk.pos></line>
                    <text class="tick" x=l - 6.0 y=tk.pos + 4.0 text-anchor="end">{tk.label}</text>
                }).collect_view()}
                <line class="axis" x1=l x2=r y1=b y2=b></line>
                {chart.x_ticks.into_iter().map(|tk| view! {
                    <text class="tick" x=tk.pos y=b + 16.0 text-anchor="middle">{tk.label}</text>
                }).collect_view()}
                <text class="tick axis-title" x=(l + r) / 2.0 y=b + 34.0 text-anchor="middle">{chart.x_title}</text>
                <text class="tick" x=l y=t - 6.0>{chart.y_title}</text>
                {chart.marker.map(|(x, text)| view! {
                    <line class="marker" x1=x x2=x y1=t y2=b data-testid="break-even-marker"></line>
                    <text class="tick marker-label" x=x + 4.0 y=t + 12.0>{text}</text>
                })}
                {chart.series.into_iter().map(|s| view! {
                    <g class=format!("series {}", s.class)>
                        <polyline class=if s.dashed { "line dashed" } else { "line" } points=s.line fill="none"></polyline>
                        {s.dots.into_iter().map(|(x, y, title)| view! {
                            <circle cx=x cy=y r="3.5"><title>{title}</title></circle>
                        }).collect_view()}
                    </g>
                }).collect_view()}
            </svg>
            <figcaption class="legend small">
                {legend.into_iter().map(|(label, class, dashed)| view! {
                    <span class=format!("key line-key {class}{}", if dashed { " dashed" } else { "" })></span>
                    " " {label} " "
                }).collect_view()}
            </figcaption>
        </figure>
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
                        <td data-label="Size">{gpu_chart::size_label(p.bytes)}</td>
                        <td data-label="Best">{format!("{:.2} GB/s", p.best_gbps)}</td>
                        <td data-label="Median">{format!("{:.2} GB/s", p.median_gbps)}</td>
                    </tr>
                }).collect_view()}
            </DataTable>
        </details>
    }
}
