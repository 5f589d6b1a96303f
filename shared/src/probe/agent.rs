//! What the agent observed for one target: DNS answers with their owners and CNAMEs, a
//! TCP connect per address, the TLS handshake, the HTTP exchange, and the verdict.

use serde::{Deserialize, Serialize};

use crate::cors::CorsReport;
use crate::diagnosis::Finding;
use crate::fingerprint::Attribution;

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
    /// What the proxy's admin endpoint said, for a target that names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<crate::proxy_admin::ProxyObservation>,
    pub verdict: ReachVerdict,
    /// One line for the comparison table.
    pub summary: String,
    pub findings: Vec<Finding>,
}

impl AgentProbe {
    /// A probe of `target_id` begun at `at` that has observed nothing yet: the pipeline
    /// fills it in step by step, and tests set only the steps they are about.
    pub fn empty(target_id: impl Into<String>, at: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            target_id: target_id.into(),
            at,
            dns: None,
            tcp: Vec::new(),
            tls: None,
            http: None,
            cors: None,
            proxy: None,
            verdict: ReachVerdict::Unknown,
            summary: String::new(),
            findings: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Browser-side observations
// ---------------------------------------------------------------------------------------------
