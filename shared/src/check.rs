//! `vantage check`: one run of every configured check, for cron and CI. The report's types
//! (its JSON is a documented, versioned format: docs/check.md) and the pure judgement of
//! each check: a target probe, a container's state and findings, a firewall question
//! against its expected answer.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::{ContainerState, ContainerSummary};
use crate::diagnosis::{Finding, Severity};
use crate::probe::{AgentProbe, ReachVerdict, Target};
use crate::rules::{Outcome, Verdict};

/// The report format's version: a new field keeps it, a changed or removed one bumps it.
pub const REPORT_VERSION: u32 = 1;

/// How one check (or the whole run) came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// As expected, nothing to mention.
    Pass,
    /// As expected, with warnings worth reading (they do not fail the run).
    Warn,
    /// Not as expected: the run exits 1.
    Fail,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// What was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// A `[[targets]]` entry, probed (DNS, TCP, TLS, HTTP, CORS).
    Target,
    /// A container: its state, health and diagnoses.
    Container,
    /// A `[[checks.rules]]` question against the loaded firewall rules.
    Rule,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Target => "target",
            Self::Container => "container",
            Self::Rule => "rule",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckResult {
    pub kind: CheckKind,
    /// The target's or container's name, or the rule check's name.
    pub name: String,
    pub status: CheckStatus,
    /// One line: what was found.
    pub summary: String,
    /// How long the check took, when it did work of its own (a probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Findings behind the status, worst first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckCounts {
    pub pass: u32,
    pub warn: u32,
    pub fail: u32,
}

/// The whole run: `vantage check --format json` prints this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckReport {
    /// [`REPORT_VERSION`].
    pub version: u32,
    /// Where the checks ran from: this host's name, or the agent's URL with `--agent`.
    pub from: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// `fail` when any check failed, else `warn` when any warned, else `pass`.
    pub status: CheckStatus,
    pub counts: CheckCounts,
    /// Notes about the run itself, e.g. that Docker was not reachable and no container was
    /// named, so containers were skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Targets, then containers, then rule checks, each in config order.
    pub checks: Vec<CheckResult>,
}

impl CheckReport {
    /// A report of `checks`, with its status and counts.
    pub fn new(
        from: String,
        started_at: DateTime<Utc>,
        duration_ms: u64,
        notes: Vec<String>,
        checks: Vec<CheckResult>,
    ) -> Self {
        let mut counts = CheckCounts::default();
        for c in &checks {
            match c.status {
                CheckStatus::Pass => counts.pass += 1,
                CheckStatus::Warn => counts.warn += 1,
                CheckStatus::Fail => counts.fail += 1,
            }
        }
        let status = checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Pass);
        Self {
            version: REPORT_VERSION,
            from,
            started_at,
            duration_ms,
            status,
            counts,
            notes,
            checks,
        }
    }
}

/// The status `findings` give a check that otherwise passed: a critical one fails it, a
/// warning makes it `warn`.
fn status_of(findings: &[Finding]) -> CheckStatus {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Critical) => CheckStatus::Fail,
        Some(Severity::Warning) => CheckStatus::Warn,
        _ => CheckStatus::Pass,
    }
}

fn serious(findings: &[Finding]) -> Vec<Finding> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .cloned()
        .collect()
}

/// A target passes when the probe reached it as expected (status, and CORS for the origin
/// it names) with no critical finding. A target without `cors_origin` is checked for
/// reachability only: the probe's CORS evaluation for a stand-in origin decides nothing.
pub fn judge_target(target: &Target, probe: &AgentProbe, duration_ms: u64) -> CheckResult {
    let judge_cors = target
        .cors_origin
        .as_deref()
        .is_some_and(|o| !o.trim().is_empty());
    let findings: Vec<Finding> = probe
        .findings
        .iter()
        .filter(|f| judge_cors || !f.code.as_str().starts_with("cors_"))
        .cloned()
        .collect();
    let reached = match probe.verdict {
        ReachVerdict::Reachable => true,
        ReachVerdict::CorsBlocked => !judge_cors,
        _ => false,
    };
    CheckResult {
        kind: CheckKind::Target,
        name: target.name.clone(),
        status: if reached {
            status_of(&findings)
        } else {
            CheckStatus::Fail
        },
        summary: probe.summary.clone(),
        duration_ms: Some(duration_ms),
        findings: serious(&findings),
    }
}

