//! NVRTC (`libnvrtc.so.12`): whether it loads, its version, the blur kernel's CUDA C++
//! source, and compiling it at run time to a CUBIN for the GPU or to PTX.

use std::ffi::{c_char, c_int, CString};
use std::sync::OnceLock;

use cudarc::nvrtc::result::{self as nres, NvrtcError};
use cudarc::nvrtc::sys as nsys;

/// The NVRTC names cudarc tries (it also takes `.so.10` and `.so.9`, but the kernel
/// options here are CUDA 12's), for messages.
pub const LIBNVRTC: &str = "libnvrtc.so, libnvrtc.so.12 or libnvrtc.so.11";

/// Whether NVRTC can be loaded.
pub fn nvrtc_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: as for the driver (`driver::driver_present`), a `dlopen` probe without
    // preconditions.
    *PRESENT.get_or_init(|| unsafe { nsys::is_culib_present() })
}

fn nerr(e: NvrtcError) -> String {
    format!("{:?}", e.0)
}

/// NVRTC's version, e.g. `12.8`.
pub fn nvrtc_version() -> Result<String, String> {
    if !nvrtc_present() {
        return Err(nvrtc_missing());
    }
    let (mut major, mut minor): (c_int, c_int) = (0, 0);
    // SAFETY: NVRTC is loaded (checked above); both are valid out pointers.
    unsafe { nsys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(nerr)?;
    Ok(format!("{major}.{minor}"))
}

/// What to do when NVRTC is missing.
pub fn nvrtc_missing() -> String {
    format!("NVRTC not found (none of {LIBNVRTC} loadable): install the CUDA toolkit, or `pip install nvidia-cuda-nvrtc-cu12` and add its nvidia/cuda_nvrtc/lib directory to LD_LIBRARY_PATH")
}

/// The blur kernels: one 21-tap pass along rows, one along columns, clamp-to-edge.
/// Taps are summed in the order k = −R … R like the CPU version (`cpu.rs`), and
/// `COMPILE_OPTIONS` keep `acc += w * v` a rounded multiply then a rounded add, as Rust
/// computes it.
pub const BLUR_KERNEL_SRC: &str = r#"
static __device__ __forceinline__ int clamp_index(int v, int hi) {
    return v < 0 ? 0 : (v > hi ? hi : v);
}

extern "C" __global__ void blur_rows(const float* __restrict__ src, float* __restrict__ dst,
                                     const float* __restrict__ w, int width, int height, int radius) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) return;
    const float* row = src + (long long)y * width;
    float acc = 0.0f;
    for (int k = -radius; k <= radius; ++k) {
        acc += w[k + radius] * row[clamp_index(x + k, width - 1)];
    }
    dst[(long long)y * width + x] = acc;
}

extern "C" __global__ void blur_cols(const float* __restrict__ src, float* __restrict__ dst,
                                     const float* __restrict__ w, int width, int height, int radius) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= width || y >= height) return;
    float acc = 0.0f;
    for (int k = -radius; k <= radius; ++k) {
        acc += w[k + radius] * src[(long long)clamp_index(y + k, height - 1) * width + x];
    }
    dst[(long long)y * width + x] = acc;
}
"#;

/// What NVRTC produced.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// PTX text for a virtual architecture; the driver JIT-compiles it at load.
    Ptx(String),
    /// A binary for one real architecture (`sm_90`): no JIT, and it loads on any
    /// driver that knows the architecture, even one older than NVRTC.
    Cubin { arch: String, image: Vec<u8> },
}

/// An NVRTC program, destroyed on drop even when compiling fails.
struct Program(nsys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: created by `create_program` and destroyed only here.
        let _ = unsafe { nres::destroy_program(self.0) };
    }
}

fn program_log(prog: &Program) -> String {
    // SAFETY: `prog.0` is a live program (see `Program`).
    match unsafe { nres::get_program_log(prog.0) } {
        Ok(raw) => {
            let bytes: Vec<u8> = raw
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).trim().to_owned()
        }
        Err(e) => format!("(no log: {})", nerr(e)),
    }
}

/// NVRTC options for every build. `--fmad=false`: NVRTC contracts `a * b + c` into one
/// fused multiply-add (a single rounding) by default, Rust never does; without this
/// the GPU would compute slightly different numbers from the CPU it is compared with.
pub const COMPILE_OPTIONS: [&str; 2] = ["--std=c++14", "--fmad=false"];

/// Compiles CUDA C++ with NVRTC: to a CUBIN for `arch` = (major, minor) when given,
/// else to PTX for NVRTC's default virtual architecture. A compile error comes back
/// with NVRTC's log.
pub fn compile(src: &str, arch: Option<(u32, u32)>) -> Result<Compiled, String> {
    if !nvrtc_present() {
        return Err(nvrtc_missing());
    }
    let c_src = CString::new(src).map_err(|_| "kernel source contains a NUL byte".to_owned())?;
    let name = c"vantage_blur.cu";
    let prog = Program(nres::create_program(&c_src, Some(name)).map_err(nerr)?);
    let mut options: Vec<String> = COMPILE_OPTIONS.iter().map(|&o| o.to_owned()).collect();
    if let Some((major, minor)) = arch {
        options.push(format!("--gpu-architecture=sm_{major}{minor}"));
    }
    // SAFETY: `prog.0` is a live program; the options are plain strings.
    if let Err(e) = unsafe { nres::compile_program(prog.0, &options) } {
        return Err(format!(
            "NVRTC could not compile the kernel ({}):\n{}",
            nerr(e),
            program_log(&prog)
        ));
    }
    match arch {
        Some((major, minor)) => {
            let mut size = 0usize;
            // SAFETY: compiled program, valid out pointer.
            unsafe { nsys::nvrtcGetCUBINSize(prog.0, &mut size) }
                .result()
                .map_err(nerr)?;
            let mut image = vec![0u8; size];
            // SAFETY: `image` holds exactly the `size` bytes NVRTC asked for.
            unsafe { nsys::nvrtcGetCUBIN(prog.0, image.as_mut_ptr().cast::<c_char>()) }
                .result()
                .map_err(nerr)?;
            Ok(Compiled::Cubin {
                arch: format!("sm_{major}{minor}"),
                image,
            })
        }
        None => {
            // SAFETY: compiled program.
            let raw = unsafe { nres::get_ptx(prog.0) }.map_err(nerr)?;
            let bytes: Vec<u8> = raw
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            Ok(Compiled::Ptx(String::from_utf8_lossy(&bytes).into_owned()))
        }
    }
}

