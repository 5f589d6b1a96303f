//! `/gpu` (docs/incidents.md, "Is the GPU worth it here?"): what the agent's machine has
//! (driver, devices with `CUDA_ARCH_BIN`, NVRTC, PCIe link), which containers can use a
//! GPU, and benchmark runs that answer "from how many chained operations does the GPU pay
//! off?": the time-vs-N lines crossing at N*, upload/kernels/download per N, bandwidth
//! against size, and the history of runs. Without a GPU the CPU baseline still runs and
//! the page says what the GPU part needs.
//!
//! Here the page and its layout; the machine, the run controls, the history and one
//! run's results each in their own module.

mod bench;
mod charts;
mod history;
mod machine;
mod results;

use leptos::prelude::*;
use vantage_shared::gpu::{GpuRunSummary, GpuStatus};

use super::Live;
use crate::api;
use crate::components::loaded::{Loaded, OnError};
use crate::components::status::Empty;
use crate::state::{use_refresh, use_session};
use bench::BenchmarkPanel;
use history::RunHistory;
use machine::Identity;
use results::RunDetail;

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
