//! Benchmark options: the bounds and defaults, `GpuBenchOptions` (the request body and
//! the command line's flags) resolved into the `GpuBenchConfig` a run follows, and the
//! checks that keep a run within the CPU time budget and the host's memory.

use serde::{Deserialize, Serialize};

/// Bounds for benchmark options, so a request cannot tie up the machine for hours.
/// The largest image side at all, from `vantage bench gpu` (a person at a terminal who
/// can press Ctrl-C); an 8192² run holds about 1.25 GiB of host memory.
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// The largest image side `POST /api/gpu/runs` accepts: the reference
/// experiment's 4096² (docs/incidents.md, "Is the GPU worth it here?").
pub const MAX_API_IMAGE_SIDE: u32 = 4096;
pub const MIN_IMAGE_SIDE: u32 = 64;
pub const MAX_CHAIN: u32 = 64;
pub const MAX_NS: usize = 12;
pub const MIN_TRANSFER_BYTES: u64 = 4 * 1024;
pub const MAX_TRANSFER_BYTES: u64 = 1024 * 1024 * 1024;
pub const MAX_TRANSFER_SIZES: usize = 16;
pub const MAX_REPETITIONS: u32 = 50;
/// The reference experiment: 4096 × 4096, N ∈ {1, 2, 4, 8, 16, 32}.
pub const DEFAULT_IMAGE_SIDE: u32 = 4096;
pub const QUICK_IMAGE_SIDE: u32 = 512;
pub const DEFAULT_NS: [u32; 6] = [1, 2, 4, 8, 16, 32];
pub const QUICK_NS: [u32; 4] = [1, 2, 4, 8];
/// 21 × 21 taps: radius 10.
pub const BLUR_RADIUS: u32 = 10;
/// σ = radius / 3, so the kernel covers ±3σ (99.7 % of the Gaussian's mass; the
/// weights are normalised to sum to 1).
pub const BLUR_SIGMA: f64 = 10.0 / 3.0;
/// Largest |GPU − CPU| accepted per pixel, for images in [0, 1]. Both sides do the same
/// f32 operations in the same order: `acc = acc + w·v`, rounded after the multiply and
/// after the add (the kernel is compiled with `--fmad=false`, and Rust never fuses), so
/// the expected difference is exactly 0. 1e-6 (about 8 ulps at 1.0) only leaves room for
/// a rounding difference nobody has seen yet; a real bug (a wrong tap, index or border)
/// shows up as 1e-3 or more.
pub const AGREEMENT_TOLERANCE: f64 = 1e-6;
/// The CPU blur is timed at most this many times per N (each N on 4096² takes seconds
/// single-threaded), whatever `repetitions` says.
pub const MAX_CPU_REPETITIONS: u32 = 3;
/// The longest the CPU part of a run may take single-threaded, estimated before it starts.
pub const MAX_CPU_SECONDS: f64 = 600.0;
/// Single-threaded pixel-blurs per second assumed for that estimate (one pixel through
/// one 21 + 21-tap blur). A 2-vCPU AMD EPYC VM does 1.8e8 (92.8 ms per 4096² blur, see
/// BENCHMARKS.md); 2.5e7 is seven times slower, for small ARM boards, so the estimate
/// errs long. The default run (4096², N = 1…32, 3 CPU repetitions) comes to
/// about 2 minutes by it.
pub const CONSERVATIVE_PIXEL_BLURS_PER_S: f64 = 2.5e7;
/// A run may use at most this share of the host's available memory (`MemAvailable`).
pub const MAX_MEMORY_SHARE: f64 = 0.75;

/// Where options come from, for the bounds that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsSource {
    /// `POST /api/gpu/runs`: image side up to 4096.
    Api,
    /// `vantage bench gpu`: image side up to 8192.
    Cli,
}

impl OptionsSource {
    pub fn max_image_side(self) -> u32 {
        match self {
            Self::Api => MAX_API_IMAGE_SIDE,
            Self::Cli => MAX_IMAGE_SIDE,
        }
    }
}

