//! The transfer sweep: host to device and back from pageable and pinned memory, and
//! device to device, timed for each size.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use cudarc::driver::{CudaContext, CudaSlice, CudaStream};
use vantage_shared::gpu::math::{gbps, median};
use vantage_shared::gpu::{HostMemory, TransferDirection, TransferPoint};

use super::driver::derr;
use super::stream::{check_cancel, context, ms, sync, timing_event};

/// Pinned (page-locked) host memory that is *not* write-combined: cudarc's
/// `alloc_pinned` asks for write-combined memory, which uploads fine but makes every CPU
/// read of downloaded data crawl. Flags 0 is what `bandwidthTest` uses by default.
fn pinned(
    ctx: &Arc<CudaContext>,
    len: usize,
    fill: u8,
) -> Result<cudarc::driver::PinnedHostSlice<u8>, String> {
    // SAFETY: `alloc_pinned_with_flags` leaves the memory uninitialised; it is written
    // right below, through a raw pointer (no reference to uninitialised bytes), before
    // anything reads it.
    let mut buf = unsafe { ctx.alloc_pinned_with_flags::<u8>(len, 0) }.map_err(derr)?;
    let ptr = buf.as_mut_ptr().map_err(derr)?;
    // SAFETY: `ptr` points to `len` bytes owned by `buf`, not yet used by any copy.
    unsafe { std::ptr::write_bytes(ptr, fill, len) };
    Ok(buf)
}

/// Host→device, device→host (pageable and pinned) and device→device for each size:
/// one warm-up copy, then `reps` timed copies. `progress` is told after each point.
/// Looks at `cancel` before every copy (a 1 GiB pageable copy takes a fraction of a
/// second) and returns `Err` when it is set.
pub fn transfers(
    device: u32,
    sizes: &[u64],
    reps: u32,
    cancel: &AtomicBool,
    mut progress: impl FnMut(&TransferPoint),
) -> Result<Vec<TransferPoint>, String> {
    let (ctx, stream) = context(device)?;
    let mut points = Vec::new();
    for &bytes in sizes {
        check_cancel(cancel)?;
        let len = usize::try_from(bytes).map_err(|_| "transfer size too large".to_owned())?;
        let mut dev_a: CudaSlice<u8> = stream.alloc_zeros(len).map_err(derr)?;
        let mut dev_b: CudaSlice<u8> = stream.alloc_zeros(len).map_err(derr)?;
        let mut pageable = vec![7u8; len];
        let mut pin = pinned(&ctx, len, 7)?;

        // Pageable: host clock around a copy and a synchronize, as bandwidthTest does,
        // because the driver's staging through its own pinned buffer happens on the host.
        for dir in [
            TransferDirection::HostToDevice,
            TransferDirection::DeviceToHost,
        ] {
            let mut times = Vec::new();
            for rep in 0..=reps {
                check_cancel(cancel)?;
                let t = Instant::now();
                match dir {
                    TransferDirection::HostToDevice => stream.memcpy_htod(&pageable, &mut dev_a),
                    _ => stream.memcpy_dtoh(&dev_a, &mut pageable),
                }
                .map_err(derr)?;
                sync(&ctx, &stream)?;
                if rep > 0 {
                    times.push(t.elapsed().as_secs_f64());
                }
            }
            let p = point(dir, HostMemory::Pageable, bytes, &times);
            progress(&p);
            points.push(p);
        }

        // Pinned and d2d: CUDA events around each copy, all queued, read after one sync.
        for (dir, memory) in [
            (TransferDirection::HostToDevice, HostMemory::Pinned),
            (TransferDirection::DeviceToHost, HostMemory::Pinned),
            (TransferDirection::DeviceToDevice, HostMemory::None),
        ] {
            let mut copy = |stream: &Arc<CudaStream>| match dir {
                TransferDirection::HostToDevice => stream.memcpy_htod(&pin, &mut dev_a),
                TransferDirection::DeviceToHost => stream.memcpy_dtoh(&dev_a, &mut pin),
                TransferDirection::DeviceToDevice => stream.memcpy_dtod(&dev_a, &mut dev_b),
            };
            copy(&stream).map_err(derr)?;
            let mut pairs = Vec::new();
            for _ in 0..reps {
                // Queued copies are not looked at again: `reps` (≤ 50) copies of 1 GiB
                // pinned take a few seconds at worst, so wait for those already queued.
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let (start, end) = (timing_event(&ctx)?, timing_event(&ctx)?);
                start.record(&stream).map_err(derr)?;
                copy(&stream).map_err(derr)?;
                end.record(&stream).map_err(derr)?;
                pairs.push((start, end));
            }
            sync(&ctx, &stream)?;
            check_cancel(cancel)?;
            let times = pairs
                .iter()
                .map(|(s, e)| ms(s, e).map(|m| m / 1e3))
                .collect::<Result<Vec<_>, _>>()?;
            let p = point(dir, memory, bytes, &times);
            progress(&p);
            points.push(p);
        }
    }
    Ok(points)
}

fn point(
    direction: TransferDirection,
    memory: HostMemory,
    bytes: u64,
    times: &[f64],
) -> TransferPoint {
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let med = median(times).unwrap_or(f64::NAN);
    TransferPoint {
        direction,
        memory,
        bytes,
        repetitions: times.len() as u32,
        best_s: best,
        median_s: med,
        best_gbps: gbps(bytes, best),
        median_gbps: gbps(bytes, med),
    }
}
