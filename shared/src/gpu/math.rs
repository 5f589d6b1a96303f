//! The arithmetic behind the GPU page: least-squares lines through time-vs-N points,
//! the break-even number of chained operations, PCIe and memory bandwidth limits.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A straight line `y = intercept + slope · x` fitted by ordinary least squares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineFit {
    /// Cost per operation (ms per chained blur when x = N and y = ms).
    pub slope: f64,
    /// Fixed cost (ms at N = 0).
    pub intercept: f64,
    /// Coefficient of determination; `None` when every y is the same (nothing to explain).
    pub r_squared: Option<f64>,
    /// How many points the line was fitted through.
    pub points: usize,
}

impl LineFit {
    /// The line's value at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Why no line could be fitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FitError {
    /// A line needs at least two points.
    TooFewPoints(usize),
    /// All x values are equal: the slope is undefined.
    NoSpreadInX,
    /// A value is NaN or infinite.
    NotFinite,
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFewPoints(n) => write!(f, "a line needs at least 2 points, got {n}"),
            Self::NoSpreadInX => f.write_str("all points have the same N: the slope is undefined"),
            Self::NotFinite => f.write_str("a measurement is NaN or infinite"),
        }
    }
}

impl std::error::Error for FitError {}

/// Least-squares fit of `y = a + b·x`.
pub fn fit_line(points: &[(f64, f64)]) -> Result<LineFit, FitError> {
    if points.len() < 2 {
        return Err(FitError::TooFewPoints(points.len()));
    }
    if points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return Err(FitError::NotFinite);
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    // Centred sums: numerically better than the textbook Σxy − n·x̄ȳ form.
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    if sxx <= f64::EPSILON * mean_x.abs().max(1.0) {
        return Err(FitError::NoSpreadInX);
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    let r_squared = if syy > 0.0 {
        let ss_res: f64 = points
            .iter()
            .map(|p| (p.1 - (intercept + slope * p.0)).powi(2))
            .sum();
        Some(1.0 - ss_res / syy)
    } else {
        None
    };
    Ok(LineFit {
        slope,
        intercept,
        r_squared,
        points: points.len(),
    })
}

/// Where the GPU starts to pay off: `N* = (upload + download) / (cpu_per_op − gpu_per_op)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BreakEven {
    /// From `n` chained operations on (N > 1), the GPU including its transfers is faster.
    AtN { n: f64 },
    /// Even one operation is faster on the GPU, transfers included (N* ≤ 1).
    GpuAlwaysWins { n: f64 },
    /// Each operation costs the GPU at least as much as the CPU: the transfers are never paid back.
    Never { reason: String },
    /// The inputs do not allow an answer (NaN, negative transfer time).
    Undetermined { reason: String },
}

impl BreakEven {
    /// A sentence for people, e.g. "The GPU pays off from N* ≈ 3.2 chained blurs …".
    pub fn sentence(&self, what: &str) -> String {
        match self {
            Self::AtN { n } => format!(
                "The GPU pays off from N* ≈ {n:.1} chained {what}s: below that, uploading and downloading the image costs more than the GPU saves per {what}."
            ),
            Self::GpuAlwaysWins { n } => format!(
                "The GPU wins from the first {what} (N* ≈ {n:.2} ≤ 1): even one {what} is faster on the GPU, transfers included."
            ),
            Self::Never { reason } | Self::Undetermined { reason } => reason.clone(),
        }
    }
}

/// `N* = fixed / (cpu_per_op − gpu_per_op)`, all in the same unit (ms). `fixed` is the
/// GPU's per-run cost that does not grow with N: upload plus download.
pub fn break_even(fixed: f64, cpu_per_op: f64, gpu_per_op: f64) -> BreakEven {
    if !(fixed.is_finite() && cpu_per_op.is_finite() && gpu_per_op.is_finite()) {
        return BreakEven::Undetermined {
            reason: "cannot compute the break-even: a timing is NaN or infinite".into(),
        };
    }
    if fixed < 0.0 {
        return BreakEven::Undetermined {
            reason: format!("cannot compute the break-even: negative transfer time {fixed:.3} ms"),
        };
    }
    let saved = cpu_per_op - gpu_per_op;
    if saved <= 0.0 {
        return BreakEven::Never {
            reason: format!(
                "The GPU never wins here: per-blur GPU time ({gpu_per_op:.3} ms) ≥ CPU time ({cpu_per_op:.3} ms), so the {fixed:.3} ms of upload and download are never paid back."
            ),
        };
    }
    let n = fixed / saved;
    if n <= 1.0 {
        BreakEven::GpuAlwaysWins { n }
    } else {
        BreakEven::AtN { n }
    }
}

