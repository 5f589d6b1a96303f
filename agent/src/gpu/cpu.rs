//! The CPU side of the blur experiment: the same 21 × 21 Gaussian the GPU kernel
//! computes, single-threaded and on all cores, plus the test image both start from.
//!
//! One blur is the 2-D convolution with the outer product of the 1-D Gaussian `w`,
//! computed as two 21-tap passes (rows, then columns), clamp-to-edge at the borders.
//! Clamping in each pass gives exactly the 2-D clamp-to-edge convolution, so this is the
//! same function as the naive 441-tap form, in a tenth of the work. Every output pixel
//! sums its taps in the order k = −R … R, `acc += w[k] · v`, as the GPU kernel does.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

/// The normalised 1-D Gaussian of `2·radius + 1` taps (computed in f64, stored in f32).
pub fn gaussian_weights(radius: u32, sigma: f64) -> Vec<f32> {
    let r = radius as i64;
    let raw: Vec<f64> = (-r..=r)
        .map(|k| (-((k * k) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|w| (w / sum) as f32).collect()
}

/// A deterministic test image in [0, 1]: a gradient with sharp-edged squares and
/// pseudo-random noise, so that edges, borders and flat areas all matter.
pub fn test_image(width: usize, height: usize) -> Vec<f32> {
    let mut state: u32 = 0x9e37_79b9;
    let mut img = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            // xorshift32: cheap and reproducible, no dependency.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32;
            let gradient = (x + y) as f32 / (width + height) as f32;
            let square = if (x / 32 + y / 32) % 2 == 0 {
                0.25
            } else {
                0.0
            };
            img.push((0.5 * gradient + square + 0.25 * noise).min(1.0));
        }
    }
    img
}

/// Horizontal pass over `rows`: `dst` holds exactly those rows.
fn pass_rows(src: &[f32], dst: &mut [f32], width: usize, rows: Range<usize>, w: &[f32]) {
    let radius = (w.len() / 2) as isize;
    for (out, y) in dst.chunks_exact_mut(width).zip(rows) {
        let row = &src[y * width..(y + 1) * width];
        out.fill(0.0);
        for (k, &wk) in w.iter().enumerate() {
            let shift = k as isize - radius;
            // x + shift stays inside the row for x in [lo, hi); outside it clamps.
            let lo = (-shift).clamp(0, width as isize) as usize;
            let hi = (width as isize - shift).clamp(0, width as isize) as usize;
            for o in &mut out[..lo] {
                *o += wk * row[0];
            }
            if lo < hi {
                let from = (lo as isize + shift) as usize;
                for (o, v) in out[lo..hi].iter_mut().zip(&row[from..from + (hi - lo)]) {
                    *o += wk * v;
                }
            }
            for o in &mut out[hi.max(lo)..] {
                *o += wk * row[width - 1];
            }
        }
    }
}

/// Vertical pass producing `rows` of the output (`dst` holds exactly those rows);
/// reads any row of `src`.
fn pass_cols(
    src: &[f32],
    dst: &mut [f32],
    width: usize,
    height: usize,
    rows: Range<usize>,
    w: &[f32],
) {
    let radius = (w.len() / 2) as isize;
    for (out, y) in dst.chunks_exact_mut(width).zip(rows) {
        out.fill(0.0);
        for (k, &wk) in w.iter().enumerate() {
            let yy = (y as isize + k as isize - radius).clamp(0, height as isize - 1) as usize;
            for (o, v) in out.iter_mut().zip(&src[yy * width..(yy + 1) * width]) {
                *o += wk * v;
            }
        }
    }
}

/// A blur stopped early because the run was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Rows between two looks at the cancel flag: 64 rows of a 4096-wide image are 5.5 M
/// multiply-adds, a few milliseconds, so a cancelled run stops well within a second
/// even at 8192² on one thread, and the flag's cost does not show in the timings.
const CHECK_ROWS: usize = 64;

fn stop(cancel: &AtomicBool) -> Result<(), Cancelled> {
    if cancel.load(Ordering::Relaxed) {
        Err(Cancelled)
    } else {
        Ok(())
    }
}

/// The three working images of a chain, allocated once so that a timing covers the
/// blurs alone: `load` copies the start image in before the clock starts.
pub struct Chain {
    width: usize,
    height: usize,
    cur: Vec<f32>,
    tmp: Vec<f32>,
    next: Vec<f32>,
}

