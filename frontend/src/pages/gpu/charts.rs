//! The SVG drawing of the charts whose geometry `gpu_chart` computes.

use leptos::prelude::*;

use crate::gpu_chart::{self, LineChart, StackedBar, Tick};

/// A line chart with axes, legend, and the N* marker.
#[component]
pub fn Chart(chart: LineChart, #[prop(into)] label: String) -> impl IntoView {
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

/// The GPU's upload, kernels and download per N as stacked bars, with their legend.
#[component]
pub fn StackedBars(bars: Vec<StackedBar>, ticks: Vec<Tick>) -> impl IntoView {
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
}
