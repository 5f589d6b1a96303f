//! Durations as text, for every view of the agent and the dashboard: compose-file values,
//! healthcheck settings, probe phases, limits and benchmark figures. Each formatter says
//! which views it serves and why its rule differs from its neighbours'.

use std::time::Duration;

/// Formats milliseconds the way compose files accept them (`30s`, `1m30s`, `500ms`).
pub fn compose_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let total_s = ms / 1000;
    let rem_ms = ms % 1000;
    let (m, s) = (total_s / 60, total_s % 60);
    let mut out = String::new();
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || (m == 0 && rem_ms == 0) {
        out.push_str(&format!("{s}s"));
    }
    if rem_ms > 0 {
        out.push_str(&format!("{rem_ms}ms"));
    }
    out
}

/// Short human text for a duration in milliseconds: `850 ms`, `12.4 s`, `3 min 5 s`.
pub fn human_ms(ms: u64) -> String {
    if ms == 0 {
        "0 s".to_owned()
    } else if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        let tenths = ms / 100;
        if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    } else {
        let s = ms / 1000;
        if s.is_multiple_of(60) {
            format!("{} min", s / 60)
        } else {
            format!("{} min {} s", s / 60, s % 60)
        }
    }
}

/// `0.4 ms`, `42 ms`, `3.0 s`: a probe phase in a finding's sentence, from the agent's
/// microsecond clock.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        fmt_secs(ms)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// `42 ms`, `1.2 s`, like [`fmt_ms`], for the dashboard's probe phases beside their timing
/// bars: a phase that took no time reads `0 ms` and one under a twentieth of a millisecond
/// `< 0.1 ms`, where [`fmt_ms`] would print a `0.0 ms` that looks measured. Findings keep
/// [`fmt_ms`], whose wording their tests pin.
pub fn millis(ms: f64) -> String {
    if ms == 0.0 {
        format!("{ms:.0} ms")
    } else if ms > 0.0 && ms < 0.05 {
        "< 0.1 ms".to_owned()
    } else {
        fmt_ms(ms)
    }
}

/// `850 ms`, `4 ms`, `1.2 s`: a browser's fetch time, which comes in whole milliseconds, so
/// no decimal is shown below a second (where [`fmt_ms`] would write a spurious `4.0 ms`).
pub fn whole_ms(ms: u64) -> String {
    if ms >= 1000 {
        // Exact: a browser's fetch never reaches 2^53 ms.
        fmt_secs(ms as f64)
    } else {
        format!("{ms} ms")
    }
}

/// Timeouts read in seconds whatever their size: `0.5 s`, `3.0 s`.
pub fn fmt_secs(ms: f64) -> String {
    format!("{:.1} s", ms / 1000.0)
}

/// `30 s`, `0.5 s`: a limit as configured, without a spurious `.0`.
pub fn fmt_limit(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A benchmark figure in milliseconds at a fixed precision, or `None` for one an
/// interrupted run never measured (NaN).
fn fixed(v: f64, decimals: usize) -> Option<String> {
    v.is_finite().then(|| format!("{v:.decimals$}"))
}

/// `12.3 ms`, or `—` for a figure an interrupted run never measured: the dashboard's GPU
/// tables, where each cell carries its unit.
pub fn bench_ms(v: f64, decimals: usize) -> String {
    fixed(v, decimals).map_or_else(|| "—".to_owned(), |s| format!("{s} ms"))
}

/// `12.30`, or `-`: `vantage bench gpu`'s terminal tables, whose title names the unit once
/// and which stay ASCII.
pub fn bench_ms_plain(v: f64) -> String {
    fixed(v, 2).unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_durations() {
        assert_eq!(compose_duration(0), "0s");
        assert_eq!(compose_duration(500), "500ms");
        assert_eq!(compose_duration(30_000), "30s");
        assert_eq!(compose_duration(90_000), "1m30s");
        assert_eq!(compose_duration(120_000), "2m");
        assert_eq!(compose_duration(1_500), "1s500ms");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_ms(850), "850 ms");
        assert_eq!(human_ms(0), "0 s");
        assert_eq!(human_ms(12_400), "12.4 s");
        assert_eq!(human_ms(12_000), "12 s");
        assert_eq!(human_ms(185_000), "3 min 5 s");
        assert_eq!(human_ms(120_000), "2 min");
    }

    #[test]
    fn probe_phases() {
        assert_eq!(fmt_ms(0.42), "0.4 ms");
        assert_eq!(fmt_ms(42.3), "42 ms");
        assert_eq!(fmt_ms(3000.2), "3.0 s");
        assert_eq!(fmt_ms(0.0), "0.0 ms");
        assert_eq!(fmt_secs(500.0), "0.5 s");
        assert_eq!(millis(4.25), "4.2 ms");
        assert_eq!(millis(42.4), "42 ms");
        assert_eq!(millis(0.01), "< 0.1 ms");
        assert_eq!(millis(1250.0), "1.2 s");
        assert_eq!(millis(0.0), "0 ms");
        assert_eq!(whole_ms(4), "4 ms");
        assert_eq!(whole_ms(120), "120 ms");
        assert_eq!(whole_ms(8000), "8.0 s");
        assert_eq!(fmt_limit(Duration::from_secs(30)), "30 s");
        assert_eq!(fmt_limit(Duration::from_millis(500)), "0.5 s");
    }

    #[test]
    fn bench_figures() {
        assert_eq!(bench_ms(12.345, 1), "12.3 ms");
        assert_eq!(bench_ms(12.346, 2), "12.35 ms");
        assert_eq!(bench_ms(f64::NAN, 2), "—");
        assert_eq!(bench_ms_plain(1.5), "1.50");
        assert_eq!(bench_ms_plain(f64::NAN), "-");
        assert_eq!(bench_ms_plain(f64::INFINITY), "-");
    }
}