/// `POST /api/gpu/runs` body and `vantage bench gpu` flags; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GpuBenchOptions {
    /// Small sizes for a run of seconds (512 × 512, N ≤ 8, transfers up to 16 MiB).
    #[serde(default)]
    pub quick: bool,
    /// Side of the square single-channel f32 image (64–4096 from the API, up to 8192 from
    /// `vantage bench gpu`; default 4096, quick 512). The CPU part must fit a 10-minute
    /// budget (see `MAX_CPU_SECONDS`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 64, maximum = 4096))]
    pub image_side: Option<u32>,
    /// Chain lengths N (1–64 each, at most 12; default 1,2,4,8,16,32).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(min_items = 1, max_items = 12, minimum = 1, maximum = 64)
    )]
    pub ns: Option<Vec<u32>>,
    /// Transfer sizes in bytes (4 KiB–1 GiB, at most 16; default 64 KiB … 256 MiB ×4).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(min_items = 1, max_items = 16, minimum = 4096, maximum = 1073741824)
    )]
    pub transfer_sizes: Option<Vec<u64>>,
    /// Timed repetitions per point (1–50; default 5, quick 3).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 50))]
    pub repetitions: Option<u32>,
    /// CUDA device ordinal (default 0).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = Int64, maximum = 4294967295u32))]
    pub device: Option<u32>,
}

/// Options after defaults and checks: what a run actually does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuBenchConfig {
    pub quick: bool,
    pub image_side: u32,
    /// Sorted, distinct.
    pub ns: Vec<u32>,
    /// Sorted, distinct.
    pub transfer_sizes: Vec<u64>,
    pub repetitions: u32,
    pub device: u32,
}

impl GpuBenchOptions {
    /// Applies defaults and the API's bounds; the error is a sentence for a 400 answer.
    pub fn resolve(&self) -> Result<GpuBenchConfig, String> {
        self.resolve_for(OptionsSource::Api)
    }

    /// Applies defaults and the bounds for `source`, including the CPU time budget.
    pub fn resolve_for(&self, source: OptionsSource) -> Result<GpuBenchConfig, String> {
        let image_side = self.image_side.unwrap_or(if self.quick {
            QUICK_IMAGE_SIDE
        } else {
            DEFAULT_IMAGE_SIDE
        });
        let max_side = source.max_image_side();
        if !(MIN_IMAGE_SIDE..=max_side).contains(&image_side) {
            let cli = if source == OptionsSource::Api {
                format!(" (up to {MAX_IMAGE_SIDE} with `vantage bench gpu`)")
            } else {
                String::new()
            };
            return Err(format!(
                "image_side must be between {MIN_IMAGE_SIDE} and {max_side}{cli}, got {image_side}"
            ));
        }
        let mut ns = self.ns.clone().unwrap_or_else(|| {
            if self.quick {
                QUICK_NS.to_vec()
            } else {
                DEFAULT_NS.to_vec()
            }
        });
        if ns.is_empty() || ns.len() > MAX_NS {
            return Err(format!("give between 1 and {MAX_NS} chain lengths N"));
        }
        if let Some(bad) = ns.iter().find(|n| !(1..=MAX_CHAIN).contains(*n)) {
            return Err(format!(
                "each N must be between 1 and {MAX_CHAIN}, got {bad}"
            ));
        }
        ns.sort_unstable();
        ns.dedup();
        let mut transfer_sizes = self.transfer_sizes.clone().unwrap_or_else(|| {
            let top = if self.quick { 16 << 20 } else { 256 << 20 };
            std::iter::successors(Some(64u64 << 10), |s| Some(s * 4))
                .take_while(|s| *s <= top)
                .collect()
        });
        if transfer_sizes.is_empty() || transfer_sizes.len() > MAX_TRANSFER_SIZES {
            return Err(format!(
                "give between 1 and {MAX_TRANSFER_SIZES} transfer sizes"
            ));
        }
        if let Some(bad) = transfer_sizes
            .iter()
            .find(|s| !(MIN_TRANSFER_BYTES..=MAX_TRANSFER_BYTES).contains(*s))
        {
            return Err(format!(
                "each transfer size must be between {MIN_TRANSFER_BYTES} bytes (4 KiB) and {MAX_TRANSFER_BYTES} bytes (1 GiB), got {bad}"
            ));
        }
        transfer_sizes.sort_unstable();
        transfer_sizes.dedup();
        let repetitions = self.repetitions.unwrap_or(if self.quick { 3 } else { 5 });
        if !(1..=MAX_REPETITIONS).contains(&repetitions) {
            return Err(format!(
                "repetitions must be between 1 and {MAX_REPETITIONS}, got {repetitions}"
            ));
        }
        let config = GpuBenchConfig {
            quick: self.quick,
            image_side,
            ns,
            transfer_sizes,
            repetitions,
            device: self.device.unwrap_or(0),
        };
        let estimate = config.cpu_estimate_s();
        if estimate > MAX_CPU_SECONDS {
            let sum: u64 = config.ns.iter().map(|&n| u64::from(n)).sum();
            return Err(format!(
                "this run's CPU part is {side}² pixels × ΣN = {sum} × {reps} repetitions = {work:.2e} pixel-blurs, about {min:.0} minutes single-threaded at a conservative {rate:.0} million pixel-blurs/s, over the {limit:.0}-minute limit: use fewer or smaller N, a smaller image_side or fewer repetitions",
                side = config.image_side,
                reps = config.cpu_repetitions(),
                work = config.cpu_pixel_blurs() as f64,
                min = estimate / 60.0,
                rate = CONSERVATIVE_PIXEL_BLURS_PER_S / 1e6,
                limit = MAX_CPU_SECONDS / 60.0,
            ));
        }
        Ok(config)
    }
}

