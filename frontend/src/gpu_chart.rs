//! Geometry of the GPU page's charts, pure so scales and marks are unit-tested natively;
//! `pages::gpu` only draws them:
//!
//! * time against N: the GPU (transfers included) and the CPU (one core, all cores) as
//!   fitted lines over the measured points, crossing at the break-even N*;
//! * stacked bars per N: upload, kernels, download;
//! * bandwidth against transfer size (log₂ axis) per direction and memory kind, with the
//!   link's theoretical limit as a dashed line.

use vantage_shared::gpu::{
    BlurResult, BreakEven, HostMemory, LineFit, TransferDirection, TransferPoint, TransferResult,
};

use vantage_shared::size::human_bytes;

use crate::chart::Scale;

pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 40.0;

/// An axis tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub pos: f64,
    pub label: String,
}

/// A series: a polyline, its measured points, a CSS class and a legend label.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub class: &'static str,
    /// `points` attribute of the fitted or joined line.
    pub line: String,
    /// Measured points (x, y) with their tooltip.
    pub dots: Vec<(f64, f64, String)>,
    pub dashed: bool,
}

/// A line chart's geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub series: Vec<Series>,
    /// A vertical marker (N*) with its label.
    pub marker: Option<(f64, String)>,
    pub x_title: String,
    pub y_title: String,
}

/// "Nice" round numbers for an axis from 0 to `max`: 1, 2, 2.5 or 5 × 10^k steps.
pub fn nice_ticks(max: f64, max_ticks: usize) -> Vec<f64> {
    if !(max.is_finite() && max > 0.0) {
        return vec![0.0, 1.0];
    }
    let raw = max / max_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| max / s <= max_ticks as f64)
        .unwrap_or(10.0 * mag);
    let n = (max / step).ceil() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// `12`, `1.5`, `0.25`: short labels for tick values.
