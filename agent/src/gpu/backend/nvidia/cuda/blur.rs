//! The timed GPU blur: the kernel compiled and loaded, a cold first run, then the warm
//! runs per chain length N, each timed by CUDA events around upload, kernels and download.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use cudarc::driver::{
    CudaContext, CudaEvent, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::Ptx;
use vantage_shared::gpu::{GpuBlurPoint, GpuColdRun};

use super::driver::derr;
use super::nvrtc::{compile, Compiled, BLUR_KERNEL_SRC};
use super::stream::{check_cancel, context, ms, sync, timing_event};
use crate::gpu::backend::GpuBlurRun;

/// Runs `n` chained blurs of `image` (already in `pin_in`) and returns
/// (upload, kernels, download) in ms from CUDA events; the result lands in `pin_out`.
#[allow(clippy::too_many_arguments)]
fn blur_once(
    ctx: &Arc<CudaContext>,
    stream: &Arc<CudaStream>,
    kernels: &(CudaFunction, CudaFunction),
    bufs: &mut [CudaSlice<f32>; 3],
    weights: &CudaSlice<f32>,
    pin_in: &cudarc::driver::PinnedHostSlice<f32>,
    pin_out: &mut cudarc::driver::PinnedHostSlice<f32>,
    side: u32,
    n: u32,
) -> Result<(f64, f64, f64), String> {
    let ev: Vec<CudaEvent> = (0..4)
        .map(|_| timing_event(ctx))
        .collect::<Result<_, _>>()?;
    let dim = side as i32;
    let radius = (weights.len() / 2) as i32;
    let cfg = LaunchConfig {
        block_dim: (16, 16, 1),
        grid_dim: (side.div_ceil(16), side.div_ceil(16), 1),
        shared_mem_bytes: 0,
    };
    let [cur, tmp, next] = bufs;
    ev[0].record(stream).map_err(derr)?;
    stream.memcpy_htod(pin_in, cur).map_err(derr)?;
    ev[1].record(stream).map_err(derr)?;
    for _ in 0..n {
        let mut rows = stream.launch_builder(&kernels.0);
        rows.arg(&*cur)
            .arg(&mut *tmp)
            .arg(weights)
            .arg(&dim)
            .arg(&dim)
            .arg(&radius);
        // SAFETY: `blur_rows(const float*, float*, const float*, int, int, int)` matches
        // the six arguments in order; `cur`, `tmp` hold side² floats and the grid covers
        // side × side threads, each guarded by `x < width && y < height`; `weights`
        // holds 2·radius + 1 floats and the kernel reads w[0 ..= 2·radius].
        unsafe { rows.launch(cfg) }.map_err(derr)?;
        let mut cols = stream.launch_builder(&kernels.1);
        cols.arg(&*tmp)
            .arg(&mut *next)
            .arg(weights)
            .arg(&dim)
            .arg(&dim)
            .arg(&radius);
        // SAFETY: as above for `blur_cols`, reading `tmp` and writing `next`.
        unsafe { cols.launch(cfg) }.map_err(derr)?;
        std::mem::swap(cur, next);
    }
    ev[2].record(stream).map_err(derr)?;
    stream.memcpy_dtoh(&*cur, pin_out).map_err(derr)?;
    ev[3].record(stream).map_err(derr)?;
    // Also what makes `pin_out` safe to read on the host (no event tracking, see `context`).
    sync(ctx, stream)?;
    Ok((
        ms(&ev[0], &ev[1])?,
        ms(&ev[1], &ev[2])?,
        ms(&ev[2], &ev[3])?,
    ))
}

/// The blur kernels, loaded, with how they were built and what building them cost.
struct Kernels {
    functions: (CudaFunction, CudaFunction),
    build: String,
    compile_ms: f64,
    module_load_ms: f64,
}

/// Compiles the kernels for this GPU (a CUBIN; PTX when this NVRTC cannot build for its
/// architecture) and loads them into `ctx`.
fn load_kernels(ctx: &Arc<CudaContext>) -> Result<Kernels, String> {
    let (major, minor) = ctx.compute_capability().map_err(derr)?;
    let t_compile = Instant::now();
    let (ptx, kernel_build) = match compile(BLUR_KERNEL_SRC, Some((major as u32, minor as u32))) {
        Ok(Compiled::Cubin { arch, image }) => {
            (Ptx::from_binary(image), format!("CUBIN for {arch} (NVRTC)"))
        }
        Ok(Compiled::Ptx(p)) => (Ptx::from_src(p), "PTX (NVRTC), JIT at load".to_owned()),
        Err(first) => match compile(BLUR_KERNEL_SRC, None)? {
            Compiled::Ptx(p) => (
                Ptx::from_src(p),
                format!(
                    "PTX (NVRTC), JIT at load: this NVRTC cannot build sm_{major}{minor} ({})",
                    first.lines().next().unwrap_or_default()
                ),
            ),
            Compiled::Cubin { image, .. } => (Ptx::from_binary(image), "CUBIN (NVRTC)".to_owned()),
        },
    };
    let compile_ms = t_compile.elapsed().as_secs_f64() * 1e3;
    let t_load = Instant::now();
    let module = ctx.load_module(ptx).map_err(|e| {
        format!(
            "loading the compiled kernel failed: {} (a PTX newer than the driver gives CUDA_ERROR_UNSUPPORTED_PTX_VERSION: update the driver or use an NVRTC no newer than the driver's CUDA version)",
            derr(e)
        )
    })?;
    let kernels = (
        module.load_function("blur_rows").map_err(derr)?,
        module.load_function("blur_cols").map_err(derr)?,
    );
    let module_load_ms = t_load.elapsed().as_secs_f64() * 1e3;
    Ok(Kernels {
        functions: kernels,
        build: kernel_build,
        compile_ms,
        module_load_ms,
    })
}

