//! Startup vs healthcheck timing (docs/incidents.md, "Unhealthy while the app is fine"):
//! probes that fail while an app is still loading, timeouts too short for the real probe,
//! and flapping checks.

use chrono::{DateTime, Utc};

use super::{Finding, FindingCode, Severity};
use crate::api::{HealthProbe, HealthcheckConfig};
use crate::duration::{compose_duration, human_ms};

/// Everything the timing diagnosis looks at for one container.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// Compose service name (or container name) used in the snippet.
    pub service: &'a str,
    pub config: &'a HealthcheckConfig,
    /// When the container last started; probes before it belong to an earlier run.
    pub started_at: Option<DateTime<Utc>>,
    /// Recorded probes in any order.
    pub probes: &'a [HealthProbe],
}

/// What the history says about the latest run, before any judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Probes of the latest run.
    pub probes: usize,
    pub failures: usize,
    /// Failures before the first pass.
    pub startup_failures: usize,
    /// From container start (or the first probe) to the end of the first passing probe.
    pub time_to_ready_ms: Option<u64>,
    /// Slowest passing probe.
    pub max_pass_duration_ms: Option<u64>,
    /// Failed probes that ran into the timeout.
    pub timed_out: usize,
    /// Fail runs that started after the container had become ready.
    pub relapses: usize,
    /// Consecutive failures at the end of the history.
    pub trailing_failures: usize,
}

fn ms_between(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    u64::try_from((b - a).num_milliseconds()).unwrap_or(0)
}

/// True when a failed probe was cut off by Docker's timeout rather than failing on its own.
pub fn probe_timed_out(probe: &HealthProbe, config: &HealthcheckConfig) -> bool {
    if probe.passed() {
        return false;
    }
    let out = probe.output.to_ascii_lowercase();
    // Docker writes "Health check exceeded timeout (3s)" with exit code -1.
    out.contains("exceeded timeout")
        || out.contains("timed out")
        || (probe.exit_code == -1 && probe.duration_ms * 10 >= config.timeout_ms * 9)
}

/// Measures the latest run. Probes are sorted by start time here.
pub fn measure(input: &Input<'_>) -> Timing {
    let mut run: Vec<&HealthProbe> = input
        .probes
        .iter()
        .filter(|p| input.started_at.is_none_or(|s| p.start >= s))
        .collect();
    run.sort_by_key(|p| p.start);

    let origin = input.started_at.or_else(|| run.first().map(|p| p.start));
    let first_pass = run.iter().position(|p| p.passed());
    let time_to_ready_ms = match (first_pass, origin) {
        (Some(i), Some(o)) => Some(ms_between(o, run[i].end)),
        _ => None,
    };
    let mut relapses = 0;
    if let Some(i) = first_pass {
        for w in run[i..].windows(2) {
            if w[0].passed() && !w[1].passed() {
                relapses += 1;
            }
        }
    }
    Timing {
        probes: run.len(),
        failures: run.iter().filter(|p| !p.passed()).count(),
        startup_failures: first_pass.unwrap_or(run.len()),
        time_to_ready_ms,
        max_pass_duration_ms: run
            .iter()
            .filter(|p| p.passed())
            .map(|p| p.duration_ms)
            .max(),
        timed_out: run
            .iter()
            .filter(|p| probe_timed_out(p, input.config))
            .count(),
        relapses,
        trailing_failures: run.iter().rev().take_while(|p| !p.passed()).count(),
    }
}

/// Rounds up to the next multiple of `step` milliseconds.
fn round_up(ms: u64, step: u64) -> u64 {
    ms.div_ceil(step) * step
}

/// A `start_period` with headroom: twice the observed time to ready, rounded up
/// to 10 s, at least 10 s. Startup times vary with load and cache state, and a
/// generous start period costs nothing once the container passes.
pub fn recommended_start_period_ms(time_to_ready_ms: u64) -> u64 {
    round_up(time_to_ready_ms.saturating_mul(2), 10_000).max(10_000)
}