/// A container passes while it runs (or finished with code 0) with no critical finding.
pub fn judge_container(c: &ContainerSummary, findings: &[Finding]) -> CheckResult {
    let state = match (c.state, c.exit_code) {
        (ContainerState::Running, _) => format!("running, {}", c.health),
        (s, Some(code)) => format!("{} (exit code {code})", s.as_str()),
        (s, None) => s.as_str().to_owned(),
    };
    let state = state.replace(", none", "");
    // Running, paused, or a one-shot job that finished cleanly is fine; anything else fails.
    let fine = match c.state {
        ContainerState::Running | ContainerState::Paused => true,
        ContainerState::Exited => c.exit_code == Some(0),
        _ => false,
    };
    let status = if fine {
        status_of(findings)
    } else {
        CheckStatus::Fail
    };
    let summary = match findings.first() {
        Some(f) if f.severity >= Severity::Warning => format!("{state}: {}", f.summary),
        _ => state,
    };
    CheckResult {
        kind: CheckKind::Container,
        name: c.name.clone(),
        status,
        summary,
        duration_ms: None,
        findings: serious(findings),
    }
}

/// A rule check passes when the rules give the expected answer; `unknown` never passes.
pub fn judge_rule(name: &str, expect: Outcome, verdict: &Verdict) -> CheckResult {
    let q = &verdict.question;
    let got = verdict.outcome;
    let asked = format!("{} → {}", q.source, q.traffic());
    // The default name is the question itself; a chosen name gets the question added.
    let prefix = if name == asked {
        String::new()
    } else {
        format!("{asked}: ")
    };
    let summary = if got == expect {
        format!("{prefix}{} as expected", got.as_str())
    } else {
        format!(
            "{prefix}{}, expected {}. {}",
            got.as_str(),
            expect.as_str(),
            verdict.explanation
        )
    };
    CheckResult {
        kind: CheckKind::Rule,
        name: name.to_owned(),
        status: if got == expect {
            CheckStatus::Pass
        } else {
            CheckStatus::Fail
        },
        summary,
        duration_ms: None,
        findings: vec![],
    }
}

/// One `[[checks.rules]]` entry: a firewall question and the answer it must get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCheck {
    /// What the report calls it [default: `source → protocol/port`].
    #[serde(default)]
    pub name: Option<String>,
    /// The client address, IPv4 or IPv6.
    pub source: String,
    /// `tcp` (default), `udp` or `icmp`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Destination port; needed for tcp and udp.
    #[serde(default)]
    pub port: Option<u16>,
    /// Only these loaded rule sets apply (empty: all).
    #[serde(default)]
    pub sets: Vec<String>,
    /// What the destination is (GCP tags, Azure ASGs, its address).
    #[serde(default)]
    pub destination: Option<crate::rules::DestinationInfo>,
    /// `allowed` or `denied`.
    pub expect: Outcome,
}

