//! Targets: what may be probed (from the config file or the dashboard), what a phone-link
//! holder sees of one, and the checks every new target passes.

use serde::{Deserialize, Serialize};

use crate::cors::{Credentials, RequestMode};
use crate::host::{split_host_port as split_authority, AuthorityError};
use crate::proxy_admin::ProxyAdmin;
use crate::rules::RuleScope;

/// Longest target name accepted.
pub const MAX_TARGET_NAME: usize = 80;
/// Longest target URL accepted.
pub const MAX_TARGET_URL: usize = 2048;
/// How many targets the agent keeps (config and dashboard together).
pub const MAX_TARGETS: usize = 1000;
/// How many browser results one device report may carry.
pub const MAX_REPORT_RESULTS: usize = MAX_TARGETS;

/// Where a target was defined. Config targets are read-only in the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TargetSource {
    Config,
    Dashboard,
}

/// A URL (`http://`, `https://`) or `host:port` that may be probed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    /// Stable slug derived from the name, used in URLs.
    pub id: String,
    pub name: String,
    /// `https://api.example.com/health` or `db.internal:5432` (TCP only).
    pub url: String,
    /// The HTTP status that means "working" (any 2xx/3xx when absent).
    pub expected_status: Option<u16>,
    /// The page origin to evaluate CORS for; absent means the dashboard's own origin.
    pub cors_origin: Option<String>,
    /// The request the page makes, for the CORS evaluation: method (default `GET`)…
    #[serde(default)]
    pub cors_method: Option<String>,
    /// …the headers it sets, as `Name: value` (e.g. `Authorization: Bearer x`)…
    #[serde(default)]
    pub cors_headers: Vec<String>,
    /// …its credentials mode (`omit`, `same-origin`, `include`)…
    #[serde(default)]
    pub cors_credentials: Credentials,
    /// …and its request mode: `cors`, or `no-cors` for what `<img>`, `<script>` and
    /// `fetch(…, { mode: "no-cors" })` send.
    #[serde(default)]
    pub cors_mode: RequestMode,
    /// The admin endpoint of the proxy in front of it, read after each probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_admin: Option<ProxyAdmin>,
    /// Which loaded security groups / ACLs / firewalls apply to this target.
    #[serde(default, skip_serializing_if = "RuleScope::is_empty")]
    pub firewall: RuleScope,
    /// How often the agent probes it, in seconds.
    #[serde(default = "default_interval")]
    #[cfg_attr(feature = "openapi", schema(minimum = 5, maximum = 86400))]
    pub interval_seconds: u32,
    pub source: TargetSource,
}

/// Targets stored before intervals existed are probed at the default.
fn default_interval() -> u32 {
    super::DEFAULT_INTERVAL_SECONDS
}

impl Target {
    /// A target from checked input (see [`validate_new_target`]), with its id from the name.
    pub fn from_new(t: NewTarget, source: TargetSource) -> Self {
        let headers = t.cors_headers.iter().map(|h| h.trim().to_owned()).collect();
        // Checked by `validate_new_target`; a bad value cannot reach here from the API.
        let interval_seconds = t.interval().unwrap_or(super::DEFAULT_INTERVAL_SECONDS);
        Self {
            id: slug(&t.name),
            name: t.name.trim().to_owned(),
            url: t.url.trim().to_owned(),
            expected_status: t.expected_status,
            cors_origin: t
                .cors_origin
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty()),
            cors_method: t.cors_method.filter(|m| !m.is_empty()),
            cors_headers: headers,
            cors_credentials: t.cors_credentials,
            cors_mode: t.cors_mode,
            proxy_admin: t.proxy_admin.map(|a| ProxyAdmin {
                url: a.url.trim().to_owned(),
                backend: a.backend.map(|b| b.trim().to_owned()),
                ..a
            }),
            firewall: RuleScope {
                sets: t
                    .firewall
                    .sets
                    .iter()
                    .map(|s| s.trim().to_owned())
                    .collect(),
                destination: t.firewall.destination,
            },
            interval_seconds,
            source,
        }
    }
}

/// What a phone-link holder sees of a target: enough to probe it, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeTarget {
    pub id: String,
    pub name: String,
    pub url: String,
}

impl From<&Target> for ProbeTarget {
    fn from(t: &Target) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            url: t.url.clone(),
        }
    }
}

