//! `vantage check` and `vantage config check`: one run of every configured check for cron
//! and CI, from this host (`local.rs`) or by asking a running agent (`remote.rs`), printed
//! as text, JSON or JUnit (`render.rs`). Exit codes: 0 all pass (warnings included), 1 any
//! fails, 2 the config is bad or the checks cannot run.

mod local;
mod remote;
mod render;

use std::path::Path;
use std::process::ExitCode;

use vantage_shared::check::{judge_container, CheckKind, CheckReport, CheckResult, CheckStatus};
use vantage_shared::diagnosis::Finding;
use vantage_shared::{ContainerState, ContainerSummary};

use crate::config::{CheckArgs, FileConfig};

/// Every check passed (warnings do not count).
pub const EXIT_PASS: u8 = 0;
/// At least one check failed.
pub const EXIT_FAIL: u8 = 1;
/// The config is bad, or the checks could not run (Docker or the agent unreachable when
/// needed, a rules question that cannot be asked).
pub const EXIT_CANNOT_RUN: u8 = 2;

/// Runs the checks, prints the report, and says how the process should exit.
pub async fn run(args: CheckArgs) -> ExitCode {
    let format = args.format;
    let report = match &args.agent {
        Some(url) => remote::run(url, &args).await,
        None => local::run(&args).await,
    };
    match report {
        Ok(report) => {
            if let Err(e) = render::print(&report, format) {
                eprintln!("vantage check: cannot write the report: {e}");
                return ExitCode::from(EXIT_CANNOT_RUN);
            }
            ExitCode::from(if report.status == CheckStatus::Fail {
                EXIT_FAIL
            } else {
                EXIT_PASS
            })
        }
        Err(e) => {
            eprintln!("vantage check: {e:#}");
            ExitCode::from(EXIT_CANNOT_RUN)
        }
    }
}

/// `vantage config check FILE`: parses and checks everything the agent and `vantage check`
/// would, without starting either.
pub fn config_check(path: &Path) -> ExitCode {
    match validate(path) {
        Ok(summary) => {
            println!("{}: ok ({summary})", path.display());
            ExitCode::from(EXIT_PASS)
        }
        Err(e) => {
            eprintln!("{}: {e:#}", path.display());
            ExitCode::from(EXIT_CANNOT_RUN)
        }
    }
}

fn validate(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let file = FileConfig::parse(&text)?;
    let targets = file.checked_targets()?;
    let rules = file.checked_rule_checks()?;
    // The same checks `vantage serve` makes before it starts.
    crate::config::Config::resolve(crate::config::ServeArgs {
        config: Some(path.to_owned()),
        ..Default::default()
    })?;
    let loaded = crate::rules::load_files(&file.rules_files)?;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    Ok(format!(
        "{}, {}, {}",
        plural(targets.len(), "target"),
        plural(rules.len(), "rule check"),
        plural(loaded.len(), "rules file")
    ))
}

/// The container checks from what Docker has (`Err`: why it cannot be reached) and the
/// names the config asks for; with names, Docker must answer (else the run cannot go on),
/// and a missing container fails. Returns the results and notes for the report.
pub(crate) fn container_checks(
    found: Result<Vec<(ContainerSummary, Vec<Finding>)>, String>,
    wanted: Option<&[String]>,
) -> anyhow::Result<(Vec<CheckResult>, Vec<String>)> {
    let found = match (found, wanted) {
        (Ok(found), _) => found,
        (Err(why), Some(_)) => {
            anyhow::bail!("the config names containers, but Docker cannot be reached: {why}")
        }
        (Err(why), None) => {
            return Ok((
                vec![],
                vec![format!(
                    "Docker cannot be reached ({why}): no containers were checked"
                )],
            ));
        }
    };
    let Some(wanted) = wanted else {
        // Unnamed, a container someone stopped (or never started) is not a failure: only
        // those that run, crash-loop, died or crashed on their own are judged.
        let (judged, stopped): (Vec<_>, Vec<_>) =
            found.iter().partition(|(c, _)| !stopped_on_purpose(c));
        let results = judged.iter().map(|(c, f)| judge_container(c, f)).collect();
        let notes = if stopped.is_empty() {
            vec![]
        } else {
            vec![format!(
                "{} stopped container{} not checked (created, or exited with 0 or 143 = SIGTERM); name them in [checks] containers to require them",
                stopped.len(),
                if stopped.len() == 1 { "" } else { "s" }
            )]
        };
        return Ok((results, notes));
    };
    let results = wanted
        .iter()
        .map(|name| match found.iter().find(|(c, _)| &c.name == name) {
            Some((c, f)) => judge_container(c, f),
            None => CheckResult {
                kind: CheckKind::Container,
                name: name.clone(),
                status: CheckStatus::Fail,
                summary: "no container with this name (docker ps -a does not list it)".into(),
                duration_ms: None,
                findings: vec![],
            },
        })
        .collect();
    Ok((results, vec![]))
}

/// Created but never started, finished cleanly, or ended by SIGTERM (`docker stop`).
fn stopped_on_purpose(c: &ContainerSummary) -> bool {
    match c.state {
        ContainerState::Created => true,
        ContainerState::Exited => matches!(c.exit_code, Some(0) | Some(143)),
        _ => false,
    }
}

/// A finished report.
pub(crate) fn report(
    from: String,
    started: std::time::Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    notes: Vec<String>,
    checks: Vec<CheckResult>,
) -> CheckReport {
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    CheckReport::new(from, started_at, ms, notes, checks)
}