impl RuleCheck {
    /// The name in the report.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let proto = self
                .protocol
                .as_deref()
                .unwrap_or("tcp")
                .to_ascii_lowercase();
            match self.port {
                Some(p) => format!("{} → {proto}/{p}", self.source),
                None => format!("{} → {proto}", self.source),
            }
        })
    }

    /// The API's question (`POST /api/rules/evaluate`), which the agent answers the same
    /// way from here or over HTTP.
    pub fn question(&self) -> crate::api::RulesQuestion {
        crate::api::RulesQuestion {
            source: self.source.clone(),
            protocol: self.protocol.clone(),
            port: self.port,
            sets: self.sets.clone(),
            destination: self.destination.clone(),
        }
    }

    /// Checks what parsing cannot: a usable expectation.
    pub fn validate(&self) -> Result<(), String> {
        if self.expect == Outcome::Unknown {
            return Err(format!(
                "`{}`: expect must be `allowed` or `denied`",
                self.display_name()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::FindingCode;

    fn finding(severity: Severity) -> Finding {
        Finding::new(FindingCode::ContainerUnhealthy, severity, "s", "e")
    }

    #[test]
    fn the_worst_check_decides_the_run() {
        let check = |status| CheckResult {
            kind: CheckKind::Target,
            name: "t".into(),
            status,
            summary: String::new(),
            duration_ms: None,
            findings: vec![],
        };
        let r = CheckReport::new("h".into(), Utc::now(), 1, vec![], vec![]);
        assert_eq!(r.status, CheckStatus::Pass);
        let r = CheckReport::new(
            "h".into(),
            Utc::now(),
            1,
            vec![],
            vec![
                check(CheckStatus::Pass),
                check(CheckStatus::Warn),
                check(CheckStatus::Pass),
            ],
        );
        assert_eq!(
            (r.status, r.counts.pass, r.counts.warn),
            (CheckStatus::Warn, 2, 1)
        );
        let r = CheckReport::new(
            "h".into(),
            Utc::now(),
            1,
            vec![],
            vec![check(CheckStatus::Fail), check(CheckStatus::Warn)],
        );
        assert_eq!(r.status, CheckStatus::Fail);
    }

    #[test]
    fn findings_set_a_passing_checks_status() {
        assert_eq!(status_of(&[]), CheckStatus::Pass);
        assert_eq!(status_of(&[finding(Severity::Info)]), CheckStatus::Pass);
        assert_eq!(status_of(&[finding(Severity::Warning)]), CheckStatus::Warn);
        assert_eq!(
            status_of(&[finding(Severity::Warning), finding(Severity::Critical)]),
            CheckStatus::Fail
        );
    }

    #[test]
    fn a_rule_check_reads_strictly_and_names_itself() {
        let c: RuleCheck = serde_json::from_str(
            r#"{"source": "203.0.113.7", "protocol": "tcp", "port": 443, "expect": "allowed"}"#,
        )
        .unwrap();
        assert_eq!(c.display_name(), "203.0.113.7 → tcp/443");
        assert!(c.validate().is_ok());
        let err = serde_json::from_str::<RuleCheck>(
            r#"{"source": "1.2.3.4", "expect": "allowed", "prot": 1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `prot`"), "{err}");
        let unknown: RuleCheck =
            serde_json::from_str(r#"{"source": "1.2.3.4", "expect": "unknown"}"#).unwrap();
        assert!(unknown.validate().unwrap_err().contains("allowed"));
    }

    #[test]
    fn containers_pass_while_running_or_after_a_clean_exit() {
        let json = serde_json::json!({
            "id": "abc", "name": "api", "image": "x", "state": "running", "status": "",
            "health": "healthy", "failing_streak": 0, "created": null, "started_at": null,
            "finished_at": null, "exit_code": null, "restart_count": 0, "ports": [],
            "networks": [], "healthcheck": null, "compose_project": null, "compose_service": null
        });
        let running: ContainerSummary = serde_json::from_value(json).unwrap();
        let r = judge_container(&running, &[]);
        assert_eq!(
            (r.status, r.summary.as_str()),
            (CheckStatus::Pass, "running, healthy")
        );
        let warned = judge_container(&running, &[finding(Severity::Warning)]);
        assert_eq!(warned.status, CheckStatus::Warn);
        assert_eq!(warned.summary, "running, healthy: s");
        let job = ContainerSummary {
            state: ContainerState::Exited,
            exit_code: Some(0),
            ..running.clone()
        };
        assert_eq!(judge_container(&job, &[]).status, CheckStatus::Pass);
        let crashed = ContainerSummary {
            exit_code: Some(139),
            ..job
        };
        let r = judge_container(&crashed, &[]);
        assert_eq!(
            (r.status, r.summary.as_str()),
            (CheckStatus::Fail, "exited (exit code 139)")
        );
    }
}
