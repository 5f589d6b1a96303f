//! Geometry of the healthcheck timeline, kept pure (no DOM) so scales, ticks and
//! marks are unit-tested natively; `components::timeline` only draws it.

use chrono::{DateTime, Duration, Utc};
use vantage_shared::diagnosis::health_timing::run_timed_out;
use vantage_shared::duration::human_ms;
use vantage_shared::{HealthcheckConfig, HealthcheckRun};

use crate::format::clock;

/// SVG user units; the element scales to its container with `viewBox`.
pub const WIDTH: f64 = 760.0;
pub const HEIGHT: f64 = 260.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;
/// Bars never get thinner or shorter than this, so fast runs stay visible.
const MIN_BAR_W: f64 = 2.0;
const MAX_BAR_W: f64 = 14.0;
const MIN_BAR_H: f64 = 3.0;

/// What the timeline is drawn from.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// Runs in any order.
    pub runs: &'a [HealthcheckRun],
    pub started_at: Option<DateTime<Utc>>,
    pub config: Option<&'a HealthcheckConfig>,
}

/// Pass, fail, or fail because Docker's timeout cut the run off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    Pass,
    Fail,
    TimedOut,
}

impl BarKind {
    pub fn class(self) -> &'static str {
        match self {
            Self::Pass => "bar pass",
            Self::Fail => "bar fail",
            Self::TimedOut => "bar fail timed-out",
        }
    }
}

/// One run's mark: x = start time, height = duration.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Start time in ms since the epoch: unique per run, a stable key.
    pub key: i64,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub kind: BarKind,
    /// Tooltip text.
    pub label: String,
}

/// An axis tick at a position (x for the time axis, y for the duration axis).
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub pos: f64,
    pub label: String,
}

/// A vertical marker (container start, first passing run).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub label: String,
}

/// Everything the SVG needs, in SVG user units.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    pub bars: Vec<Bar>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub x_title: String,
    /// y of the dashed timeout line, with its label.
    pub timeout: Option<Tick>,
    /// The start_period band: x from, x to, label.
    pub start_period: Option<(f64, f64, String)>,
    pub start: Option<Marker>,
    pub ready: Option<Marker>,
    /// One-sentence description for screen readers.
    pub description: String,
}

/// Linear map from a domain onto a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl Scale {
    pub fn map(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span.abs() < f64::EPSILON {
            return self.r0;
        }
        self.r0 + (v - self.d0) / span * (self.r1 - self.r0)
    }
}

/// The smallest "nice" step from `steps` that gives at most `max_ticks` intervals.
pub fn nice_step(span: f64, max_ticks: f64, steps: &[f64]) -> f64 {
    steps
        .iter()
        .copied()
        .find(|s| span / s <= max_ticks)
        .unwrap_or_else(|| {
            steps.last().copied().unwrap_or(1.0) * (span / max_ticks).max(1.0).ceil()
        })
}

const TIME_STEPS_MS: [f64; 18] = [
    1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3,
    10800e3, 21600e3, 43200e3, 86400e3,
];
const DURATION_STEPS_MS: [f64; 16] = [
    10.0, 20.0, 50.0, 100.0, 200.0, 250.0, 500.0, 1e3, 2e3, 2.5e3, 5e3, 10e3, 15e3, 30e3, 60e3,
    120e3,
];

/// Label of a time offset from the origin: `start`/`0`, `+12 s`, `+1 min 30 s`, `−30 s`.
pub fn offset_label(ms: i64, origin_is_start: bool) -> String {
    if ms == 0 {
        return if origin_is_start {
            "start".to_owned()
        } else {
            "0".to_owned()
        };
    }
    let sign = if ms < 0 { "−" } else { "+" };
    let abs = ms.unsigned_abs();
    let text = if abs >= 3_600_000 && abs.is_multiple_of(3_600_000) {
        format!("{} h", abs / 3_600_000)
    } else if abs >= 3_600_000 {
        format!("{} h {} min", abs / 3_600_000, (abs % 3_600_000) / 60_000)
    } else {
        human_ms(abs)
    };
    format!("{sign}{text}")
}

fn ms(d: Duration) -> f64 {
    d.num_milliseconds() as f64
}

