//! Reachability probes: the configured targets, what the agent observed (DNS, TCP per
//! address, TLS, HTTP, CORS), what a browser observed, and the phone link that lets another
//! device report. Only types and pure classification live here; the agent performs its
//! probes and the dashboard performs the browser's. docs/incidents.md has the outages they
//! diagnose: "Blocked from the guest Wi-Fi", "Proxy says 503, backend says 200", "Two
//! containers that cannot talk" and "The 404 that was not a routing error".

use serde::{Deserialize, Serialize};

use crate::cors::CorsReport;
use crate::diagnosis::Finding;
use crate::fingerprint::Attribution;
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
    /// …and whether it sends credentials (`credentials: "include"`).
    #[serde(default)]
    pub cors_credentials: bool,
    /// Which loaded security groups / ACLs / firewalls apply to this target.
    #[serde(default, skip_serializing_if = "RuleScope::is_empty")]
    pub firewall: RuleScope,
    pub source: TargetSource,
}

impl Target {
    /// A target from checked input (see [`validate_new_target`]), with its id from the name.
    pub fn from_new(t: NewTarget, source: TargetSource) -> Self {
        let headers = t.cors_headers.iter().map(|h| h.trim().to_owned()).collect();
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
            firewall: RuleScope {
                sets: t
                    .firewall
                    .sets
                    .iter()
                    .map(|s| s.trim().to_owned())
                    .collect(),
                target: t.firewall.target,
            },
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
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z]{1,20}$"))]
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
    /// Whether the page sends credentials. HTTP targets only.
    #[serde(default)]
    pub cors_credentials: bool,
    /// Which loaded rule sets apply (empty: all of them).
    #[serde(default)]
    pub firewall: RuleScope,
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
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed [ in an IPv6 address".to_owned())?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{host}` is not an IPv6 address"));
        }
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or("junk after ]")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("write IPv6 addresses in brackets: [2001:db8::1]:443".into())
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
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
        if m.is_empty() || m.len() > 20 || !m.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!("`{m}` is not an HTTP method"));
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
    let addr = parse_target_url(&t.url)?;
    if !addr.is_http()
        && (t.expected_status.is_some()
            || t.cors_origin.is_some()
            || t.cors_method.is_some()
            || !t.cors_headers.is_empty()
            || t.cors_credentials)
    {
        return Err("expected status and CORS origin need an http:// or https:// URL".into());
    }
    Ok(addr)
}

// ---------------------------------------------------------------------------------------------
// Agent-side observations
// ---------------------------------------------------------------------------------------------

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AddressFamily {
    Ipv4,
    Ipv6,
}

/// Who owns an address, as far as the agent can tell from the address alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AddressOwner {
    Loopback,
    /// RFC 1918 / unique local (fc00::/7).
    Private,
    /// 100.64.0.0/10: a carrier-grade NAT (or Tailscale) address.
    Cgnat,
    LinkLocal,
    /// Inside a Docker network's subnet on this host.
    DockerNetwork {
        network: String,
    },
    /// A published Cloudflare range: traffic goes out through the CDN and back in.
    Cloudflare,
    /// A published Amazon CloudFront range.
    Cloudfront,
    /// Documentation, multicast, unspecified and other special-purpose ranges.
    Reserved,
    Public,
}

/// One DNS answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsAnswer {
    pub address: String,
    pub family: AddressFamily,
    /// Seconds; absent for IP literals and `/etc/hosts` entries.
    pub ttl: Option<u32>,
    pub owner: AddressOwner,
}

/// One CNAME record met on the way to the addresses: `name` is an alias of `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CnameRecord {
    pub name: String,
    pub target: String,
    /// Seconds.
    pub ttl: u32,
}

/// The name lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DnsResult {
    pub host: String,
    /// `system (/etc/resolv.conf: 10.0.0.2:53)`, `/etc/hosts`, or `literal` for IP addresses.
    pub resolver: String,
    /// The CNAME records the answers came through, in the server's order (a name behind a
    /// CDN often is one: `shop.example` → `shop.example.cdn.cloudflare.net`). Empty for
    /// literals, `/etc/hosts`, and probes stored before the agent recorded them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cnames: Vec<CnameRecord>,
    pub answers: Vec<DnsAnswer>,
    /// Per record type failures, e.g. `AAAA: no records`.
    pub errors: Vec<String>,
    pub elapsed_ms: f64,
}

