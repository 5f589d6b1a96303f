//! The healthcheck timeline: every recorded healthcheck run as a bar over time, drawn as inline SVG.

use leptos::prelude::*;
use vantage_shared::{HealthcheckConfig, HealthcheckRun};

use crate::chart::{self, Timeline, HEIGHT, WIDTH};

/// Draws runs (x = start, height = duration, colour = outcome) with the timeout
/// line, the start_period band and the container start.
#[component]
pub fn HealthTimeline(
    runs: Vec<HealthcheckRun>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    config: Option<HealthcheckConfig>,
) -> impl IntoView {
    let t: Timeline = chart::layout(&chart::Input {
        runs: &runs,
        started_at,
        config: config.as_ref(),
    });
    let Timeline {
        plot_left,
        plot_right,
        plot_top,
        plot_bottom,
        bars,
        x_ticks,
        y_ticks,
        x_title,
        timeout,
        start_period,
        start,
        ready,
        description,
    } = t;
    let n_bars = bars.len();
    let has_start_period = start_period.is_some();
    let has_timeout = timeout.is_some();
    let zero_start_period = config.as_ref().is_some_and(|c| c.start_period_ms == 0);
    let has_start = start.is_some();
    let has_ready = ready.is_some();
    let mid_y = (plot_top + plot_bottom) / 2.0;
    // Marker labels near the right edge go on the left of their line, so they stay visible.
    let flip = |x: f64| x > WIDTH * 0.6;

    view! {
        <figure class="timeline">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-labelledby="timeline-title timeline-desc"
                data-testid="health-timeline"
                data-runs=n_bars
            >
                <title id="timeline-title">"Healthcheck timeline"</title>
                <desc id="timeline-desc">{description}</desc>
                {start_period
                    .map(|(x0, x1, label)| {
                        view! {
                            <g class="start-period">
                                <rect x=x0 y=plot_top width=(x1 - x0).max(0.0) height=plot_bottom - plot_top></rect>
                                <text x=x0 + 4.0 y=plot_top + 12.0>{label}</text>
                            </g>
                        }
                    })}
                <g class="grid">
                    {y_ticks
                        .iter()
                        .map(|tick| {
                            view! {
                                <g>
                                    <line x1=plot_left x2=plot_right y1=tick.pos y2=tick.pos></line>
                                    <text class="y-label" x=plot_left - 6.0 y=tick.pos + 4.0>
                                        {tick.label.clone()}
                                    </text>
                                </g>
                            }
                        })
                        .collect_view()}
                </g>
                <g class="axis">
                    <line x1=plot_left x2=plot_right y1=plot_bottom y2=plot_bottom></line>
                    <line x1=plot_left x2=plot_left y1=plot_top y2=plot_bottom></line>
                    {x_ticks
                        .into_iter()
                        .map(|tick| {
                            view! {
                                <g>
                                    <line x1=tick.pos x2=tick.pos y1=plot_bottom y2=plot_bottom + 4.0></line>
                                    <text class="x-label" x=tick.pos y=plot_bottom + 17.0>
                                        {tick.label}
                                    </text>
                                </g>
                            }
                        })
                        .collect_view()}
                    <text class="axis-title" x=(plot_left + plot_right) / 2.0 y=HEIGHT - 6.0>
                        {x_title}
                    </text>
                    <text
                        class="axis-title"
                        x=14.0
                        y=mid_y
                        transform=format!("rotate(-90 14 {mid_y})")
                    >
                        "run duration"
                    </text>
                </g>
                <g class="bars">
                    {bars
                        .into_iter()
                        .map(|b| {
                            view! {
                                <rect class=b.kind.class() x=b.x y=b.y width=b.w height=b.h data-key=b.key>
                                    <title>{b.label}</title>
                                </rect>
                            }
                        })
                        .collect_view()}
                </g>
                {timeout
                    .map(|tick| {
                        view! {
                            <g class="timeout-line">
                                <line x1=plot_left x2=plot_right y1=tick.pos y2=tick.pos></line>
                                <text x=plot_right - 4.0 y=tick.pos - 5.0>{tick.label}</text>
                            </g>
                        }
                    })}
                {start
                    .map(|m| {
                        view! {
                            <g class="start-marker">
                                <line x1=m.x x2=m.x y1=plot_top - 14.0 y2=plot_bottom></line>
                                <text
                                    x=if flip(m.x) { m.x - 4.0 } else { m.x + 4.0 }
                                    text-anchor=if flip(m.x) { "end" } else { "start" }
                                    y=plot_top - 18.0
                                >
                                    {m.label}
                                    // The slow-start tell: no grace period, failures count from the first run.
                                    {(!has_start_period && zero_start_period)
                                        .then(|| view! { <tspan class="no-start-period">" · start_period 0 s"</tspan> })}
                                </text>
                            </g>
                        }
                    })}
                {ready
                    .map(|m| {
                        view! {
                            <g class="ready-marker">
                                <line x1=m.x x2=m.x y1=plot_top y2=plot_bottom></line>
                                // Mid-height: clear of the timeout line and of the short passing bars.
                                <text
                                    x=if flip(m.x) { m.x - 4.0 } else { m.x + 4.0 }
                                    text-anchor=if flip(m.x) { "end" } else { "start" }
                                    y=mid_y
                                >
                                    {m.label}
                                </text>
                            </g>
                        }
                    })}
            </svg>
            <figcaption>
                <ul class="legend">
                    <li>
                        <span class="swatch pass"></span>
                        "pass"
                    </li>
                    <li>
                        <span class="swatch fail"></span>
                        "fail"
                    </li>
                    <li>
                        <span class="swatch timed-out"></span>
                        "fail: ran into the timeout"
                    </li>
                    {has_timeout.then(|| view! { <li><span class="swatch line-dashed"></span>"timeout"</li> })}
                    {has_start_period
                        .then(|| view! { <li><span class="swatch band"></span>"start_period (failures not counted)"</li> })}
                    {has_start.then(|| view! { <li><span class="swatch line-start"></span>"container start"</li> })}
                    {has_ready.then(|| view! { <li><span class="swatch line-ready"></span>"first passing run"</li> })}
                    <li class="legend-note">"bar height = run duration"</li>
                </ul>
            </figcaption>
        </figure>
    }
}
