//! The registry of finding codes: every `Finding.code` Vantage can produce, one variant each,
//! serialised to the stable snake_case string the API has always carried. docs/findings.md
//! lists them all with their severity and where they are made (a test keeps the two in step).
//!
//! Never rename or remove a variant: agent probes stored in the history database carry these
//! strings, and dashboards and scripts match on them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares [`FindingCode`] from one list, so that the enum, [`FindingCode::ALL`] and
/// [`FindingCode::as_str`] cannot drift apart.
macro_rules! finding_codes {
    ($( $(#[$doc:meta])* $variant:ident => $code:literal, )*) => {
        /// What a finding is about: the stable identifier of one diagnosis, e.g.
        /// `healthcheck_start_period_too_short`. Listed in docs/findings.md.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum FindingCode {
            $( $(#[$doc])* $variant, )*
        }

        impl FindingCode {
            /// Every code, in the order of docs/findings.md's groups.
            pub const ALL: &'static [FindingCode] = &[$(Self::$variant),*];

            /// The code as the API writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }
        }
    };
}

finding_codes! {
    // The container (diagnosis/container.rs).
    /// The main process keeps exiting and Docker's restart policy keeps starting it again.
    ContainerRestarting => "container_restarting",
    /// The container stopped with a non-zero exit code (137 killed, 139 segfault, 143 SIGTERM).
    ContainerExitedWithError => "container_exited_with_error",
    /// Docker marks the container unhealthy: its healthcheck fails now.
    ContainerUnhealthy => "container_unhealthy",
    /// It restarted three or more times within ten minutes on its own (diagnosis/restarts.rs).
    ContainerRestartLoop => "container_restart_loop",

    // The healthcheck's timing (diagnosis/health_timing.rs).
    /// The healthcheck fails while the app starts because `start_period` is shorter than its startup.
    HealthcheckStartPeriodTooShort => "healthcheck_start_period_too_short",
    /// The healthcheck has not passed once since the container started.
    HealthcheckNeverPassed => "healthcheck_never_passed",
    /// Passing healthcheck runs come close to the check's timeout, and some were cut off by it.
    HealthcheckTimeoutTooShort => "healthcheck_timeout_too_short",
    /// The healthcheck failed again, in separate streaks, after the container became ready.
    HealthcheckFlapping => "healthcheck_flapping",
    /// The latest healthcheck runs fail after the container had been healthy.
    HealthcheckFailingNow => "healthcheck_failing_now",
    /// The check command fails before it reaches the app: missing, not executable, crashed, or not startable (diagnosis/health_probe/).
    HealthcheckCommandBroken => "healthcheck_command_broken",
    /// The check command is quoted for the other form (`CMD` vs `CMD-SHELL`).
    HealthcheckCommandQuoting => "healthcheck_command_quoting",

    // Connectivity between two containers (diagnosis/connectivity.rs).
    /// Both ends of the reachability check are the same container.
    SameContainer => "same_container",
    /// One of the two containers is not running, so nothing answers or calls there.
    ContainerNotRunning => "container_not_running",
    /// One of the two containers is on no network (`--network none`).
    ContainerWithoutNetwork => "container_without_network",
    /// One or both use the host's network stack, where Docker DNS names do not exist.
    HostNetwork => "host_network",
    /// They share a user-defined network: the caller reaches the other by name.
    SharedNetwork => "shared_network",
    /// They share only the default `bridge`: reachable by IP, names do not resolve.
    DefaultBridgeOnly => "default_bridge_only",
    /// No network in common: Docker isolates them from each other.
    NoSharedNetwork => "no_shared_network",

    // The agent's probe of a target: the probe itself (diagnosis/agent_probe/conclusion.rs).
    /// The target's URL is not valid, so nothing was probed.
    TargetInvalid => "target_invalid",
    /// The whole probe took longer than the agent allows one probe.
    ProbeDeadline => "probe_deadline",

    // DNS (diagnosis/agent_probe/network.rs).
    /// The target's name resolved to no address.
    DnsNoAnswer => "dns_no_answer",
    /// The name resolved, but one of the lookups (A or AAAA) failed or timed out.
    DnsPartialFailure => "dns_partial_failure",
    /// The name resolves to a CDN, so traffic from this host leaves it and comes back.
    ResolvesToCdn => "resolves_to_cdn",

    // TCP (diagnosis/agent_probe/network.rs, notes.rs).
    /// No address answered the connect at all: packets are dropped on the way.
    TcpTimedOut => "tcp_timed_out",
    /// The connect was refused: nothing listens on that address and port.
    TcpRefused => "tcp_refused",
    /// One address family (IPv4 or IPv6) connects and the other does not.
    AddressFamilySplit => "address_family_split",
    /// Some of the resolved addresses do not connect.
    SomeAddressesFail => "some_addresses_fail",
    /// The name has more addresses than one probe connects to; the rest were skipped.
    TcpAddressesSkipped => "tcp_addresses_skipped",

    // TLS (diagnosis/agent_probe/tls.rs).
    /// The server's certificate has expired.
    TlsCertificateExpired => "tls_certificate_expired",
    /// The server's certificate expires within two weeks: renewal is failing or not set up.
    TlsCertificateExpiring => "tls_certificate_expiring",
    /// The certificate presented does not name the target's host.
    TlsNameMismatch => "tls_name_mismatch",
    /// The certificate is self-signed or from an unknown issuer.
    TlsUntrusted => "tls_untrusted",
    /// The TLS handshake failed for another reason; no HTTP request was sent.
    TlsHandshakeFailed => "tls_handshake_failed",

    // HTTP (diagnosis/agent_probe/http.rs, conclusion.rs).
    /// TCP connected, but the HTTP exchange broke before a complete response.
    HttpFailed => "http_failed",
    /// TCP connected, but no TLS handshake or HTTP response came in time.
    HttpNoResponse => "http_no_response",
    /// The answer is a proxy's own error page, not the application's.
    HttpProxyErrorPage => "http_proxy_error_page",
    /// An error status the web framework produced itself: no handler of the app matched.
    HttpFrameworkDefault => "http_framework_default",
    /// An error status written by the application's own handler.
    HttpApplicationError => "http_application_error",
    /// An error status from a server nothing identifies.
    HttpErrorStatus => "http_error_status",
    /// A non-error status other than the one configured as working.
    HttpUnexpectedStatus => "http_unexpected_status",
    /// The response body was cut at the agent's size or time limit.
    HttpBodyTruncated => "http_body_truncated",

    // Redirects (diagnosis/agent_probe/conclusion.rs, notes.rs).
    /// A redirect that neither the agent nor a browser can follow.
    HttpRedirectBroken => "http_redirect_broken",
    /// More redirects than the agent follows: a slow chain or a loop.
    HttpRedirectLimit => "http_redirect_limit",
    /// A redirect into loopback, link-local or unspecified addresses the agent did not follow.
    RedirectBlocked => "redirect_blocked",
    /// Configured page headers were not sent to another origin after a redirect.
    RedirectHeadersWithheld => "redirect_headers_withheld",

    // The proxy's own view of its backends (diagnosis/proxy_view.rs).
    /// The proxy answers 5xx itself because it holds every server of the backend down.
    ProxyBackendDown => "proxy_backend_down",
    /// Some servers of the proxy's backend are down, in maintenance or draining.
    ProxyServersDown => "proxy_servers_down",
    /// The proxy's admin endpoint could not be read or understood.
    ProxyAdminUnreadable => "proxy_admin_unreadable",

    // CORS: the report's verdict (diagnosis/cors.rs).
    /// Every CORS rule a browser applies passes: the page can read the response.
    CorsAllowed => "cors_allowed",
    /// No CORS rule fails, but a response the browser needs was not observed.
    CorsIncomplete => "cors_incomplete",
    /// The browser reports a CORS error, but the real failure is a 5xx from the proxy/backend.
    CorsProxyErrorPage => "cors_proxy_error_page",
    /// Rule `request_sendable`: fetch() refuses the method, or drops forbidden headers.
    CorsRequestSendable => "cors_request_sendable",
    /// Rule `preflight_ok_status`: the preflight is not answered with 2xx (or is redirected).
    CorsPreflightOkStatus => "cors_preflight_ok_status",
    /// Rule `acao_present`: the response has no Access-Control-Allow-Origin.
    CorsAcaoPresent => "cors_acao_present",
    /// Rule `acao_single_value`: Access-Control-Allow-Origin is not a single value.
    CorsAcaoSingleValue => "cors_acao_single_value",
    /// Rule `credentials_no_wildcard`: a request with credentials gets `*` as allowed origin.
    CorsCredentialsNoWildcard => "cors_credentials_no_wildcard",
    /// Rule `acao_matches_origin`: the allowed origin is not the page's (or is `null`).
    CorsAcaoMatchesOrigin => "cors_acao_matches_origin",
    /// Rule `acac_true`: with credentials, Access-Control-Allow-Credentials is not `true`.
    CorsAcacTrue => "cors_acac_true",
    /// Rule `method_allowed`: the preflight answer does not allow the method.
    CorsMethodAllowed => "cors_method_allowed",
    /// Rule `headers_allowed`: the preflight answer does not allow a request header.
    CorsHeadersAllowed => "cors_headers_allowed",
    /// Rule `max_age`: Access-Control-Max-Age is invalid or above the browsers' cap.
    CorsMaxAge => "cors_max_age",
    /// Rule `redirect`: the actual request was redirected.
    CorsRedirect => "cors_redirect",
    /// Rule `vary_origin`: a specific allowed origin without `Vary: Origin`.
    CorsVaryOrigin => "cors_vary_origin",
    /// Rule `expose_headers`: a response header the page reads is not exposed to it.
    CorsExposeHeaders => "cors_expose_headers",
    /// A `no-cors` request: it is sent, and the page gets an opaque response it cannot read.
    CorsNoCorsOpaque => "cors_no_cors_opaque",
    /// Rule `no_cors_headers`: in `no-cors` mode the browser drops headers the page sets.
    CorsNoCorsHeaders => "cors_no_cors_headers",

    // CORS: where the agent's probe departs from the page (diagnosis/agent_probe/notes.rs).
    /// A configured page header is not valid HTTP and was left out of every request.
    CorsHeaderInvalid => "cors_header_invalid",
    /// The page's unsafe method was sent as GET; the preflight announced the real one.
    CorsMethodNotSent => "cors_method_not_sent",
    /// Method-override headers naming an unsafe method were left out of the request.
    MethodOverrideNotSent => "method_override_not_sent",
    /// The preflight the browser repeats at a redirect's target fails there.
    CorsRedirectPreflightFailed => "cors_redirect_preflight_failed",
    /// The page's origin is the target's own: CORS does not apply.
    CorsSameOrigin => "cors_same_origin",
    /// The CORS preflight (OPTIONS) got no answer.
    CorsPreflightFailed => "cors_preflight_failed",

    // The comparison across vantage points (diagnosis/vantage_points.rs).
    /// A device failed before any HTTP answer and the agent has not probed the target yet.
    DeviceFailedAgentNotProbed => "device_failed_agent_not_probed",
    /// A device timed out, but the agent's answer was slow too: a slow service, not a block.
    DeviceTimeoutSlowService => "device_timeout_slow_service",
    /// The agent reaches the target; a device's connection timed out: a firewall drops it.
    DeviceBlockedTimeout => "device_blocked_timeout",
    /// Neither the agent nor a device reaches the target.
    UnreachableEverywhere => "unreachable_everywhere",
    /// The agent reaches the target; a device failed quickly before any HTTP answer.
    DeviceFailedBeforeHttp => "device_failed_before_http",
    /// A device's "CORS error" is really a proxy's error page.
    DeviceCorsProxyError => "device_cors_proxy_error",
    /// The network path from a device works, but CORS keeps the page from reading the answer.
    DeviceCorsBlocked => "device_cors_blocked",
    /// A device got an HTTP error status (different from the agent's, when it differs).
    DeviceHttpError => "device_http_error",
    /// A device's browser could not test the target (mixed content, local network, raw TCP).
    DeviceNotAttempted => "device_not_attempted",
    /// A device reaches the target, the agent does not.
    AgentOnlyBlocked => "agent_only_blocked",
    /// The agent has not probed the target yet.
    AgentNotProbed => "agent_not_probed",
    /// The agent's probe failed and no device has reported yet.
    AgentProbeFailed => "agent_probe_failed",
    /// The agent and every device that reported reach the target.
    ReachableEverywhere => "reachable_everywhere",

    // A target's stored results (diagnosis/target_history.rs).
    /// The target changed between up and down several times within the last hour.
    TargetFlapping => "target_flapping",
    /// The target's p95 latency over 24 hours is well above its p95 over the week before.
    LatencyRegression => "latency_regression",
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Comparisons with the API's strings, so `f.code == "tcp_refused"` reads as it always has.
impl PartialEq<str> for FindingCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for FindingCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<FindingCode> for str {
    fn eq(&self, other: &FindingCode) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<FindingCode> for &str {
    fn eq(&self, other: &FindingCode) -> bool {
        *self == other.as_str()
    }
}

#[cfg(test)]
mod tests;