impl DnsResult {
    /// The names from the host asked for to the last alias, following the CNAME records
    /// (`["shop.example", "shop.example.cdn.cloudflare.net"]`); just the host when there
    /// are none. Names compare without case or trailing dot, as DNS does; a loop ends
    /// the chain.
    pub fn cname_chain(&self) -> Vec<String> {
        let same = |a: &str, b: &str| {
            a.trim_end_matches('.')
                .eq_ignore_ascii_case(b.trim_end_matches('.'))
        };
        let mut chain = vec![self.host.clone()];
        while let Some(next) = self
            .cnames
            .iter()
            .find(|c| chain.last().is_some_and(|last| same(&c.name, last)))
        {
            if chain.iter().any(|n| same(n, &next.target)) {
                break;
            }
            chain.push(next.target.clone());
        }
        chain
    }
}

/// How a TCP connect ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TcpOutcome {
    Connected,
    /// RST: the host is there, nothing listens (or a firewall rejects with RST).
    Refused,
    /// No answer at all: the signature of a firewall or security group dropping packets.
    TimedOut,
    /// ICMP unreachable or no route from here.
    Unreachable,
    Error,
}

/// One TCP connect to one resolved address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TcpAttempt {
    /// `198.51.100.10:443` or `[2001:db8::1]:443`.
    pub address: String,
    pub family: AddressFamily,
    pub outcome: TcpOutcome,
    pub elapsed_ms: f64,
    pub error: Option<String>,
}

/// The TLS handshake and the certificate presented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TlsResult {
    /// Handshake completed and the chain verified against the system roots.
    pub ok: bool,
    /// `TLSv1.3`.
    pub protocol: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    /// The SNI sent.
    pub sni: String,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub sans: Vec<String>,
    pub not_before: Option<chrono::DateTime<chrono::Utc>>,
    pub not_after: Option<chrono::DateTime<chrono::Utc>>,
    /// The certificate does not name the host that was asked for.
    pub sni_mismatch: bool,
    /// Why verification or the handshake failed.
    pub error: Option<String>,
    pub elapsed_ms: f64,
}

/// Timing phases of one HTTP exchange, in milliseconds from the start of the probe.
/// Each phase is its own duration, as `curl -w` reports them cumulatively.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HttpTiming {
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    /// From request sent to the first response byte.
    pub first_byte_ms: f64,
    /// Everything, body included.
    pub total_ms: f64,
}

/// One hop of a redirect chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedirectHop {
    pub url: String,
    pub status: u16,
    pub location: String,
}

/// The HTTP exchange (after redirects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HttpResult {
    /// The URL that produced the final response.
    pub url: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body_size: u64,
    /// First bytes of the body, lossily decoded (at most 512).
    pub body_head: String,
    /// The body was longer than the agent read.
    pub body_truncated: bool,
    pub timing: HttpTiming,
    pub redirects: Vec<RedirectHop>,
    pub fingerprint: Attribution,
}

/// Overall outcome of one probe, from one vantage point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReachVerdict {
    /// Answered as expected.
    Reachable,
    /// Answered, but with an unexpected status (or a proxy's error page).
    HttpError,
    /// The network path works but a browser page may not read the answer.
    CorsBlocked,
    /// The name did not resolve.
    DnsFailed,
    /// Nothing answered in time: every connect timed out (a firewall dropping this source),
    /// or the connection opened but no TLS handshake or HTTP response followed.
    TimedOut,
    /// Every connect was refused or unreachable.
    Refused,
    TlsFailed,
    /// A browser's request failed before any HTTP answer: name lookup, refused
    /// connection or TLS (browsers do not say which).
    FailedBeforeHttp,
    /// The browser would not even try (mixed content, local-network access).
    NotAttempted,
    /// Could not tell (probe error, no result yet).
    Unknown,
}

impl ReachVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reachable => "reachable",
            Self::HttpError => "http_error",
            Self::CorsBlocked => "cors_blocked",
            Self::DnsFailed => "dns_failed",
            Self::TimedOut => "timed_out",
            Self::Refused => "refused",
            Self::TlsFailed => "tls_failed",
            Self::FailedBeforeHttp => "failed_before_http",
            Self::NotAttempted => "not_attempted",
            Self::Unknown => "unknown",
        }
    }

    /// Did traffic get through to an HTTP server (whatever it answered)?
    pub fn network_ok(self) -> bool {
        matches!(self, Self::Reachable | Self::HttpError | Self::CorsBlocked)
    }
}

