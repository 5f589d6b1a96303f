//! A target's probes over time: how often the agent probes it ([`parse_interval`]), one
//! stored row per probe ([`TargetResult`]), and what the dashboard and alerts read from a
//! window of them ([`summarize`]: uptime, latency percentiles per phase, incidents).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{AgentProbe, ReachVerdict};

/// A target's probe interval when none is set, in seconds.
pub const DEFAULT_INTERVAL_SECONDS: u32 = 60;
/// The shortest interval: probing faster only adds load on the service being watched.
pub const MIN_INTERVAL_SECONDS: u32 = 5;
/// The longest interval: a day.
pub const MAX_INTERVAL_SECONDS: u32 = 86_400;

/// Reads an interval as people write it in a config file: `60s`, `5m`, `1h`, `1m30s` or
/// plain seconds, between [`MIN_INTERVAL_SECONDS`] and [`MAX_INTERVAL_SECONDS`].
pub fn parse_interval(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let bad = || format!("`{t}` is not an interval (e.g. 30s, 5m, 1h)");
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(unit));
        digits.clear();
    }
    if !digits.is_empty() {
        // A bare number is seconds, but not after a unit (`1m30`).
        if total > 0 || t.chars().any(|c| !c.is_ascii_digit()) {
            return Err(bad());
        }
        total = digits.parse().map_err(|_| bad())?;
    }
    let range = u64::from(MIN_INTERVAL_SECONDS)..=u64::from(MAX_INTERVAL_SECONDS);
    if !range.contains(&total) {
        return Err(format!(
            "the interval must be {MIN_INTERVAL_SECONDS} s to 24 h, not `{t}`"
        ));
    }
    u32::try_from(total).map_err(|_| bad())
}

/// One stored probe of a target: what the history, the charts and the summary need, not
/// the whole observation (the newest full probe is kept separately).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetResult {
    pub at: DateTime<Utc>,
    pub verdict: ReachVerdict,
    /// Whether the target counts as up: it answered as expected (a CORS verdict is reported
    /// on its own, in `cors_allowed`).
    pub up: bool,
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    pub first_byte_ms: Option<f64>,
    pub total_ms: Option<f64>,
    pub http_status: Option<u16>,
    pub body_bytes: Option<u64>,
    /// Which server or framework answered (a fingerprint id such as `nginx_default_404`).
    pub fingerprint: Option<String>,
    /// The CORS verdict for the target's origin, when it has one evaluated.
    pub cors_allowed: Option<bool>,
    /// When the server's certificate expires (HTTPS targets).
    pub cert_expires: Option<DateTime<Utc>>,
    /// The probe's one-line summary when the target was not up.
    pub error: Option<String>,
    /// The code of the probe's most severe finding, if any.
    pub finding: Option<String>,
}

impl TargetResult {
    /// The row to store for one finished probe.
    pub fn from_probe(p: &AgentProbe) -> Self {
        let up = matches!(
            p.verdict,
            ReachVerdict::Reachable | ReachVerdict::CorsBlocked
        );
        let timing = p.http.as_ref().map(|h| &h.timing);
        // A TCP target has no HTTP timing; its connect time is the fastest connect.
        let connect = timing.map(|t| t.connect_ms).or_else(|| {
            p.tcp
                .iter()
                .filter(|a| a.outcome == super::TcpOutcome::Connected)
                .map(|a| a.elapsed_ms)
                .reduce(f64::min)
        });
        Self {
            at: p.at,
            verdict: p.verdict,
            up,
            dns_ms: timing
                .map(|t| t.dns_ms)
                .or_else(|| p.dns.as_ref().map(|d| d.elapsed_ms)),
            connect_ms: connect,
            tls_ms: timing.map(|t| t.tls_ms).filter(|ms| *ms > 0.0),
            first_byte_ms: timing.map(|t| t.first_byte_ms),
            total_ms: timing.map(|t| t.total_ms),
            http_status: p.http.as_ref().map(|h| h.status),
            body_bytes: p.http.as_ref().map(|h| h.body_size),
            fingerprint: p
                .http
                .as_ref()
                .and_then(|h| h.fingerprint.fingerprint.clone()),
            cors_allowed: p.cors.as_ref().map(|c| c.allowed),
            cert_expires: p.tls.as_ref().and_then(|t| t.not_after),
            error: (!up).then(|| p.summary.clone()),
            finding: p.findings.first().map(|f| f.code.as_str().to_owned()),
        }
    }
}

