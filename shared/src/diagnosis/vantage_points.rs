//! The comparison diagnosis (docs/incidents.md, "Blocked from the guest Wi-Fi" and "Proxy
//! says 503, backend says 200"): the agent's result for a target next to every device's,
//! turned into plain language — "reachable from the agent; from 203.0.113.7 the connection
//! timed out: a firewall is dropping this source".

use crate::diagnosis::{sort_findings, Finding, FindingCode, Severity};
use crate::duration::fmt_secs;
use crate::probe::{
    parse_target_url, AddressOwner, AgentProbe, BrowserBlock, DeviceResult, ReachVerdict,
    RulesVerdict, Target, TcpOutcome,
};

/// What the loaded security-group and firewall rules say about a source address; `None`
/// when no rules are loaded. The agent builds it from the rule sets it holds.
pub type RulesLookup<'a> = &'a dyn Fn(&str) -> Option<RulesVerdict>;

/// How long the dashboard's browser check waits for an answer (`frontend/src/check.rs`).
pub const BROWSER_TIMEOUT_MS: u32 = 8_000;

/// The address the target answers on, as specific as the agent knows it: the address the
/// agent connected to, else the first resolved one, else `host:port` from the URL.
pub fn target_address(target: &Target, agent: Option<&AgentProbe>) -> String {
    let port = parse_target_url(&target.url).map(|a| a.port).ok();
    if let Some(a) = agent {
        if let Some(t) = a.tcp.iter().find(|t| t.outcome == TcpOutcome::Connected) {
            return t.address.clone();
        }
        if let (Some(d), Some(port)) = (&a.dns, port) {
            if let Some(ans) = d.answers.first() {
                return if ans.address.contains(':') {
                    format!("[{}]:{port}", ans.address)
                } else {
                    format!("{}:{port}", ans.address)
                };
            }
        }
    }
    parse_target_url(&target.url)
        .map(|a| a.authority())
        .unwrap_or_else(|_| target.url.clone())
}

fn agent_line(agent: Option<&AgentProbe>) -> String {
    match agent {
        Some(a) if a.verdict.network_ok() => {
            format!("Reachable from the agent: {}", sentence(&a.summary))
        }
        Some(a) => format!("The agent cannot reach it either: {}", sentence(&a.summary)),
        None => "The agent has not probed it yet".to_owned(),
    }
}

/// A summary inside a sentence: without its own full stop (the caller adds one), and not
/// wrapped again in parentheses ("Reachable from the agent (The agent reaches it.)").
fn sentence(summary: &str) -> String {
    let s = summary.trim().trim_end_matches('.');
    let mut chars = s.chars();
    match chars.next() {
        // "The agent reaches it" inside "Reachable from the agent: the agent reaches it".
        Some(c) if c.is_uppercase() && chars.next().is_some_and(char::is_lowercase) => {
            c.to_lowercase().chain(chars_after_first(s)).collect()
        }
        _ => s.to_owned(),
    }
}

fn chars_after_first(s: &str) -> std::str::Chars<'_> {
    let mut c = s.chars();
    c.next();
    c
}

fn rules_text(v: &AgentView<'_>, ip: &str) -> String {
    if v.rules_hidden {
        // A phone-link holder's view: whether rules are loaded is not theirs to know.
        return String::new();
    }
    match (v.rules)(ip) {
        Some(r) => format!("Rules loaded: {}", r.summary),
        None => "No security-group or firewall rules are loaded, so Vantage cannot yet say which \
                 rule is missing; load them to get the exact rule."
            .to_owned(),
    }
}

/// Findings for one target, worst first.
pub fn compare(
    target: &Target,
    agent: Option<&AgentProbe>,
    devices: &[DeviceResult],
    rules: RulesLookup<'_>,
) -> Vec<Finding> {
    compare_with(AgentView::new(target, agent, rules), devices)
}

/// [`compare`] for a phone-link holder, who is not told what the rules say, nor whether
/// any are loaded.
pub fn compare_for_link_holder(
    target: &Target,
    agent: Option<&AgentProbe>,
    devices: &[DeviceResult],
) -> Vec<Finding> {
    let mut view = AgentView::new(target, agent, &|_| None);
    view.rules_hidden = true;
    compare_with(view, devices)
}

fn compare_with(view: AgentView<'_>, devices: &[DeviceResult]) -> Vec<Finding> {
    let mut out: Vec<Finding> = devices
        .iter()
        .filter_map(|d| device_finding(&view, d))
        .collect();
    if out.is_empty() {
        out.extend(overall_finding(&view, devices));
    }
    sort_findings(&mut out);
    out
}