/// Lays out the timeline.
pub fn layout(input: &Input<'_>) -> Timeline {
    let plot_left = LEFT;
    let plot_right = WIDTH - RIGHT;
    let plot_top = TOP;
    let plot_bottom = HEIGHT - BOTTOM;

    let mut runs: Vec<&HealthcheckRun> = input.runs.iter().collect();
    runs.sort_by_key(|p| p.start);
    let timeout_ms = input.config.map(|c| c.timeout_ms);
    let start_period_ms = input.config.map(|c| c.start_period_ms).unwrap_or(0);

    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        return Timeline {
            plot_left,
            plot_right,
            plot_top,
            plot_bottom,
            bars: vec![],
            x_ticks: vec![],
            y_ticks: vec![],
            x_title: String::new(),
            timeout: None,
            start_period: None,
            start: None,
            ready: None,
            description: "No healthcheck runs recorded yet.".to_owned(),
        };
    };
    let run_end = runs.iter().map(|p| p.end).max().unwrap_or(last.end);
    let run_span = ms(run_end - first.start);

    // The container start belongs on the chart when it is near the runs; a start
    // days before the first recorded run would squash them into a sliver.
    let started = input
        .started_at
        .filter(|s| *s <= run_end && ms(first.start - *s) <= run_span.max(60_000.0));
    let origin = started.unwrap_or(first.start);

    let first_pass_end = runs
        .iter()
        .find(|p| p.passed() && started.is_none_or(|s| p.start >= s))
        .map(|p| p.end);

    let (x, span) = time_scale(
        first.start,
        run_end,
        started,
        start_period_ms,
        plot_left,
        plot_right,
    );
    let max_duration = runs.iter().map(|p| p.duration_ms).max().unwrap_or(0);
    let y_top = (max_duration.max(timeout_ms.unwrap_or(0)).max(100) as f64) * 1.15;
    let y = Scale {
        d0: 0.0,
        d1: y_top,
        r0: plot_bottom,
        r1: plot_top,
    };

    let bar_w = bar_width(&runs, x);
    let bars = runs
        .iter()
        .map(|p| run_bar(p, input.config, origin, started.is_some(), x, y, bar_w))
        .collect();

    let timeout = timeout_ms.map(|t| Tick {
        pos: y.map(t as f64),
        label: format!("timeout {}", human_ms(t)),
    });
    let start = started.map(|s| Marker {
        x: x.map(s.timestamp_millis() as f64),
        label: format!("container start {}", clock(s)),
    });
    let start_period = started.and_then(|s| start_period_band(s, input.config?, x, plot_right));
    let ready = match (started, first_pass_end) {
        (Some(s), Some(end)) => {
            let took = u64::try_from((end - s).num_milliseconds()).unwrap_or(0);
            Some(Marker {
                x: x.map(end.timestamp_millis() as f64),
                label: format!("first pass +{}", human_ms(took)),
            })
        }
        _ => None,
    };
    let description = describe(&runs, input.config, ready.as_ref());

    Timeline {
        plot_left,
        plot_right,
        plot_top,
        plot_bottom,
        bars,
        x_ticks: time_ticks(x, span, origin, started.is_some()),
        y_ticks: duration_ticks(y),
        x_title: if started.is_some() {
            "time since container start".to_owned()
        } else {
            "time since first recorded run".to_owned()
        },
        timeout,
        start_period,
        start,
        ready,
        description,
    }
}

/// The time axis: from the first run (or the container start, and the end of its
/// start_period) to the last run's end, at least 5 s, padded at both ends; with its
/// span in ms.
fn time_scale(
    first_start: DateTime<Utc>,
    run_end: DateTime<Utc>,
    started: Option<DateTime<Utc>>,
    start_period_ms: u64,
    plot_left: f64,
    plot_right: f64,
) -> (Scale, f64) {
    let mut lo = first_start.min(started.unwrap_or(first_start));
    let mut hi = run_end;
    if let Some(s) = started {
        hi = hi.max(s + Duration::milliseconds(i64::try_from(start_period_ms).unwrap_or(0)));
        lo = lo.min(s);
    }
    let mut span = ms(hi - lo).max(5_000.0);
    // Padding so the first and last marks are not glued to the axes.
    let pad = span * 0.03;
    let lo_ms = lo.timestamp_millis() as f64 - pad;
    span += 2.0 * pad;
    let x = Scale {
        d0: lo_ms,
        d1: lo_ms + span,
        r0: plot_left,
        r1: plot_right,
    };
    (x, span)
}

/// Bar width from the closest pair of runs, so neighbours do not overlap.
fn bar_width(runs: &[&HealthcheckRun], x: Scale) -> f64 {
    let min_gap_px = runs
        .windows(2)
        .map(|w| {
            x.map(w[1].start.timestamp_millis() as f64)
                - x.map(w[0].start.timestamp_millis() as f64)
        })
        .fold(f64::INFINITY, f64::min);
    if min_gap_px.is_finite() {
        (min_gap_px * 0.7).clamp(MIN_BAR_W, MAX_BAR_W)
    } else {
        8.0
    }
}