/// A timeout with headroom over the slowest passing probe: twice it, whole seconds, at least 3 s.
pub fn recommended_timeout_ms(max_pass_duration_ms: u64) -> u64 {
    round_up(max_pass_duration_ms.saturating_mul(2), 1000).max(3000)
}

/// The compose `healthcheck:` block with the given timings.
pub fn compose_snippet(
    service: &str,
    config: &HealthcheckConfig,
    timeout_ms: u64,
    start_period_ms: u64,
    retries: u64,
) -> String {
    let test = serde_json::to_string(&config.test).unwrap_or_else(|_| "[]".to_owned());
    format!(
        "services:\n  {service}:\n    healthcheck:\n      test: {test}\n      interval: {}\n      timeout: {}\n      retries: {retries}\n      start_period: {}\n",
        compose_duration(config.interval_ms),
        compose_duration(timeout_ms),
        compose_duration(start_period_ms),
    )
}

/// Runs the timing diagnosis. An empty list means nothing to report yet.
pub fn diagnose(input: &Input<'_>) -> Vec<Finding> {
    let t = measure(input);
    if t.probes == 0 {
        return Vec::new();
    }
    let m = Measured::new(input, t);
    [startup(&m), timeout_too_short(&m), after_ready(&m)]
        .into_iter()
        .flatten()
        .collect()
}

/// The measurements and what follows from them, shared by every finding.
struct Measured<'a> {
    input: &'a Input<'a>,
    cfg: &'a HealthcheckConfig,
    t: Timing,
    /// The timeout to recommend: the configured one unless passing probes come close to it.
    new_timeout: u64,
    /// " N of the failed probes ran into the T timeout." or empty.
    timeout_note: String,
}

impl<'a> Measured<'a> {
    fn new(input: &'a Input<'a>, t: Timing) -> Self {
        let cfg = input.config;
        let new_timeout = match t.max_pass_duration_ms {
            Some(d) if d.saturating_mul(2) > cfg.timeout_ms => recommended_timeout_ms(d),
            _ => cfg.timeout_ms,
        };
        let timeout_note = if t.timed_out > 0 {
            format!(
                " {} of the failed probes ran into the {} timeout.",
                t.timed_out,
                human_ms(cfg.timeout_ms)
            )
        } else {
            String::new()
        };
        Self {
            input,
            cfg,
            t,
            new_timeout,
            timeout_note,
        }
    }
}

/// How the run started: ready later than start_period allows, or never passed at all.
fn startup(m: &Measured<'_>) -> Option<Finding> {
    match m.t.time_to_ready_ms {
        Some(ready) if m.t.startup_failures > 0 && ready > m.cfg.start_period_ms => {
            Some(start_period_too_short(m, ready))
        }
        None if m.t.failures == m.t.probes => Some(never_passed(m)),
        _ => None,
    }
}

/// Probes failed while the app was still loading, past the start period.
fn start_period_too_short(m: &Measured<'_>, ready: u64) -> Finding {
    let (input, cfg, t, timeout_note) = (m.input, m.cfg, &m.t, &m.timeout_note);
    let start_period = recommended_start_period_ms(ready);
    let counted = counted_startup_failures(input, t);
    let (severity, consequence) = if counted >= cfg.retries {
        (
            Severity::Critical,
            format!(
                "{counted} failures counted after the start period, so Docker marked it unhealthy (retries = {}) before it was ready; an orchestrator or autoheal would restart or drain it.",
                cfg.retries
            ),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "{counted} failures counted towards the {} retries; a slightly slower start marks it unhealthy.",
                cfg.retries
            ),
        )
    };
    let summary = format!(
        "Probes fail for the first ~{} after start; start_period is {} and timeout {}: set start_period ≥ {}",
        human_ms(ready),
        human_ms(cfg.start_period_ms),
        human_ms(cfg.timeout_ms),
        human_ms(start_period),
    );
    let explanation = format!(
        "The first {} probe(s) after the container started failed, and the first passing probe finished {} after start. \
         Docker counts failures only after start_period ({}), and it is shorter than the time this app needs to load. {consequence}{timeout_note} \
         The app itself is fine once loaded: the healthcheck timing does not fit its startup time.",
        t.startup_failures,
        human_ms(ready),
        human_ms(cfg.start_period_ms),
    );
    let retries = cfg.retries.max(3);
    Finding::new(FindingCode::HealthcheckStartPeriodTooShort, severity, summary, explanation).with_fix(
        format!(
            "Give the app {} to start before failures count (start_period), keep the probe interval.",
            human_ms(start_period)
        ),
        Some(compose_snippet(input.service, cfg, m.new_timeout, start_period, retries)),
        Some("yaml"),
    )
}