impl Chain {
    /// Buffers for `width` × `height` images, holding `image` (which has that size).
    pub fn new(image: &[f32], width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            cur: image.to_vec(),
            tmp: vec![0.0; image.len()],
            next: vec![0.0; image.len()],
        }
    }

    /// Starts the next chain from `image` (same size as at `new`; no allocation).
    pub fn load(&mut self, image: &[f32]) {
        self.cur.clear();
        self.cur.extend_from_slice(image);
    }

    /// The result of the last `run`.
    pub fn output(&self) -> &[f32] {
        &self.cur
    }

    /// `n` chained blurs on `threads` threads, each owning a band of rows. The column
    /// pass reads rows of the neighbouring bands, so every blur waits for all row passes
    /// first. Looks at `cancel` every `CHECK_ROWS` rows of every band.
    pub fn run(
        &mut self,
        n: u32,
        w: &[f32],
        threads: usize,
        cancel: &AtomicBool,
    ) -> Result<(), Cancelled> {
        let (width, height) = (self.width, self.height);
        let threads = threads.clamp(1, height.max(1));
        let band = height.div_ceil(threads).max(1);
        for _ in 0..n {
            stop(cancel)?;
            let src = &self.cur;
            bands(&mut self.tmp, width, band, |chunk, rows| {
                in_steps(chunk, width, rows, cancel, |c, r| {
                    pass_rows(src, c, width, r, w)
                })
            })?;
            let src = &self.tmp;
            bands(&mut self.next, width, band, |chunk, rows| {
                in_steps(chunk, width, rows, cancel, |c, r| {
                    pass_cols(src, c, width, height, r, w)
                })
            })?;
            std::mem::swap(&mut self.cur, &mut self.next);
        }
        Ok(())
    }
}

/// Runs `f` on each band of `band` rows of `dst`: on this thread when there is one band,
/// else one scoped thread per band.
fn bands<F>(dst: &mut [f32], width: usize, band: usize, f: F) -> Result<(), Cancelled>
where
    F: Fn(&mut [f32], Range<usize>) -> Result<(), Cancelled> + Sync,
{
    let size = (band * width).max(1);
    if dst.len() <= size {
        let rows = dst.len() / width.max(1);
        return f(dst, 0..rows);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = dst
            .chunks_mut(size)
            .enumerate()
            .map(|(i, chunk)| {
                let f = &f;
                s.spawn(move || {
                    let start = i * band;
                    let rows = start..start + chunk.len() / width;
                    f(chunk, rows)
                })
            })
            .collect();
        // A panicking band is a bug: re-raised, it ends the run's blocking task, which
        // the caller records as a failed run.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<Result<Vec<()>, Cancelled>>()
            .map(|_| ())
    })
}

/// Runs `pass` over `rows` in steps of `CHECK_ROWS`, looking at `cancel` before each.
fn in_steps(
    dst: &mut [f32],
    width: usize,
    rows: Range<usize>,
    cancel: &AtomicBool,
    pass: impl Fn(&mut [f32], Range<usize>),
) -> Result<(), Cancelled> {
    for (i, chunk) in dst.chunks_mut((CHECK_ROWS * width).max(1)).enumerate() {
        stop(cancel)?;
        let start = rows.start + i * CHECK_ROWS;
        pass(chunk, start..start + chunk.len() / width.max(1));
    }
    Ok(())
}

/// `n` chained blurs on one thread.
pub fn blur_chain(
    image: &[f32],
    width: usize,
    height: usize,
    n: u32,
    w: &[f32],
    cancel: &AtomicBool,
) -> Result<Vec<f32>, Cancelled> {
    blur_chain_parallel(image, width, height, n, w, 1, cancel)
}

/// `n` chained blurs on `threads` threads (see `Chain::run`).
pub fn blur_chain_parallel(
    image: &[f32],
    width: usize,
    height: usize,
    n: u32,
    w: &[f32],
    threads: usize,
    cancel: &AtomicBool,
) -> Result<Vec<f32>, Cancelled> {
    let mut chain = Chain::new(image, width, height);
    chain.run(n, w, threads, cancel)?;
    Ok(chain.cur)
}