pub fn short_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.abs() >= 100.0 || (v.fract().abs() < 1e-9 && v.abs() >= 1.0) {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn plot_x(d0: f64, d1: f64) -> Scale {
    Scale {
        d0,
        d1,
        r0: LEFT,
        r1: WIDTH - RIGHT,
    }
}

fn plot_y(max: f64) -> Scale {
    Scale {
        d0: 0.0,
        d1: max,
        r0: HEIGHT - BOTTOM,
        r1: TOP,
    }
}

fn fitted_line(fit: &LineFit, x: &Scale, y: &Scale, n_max: f64) -> String {
    // Fitted lines may run below zero near N = 0 (a negative intercept from noise): clamp
    // to the plot so the line stays visible and honest about where it was measured.
    let ys = |n: f64| y.map(fit.at(n).max(0.0).min(y.d1));
    format!(
        "{:.1},{:.1} {:.1},{:.1}",
        x.map(0.0),
        ys(0.0),
        x.map(n_max),
        ys(n_max)
    )
}

/// Time against N as the model behind N* draws it, with the measured runs as dots: the
/// CPU as its per-blur cost × N, the GPU as upload + download + its per-blur kernel cost
/// × N. These are exactly the terms of `N* = (upload + download) / (cpu_per_op −
/// gpu_per_op)`, so the GPU line crosses the all-cores line at the N* the agent reports
/// (a least-squares line through the totals, with its own intercept, would not).
pub fn time_vs_n(blur: &BlurResult) -> LineChart {
    let gpu = blur.gpu.as_ref();
    let n_max = blur
        .cpu
        .iter()
        .map(|p| p.n)
        .chain(gpu.iter().flat_map(|g| g.points.iter().map(|p| p.n)))
        .max()
        .unwrap_or(1) as f64;
    let y_max_data = blur
        .cpu
        .iter()
        .flat_map(|p| [p.single_thread_ms, p.all_cores_ms])
        .chain(gpu.iter().flat_map(|g| g.points.iter().map(|p| p.total_ms)))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let y_ticks_v = nice_ticks(y_max_data * 1.05, 5);
    let y_max = y_ticks_v.last().copied().unwrap_or(1.0);
    let x = plot_x(0.0, n_max);
    let y = plot_y(y_max);

    let mut series = Vec::new();
    let mut add =
        |label: &str, class: &'static str, fit: Option<&LineFit>, pts: Vec<(f64, f64)>| {
            let dots = pts
                .iter()
                .map(|(n, ms)| {
                    (
                        x.map(*n),
                        y.map(*ms),
                        format!("{label}: N = {n}, {ms:.1} ms"),
                    )
                })
                .collect();
            let line = match fit {
                Some(f) => fitted_line(f, &x, &y, n_max),
                None => pts
                    .iter()
                    .map(|(n, ms)| format!("{:.1},{:.1}", x.map(*n), y.map(*ms)))
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            series.push(Series {
                label: label.to_owned(),
                class,
                line,
                dots,
                dashed: false,
            });
        };
    let per_op = |fit: Option<&LineFit>| {
        fit.map(|f| LineFit {
            intercept: 0.0,
            ..*f
        })
    };
    let cpu_single = per_op(blur.cpu_single_fit.as_ref());
    let cpu_all = per_op(blur.cpu_all_cores_fit.as_ref());
    let gpu_model = gpu.and_then(|g| {
        g.kernels_fit.as_ref().map(|k| LineFit {
            intercept: g.transfer_ms,
            ..*k
        })
    });
    add(
        "CPU, one thread",
        "s-cpu1",
        cpu_single.as_ref(),
        blur.cpu
            .iter()
            .map(|p| (f64::from(p.n), p.single_thread_ms))
            .collect(),
    );
    add(
        &format!("CPU, {} threads", blur.cpu_threads),
        "s-cpun",
        cpu_all.as_ref(),
        blur.cpu
            .iter()
            .map(|p| (f64::from(p.n), p.all_cores_ms))
            .collect(),
    );
    if let Some(g) = gpu {
        add(
            "GPU, transfers included",
            "s-gpu",
            gpu_model.as_ref(),
            g.points
                .iter()
                .map(|p| (f64::from(p.n), p.total_ms))
                .collect(),
        );
    }
    let marker = match &blur.break_even_all_cores {
        Some(BreakEven::AtN { n }) if *n <= n_max => Some((x.map(*n), format!("N* ≈ {n:.1}"))),
        _ => None,
    };
    LineChart {
        x_ticks: n_ticks(blur, &x),
        y_ticks: y_ticks_v
            .iter()
            .map(|v| Tick {
                pos: y.map(*v),
                label: short_number(*v),
            })
            .collect(),
        series,
        marker,
        x_title: "N (chained blurs)".into(),
        y_title: "ms".into(),
    }
}

fn n_ticks(blur: &BlurResult, x: &Scale) -> Vec<Tick> {
    let mut ns: Vec<u32> = blur.cpu.iter().map(|p| p.n).collect();
    if let Some(g) = &blur.gpu {
        ns.extend(g.points.iter().map(|p| p.n));
    }
    ns.sort_unstable();
    ns.dedup();
    // Crowded small N (1, 2, 4 on a 0–32 axis) would overlap: keep ticks ≥ 28 units apart.
    let mut out: Vec<Tick> = Vec::new();
    for n in ns {
        let pos = x.map(f64::from(n));
        if out.last().is_some_and(|t| pos - t.pos < 28.0) {
            continue;
        }
        out.push(Tick {
            pos,
            label: n.to_string(),
        });
    }
    out
}

/// One stacked bar: N, and its three parts' (y, height) with their ms.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedBar {
    pub n: u32,
    pub x: f64,
    pub w: f64,
    /// (class, y, height, label) from the bottom: upload, kernels, download.
    pub parts: Vec<(&'static str, f64, f64, String)>,
}

/// Upload / kernels / download per N, stacked, one bar per N at even spacing.
pub fn stacked_bars(blur: &BlurResult) -> Option<(Vec<StackedBar>, Vec<Tick>)> {
    let gpu = blur.gpu.as_ref()?;
    if gpu.points.is_empty() {
        return None;
    }
    let total_max = gpu
        .points
        .iter()
        .map(|p| p.upload_ms + p.kernels_ms + p.download_ms)
        .fold(0.0_f64, f64::max);
    let ticks_v = nice_ticks(total_max * 1.05, 5);
    let y = plot_y(ticks_v.last().copied().unwrap_or(1.0));
    let slot = (WIDTH - RIGHT - LEFT) / gpu.points.len() as f64;
    let w = (slot * 0.6).min(48.0);
    let bars = gpu
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut base = 0.0;
            let parts = [
                ("b-up", p.upload_ms, "upload"),
                ("b-kern", p.kernels_ms, "kernels"),
                ("b-down", p.download_ms, "download"),
            ]
            .into_iter()
            .map(|(class, ms, what)| {
                let top = y.map(base + ms);
                let h = (y.map(base) - top).max(0.0);
                base += ms;
                (class, top, h, format!("N = {}: {what} {ms:.2} ms", p.n))
            })
            .collect();
            StackedBar {
                n: p.n,
                x: LEFT + slot * i as f64 + (slot - w) / 2.0,
                w,
                parts,
            }
        })
        .collect();
    let ticks = ticks_v
        .iter()
        .map(|v| Tick {
            pos: y.map(*v),
            label: short_number(*v),
        })
        .collect();
    Some((bars, ticks))
}