/// Everything the agent observed for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentProbe {
    pub target_id: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub dns: Option<DnsResult>,
    pub tcp: Vec<TcpAttempt>,
    pub tls: Option<TlsResult>,
    pub http: Option<HttpResult>,
    pub cors: Option<CorsReport>,
    pub verdict: ReachVerdict,
    /// One line for the comparison table.
    pub summary: String,
    pub findings: Vec<Finding>,
}

// ---------------------------------------------------------------------------------------------
// Browser-side observations
// ---------------------------------------------------------------------------------------------

/// How one `fetch()` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FetchOutcome {
    /// A response arrived (opaque for `no-cors`).
    Ok,
    /// `TypeError: Failed to fetch`: network failure, or for `cors` a CORS failure.
    NetworkError,
    /// Aborted by our timeout.
    Timeout,
    /// Not attempted: the browser is known to block it (mixed content, local network).
    Skipped,
}

/// One mode's fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FetchAttempt {
    pub outcome: FetchOutcome,
    /// Status for `cors` responses; `no-cors` responses are opaque (absent).
    #[cfg_attr(feature = "openapi", schema(maximum = 65535))]
    pub status: Option<u16>,
    #[cfg_attr(feature = "openapi", schema(format = Int64, maximum = 4294967295u32))]
    pub elapsed_ms: u32,
    /// The error message the browser gave, or why the fetch was skipped.
    pub error: Option<String>,
}

/// Why the browser would not attempt a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BrowserBlock {
    /// An `https:` page cannot fetch an `http:` URL.
    MixedContent,
    /// A public page fetching a private/loopback address (Chrome's Local Network Access).
    LocalNetworkAccess,
}

/// Resource Timing for the fetch, where the browser exposes it (same-origin, or the
/// target sent `Timing-Allow-Origin`). Milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceTiming {
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    pub first_byte_ms: f64,
    pub total_ms: f64,
}

/// What one browser saw for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrowserProbe {
    pub target_id: String,
    pub no_cors: FetchAttempt,
    pub cors: FetchAttempt,
    pub blocked_by: Option<BrowserBlock>,
    pub timing: Option<ResourceTiming>,
}

/// `POST /api/reports`: one device's browser results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceReportIn {
    /// Random id the page keeps in local storage, so one phone is one row: 1–64 letters,
    /// digits, `-` or `_`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,64}$"))]
    pub device_id: String,
    /// The page's own URL origin (to judge mixed content and local-network access).
    #[cfg_attr(feature = "openapi", schema(max_length = 300))]
    pub page_origin: String,
    /// One result per target, each naming a target of the probe set (`GET
    /// /api/phone/targets`); a target that is not there any more is a `400`.
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub results: Vec<BrowserProbe>,
}

/// A device report as recorded by the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceReport {
    pub device_id: String,
    /// The address the agent saw (the first untrusted `X-Forwarded-For` hop when the
    /// connection came from a configured trusted proxy).
    pub client_ip: String,
    pub user_agent: String,
    pub page_origin: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub results: Vec<BrowserProbe>,
}

/// The verdict for one browser result, from the no-cors/cors matrix.
pub fn classify_browser(p: &BrowserProbe) -> ReachVerdict {
    if p.blocked_by.is_some() {
        return ReachVerdict::NotAttempted;
    }
    match (p.no_cors.outcome, p.cors.outcome) {
        (FetchOutcome::Skipped, _) => ReachVerdict::NotAttempted,
        (FetchOutcome::Timeout, _) => ReachVerdict::TimedOut,
        // A no-cors failure means the request never got an HTTP answer: DNS, TCP or TLS
        // failed from this device. Without a timeout the browser does not say which.
        (FetchOutcome::NetworkError, _) => ReachVerdict::FailedBeforeHttp,
        // The opaque request was answered but the readable one hung: slowness, not CORS.
        (FetchOutcome::Ok, FetchOutcome::Timeout) => ReachVerdict::TimedOut,
        (FetchOutcome::Ok, FetchOutcome::Ok) => match p.cors.status {
            Some(s) if s >= 400 => ReachVerdict::HttpError,
            _ => ReachVerdict::Reachable,
        },
        (FetchOutcome::Ok, _) => ReachVerdict::CorsBlocked,
    }
}

// ---------------------------------------------------------------------------------------------
// The phone link and the comparison
// ---------------------------------------------------------------------------------------------

