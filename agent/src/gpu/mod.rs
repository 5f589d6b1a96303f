//! GPU (docs/incidents.md, "Is the GPU worth it here?"): the GPU's identity and
//! versions, which containers can use it, and benchmark runs (transfers, a chained blur
//! on GPU and CPU, the break-even N*), as API routes, a background task with progress
//! events, and `vantage bench gpu`.
//!
//! `backend` alone touches CUDA and NVML, and is the one place the `gpu` cargo feature
//! is looked at. Its libraries load at run time, so the agent starts and answers on a
//! machine without a driver, reporting "unavailable, because …". Built without the
//! `gpu` feature, the same routes answer with the CPU baseline only.
//!
//! - `slot`: one run at a time, cancelling, waiting until idle;
//! - `status`: the `GET /api/gpu` answer; `plan`: deciding a run before it starts;
//! - `bench`: one run from start to end (blocking); `cpu`: the CPU blur;
//! - `routes` and `task`: the HTTP API and its background runs;
//! - `cli` and `text`: `vantage bench gpu` and its terminal output.

mod backend;
mod bench;
mod cli;
pub mod cpu;
mod plan;
mod routes;
mod slot;
mod status;
mod task;
mod text;

pub use backend::{driver_init, driver_present, GpuBlurRun};
pub use cli::bench_cli;
pub use plan::{check_memory, machine_identity, prepare, GpuPlan};
pub use routes::{routes, HISTORY_LIMIT};
pub use slot::Gpu;
pub use status::status_blocking;
pub use text::render_text;
