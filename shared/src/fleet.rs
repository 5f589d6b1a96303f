//! Many agents, one dashboard: the agent list's URLs, the question the dashboard asks
//! its own agent when another one cannot be reached (`POST /api/fleet/check`), and why
//! it could not be reached, in Vantage's words, from that agent's probe with Vantage's
//! own CORS evaluation for the dashboard's origin.

use serde::{Deserialize, Serialize};

use crate::probe::{AgentProbe, ReachVerdict};

/// `POST /api/fleet/check` body: another agent's base URL, as the Fleet page has it. The
/// answer is this agent's probe of that agent's `/api/health`, with CORS evaluated for the
/// origin of the dashboard asking and the `Authorization` header it sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FleetCheck {
    /// `http(s)://host[:port]`, e.g. `http://10.0.0.7:8787`: no path, query or user; an
    /// IPv6 address in brackets; the port a number up to 65535.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 300, pattern = "^https?://[^/?#@\\s]+/?$")
    )]
    pub url: String,
}

/// An agent's base URL as the agent list keeps it, which is also the shape of a web origin
/// (`--cors-allow-origin`): `http(s)://host[:port]`, without a trailing slash; an error
/// says what is wrong.
pub fn check_agent_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    if url.chars().count() > 300 {
        return Err("the URL is longer than 300 characters".to_owned());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| "the URL must start with http:// or https://".to_owned())?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    if authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(
            "give the base URL alone (http(s)://host[:port]), without a path, query or user"
                .to_owned(),
        );
    }
    let (host, port) = crate::host::split_host_port(authority)
        .map_err(|_| "the host is not valid (an IPv6 address goes in brackets)".to_owned())?;
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err("the port must be a number from 0 to 65535".to_owned());
    }
    Ok(url.strip_suffix('/').unwrap_or(url).to_owned())
}

/// Why the dashboard at `origin` cannot use the agent at `url`, from the probe its own
/// agent made of that agent (`POST /api/fleet/check`), in a sentence a person can act on.
pub fn unreachable_reason(url: &str, origin: &str, probe: &AgentProbe) -> String {
    match probe.verdict {
        ReachVerdict::Refused => format!(
            "Nothing answers at {url} (connection refused): the agent is not running, or it listens on another address or port."
        ),
        ReachVerdict::TimedOut => format!(
            "No answer from {url} (timed out): a firewall drops the connection, or the address is wrong."
        ),
        ReachVerdict::DnsFailed => format!("The name in {url} does not resolve."),
        ReachVerdict::TlsFailed => format!("TLS to {url} fails: {}", probe.summary),
        _ => match &probe.cors {
            Some(cors) if !cors.allowed => {
                let why = cors
                    .first_failure
                    .and_then(|i| cors.checks.get(i))
                    .map_or_else(|| cors.finding.summary.clone(), |c| c.detail.clone());
                format!(
                    "The agent at {url} answers, but does not admit this dashboard's origin {origin}: start it with `--cors-allow-origin {origin}`. Vantage's CORS check: {why}"
                )
            }
            _ => format!(
                "The agent at {url} answers and admits {origin} ({}), yet the browser's request failed: reload the page, or check a proxy between this browser and the agent.",
                probe.summary
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_urls_are_base_urls() {
        assert_eq!(
            check_agent_url(" http://10.0.0.7:8787/ "),
            Ok("http://10.0.0.7:8787".into())
        );
        assert_eq!(
            check_agent_url("https://[::1]:8787"),
            Ok("https://[::1]:8787".into())
        );
        assert!(check_agent_url("10.0.0.7:8787").is_err());
        assert!(check_agent_url("http://10.0.0.7:8787/api").is_err());
        assert!(check_agent_url("http://user@host").is_err());
        assert!(check_agent_url("http://").is_err());
        assert!(check_agent_url("http://host:port").is_err());
    }

    #[test]
    fn reasons_name_the_layer() {
        let mut p = AgentProbe::empty("fleet".to_owned(), chrono::Utc::now());
        p.verdict = ReachVerdict::Refused;
        let r = unreachable_reason("http://10.0.0.7:8787", "http://dash:8787", &p);
        assert!(r.contains("connection refused"), "{r}");
        p.verdict = ReachVerdict::TimedOut;
        assert!(unreachable_reason("http://h:1", "http://d", &p).contains("firewall"));
    }
}
