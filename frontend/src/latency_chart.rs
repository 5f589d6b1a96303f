//! Geometry of a target's latency over time: one column per stored result, its phases
//! stacked (DNS, connect, TLS, waiting for the first byte, the rest), down results as red
//! bands. Pure, so scales and stacking are unit-tested natively; the History panel draws it.

use chrono::{Duration, Local};
use vantage_shared::duration::fmt_ms;
use vantage_shared::probe::TargetResult;

use crate::chart::{nice_step, Scale, Tick};
use crate::format::clock;

pub const WIDTH: f64 = 760.0;
pub const HEIGHT: f64 = 220.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 36.0;
const MAX_COL_W: f64 = 12.0;
const MIN_COL_W: f64 = 1.5;
/// Time labels under the columns: more would collide on the axis.
const X_TICKS: usize = 5;
/// Loopback answers in well under a millisecond, so the steps start small.
const LATENCY_STEPS_MS: [f64; 19] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 10e3, 20e3,
    30e3, 60e3,
];

/// The stacked phases, bottom first, in the order a request goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Dns,
    Connect,
    Tls,
    Wait,
    Rest,
}

impl Phase {
    pub const ALL: [Phase; 5] = [Self::Dns, Self::Connect, Self::Tls, Self::Wait, Self::Rest];

    /// CSS class and legend text.
    pub fn class(self) -> &'static str {
        match self {
            Self::Dns => "seg dns",
            Self::Connect => "seg connect",
            Self::Tls => "seg tls",
            Self::Wait => "seg wait",
            Self::Rest => "seg rest",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Dns => "DNS",
            Self::Connect => "connect",
            Self::Tls => "TLS",
            Self::Wait => "first byte",
            Self::Rest => "body, redirects, preflight",
        }
    }
}

/// One phase of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub phase: Phase,
    pub y: f64,
    pub h: f64,
}

/// One result: its phases stacked, or a band when it was down.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Time in ms since the epoch: unique per result, a stable key.
    pub key: i64,
    pub x: f64,
    pub w: f64,
    pub segments: Vec<Segment>,
    pub down: bool,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LatencyChart {
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
    pub columns: Vec<Column>,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    /// The phases some column has, for the legend.
    pub phases: Vec<Phase>,
    pub description: String,
}

/// A result's phase durations, bottom first; the rest is what the total holds beyond the
/// measured phases (never negative: phases are rounded separately).
pub fn phases(r: &TargetResult) -> Vec<(Phase, f64)> {
    let parts = [
        (Phase::Dns, r.dns_ms),
        (Phase::Connect, r.connect_ms),
        (Phase::Tls, r.tls_ms),
        (Phase::Wait, r.first_byte_ms),
    ];
    let mut out: Vec<(Phase, f64)> = parts
        .iter()
        .filter_map(|(p, ms)| ms.filter(|v| v.is_finite() && *v > 0.0).map(|v| (*p, v)))
        .collect();
    let measured: f64 = out.iter().map(|(_, v)| v).sum();
    if let Some(total) = r.total_ms.filter(|t| t.is_finite()) {
        if total > measured {
            out.push((Phase::Rest, total - measured));
        }
    }
    out
}

fn height(r: &TargetResult) -> f64 {
    phases(r).iter().map(|(_, v)| v).sum()
}