/// One run's bar, centred on its start, with its tooltip.
fn run_bar(
    p: &HealthcheckRun,
    config: Option<&HealthcheckConfig>,
    origin: DateTime<Utc>,
    origin_is_start: bool,
    x: Scale,
    y: Scale,
    bar_w: f64,
) -> Bar {
    let plot_bottom = y.r0;
    let kind = if p.passed() {
        BarKind::Pass
    } else if config.map_or(p.exit_code == -1, |c| run_timed_out(p, c)) {
        BarKind::TimedOut
    } else {
        BarKind::Fail
    };
    let top = y.map(p.duration_ms as f64).min(plot_bottom - MIN_BAR_H);
    let outcome = match kind {
        BarKind::Pass => "pass".to_owned(),
        BarKind::Fail => format!("fail (exit {})", p.exit_code),
        BarKind::TimedOut => format!("timed out (exit {})", p.exit_code),
    };
    let offset = offset_label(
        p.start.timestamp_millis() - origin.timestamp_millis(),
        origin_is_start,
    );
    Bar {
        key: p.start.timestamp_millis(),
        x: x.map(p.start.timestamp_millis() as f64) - bar_w / 2.0,
        y: top,
        w: bar_w,
        h: plot_bottom - top,
        kind,
        label: format!(
            "{} ({offset}): {outcome}, took {}",
            clock(p.start),
            human_ms(p.duration_ms)
        ),
    }
}

/// Time-axis ticks at nice offsets from the origin, across the whole scale.
fn time_ticks(x: Scale, span: f64, origin: DateTime<Utc>, origin_is_start: bool) -> Vec<Tick> {
    let (lo_ms, hi_ms) = (x.d0, x.d1);
    let origin_ms = origin.timestamp_millis();
    let step = nice_step(span, 8.0, &TIME_STEPS_MS);
    let first_k = ((lo_ms - origin_ms as f64) / step).ceil() as i64;
    let last_k = ((hi_ms - origin_ms as f64) / step).floor() as i64;
    (first_k..=last_k)
        .map(|k| {
            let off = (k as f64 * step) as i64;
            Tick {
                pos: x.map((origin_ms + off) as f64),
                label: offset_label(off, origin_is_start),
            }
        })
        .collect()
}

/// Duration-axis ticks from 0 up to the top of the scale.
fn duration_ticks(y: Scale) -> Vec<Tick> {
    let y_top = y.d1;
    let y_step = nice_step(y_top, 5.0, &DURATION_STEPS_MS);
    (0..)
        .map(|k| f64::from(k) * y_step)
        .take_while(|v| *v <= y_top)
        .map(|v| Tick {
            pos: y.map(v),
            label: if v == 0.0 {
                "0".to_owned()
            } else {
                human_ms(v as u64)
            },
        })
        .collect()
}

/// The start_period band after the container start, cut at the plot's right edge.
fn start_period_band(
    started: DateTime<Utc>,
    config: &HealthcheckConfig,
    x: Scale,
    plot_right: f64,
) -> Option<(f64, f64, String)> {
    if config.start_period_ms == 0 {
        return None;
    }
    let x0 = x.map(started.timestamp_millis() as f64);
    let x1 = x
        .map(started.timestamp_millis() as f64 + config.start_period_ms as f64)
        .min(plot_right);
    Some((
        x0,
        x1,
        format!("start_period {}", human_ms(config.start_period_ms)),
    ))
}

