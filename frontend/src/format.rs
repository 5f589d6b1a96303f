//! Pure text helpers for the views: coarse durations, local clock times, inline code.

use chrono::{DateTime, Local, Utc};

/// Coarse human duration for uptimes and "ago": `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn coarse(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `3 min ago` relative to `now`.
pub fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    format!("{} ago", coarse((now - t).num_milliseconds()))
}

/// Local wall-clock time with seconds, e.g. `14:03:07`.
pub fn clock(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M:%S").to_string()
}

/// Local date and time, e.g. `2026-11-22 14:03:07`.
pub fn date_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Splits diagnosis text on backticks: `(is_code, text)` pieces, so names and
/// commands render as `<code>`. An unpaired backtick stays literal.
pub fn inline_code(text: &str) -> Vec<(bool, String)> {
    let parts: Vec<&str> = text.split('`').collect();
    if parts.len().is_multiple_of(2) {
        // Odd number of backticks: do not guess which one is unpaired.
        return vec![(false, text.to_owned())];
    }
    parts
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
        .map(|(i, p)| (i % 2 == 1, p.to_owned()))
        .collect()
}

/// Shortens one line of probe output for a table cell.
pub fn truncate(text: &str, max_chars: usize) -> (String, bool) {
    let first_line = text.trim().lines().next().unwrap_or_default();
    let multi_line = text.trim().lines().nth(1).is_some();
    if first_line.chars().count() > max_chars {
        let cut: String = first_line.chars().take(max_chars).collect();
        (format!("{cut}…"), true)
    } else if multi_line {
        (format!("{first_line} …"), true)
    } else {
        (first_line.to_owned(), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_durations() {
        assert_eq!(coarse(-5), "0 s");
        assert_eq!(coarse(45_000), "45 s");
        assert_eq!(coarse(720_000), "12 min");
        assert_eq!(coarse(3 * 3_600_000 + 300_000), "3 h 5 min");
        assert_eq!(coarse(2 * 86_400_000 + 4 * 3_600_000), "2 d 4 h");
    }

    #[test]
    fn backticks_become_code() {
        assert_eq!(
            inline_code("No shared network: `api` is on `b`"),
            vec![
                (false, "No shared network: ".to_owned()),
                (true, "api".to_owned()),
                (false, " is on ".to_owned()),
                (true, "b".to_owned()),
            ]
        );
        assert_eq!(inline_code("a ` b"), vec![(false, "a ` b".to_owned())]);
        assert_eq!(inline_code("plain"), vec![(false, "plain".to_owned())]);
    }

    #[test]
    fn truncates_long_or_multi_line_output() {
        assert_eq!(truncate("ok\n", 10), ("ok".to_owned(), false));
        assert_eq!(truncate("abcdefghijkl", 5), ("abcde…".to_owned(), true));
        assert_eq!(truncate("line1\nline2", 50), ("line1 …".to_owned(), true));
        assert_eq!(truncate("", 5), (String::new(), false));
    }
}