/// The GPU half of the blur experiment: compile (CUBIN for this GPU, PTX if NVRTC does
/// not know it), load, a cold first run, then `reps` warm runs per N (median by total).
/// Upload and download go from and to pinned, non-write-combined host memory. Looks at
/// `cancel` before every run (one run is at most 64 chained blurs: a fraction of a
/// second on current GPUs, a few seconds on the smallest).
#[allow(clippy::too_many_arguments)]
pub fn blur(
    device: u32,
    image: &[f32],
    side: u32,
    weights: &[f32],
    ns: &[u32],
    reps: u32,
    cancel: &AtomicBool,
    mut progress: impl FnMut(u32),
) -> Result<GpuBlurRun, String> {
    let t_setup = Instant::now();
    let (ctx, stream) = context(device)?;
    let len = image.len();
    let mut bufs = [
        stream.alloc_zeros::<f32>(len).map_err(derr)?,
        stream.alloc_zeros::<f32>(len).map_err(derr)?,
        stream.alloc_zeros::<f32>(len).map_err(derr)?,
    ];
    let d_weights = stream.clone_htod(weights).map_err(derr)?;
    // SAFETY: the memory is uninitialised; it is written right below through a raw
    // pointer (no reference to uninitialised floats) before anything reads it.
    let mut pin_in = unsafe { ctx.alloc_pinned_with_flags::<f32>(len, 0) }.map_err(derr)?;
    let ptr = pin_in.as_mut_ptr().map_err(derr)?;
    // SAFETY: `ptr` holds `len` f32 owned by `pin_in`, `image` holds `len` f32, they do
    // not overlap, and no copy uses `pin_in` yet.
    unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), ptr, len) };
    // SAFETY: as for `pin_in`; zeroed through the pointer before use.
    let mut pin_out = unsafe { ctx.alloc_pinned_with_flags::<f32>(len, 0) }.map_err(derr)?;
    let ptr = pin_out.as_mut_ptr().map_err(derr)?;
    // SAFETY: `ptr` holds `len` f32 owned by `pin_out`; all-zero bytes are 0.0f32.
    unsafe { std::ptr::write_bytes(ptr, 0, len) };
    sync(&ctx, &stream)?;
    let setup_ms = t_setup.elapsed().as_secs_f64() * 1e3;

    let Kernels {
        functions: kernels,
        build: kernel_build,
        compile_ms,
        module_load_ms,
    } = load_kernels(&ctx)?;

    let first_n = ns.first().copied().unwrap_or(1);
    check_cancel(cancel)?;
    let (u, k, d) = blur_once(
        &ctx,
        &stream,
        &kernels,
        &mut bufs,
        &d_weights,
        &pin_in,
        &mut pin_out,
        side,
        first_n,
    )?;
    let cold = GpuColdRun {
        compile_ms,
        module_load_ms,
        setup_ms,
        n: first_n,
        upload_ms: u,
        kernels_ms: k,
        download_ms: d,
    };

    let mut points = Vec::new();
    for &n in ns {
        let mut runs = Vec::new();
        for _ in 0..reps.max(1) {
            check_cancel(cancel)?;
            let (upload_ms, kernels_ms, download_ms) = blur_once(
                &ctx,
                &stream,
                &kernels,
                &mut bufs,
                &d_weights,
                &pin_in,
                &mut pin_out,
                side,
                n,
            )?;
            runs.push(GpuBlurPoint {
                n,
                upload_ms,
                kernels_ms,
                download_ms,
                total_ms: upload_ms + kernels_ms + download_ms,
            });
        }
        runs.sort_by(|a, b| a.total_ms.total_cmp(&b.total_ms));
        if let Some(mid) = runs.get(runs.len() / 2) {
            points.push(mid.clone());
        }
        progress(n);
    }
    // The last run was the largest N (ns is sorted): its output is in `pin_out`, and
    // `blur_once` synchronised the stream after the download.
    let output = pin_out.as_slice().map_err(derr)?.to_vec();
    let device_name = ctx.name().map_err(derr)?;
    Ok(GpuBlurRun {
        device: device_name,
        kernel_build,
        cold,
        points,
        output,
    })
}