/// Largest |a − b| over two images of the same size (NaN counts as infinitely far).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = (f64::from(*x) - f64::from(*y)).abs();
            if d.is_nan() {
                f64::INFINITY
            } else {
                d
            }
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go() -> AtomicBool {
        AtomicBool::new(false)
    }

    /// The textbook form: every output pixel sums all 441 taps of the 2-D kernel
    /// `w[i]·w[j]` over clamped coordinates, in f64.
    fn naive_2d(img: &[f32], width: usize, height: usize, w: &[f32]) -> Vec<f32> {
        let r = (w.len() / 2) as isize;
        let mut out = vec![0.0f32; img.len()];
        for y in 0..height as isize {
            for x in 0..width as isize {
                let mut acc = 0.0f64;
                for j in -r..=r {
                    for i in -r..=r {
                        let xx = (x + i).clamp(0, width as isize - 1) as usize;
                        let yy = (y + j).clamp(0, height as isize - 1) as usize;
                        acc += f64::from(w[(i + r) as usize])
                            * f64::from(w[(j + r) as usize])
                            * f64::from(img[yy * width + xx]);
                    }
                }
                out[y as usize * width + x as usize] = acc as f32;
            }
        }
        out
    }

    #[test]
    fn weights_are_a_normalised_symmetric_gaussian() {
        let w = gaussian_weights(10, 10.0 / 3.0);
        assert_eq!(w.len(), 21);
        let sum: f64 = w.iter().map(|&v| f64::from(v)).sum();
        assert!((sum - 1.0).abs() < 1e-6, "{sum}");
        for k in 0..10 {
            assert_eq!(w[k], w[20 - k]);
            assert!(w[k] < w[k + 1], "rises towards the centre");
        }
        // The edge tap of a ±3σ kernel is e^(−4.5) of the centre.
        assert!((f64::from(w[0] / w[10]) - (-4.5f64).exp()).abs() < 1e-6);
    }

    #[test]
    fn separable_blur_equals_the_naive_2d_convolution_including_edges() {
        let w = gaussian_weights(10, 10.0 / 3.0);
        // Smaller than the kernel in one direction, non-square, odd: every edge case.
        for (width, height) in [(37, 29), (8, 50), (64, 64), (1, 5)] {
            let img = test_image(width, height);
            let want = naive_2d(&img, width, height, &w);
            let got = blur_chain(&img, width, height, 1, &w, &go()).expect("not cancelled");
            let d = max_abs_diff(&got, &want);
            assert!(d < 2e-6, "{width}x{height}: max diff {d}");
            // Corners are where clamping matters most.
            assert!((got[0] - want[0]).abs() < 2e-6);
            assert!((got[width * height - 1] - want[width * height - 1]).abs() < 2e-6);
        }
    }

    #[test]
    fn chained_blurs_equal_repeated_reference_blurs() {
        let w = gaussian_weights(10, 10.0 / 3.0);
        let (width, height) = (40, 33);
        let img = test_image(width, height);
        let mut want = img.clone();
        for _ in 0..3 {
            want = naive_2d(&want, width, height, &w);
        }
        let got = blur_chain(&img, width, height, 3, &w, &go()).expect("not cancelled");
        assert!(max_abs_diff(&got, &want) < 5e-6);
        // Blurring smooths: the result differs from the input.
        assert!(max_abs_diff(&got, &img) > 0.05);
    }

    #[test]
    fn all_cores_compute_exactly_what_one_core_does() {
        let w = gaussian_weights(10, 10.0 / 3.0);
        let (width, height) = (70, 45);
        let img = test_image(width, height);
        let one = blur_chain(&img, width, height, 4, &w, &go()).expect("not cancelled");
        // More threads than rows per band, uneven bands, a single thread.
        for threads in [1, 2, 3, 7, 64] {
            let many = blur_chain_parallel(&img, width, height, 4, &w, threads, &go())
                .expect("not cancelled");
            assert_eq!(one, many, "{threads} threads must be bit-identical");
        }
    }

    #[test]
    fn a_constant_image_stays_constant() {
        // Normalised weights and clamped borders: no darkening at the edges.
        let w = gaussian_weights(10, 10.0 / 3.0);
        let img = vec![0.75f32; 30 * 20];
        let out = blur_chain(&img, 30, 20, 2, &w, &go()).expect("not cancelled");
        assert!(out.iter().all(|v| (v - 0.75).abs() < 1e-5), "{out:?}");
    }

    #[test]
    fn a_reused_chain_gives_the_same_result_as_a_fresh_one() {
        let w = gaussian_weights(10, 10.0 / 3.0);
        let (width, height) = (50, 40);
        let img = test_image(width, height);
        let mut chain = Chain::new(&img, width, height);
        chain.run(3, &w, 2, &go()).expect("not cancelled");
        let first = chain.output().to_vec();
        // The timed loop reloads the image into the same buffers before every repetition.
        chain.load(&img);
        chain.run(3, &w, 1, &go()).expect("not cancelled");
        assert_eq!(chain.output(), first.as_slice());
        assert_eq!(
            first,
            blur_chain(&img, width, height, 3, &w, &go()).expect("not cancelled")
        );
    }

    #[test]
    fn a_cancelled_chain_stops_within_a_band() {
        let w = gaussian_weights(10, 10.0 / 3.0);
        let img = test_image(64, 64);
        let cancelled = AtomicBool::new(true);
        assert_eq!(blur_chain(&img, 64, 64, 1, &w, &cancelled), Err(Cancelled));
        // Set while a long chain runs (1024², N = 1000 takes minutes in a debug build):
        // both the one-thread and the banded form return soon after.
        let (side, n) = (1024, 1000);
        let img = test_image(side, side);
        for threads in [1, 3] {
            let flag = AtomicBool::new(false);
            let (result, set_at, returned_at) = std::thread::scope(|s| {
                let setter = s.spawn(|| {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    flag.store(true, Ordering::Relaxed);
                    std::time::Instant::now()
                });
                let r = blur_chain_parallel(&img, side, side, n, &w, threads, &flag);
                let returned_at = std::time::Instant::now();
                (r, setter.join().expect("setter"), returned_at)
            });
            assert_eq!(result, Err(Cancelled), "{threads} threads");
            let late = returned_at.saturating_duration_since(set_at);
            assert!(
                late < std::time::Duration::from_millis(500),
                "{threads} threads: returned {late:?} after the flag was set"
            );
        }
    }

    #[test]
    fn max_abs_diff_flags_nan_and_size_mismatch() {
        assert_eq!(max_abs_diff(&[1.0, 2.0], &[1.0, 2.5]), 0.5);
        assert_eq!(max_abs_diff(&[f32::NAN], &[1.0]), f64::INFINITY);
        assert_eq!(max_abs_diff(&[1.0], &[1.0, 2.0]), f64::INFINITY);
    }
}
