//! The CUDA context and the one stream a run's work goes to, the timing events around
//! that work, and the cancel check every GPU loop makes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cudarc::driver::result as dres;
use cudarc::driver::sys as dsys;
use cudarc::driver::{CudaContext, CudaEvent, CudaStream};

use super::driver::{derr, init};

pub(super) fn timing_event(ctx: &Arc<CudaContext>) -> Result<CudaEvent, String> {
    // cudarc's default (`None`) disables timing; elapsed_ms would then fail.
    ctx.new_event(Some(dsys::CUevent_flags::CU_EVENT_DEFAULT))
        .map_err(derr)
}

pub(super) fn ms(start: &CudaEvent, end: &CudaEvent) -> Result<f64, String> {
    start.elapsed_ms(end).map(f64::from).map_err(derr)
}

/// A context on `device` and the one stream all the benchmark's work goes to.
pub(super) fn context(device: u32) -> Result<(Arc<CudaContext>, Arc<CudaStream>), String> {
    init()?;
    let count = dres::device::get_count().map_err(derr)?;
    if device as i32 >= count {
        return Err(format!(
            "there is no CUDA device {device} (this machine has {count})"
        ));
    }
    let ctx = CudaContext::new(device as usize).map_err(derr)?;
    // With event tracking on (cudarc's default), a context that has a `new_stream` is in
    // multi-stream mode: every copy and launch then adds cuStreamWaitEvent and
    // cuEventRecord calls on the buffers' events, between our timing events.
    // SAFETY: `disable_event_tracking` asks us to order work across streams ourselves.
    // There is one stream, created next: every buffer below is allocated, used and freed
    // on it (and freeing is stream-ordered), so no use can overlap another stream's.
    // What cudarc's events also did for us: pinned buffers no longer wait for pending
    // copies in `as_slice`/`as_mut_ptr`, so the host touches them only after a
    // `sync` (see `transfers` and `blur`). Called before any allocation, as the flag
    // applies to buffers created after it.
    unsafe { ctx.disable_event_tracking() };
    let stream = ctx.new_stream().map_err(derr)?;
    Ok((ctx, stream))
}

/// Waits for the stream, then reports an error cudarc stored instead of returning it
/// (from a `Drop`, or a wait it issued on our behalf).
pub(super) fn sync(ctx: &CudaContext, stream: &CudaStream) -> Result<(), String> {
    stream.synchronize().map_err(derr)?;
    ctx.check_err().map_err(derr)
}

/// The error a GPU loop returns when the run is cancelled; the caller reports the
/// cancellation, not this.
const CANCELLED: &str = "cancelled";

pub(super) fn check_cancel(cancel: &AtomicBool) -> Result<(), String> {
    if cancel.load(Ordering::Relaxed) {
        Err(CANCELLED.into())
    } else {
        Ok(())
    }
}
