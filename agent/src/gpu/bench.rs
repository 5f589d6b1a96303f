//! One benchmark run from start to end, blocking: transfers and the GPU blur when a GPU
//! can run them, the CPU blur always, then the fits, N* and the output comparison.
//! Used by the API's background task and by `vantage bench gpu`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chrono::Utc;
use vantage_shared::gpu::math::median;
use vantage_shared::gpu::{
    break_even, fit_line, BlurResult, CpuBlurPoint, GpuBenchConfig, GpuBenchPhase,
    GpuBenchProgress, GpuBlurResult, GpuRun, GpuRunStatus, MachineIdentity, OutputAgreement,
    TransferResult, AGREEMENT_TOLERANCE, BLUR_RADIUS, BLUR_SIGMA, TRANSFER_CONVENTION,
};

use super::cpu;

/// How one blur is computed, for the result (CPU and GPU alike).
pub const BLUR_METHOD: &str = "2-D Gaussian 21x21 (sigma = 10/3, weights normalised to 1), clamp-to-edge borders, computed as a 21-tap pass along rows then one along columns (separable: the same result as the 441-tap 2-D convolution, a tenth of the work), f32, taps summed in the same order on CPU and GPU. Chained N times: each blur reads the previous one's output.";

/// What the GPU part of a run may use, decided before the run starts.
pub enum GpuPlan {
    /// Run the GPU part on this device; `blur_needs` says why the blur cannot run
    /// (NVRTC missing) while the transfers still can.
    Run {
        device_name: String,
        blur_needs: Option<String>,
    },
    /// Skip it, with the sentence saying what it needs.
    Skip(String),
}

/// Everything a run reports while it goes.
pub type ProgressFn<'a> = &'a mut dyn FnMut(GpuBenchProgress);

struct Steps<'a> {
    run_id: String,
    done: u32,
    total: u32,
    sink: ProgressFn<'a>,
}

