//! The only code that touches CUDA (cudarc): driver and NVRTC presence, device
//! identity, the transfer sweep, compiling the blur kernel at run time and the timed
//! GPU blur. Everything else in the agent sees our own types and `Result<_, String>`.
//!
//! cudarc loads `libcuda.so.1` and `libnvrtc.so.12` lazily (feature `dynamic-loading`)
//! and *panics* if a call needs a library that is not there, so every entry point
//! checks `is_culib_present()` first (docs/development.md).
//!
//! Unsafe code is allowed in this module and its files only: kernel launches, pinned
//! allocations and the raw NVRTC/driver calls cudarc exposes as `unsafe fn`. Each block
//! says why it holds.
//!
//! - `driver`: `libcuda.so.1`, `cuInit`, the CUDA version and the devices;
//! - `nvrtc`: NVRTC, the blur kernel's source and compiling it;
//! - `stream`: the context and stream a run uses, timing events, cancellation;
//! - `transfers`: the copy sweep; `blur`: the timed GPU blur.

#![allow(unsafe_code)]

mod blur;
mod driver;
mod nvrtc;
mod stream;
mod transfers;

pub use blur::blur;
pub use driver::{devices, driver_cuda_version, driver_present, init};
pub use nvrtc::nvrtc_version;
pub use transfers::transfers;

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// Branches on `cuInit` itself, not on the library loading: a machine with
    /// libcuda.so.1 whose driver does not initialise (no device node in a container, a
    /// kernel module mismatch) must report that error, not fail this test.
    #[test]
    fn no_usable_driver_is_an_error_not_a_panic() {
        match init() {
            Ok(()) => {
                let v = driver_cuda_version().expect("CUDA driver version");
                assert!(v.contains('.'), "{v}");
                devices().expect("devices");
            }
            Err(reason) => {
                if driver_present() {
                    assert!(
                        reason.starts_with(
                            "the NVIDIA driver is installed but cuInit failed: CUDA_ERROR_"
                        ),
                        "{reason}"
                    );
                } else {
                    assert_eq!(reason, "no NVIDIA driver found (libcuda.so.1 not loadable)");
                }
                assert_eq!(driver_cuda_version().expect_err("no driver"), reason);
                assert_eq!(devices().expect_err("no driver"), reason);
                let go = AtomicBool::new(false);
                let e = transfers(0, &[4096], 1, &go, |_| {}).expect_err("no driver");
                assert_eq!(e, reason);
                let e = blur(0, &[0.0; 64 * 64], 64, &[1.0], &[1], 1, &go, |_| {})
                    .err()
                    .expect("no driver");
                assert_eq!(e, reason);
            }
        }
    }
}