/// Bytes per second one PCIe lane carries in one direction after line encoding, by
/// generation (1–6). Gen1/2 use 8b/10b (80 %), Gen3–5 128b/130b (98.46 %); Gen6 uses
/// PAM4 with 1b/1b encoding in 256-byte FLITs of which 242 bytes carry data (94.5 %).
/// Packet (TLP/DLLP) overhead is *not* included: real copies reach about 80–90 % of this.
pub fn pcie_lane_bytes_per_s(generation: u32) -> Option<f64> {
    let (gt_per_s, efficiency) = match generation {
        1 => (2.5e9, 8.0 / 10.0),
        2 => (5.0e9, 8.0 / 10.0),
        3 => (8.0e9, 128.0 / 130.0),
        4 => (16.0e9, 128.0 / 130.0),
        5 => (32.0e9, 128.0 / 130.0),
        6 => (64.0e9, 242.0 / 256.0),
        _ => return None,
    };
    // One transfer per lane carries one bit; 8 bits per byte.
    Some(gt_per_s * efficiency / 8.0)
}

/// Theoretical one-direction PCIe bandwidth in GB/s (1 GB = 1e9 bytes) for a link, e.g.
/// Gen4 x16 → 31.5 GB/s.
pub fn pcie_limit_gbps(generation: u32, width: u32) -> Option<f64> {
    if width == 0 {
        return None;
    }
    pcie_lane_bytes_per_s(generation).map(|b| b * f64::from(width) / 1e9)
}

/// Theoretical memory bandwidth in GB/s from the memory clock (MHz, as NVML and
/// `CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE` report it) and the bus width in bits: two
/// transfers per clock (double data rate), as NVIDIA's `deviceQuery` computes it.
pub fn memory_bandwidth_gbps(memory_clock_mhz: u32, bus_width_bits: u32) -> Option<f64> {
    if memory_clock_mhz == 0 || bus_width_bits == 0 {
        return None;
    }
    Some(f64::from(memory_clock_mhz) * 1e6 * 2.0 * f64::from(bus_width_bits) / 8.0 / 1e9)
}

/// GB/s (1e9 bytes per second) for `bytes` moved in `seconds`.
pub fn gbps(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds / 1e9
    } else {
        f64::NAN
    }
}