/// What every device's result is compared against: the target, the agent's view of it and
/// the loaded rules, worked out once per target.
struct AgentView<'a> {
    target: &'a Target,
    agent: Option<&'a AgentProbe>,
    rules: RulesLookup<'a>,
    /// What the browser tried: the URL's host and port (the agent may have reached a
    /// different, e.g. private, address for the same name).
    addr: String,
    agent_addr: String,
    port: u16,
    agent_ok: bool,
    /// An agent answer slower than the browser's patience is not a firewall.
    agent_slow_ms: Option<f64>,
    agent_reachable: bool,
    /// A phone-link holder's view: say nothing about the rules.
    rules_hidden: bool,
}

impl<'a> AgentView<'a> {
    fn new(target: &'a Target, agent: Option<&'a AgentProbe>, rules: RulesLookup<'a>) -> Self {
        let addr = parse_target_url(&target.url)
            .map(|a| a.authority())
            .unwrap_or_else(|_| target.url.clone());
        let agent_addr = target_address(target, agent);
        let port = parse_target_url(&target.url).map(|a| a.port).unwrap_or(443);
        let agent_ok = agent.is_some_and(|a| a.verdict.network_ok());
        let agent_slow_ms = agent
            .and_then(|a| a.http.as_ref())
            .map(|h| h.timing.total_ms)
            .filter(|ms| *ms >= f64::from(BROWSER_TIMEOUT_MS));
        let agent_reachable = agent.is_some_and(|a| a.verdict == ReachVerdict::Reachable);
        Self {
            target,
            agent,
            rules,
            addr,
            agent_addr,
            port,
            agent_ok,
            agent_slow_ms,
            agent_reachable,
            rules_hidden: false,
        }
    }
}

/// The finding for one device's result, if it says anything the agent's does not.
fn device_finding(v: &AgentView<'_>, d: &DeviceResult) -> Option<Finding> {
    let ip = d.client_ip.as_str();
    let finding = match d.verdict {
        _ if v.agent.is_none()
            && matches!(
                d.verdict,
                ReachVerdict::TimedOut | ReachVerdict::FailedBeforeHttp | ReachVerdict::Refused
            ) =>
        {
            failed_agent_not_probed(v, d, ip)
        }
        ReachVerdict::TimedOut if v.agent_ok => match v.agent_slow_ms {
            Some(slow_ms) => timeout_slow_service(v, ip, slow_ms),
            None => blocked_timeout(v, d, ip),
        },
        ReachVerdict::TimedOut | ReachVerdict::Refused | ReachVerdict::FailedBeforeHttp
            if !v.agent_ok =>
        {
            unreachable_everywhere(v, ip)
        }
        ReachVerdict::Refused | ReachVerdict::FailedBeforeHttp => failed_before_http(v, d, ip),
        ReachVerdict::CorsBlocked => {
            let mut f = cors_finding(ip, v.agent);
            if !v.agent_ok {
                f.explanation
                    .push_str(&format!(" {}.", agent_line(v.agent)));
            }
            f
        }
        ReachVerdict::HttpError => http_error(v, d, ip),
        ReachVerdict::NotAttempted => not_attempted(v, d, ip),
        ReachVerdict::Reachable if !v.agent_ok && v.agent.is_some() => agent_only_blocked(v, ip),
        _ => return None,
    };
    Some(finding)
}

/// The device failed before HTTP and the agent has no result to compare it with.
fn failed_agent_not_probed(v: &AgentView<'_>, d: &DeviceResult, ip: &str) -> Finding {
    let addr = &v.addr;
    Finding::new(
        FindingCode::DeviceFailedAgentNotProbed,
        Severity::Critical,
        format!(
            "From {ip} the request to {addr} failed before any HTTP answer ({}); the \
             agent has not probed it yet.",
            if d.verdict == ReachVerdict::TimedOut {
                "timed out"
            } else {
                "failed"
            }
        ),
        "Probe the target from the agent to tell a firewall in front of this \
         device's network from a service that is down for everyone.",
    )
}

/// The device timed out, but the agent's answer came slower than the browser waits.
fn timeout_slow_service(v: &AgentView<'_>, ip: &str, slow_ms: f64) -> Finding {
    let addr = &v.addr;
    Finding::new(
        FindingCode::DeviceTimeoutSlowService,
        Severity::Warning,
        format!(
            "From {ip} the request to {addr} timed out, but the agent's answer also took \
             {}: the service is slow rather than blocked.",
            fmt_secs(slow_ms)
        ),
        format!(
            "The browser gives up after {:.0} s; the agent waited longer and got an \
             answer. Speed the endpoint up before suspecting a firewall.",
            f64::from(BROWSER_TIMEOUT_MS) / 1000.0
        ),
    )
}

