//! Loaded firewall rules, the live read of the host's firewall, and the question
//! asked of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `GET /api/rules`: one loaded rules file (a CLI output pasted, uploaded or named in the
/// config) with the rule sets parsed from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadedRules {
    /// `db-3` for uploads (deletable), `file-1` for `rules_files` in the config.
    pub id: String,
    pub name: String,
    /// `dashboard` or the config file path.
    pub source: String,
    pub loaded_at: DateTime<Utc>,
    pub sets: Vec<crate::rules::RuleSet>,
}

/// One command the agent ran to read the host's firewall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostCommandResult {
    /// `iptables-save`, `ip6tables-save` or `nft -j list ruleset`.
    pub command: String,
    pub ok: bool,
    /// "3 table(s)", "not installed", or the command's own error.
    pub message: String,
}

/// `POST /api/rules/host`: the host's own firewall, read live by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostFirewallRead {
    pub read_at: DateTime<Utc>,
    /// One sentence: what was read, or why nothing could be and what to do instead.
    pub summary: String,
    pub commands: Vec<HostCommandResult>,
    /// The rules read (id `host`), also listed by `GET /api/rules` from now on.
    pub loaded: Option<LoadedRules>,
}

/// `POST /api/rules/evaluate`: would this source be allowed?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RulesQuestion {
    /// The client address, IPv4 or IPv6.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::ip_address))]
    pub source: String,
    /// `tcp` (default), `udp` or `icmp`, in any case.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^([tT][cC][pP]|[uU][dD][pP]|[iI][cC][mM][pP])$")
    )]
    pub protocol: Option<String>,
    /// Destination port; needed for tcp and udp, ignored for icmp.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub port: Option<u16>,
    /// Only these rule sets apply (ids from `GET /api/rules`; at most 64, each up to 300
    /// characters); empty: every loaded set. An id that is not loaded, or that two loaded
    /// files both have, is a `400` naming it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_items = 64,
            max_length = 300,
            pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
        )
    )]
    pub sets: Vec<String>,
    /// What the destination is (GCP tags and service accounts, Azure ASGs, its address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<crate::rules::DestinationInfo>,
}
