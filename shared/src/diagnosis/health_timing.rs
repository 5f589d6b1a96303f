//! Startup vs healthcheck timing (docs/incidents.md, "Unhealthy while the app is fine"):
//! healthcheck runs that fail while an app is still loading, timeouts too short for the
//! real check, and flapping checks. "Since start" means since the container's latest start:
//! runs before it belong to an earlier life of the container.

use chrono::{DateTime, Utc};

use super::health_fix::{self, Launch, Settings, Timings};
use super::{Finding, FindingCode, Severity};
use crate::api::{HealthcheckConfig, HealthcheckRun};
use crate::duration::human_ms;

/// Everything the timing diagnosis looks at for one container.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// How the container was started: the fixes' form (compose or `docker run` flags).
    pub launch: Launch<'a>,
    pub config: &'a HealthcheckConfig,
    /// When the container last started; runs before it belong to an earlier start.
    pub started_at: Option<DateTime<Utc>>,
    /// Recorded healthcheck runs in any order.
    pub runs: &'a [HealthcheckRun],
}

/// What the history says since the latest start, before any judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Healthcheck runs since the latest start.
    pub runs: usize,
    pub failures: usize,
    /// Failures before the first pass.
    pub startup_failures: usize,
    /// From container start (or the first run) to the end of the first passing run.
    pub time_to_ready_ms: Option<u64>,
    /// Slowest passing run.
    pub max_pass_duration_ms: Option<u64>,
    /// Failed runs that ran into the timeout.
    pub timed_out: usize,
    /// Streaks of failures that started after the container had become ready.
    pub relapses: usize,
    /// Consecutive failures at the end of the history.
    pub trailing_failures: usize,
}

fn ms_between(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    u64::try_from((b - a).num_milliseconds()).unwrap_or(0)
}

/// True when a failed run was cut off by Docker's timeout rather than failing on its own.
pub fn run_timed_out(run: &HealthcheckRun, config: &HealthcheckConfig) -> bool {
    if run.passed() {
        return false;
    }
    let out = run.output.to_ascii_lowercase();
    // Docker writes "Health check exceeded timeout (3s)" with exit code -1.
    out.contains("exceeded timeout")
        || out.contains("timed out")
        || (run.exit_code == -1 && run.duration_ms * 10 >= config.timeout_ms * 9)
}