/// The agent connects, the device hears nothing: a firewall drops this source. With rules
/// loaded, their verdict either names the rule to add (in the set that refuses) or, when
/// they admit the source, is contradicted by the evidence.
fn blocked_timeout(v: &AgentView<'_>, d: &DeviceResult, ip: &str) -> Finding {
    let (addr, agent_addr) = (&v.addr, &v.agent_addr);
    let rules = if v.rules_hidden { None } else { (v.rules)(ip) };
    if let Some(r) = rules.as_ref().filter(|r| r.admitted) {
        return rules_contradicted(v, d, ip, r);
    }
    let finding = Finding::new(
        FindingCode::DeviceBlockedTimeout,
        Severity::Critical,
        format!(
            "Reachable from the agent; from {ip} the connection to {addr} timed \
             out: an inbound firewall or security group is dropping this source."
        ),
        format!(
            "{}, at {agent_addr}. The browser at {ip} got no answer at all within \
             {}: no HTTP status, so the server never logged the request. Silence \
             rather than a refusal is the signature of a firewall or security group \
             that admits other sources (the agent's) but drops {ip}.{} {}",
            agent_line(v.agent),
            fmt_secs(f64::from(d.check.no_cors.elapsed_ms)),
            private_path_note(agent_addr, ip),
            rules_text(v, ip)
        ),
    );
    let admit = format!(
        "Admit tcp/{} from {ip} (or the network it belongs to, e.g. the guest Wi-Fi's or the \
         mobile carrier's public range) in the security group or firewall in front of {addr}.",
        v.port
    );
    let loaded = rules.is_some();
    match (rules.and_then(|r| r.fix), v.rules_hidden, loaded) {
        (Some(fix), _, _) => finding.with_fix(
            format!("{admit} {} refuses it now: {}", fix.set_id, fix.description),
            Some(fix.command),
            Some("shell"),
        ),
        (None, true, _) => finding.with_fix(admit, None, None),
        // Loaded, but their verdict names no single rule to add (it is unknown, or no
        // provider command fits): what they say is quoted above.
        (None, false, true) => finding.with_fix(
            format!("{admit} The loaded rules give no exact command for this source; their verdict is quoted above."),
            None,
            None,
        ),
        (None, false, false) => finding.with_fix(
            format!(
                "{admit} Load the security groups or firewall rules in front of it (Firewall \
                 page) to get the exact command, naming the group."
            ),
            None,
            None,
        ),
    }
}

/// The device timed out although the loaded rules admit it.
fn rules_contradicted(v: &AgentView<'_>, d: &DeviceResult, ip: &str, r: &RulesVerdict) -> Finding {
    let addr = &v.addr;
    let scoped = !v.target.firewall.sets.is_empty();
    let (why, fix) = if scoped {
        (
            format!(
                "The rule sets attached to this target admit {ip}, so a layer that is not \
                 loaded drops it: the subnet's network ACL, a cloud firewall, or the host's \
                 own firewall."
            ),
            format!("Load the other layers in front of {addr} to find the one that drops {ip}."),
        )
    } else {
        (
            format!(
                "These are all the loaded rule sets, not only the ones attached to this \
                 target: a group that admits {ip} (one open to 0.0.0.0/0 on another \
                 instance, say) may not apply here at all, and another layer may drop it."
            ),
            "Say which loaded rule sets apply to this target (its firewall sets: the groups \
             attached to its load balancer or instance, and its subnet's ACL); the verdict then \
             names the one that drops this source."
                .to_owned(),
        )
    };
    Finding::new(
        FindingCode::DeviceBlockedTimeout,
        Severity::Critical,
        format!(
            "Reachable from the agent; from {ip} the connection to {addr} timed out, \
             although the loaded rules admit it: the evidence contradicts the rules."
        ),
        format!(
            "{}. The browser at {ip} got no answer within {}. Rules loaded: {}. {why}{}",
            agent_line(v.agent),
            fmt_secs(f64::from(d.check.no_cors.elapsed_ms)),
            r.summary,
            private_path_note(&v.agent_addr, ip)
        ),
    )
    .with_fix(fix, None, None)
}