/// Every probe of the run failed.
fn never_passed(m: &Measured<'_>) -> Finding {
    let (input, cfg, t, timeout_note) = (m.input, m.cfg, &m.t, &m.timeout_note);
    // Failures inside start_period do not count in Docker either: while they
    // are all that happened, the app may simply still be loading.
    let counted = counted_startup_failures(input, t);
    let severity = if counted >= cfg.retries {
        Severity::Critical
    } else if counted > 0 {
        Severity::Warning
    } else {
        Severity::Info
    };
    let last = input.probes.iter().max_by_key(|p| p.start);
    let out = last.map(|p| p.output.trim().to_owned()).unwrap_or_default();
    Finding::new(
        FindingCode::HealthcheckNeverPassed,
        severity,
        format!("The healthcheck has not passed once since start ({} probes failed)", t.probes),
        format!(
            "Every probe of `{}` failed.{timeout_note} Last output: {}",
            cfg.command_display(),
            if out.is_empty() { "(none)".to_owned() } else { out }
        ),
    )
    .with_fix(
        "Run the probe command inside the container (`docker exec <name> sh -c '<command>'`) to see why it fails; if the app is still loading, raise start_period.",
        None,
        None,
    )
}

/// Probes ran into the timeout while passing ones come close to it.
fn timeout_too_short(m: &Measured<'_>) -> Option<Finding> {
    let (input, cfg, t, new_timeout) = (m.input, m.cfg, &m.t, m.new_timeout);
    if !(t.timed_out > 0 && new_timeout > cfg.timeout_ms && t.time_to_ready_ms.is_some()) {
        return None;
    }
    Some(
        Finding::new(
            FindingCode::HealthcheckTimeoutTooShort,
            Severity::Warning,
            format!(
                "Passing probes take up to {}, close to the {} timeout: set timeout ≥ {}",
                human_ms(t.max_pass_duration_ms.unwrap_or(0)),
                human_ms(cfg.timeout_ms),
                human_ms(new_timeout)
            ),
            format!("{} probe(s) were cut off by the timeout; a busy moment turns a slow pass into a failure.", t.timed_out),
        )
        .with_fix(
            "Raise the timeout to twice the slowest passing probe.",
            Some(compose_snippet(input.service, cfg, new_timeout, cfg.start_period_ms.max(recommended_start_period_ms(t.time_to_ready_ms.unwrap_or(0))), cfg.retries)),
            Some("yaml"),
        ),
    )
}

/// Failures after the container became ready: flapping, or failing right now.
fn after_ready(m: &Measured<'_>) -> Option<Finding> {
    let (input, cfg, t, timeout_note) = (m.input, m.cfg, &m.t, &m.timeout_note);
    if t.relapses >= 2 {
        Some(
            Finding::new(
                FindingCode::HealthcheckFlapping,
                Severity::Warning,
                format!(
                    "The healthcheck flaps: it failed again {} times after the container became ready",
                    t.relapses
                ),
                format!(
                    "{} of {} probes in this run failed, in separate runs of failures.{timeout_note}",
                    t.failures - t.startup_failures,
                    t.probes
                ),
            )
            .with_fix(
                "If failures are timeouts, raise timeout; if they are brief blips, raise retries so one miss does not flip the status.",
                Some(compose_snippet(input.service, cfg, m.new_timeout, cfg.start_period_ms, cfg.retries.max(3) + 2)),
                Some("yaml"),
            ),
        )
    } else if t.time_to_ready_ms.is_some() && t.trailing_failures > 0 && t.relapses >= 1 {
        Some(Finding::new(
            FindingCode::HealthcheckFailingNow,
            if t.trailing_failures as u64 >= cfg.retries { Severity::Critical } else { Severity::Warning },
            format!("The last {} probe(s) failed after the container had been healthy", t.trailing_failures),
            "The app passed its healthcheck earlier in this run and now fails it: look at the probe output and the app's logs.",
        ))
    } else {
        None
    }
}