/// `POST /api/targets`, checked by [`validate_new_target`]. The OpenAPI document states the
/// same checks: the field attributes here, and `openapi::refine` adds the URL's forms and
/// what a TCP target may not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTarget {
    /// Up to 80 characters, not only spaces; the target's id is its slug.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 80,
            pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: String,
    /// `http://` or `https://` URL, or `host:port` for a TCP check: no user info, no
    /// `#fragment`, no spaces or control characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 2048))]
    pub url: String,
    /// The HTTP status that means "working" (any 2xx/3xx when absent). HTTP targets only.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 100, maximum = 599))]
    pub expected_status: Option<u16>,
    /// The page origin to evaluate CORS for, e.g. `https://shop.example`. HTTP targets only.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 300, pattern = "^https?://"))]
    pub cors_origin: Option<String>,
    /// The method the page uses (default `GET`). HTTP targets only.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$")
    )]
    pub cors_method: Option<String>,
    /// Headers the page sets, as `Name: value` (at most 20, each up to 500 characters).
    /// HTTP targets only.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_items = 20,
            max_length = 500,
            pattern = r"^[^:]*[^:\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^:]*:"
        )
    )]
    pub cors_headers: Vec<String>,
    /// The page's credentials mode: `omit`, `same-origin` (the default, as in fetch) or
    /// `include`; `true` and `false` are read as `include` and `same-origin`. HTTP targets only.
    #[serde(default)]
    pub cors_credentials: Credentials,
    /// The page's request mode: `cors` (the default) or `no-cors`. HTTP targets only.
    #[serde(default)]
    pub cors_mode: RequestMode,
    /// The admin endpoint of the proxy in front of the target (HAProxy's stats, Envoy's
    /// `/clusters`): the agent reads which backend servers the proxy holds down. HTTP
    /// targets only.
    #[serde(default)]
    pub proxy_admin: Option<ProxyAdmin>,
    /// Which loaded rule sets apply (empty: all of them).
    #[serde(default)]
    pub firewall: RuleScope,
    /// How often the agent probes it, in seconds: 5 to 86400 (default 60).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 5, maximum = 86400))]
    pub interval_seconds: Option<u32>,
    /// The same as people write it in a config file (`interval = "30s"`, `5m`, `1h`,
    /// `1m30s`). Not in the API's document: there the number of seconds says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub interval: Option<String>,
}

impl NewTarget {
    /// The probe interval asked for, in seconds, checked.
    pub fn interval(&self) -> Result<u32, String> {
        match (&self.interval, self.interval_seconds) {
            (Some(_), Some(_)) => Err("give `interval` or `interval_seconds`, not both".into()),
            (Some(text), None) => super::parse_interval(text),
            (None, Some(s)) => super::parse_interval(&s.to_string()),
            (None, None) => Ok(super::DEFAULT_INTERVAL_SECONDS),
        }
    }
}

/// `PATCH /api/targets/{id}`: what changes on a dashboard target in place, keeping its
/// history (changing its URL would make it another target: delete and add that).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetPatch {
    /// How often the agent probes it, in seconds: 5 to 86400.
    #[cfg_attr(feature = "openapi", schema(minimum = 5, maximum = 86400))]
    pub interval_seconds: u32,
}

impl TargetPatch {
    /// Applies the change to `target`, checked.
    pub fn apply(&self, target: &mut Target) -> Result<(), String> {
        target.interval_seconds = super::parse_interval(&self.interval_seconds.to_string())?;
        Ok(())
    }
}

/// What a target's URL means once parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetAddress {
    /// `http`, `https` or `tcp`.
    pub scheme: String,
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path and query for HTTP targets (`/` when absent); empty for TCP.
    pub path: String,
}

impl TargetAddress {
    pub fn is_http(&self) -> bool {
        self.scheme != "tcp"
    }