/// `POST /api/phone-links` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPhoneLink {
    /// Lifetime in minutes (default 60, at most 1440: a day).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1440))]
    pub ttl_minutes: Option<u32>,
    /// Lifetime in seconds (at most 86400: a day), for short-lived links (tests, demos);
    /// wins over `ttl_minutes`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86400))]
    pub ttl_seconds: Option<u32>,
    /// The base URL the phone will open: scheme, host and port, no path, no user info,
    /// e.g. `http://203.0.113.5:7070`; defaults to the address the dashboard itself was
    /// loaded from.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 300, pattern = r#"^https?://[!"$-.0->A-~]+/*$"#)
    )]
    pub base_url: Option<String>,
}

/// A scoped, expiring token that may only list the probe set, run it and post results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhoneLink {
    /// Short code; also the scoped token.
    pub code: String,
    /// `<base>/p/<code>`.
    pub url: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// `GET /api/phone/targets`: what a phone link holder may probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeSet {
    pub targets: Vec<ProbeTarget>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The address the agent sees this device as.
    pub client_ip: String,
}

/// One vantage point's result for a target, in the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceResult {
    pub device_id: String,
    pub client_ip: String,
    pub user_agent: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub verdict: ReachVerdict,
    pub probe: BrowserProbe,
    /// What the loaded security-group/firewall rules say about `client_ip` on the target's
    /// port; filled in when the comparison is built, absent when no rules are loaded.
    #[serde(default)]
    pub rules: Option<RulesVerdict>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cname(name: &str, target: &str) -> CnameRecord {
        CnameRecord {
            name: name.to_owned(),
            target: target.to_owned(),
            ttl: 300,
        }
    }

    #[test]
    fn cname_chain_follows_the_records_from_the_host() {
        let mut dns = DnsResult {
            host: "shop.example".to_owned(),
            resolver: "system".to_owned(),
            cnames: Vec::new(),
            answers: Vec::new(),
            errors: Vec::new(),
            elapsed_ms: 1.0,
        };
        assert_eq!(dns.cname_chain(), ["shop.example"]);
        // Out of order, with DNS's trailing dots and case, and an unrelated record.
        dns.cnames = vec![
            cname("Shop.Example.cdn.net.", "edge.cdn.net."),
            cname("other.example.", "x.example."),
            cname("shop.example.", "shop.example.cdn.net."),
        ];
        assert_eq!(
            dns.cname_chain(),
            ["shop.example", "shop.example.cdn.net.", "edge.cdn.net."]
        );
        // A loop ends the chain instead of running forever.
        dns.cnames = vec![
            cname("shop.example", "a.example"),
            cname("a.example", "shop.example"),
        ];
        assert_eq!(dns.cname_chain(), ["shop.example", "a.example"]);
    }

    #[test]
    fn target_urls_parse_with_defaults_and_clear_errors() {
        let a = parse_target_url("https://API.Shop.example/products?page=2").unwrap();
        assert_eq!(
            (a.scheme.as_str(), a.host.as_str(), a.port, a.path.as_str()),
            ("https", "api.shop.example", 443, "/products?page=2")
        );
        let a = parse_target_url("http://[2001:db8::1]:8080").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.path.as_str()),
            ("2001:db8::1", 8080, "/")
        );
        assert_eq!(a.authority(), "[2001:db8::1]:8080");
        let a = parse_target_url("db.internal:5432").unwrap();
        assert!(!a.is_http());
        assert_eq!(a.authority(), "db.internal:5432");
        assert_eq!(parse_target_url("http://h?x=1").unwrap().path, "/?x=1");

        for (bad, needle) in [
            ("", "empty"),
            ("ftp://h/", "unsupported scheme"),
            ("http://u:p@h/", "credentials"),
            ("http://h/#top", "fragment"),
            ("db.internal", "needs a port"),
            ("h:0", "not a port"),
            ("h:70000", "not a port"),
            ("2001:db8::1:443", "brackets"),
            ("http://[::1/", "unclosed"),
            ("http://[nope]:1/", "IPv6"),
            ("http:///x", "host is empty"),
            ("http://a b/", "spaces"),
            ("http://ex\u{e4}mple.com/", "not a valid host"),
            ("h:1/path", "needs a scheme"),
        ] {
            let err = parse_target_url(bad).unwrap_err();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
        assert!(parse_target_url(&format!("http://h/{}", "a".repeat(MAX_TARGET_URL))).is_err());
    }

    #[test]
    fn the_url_parser_never_panics_on_mangled_input() {
        // A cheap deterministic fuzz: every prefix and every single-byte mutation of URLs
        // that exercise each branch (brackets, ports, paths, multi-byte characters).
        let seeds = [
            "https://[2001:db8::1]:443/a?b#c",
            "http://user@h\u{e9}:80/p",
            "[::1]:x",
            "h:1:2",
            "http://\u{1F600}/",
        ];
        let alphabet = [
            '[', ']', ':', '/', '?', '#', '@', '%', '\u{e9}', '0', ' ', '\u{0}',
        ];
        for seed in seeds {
            let chars: Vec<char> = seed.chars().collect();
            for i in 0..=chars.len() {
                let prefix: String = chars[..i].iter().collect();
                let _ = parse_target_url(&prefix);
                for c in alphabet {
                    let mut m = chars.clone();
                    if i < m.len() {
                        m[i] = c;
                    } else {
                        m.push(c);
                    }
                    let _ = parse_target_url(&m.iter().collect::<String>());
                }
            }
        }
    }

    #[test]
    fn slugs_and_validation() {
        assert_eq!(slug("Shop API (public)"), "shop-api-public");
        assert_eq!(slug("  ***  "), "target");
        let ok = NewTarget {
            name: "x".into(),
            url: "https://h/".into(),
            expected_status: Some(200),
            cors_origin: Some("https://shop.example".into()),
            cors_method: Some("POST".into()),
            cors_headers: vec!["Content-Type: application/json".into()],
            cors_credentials: true,
            firewall: RuleScope::default(),
        };
        assert!(validate_new_target(&ok).is_ok());
        for (bad, needle) in [
            (
                NewTarget {
                    expected_status: Some(700),
                    ..ok.clone()
                },
                "not an HTTP status",
            ),
            (
                NewTarget {
                    cors_origin: Some("shop.example".into()),
                    ..ok.clone()
                },
                "CORS origin",
            ),
            (
                NewTarget {
                    cors_method: Some("GE T".into()),
                    ..ok.clone()
                },
                "not an HTTP method",
            ),
            (
                NewTarget {
                    cors_headers: vec!["nocolon".into()],
                    ..ok.clone()
                },
                "Name: value",
            ),
            (
                NewTarget {
                    name: "n".repeat(81),
                    ..ok.clone()
                },
                "longer than",
            ),
            (
                NewTarget {
                    url: "h:1".into(),
                    ..ok.clone()
                },
                "need an http",
            ),
            (
                NewTarget {
                    firewall: RuleScope {
                        sets: vec![String::new()],
                        target: None,
                    },
                    ..ok.clone()
                },
                "not a rule set id",
            ),
        ] {
            let err = validate_new_target(&bad).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    fn attempt(outcome: FetchOutcome, status: Option<u16>) -> FetchAttempt {
        FetchAttempt {
            outcome,
            status,
            elapsed_ms: 10,
            error: None,
        }
    }

    #[test]
    fn the_browser_matrix() {
        use FetchOutcome::*;
        let p = |nc, c, status| BrowserProbe {
            target_id: "t".into(),
            no_cors: attempt(nc, None),
            cors: attempt(c, status),
            blocked_by: None,
            timing: None,
        };
        assert_eq!(
            classify_browser(&p(Ok, Ok, Some(200))),
            ReachVerdict::Reachable
        );
        assert_eq!(
            classify_browser(&p(Ok, Ok, Some(503))),
            ReachVerdict::HttpError
        );
        assert_eq!(
            classify_browser(&p(Ok, NetworkError, None)),
            ReachVerdict::CorsBlocked
        );
        assert_eq!(
            classify_browser(&p(Timeout, Timeout, None)),
            ReachVerdict::TimedOut
        );
        assert_eq!(
            classify_browser(&p(NetworkError, NetworkError, None)),
            ReachVerdict::FailedBeforeHttp
        );
        assert_eq!(
            classify_browser(&p(Ok, Timeout, None)),
            ReachVerdict::TimedOut
        );
        assert_eq!(
            classify_browser(&p(Skipped, Skipped, None)),
            ReachVerdict::NotAttempted
        );
        let mut mixed = p(Ok, Ok, Some(200));
        mixed.blocked_by = Some(BrowserBlock::MixedContent);
        assert_eq!(classify_browser(&mixed), ReachVerdict::NotAttempted);
    }
}