/// Measures the runs since the latest start, sorted by start time here.
pub fn measure(input: &Input<'_>) -> Timing {
    let mut since_start: Vec<&HealthcheckRun> = input
        .runs
        .iter()
        .filter(|p| input.started_at.is_none_or(|s| p.start >= s))
        .collect();
    since_start.sort_by_key(|p| p.start);

    let origin = input
        .started_at
        .or_else(|| since_start.first().map(|p| p.start));
    let first_pass = since_start.iter().position(|p| p.passed());
    let time_to_ready_ms = match (first_pass, origin) {
        (Some(i), Some(o)) => Some(ms_between(o, since_start[i].end)),
        _ => None,
    };
    let mut relapses = 0;
    if let Some(i) = first_pass {
        for w in since_start[i..].windows(2) {
            if w[0].passed() && !w[1].passed() {
                relapses += 1;
            }
        }
    }
    Timing {
        runs: since_start.len(),
        failures: since_start.iter().filter(|p| !p.passed()).count(),
        startup_failures: first_pass.unwrap_or(since_start.len()),
        time_to_ready_ms,
        max_pass_duration_ms: since_start
            .iter()
            .filter(|p| p.passed())
            .map(|p| p.duration_ms)
            .max(),
        timed_out: since_start
            .iter()
            .filter(|p| run_timed_out(p, input.config))
            .count(),
        relapses,
        trailing_failures: since_start.iter().rev().take_while(|p| !p.passed()).count(),
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

/// A timeout with headroom over the slowest passing run: twice it, whole seconds, at least 3 s.
pub fn recommended_timeout_ms(max_pass_duration_ms: u64) -> u64 {
    round_up(max_pass_duration_ms.saturating_mul(2), 1000).max(3000)
}

/// The healthcheck with the given timings, as a compose block or `docker run` flags.
pub fn timing_snippet(
    launch: Launch<'_>,
    config: &HealthcheckConfig,
    timeout_ms: u64,
    start_period_ms: u64,
    retries: u64,
) -> (String, &'static str) {
    let timings = Timings {
        interval_ms: config.interval_ms,
        timeout_ms,
        start_period_ms,
        retries,
    };
    health_fix::snippet(
        launch,
        &Settings {
            test: &config.test,
            timings: Some(timings),
        },
    )
}

/// A finding with a timing fix in the container's form, and how to apply it.
fn with_timing_fix(
    f: Finding,
    m: &Measured<'_>,
    description: String,
    (timeout_ms, start_period_ms, retries): (u64, u64, u64),
) -> Finding {
    let launch = m.input.launch;
    let (snippet, lang) = timing_snippet(launch, m.cfg, timeout_ms, start_period_ms, retries);
    f.with_fix(
        format!("{description} {}", launch.how_to_apply()),
        Some(snippet),
        Some(lang),
    )
}

/// Runs the timing diagnosis. An empty list means nothing to report yet.
pub fn diagnose(input: &Input<'_>) -> Vec<Finding> {
    let t = measure(input);
    if t.runs == 0 {
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
    /// The timeout to recommend: the configured one unless passing runs come close to it.
    new_timeout: u64,
    /// " N of the failed runs ran into the T timeout." or empty.
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
                " {} of the failed runs ran into the {} timeout.",
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

/// How the container started: ready later than start_period allows, or never passed at all.
fn startup(m: &Measured<'_>) -> Option<Finding> {
    match m.t.time_to_ready_ms {
        Some(ready) if m.t.startup_failures > 0 && ready > m.cfg.start_period_ms => {
            Some(start_period_too_short(m, ready))
        }
        None if m.t.failures == m.t.runs => Some(never_passed(m)),
        _ => None,
    }
}

/// Runs failed while the app was still loading, past the start period.
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
        "The healthcheck fails for the first ~{} after start; start_period is {} and timeout {}: set start_period ≥ {}",
        human_ms(ready),
        human_ms(cfg.start_period_ms),
        human_ms(cfg.timeout_ms),
        human_ms(start_period),
    );
    let explanation = format!(
        "The first {} healthcheck run(s) after the container started failed, and the first passing run finished {} after start. \
         Docker counts failures only after start_period ({}), and it is shorter than the time this app needs to load. {consequence}{timeout_note} \
         The app itself is fine once loaded: the healthcheck timing does not fit its startup time.",
        t.startup_failures,
        human_ms(ready),
        human_ms(cfg.start_period_ms),
    );
    let retries = cfg.retries.max(3);
    with_timing_fix(
        Finding::new(FindingCode::HealthcheckStartPeriodTooShort, severity, summary, explanation),
        m,
        format!(
            "Give the app {} to start before failures count (start_period), keep the check interval.",
            human_ms(start_period)
        ),
        (m.new_timeout, start_period, retries),
    )
}

/// Every run since start failed.
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
    let last = input.runs.iter().max_by_key(|p| p.start);
    let out = last.map(|p| p.output.trim().to_owned()).unwrap_or_default();
    Finding::new(
        FindingCode::HealthcheckNeverPassed,
        severity,
        format!("The healthcheck has not passed once since start ({} runs failed)", t.runs),
        format!(
            "Every run of `{}` failed.{timeout_note} Last output: {}",
            cfg.command_display(),
            if out.is_empty() { "(none)".to_owned() } else { out }
        ),
    )
    .with_fix(
        "Run the check command inside the container to see why it fails; if the app is still loading, raise start_period.",
        Some(format!(
            "{}\n",
            health_fix::exec_command(input.launch.container(), &cfg.test)
        )),
        Some("shell"),
    )
}

/// Runs hit the timeout while passing ones come close to it.
fn timeout_too_short(m: &Measured<'_>) -> Option<Finding> {
    let (cfg, t, new_timeout) = (m.cfg, &m.t, m.new_timeout);
    if !(t.timed_out > 0 && new_timeout > cfg.timeout_ms && t.time_to_ready_ms.is_some()) {
        return None;
    }
    let start_period = cfg
        .start_period_ms
        .max(recommended_start_period_ms(t.time_to_ready_ms.unwrap_or(0)));
    Some(with_timing_fix(
        Finding::new(
            FindingCode::HealthcheckTimeoutTooShort,
            Severity::Warning,
            format!(
                "Passing runs take up to {}, close to the {} timeout: set timeout ≥ {}",
                human_ms(t.max_pass_duration_ms.unwrap_or(0)),
                human_ms(cfg.timeout_ms),
                human_ms(new_timeout)
            ),
            format!("{} run(s) were cut off by the timeout; a busy moment turns a slow pass into a failure.", t.timed_out),
        ),
        m,
        "Raise the timeout to twice the slowest passing run.".to_owned(),
        (new_timeout, start_period, cfg.retries),
    ))
}

/// Failures after the container became ready: flapping, or failing right now.
fn after_ready(m: &Measured<'_>) -> Option<Finding> {
    let (cfg, t, timeout_note) = (m.cfg, &m.t, &m.timeout_note);
    if t.relapses >= 2 {
        Some(with_timing_fix(
            Finding::new(
                FindingCode::HealthcheckFlapping,
                Severity::Warning,
                format!(
                    "The healthcheck flaps: it failed again {} times after the container became ready",
                    t.relapses
                ),
                format!(
                    "{} of {} runs since start failed, in separate streaks of failures.{timeout_note}",
                    t.failures - t.startup_failures,
                    t.runs
                ),
            ),
            m,
            "If failures are timeouts, raise timeout; if they are brief blips, raise retries so one miss does not flip the status.".to_owned(),
            (m.new_timeout, cfg.start_period_ms, cfg.retries.max(3) + 2),
        ))
    } else if t.time_to_ready_ms.is_some() && t.trailing_failures > 0 && t.relapses >= 1 {
        Some(Finding::new(
            FindingCode::HealthcheckFailingNow,
            if t.trailing_failures as u64 >= cfg.retries { Severity::Critical } else { Severity::Warning },
            format!("The last {} run(s) failed after the container had been healthy", t.trailing_failures),
            "The app passed its healthcheck earlier since start and now fails it: look at the check's output and the app's logs.",
        ))
    } else {
        None
    }
}

/// Failures before the first pass that Docker counted (they started after start_period).
fn counted_startup_failures(input: &Input<'_>, t: &Timing) -> u64 {
    let Some(origin) = input
        .started_at
        .or_else(|| input.runs.iter().map(|p| p.start).min())
    else {
        return 0;
    };
    let mut since_start: Vec<&HealthcheckRun> =
        input.runs.iter().filter(|p| p.start >= origin).collect();
    since_start.sort_by_key(|p| p.start);
    since_start
        .iter()
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

    fn run(start_ms: i64, duration_ms: i64, exit_code: i64, output: &str) -> HealthcheckRun {
        let start = t0() + chrono::Duration::milliseconds(start_ms);
        HealthcheckRun {
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
            tools: None,
        }
    }

    /// The slow-loading model server: it needs ~12 s, checked every 2 s with a 3 s timeout.
    fn inference_history() -> Vec<HealthcheckRun> {
        let mut v = Vec::new();
        for i in 0..6 {
            v.push(run(
                i * 2000 + 100,
                3000,
                -1,
                "Health check exceeded timeout (3s)",
            ));
        }
        for i in 6..12 {
            v.push(run(i * 2000 + 100, 40, 0, "ok"));
        }
        v
    }

    #[test]
    fn slow_start_recommends_start_period_with_snippet() {
        let c = cfg(2000, 3000, 0, 3);
        let runs = inference_history();
        let f = diagnose(&Input {
            launch: Launch::Compose {
                service: "inference",
                container: "inference-1",
            },
            config: &c,
            started_at: Some(t0()),
            runs: &runs,
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
                .contains("6 of the failed runs ran into the 3 s timeout"),
            "{}",
            first.explanation
        );
    }

    #[test]
    fn failures_inside_start_period_are_only_a_warning() {
        // Ready after ~12 s with start_period 10 s: only one failure counts.
        let c = cfg(2000, 3000, 10_000, 3);
        let runs = inference_history();
        let f = diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &runs,
        });
        assert_eq!(f[0].code, "healthcheck_start_period_too_short");
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn ready_within_start_period_is_fine() {
        let c = cfg(2000, 3000, 30_000, 3);
        let runs = inference_history();
        let f = diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &runs,
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
        let runs: Vec<_> = (0..10).map(|i| run(i * 2000, 20, 0, "")).collect();
        assert!(diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &runs
        })
        .is_empty());
        assert!(diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &[]
        })
        .is_empty());
    }

    #[test]
    fn runs_before_the_latest_start_are_ignored() {
        let c = cfg(2000, 3000, 0, 3);
        let mut runs = inference_history();
        // The container restarted at +60 s and has passed every run since.
        let restart = t0() + chrono::Duration::seconds(60);
        runs.extend((0..3).map(|i| run(60_500 + i * 2000, 20, 0, "")));
        let f = diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(restart),
            runs: &runs,
        });
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn never_passing_is_critical_and_quotes_output() {
        let c = cfg(1000, 1000, 0, 3);
        let runs: Vec<_> = (0..5)
            .map(|i| run(i * 1000, 5, 1, "connection refused"))
            .collect();
        let f = diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &runs,
        });
        assert_eq!(f[0].code, "healthcheck_never_passed");
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].explanation.contains("connection refused"));
    }

    #[test]
    fn failing_inside_the_start_period_is_only_info() {
        let c = cfg(1000, 1000, 60_000, 3);
        let runs: Vec<_> = (0..5).map(|i| run(i * 1000, 5, 1, "loading")).collect();
        let f = diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &runs,
        });
        assert_eq!(f[0].code, "healthcheck_never_passed");
        assert_eq!(f[0].severity, Severity::Info);
    }

    #[test]
    fn flapping_is_detected() {
        let c = cfg(1000, 3000, 0, 3);
        let pattern = [0, 0, 1, 0, 1, 1, 0, 1, 0];
        let runs: Vec<_> = pattern
            .iter()
            .enumerate()
            .map(|(i, &e)| run(i as i64 * 1000, 10, e, ""))
            .collect();
        let f = diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &runs,
        });
        assert!(f.iter().any(|f| f.code == "healthcheck_flapping"), "{f:?}");
    }

    #[test]
    fn slow_passing_runs_raise_the_timeout() {
        let c = cfg(5000, 3000, 0, 3);
        let mut runs = vec![run(0, 3000, -1, "Health check exceeded timeout (3s)")];
        runs.extend((1..5).map(|i| run(i * 5000, 2600, 0, "")));
        let f = diagnose(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &runs,
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
        let runs = inference_history();
        let t = measure(&Input {
            launch: Launch::DockerRun { container: "s" },
            config: &c,
            started_at: Some(t0()),
            runs: &runs,
        });
        assert_eq!(t.runs, 12);
        assert_eq!(t.startup_failures, 6);
        assert_eq!(t.timed_out, 6);
        assert_eq!(t.time_to_ready_ms, Some(12_140));
        assert_eq!(t.max_pass_duration_ms, Some(40));
        assert_eq!(t.relapses, 0);
    }
}
