//! The proxy's own view of its backends, read from its admin endpoint: HAProxy's stats CSV
//! (`show stat`) or `show servers state`, and Envoy's `/clusters` (text or JSON). A target
//! may name its proxy's endpoint ([`ProxyAdmin`]); the agent reads it after each probe, and
//! [`crate::diagnosis::proxy_view`] says which backend servers the proxy holds down, and why.

mod envoy;
mod haproxy;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use envoy::parse_envoy_clusters;
pub use haproxy::{parse_haproxy_csv, parse_haproxy_servers_state};

/// The most the agent reads from an admin endpoint.
pub const MAX_ADMIN_BYTES: usize = 1024 * 1024;
/// Servers kept per observation (those not up first): every probe stores it.
pub const MAX_SERVERS: usize = 64;

/// Which admin output the endpoint gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProxyAdminKind {
    /// HAProxy's stats as CSV: the stats page with `;csv` (`http://127.0.0.1:8404/stats;csv`),
    /// or `show stat` on the stats socket.
    #[default]
    HaproxyCsv,
    /// HAProxy's `show servers state`, on the stats socket.
    HaproxyServersState,
    /// Envoy's admin `/clusters` (`http://127.0.0.1:9901/clusters`, text or `?format=json`).
    EnvoyClusters,
}

impl ProxyAdminKind {
    pub fn proxy(self) -> &'static str {
        match self {
            Self::HaproxyCsv | Self::HaproxyServersState => "HAProxy",
            Self::EnvoyClusters => "Envoy",
        }
    }

    /// The command sent on a stats socket.
    pub fn socket_command(self) -> Option<&'static str> {
        match self {
            Self::HaproxyCsv => Some("show stat\n"),
            Self::HaproxyServersState => Some("show servers state\n"),
            Self::EnvoyClusters => None,
        }
    }
}

/// A target's proxy admin endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProxyAdmin {
    pub kind: ProxyAdminKind,
    /// `http://` or `https://` URL of the admin output (no `user:password@`), or
    /// `unix:/run/haproxy/admin.sock` for HAProxy's stats socket. No control characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2048,
            pattern = r"^(https?://[^/?#@\x00-\x1f\x7f-\x9f]*([/?#][^\x00-\x1f\x7f-\x9f]*)?|unix:/[^\x00-\x1f\x7f-\x9f]*)$"
        )
    )]
    pub url: String,
    /// The HAProxy backend or Envoy cluster that serves the target (up to 200 characters,
    /// not only spaces); absent: every one.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub backend: Option<String>,
}

impl ProxyAdmin {
    /// Checks the endpoint's form (a URL, or a socket for HAProxy).
    pub fn validate(&self) -> Result<(), String> {
        // Checked as given (the OpenAPI document states the same form, character for
        // character).
        let url = self.url.as_str();
        if url.chars().count() > 2048 || url.chars().any(char::is_control) {
            return Err("the proxy admin URL is too long or has control characters".into());
        }
        if let Some(path) = url.strip_prefix("unix:") {
            if self.kind.socket_command().is_none() {
                return Err("Envoy's /clusters is read over HTTP, not a stats socket: give its admin URL (http://127.0.0.1:9901/clusters)".into());
            }
            if !path.starts_with('/') {
                return Err(format!(
                    "`{url}`: a stats socket is `unix:` and an absolute path, e.g. unix:/run/haproxy/admin.sock"
                ));
            }
        } else if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "proxy admin URL `{url}` must start with http://, https:// or unix:/"
            ));
        } else if url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .is_some_and(|authority| authority.contains('@'))
        {
            // The target, its probes and their findings are shown and stored: a password
            // here would go everywhere the URL goes.
            return Err("the proxy admin URL takes no user:password@: serve the stats on a loopback-only listener without credentials, or use the stats socket".into());
        }
        match &self.backend {
            Some(b) if b.trim().is_empty() || b.chars().count() > 200 => {
                Err("the proxy backend name is empty or longer than 200 characters".into())
            }
            _ => Ok(()),
        }
    }

    /// Parses what the endpoint returned.
    pub fn parse(&self, text: &str) -> Result<Vec<ProxyServer>, String> {
        match self.kind {
            ProxyAdminKind::HaproxyCsv => parse_haproxy_csv(text),
            ProxyAdminKind::HaproxyServersState => parse_haproxy_servers_state(text),
            ProxyAdminKind::EnvoyClusters => parse_envoy_clusters(text),
        }
    }
}

/// Whether the proxy sends requests to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    Up,
    /// Failed its health checks, or ejected: no requests go to it.
    Down,
    /// Put in maintenance by an operator.
    Maintenance,
    /// Finishing its connections; no new ones.
    Draining,
}

/// One backend server as the proxy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProxyServer {
    /// The HAProxy backend or Envoy cluster.
    pub backend: String,
    /// HAProxy's server name; Envoy's host address.
    pub name: String,
    /// `10.0.0.100:18443`, when the output says.
    pub address: Option<String>,
    pub state: ServerState,
    /// Why it is not up, in words: "health check: connection refused (L4CON)".
    pub reason: Option<String>,
}

impl ProxyServer {
    /// `app/app2 (127.0.0.1:18082)` or `10.0.0.100:18443`.
    pub fn label(&self) -> String {
        match &self.address {
            Some(a) if *a != self.name => format!("{}/{} ({a})", self.backend, self.name),
            _ => format!("{}/{}", self.backend, self.name),
        }
    }
}

/// What the agent read from a target's proxy admin endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProxyObservation {
    pub kind: ProxyAdminKind,
    /// The endpoint read.
    pub url: String,
    /// The backend asked about, if the target names one.
    pub backend: Option<String>,
    /// The servers of that backend (or of every backend).
    pub servers: Vec<ProxyServer>,
    /// Why it could not be read or understood.
    pub error: Option<String>,
}

impl ProxyObservation {
    /// The observation of `admin` from the endpoint's text (or the error reading it).
    pub fn from_read(admin: &ProxyAdmin, read: Result<String, String>) -> Self {
        let mut obs = Self {
            kind: admin.kind,
            url: admin.url.clone(),
            backend: admin.backend.clone(),
            servers: Vec::new(),
            error: None,
        };
        match read.and_then(|text| admin.parse(&text)) {
            Ok(all) => {
                let wanted = admin.backend.as_deref().map(str::trim);
                let names: Vec<String> = all.iter().map(|s| s.backend.clone()).collect();
                obs.servers = all
                    .into_iter()
                    .filter(|s| wanted.is_none_or(|b| s.backend == b))
                    .collect();
                // The ones the proxy holds back are what a diagnosis needs.
                obs.servers.sort_by_key(|s| s.state == ServerState::Up);
                obs.servers.truncate(MAX_SERVERS);
                if let (Some(b), true) = (wanted, obs.servers.is_empty()) {
                    let mut names = names;
                    names.dedup();
                    obs.error = Some(format!(
                        "no server of backend `{b}` in the admin output (backends: {})",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ));
                }
            }
            Err(e) => obs.error = Some(e),
        }
        obs
    }
}
