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

use super::backend::{self, GpuBlurRun};
use super::cpu;
use super::plan::GpuPlan;
use super::status::status_blocking;

/// How one blur is computed, for the result (CPU and GPU alike).
pub const BLUR_METHOD: &str = "2-D Gaussian 21x21 (sigma = 10/3, weights normalised to 1), clamp-to-edge borders, computed as a 21-tap pass along rows then one along columns (separable: the same result as the 441-tap 2-D convolution, a tenth of the work), f32, each tap as acc = acc + w*v rounded after the multiply and after the add (no fused multiply-add: the GPU kernel is compiled with --fmad=false), taps in the same order on CPU and GPU, so both compute the same numbers. Chained N times: each blur reads the previous one's output.";

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

/// CPU timing: the median of `reps` runs of `blur` (at most `MAX_CPU_REPETITIONS`: each
/// N on 4096² takes seconds single-threaded). The image is copied into the chain's
/// buffers before the clock starts, so the time is the blurs' alone.
fn time_cpu(
    reps: u32,
    chain: &mut cpu::Chain,
    image: &[f32],
    mut blur: impl FnMut(&mut cpu::Chain) -> Result<(), cpu::Cancelled>,
) -> Result<f64, cpu::Cancelled> {
    let mut times = Vec::new();
    for _ in 0..reps.max(1) {
        chain.load(image);
        let t = Instant::now();
        blur(chain)?;
        times.push(ms_since(t));
    }
    Ok(median(&times).unwrap_or(f64::NAN))
}

/// What a run has measured so far; `record` turns it into the stored form at any point.
struct Partial {
    id: String,
    config: GpuBenchConfig,
    machine: MachineIdentity,
    started_at: chrono::DateTime<Utc>,
    threads: usize,
    transfers: Option<TransferResult>,
    gpu: Option<GpuBlurRun>,
    cpu: Vec<CpuBlurPoint>,
    agreement: Option<OutputAgreement>,
    gpu_skipped: Option<String>,
    error: Option<String>,
}

impl Partial {
    fn record(&self, status: GpuRunStatus) -> GpuRun {
        let fit = |pts: Vec<(f64, f64)>| fit_line(&pts).ok();
        // Points a cut-off run did not reach are NaN; the fits use the measured ones.
        let measured = |f: fn(&CpuBlurPoint) -> f64| {
            self.cpu
                .iter()
                .filter(|p| f(p).is_finite())
                .map(|p| (f64::from(p.n), f(p)))
                .collect::<Vec<_>>()
        };
        let cpu_single_fit = fit(measured(|p| p.single_thread_ms));
        let cpu_all_cores_fit = fit(measured(|p| p.all_cores_ms));
        let gpu = self.gpu.as_ref().map(|r| {
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
            GpuBlurResult {
                device: r.device.clone(),
                kernel_build: r.kernel_build.clone(),
                cold: r.cold.clone(),
                points: r.points.clone(),
                kernels_fit,
                total_fit,
                transfer_ms,
                agreement: self.agreement.clone(),
            }
        });
        let be = |cpu_fit: Option<&vantage_shared::gpu::LineFit>| {
            let g = gpu.as_ref()?;
            let (c, k) = (cpu_fit?, g.kernels_fit.as_ref()?);
            Some(break_even(g.transfer_ms, c.slope, k.slope))
        };
        let blur = BlurResult {
            width: self.config.image_side,
            height: self.config.image_side,
            kernel_size: 2 * BLUR_RADIUS + 1,
            sigma: BLUR_SIGMA,
            method: BLUR_METHOD.into(),
            cpu_threads: self.threads as u32,
            break_even_single: be(cpu_single_fit.as_ref()),
            break_even_all_cores: be(cpu_all_cores_fit.as_ref()),
            cpu: self.cpu.clone(),
            cpu_single_fit,
            cpu_all_cores_fit,
            gpu,
        };
        GpuRun {
            id: self.id.clone(),
            status,
            started_at: self.started_at,
            finished_at: (status != GpuRunStatus::Running).then(Utc::now),
            config: self.config.clone(),
            machine: self.machine.clone(),
            transfers: self.transfers.clone(),
            blur: Some(blur),
            gpu_skipped: self.gpu_skipped.clone(),
            error: self.error.clone(),
        }
    }
}