impl GpuBenchConfig {
    /// How many times the CPU blur is timed per N.
    pub fn cpu_repetitions(&self) -> u32 {
        self.repetitions.clamp(1, MAX_CPU_REPETITIONS)
    }

    /// side² × ΣN × CPU repetitions: the single-threaded phase's work.
    pub fn cpu_pixel_blurs(&self) -> u64 {
        let sum: u64 = self.ns.iter().map(|&n| u64::from(n)).sum();
        u64::from(self.image_side).pow(2) * sum * u64::from(self.cpu_repetitions())
    }

    /// Seconds the single-threaded phase would take at `CONSERVATIVE_PIXEL_BLURS_PER_S`.
    pub fn cpu_estimate_s(&self) -> f64 {
        self.cpu_pixel_blurs() as f64 / CONSERVATIVE_PIXEL_BLURS_PER_S
    }

    /// Peak host memory of a run in bytes, with `img` = side² f32: the test image lives
    /// throughout; the transfer sweep adds a pageable and a pinned buffer of the largest
    /// size; the GPU blur two pinned images and its output, which it keeps for the
    /// comparison while the CPU chain holds three more.
    pub fn host_memory_bytes(&self, transfers: bool, gpu_blur: bool) -> u64 {
        let img = u64::from(self.image_side).pow(2) * 4;
        let largest = self.transfer_sizes.iter().copied().max().unwrap_or(0);
        let sweep = if transfers { img + 2 * largest } else { 0 };
        let blur = if gpu_blur {
            // GPU phase: img + 3 img; CPU phase: img + GPU output + 3 img.
            5 * img
        } else {
            4 * img
        };
        sweep.max(blur)
    }
}

/// `MemAvailable` from the text of `/proc/meminfo`, in bytes.
pub fn mem_available_bytes(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemAvailable:")?.trim();
        let kib = rest.strip_suffix("kB").unwrap_or(rest).trim();
        kib.parse::<u64>().ok().map(|k| k * 1024)
    })
}