    /// `host:port` with IPv6 literals bracketed.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Parses and checks a target URL. Accepts `http://`, `https://` and bare `host:port`.
/// Rejects user info (credentials do not belong in a URL everyone with the phone link
/// can see), fragments, control characters and anything longer than [`MAX_TARGET_URL`].
pub fn parse_target_url(input: &str) -> Result<TargetAddress, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("the URL is empty".into());
    }
    if s.chars().count() > MAX_TARGET_URL {
        return Err(format!(
            "the URL is longer than {MAX_TARGET_URL} characters"
        ));
    }
    if s.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the URL contains spaces or control characters".into());
    }
    let (scheme, rest) = match s.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            if scheme != "http" && scheme != "https" {
                return Err(format!(
                    "unsupported scheme `{scheme}`: use http://, https:// or host:port"
                ));
            }
            (scheme, rest)
        }
        None => ("tcp".to_owned(), s),
    };
    if rest.contains('#') {
        return Err("remove the #fragment: it is never sent to the server".into());
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(
            "remove the user:password@ part: credentials do not belong in a target URL".into(),
        );
    }
    let (host, port) = split_host_port(authority)?;
    let port = match (port, scheme.as_str()) {
        (Some(p), _) => p,
        (None, "http") => 80,
        (None, "https") => 443,
        (None, _) => return Err("a bare target needs a port: host:port".into()),
    };
    if scheme == "tcp" && !path.is_empty() {
        return Err("a path needs a scheme: write http://… or https://…".into());
    }
    let path = if scheme == "tcp" {
        String::new()
    } else if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    Ok(TargetAddress {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path,
    })
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = split_authority(authority).map_err(|e| match e {
        AuthorityError::UnclosedBracket => "unclosed [ in an IPv6 address",
        AuthorityError::JunkAfterBracket => "junk after ]",
        AuthorityError::UnbracketedIpv6 => "write IPv6 addresses in brackets: [2001:db8::1]:443",
    })?;
    if authority.starts_with('[') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!("`{host}` is not an IPv6 address"));
    }
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.len() > 253
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(format!("`{host}` is not a valid host name"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("`{p}` is not a port (1–65535)")),
            Ok(p) => Some(p),
        },
    };
    Ok((host, port))
}

/// Turns a name into a URL-safe id: lower-case ASCII letters, digits and `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "target".to_owned()
    } else {
        out.chars().take(MAX_TARGET_NAME).collect()
    }
}

/// Checks a new target's fields; returns the error a person can act on.
pub fn validate_new_target(t: &NewTarget) -> Result<TargetAddress, String> {
    let name = t.name.trim();
    if name.is_empty() {
        return Err("give the target a name".into());
    }
    if name.chars().count() > MAX_TARGET_NAME {
        return Err(format!(
            "the name is longer than {MAX_TARGET_NAME} characters"
        ));
    }
    t.interval()?;
    if let Some(s) = t.expected_status {
        if !(100..=599).contains(&s) {
            return Err(format!(
                "expected status {s} is not an HTTP status (100–599)"
            ));
        }
    }
    if let Some(origin) = &t.cors_origin {
        let o = origin.trim();
        if !(o.starts_with("http://") || o.starts_with("https://")) || o.chars().count() > 300 {
            return Err(format!(
                "CORS origin `{o}` must look like https://shop.example"
            ));
        }
    }
    if let Some(m) = &t.cors_method {
        // Any RFC 9110 token is a method (`M-SEARCH`, `PROPFIND`), not only letters.
        if m.len() > 32 || !crate::cors::is_token(m) {
            return Err(format!(
                "`{m}` is not an HTTP method: a method is a token (letters, digits and !#$%&'*+-.^_`|~)"
            ));
        }
    }
    if t.cors_headers.len() > 20 {
        return Err("at most 20 CORS request headers".into());
    }
    for h in &t.cors_headers {
        match h.split_once(':') {
            Some((n, _)) if !n.trim().is_empty() && h.chars().count() <= 500 => {}
            _ => return Err(format!("CORS header `{h}` must look like `Name: value`")),
        }
    }
    t.firewall.validate()?;
    if let Some(admin) = &t.proxy_admin {
        admin.validate()?;
    }
    let addr = parse_target_url(&t.url)?;
    if !addr.is_http() && t.proxy_admin.is_some() {
        return Err("the proxy admin endpoint needs an http:// or https:// target URL".into());
    }
    if !addr.is_http()
        && (t.expected_status.is_some()
            || t.cors_origin.is_some()
            || t.cors_method.is_some()
            || !t.cors_headers.is_empty()
            || t.cors_credentials != Credentials::default()
            || t.cors_mode != RequestMode::default())
    {
        return Err("expected status and CORS origin need an http:// or https:// URL".into());
    }
    Ok(addr)
}

// ---------------------------------------------------------------------------------------------
// Agent-side observations
// ---------------------------------------------------------------------------------------------