/// The GPU part of a run, when the plan has one: the transfer sweep, then the GPU blur
/// when NVRTC can build its kernel. A failure is kept in `acc.error` and ends the GPU
/// part; the CPU baseline still runs after it.
fn gpu_part(
    acc: &mut Partial,
    plan: &GpuPlan,
    image: &[f32],
    weights: &[f32],
    cancel: &AtomicBool,
    steps: &mut Steps<'_>,
    checkpoint: &mut dyn FnMut(&GpuRun),
) {
    let GpuPlan::Run {
        device_name,
        blur_needs,
    } = plan
    else {
        return;
    };
    let stopping = || cancel.load(Ordering::Relaxed);
    if !stopping() {
        let result = backend::transfers(
            acc.config.device,
            &acc.config.transfer_sizes,
            acc.config.repetitions,
            cancel,
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
        );
        match result {
            Ok(mut points) => {
                points.sort_by_key(|p| (p.direction as u8, p.memory as u8, p.bytes));
                let status = status_blocking(None);
                let dev = status.devices.get(acc.config.device as usize);
                acc.transfers = Some(TransferResult {
                    points,
                    convention: TRANSFER_CONVENTION.into(),
                    pcie_limit_gbps: dev
                        .and_then(|d| d.pcie.as_ref())
                        .and_then(|p| p.theoretical_gbps),
                    memory_limit_gbps: dev.and_then(|d| d.theoretical_memory_bandwidth_gbps),
                });
            }
            // A cancelled sweep ends with an error too; the status says why.
            Err(_) if stopping() => {}
            Err(e) => acc.error = Some(format!("GPU transfers on {device_name} failed: {e}")),
        }
        checkpoint(&acc.record(GpuRunStatus::Running));
    }
    if acc.error.is_none() && blur_needs.is_none() && !stopping() {
        match backend::blur(
            acc.config.device,
            image,
            acc.config.image_side,
            weights,
            &acc.config.ns,
            acc.config.repetitions,
            cancel,
            &mut |n| steps.tick(GpuBenchPhase::GpuBlur, format!("GPU blur: N = {n}")),
        ) {
            Ok(r) => acc.gpu = Some(r),
            Err(_) if stopping() => {}
            Err(e) => acc.error = Some(format!("GPU blur on {device_name} failed: {e}")),
        }
        checkpoint(&acc.record(GpuRunStatus::Running));
    }
}

/// The CPU baseline: every N single-threaded, then on all cores, and the comparison of
/// the largest N's output with the GPU's when both ran to the end.
fn cpu_part(
    acc: &mut Partial,
    image: &[f32],
    weights: &[f32],
    cancel: &AtomicBool,
    steps: &mut Steps<'_>,
    checkpoint: &mut dyn FnMut(&GpuRun),
) {
    let stopping = || cancel.load(Ordering::Relaxed);
    let (side, threads) = (acc.config.image_side as usize, acc.threads);
    // One set of buffers for every N and both phases.
    let reps = acc.config.cpu_repetitions();
    let mut chain = cpu::Chain::new(image, side, side);
    for i in 0..acc.cpu.len() {
        let n = acc.cpu[i].n;
        let Ok(t) = time_cpu(reps, &mut chain, image, |c| c.run(n, weights, 1, cancel)) else {
            break;
        };
        acc.cpu[i].single_thread_ms = t;
        steps.tick(
            GpuBenchPhase::CpuSingle,
            format!("CPU, one thread: N = {n} in {t:.1} ms"),
        );
    }
    if !stopping() {
        checkpoint(&acc.record(GpuRunStatus::Running));
    }
    let mut all_done = !stopping();
    for i in 0..acc.cpu.len() {
        let n = acc.cpu[i].n;
        let Ok(t) = time_cpu(reps, &mut chain, image, |c| {
            c.run(n, weights, threads, cancel)
        }) else {
            all_done = false;
            break;
        };
        acc.cpu[i].all_cores_ms = t;
        steps.tick(
            GpuBenchPhase::CpuAllCores,
            format!("CPU, {threads} threads: N = {n} in {t:.1} ms"),
        );
    }

    // `ns` is sorted: the chain now holds the largest N's output, as does the GPU's.
    if let (true, Some(g), Some(&n)) = (all_done, acc.gpu.as_mut(), acc.config.ns.last()) {
        let d = cpu::max_abs_diff(&g.output, chain.output());
        acc.agreement = Some(OutputAgreement {
            n,
            max_abs_diff: d,
            tolerance: AGREEMENT_TOLERANCE,
            pass: d <= AGREEMENT_TOLERANCE,
        });
        g.output = Vec::new();
    }
}

/// The sentence a cancelled run carries.
pub const CANCELLED: &str =
    "cancelled before the run finished; the figures measured until then are kept";