/// The PTX's entry names, for the tests.
#[cfg(test)]
fn ptx_entries(ptx: &str) -> Vec<String> {
    ptx.lines()
        .filter_map(|l| l.trim().strip_prefix(".visible .entry "))
        .map(|l| l.split('(').next().unwrap_or_default().trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptx_entries_are_found() {
        let ptx = ".version 8.5\n.target sm_52\n.visible .entry blur_rows(\n\t.param .u64 p0\n)\n.visible .entry blur_cols(\n";
        assert_eq!(ptx_entries(ptx), vec!["blur_rows", "blur_cols"]);
    }
}

/// The tests that compile with the real NVRTC (no GPU needed). They run only with the
/// `nvrtc-tests` cargo feature (scripts/test.sh turns it on), so a plain `cargo test`
/// passes on a machine without NVRTC; with the feature on and NVRTC missing they fail,
/// saying what to install.
#[cfg(all(test, feature = "nvrtc-tests"))]
mod nvrtc_tests {
    use super::*;

    /// NVRTC runs without a GPU; these tests use the real library and fail, saying what
    /// to install, when it is missing (scripts/test.sh installs it and sets the path).
    fn require_nvrtc() {
        assert!(
            nvrtc_present(),
            "{}. scripts/test.sh installs it into .tools/nvrtc-venv and puts it on LD_LIBRARY_PATH",
            nvrtc_missing()
        );
    }

    #[test]
    fn blur_kernel_compiles_to_ptx_with_the_real_nvrtc() {
        require_nvrtc();
        let version = nvrtc_version().expect("NVRTC version");
        assert!(version.starts_with("12."), "{version}");
        match compile(BLUR_KERNEL_SRC, None) {
            Ok(Compiled::Ptx(ptx)) => {
                assert!(ptx.contains(".version"), "not PTX: {ptx}");
                assert_eq!(ptx_entries(&ptx), vec!["blur_rows", "blur_cols"]);
            }
            other => panic!("expected PTX, got {other:?}"),
        }
    }

    #[test]
    fn blur_kernel_compiles_to_cubin_for_real_gpus() {
        require_nvrtc();
        // Ampere consumer (8.6) and Hopper (9.0): what CUDA_ARCH_BIN says on such GPUs.
        for arch in [(8, 6), (9, 0)] {
            match compile(BLUR_KERNEL_SRC, Some(arch)) {
                Ok(Compiled::Cubin { arch: name, image }) => {
                    assert_eq!(name, format!("sm_{}{}", arch.0, arch.1));
                    assert!(image.starts_with(b"\x7fELF"), "a CUBIN is an ELF file");
                }
                other => panic!("expected a CUBIN for {arch:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_kernel_that_does_not_compile_returns_nvrtcs_log() {
        require_nvrtc();
        let broken = "extern \"C\" __global__ void broken(float* x) { x[0] = undeclared_name; }";
        let err = compile(broken, None).expect_err("must not compile");
        assert!(
            err.starts_with("NVRTC could not compile the kernel"),
            "{err}"
        );
        assert!(err.contains("NVRTC_ERROR_COMPILATION"), "{err}");
        assert!(
            err.contains("undeclared_name"),
            "the log names the problem: {err}"
        );
        assert!(
            err.contains("vantage_blur.cu"),
            "the log names the file: {err}"
        );
        let err = compile("__global__ void f( {", None).expect_err("syntax error");
        assert!(err.contains("error"), "{err}");
    }

    #[test]
    fn the_kernel_is_built_without_fused_multiply_adds() {
        require_nvrtc();
        let Ok(Compiled::Ptx(ptx)) = compile(BLUR_KERNEL_SRC, None) else {
            panic!("expected PTX");
        };
        // Each tap is a rounded multiply and a rounded add (`.rn` also tells ptxas not to
        // fuse them), as in Rust; NVRTC's default would emit fma.rn.f32.
        assert!(!ptx.contains("fma.rn.f32"), "{ptx}");
        assert!(
            ptx.contains("mul.rn.f32") && ptx.contains("add.rn.f32"),
            "{ptx}"
        );
        // The check above can fail: the same source without the option does fuse.
        let c_src = CString::new(BLUR_KERNEL_SRC).expect("no NUL");
        let prog = Program(nres::create_program(&c_src, Some(c"fused.cu")).expect("program"));
        // SAFETY: live program, plain options.
        unsafe { nres::compile_program(prog.0, &["--std=c++14"]) }.expect("compiles");
        // SAFETY: compiled program.
        let raw = unsafe { nres::get_ptx(prog.0) }.expect("PTX");
        let fused: String = raw
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8 as char)
            .collect();
        assert!(fused.contains("fma.rn.f32"), "{fused}");
    }
}
