//! Starting a benchmark run, stopping it, and its progress from the event stream.

use leptos::prelude::*;
use leptos::task::spawn_local;
use vantage_shared::gpu::{GpuBenchOptions, GpuStatus};

use crate::api;
use crate::components::status::error_text;
use crate::state::{use_refresh, use_session};

/// Start a run; show its progress from the event stream.
#[component]
pub fn BenchmarkPanel(status: Signal<Option<GpuStatus>>) -> impl IntoView {
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
