//! The healthcheck timeline: every recorded healthcheck run as a bar over time, drawn as inline SVG.

use leptos::prelude::*;
use vantage_shared::{HealthcheckConfig, HealthcheckRun};

use crate::chart::{self, Bar, Marker, Tick, Timeline, HEIGHT, WIDTH};

/// The plot area's edges in SVG user units; every part of the drawing lines up on them.
#[derive(Debug, Clone, Copy)]
struct Plot {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Plot {
    fn mid_y(self) -> f64 {
        (self.top + self.bottom) / 2.0
    }
}

/// Marker labels near the right edge go on the left of their line, so they stay visible.
fn flip(x: f64) -> bool {
    x > WIDTH * 0.6
}

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
    let plot = Plot {
        left: t.plot_left,
        right: t.plot_right,
        top: t.plot_top,
        bottom: t.plot_bottom,
    };
    let n_bars = t.bars.len();
    let has_start_period = t.start_period.is_some();
    let has_timeout = t.timeout.is_some();
    let zero_start_period = config.as_ref().is_some_and(|c| c.start_period_ms == 0);
    let no_start_period = !has_start_period && zero_start_period;
    let has_start = t.start.is_some();
    let has_ready = t.ready.is_some();

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
                <desc id="timeline-desc">{t.description}</desc>
                <StartPeriodBand band=t.start_period plot />
                <DurationGrid ticks=t.y_ticks plot />
                <Axes ticks=t.x_ticks title=t.x_title plot />
                <RunBars bars=t.bars />
                <TimeoutLine timeout=t.timeout plot />
                <StartMarker start=t.start plot no_start_period />
                <ReadyMarker ready=t.ready plot />
            </svg>
            <figcaption>
                <Legend has_timeout has_start_period has_start has_ready />
            </figcaption>
        </figure>
    }
}

/// The start_period band, behind everything else.
#[component]
fn StartPeriodBand(band: Option<(f64, f64, String)>, plot: Plot) -> impl IntoView {
    band.map(|(x0, x1, label)| {
        view! {
            <g class="start-period">
                <rect x=x0 y=plot.top width=(x1 - x0).max(0.0) height=plot.bottom - plot.top></rect>
                <text x=x0 + 4.0 y=plot.top + 12.0>{label}</text>
            </g>
        }
    })
}

/// Horizontal grid lines at the duration ticks, labelled on the left.
#[component]
fn DurationGrid(ticks: Vec<Tick>, plot: Plot) -> impl IntoView {
    view! {
        <g class="grid">
            {ticks
                .iter()
                .map(|tick| {
                    view! {
                        <g>
                            <line x1=plot.left x2=plot.right y1=tick.pos y2=tick.pos></line>
                            <text class="y-label" x=plot.left - 6.0 y=tick.pos + 4.0>
                                {tick.label.clone()}
                            </text>
                        </g>
                    }
                })
                .collect_view()}
        </g>
    }
}

/// Both axes, the time ticks and the two axis titles.
#[component]
fn Axes(ticks: Vec<Tick>, title: String, plot: Plot) -> impl IntoView {
    let mid_y = plot.mid_y();
    view! {
        <g class="axis">
            <line x1=plot.left x2=plot.right y1=plot.bottom y2=plot.bottom></line>
            <line x1=plot.left x2=plot.left y1=plot.top y2=plot.bottom></line>
            {ticks
                .into_iter()
                .map(|tick| {
                    view! {
                        <g>
                            <line x1=tick.pos x2=tick.pos y1=plot.bottom y2=plot.bottom + 4.0></line>
                            <text class="x-label" x=tick.pos y=plot.bottom + 17.0>
                                {tick.label}
                            </text>
                        </g>
                    }
                })
                .collect_view()}
            <text class="axis-title" x=(plot.left + plot.right) / 2.0 y=HEIGHT - 6.0>
                {title}
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
    }
}

/// One bar per run, its outcome as the class and its details as the tooltip.
#[component]
fn RunBars(bars: Vec<Bar>) -> impl IntoView {
    view! {
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
    }
}

/// The dashed line at the configured timeout.
#[component]
fn TimeoutLine(timeout: Option<Tick>, plot: Plot) -> impl IntoView {
    timeout.map(|tick| {
        view! {
            <g class="timeout-line">
                <line x1=plot.left x2=plot.right y1=tick.pos y2=tick.pos></line>
                <text x=plot.right - 4.0 y=tick.pos - 5.0>{tick.label}</text>
            </g>
        }
    })
}

/// The container start, labelled above the plot.
#[component]
fn StartMarker(start: Option<Marker>, plot: Plot, no_start_period: bool) -> impl IntoView {
    start.map(|m| {
        view! {
            <g class="start-marker">
                <line x1=m.x x2=m.x y1=plot.top - 14.0 y2=plot.bottom></line>
                <text
                    x=if flip(m.x) { m.x - 4.0 } else { m.x + 4.0 }
                    text-anchor=if flip(m.x) { "end" } else { "start" }
                    y=plot.top - 18.0
                >
                    {m.label}
                    // The slow-start tell: no grace period, failures count from the first run.
                    {no_start_period
                        .then(|| view! { <tspan class="no-start-period">" · start_period 0 s"</tspan> })}
                </text>
            </g>
        }
    })
}

/// The first passing run after the start.
#[component]
fn ReadyMarker(ready: Option<Marker>, plot: Plot) -> impl IntoView {
    let mid_y = plot.mid_y();
    ready.map(|m| {
        view! {
            <g class="ready-marker">
                <line x1=m.x x2=m.x y1=plot.top y2=plot.bottom></line>
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
    })
}

/// The key, naming only the marks this drawing has.
#[component]
fn Legend(
    has_timeout: bool,
    has_start_period: bool,
    has_start: bool,
    has_ready: bool,
) -> impl IntoView {
    view! {
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
    }
}