/// Said only when it is so: the agent reached a private address and the device is outside.
fn private_path_note(agent_addr: &str, ip: &str) -> String {
    // `10.0.1.20:443`, `[fd00::5]:443`, or a bare address of either family.
    let owner = |a: &str| {
        let a = a.trim();
        let ip = a
            .parse::<std::net::SocketAddr>()
            .map(|s| s.ip())
            .or_else(|_| a.parse::<std::net::IpAddr>())
            .ok()?;
        Some(crate::ownership::classify(ip, &[]))
    };
    let private = |o: &AddressOwner| {
        matches!(
            o,
            AddressOwner::Private | AddressOwner::Cgnat | AddressOwner::LinkLocal
        )
    };
    // Said only when both are known: the agent's private, the device's not.
    if let (Some(agent), Some(device)) = (owner(agent_addr), owner(ip)) {
        if private(&agent) && !private(&device) {
            return format!(
                " The agent reached {agent_addr}, a private address, and {ip} is public: the name \
                 may resolve to the private address only inside your network, so check what it \
                 resolves to from outside."
            );
        }
    }
    String::new()
}

/// Neither the agent nor the device gets through.
fn unreachable_everywhere(v: &AgentView<'_>, ip: &str) -> Finding {
    let addr = &v.addr;
    Finding::new(
        FindingCode::UnreachableEverywhere,
        Severity::Critical,
        format!("Neither the agent nor {ip} can reach {addr}."),
        format!(
            "{}. From {ip} the browser's request failed before any HTTP answer. The \
             service is down or blocked for every source.",
            agent_line(v.agent)
        ),
    )
}

/// The agent gets through; the device fails quickly before any HTTP answer.
fn failed_before_http(v: &AgentView<'_>, d: &DeviceResult, ip: &str) -> Finding {
    Finding::new(
        FindingCode::DeviceFailedBeforeHttp,
        Severity::Critical,
        format!(
            "Reachable from the agent; from {ip} the request failed before any HTTP \
             answer (name lookup, refused connection or TLS)."
        ),
        format!(
            "{}. Browsers do not say which step failed. A failure this quick (after \
             {} ms) is usually a refused connection or a name that does not resolve \
             from that network (split-horizon DNS, a private address); a certificate \
             that this device does not trust also fails this way. {}",
            agent_line(v.agent),
            d.check.no_cors.elapsed_ms,
            rules_text(v, ip)
        ),
    )
}

/// The device got an HTTP error; say so, and whether the agent saw a different status.
fn http_error(v: &AgentView<'_>, d: &DeviceResult, ip: &str) -> Finding {
    let theirs = d
        .check
        .cors
        .status
        .map_or("an error".to_owned(), |s| format!("HTTP {s}"));
    let agent_status = v.agent.and_then(|a| a.http.as_ref()).map(|h| h.status);
    let summary = match agent_status {
        Some(s) if Some(s) != d.check.cors.status => format!(
            "The agent gets HTTP {s}; {ip} gets {theirs}: the two take different paths \
             (a proxy, a CDN or a different backend answers {ip})."
        ),
        _ => format!("From {ip} the server answers {theirs}."),
    };
    Finding::new(
        FindingCode::DeviceHttpError,
        Severity::Warning,
        summary,
        format!("{}.", agent_line(v.agent)),
    )
}

/// The browser could not test the target at all, and why.
fn not_attempted(v: &AgentView<'_>, d: &DeviceResult, ip: &str) -> Finding {
    let (why, fix) = match d.check.blocked_by {
        Some(BrowserBlock::MixedContent) => (
            crate::browser::MIXED_CONTENT,
            crate::browser::MIXED_CONTENT_FIX,
        ),
        Some(BrowserBlock::LocalNetworkAccess) => (
            "the page is public and the target is a private or loopback address: \
             the request failed, and Chrome's Local Network Access rules block or \
             ask before such requests, so the failure may be the browser, not the \
             network",
            "Use the target's public address, or allow local network access for \
             the page when Chrome asks.",
        ),
        None => (
            "browsers cannot open raw TCP connections, only HTTP(S)",
            "Give the target an http:// or https:// URL to test it from browsers.",
        ),
    };
    Finding::new(
        FindingCode::DeviceNotAttempted,
        Severity::Info,
        format!("The browser at {ip} could not test {}.", v.target.name),
        format!("The result says nothing about the network: {why}."),
    )
    .with_fix(fix, None, None)
}

