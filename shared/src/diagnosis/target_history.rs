//! What a target's stored results say that one probe cannot: it flaps between up and down,
//! or it has become slower than it was (its p95 now against its p95 over the week before).
//! The summary of `GET /api/targets/{id}/summary` carries these findings.

use chrono::{DateTime, Duration, Utc};

use super::{Finding, FindingCode, Severity};
use crate::duration::fmt_ms;
use crate::probe::history::percentile;
use crate::probe::TargetResult;

/// Changes between up and down within the last hour that make a target flap.
pub const FLAP_CHANGES: usize = 4;
/// p95 latency at least this many times the week's, and at least [`REGRESSION_MIN_MS`]
/// slower, is a regression: small absolute changes on a fast target are noise.
pub const REGRESSION_FACTOR: f64 = 1.5;
pub const REGRESSION_MIN_MS: f64 = 50.0;
/// Results each side of the comparison needs before a regression is claimed.
const MIN_SAMPLES: usize = 20;

/// Findings over `results` (any order) as of `now`, worst first.
pub fn diagnose(target: &str, results: &[TargetResult], now: DateTime<Utc>) -> Vec<Finding> {
    let mut sorted: Vec<&TargetResult> = results.iter().filter(|r| r.at <= now).collect();
    sorted.sort_by_key(|r| r.at);
    diagnose_sorted(target, &sorted, now)
}

/// [`diagnose`] over results already sorted oldest first, none after `now` (the summary
/// has them so; sorting a month of results twice would be waste).
pub(crate) fn diagnose_sorted(
    target: &str,
    sorted: &[&TargetResult],
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = [
        flapping(target, sorted, now),
        regression(target, sorted, now),
    ]
    .into_iter()
    .flatten()
    .collect();
    super::sort_findings(&mut out);
    out
}

fn flapping(target: &str, sorted: &[&TargetResult], now: DateTime<Utc>) -> Option<Finding> {
    let hour: Vec<bool> = sorted
        .iter()
        .filter(|r| r.at > now - Duration::hours(1))
        .map(|r| r.up)
        .collect();
    let changes = hour.windows(2).filter(|w| w[0] != w[1]).count();
    let down = hour.iter().filter(|up| !**up).count();
    (changes >= FLAP_CHANGES).then(|| {
        Finding::new(
            FindingCode::TargetFlapping,
            Severity::Warning,
            format!("`{target}` flaps: {changes} changes between up and down in the last hour"),
            format!(
                "{down} of its last {} checks failed, between successes. A service that \
                 is down stays down; one that comes and goes points at an overloaded \
                 backend, a proxy balancing onto one bad instance, or a timeout close to \
                 the service's real response time.",
                hour.len()
            ),
        )
    })
}

fn regression(target: &str, sorted: &[&TargetResult], now: DateTime<Utc>) -> Option<Finding> {
    let totals = |from: DateTime<Utc>, to: DateTime<Utc>| -> Vec<f64> {
        let mut v: Vec<f64> = sorted
            .iter()
            .filter(|r| r.up && r.at > from && r.at <= to)
            .filter_map(|r| r.total_ms)
            .filter(|ms| ms.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let day_start = now - Duration::days(1);
    let recent = totals(day_start, now);
    let before = totals(day_start - Duration::days(7), day_start);
    if recent.len() < MIN_SAMPLES || before.len() < MIN_SAMPLES {
        return None;
    }
    let (now_p95, week_p95) = (percentile(&recent, 95.0), percentile(&before, 95.0));
    if now_p95 < week_p95 * REGRESSION_FACTOR || now_p95 - week_p95 < REGRESSION_MIN_MS {
        return None;
    }
    Some(Finding::new(
        FindingCode::LatencyRegression,
        Severity::Warning,
        format!(
            "`{target}` got slower: p95 {} over the last 24 hours, {} the week before",
            fmt_ms(now_p95),
            fmt_ms(week_p95)
        ),
        format!(
            "{:.1}× the week's p95 over {} answers today against {} before. A deploy, a \
             grown table without an index, or a busier host are the usual causes; the \
             per-phase latencies say whether the network (connect, TLS) or the service \
             (first byte) got slower.",
            now_p95 / week_p95.max(f64::MIN_POSITIVE),
            recent.len(),
            before.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::probe::ReachVerdict;

    fn result(minutes_ago: i64, up: bool, total_ms: f64, now: DateTime<Utc>) -> TargetResult {
        TargetResult {
            at: now - Duration::minutes(minutes_ago),
            verdict: if up {
                ReachVerdict::Reachable
            } else {
                ReachVerdict::TimedOut
            },
            up,
            dns_ms: None,
            connect_ms: None,
            tls_ms: None,
            first_byte_ms: None,
            total_ms: up.then_some(total_ms),
            http_status: None,
            body_bytes: None,
            fingerprint: None,
            cors_allowed: None,
            cert_expires: None,
            error: None,
            finding: None,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_target_that_comes_and_goes_flaps_one_that_stays_down_does_not() {
        let flapping: Vec<_> = (0..12)
            .map(|i| result(i * 5, i % 3 != 0, 20.0, now()))
            .collect();
        let f = diagnose("api", &flapping, now());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, FindingCode::TargetFlapping);
        let down: Vec<_> = (0..12).map(|i| result(i * 5, i > 6, 20.0, now())).collect();
        assert!(diagnose("api", &down, now()).is_empty());
    }

    #[test]
    fn a_slower_day_than_the_week_is_a_regression() {
        let mut results: Vec<_> = (0..100)
            .map(|i| result(60 * 24 + 60 * i, true, 100.0 + (i % 10) as f64, now()))
            .collect();
        results.extend((0..30).map(|i| result(i * 30, true, 400.0, now())));
        let f = diagnose("api", &results, now());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, FindingCode::LatencyRegression);
        assert!(f[0].summary.contains("p95 400 ms"), "{}", f[0].summary);
        // A few milliseconds on a fast target, or too few answers, say nothing.
        let mut fast: Vec<_> = (0..100)
            .map(|i| result(60 * 24 + 60 * i, true, 2.0, now()))
            .collect();
        fast.extend((0..30).map(|i| result(i * 30, true, 9.0, now())));
        assert!(diagnose("api", &fast, now()).is_empty());
        assert!(diagnose("api", &results[95..], now()).is_empty());
    }
}
