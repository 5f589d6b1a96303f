//! The history of benchmark runs, one row each, where a run is picked to be shown.

use leptos::prelude::*;
use vantage_shared::gpu::{BreakEven, GpuRunStatus, GpuRunSummary};

use crate::components::data_table::{Column, DataTable};
use crate::format::date_time;

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
pub fn RunHistory(
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