/// Median of the values (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn exact_line_is_recovered() {
        let pts: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
            .iter()
            .map(|&n| (n, 12.5 + 0.75 * n))
            .collect();
        let fit = fit_line(&pts).expect("fit");
        assert!(close(fit.slope, 0.75), "{fit:?}");
        assert!(close(fit.intercept, 12.5), "{fit:?}");
        assert!(close(fit.r_squared.expect("r²"), 1.0));
        assert_eq!(fit.points, 6);
        assert!(close(fit.at(10.0), 20.0));
    }

    #[test]
    fn noisy_line_matches_hand_computed_least_squares() {
        // x = 0,1,2,3; y = 1,3,2,5 → slope 1.1, intercept 1.1 (worked by hand:
        // x̄ = 1.5, ȳ = 2.75, Sxy = 5.5, Sxx = 5).
        let fit = fit_line(&[(0.0, 1.0), (1.0, 3.0), (2.0, 2.0), (3.0, 5.0)]).expect("fit");
        assert!(close(fit.slope, 1.1), "{fit:?}");
        assert!(close(fit.intercept, 1.1), "{fit:?}");
        let r2 = fit.r_squared.expect("r²");
        assert!(r2 > 0.0 && r2 < 1.0, "{r2}");
    }

    #[test]
    fn degenerate_inputs_are_errors_not_nan() {
        assert_eq!(fit_line(&[]), Err(FitError::TooFewPoints(0)));
        assert_eq!(fit_line(&[(1.0, 2.0)]), Err(FitError::TooFewPoints(1)));
        assert_eq!(
            fit_line(&[(4.0, 2.0), (4.0, 3.0), (4.0, 9.0)]),
            Err(FitError::NoSpreadInX)
        );
        assert_eq!(
            fit_line(&[(1.0, f64::NAN), (2.0, 3.0)]),
            Err(FitError::NotFinite)
        );
        assert_eq!(
            fit_line(&[(f64::INFINITY, 1.0), (2.0, 3.0)]),
            Err(FitError::NotFinite)
        );
        // A flat line is fine; r² is undefined then.
        let flat = fit_line(&[(1.0, 5.0), (2.0, 5.0)]).expect("flat");
        assert_eq!(
            (flat.slope, flat.intercept, flat.r_squared),
            (0.0, 5.0, None)
        );
    }

    #[test]
    fn break_even_cases() {
        // 20 ms of transfers, CPU 10 ms per blur, GPU 2 ms: paid back after 2.5 blurs.
        assert_eq!(break_even(20.0, 10.0, 2.0), BreakEven::AtN { n: 2.5 });
        // 4 ms of transfers, CPU saves 8 ms per blur: wins from the first.
        assert_eq!(
            break_even(4.0, 10.0, 2.0),
            BreakEven::GpuAlwaysWins { n: 0.5 }
        );
        // Exactly one blur to break even counts as winning from the first.
        assert_eq!(
            break_even(8.0, 10.0, 2.0),
            BreakEven::GpuAlwaysWins { n: 1.0 }
        );
        match break_even(20.0, 2.0, 2.0) {
            BreakEven::Never { reason } => {
                assert!(reason.starts_with("The GPU never wins here"), "{reason}");
                assert!(reason.contains("2.000 ms"), "{reason}");
            }
            other => panic!("equal per-op times never pay back: {other:?}"),
        }
        assert!(matches!(
            break_even(20.0, 1.0, 3.0),
            BreakEven::Never { .. }
        ));
        assert!(matches!(
            break_even(f64::NAN, 10.0, 2.0),
            BreakEven::Undetermined { .. }
        ));
        assert!(matches!(
            break_even(-1.0, 10.0, 2.0),
            BreakEven::Undetermined { .. }
        ));
        assert!(break_even(20.0, 10.0, 2.0)
            .sentence("blur")
            .contains("N* ≈ 2.5 chained blurs"));
    }

    #[test]
    fn break_even_serializes_with_a_kind_tag() -> Result<(), serde_json::Error> {
        let v = serde_json::to_value(BreakEven::AtN { n: 3.0 })?;
        assert_eq!(v, serde_json::json!({"kind": "at_n", "n": 3.0}));
        let v = serde_json::to_value(break_even(1.0, 1.0, 1.0))?;
        assert_eq!(v["kind"], "never");
        Ok(())
    }

    #[test]
    fn pcie_limits_per_generation() {
        // The figures vendors quote for x16, one direction.
        let x16 = |g| pcie_limit_gbps(g, 16).expect("known generation");
        assert!((x16(1) - 4.0).abs() < 1e-9);
        assert!((x16(2) - 8.0).abs() < 1e-9);
        assert!((x16(3) - 15.754).abs() < 1e-3);
        assert!((x16(4) - 31.508).abs() < 1e-3);
        assert!((x16(5) - 63.015).abs() < 1e-3);
        assert!((x16(6) - 121.0).abs() < 1e-9);
        assert!((pcie_limit_gbps(4, 8).expect("x8") - 15.754).abs() < 1e-3);
        assert_eq!(pcie_limit_gbps(7, 16), None);
        assert_eq!(pcie_limit_gbps(4, 0), None);
    }

    #[test]
    fn memory_bandwidth_like_device_query() {
        // H100 SXM5: 2619 MHz HBM3, 5120-bit → 3352 GB/s (NVIDIA quotes 3.35 TB/s).
        let h100 = memory_bandwidth_gbps(2619, 5120).expect("h100");
        assert!((h100 - 3352.32).abs() < 0.01, "{h100}");
        // RTX 3090: 9751 MHz GDDR6X, 384-bit → 936 GB/s.
        let rtx = memory_bandwidth_gbps(9751, 384).expect("3090");
        assert!((rtx - 936.1).abs() < 0.1, "{rtx}");
        assert_eq!(memory_bandwidth_gbps(0, 384), None);
    }

    #[test]
    fn gbps_and_median() {
        assert!((gbps(1_000_000_000, 0.5) - 2.0).abs() < 1e-12);
        assert!(gbps(1, 0.0).is_nan());
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
    }
}