/// `GET /api/targets/{id}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetHistory {
    pub target_id: String,
    /// Newest first.
    pub results: Vec<TargetResult>,
    /// How many results match the query in all (the page may hold fewer).
    pub total: u64,
}

/// Uptime over one window ending now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Uptime {
    /// `24h`, `7d` or `30d`.
    pub window: String,
    pub checks: u64,
    pub up: u64,
    /// Share of checks that found the target up, 0–100; absent without checks.
    pub percent: Option<f64>,
}

/// Latency percentiles of one phase over the last 24 hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhaseLatency {
    /// `dns`, `connect`, `tls`, `first_byte` or `total`.
    pub phase: String,
    pub samples: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// A stretch of checks that found the target down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Incident {
    /// The first check that found it down.
    pub start: DateTime<Utc>,
    /// The first check that found it up again; absent while it is still down.
    pub end: Option<DateTime<Utc>>,
    /// From `start` to `end` (or to now while it lasts).
    pub duration_ms: u64,
    /// The verdict and the most severe finding at the start.
    pub verdict: ReachVerdict,
    pub finding: Option<String>,
    pub error: Option<String>,
}

/// `GET /api/targets/{id}/summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetSummary {
    pub target_id: String,
    /// 24 hours, 7 days and 30 days.
    pub uptime: Vec<Uptime>,
    /// Phases the last 24 hours measured, in request order.
    pub latency: Vec<PhaseLatency>,
    /// The last 30 days' incidents, newest first.
    pub incidents: Vec<Incident>,
    /// What the results say that one probe cannot (flapping, a latency regression).
    pub findings: Vec<crate::diagnosis::Finding>,
}

/// The summary windows, as (label, length in days).
const WINDOWS: [(&str, i64); 3] = [("24h", 1), ("7d", 7), ("30d", 30)];

/// The uptime windows (24 hours, 7 and 30 days) ending at `now`, as (label, start): the
/// container summary counts healthcheck runs over the same ones.
pub fn uptime_windows(now: DateTime<Utc>) -> Vec<(&'static str, DateTime<Utc>)> {
    WINDOWS
        .iter()
        .map(|(label, days)| (*label, now - Duration::days(*days)))
        .collect()
}

impl Uptime {
    /// `up` of `checks` over the window `window`.
    pub fn new(window: &str, checks: u64, up: u64) -> Self {
        Self {
            window: window.to_owned(),
            checks,
            up,
            percent: (checks > 0).then(|| up as f64 * 100.0 / checks as f64),
        }
    }
}

/// Summarizes the results of the last 30 days (in any order) as of `now`.
pub fn summarize(target_id: &str, results: &[TargetResult], now: DateTime<Utc>) -> TargetSummary {
    let mut sorted: Vec<&TargetResult> = results.iter().filter(|r| r.at <= now).collect();
    sorted.sort_by_key(|r| r.at);
    let uptime = uptime_windows(now)
        .into_iter()
        .map(|(label, since)| {
            let window: Vec<_> = sorted.iter().filter(|r| r.at > since).collect();
            let up = window.iter().filter(|r| r.up).count() as u64;
            Uptime::new(label, window.len() as u64, up)
        })
        .collect();
    let day: Vec<&TargetResult> = sorted
        .iter()
        .copied()
        .filter(|r| r.at > now - Duration::days(1))
        .collect();
    let since = now - Duration::days(30);
    let month: Vec<&TargetResult> = sorted.iter().copied().filter(|r| r.at > since).collect();
    TargetSummary {
        target_id: target_id.to_owned(),
        uptime,
        latency: latency(&day),
        incidents: incidents(&month, now),
        findings: crate::diagnosis::target_history::diagnose_sorted(target_id, &month, now),
    }
}

/// Percentiles per phase over the results that measured it.
fn latency(results: &[&TargetResult]) -> Vec<PhaseLatency> {
    type Phase = fn(&TargetResult) -> Option<f64>;
    let phases: [(&str, Phase); 5] = [
        ("dns", |r| r.dns_ms),
        ("connect", |r| r.connect_ms),
        ("tls", |r| r.tls_ms),
        ("first_byte", |r| r.first_byte_ms),
        ("total", |r| r.total_ms),
    ];
    phases
        .iter()
        .filter_map(|(name, get)| {
            let mut v: Vec<f64> = results
                .iter()
                .filter_map(|r| get(r))
                .filter(|ms| ms.is_finite())
                .collect();
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            Some(PhaseLatency {
                phase: (*name).to_owned(),
                samples: v.len() as u64,
                p50_ms: percentile(&v, 50.0),
                p95_ms: percentile(&v, 95.0),
                p99_ms: percentile(&v, 99.0),
            })
        })
        .collect()
}