/// Lays out `results` (any order; the API gives newest first).
pub fn layout(results: &[TargetResult]) -> LatencyChart {
    let (plot_left, plot_right) = (LEFT, WIDTH - RIGHT);
    let (plot_top, plot_bottom) = (TOP, HEIGHT - BOTTOM);
    let mut sorted: Vec<&TargetResult> = results.iter().collect();
    sorted.sort_by_key(|r| r.at);
    let empty = LatencyChart {
        plot_left,
        plot_right,
        plot_top,
        plot_bottom,
        columns: vec![],
        x_ticks: vec![],
        y_ticks: vec![],
        phases: vec![],
        description: "No results yet.".to_owned(),
    };
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return empty;
    };
    // Columns are evenly spaced in result order, like the heartbeat bar: results that came
    // close together (probes asked for by hand) stay apart, and the ticks name the times.
    let n = sorted.len() as f64;
    let x = Scale {
        d0: -0.5,
        d1: n - 0.5,
        r0: plot_left,
        r1: plot_right,
    };
    // Down results are drawn as bands: a timeout's long phases must not set the scale.
    let max = sorted
        .iter()
        .filter(|r| r.up)
        .map(|r| height(r))
        .fold(0.0, f64::max);
    let y_step = nice_step(max.max(0.1), 4.0, &LATENCY_STEPS_MS);
    let y_top = ((max / y_step).ceil().max(1.0)) * y_step;
    let y = Scale {
        d0: 0.0,
        d1: y_top,
        r0: plot_bottom,
        r1: plot_top,
    };
    let w = ((plot_right - plot_left) / n * 0.7).clamp(MIN_COL_W, MAX_COL_W);
    let columns: Vec<Column> = sorted
        .iter()
        .enumerate()
        .map(|(i, r)| column(r, x.map(i as f64), y, w))
        .collect();
    let phases = Phase::ALL
        .into_iter()
        .filter(|p| {
            columns
                .iter()
                .any(|c| c.segments.iter().any(|s| s.phase == *p))
        })
        .collect();
    let down = columns.iter().filter(|c| c.down).count();
    LatencyChart {
        plot_left,
        plot_right,
        plot_top,
        plot_bottom,
        x_ticks: time_ticks(&sorted, x),
        y_ticks: (0..)
            .map(|i| f64::from(i) * y_step)
            .take_while(|v| *v <= y_top + y_step * 1e-6)
            .map(|v| Tick {
                pos: y.map(v),
                label: if v == 0.0 { "0".to_owned() } else { fmt_ms(v) },
            })
            .collect(),
        description: format!(
            "Latency of the {} results from {} to {}, phases stacked; {down} down.",
            columns.len(),
            clock(first.at),
            clock(last.at)
        ),
        columns,
        phases,
    }
}

fn column(r: &TargetResult, centre: f64, y: Scale, w: f64) -> Column {
    let cx = centre - w / 2.0;
    let mut base = 0.0;
    let parts = if r.up { phases(r) } else { vec![] };
    let segments = parts
        .iter()
        .map(|(phase, ms)| {
            let (y0, y1) = (y.map(base), y.map(base + ms));
            base += ms;
            Segment {
                phase: *phase,
                y: y1,
                h: (y0 - y1).max(0.5),
            }
        })
        .collect();
    let detail = parts
        .iter()
        .map(|(p, ms)| format!("{} {}", p.label(), fmt_ms(*ms)))
        .collect::<Vec<_>>()
        .join(", ");
    let label = match (r.up, r.total_ms) {
        (true, Some(t)) => format!("{}: {} ({detail})", clock(r.at), fmt_ms(t)),
        (true, None) => format!("{}: up ({detail})", clock(r.at)),
        (false, _) => format!(
            "{}: down, {}",
            clock(r.at),
            r.error.as_deref().unwrap_or(r.verdict.as_str())
        ),
    };
    Column {
        key: r.at.timestamp_millis(),
        x: cx,
        w,
        segments,
        down: !r.up,
        label,
    }
}

