//! `vantage check` from this host: the config's targets probed with the agent's own engine,
//! the containers Docker has (with Docker's last 5 healthcheck runs), and the
//! `[[checks.rules]]` against the rules files the config loads.

use std::time::Instant;

use futures_util::{stream, StreamExt};
use vantage_shared::check::CheckReport;
use vantage_shared::check::{judge_rule, judge_target, CheckResult};
use vantage_shared::diagnosis::container;
use vantage_shared::probe::Target;

use crate::config::{default_docker_host, CheckArgs, FileConfig};
use crate::probe::{probe_target, ProbeContext};
use crate::rules::Rules;

/// Probes at once: a config of many targets finishes in a few probe deadlines.
const PROBES_AT_ONCE: usize = 8;

pub(super) async fn run(args: &CheckArgs) -> anyhow::Result<CheckReport> {
    let (started, started_at) = (Instant::now(), chrono::Utc::now());
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let targets = file.checked_targets()?;
    let rule_checks = file.checked_rule_checks()?;
    let rules = if rule_checks.is_empty() {
        Rules::default()
    } else {
        let loaded = crate::rules::load_files(&file.rules_files)?;
        let rules = Rules::from_loaded(loaded);
        if file.read_host_firewall {
            rules.read_host().await;
        }
        if rules.is_empty() {
            anyhow::bail!(
                "[[checks.rules]] needs rules to ask: name exports in rules_files or set read_host_firewall = true"
            );
        }
        rules
    };

    let mut checks = probe_all(&targets).await;
    let endpoint = args
        .docker_host
        .clone()
        .or(file.docker_host.clone())
        .unwrap_or_else(default_docker_host);
    let found = crate::docker::snapshot::snapshot(&endpoint)
        .await
        .map(|list| {
            list.into_iter()
                .map(|(c, runs)| {
                    let mut findings = container::diagnose(&c, &runs);
                    findings.extend(caught_running(&c, chrono::Utc::now()));
                    (c, findings)
                })
                .collect()
        });
    let (containers, notes) = super::container_checks(found, file.checks.containers.as_deref())?;
    checks.extend(containers);
    for check in &rule_checks {
        let verdict = rules
            .answer(check.question())
            .map_err(|e| anyhow::anyhow!("[[checks.rules]] `{}`: {e}", check.display_name()))?;
        checks.push(judge_rule(&check.display_name(), check.expect, &verdict));
    }
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(super::report(host, started, started_at, notes, checks))
}

/// Every target probed, in config order.
async fn probe_all(targets: &[Target]) -> Vec<CheckResult> {
    let ctx = ProbeContext::default();
    stream::iter(targets)
        .map(|t| {
            let ctx = &ctx;
            async move {
                let began = Instant::now();
                let probe = probe_target(t, ctx).await;
                let ms = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
                judge_target(t, &probe, ms)
            }
        })
        .buffered(PROBES_AT_ONCE)
        .collect()
        .await
}

/// A crash-looping container seen in one of its short runs looks fine in `docker inspect`
/// but for its restart count and a recent exit. The agent reads the loop from stored
/// events; from here, those two fields are the evidence.
fn caught_running(
    c: &vantage_shared::ContainerSummary,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<vantage_shared::diagnosis::Finding> {
    use vantage_shared::diagnosis::restarts::{exit_meaning, LOOP_MINUTES, LOOP_RESTARTS};
    use vantage_shared::diagnosis::{Finding, FindingCode, Severity};
    let (finished, started) = (c.finished_at?, c.started_at?);
    // Both the last exit and this run's start within the window: a container that crashed
    // three times over weeks and now runs for hours is not looping.
    let window = chrono::Duration::minutes(LOOP_MINUTES);
    let recent = now - finished < window && now - started < window;
    if c.state != vantage_shared::ContainerState::Running
        || c.restart_count < LOOP_RESTARTS as u64
        || !recent
    {
        return None;
    }
    let code = c.exit_code.unwrap_or(0);
    Some(Finding::new(
        FindingCode::ContainerRestarting,
        Severity::Critical,
        format!(
            "`{}` runs now, but its restart policy has restarted it {} times; the last exit, {} s ago, had code {code}: {}",
            c.name,
            c.restart_count,
            (now - finished).num_seconds(),
            exit_meaning(code, false)
        ),
        "The main process keeps exiting and Docker starts it again. `docker logs` shows why it exits; the agent's stored events (`vantage check --agent`) show how often.",
    ))
}
