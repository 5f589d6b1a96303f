//! Everything Vantage concludes about one container: its state and its healthcheck timing.

use super::{health_timing, sort_findings, Finding, FindingCode, Severity};
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
    if c.health == HealthStatus::Unhealthy {
        let last = runs
            .iter()
            .max_by_key(|p| p.start)
            .map(|p| p.output.trim().to_owned())
            .unwrap_or_default();
        findings.push(Finding::new(
            FindingCode::ContainerUnhealthy,
            Severity::Critical,
            format!(
                "`{}` is unhealthy ({} failed healthcheck runs in a row)",
                c.name, c.failing_streak
            ),
            if last.is_empty() {
                "Its healthcheck fails.".to_owned()
            } else {
                format!("Its healthcheck fails; last output: {last}")
            },
        ));
    }
    if let Some(cfg) = &c.healthcheck {
        let service = c.compose_service.as_deref().unwrap_or(&c.name);
        findings.extend(health_timing::diagnose(&health_timing::Input {
            service,
            config: cfg,
            started_at: c.started_at,
            runs,
        }));
    }
    sort_findings(&mut findings);
    findings
}
