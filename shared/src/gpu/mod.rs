//! GPU page types (docs/incidents.md, "Is the GPU worth it here?"): the GPU's identity
//! and versions, which containers can use it, and benchmark runs that show when the GPU
//! pays off (transfers, a chained blur on GPU and CPU, the break-even N*). Pure data and
//! arithmetic; the agent's `gpu` module does the measuring.
//!
//! Units: bandwidth in GB/s with **1 GB = 10⁹ bytes** (as NVIDIA's `bandwidthTest` and
//! `nvbandwidth` print it); blur timings in milliseconds; transfer timings in seconds.
//!
//! Every type is reachable as `vantage_shared::gpu::Name`, whichever file holds it:
//! `status` (what `GET /api/gpu` reports), `options` (what a run may be asked to do),
//! `run` (what a run measured), `docker` (containers' GPU access), `math` (fits, N*,
//! bandwidth limits).

pub mod docker;
pub mod math;
mod options;
mod run;
mod status;

pub use docker::{
    classify_container, engine_support, ContainerGpuFields, EngineGpuFields, EngineGpuSupport,
    GpuAccess, GpuAccessKind,
};
pub use math::{break_even, fit_line, BreakEven, FitError, LineFit};
pub use options::*;
pub use run::*;
pub use status::*;
