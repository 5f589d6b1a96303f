//! Pure text helpers for the views: coarse durations, local clock times, inline code,
//! byte counts, countdowns, uptime figures and short user agents.

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

/// Shortens one line of a healthcheck run's output for a table cell.
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

/// `1.2 KB`, `87 B`: body sizes.
pub fn bytes(n: u64) -> String {
    match n {
        0..=999 => format!("{n} B"),
        1000..=999_999 => format!("{:.1} KB", n as f64 / 1000.0),
        _ => format!("{:.1} MB", n as f64 / 1_000_000.0),
    }
}

/// `42 ms`, `1.3 s`: probe phases (worded in `vantage_shared::duration` with the agent's).
pub use vantage_shared::duration::millis;

/// Time left as `59:07` or `1:02:03`; `0:00` once past.
pub fn countdown(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A user agent in a few words: `Chrome 131 on Android`, `Safari 17 on iOS`.
pub fn short_user_agent(ua: &str) -> String {
    let version_after = |marker: &str| -> Option<String> {
        let rest = &ua[ua.find(marker)? + marker.len()..];
        let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
        (!major.is_empty()).then_some(major)
    };
    // Most specific first: Edge and Opera also say Chrome, Chrome also says Safari.
    let browsers = [
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("OPR/", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
        ("curl/", "curl"),
    ];
    let browser = browsers
        .iter()
        .find_map(|(marker, name)| version_after(marker).map(|v| format!("{name} {v}")));
    let os = if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
        Some("iOS")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("CrOS") {
        Some("ChromeOS")
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        Some("macOS")
    } else if ua.contains("Linux") {
        Some("Linux")
    } else {
        None
    };
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b,
        (None, Some(o)) => format!("a browser on {o}"),
        (None, None) if ua.trim().is_empty() => "unknown browser".to_owned(),
        (None, None) => truncate(ua, 40).0,
    }
}

/// `99.93 % (1 439 of 1 440)`, or `no checks`.
pub fn uptime_text(u: &vantage_shared::probe::Uptime) -> String {
    match u.percent {
        Some(p) => format!("{} % ({} of {})", trim_percent(p), u.up, u.checks),
        None => "no checks".to_owned(),
    }
}

/// Two decimals where they matter (99.93), none for whole numbers (100).
fn trim_percent(p: f64) -> String {
    let s = format!("{p:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `30s`, `5m`, `1m30s`, `2h`: as a config file would say it.
pub fn interval_label(seconds: u32) -> String {
    if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else {
        vantage_shared::duration::compose_duration(u64::from(seconds) * 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_shortened() {
        assert_eq!(
            short_user_agent("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.39 Mobile Safari/537.36"),
            "Chrome 131 on Android"
        );
        assert_eq!(
            short_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"),
            "Safari 17 on iOS"
        );
        assert_eq!(
            short_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0"),
            "Edge 130 on Windows"
        );
        assert_eq!(
            short_user_agent(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
            ),
            "Firefox 128 on Linux"
        );
        assert_eq!(
            short_user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"),
            "Headless Chrome 120 on Linux"
        );
        assert_eq!(short_user_agent("curl/8.5.0"), "curl 8");
        assert_eq!(short_user_agent(""), "unknown browser");
    }

    #[test]
    fn sizes_times_and_countdowns() {
        assert_eq!(bytes(22), "22 B");
        assert_eq!(bytes(1534), "1.5 KB");
        assert_eq!(millis(4.25), "4.2 ms");
        assert_eq!(millis(42.4), "42 ms");
        assert_eq!(millis(0.01), "< 0.1 ms");
        assert_eq!(millis(1250.0), "1.2 s");
        assert_eq!(countdown(3_599_000), "59:59");
        assert_eq!(countdown(3_723_000), "1:02:03");
        assert_eq!(countdown(-5), "0:00");
    }

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

    #[test]
    fn uptime_reads_plainly() {
        let u = |up, checks, percent| vantage_shared::probe::Uptime {
            window: "24h".into(),
            checks,
            up,
            percent,
        };
        assert_eq!(
            uptime_text(&u(1439, 1440, Some(99.930_555))),
            "99.93 % (1439 of 1440)"
        );
        assert_eq!(uptime_text(&u(10, 10, Some(100.0))), "100 % (10 of 10)");
        assert_eq!(uptime_text(&u(0, 0, None)), "no checks");
    }
}
