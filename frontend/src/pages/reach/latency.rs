//! A target's latency over time, phases stacked, drawn as inline SVG from
//! `latency_chart`'s geometry: where the time goes (DNS, connect, TLS, the server's wait)
//! and when it changed, which a table of percentiles cannot show.

use leptos::prelude::*;
use vantage_shared::probe::TargetResult;

use crate::chart::Tick;
use crate::latency_chart::{self, Column, HEIGHT, WIDTH};

#[component]
pub fn LatencyChart(results: Vec<TargetResult>) -> impl IntoView {
    let c = latency_chart::layout(&results);
    let (left, right, top, bottom) = (c.plot_left, c.plot_right, c.plot_top, c.plot_bottom);
    let legend = c
        .phases
        .iter()
        .map(|p| view! { <li><span class=format!("swatch {}", p.class())></span>{p.label()}</li> })
        .collect_view();
    let has_down = c.columns.iter().any(|col| col.down);
    let n_columns = c.columns.len();
    view! {
        <figure class="timeline latency-chart">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=c.description.clone()
                data-testid="latency-chart"
                data-columns=n_columns
            >
                <YGrid ticks=c.y_ticks left right />
                <g class="axis">
                    <line x1=left x2=right y1=bottom y2=bottom></line>
                    <line x1=left x2=left y1=top y2=bottom></line>
                    <XTicks ticks=c.x_ticks bottom />
                </g>
                {c.columns.into_iter().map(|col| view! { <ColumnMarks col top bottom /> }).collect_view()}
            </svg>
            <figcaption>
                <ul class="legend">
                    {legend}
                    {has_down.then(|| view! { <li><span class="swatch down-band"></span>"down"</li> })}
                </ul>
            </figcaption>
        </figure>
    }
}

#[component]
fn YGrid(ticks: Vec<Tick>, left: f64, right: f64) -> impl IntoView {
    view! {
        <g class="grid">
            {ticks
                .into_iter()
                .map(|t| view! {
                    <g>
                        <line x1=left x2=right y1=t.pos y2=t.pos></line>
                        <text class="y-label" x=left - 6.0 y=t.pos + 4.0>{t.label}</text>
                    </g>
                })
                .collect_view()}
        </g>
    }
}

#[component]
fn XTicks(ticks: Vec<Tick>, bottom: f64) -> impl IntoView {
    ticks
        .into_iter()
        .map(|t| {
            view! {
                <g>
                    <line x1=t.pos x2=t.pos y1=bottom y2=bottom + 4.0></line>
                    <text class="x-label" x=t.pos y=bottom + 17.0>{t.label}</text>
                </g>
            }
        })
        .collect_view()
}

/// One result: a red band when down, its stacked phases when up; the tooltip says which.
#[component]
fn ColumnMarks(col: Column, top: f64, bottom: f64) -> impl IntoView {
    let Column {
        x,
        w,
        segments,
        down,
        label,
        ..
    } = col;
    view! {
        <g class="column">
            <title>{label}</title>
            {down.then(|| view! { <rect class="down-band" x=x y=top width=w height=bottom - top></rect> })}
            {segments
                .into_iter()
                .map(|s| view! { <rect class=s.phase.class() x=x y=s.y width=w height=s.h></rect> })
                .collect_view()}
        </g>
    }
}
