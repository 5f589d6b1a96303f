//! Human-friendly durations, formatted the way Docker and compose write them.

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
}