/// Up to [`X_TICKS`] columns, evenly chosen, labelled with their local time (seconds only
/// when the results span less than ten minutes).
fn time_ticks(sorted: &[&TargetResult], x: Scale) -> Vec<Tick> {
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return vec![];
    };
    let with_seconds = last.at - first.at < Duration::minutes(10);
    let n = sorted.len();
    let count = n.min(X_TICKS);
    let mut picked: Vec<usize> = (0..count)
        .map(|k| {
            if count == 1 {
                0
            } else {
                k * (n - 1) / (count - 1)
            }
        })
        .collect();
    picked.dedup();
    picked
        .into_iter()
        .map(|i| {
            let local = sorted[i].at.with_timezone(&Local);
            let format = if with_seconds { "%H:%M:%S" } else { "%H:%M" };
            Tick {
                pos: x.map(i as f64),
                label: local.format(format).to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use vantage_shared::probe::ReachVerdict;

    use super::*;

    fn result(secs: i64, up: bool, phases: [Option<f64>; 5]) -> TargetResult {
        let [dns_ms, connect_ms, tls_ms, first_byte_ms, total_ms] = phases;
        TargetResult {
            at: Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap() + Duration::seconds(secs),
            verdict: if up {
                ReachVerdict::Reachable
            } else {
                ReachVerdict::Refused
            },
            up,
            dns_ms,
            connect_ms,
            tls_ms,
            first_byte_ms,
            total_ms,
            http_status: up.then_some(200),
            body_bytes: None,
            fingerprint: None,
            cors_allowed: None,
            cert_expires: None,
            error: (!up).then(|| "connection refused".to_owned()),
            finding: None,
        }
    }

    #[test]
    fn phases_stack_to_the_total() {
        let r = result(
            0,
            true,
            [Some(2.0), Some(3.0), Some(10.0), Some(20.0), Some(40.0)],
        );
        assert_eq!(
            phases(&r),
            vec![
                (Phase::Dns, 2.0),
                (Phase::Connect, 3.0),
                (Phase::Tls, 10.0),
                (Phase::Wait, 20.0),
                (Phase::Rest, 5.0)
            ]
        );
        // A total below the phases' sum (rounding) adds no negative rest; a TCP target has
        // only its connect time.
        let r = result(0, true, [Some(1.0), Some(1.0), None, Some(1.0), Some(2.5)]);
        assert_eq!(phases(&r).len(), 3);
        let tcp = result(0, true, [None, Some(0.4), None, None, None]);
        assert_eq!(phases(&tcp), vec![(Phase::Connect, 0.4)]);
    }

    #[test]
    fn columns_are_in_time_order_and_stacked_upwards() {
        let a = result(
            0,
            true,
            [Some(2.0), Some(3.0), None, Some(20.0), Some(30.0)],
        );
        let b = result(60, false, [None; 5]);
        let c = result(
            120,
            true,
            [Some(1.0), Some(1.0), None, Some(1.0), Some(3.0)],
        );
        // Newest first, as the API sends them.
        let chart = layout(&[c, b, a]);
        let [first, down, last] = &chart.columns[..] else {
            panic!("{:?}", chart.columns)
        };
        assert!(first.x < down.x && down.x < last.x);
        assert!(down.down && down.segments.is_empty());
        assert!(down.label.contains("connection refused"));
        // Each segment sits on the one below it, and the stack reaches the total.
        for pair in first.segments.windows(2) {
            assert!((pair[0].y - (pair[1].y + pair[1].h)).abs() < 1e-9);
        }
        let top = first.segments.last().unwrap();
        let y = Scale {
            d0: 0.0,
            d1: 30.0,
            r0: chart.plot_bottom,
            r1: chart.plot_top,
        };
        assert!((top.y - y.map(30.0)).abs() < 1e-9, "30 ms is the axis top");
        assert_eq!(
            chart.phases,
            vec![Phase::Dns, Phase::Connect, Phase::Wait, Phase::Rest]
        );
        assert!(chart.description.contains("3 results") && chart.description.contains("1 down"));
        assert!(chart.y_ticks.len() >= 2);
        // Evenly spaced, whatever the gaps in time; every column has its tick here.
        assert!((down.x - first.x - (last.x - down.x)).abs() < 1e-9);
        let ticks: Vec<&str> = chart.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(ticks.len(), 3, "{ticks:?}");
        assert!(
            ticks.iter().all(|t| t.len() == 8),
            "seconds for a short span: {ticks:?}"
        );
    }

    #[test]
    fn sub_millisecond_latencies_get_their_own_ticks() {
        let r = result(0, true, [None, Some(0.12), None, Some(0.2), Some(0.4)]);
        let chart = layout(&[r]);
        let labels: Vec<&str> = chart.y_ticks.iter().map(|t| t.label.as_str()).collect();
        assert!(labels.len() >= 3, "{labels:?}");
        assert!(chart.columns[0].x > chart.plot_left && chart.columns[0].x < chart.plot_right);
    }

    #[test]
    fn long_series_get_a_few_minute_ticks() {
        let results: Vec<TargetResult> = (0..180)
            .map(|i| result(i * 60, true, [None, Some(1.0), None, Some(2.0), Some(4.0)]))
            .collect();
        let chart = layout(&results);
        assert_eq!(chart.columns.len(), 180);
        let labels: Vec<&str> = chart.x_ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels.len(), X_TICKS, "{labels:?}");
        assert!(
            labels.iter().all(|l| l.len() == 5),
            "HH:MM over 3 hours: {labels:?}"
        );
        assert!(chart.columns.windows(2).all(|w| w[0].x + w[0].w <= w[1].x));
    }

    #[test]
    fn nothing_to_draw() {
        assert!(layout(&[]).columns.is_empty());
    }
}