/// Runs the benchmark; never panics on a machine without a GPU. The returned run is
/// `Completed` (GPU part possibly skipped, see `gpu_skipped`), `Failed` (`error`), or
/// `Cancelled` when `cancel` was set: every loop, down to bands of rows on the CPU and
/// single copies and blurs on the GPU, looks at it, so the call returns within about a
/// second. `checkpoint` gets the record so far (status `Running`) as each phase ends.
pub fn run(
    id: String,
    config: GpuBenchConfig,
    machine: MachineIdentity,
    plan: GpuPlan,
    cancel: &AtomicBool,
    progress: ProgressFn<'_>,
    checkpoint: &mut dyn FnMut(&GpuRun),
) -> GpuRun {
    let stopping = || cancel.load(Ordering::Relaxed);
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
    let mut acc = Partial {
        id,
        cpu: config
            .ns
            .iter()
            .map(|&n| CpuBlurPoint {
                n,
                single_thread_ms: f64::NAN,
                all_cores_ms: f64::NAN,
            })
            .collect(),
        config,
        machine,
        started_at: Utc::now(),
        threads,
        transfers: None,
        gpu: None,
        agreement: None,
        gpu_skipped: match &plan {
            GpuPlan::Skip(why) => Some(why.clone()),
            GpuPlan::Run { blur_needs, .. } => blur_needs.clone(),
        },
        error: None,
    };
    steps.tick(GpuBenchPhase::Starting, "preparing the test image".into());
    let side = acc.config.image_side as usize;
    let image = cpu::test_image(side, side);
    let weights = cpu::gaussian_weights(BLUR_RADIUS, BLUR_SIGMA);

    gpu_part(
        &mut acc, &plan, &image, &weights, cancel, &mut steps, checkpoint,
    );
    // The CPU baseline runs in every case: it is the half of the answer a machine
    // without a GPU can still give.
    cpu_part(&mut acc, &image, &weights, cancel, &mut steps, checkpoint);
    steps.tick(
        GpuBenchPhase::Comparing,
        "fitting lines and comparing outputs".into(),
    );
    if let Some(a) = &acc.agreement {
        if !a.pass && acc.error.is_none() {
            acc.error = Some(format!(
                "GPU and CPU outputs differ by up to {:.3e} (tolerance {:.0e}) after {} blurs",
                a.max_abs_diff, a.tolerance, a.n
            ));
        }
    }
    let status = if stopping() {
        acc.error = Some(CANCELLED.into());
        GpuRunStatus::Cancelled
    } else if acc.error.is_some() {
        GpuRunStatus::Failed
    } else {
        GpuRunStatus::Completed
    };
    acc.record(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::plan::machine_identity;
    use crate::gpu::text::render_text;
    use vantage_shared::gpu::GpuBenchOptions;

    /// A small run with the GPU part skipped: the CPU baseline is complete, the record
    /// goes through the store and survives a reopen, and an interrupted one is marked.
    #[tokio::test]
    async fn cpu_only_run_is_stored_and_survives_restart() {
        let config = GpuBenchOptions {
            image_side: Some(64),
            ns: Some(vec![1, 2, 3]),
            repetitions: Some(1),
            ..Default::default()
        }
        .resolve()
        .expect("valid options");
        let status = status_blocking(None);
        let machine = machine_identity(&status, 0, "test-host");
        let mut events = Vec::new();
        let mut checkpoints = Vec::new();
        let run = run(
            "gpu-test-1".into(),
            config,
            machine,
            GpuPlan::Skip("no NVIDIA driver found (libcuda.so.1 not loadable)".into()),
            &AtomicBool::new(false),
            &mut |p| events.push(p),
            &mut |partial| checkpoints.push(partial.status),
        );
        assert_eq!(run.status, GpuRunStatus::Completed, "{:?}", run.error);
        let blur = run.blur.as_ref().expect("CPU baseline");
        assert_eq!(blur.cpu.len(), 3);
        assert!(blur
            .cpu
            .iter()
            .all(|p| p.single_thread_ms > 0.0 && p.all_cores_ms > 0.0));
        assert!(blur.cpu_single_fit.is_some() && blur.gpu.is_none());
        assert!(blur.break_even_all_cores.is_none(), "no N* without the GPU");
        assert!(render_text(&run).contains("GPU part skipped: no NVIDIA driver found"));
        let last = events.last().expect("progress events");
        assert_eq!((last.done, last.total), (last.total, 1 + 2 * 3 + 1));
        // Without a GPU part: one record so far, after the single-threaded phase.
        assert_eq!(checkpoints, vec![GpuRunStatus::Running]);

        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = crate::store::Store::open(dir.path()).expect("open");
            store.save_gpu_run(&run).await.expect("save");
            let mut running = run.clone();
            running.id = "gpu-test-2".into();
            running.status = GpuRunStatus::Running;
            running.started_at += chrono::Duration::seconds(1);
            store.save_gpu_run(&running).await.expect("save running");
        }
        let store = crate::store::Store::open(dir.path()).expect("reopen");
        assert_eq!(store.interrupt_gpu_runs().await.expect("interrupt"), 1);
        let list = store.gpu_runs(10).await.expect("list");
        assert_eq!(
            list.iter()
                .map(|r| (r.id.as_str(), r.status))
                .collect::<Vec<_>>(),
            vec![
                ("gpu-test-2", GpuRunStatus::Interrupted),
                ("gpu-test-1", GpuRunStatus::Completed)
            ]
        );
        // serde_json may round the last bit of an f64: compare what matters exactly,
        // timings to 1e-12.
        let back = store
            .gpu_run("gpu-test-1".into())
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(
            (&back.config, &back.machine, &back.gpu_skipped),
            (&run.config, &run.machine, &run.gpu_skipped)
        );
        let times = |r: &GpuRun| -> Vec<f64> {
            r.blur
                .iter()
                .flat_map(|b| b.cpu.iter().map(|p| p.single_thread_ms))
                .collect()
        };
        assert_eq!(times(&back).len(), 3);
        for (a, b) in times(&back).iter().zip(times(&run)) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
        }
        assert_eq!(store.gpu_run("nope".into()).await.expect("get"), None);
    }
}
