//! Everything Vantage concludes about one container: its state, a healthcheck command
//! that cannot run, and its healthcheck timing.

use super::health_fix::Launch;
use super::{health_probe, health_timing, sort_findings, Finding, FindingCode, Severity};
use crate::api::{ContainerState, ContainerSummary, HealthStatus, HealthcheckRun};

/// Findings for one container, worst first. `runs` is its recorded healthcheck history.
pub fn diagnose(c: &ContainerSummary, runs: &[HealthcheckRun]) -> Vec<Finding> {
    let mut findings = Vec::new();
    match c.state {
        ContainerState::Restarting => findings.push(Finding::new(
            FindingCode::ContainerRestarting,
            Severity::Critical,
            format!("`{}` is restarting (restart count {})", c.name, c.restart_count),
            "The main process keeps exiting and Docker's restart policy starts it again. Its logs (`docker logs`) say why it exits.",
        )),
        ContainerState::Exited | ContainerState::Dead if c.exit_code.is_some_and(|e| e != 0) => {
            let code = c.exit_code.unwrap_or(0);
            let meaning = super::restarts::exit_meaning(code, false);
            findings.push(Finding::new(
                FindingCode::ContainerExitedWithError,
                if code == 143 { Severity::Info } else { Severity::Warning },
                format!("`{}` exited with code {code}: {meaning}", c.name),
                "The container is not running. Its last log lines usually say why.",
            ));
        }
        _ => {}
    }
    let launch = Launch::of(c);
    // A check that cannot run explains the unhealthy status and every failed run: it gets
    // the one critical finding, and the timing findings (which read failures as the app's)
    // stay out.
    let broken_check = c.healthcheck.as_ref().and_then(|config| {
        health_probe::diagnose(&health_probe::Input {
            launch,
            config,
            started_at: c.started_at,
            runs,
            ports: &c.ports,
            unhealthy: c.health == HealthStatus::Unhealthy,
        })
    });
    if c.health == HealthStatus::Unhealthy {
        let last = runs
            .iter()
            .max_by_key(|p| p.start)
            .map(|p| p.output.trim().to_owned())
            .unwrap_or_default();
        let (severity, explanation) = match (&broken_check, last.is_empty()) {
            (Some(_), _) => (
                Severity::Warning,
                "Its healthcheck command cannot run, so this says nothing about the app: see the healthcheck finding.".to_owned(),
            ),
            (None, true) => (Severity::Critical, "Its healthcheck fails.".to_owned()),
            (None, false) => (
                Severity::Critical,
                format!("Its healthcheck fails; last output: {last}"),
            ),
        };
        findings.push(Finding::new(
            FindingCode::ContainerUnhealthy,
            severity,
            format!(
                "`{}` is unhealthy ({} failed healthcheck runs in a row)",
                c.name, c.failing_streak
            ),
            explanation,
        ));
    }
    match (broken_check, &c.healthcheck) {
        (Some(f), _) => findings.push(f),
        (None, Some(cfg)) => findings.extend(health_timing::diagnose(&health_timing::Input {
            launch,
            config: cfg,
            started_at: c.started_at,
            runs,
        })),
        (None, None) => {}
    }
    sort_findings(&mut findings);
    findings
}