/// The bandwidth chart's host↔device series: direction, memory, legend label, CSS class.
const HOST_SERIES: [(TransferDirection, HostMemory, &str, &str); 4] = [
    (
        TransferDirection::HostToDevice,
        HostMemory::Pinned,
        "upload, pinned",
        "s-h2d-pin",
    ),
    (
        TransferDirection::HostToDevice,
        HostMemory::Pageable,
        "upload, pageable",
        "s-h2d-page",
    ),
    (
        TransferDirection::DeviceToHost,
        HostMemory::Pinned,
        "download, pinned",
        "s-d2h-pin",
    ),
    (
        TransferDirection::DeviceToHost,
        HostMemory::Pageable,
        "download, pageable",
        "s-d2h-page",
    ),
];

/// Bandwidth against size: one series per (direction, memory), x on a log₂ axis, and the
/// PCIe limit (and the memory's, for device-to-device) as dashed lines.
pub fn bandwidth(t: &TransferResult) -> Option<LineChart> {
    let sizes: Vec<u64> = t.points.iter().map(|p| p.bytes).collect();
    let (min, max) = (sizes.iter().min()?, sizes.iter().max()?);
    let (lx0, lx1) = (
        (*min as f64).log2(),
        (*max as f64).log2().max((*min as f64).log2() + 1.0),
    );
    let x = plot_x(lx0, lx1);
    // The device-to-device figures dwarf PCIe's; they get their own table, not the axis.
    let host_points = || {
        t.points
            .iter()
            .filter(|p| p.direction != TransferDirection::DeviceToDevice)
    };
    let y_data = host_points()
        .map(|p| p.best_gbps)
        .chain(t.pcie_limit_gbps)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let y_ticks_v = nice_ticks(y_data * 1.08, 5);
    let y = plot_y(y_ticks_v.last().copied().unwrap_or(1.0));
    let mut series: Vec<Series> = HOST_SERIES
        .into_iter()
        .filter_map(|(dir, mem, label, class)| {
            let points = host_points().filter(|p| p.direction == dir && p.memory == mem);
            transfer_series(points, label, class, &x, &y)
        })
        .collect();
    if let Some(limit) = t.pcie_limit_gbps.filter(|l| l.is_finite() && *l > 0.0) {
        series.push(Series {
            label: format!("PCIe limit {limit:.1} GB/s"),
            class: "s-limit",
            line: format!(
                "{:.1},{:.1} {:.1},{:.1}",
                x.map(lx0),
                y.map(limit),
                x.map(lx1),
                y.map(limit)
            ),
            dots: Vec::new(),
            dashed: true,
        });
    }
    Some(LineChart {
        x_ticks: size_ticks(&sizes, &x),
        y_ticks: y_ticks_v
            .iter()
            .map(|v| Tick {
                pos: y.map(*v),
                label: short_number(*v),
            })
            .collect(),
        series,
        marker: None,
        x_title: "transfer size".into(),
        y_title: "GB/s".into(),
    })
}