/// The device gets through where the agent cannot.
fn agent_only_blocked(v: &AgentView<'_>, ip: &str) -> Finding {
    Finding::new(
        FindingCode::AgentOnlyBlocked,
        Severity::Warning,
        format!("{ip} reaches {} but the agent cannot.", v.target.name),
        format!(
            "{}. The agent's host has a different path: its DNS may answer differently \
             (split-horizon), its outbound traffic may be filtered, or the address may \
             need hairpin NAT from inside.",
            agent_line(v.agent)
        ),
    )
}

/// When no device result stood out: the overall picture from the agent and the devices.
fn overall_finding(v: &AgentView<'_>, devices: &[DeviceResult]) -> Option<Finding> {
    let reachable = devices
        .iter()
        .filter(|d| d.verdict == ReachVerdict::Reachable)
        .count();
    match v.agent {
        None if devices.is_empty() => None,
        None => Some(Finding::new(
            FindingCode::AgentNotProbed,
            Severity::Info,
            "The agent has not probed this target yet.",
            "Run a probe to compare the agent's view with the devices'.",
        )),
        Some(a) if devices.is_empty() && !v.agent_reachable => Some(Finding::new(
            FindingCode::AgentProbeFailed,
            // The probe's own findings carry the cause (a proxy's 503, a refused connect):
            // one root cause, one finding at its severity; this one only points onwards.
            if a.findings.iter().any(|f| f.severity >= Severity::Warning) {
                Severity::Info
            } else if a.verdict.network_ok() {
                Severity::Warning
            } else {
                Severity::Critical
            },
            a.summary.clone(),
            "No other device has reported yet: open the phone link on a device on the \
             network in question to compare.",
        )),
        Some(_) if v.agent_reachable => Some(Finding::new(
            FindingCode::ReachableEverywhere,
            Severity::Ok,
            if devices.is_empty() {
                "Reachable from the agent; no other device has reported yet.".to_owned()
            } else {
                format!(
                    "Reachable from the agent and from {reachable} of {} device(s).",
                    devices.len()
                )
            },
            "Every vantage point that reported got an answer.",
        )),
        Some(_) => None,
    }
}

/// The network path works but the page may not read the answer: say which CORS rule, or
/// that the "CORS error" is really a proxy's error page.
fn cors_finding(ip: &str, agent: Option<&AgentProbe>) -> Finding {
    let cors = agent.and_then(|a| a.cors.as_ref());
    let http = agent.and_then(|a| a.http.as_ref());
    if let Some(c) = cors {
        if let (true, Some(h)) = (c.proxy_error_page, http) {
            return Finding::new(
                FindingCode::DeviceCorsProxyError,
                Severity::Critical,
                format!(
                    "From {ip} the browser reports a CORS error, but the real failure is HTTP {} \
                     from {}.",
                    h.status, h.fingerprint.label
                ),
                format!(
                    "The error page carries no Access-Control-Allow-Origin, so the browser hides \
                     it and calls it CORS. {}",
                    h.fingerprint.evidence
                ),
            )
            .with_fix(
                "Fix the upstream the proxy cannot reach (health check, route, timeout); adding \
                 CORS headers to the error page only makes the real error visible.",
                None,
                None,
            );
        }
        if let Some(i) = c.first_failure {
            if let Some(check) = c.checks.get(i) {
                let f = Finding::new(
                    FindingCode::DeviceCorsBlocked,
                    Severity::Critical,
                    format!(
                        "From {ip} the network path works, but the browser blocks the response: \
                         CORS rule `{}` fails.",
                        check.rule
                    ),
                    format!("{} (evaluated for origin {}).", check.detail, c.origin),
                );
                return match &check.header_to_add {
                    Some(h) => f.with_fix(
                        "Add this header to the server's (or proxy's) responses.",
                        Some(h.clone()),
                        Some("http"),
                    ),
                    None => f,
                };
            }
        }
    }
    let explanation = match cors {
        // The agent's evaluation passes for the same origin: this device got something else.
        Some(c) => format!(
            "The agent's evaluation for {} passes, so this browser's answer differs from the \
             agent's: another path (a proxy, a CDN or a captive portal on that network) answered \
             it, or the browser refused it for its own reasons (an extension, local network \
             access). The request's error in the browser's console names which.",
            c.origin
        ),
        None => "Probe the target from the agent to see which CORS rule fails and who generated \
                 the response."
            .to_owned(),
    };
    Finding::new(
        FindingCode::DeviceCorsBlocked,
        Severity::Critical,
        format!(
            "From {ip} the network path works (the no-cors request got an answer), but the \
             browser may not read the response: a CORS failure or a proxy error page."
        ),
        explanation,
    )
}

#[cfg(test)]
#[path = "vantage_points_tests.rs"]
mod tests;