/// Refuses a run that needs more than `MAX_MEMORY_SHARE` of the available host memory;
/// the error names both figures.
pub fn check_host_memory(need: u64, available: u64) -> Result<(), String> {
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    if need as f64 > available as f64 * MAX_MEMORY_SHARE {
        return Err(format!(
            "this run needs about {:.2} GiB of host memory but {:.2} GiB is available (MemAvailable in /proc/meminfo; a run may use at most {:.0}% of it): use a smaller image_side or smaller transfer sizes",
            gib(need),
            gib(available),
            MAX_MEMORY_SHARE * 100.0
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_reference_experiment() {
        let c = GpuBenchOptions::default().resolve().expect("defaults");
        assert_eq!(c.image_side, 4096);
        assert_eq!(c.ns, vec![1, 2, 4, 8, 16, 32]);
        assert_eq!(c.transfer_sizes.first(), Some(&(64 << 10)));
        assert_eq!(c.transfer_sizes.last(), Some(&(256 << 20)));
        assert_eq!(c.transfer_sizes.len(), 7);
        let q = GpuBenchOptions {
            quick: true,
            ..Default::default()
        }
        .resolve()
        .expect("quick");
        assert_eq!((q.image_side, q.ns.len(), q.repetitions), (512, 4, 3));
        assert_eq!(q.transfer_sizes.last(), Some(&(16 << 20)));
    }

    #[test]
    fn options_are_bounded_with_readable_errors() {
        let bad = |o: GpuBenchOptions, needle: &str| {
            let e = o.resolve().expect_err("must be refused");
            assert!(e.contains(needle), "{e}");
        };
        bad(
            GpuBenchOptions {
                image_side: Some(8192),
                ..Default::default()
            },
            "image_side must be between 64 and 4096 (up to 8192 with `vantage bench gpu`), got 8192",
        );
        bad(
            GpuBenchOptions {
                ns: Some(vec![]),
                ..Default::default()
            },
            "between 1 and 12 chain lengths",
        );
        bad(
            GpuBenchOptions {
                ns: Some(vec![1, 0]),
                ..Default::default()
            },
            "each N must be between 1 and 64, got 0",
        );
        bad(
            GpuBenchOptions {
                transfer_sizes: Some(vec![1]),
                ..Default::default()
            },
            "got 1",
        );
        bad(
            GpuBenchOptions {
                repetitions: Some(0),
                ..Default::default()
            },
            "repetitions",
        );
        let c = GpuBenchOptions {
            ns: Some(vec![8, 1, 8, 2]),
            transfer_sizes: Some(vec![1 << 20, 4096, 1 << 20]),
            ..Default::default()
        }
        .resolve()
        .expect("valid");
        assert_eq!(c.ns, vec![1, 2, 8], "sorted and distinct");
        assert_eq!(c.transfer_sizes, vec![4096, 1 << 20]);
        let unknown: Result<GpuBenchOptions, _> =
            serde_json::from_str(r#"{"quick": true, "image_size": 512}"#);
        assert!(
            unknown.is_err(),
            "misspelt options are refused, not ignored"
        );
    }

    #[test]
    fn the_command_line_may_ask_for_8192_within_the_cpu_budget() {
        let big = GpuBenchOptions {
            image_side: Some(8192),
            ..Default::default()
        };
        let c = big
            .resolve_for(OptionsSource::Cli)
            .expect("8192² default N fits");
        // 8192² × 63 × 3 / 2.5e7 ≈ 508 s: under the 600 s budget.
        assert!((500.0..600.0).contains(&c.cpu_estimate_s()), "{c:?}");
        let e = GpuBenchOptions {
            image_side: Some(16384),
            ..Default::default()
        }
        .resolve_for(OptionsSource::Cli)
        .expect_err("over the CLI's bound");
        assert!(e.contains("between 64 and 8192, got 16384"), "{e}");
    }

    #[test]
    fn runs_over_the_cpu_budget_are_refused_with_the_estimate() {
        let d = GpuBenchOptions::default()
            .resolve()
            .expect("the default run");
        assert_eq!(d.cpu_pixel_blurs(), 4096 * 4096 * 63 * 3);
        assert!(d.cpu_estimate_s() < MAX_CPU_SECONDS / 2.0, "{d:?}");
        // Twelve long chains on 4096²: 4096² × 702 × 3 ≈ 3.5e10 pixel-blurs.
        let e = GpuBenchOptions {
            ns: Some((53..=64).collect()),
            ..Default::default()
        }
        .resolve()
        .expect_err("hours of CPU");
        assert!(
            e.contains("ΣN = 702 × 3 repetitions = 3.53e10 pixel-blurs"),
            "{e}"
        );
        assert!(e.contains("about 24 minutes single-threaded"), "{e}");
        assert!(e.contains("10-minute limit"), "{e}");
        // More repetitions than the CPU uses do not count against the budget.
        let many = GpuBenchOptions {
            repetitions: Some(50),
            ..Default::default()
        }
        .resolve()
        .expect("GPU repetitions are cheap");
        assert_eq!(many.cpu_repetitions(), 3);
    }

    #[test]
    fn host_memory_estimate_and_check() {
        let c = GpuBenchOptions {
            image_side: Some(8192),
            transfer_sizes: Some(vec![1 << 30]),
            ..Default::default()
        }
        .resolve_for(OptionsSource::Cli)
        .expect("valid");
        let img = 8192u64 * 8192 * 4;
        assert_eq!(c.host_memory_bytes(false, false), 4 * img);
        assert_eq!(c.host_memory_bytes(true, true), img + (2 << 30));
        assert_eq!(c.host_memory_bytes(false, true), 5 * img);
        assert_eq!(check_host_memory(1 << 30, 2 << 30), Ok(()));
        let e = check_host_memory(img + (2 << 30), 2 << 30).expect_err("too much");
        assert!(
            e.starts_with("this run needs about 2.25 GiB of host memory but 2.00 GiB is available"),
            "{e}"
        );
        let meminfo =
            "MemTotal:       32768000 kB\nMemFree:         1000 kB\nMemAvailable:   24158596 kB\n";
        assert_eq!(mem_available_bytes(meminfo), Some(24_158_596 * 1024));
        assert_eq!(mem_available_bytes("MemTotal: 1 kB\n"), None);
    }
}