/// One copy kind's best bandwidth joined across sizes; `None` when it was not measured.
fn transfer_series<'a>(
    points: impl Iterator<Item = &'a TransferPoint>,
    label: &str,
    class: &'static str,
    x: &Scale,
    y: &Scale,
) -> Option<Series> {
    let mut pts: Vec<(f64, f64, u64)> = points
        .map(|p| ((p.bytes as f64).log2(), p.best_gbps, p.bytes))
        .collect();
    if pts.is_empty() {
        return None;
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some(Series {
        label: label.to_owned(),
        class,
        line: pts
            .iter()
            .map(|(lx, g, _)| format!("{:.1},{:.1}", x.map(*lx), y.map(*g)))
            .collect::<Vec<_>>()
            .join(" "),
        dots: pts
            .iter()
            .map(|(lx, g, b)| {
                (
                    x.map(*lx),
                    y.map(*g),
                    format!("{label}: {} at {g:.2} GB/s", human_bytes(*b)),
                )
            })
            .collect(),
        dashed: false,
    })
}

/// Size ticks on the log₂ axis, each measured size once, dropping any that would crowd
/// the previous label.
fn size_ticks(sizes: &[u64], x: &Scale) -> Vec<Tick> {
    let mut x_ticks: Vec<Tick> = Vec::new();
    let mut s = sizes.to_vec();
    s.sort_unstable();
    s.dedup();
    for b in s {
        let pos = x.map((b as f64).log2());
        if x_ticks.last().is_some_and(|t| pos - t.pos < 56.0) {
            continue;
        }
        x_ticks.push(Tick {
            pos,
            label: human_bytes(b),
        });
    }
    x_ticks
}

/// The plot area's bottom and left edges, for axes.
pub fn plot_box() -> (f64, f64, f64, f64) {
    (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vantage_shared::gpu::{CpuBlurPoint, TransferPoint};

    fn blur() -> BlurResult {
        let cpu = [1u32, 2, 4, 8]
            .iter()
            .map(|&n| CpuBlurPoint {
                n,
                single_thread_ms: 100.0 * f64::from(n),
                all_cores_ms: 50.0 * f64::from(n),
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "width": 512, "height": 512, "kernel_size": 21, "sigma": 3.33,
            "method": "direct 2-D", "cpu_threads": 2, "cpu": [],
            "cpu_single_fit": {"slope": 100.0, "intercept": 0.0, "r_squared": 1.0, "points": 4},
            "cpu_all_cores_fit": {"slope": 50.0, "intercept": 0.0, "r_squared": 1.0, "points": 4},
            "gpu": null,
            "break_even_single": null,
            "break_even_all_cores": {"kind": "never", "reason": "no GPU"}
        }))
        .map(|mut b: BlurResult| {
            b.cpu = cpu;
            b
        })
        .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    #[test]
    fn nice_ticks_are_round_and_cover_the_maximum() {
        assert_eq!(
            nice_ticks(830.0, 5),
            vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
        );
        assert_eq!(nice_ticks(9.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let t = nice_ticks(0.012, 4);
        assert!(t.last().copied().unwrap_or(0.0) >= 0.012, "{t:?}");
        assert_eq!(nice_ticks(f64::NAN, 5), vec![0.0, 1.0]);
        assert_eq!(nice_ticks(0.0, 5), vec![0.0, 1.0]);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(short_number(200.0), "200");
        assert_eq!(short_number(2.5), "2.5");
        assert_eq!(short_number(0.25), "0.25");
    }

    #[test]
    fn cpu_only_runs_draw_two_lines_and_no_marker() {
        let chart = time_vs_n(&blur());
        assert_eq!(chart.series.len(), 2);
        assert!(chart.marker.is_none());
        // The one-core line ends higher (smaller y) than the all-cores line at N = 8.
        let end_y = |s: &Series| {
            s.line
                .split(' ')
                .next_back()
                .and_then(|p| p.split(',').nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        assert!(end_y(&chart.series[0]) < end_y(&chart.series[1]));
        // Every measured point is inside the plot.
        let (l, t, r, b) = plot_box();
        for s in &chart.series {
            for (x, y, _) in &s.dots {
                assert!((l..=r).contains(x) && (t..=b).contains(y), "{x},{y}");
            }
        }
        assert!(stacked_bars(&blur()).is_none());
    }

    #[test]
    fn break_even_marker_and_stacked_bars_with_a_gpu() {
        let mut b = blur();
        b.gpu = Some(
            serde_json::from_value(serde_json::json!({
                "device": "NVIDIA H100", "kernel_build": "NVRTC sm_90",
                "cold": {"compile_ms": 80.0, "module_load_ms": 5.0, "setup_ms": 1.0, "n": 1,
                         "upload_ms": 1.0, "kernels_ms": 1.0, "download_ms": 1.0},
                "points": [
                    {"n": 1, "upload_ms": 40.0, "kernels_ms": 2.0, "download_ms": 40.0, "total_ms": 82.0},
                    {"n": 8, "upload_ms": 40.0, "kernels_ms": 16.0, "download_ms": 40.0, "total_ms": 96.0}
                ],
                "kernels_fit": {"slope": 2.0, "intercept": 0.0, "r_squared": 1.0, "points": 2},
                "total_fit": {"slope": 2.0, "intercept": 80.0, "r_squared": 1.0, "points": 2},
                "transfer_ms": 80.0,
                "agreement": null
            }))
            .unwrap_or_else(|e| panic!("fixture: {e}")),
        );
        b.break_even_all_cores = Some(BreakEven::AtN { n: 80.0 / 48.0 });
        let chart = time_vs_n(&b);
        assert_eq!(chart.series.len(), 3);
        let (x, label) = chart.marker.clone().unwrap_or_else(|| panic!("marker"));
        assert!(label.contains("1.7"), "{label}");
        assert!(x > plot_box().0 && x < plot_box().2);
        // The GPU line and the all-cores line cross exactly at the marker.
        let y_at = |s: &Series, x: f64| {
            let pts: Vec<(f64, f64)> = s
                .line
                .split(' ')
                .filter_map(|p| p.split_once(','))
                .filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .collect();
            let ((x0, y0), (x1, y1)) = (pts[0], pts[1]);
            y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        };
        let (cpu_all, gpu_line) = (&chart.series[1], &chart.series[2]);
        assert!(
            (y_at(cpu_all, x) - y_at(gpu_line, x)).abs() < 0.5,
            "lines do not cross at N*"
        );
        let (bars, ticks) = stacked_bars(&b).unwrap_or_else(|| panic!("bars"));
        assert_eq!(bars.len(), 2);
        assert!(!ticks.is_empty());
        // Parts stack: each starts where the one below ended.
        for bar in &bars {
            for pair in bar.parts.windows(2) {
                let (lower, upper) = (&pair[0], &pair[1]);
                assert!((upper.1 + upper.2 - lower.1).abs() < 1e-6, "{bar:?}");
            }
        }
    }

    #[test]
    fn bandwidth_uses_a_log_axis_and_draws_the_limit() {
        let p = |dir: TransferDirection, mem: HostMemory, bytes: u64, gbps: f64| TransferPoint {
            direction: dir,
            memory: mem,
            bytes,
            repetitions: 3,
            best_s: bytes as f64 / (gbps * 1e9),
            median_s: bytes as f64 / (gbps * 1e9),
            best_gbps: gbps,
            median_gbps: gbps,
        };
        let t = TransferResult {
            points: vec![
                p(
                    TransferDirection::HostToDevice,
                    HostMemory::Pinned,
                    64 << 10,
                    6.0,
                ),
                p(
                    TransferDirection::HostToDevice,
                    HostMemory::Pinned,
                    1 << 20,
                    20.0,
                ),
                p(
                    TransferDirection::HostToDevice,
                    HostMemory::Pinned,
                    16 << 20,
                    25.0,
                ),
                p(
                    TransferDirection::DeviceToDevice,
                    HostMemory::None,
                    16 << 20,
                    1500.0,
                ),
            ],
            convention: "GB = 1e9 bytes".into(),
            pcie_limit_gbps: Some(31.5),
            memory_limit_gbps: Some(3350.0),
        };
        let chart = bandwidth(&t).unwrap_or_else(|| panic!("chart"));
        assert_eq!(chart.series.len(), 2, "{:?}", chart.series);
        let xs: Vec<f64> = chart.series[0].dots.iter().map(|d| d.0).collect();
        // 64 KiB → 1 MiB is 4 doublings, 1 MiB → 16 MiB 4 more: equal spacing on log₂.
        assert!(((xs[1] - xs[0]) - (xs[2] - xs[1])).abs() < 1e-6, "{xs:?}");
        assert!(chart.series[1].dashed);
        // The axis reaches the limit, not the device-to-device figure.
        let top = chart
            .y_ticks
            .last()
            .map(|t| t.label.clone())
            .unwrap_or_default();
        assert!(top == "35" || top == "40", "{top}");
    }
}
