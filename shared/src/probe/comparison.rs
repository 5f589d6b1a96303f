//! The comparison: every vantage point's result for a target side by side, with what the
//! loaded firewall rules say about each device's address.

use serde::{Deserialize, Serialize};

use super::*;
use crate::diagnosis::Finding;

/// One vantage point's result for a target, in the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceResult {
    pub device_id: String,
    pub client_ip: String,
    pub user_agent: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub verdict: ReachVerdict,
    /// What the browser found. Results stored before this field had its name carry it
    /// as `probe`.
    #[serde(alias = "probe")]
    pub check: BrowserCheck,
    /// What the loaded security-group/firewall rules say about `client_ip` on the target's
    /// port; filled in when the comparison is built, absent when no rules are loaded.
    #[serde(default)]
    pub rules: Option<RulesVerdict>,
    /// The origin of the page that ran the checks (the phone page's: the agent's address).
    /// Its `cors` fetch tested CORS for this origin (`diagnosis::page_origin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_origin: Option<String>,
}

/// Hook for the security-group and firewall verdicts: what the loaded rules say about one
/// source address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RulesVerdict {
    pub source_ip: String,
    pub admitted: bool,
    /// "no inbound rule admits 203.0.113.7 on tcp/443; rules admit only 198.51.100.0/24".
    pub summary: String,
    /// When the rules refuse it: the rule to add to the first refusing set, naming it (the
    /// security group's id, the firewall's name), as the Firewall page gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<crate::rules::RuleFix>,
}

/// One target's row in the comparison: the agent's view next to every device's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetComparison {
    pub target: Target,
    pub agent: Option<AgentProbe>,
    pub devices: Vec<DeviceResult>,
    pub findings: Vec<Finding>,
}

/// `GET /api/comparison` (admin), and the phone's own view in `POST /api/reports`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    pub targets: Vec<TargetComparison>,
    /// Whether security-group/firewall rules are loaded.
    pub rules_loaded: bool,
}
