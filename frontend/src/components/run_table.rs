//! The table of recorded healthcheck runs, newest first.

use leptos::prelude::*;
use vantage_shared::duration::human_ms;
use vantage_shared::HealthcheckRun;

use super::data_table::{Column, DataTable, OnPhone};
use crate::format::{clock, truncate};

/// Rows shown before "Show all": hundreds of rows bury the page on a phone.
const FIRST_ROWS: usize = 50;
/// Output longer than this is cut, with the full text behind a disclosure.
const OUTPUT_CHARS: usize = 80;

#[component]
pub fn RunTable(
    #[prop(into)] runs: Signal<Vec<HealthcheckRun>>,
    show_all: RwSignal<bool>,
) -> impl IntoView {
    let total = move || runs.with(Vec::len);
    let columns = vec![
        Column::new("Start"),
        Column::new("Result"),
        Column::new("Duration").num(),
        Column::new("Exit code").num(),
        Column::new("Output"),
    ];
    let rows = move || {
        let n = if show_all.get() {
            usize::MAX
        } else {
            FIRST_ROWS
        };
        runs.with(|p| p.iter().take(n).cloned().collect::<Vec<_>>())
    };
    view! {
        // Scrolls sideways on phones rather than wrapping the output letter by letter.
        <DataTable columns class="healthcheck-runs" phone=OnPhone::Scroll>
            <For each=rows key=|p| p.start.timestamp_micros() let:p>
                <RunRow run=p />
            </For>
        </DataTable>
        <Show when=move || { total() > FIRST_ROWS }>
            <button type="button" class="button secondary" on:click=move |_| show_all.update(|s| *s = !*s)>
                {move || {
                    if show_all.get() {
                        format!("Show the latest {FIRST_ROWS}")
                    } else {
                        format!("Show all {} healthcheck runs", total())
                    }
                }}
            </button>
        </Show>
    }
}

#[component]
fn RunRow(run: HealthcheckRun) -> impl IntoView {
    let passed = run.passed();
    let (short, cut) = truncate(&run.output, OUTPUT_CHARS);
    let output = if cut {
        view! {
            <details>
                <summary>
                    <code>{short}</code>
                </summary>
                <pre>{run.output.clone()}</pre>
            </details>
        }
        .into_any()
    } else if short.is_empty() {
        view! { <span class="muted">"(no output)"</span> }.into_any()
    } else {
        view! { <code>{short}</code> }.into_any()
    };
    view! {
        <tr data-testid="run-row" data-exit-code=run.exit_code class=if passed { "pass" } else { "fail" }>
            <td data-label="Start">
                <time datetime=run.start.to_rfc3339()>{clock(run.start)}</time>
            </td>
            <td data-label="Result">
                <span class=if passed { "badge health-healthy" } else { "badge health-unhealthy" }>
                    {if passed { "pass" } else { "fail" }}
                </span>
            </td>
            <td data-label="Duration" class="num">{human_ms(run.duration_ms)}</td>
            <td data-label="Exit code" class="num">
                <code>{run.exit_code}</code>
            </td>
            <td data-label="Output" class="output">{output}</td>
        </tr>
    }
}