/// Nearest-rank percentile of sorted, non-empty values: always a value that was measured.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs of down results (oldest first in, newest first out).
fn incidents(sorted: &[&TargetResult], now: DateTime<Utc>) -> Vec<Incident> {
    let mut out: Vec<Incident> = Vec::new();
    let mut open: Option<&TargetResult> = None;
    for r in sorted {
        match (open, r.up) {
            (None, false) => open = Some(r),
            (Some(first), true) => {
                out.push(incident(first, Some(r.at), now));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(first) = open {
        out.push(incident(first, None, now));
    }
    out.reverse();
    out
}

fn incident(first: &TargetResult, end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Incident {
    let until = end.unwrap_or(now);
    Incident {
        start: first.at,
        end,
        duration_ms: u64::try_from((until - first.at).num_milliseconds()).unwrap_or(0),
        verdict: first.verdict,
        finding: first.finding.clone(),
        error: first.error.clone(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(minutes_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::minutes(minutes_ago)
    }

    fn result(minutes_ago: i64, up: bool, total_ms: f64, now: DateTime<Utc>) -> TargetResult {
        TargetResult {
            at: at(minutes_ago, now),
            verdict: if up {
                ReachVerdict::Reachable
            } else {
                ReachVerdict::TimedOut
            },
            up,
            dns_ms: None,
            connect_ms: up.then_some(1.0),
            tls_ms: None,
            first_byte_ms: None,
            total_ms: up.then_some(total_ms),
            http_status: up.then_some(200),
            body_bytes: None,
            fingerprint: None,
            cors_allowed: None,
            cert_expires: None,
            error: (!up).then(|| "no answer within 3.0 s".to_owned()),
            finding: (!up).then(|| "tcp_timeout".to_owned()),
        }
    }

    #[test]
    fn uptime_latency_and_incidents_from_the_results() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        // 100 checks in the last 100 minutes, totals 1..=100 ms; down from 50 to 41
        // minutes ago (10 checks), and down again for the last 2.
        let mut results: Vec<TargetResult> = (1..=100)
            .map(|i| {
                let down = (41..=50).contains(&i) || i <= 2;
                result(i, !down, f64::from(i as u32), now)
            })
            .collect();
        // A week ago, one more incident of one check; older than 30 days is ignored.
        results.push(result(7 * 24 * 60, false, 0.0, now));
        results.push(result(7 * 24 * 60 - 1, true, 5.0, now));
        results.push(result(31 * 24 * 60, false, 0.0, now));
        let s = summarize("api", &results, now);

        let day = &s.uptime[0];
        assert_eq!((day.checks, day.up), (100, 88));
        assert_eq!(day.percent, Some(88.0));
        assert_eq!((s.uptime[2].checks, s.uptime[2].up), (102, 89));

        let total = s.latency.iter().find(|l| l.phase == "total").unwrap();
        assert_eq!(total.samples, 88);
        // Nearest rank over the 88 measured values (3..=40 and 51..=100).
        assert_eq!(
            (total.p50_ms, total.p95_ms, total.p99_ms),
            (56.0, 96.0, 100.0)
        );
        assert!(
            s.latency.iter().all(|l| l.phase != "dns"),
            "nothing measured it"
        );

        let [now_down, earlier, last_week] = &s.incidents[..] else {
            panic!("{:?}", s.incidents)
        };
        assert_eq!((now_down.start, now_down.end), (at(2, now), None));
        assert_eq!(now_down.duration_ms, 120_000);
        assert_eq!(
            (earlier.start, earlier.end),
            (at(50, now), Some(at(40, now)))
        );
        assert_eq!(earlier.finding.as_deref(), Some("tcp_timeout"));
        assert_eq!(earlier.verdict, ReachVerdict::TimedOut);
        assert_eq!(last_week.duration_ms, 60_000);
    }

    #[test]
    fn no_results_is_an_empty_summary() {
        let s = summarize("api", &[], Utc::now());
        assert!(s
            .uptime
            .iter()
            .all(|u| u.checks == 0 && u.percent.is_none()));
        assert!(s.latency.is_empty() && s.incidents.is_empty() && s.findings.is_empty());
    }
}