/// Failures before the first pass that Docker counted (they started after start_period).
fn counted_startup_failures(input: &Input<'_>, t: &Timing) -> u64 {
    let Some(origin) = input
        .started_at
        .or_else(|| input.probes.iter().map(|p| p.start).min())
    else {
        return 0;
    };
    let mut run: Vec<&HealthProbe> = input.probes.iter().filter(|p| p.start >= origin).collect();
    run.sort_by_key(|p| p.start);
    run.iter()
        .take(t.startup_failures)
        .filter(|p| ms_between(origin, p.start) >= input.config.start_period_ms)
        .count() as u64
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::api::HealthStatus;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
            .single()
            .expect("valid date")
    }

    fn probe(start_ms: i64, duration_ms: i64, exit_code: i64, output: &str) -> HealthProbe {
        let start = t0() + chrono::Duration::milliseconds(start_ms);
        HealthProbe {
            start,
            end: start + chrono::Duration::milliseconds(duration_ms),
            duration_ms: duration_ms as u64,
            exit_code,
            output: output.into(),
            status: HealthStatus::Starting,
        }
    }

    fn cfg(interval: u64, timeout: u64, start_period: u64, retries: u64) -> HealthcheckConfig {
        HealthcheckConfig {
            test: vec![
                "CMD-SHELL".into(),
                "curl -f http://localhost:8000/health".into(),
            ],
            interval_ms: interval,
            timeout_ms: timeout,
            start_period_ms: start_period,
            retries,
        }
    }

    /// The slow-loading model server: it needs ~12 s, probed every 2 s with a 3 s timeout.
    fn inference_history() -> Vec<HealthProbe> {
        let mut v = Vec::new();
        for i in 0..6 {
            v.push(probe(
                i * 2000 + 100,
                3000,
                -1,
                "Health check exceeded timeout (3s)",
            ));
        }
        for i in 6..12 {
            v.push(probe(i * 2000 + 100, 40, 0, "ok"));
        }
        v
    }

    #[test]
    fn slow_start_recommends_start_period_with_snippet() {
        let c = cfg(2000, 3000, 0, 3);
        let probes = inference_history();
        let f = diagnose(&Input {
            service: "inference",
            config: &c,
            started_at: Some(t0()),
            probes: &probes,
        });
        let first = &f[0];
        assert_eq!(first.code, "healthcheck_start_period_too_short");
        assert_eq!(
            first.severity,
            Severity::Critical,
            "6 counted failures ≥ 3 retries"
        );
        assert!(first.summary.contains("~12.1 s"), "{}", first.summary);
        assert!(
            first.summary.contains("start_period is 0 s"),
            "{}",
            first.summary
        );
        assert!(first.summary.contains("≥ 30 s"), "{}", first.summary);
        let fix = first.fix.as_ref().expect("fix");
        let snippet = fix.snippet.as_deref().expect("snippet");
        assert!(snippet.contains("start_period: 30s"), "{snippet}");
        assert!(snippet.contains("  inference:"), "{snippet}");
        assert!(
            snippet.contains(r#"test: ["CMD-SHELL","curl -f http://localhost:8000/health"]"#),
            "{snippet}"
        );
        assert!(
            first
                .explanation
                .contains("6 of the failed probes ran into the 3 s timeout"),
            "{}",
            first.explanation
        );
    }

    #[test]
    fn failures_inside_start_period_are_only_a_warning() {
        // Ready after ~12 s with start_period 10 s: only one failure counts.
        let c = cfg(2000, 3000, 10_000, 3);
        let probes = inference_history();
        let f = diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &probes,
        });
        assert_eq!(f[0].code, "healthcheck_start_period_too_short");
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn ready_within_start_period_is_fine() {
        let c = cfg(2000, 3000, 30_000, 3);
        let probes = inference_history();
        let f = diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &probes,
        });
        assert!(
            f.iter()
                .all(|f| f.code != "healthcheck_start_period_too_short"),
            "{f:?}"
        );
    }

    #[test]
    fn healthy_from_the_start_has_no_findings() {
        let c = cfg(2000, 3000, 0, 3);
        let probes: Vec<_> = (0..10).map(|i| probe(i * 2000, 20, 0, "")).collect();
        assert!(diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &probes
        })
        .is_empty());
        assert!(diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &[]
        })
        .is_empty());
    }

    #[test]
    fn probes_of_an_earlier_run_are_ignored() {
        let c = cfg(2000, 3000, 0, 3);
        let mut probes = inference_history();
        // The container restarted at +60 s and has passed every probe since.
        let restart = t0() + chrono::Duration::seconds(60);
        probes.extend((0..3).map(|i| probe(60_500 + i * 2000, 20, 0, "")));
        let f = diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(restart),
            probes: &probes,
        });
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn never_passing_is_critical_and_quotes_output() {
        let c = cfg(1000, 1000, 0, 3);
        let probes: Vec<_> = (0..5)
            .map(|i| probe(i * 1000, 5, 1, "connection refused"))
            .collect();
        let f = diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &probes,
        });
        assert_eq!(f[0].code, "healthcheck_never_passed");
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].explanation.contains("connection refused"));
    }

    #[test]
    fn failing_inside_the_start_period_is_only_info() {
        let c = cfg(1000, 1000, 60_000, 3);
        let probes: Vec<_> = (0..5).map(|i| probe(i * 1000, 5, 1, "loading")).collect();
        let f = diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &probes,
        });
        assert_eq!(f[0].code, "healthcheck_never_passed");
        assert_eq!(f[0].severity, Severity::Info);
    }

    #[test]
    fn flapping_is_detected() {
        let c = cfg(1000, 3000, 0, 3);
        let pattern = [0, 0, 1, 0, 1, 1, 0, 1, 0];
        let probes: Vec<_> = pattern
            .iter()
            .enumerate()
            .map(|(i, &e)| probe(i as i64 * 1000, 10, e, ""))
            .collect();
        let f = diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &probes,
        });
        assert!(f.iter().any(|f| f.code == "healthcheck_flapping"), "{f:?}");
    }

    #[test]
    fn slow_passing_probes_raise_the_timeout() {
        let c = cfg(5000, 3000, 0, 3);
        let mut probes = vec![probe(0, 3000, -1, "Health check exceeded timeout (3s)")];
        probes.extend((1..5).map(|i| probe(i * 5000, 2600, 0, "")));
        let f = diagnose(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &probes,
        });
        let tf = f
            .iter()
            .find(|f| f.code == "healthcheck_timeout_too_short")
            .expect("timeout finding");
        assert!(tf.summary.contains("timeout ≥ 6 s"), "{}", tf.summary);
    }

    #[test]
    fn recommendations_round_up_with_headroom() {
        assert_eq!(recommended_start_period_ms(12_000), 30_000);
        assert_eq!(recommended_start_period_ms(6_500), 20_000);
        assert_eq!(recommended_start_period_ms(1_000), 10_000);
        assert_eq!(recommended_timeout_ms(2_600), 6_000);
        assert_eq!(recommended_timeout_ms(100), 3_000);
    }

    #[test]
    fn measure_counts_phases() {
        let c = cfg(2000, 3000, 0, 3);
        let probes = inference_history();
        let t = measure(&Input {
            service: "s",
            config: &c,
            started_at: Some(t0()),
            probes: &probes,
        });
        assert_eq!(t.probes, 12);
        assert_eq!(t.startup_failures, 6);
        assert_eq!(t.timed_out, 6);
        assert_eq!(t.time_to_ready_ms, Some(12_140));
        assert_eq!(t.max_pass_duration_ms, Some(40));
        assert_eq!(t.relapses, 0);
    }
}