/// The one-sentence description for screen readers.
fn describe(
    runs: &[&HealthcheckRun],
    config: Option<&HealthcheckConfig>,
    ready: Option<&Marker>,
) -> String {
    let failed = runs.iter().filter(|p| !p.passed()).count();
    let mut description = format!("{} runs, {failed} failed", runs.len());
    if let Some(c) = config {
        description.push_str(&format!(
            "; timeout {}, start_period {}",
            human_ms(c.timeout_ms),
            human_ms(c.start_period_ms)
        ));
    }
    if let Some(r) = ready {
        description.push_str(&format!("; {}", r.label.replace('+', "")));
        description.push_str(" after container start");
    }
    description.push('.');
    description
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vantage_shared::HealthStatus;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn run(start_ms: i64, duration_ms: i64, exit_code: i64) -> HealthcheckRun {
        let start = t0() + Duration::milliseconds(start_ms);
        HealthcheckRun {
            start,
            end: start + Duration::milliseconds(duration_ms),
            duration_ms: duration_ms as u64,
            exit_code,
            output: if exit_code == -1 {
                "Health check exceeded timeout (3s)".into()
            } else {
                String::new()
            },
            status: HealthStatus::Starting,
        }
    }

    fn cfg(timeout_ms: u64, start_period_ms: u64) -> HealthcheckConfig {
        HealthcheckConfig {
            test: vec!["CMD-SHELL".into(), "curl -f localhost".into()],
            interval_ms: 2000,
            timeout_ms,
            start_period_ms,
            retries: 3,
            tools: None,
        }
    }

    #[test]
    fn scale_maps_linearly_and_survives_an_empty_domain() {
        let s = Scale {
            d0: 0.0,
            d1: 10.0,
            r0: 100.0,
            r1: 200.0,
        };
        assert_eq!(s.map(5.0), 150.0);
        let flat = Scale {
            d0: 3.0,
            d1: 3.0,
            r0: 7.0,
            r1: 9.0,
        };
        assert_eq!(flat.map(3.0), 7.0);
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(20_000.0, 8.0, &TIME_STEPS_MS), 5_000.0);
        assert_eq!(nice_step(3_450.0, 5.0, &DURATION_STEPS_MS), 1_000.0);
    }

    #[test]
    fn offset_labels() {
        assert_eq!(offset_label(0, true), "start");
        assert_eq!(offset_label(0, false), "0");
        assert_eq!(offset_label(12_000, true), "+12 s");
        assert_eq!(offset_label(-30_000, true), "−30 s");
        assert_eq!(offset_label(90_000, true), "+1 min 30 s");
        assert_eq!(offset_label(7_200_000, true), "+2 h");
    }

    /// docs/incidents.md, "Unhealthy while the app is fine": a model loading for ~12 s,
    /// runs every 2 s with a 3 s timeout.
    #[test]
    fn slow_start_is_laid_out_with_timeout_start_and_ready_marks() {
        let runs: Vec<HealthcheckRun> = (0..10)
            .map(|i| {
                if i < 4 {
                    run(i * 3000 + 500, 3000, -1)
                } else {
                    run(i * 3000 + 500, 200, 0)
                }
            })
            .collect();
        let config = cfg(3000, 0);
        let t = layout(&Input {
            runs: &runs,
            started_at: Some(t0()),
            config: Some(&config),
        });

        assert_eq!(t.bars.len(), 10);
        assert!(t.bars[..4].iter().all(|b| b.kind == BarKind::TimedOut));
        assert!(t.bars[4..].iter().all(|b| b.kind == BarKind::Pass));
        // Bars are ordered in time and stay inside the plot.
        assert!(t.bars.windows(2).all(|w| w[0].x < w[1].x));
        assert!(t
            .bars
            .iter()
            .all(|b| b.x >= t.plot_left - MAX_BAR_W && b.x + b.w <= t.plot_right + MAX_BAR_W));
        // Timed-out runs reach the timeout line; fast passes are short but visible.
        let timeout = t.timeout.clone().map(|m| m.pos).unwrap_or_default();
        assert!((t.bars[0].y - timeout).abs() < 0.01);
        assert!(t.bars[5].h >= MIN_BAR_H && t.bars[5].h < t.bars[0].h);
        // Start marker at the left, no start_period band (it is 0), ready after the 4 failures.
        let start = t.start.clone().map(|m| m.x).unwrap_or_default();
        assert!(start < t.bars[0].x);
        assert!(t.start_period.is_none());
        let ready = t.ready.clone().map(|m| m.label).unwrap_or_default();
        assert_eq!(ready, "first pass +12.7 s");
        assert_eq!(t.x_ticks.first().map(|k| k.label.as_str()), Some("start"));
        assert_eq!(t.x_title, "time since container start");
        assert!(t.description.contains("10 runs, 4 failed"));
    }

    #[test]
    fn start_period_band_and_far_away_start() {
        let runs = vec![run(1000, 100, 0), run(3000, 100, 0)];
        let config = cfg(3000, 30_000);
        let t = layout(&Input {
            runs: &runs,
            started_at: Some(t0()),
            config: Some(&config),
        });
        let (x0, x1, label) = t.start_period.clone().unwrap_or((0.0, 0.0, String::new()));
        assert!(x1 > x0);
        assert_eq!(label, "start_period 30 s");

        // A start a day before the first recorded run is left off the chart.
        let late = vec![run(86_400_000, 100, 0), run(86_402_000, 100, 1)];
        let t = layout(&Input {
            runs: &late,
            started_at: Some(t0()),
            config: Some(&config),
        });
        assert!(t.start.is_none());
        assert_eq!(t.x_title, "time since first recorded run");
        assert_eq!(t.bars[1].kind, BarKind::Fail);
    }

    #[test]
    fn no_runs_gives_an_empty_chart() {
        let t = layout(&Input {
            runs: &[],
            started_at: None,
            config: None,
        });
        assert!(t.bars.is_empty());
        assert_eq!(t.description, "No healthcheck runs recorded yet.");
    }
}
