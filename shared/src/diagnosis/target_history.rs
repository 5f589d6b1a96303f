//! What a target's stored results say that one probe cannot: it flaps between up and down,
//! it has become slower than it was (its p95 now against its p95 over the week before), or
//! the certificate it last presented expires soon (and since when it has been the same one).
//! The summary of `GET /api/targets/{id}/summary` carries these findings.

use chrono::{DateTime, Duration, Utc};

use super::agent_probe::CERT_EXPIRY_WARNING_DAYS;
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
        certificate(target, sorted, now),
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

/// The certificate the newest result saw, if it expires within
/// [`CERT_EXPIRY_WARNING_DAYS`] (or has expired), with how long it has been unchanged: a
/// certificate that stays the same as its end nears means renewal is not happening.
fn certificate(target: &str, sorted: &[&TargetResult], now: DateTime<Utc>) -> Option<Finding> {
    let (seen, expires) = sorted
        .iter()
        .rev()
        .find_map(|r| r.cert_expires.map(|e| (r.at, e)))?;
    // When the newest results have no certificate (TLS failing, target down), say when
    // this one was last seen rather than present it as current.
    let last_seen = match sorted.last() {
        Some(newest) if newest.at > seen => format!(
            " It was last presented on {}; later probes got no certificate.",
            seen.format("%Y-%m-%d %H:%M UTC")
        ),
        _ => String::new(),
    };
    let days = (expires - now).num_days();
    if days >= CERT_EXPIRY_WARNING_DAYS {
        return None;
    }
    let same_since = sorted
        .iter()
        .rev()
        .take_while(|r| r.cert_expires.is_none_or(|e| e == expires))
        .last()
        .map(|r| r.at);
    let unchanged = same_since
        .map(|t| {
            format!(
                " The same certificate has been served since {}.",
                t.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .unwrap_or_default();
    let date = expires.format("%Y-%m-%d");
    let (code, severity, summary) = if expires <= now {
        (
            FindingCode::TlsCertificateExpired,
            Severity::Critical,
            format!("`{target}`'s certificate expired on {date}"),
        )
    } else {
        (
            FindingCode::TlsCertificateExpiring,
            Severity::Warning,
            format!(
                "`{target}`'s certificate expires in {days} day{} ({date})",
                if days == 1 { "" } else { "s" }
            ),
        )
    };
    Some(Finding::new(
        code,
        severity,
        summary,
        format!(
            "Automatic renewal (certbot, Caddy, Traefik, cert-manager) normally replaces a \
             certificate 30 days ahead; one this close to its end means renewal fails or the \
             server has not reloaded the new file.{unchanged}{last_seen}"
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

    #[test]
    fn a_certificate_near_its_end_is_named_with_how_long_it_has_been_served() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let with_cert = |minutes_ago: i64, expires: DateTime<Utc>| TargetResult {
            cert_expires: Some(expires),
            ..result(minutes_ago, true, 10.0, now)
        };
        let soon = now + Duration::days(5) + Duration::hours(1);
        let later = now + Duration::days(80);
        // Renewed long ago, then rolled back to an old certificate an hour ago.
        let results = vec![
            with_cert(120, later),
            with_cert(60, soon),
            with_cert(1, soon),
        ];
        let f = diagnose("shop", &results, now);
        let [cert] = &f[..] else { panic!("{f:?}") };
        assert_eq!(cert.code, FindingCode::TlsCertificateExpiring);
        assert!(
            cert.summary.contains("expires in 5 days"),
            "{}",
            cert.summary
        );
        assert!(
            cert.explanation.contains("since 2026-12-06 11:00 UTC"),
            "{}",
            cert.explanation
        );

        let expired = vec![with_cert(1, now - Duration::days(1))];
        assert_eq!(
            diagnose("shop", &expired, now)[0].code,
            FindingCode::TlsCertificateExpired
        );
        assert!(diagnose("shop", &[with_cert(1, later)], now).is_empty());
    }
}
