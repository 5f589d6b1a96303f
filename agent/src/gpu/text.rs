//! A run as text for a terminal: its tables as `vantage bench gpu` prints them.

use std::fmt::Write;

use vantage_shared::duration::bench_ms_plain;
use vantage_shared::gpu::{
    BlurResult, BreakEven, GpuBlurPoint, GpuRun, HostMemory, LineFit, TransferDirection,
    TransferResult,
};
use vantage_shared::size::human_bytes;

/// The run as a person reads it in a terminal.
pub fn render_text(run: &GpuRun) -> String {
    let mut o = String::new();
    write_machine(&mut o, run);
    if let Some(t) = &run.transfers {
        write_transfers(&mut o, &run.config.transfer_sizes, t);
    }
    if let Some(b) = &run.blur {
        write_blur(&mut o, b);
    }
    if let Some(e) = &run.error {
        let _ = writeln!(o, "\nError: {e}");
    }
    o
}

/// Where the run was measured, and its GPU or why the GPU part was skipped.
fn write_machine(o: &mut String, run: &GpuRun) {
    let m = &run.machine;
    let _ = writeln!(
        o,
        "GPU benchmark {} on {} ({}, {} CPU threads)",
        run.id,
        m.hostname,
        m.cpu_model.as_deref().unwrap_or("unknown CPU"),
        m.cpu_cores
    );
    match (&m.gpu, &run.gpu_skipped) {
        (_, Some(why)) => {
            let _ = writeln!(o, "GPU part skipped: {why}");
        }
        (Some(g), None) => {
            let _ = writeln!(
                o,
                "GPU: {g} (CUDA_ARCH_BIN {}), driver {}, CUDA {}",
                m.cuda_arch_bin.as_deref().unwrap_or("?"),
                m.driver_version.as_deref().unwrap_or("?"),
                m.cuda_driver_version.as_deref().unwrap_or("?")
            );
        }
        (None, None) => {}
    }
}

/// The transfer table: best GB/s per size and kind of copy.
fn write_transfers(o: &mut String, sizes: &[u64], t: &TransferResult) {
    let _ = writeln!(
        o,
        "\nTransfers, best GB/s (GB = 1e9 bytes; bytes counted once, d2d too). PCIe limit {}, memory {}",
        t.pcie_limit_gbps.map(|v| format!("{v:.1} GB/s")).unwrap_or_else(|| "unknown".into()),
        t.memory_limit_gbps.map(|v| format!("{v:.0} GB/s")).unwrap_or_else(|| "unknown".into()),
    );
    let cols = [
        (
            TransferDirection::HostToDevice,
            HostMemory::Pageable,
            "h2d pageable",
        ),
        (
            TransferDirection::HostToDevice,
            HostMemory::Pinned,
            "h2d pinned",
        ),
        (
            TransferDirection::DeviceToHost,
            HostMemory::Pageable,
            "d2h pageable",
        ),
        (
            TransferDirection::DeviceToHost,
            HostMemory::Pinned,
            "d2h pinned",
        ),
        (TransferDirection::DeviceToDevice, HostMemory::None, "d2d"),
    ];
    let _ = write!(o, "{:>10}", "size");
    for (_, _, name) in cols {
        let _ = write!(o, " {name:>13}");
    }
    let _ = writeln!(o);
    for &size in sizes {
        let _ = write!(o, "{:>10}", human_bytes(size));
        for (dir, mem, _) in cols {
            let v = t
                .points
                .iter()
                .find(|p| p.bytes == size && p.direction == dir && p.memory == mem)
                .map(|p| format!("{:.2}", p.best_gbps))
                .unwrap_or_else(|| "-".into());
            let _ = write!(o, " {v:>13}");
        }
        let _ = writeln!(o);
    }
}

/// The blur table (ms per N on CPU and GPU), the per-blur slopes, the GPU's fixed
/// costs, the output comparison and the break-even sentences.
fn write_blur(o: &mut String, b: &BlurResult) {
    let _ = writeln!(
        o,
        "\nBlur {}x{}, {}x{} Gaussian (sigma {:.2}), chained N times, ms",
        b.width, b.height, b.kernel_size, b.kernel_size, b.sigma
    );
    let _ = writeln!(
        o,
        "{:>4} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "N",
        "CPU 1 thr",
        format!("CPU {} thr", b.cpu_threads),
        "GPU up",
        "GPU kern",
        "GPU down",
        "GPU total"
    );
    for c in &b.cpu {
        let g = b
            .gpu
            .as_ref()
            .and_then(|g| g.points.iter().find(|p| p.n == c.n));
        let gf = |f: fn(&GpuBlurPoint) -> f64| {
            g.map(|p| bench_ms_plain(f(p)))
                .unwrap_or_else(|| "-".into())
        };
        let _ = writeln!(
            o,
            "{:>4} {:>12} {:>12} {:>10} {:>10} {:>10} {:>10}",
            c.n,
            bench_ms_plain(c.single_thread_ms),
            bench_ms_plain(c.all_cores_ms),
            gf(|p| p.upload_ms),
            gf(|p| p.kernels_ms),
            gf(|p| p.download_ms),
            gf(|p| p.total_ms)
        );
    }
    let per = |f: &Option<LineFit>| {
        f.as_ref()
            .map(|f| format!("{:.2} ms/blur", f.slope))
            .unwrap_or_else(|| "-".into())
    };
    let _ = writeln!(
        o,
        "Per blur (least-squares slope): CPU 1 thread {}, CPU {} threads {}",
        per(&b.cpu_single_fit),
        b.cpu_threads,
        per(&b.cpu_all_cores_fit)
    );
    if let Some(g) = &b.gpu {
        let _ = writeln!(
            o,
            "GPU kernels {}, upload + download {:.2} ms; cold first run: compile {:.1} ms, module load {:.1} ms, setup {:.1} ms, N={} total {:.2} ms ({})",
            per(&g.kernels_fit),
            g.transfer_ms,
            g.cold.compile_ms,
            g.cold.module_load_ms,
            g.cold.setup_ms,
            g.cold.n,
            g.cold.upload_ms + g.cold.kernels_ms + g.cold.download_ms,
            g.kernel_build
        );
        if let Some(a) = &g.agreement {
            let _ = writeln!(
                o,
                "Output agreement at N={}: max |GPU - CPU| = {:.2e} (tolerance {:.0e}): {}",
                a.n,
                a.max_abs_diff,
                a.tolerance,
                if a.pass { "pass" } else { "FAIL" }
            );
        }
    }
    let sentence = |be: &Option<BreakEven>| be.as_ref().map(|b| b.sentence("blur"));
    match (
        sentence(&b.break_even_all_cores),
        sentence(&b.break_even_single),
    ) {
        (Some(all), Some(single)) => {
            let _ = writeln!(
                o,
                "\nAgainst all {} CPU threads: {all}\nAgainst one CPU thread: {single}",
                b.cpu_threads
            );
        }
        _ => {
            let _ = writeln!(o, "\nBreak-even N*: needs the GPU part.");
        }
    }
}
