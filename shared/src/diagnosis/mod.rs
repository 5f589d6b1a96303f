//! Diagnoses: small pure functions that turn observations into findings a person can act on.
//! Every [`Finding`] is made here; its code comes from the registry in [`codes`].

pub mod agent_probe;
pub mod codes;
pub mod connectivity;
pub mod container;
pub(crate) mod cors;
pub mod cors_snippet;
pub mod health_fix;
pub mod health_probe;
pub mod health_timing;
pub mod page_origin;
pub mod proxy_view;
pub mod restarts;
pub mod target_history;
pub mod vantage_points;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use codes::FindingCode;

/// How bad a finding is. Ordered so that sorting descending puts the worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Checked and fine.
    Ok,
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A suggested change, with a snippet to paste where one exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fix {
    /// What to do, in one or two sentences.
    pub description: String,
    /// Text to paste (a compose snippet, a shell command).
    pub snippet: Option<String>,
    /// `yaml`, `shell`…, for highlighting and the copy button's label.
    pub snippet_language: Option<String>,
}

/// The result of one diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Stable identifier, e.g. `healthcheck_start_period_too_short` (docs/findings.md).
    pub code: FindingCode,
    pub severity: Severity,
    /// One line, plain language, with the numbers that matter.
    pub summary: String,
    /// Why this happens and what the evidence was.
    pub explanation: String,
    pub fix: Option<Fix>,
}

impl Finding {
    pub fn new(
        code: FindingCode,
        severity: Severity,
        summary: impl Into<String>,
        explanation: impl Into<String>,
    ) -> Self {
        Self {
            code,
            severity,
            summary: summary.into(),
            explanation: explanation.into(),
            fix: None,
        }
    }

    pub fn with_fix(
        mut self,
        description: impl Into<String>,
        snippet: Option<String>,
        language: Option<&str>,
    ) -> Self {
        self.fix = Some(Fix {
            description: description.into(),
            snippet,
            snippet_language: language.map(str::to_owned),
        });
        self
    }
}

/// Sorts findings worst first, keeping the diagnosis order among equals.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
}