impl Steps<'_> {
    fn tick(&mut self, phase: GpuBenchPhase, message: String) {
        self.done = (self.done + 1).min(self.total);
        (self.sink)(GpuBenchProgress {
            run_id: self.run_id.clone(),
            phase,
            done: self.done,
            total: self.total,
            message,
        });
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// CPU timing: the median of a few runs (each N on 4096² takes seconds single-threaded,
/// so at most 3 repetitions).
fn time_cpu(reps: u32, mut f: impl FnMut() -> Vec<f32>) -> (f64, Vec<f32>) {
    let mut times = Vec::new();
    let mut out = Vec::new();
    for _ in 0..reps.clamp(1, 3) {
        let t = Instant::now();
        out = f();
        times.push(ms_since(t));
    }
    (median(&times).unwrap_or(f64::NAN), out)
}

/// Runs the benchmark; never panics on a machine without a GPU. The returned run is
/// `Completed` (GPU part possibly skipped, see `gpu_skipped`) or `Failed` (`error`).
pub fn run(
    id: String,
    config: GpuBenchConfig,
    machine: MachineIdentity,
    plan: GpuPlan,
    cancel: &AtomicBool,
    progress: ProgressFn<'_>,
) -> GpuRun {
    // Checked between steps: a stopping agent must not wait minutes for the CPU loops.
    let stopping = || cancel.load(Ordering::Relaxed);
    let started_at = Utc::now();
    let threads = machine.cpu_cores.max(1) as usize;
    let n_count = config.ns.len() as u32;
    let gpu_steps = match &plan {
        GpuPlan::Skip(_) => 0,
        GpuPlan::Run { blur_needs, .. } => {
            config.transfer_sizes.len() as u32 * 5 + if blur_needs.is_none() { n_count } else { 0 }
        }
    };
    let total = 1 + gpu_steps + 2 * n_count + 1;
    let mut steps = Steps {
        run_id: id.clone(),
        done: 0,
        total,
        sink: progress,
    };
    steps.tick(GpuBenchPhase::Starting, "preparing the test image".into());
    let side = config.image_side as usize;
    let image = cpu::test_image(side, side);
    let weights = cpu::gaussian_weights(BLUR_RADIUS, BLUR_SIGMA);

    let mut error = None;
    let mut transfers = None;
    let mut gpu_blur = None;
    let gpu_skipped = match &plan {
        GpuPlan::Skip(why) => Some(why.clone()),
        GpuPlan::Run { .. } if stopping() => None,
        GpuPlan::Run {
            device_name,
            blur_needs,
        } => {
            match super::transfers(
                config.device,
                &config.transfer_sizes,
                config.repetitions,
                &mut |p| {
                    steps.tick(
                        GpuBenchPhase::Transfers,
                        format!(
                            "{} {:?} {} bytes: {:.2} GB/s",
                            serde_json::to_value(p.direction)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            p.memory,
                            p.bytes,
                            p.best_gbps
                        ),
                    )
                },
            ) {
                Ok(mut points) => {
                    points.sort_by_key(|p| (p.direction as u8, p.memory as u8, p.bytes));
                    let status = super::status_blocking(None);
                    let dev = status.devices.get(config.device as usize);
                    transfers = Some(TransferResult {
                        points,
                        convention: TRANSFER_CONVENTION.into(),
                        pcie_limit_gbps: dev
                            .and_then(|d| d.pcie.as_ref())
                            .and_then(|p| p.theoretical_gbps),
                        memory_limit_gbps: dev.and_then(|d| d.theoretical_memory_bandwidth_gbps),
                    });
                }
                Err(e) => error = Some(format!("GPU transfers on {device_name} failed: {e}")),
            }
            if error.is_none() && blur_needs.is_none() {
                match super::gpu_blur(
                    config.device,
                    &image,
                    config.image_side,
                    &weights,
                    &config.ns,
                    config.repetitions,
                    &mut |n| steps.tick(GpuBenchPhase::GpuBlur, format!("GPU blur: N = {n}")),
                ) {
                    Ok(r) => gpu_blur = Some(r),
                    Err(e) => error = Some(format!("GPU blur on {device_name} failed: {e}")),
                }
            }
            blur_needs.clone()
        }
    };

    // The CPU baseline runs in every case: it is the half of the answer a machine
    // without a GPU can still give.
    let mut cpu_points: Vec<CpuBlurPoint> = config
        .ns
        .iter()
        .map(|&n| CpuBlurPoint {
            n,
            single_thread_ms: f64::NAN,
            all_cores_ms: f64::NAN,
        })
        .collect();
    for p in cpu_points.iter_mut() {
        if stopping() {
            break;
        }
        let (t, _) = time_cpu(config.repetitions, || {
            cpu::blur_chain(&image, side, side, p.n, &weights)
        });
        p.single_thread_ms = t;
        steps.tick(
            GpuBenchPhase::CpuSingle,
            format!("CPU, one thread: N = {} in {t:.1} ms", p.n),
        );
    }
    let mut cpu_last = Vec::new();
    for p in cpu_points.iter_mut() {
        if stopping() {
            break;
        }
        let (t, out) = time_cpu(config.repetitions, || {
            cpu::blur_chain_parallel(&image, side, side, p.n, &weights, threads)
        });
        p.all_cores_ms = t;
        cpu_last = out;
        steps.tick(
            GpuBenchPhase::CpuAllCores,
            format!("CPU, {threads} threads: N = {} in {t:.1} ms", p.n),
        );
    }

    let fit = |pts: Vec<(f64, f64)>| fit_line(&pts).ok();
    let cpu_single_fit = fit(cpu_points
        .iter()
        .map(|p| (f64::from(p.n), p.single_thread_ms))
        .collect());
    let cpu_all_cores_fit = fit(cpu_points
        .iter()
        .map(|p| (f64::from(p.n), p.all_cores_ms))
        .collect());

    let gpu = gpu_blur.map(|r| {
        let kernels_fit = fit(r
            .points
            .iter()
            .map(|p| (f64::from(p.n), p.kernels_ms))
            .collect());
        let total_fit = fit(r
            .points
            .iter()
            .map(|p| (f64::from(p.n), p.total_ms))
            .collect());
        let transfer_ms = median(
            &r.points
                .iter()
                .map(|p| p.upload_ms + p.download_ms)
                .collect::<Vec<_>>(),
        )
        .unwrap_or(f64::NAN);
        let agreement = config.ns.last().map(|&n| {
            let d = cpu::max_abs_diff(&r.output, &cpu_last);
            OutputAgreement {
                n,
                max_abs_diff: d,
                tolerance: AGREEMENT_TOLERANCE,
                pass: d <= AGREEMENT_TOLERANCE,
            }
        });
        GpuBlurResult {
            device: r.device,
            kernel_build: r.kernel_build,
            cold: r.cold,
            points: r.points,
            kernels_fit,
            total_fit,
            transfer_ms,
            agreement,
        }
    });
    steps.tick(
        GpuBenchPhase::Comparing,
        "fitting lines and comparing outputs".into(),
    );
    let be = |cpu_fit: Option<&vantage_shared::gpu::LineFit>| {
        let g = gpu.as_ref()?;
        let (c, k) = (cpu_fit?, g.kernels_fit.as_ref()?);
        Some(break_even(g.transfer_ms, c.slope, k.slope))
    };
    let blur = BlurResult {
        width: config.image_side,
        height: config.image_side,
        kernel_size: 2 * BLUR_RADIUS + 1,
        sigma: BLUR_SIGMA,
        method: BLUR_METHOD.into(),
        cpu_threads: threads as u32,
        break_even_single: be(cpu_single_fit.as_ref()),
        break_even_all_cores: be(cpu_all_cores_fit.as_ref()),
        cpu: cpu_points,
        cpu_single_fit,
        cpu_all_cores_fit,
        gpu,
    };
    if let Some(a) = blur.gpu.as_ref().and_then(|g| g.agreement.as_ref()) {
        if !a.pass && error.is_none() {
            error = Some(format!(
                "GPU and CPU outputs differ by up to {:.3e} (tolerance {:.0e}) after {} blurs",
                a.max_abs_diff, a.tolerance, a.n
            ));
        }
    }
    let interrupted = stopping();
    if interrupted {
        error = Some("the agent stopped before this run finished".into());
    }
    GpuRun {
        id,
        status: if interrupted {
            GpuRunStatus::Interrupted
        } else if error.is_some() {
            GpuRunStatus::Failed
        } else {
            GpuRunStatus::Completed
        },
        started_at,
        finished_at: Some(Utc::now()),
        config,
        machine,
        transfers,
        blur: Some(blur),
        gpu_skipped,
        error,
    }
}
