//! The only code that speaks HTTP to the agent: typed calls returning `Result<T, ApiError>`.
//!
//! Requests go to the agent serving the dashboard (relative `/api/…`), or to the agent
//! chosen on the Fleet page ([`set_base`]), which must admit this page's origin
//! (`--cors-allow-origin`).

use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use vantage_shared::alerts::{ChannelInfo, NotificationsOverview, TestNotification};
use vantage_shared::gpu::{GpuBenchOptions, GpuRun, GpuRunStarted, GpuRunSummary, GpuStatus};
use vantage_shared::probe::{
    AgentProbe, Comparison, DeviceReportIn, NewPhoneLink, NewTarget, PhoneLink, ProbeSet, Target,
    TargetHistory, TargetPatch, TargetSummary,
};
use vantage_shared::routes;
use vantage_shared::rules::Verdict;
use vantage_shared::{
    ApiErrorBody, ConnectivityReport, ContainerDetail, ContainerHistorySummary, ContainerSummary,
    ContainerTimeline, EventTicket, HealthHistory, HostFirewallRead, LoadedRules, NetworkSummary,
    Overview, RulesQuestion,
};
use web_sys::EventSource;

/// How many probes the detail page asks for: enough for hours of a 30 s interval
/// and minutes of a 1 s one, small enough to draw as SVG without jank.
pub const HISTORY_LIMIT: u32 = 500;

/// Why a call to the agent failed, in the terms the UI reacts to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 401: no token or the wrong one; the app shows the token screen.
    #[error("the agent rejected the access token")]
    Unauthorized,
    /// 503 `docker_unavailable`: the agent runs but cannot talk to Docker.
    #[error("{0}")]
    DockerUnavailable(String),
    /// 404: the container (or route) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request never got an HTTP answer (agent stopped, network down).
    #[error("cannot reach the agent: {0}")]
    Network(String),
    /// Any other answer, with the agent's message.
    #[error("the agent answered {status}: {message}")]
    Other { status: u16, message: String },
}

/// Turns a non-2xx answer into an [`ApiError`], reading the `ApiErrorBody` when there is one.
pub fn classify(status: u16, body: &str) -> ApiError {
    let parsed: Option<ApiErrorBody> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .map(|b| b.message.clone())
        .unwrap_or_else(|| body.trim().chars().take(300).collect());
    let code = parsed.as_ref().map(|b| b.error.as_str());
    match (status, code) {
        (401, _) => ApiError::Unauthorized,
        (503, Some("docker_unavailable")) => ApiError::DockerUnavailable(message),
        (404, _) => ApiError::NotFound(if message.is_empty() {
            "not found".to_owned()
        } else {
            message
        }),
        _ => ApiError::Other { status, message },
    }
}

/// Percent-encodes one query value, the same way `routes::fill` encodes path segments.
fn enc(s: &str) -> String {
    routes::encode_component(s)
}

async fn decode<T: DeserializeOwned>(resp: Response) -> Result<T, ApiError> {
    let status = resp.status();
    if resp.ok() {
        resp.json::<T>().await.map_err(|e| ApiError::Other {
            status,
            message: format!("the answer did not match this dashboard's version: {e}"),
        })
    } else {
        let body = resp.text().await.unwrap_or_default();
        Err(classify(status, &body))
    }
}

thread_local! {
    /// The chosen agent's base URL; empty for the agent serving the page.
    static BASE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Sends every later call to the agent at `url` (`http(s)://host[:port]`); `""` for the
/// agent serving the page. Set once at start, from the chosen agent.
pub fn set_base(url: &str) {
    BASE.with(|b| *b.borrow_mut() = url.to_owned());
}

/// The chosen agent's base URL, or `""`.
pub fn base() -> String {
    BASE.with(|b| b.borrow().clone())
}

/// `path` on the chosen agent.
fn at(path: &str) -> String {
    format!("{}{path}", base())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// For answers without a body (`204 No Content`).
async fn decode_empty(resp: Response) -> Result<(), ApiError> {
    if resp.ok() {
        Ok(())
    } else {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        Err(classify(status, &body))
    }
}

fn network(e: gloo_net::Error) -> ApiError {
    ApiError::Network(e.to_string())
}

async fn post<B: Serialize, T: DeserializeOwned>(
    token: &str,
    path: &str,
    body: Option<&B>,
) -> Result<T, ApiError> {
    post_to(token, &at(path), body).await
}

/// A POST to a whole URL (or a path on the agent serving the page).
async fn post_to<B: Serialize, T: DeserializeOwned>(
    token: &str,
    url: &str,
    body: Option<&B>,
) -> Result<T, ApiError> {
    let builder = Request::post(url).header("Authorization", &bearer(token));
    let resp = match body {
        Some(b) => builder.json(b).map_err(network)?.send().await,
        None => builder.send().await,
    }
    .map_err(network)?;
    decode(resp).await
}

async fn patch<B: Serialize, T: DeserializeOwned>(
    token: &str,
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    let resp = Request::patch(&at(path))
        .header("Authorization", &bearer(token))
        .json(body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    decode(resp).await
}

/// A POST whose answer has no body (`202`, `204`).
async fn post_accepted<B: Serialize>(token: &str, path: &str, body: &B) -> Result<(), ApiError> {
    let resp = Request::post(&at(path))
        .header("Authorization", &bearer(token))
        .json(body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    decode_empty(resp).await
}

async fn delete(token: &str, path: &str) -> Result<(), ApiError> {
    let resp = Request::delete(&at(path))
        .header("Authorization", &bearer(token))
        .send()
        .await
        .map_err(network)?;
    decode_empty(resp).await
}

async fn get<T: DeserializeOwned>(token: &str, path: &str) -> Result<T, ApiError> {
    get_from(token, &at(path)).await
}

/// A GET of a whole URL (another agent's, on the Fleet page).
async fn get_from<T: DeserializeOwned>(token: &str, url: &str) -> Result<T, ApiError> {
    let resp = Request::get(url)
        .header("Authorization", &bearer(token))
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    decode(resp).await
}

/// `GET /api/overview`.
pub async fn overview(token: &str) -> Result<Overview, ApiError> {
    get(token, routes::OVERVIEW).await
}

/// `GET /api/containers`.
pub async fn containers(token: &str) -> Result<Vec<ContainerSummary>, ApiError> {
    get(token, routes::CONTAINERS).await
}

/// `GET /api/containers/{id}`.
pub async fn container(token: &str, id: &str) -> Result<ContainerDetail, ApiError> {
    get(token, &routes::fill(routes::CONTAINER, &[id])).await
}

/// `GET /api/containers/{id}/events?limit=…` (newest first).
pub async fn container_events(
    token: &str,
    id: &str,
    limit: u32,
) -> Result<ContainerTimeline, ApiError> {
    let path = routes::fill(routes::CONTAINER_EVENTS, &[id]);
    get(token, &format!("{path}?limit={limit}")).await
}

/// `GET /api/containers/{id}/summary`.
pub async fn container_summary(token: &str, id: &str) -> Result<ContainerHistorySummary, ApiError> {
    get(token, &routes::fill(routes::CONTAINER_SUMMARY, &[id])).await
}

/// `GET /api/containers/{id}/health-history?limit=…` (newest first).
pub async fn health_history(token: &str, id: &str, limit: u32) -> Result<HealthHistory, ApiError> {
    get(
        token,
        &format!(
            "{}?limit={limit}",
            routes::fill(routes::HEALTH_HISTORY, &[id])
        ),
    )
    .await
}

/// `GET /api/networks`.
pub async fn networks(token: &str) -> Result<Vec<NetworkSummary>, ApiError> {
    get(token, routes::NETWORKS).await
}

/// `GET /api/connectivity?from=…&to=…`.
pub async fn connectivity(
    token: &str,
    from: &str,
    to: &str,
) -> Result<ConnectivityReport, ApiError> {
    get(
        token,
        &format!("{}?from={}&to={}", routes::CONNECTIVITY, enc(from), enc(to)),
    )
    .await
}

/// `GET /api/targets` (admin).
pub async fn targets(token: &str) -> Result<Vec<Target>, ApiError> {
    get(token, routes::TARGETS).await
}

/// `POST /api/targets` (admin): 400 with a message on bad input, 409 when the name exists.
pub async fn add_target(token: &str, target: &NewTarget) -> Result<Target, ApiError> {
    post(token, routes::TARGETS, Some(target)).await
}

/// `DELETE /api/targets/{id}` (admin): 409 for targets from the config file.
pub async fn delete_target(token: &str, id: &str) -> Result<(), ApiError> {
    delete(token, &routes::fill(routes::TARGET, &[id])).await
}

/// `GET /api/notifications`: channels (without secrets), policy, delivery log.
pub async fn notifications(token: &str) -> Result<NotificationsOverview, ApiError> {
    get(token, routes::NOTIFICATIONS).await
}

/// `POST /api/notifications/channels`: adds a channel (the agent keeps its secret).
pub async fn add_channel(
    token: &str,
    channel: &serde_json::Value,
) -> Result<ChannelInfo, ApiError> {
    post(token, routes::CHANNELS, Some(channel)).await
}

/// `DELETE /api/notifications/channels/{name}`.
pub async fn delete_channel(token: &str, name: &str) -> Result<(), ApiError> {
    delete(token, &routes::fill(routes::CHANNEL, &[name])).await
}

/// `POST /api/notifications/test`: queues a test notification for one channel.
pub async fn test_notification(token: &str, channel: &str) -> Result<(), ApiError> {
    let body = TestNotification {
        channel: channel.to_owned(),
    };
    post_accepted(token, routes::NOTIFICATIONS_TEST, &body).await
}

/// `PATCH /api/targets/{id}`: a dashboard target's new probe interval.
pub async fn patch_target(token: &str, id: &str, change: &TargetPatch) -> Result<Target, ApiError> {
    patch(token, &routes::fill(routes::TARGET, &[id]), change).await
}

/// `POST /api/targets/{id}/probe` (admin or phone token): the agent probes now, which
/// can take up to ~15 s (DNS, every address, TLS, HTTP, the CORS preflight).
pub async fn probe_target(token: &str, id: &str) -> Result<AgentProbe, ApiError> {
    post::<(), _>(token, &routes::fill(routes::TARGET_PROBE, &[id]), None).await
}

/// `GET /api/targets/{id}/history?limit=…` (newest first).
pub async fn target_history(token: &str, id: &str, limit: u32) -> Result<TargetHistory, ApiError> {
    get(
        token,
        &format!(
            "{}?limit={limit}",
            routes::fill(routes::TARGET_HISTORY, &[id])
        ),
    )
    .await
}

/// `GET /api/targets/{id}/summary`.
pub async fn target_summary(token: &str, id: &str) -> Result<TargetSummary, ApiError> {
    get(token, &routes::fill(routes::TARGET_SUMMARY, &[id])).await
}

/// `GET /api/comparison` (admin): every target, the agent's latest probe and every device's.
pub async fn comparison(token: &str) -> Result<Comparison, ApiError> {
    get(token, routes::COMPARISON).await
}

/// `POST /api/phone-links` (admin).
pub async fn create_phone_link(token: &str, link: &NewPhoneLink) -> Result<PhoneLink, ApiError> {
    post(token, routes::PHONE_LINKS, Some(link)).await
}

/// `GET /api/phone-links` (admin): the links that have not expired or been revoked.
pub async fn phone_links(token: &str) -> Result<Vec<PhoneLink>, ApiError> {
    get(token, routes::PHONE_LINKS).await
}

/// `DELETE /api/phone-links/{code}` (admin).
pub async fn revoke_phone_link(token: &str, code: &str) -> Result<(), ApiError> {
    delete(token, &routes::fill(routes::PHONE_LINK, &[code])).await
}

/// `GET /api/phone/targets` with the phone link's code (or the admin token) as bearer.
pub async fn phone_targets(code: &str) -> Result<ProbeSet, ApiError> {
    get(code, routes::PHONE_TARGETS).await
}

/// `POST /api/reports`: this browser's results; the answer is the comparison restricted
/// to this device.
pub async fn post_report(token: &str, report: &DeviceReportIn) -> Result<Comparison, ApiError> {
    post(token, routes::REPORTS, Some(report)).await
}

/// `GET /api/rules` (admin): every loaded rules file with its parsed rule sets.
pub async fn rules(token: &str) -> Result<Vec<LoadedRules>, ApiError> {
    get(token, routes::RULES).await
}

/// `POST /api/rules?name=…` (admin): the command's output as is, as `text/plain`.
/// 400 names the JSON path, line and column of what is wrong.
pub async fn upload_rules(token: &str, name: &str, text: &str) -> Result<LoadedRules, ApiError> {
    let resp = Request::post(&at(&format!("{}?name={}", routes::RULES, enc(name))))
        .header("Authorization", &bearer(token))
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(text)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    decode(resp).await
}

/// `DELETE /api/rules/{id}` (admin): 409 for `file-…` (from the config file).
pub async fn delete_rules(token: &str, id: &str) -> Result<(), ApiError> {
    delete(token, &routes::fill(routes::RULE_SET, &[id])).await
}

/// `POST /api/rules/evaluate` (admin): the agent's verdict against every loaded rule set.
pub async fn evaluate_rules(token: &str, question: &RulesQuestion) -> Result<Verdict, ApiError> {
    post(token, routes::RULES_EVALUATE, Some(question)).await
}

/// `GET /api/rules/host` (admin): the last live read of the agent's host firewall, if any.
pub async fn host_firewall(token: &str) -> Result<Option<HostFirewallRead>, ApiError> {
    get(token, routes::RULES_HOST).await
}

/// `POST /api/rules/host` (admin): the agent reads its host's firewall now.
pub async fn read_host_firewall(token: &str) -> Result<HostFirewallRead, ApiError> {
    post::<(), _>(token, routes::RULES_HOST, None).await
}

/// `GET /api/gpu`: driver, devices, NVRTC, containers' GPU access.
pub async fn gpu_status(token: &str) -> Result<GpuStatus, ApiError> {
    get(token, routes::GPU).await
}

/// `GET /api/gpu/runs`: the history of benchmark runs, newest first.
pub async fn gpu_runs(token: &str) -> Result<Vec<GpuRunSummary>, ApiError> {
    get(token, routes::GPU_RUNS).await
}

/// `GET /api/gpu/runs/{id}`: one run, whole.
pub async fn gpu_run(token: &str, id: &str) -> Result<GpuRun, ApiError> {
    get(token, &routes::fill(routes::GPU_RUN, &[id])).await
}

/// `POST /api/gpu/runs`: starts a run (202); `409` while another runs.
pub async fn start_gpu_run(
    token: &str,
    options: &GpuBenchOptions,
) -> Result<GpuRunStarted, ApiError> {
    post(token, routes::GPU_RUNS, Some(options)).await
}

/// `POST /api/gpu/runs/{id}/cancel`: 202 when it was running (it ends as `cancelled`),
/// 409 when it is not running.
pub async fn cancel_gpu_run(token: &str, id: &str) -> Result<(), ApiError> {
    let resp = Request::post(&at(&routes::fill(routes::GPU_RUN_CANCEL, &[id])))
        .header("Authorization", &bearer(token))
        .send()
        .await
        .map_err(network)?;
    decode_empty(resp).await
}

/// `POST /api/events/ticket`: `EventSource` cannot send headers, so the stream is
/// authorised by a one-time ticket fetched with the token.
pub async fn event_ticket(token: &str) -> Result<EventTicket, ApiError> {
    post::<(), _>(token, routes::EVENT_TICKET, None).await
}

/// The SSE event names the agent sends (`AgentEvent::kind`). Named events only reach
/// listeners registered for that name, not `onmessage`.
pub const EVENT_NAMES: [&str; 11] = [
    "docker",
    "container_changed",
    "container_removed",
    "healthcheck_run",
    "networks_changed",
    "targets_changed",
    "agent_probed",
    "device_reported",
    "rules_changed",
    "gpu_bench_progress",
    "gpu_bench_finished",
];

/// The events of the GPU page: progress is shown as it comes, a finished run refetches.
pub const GPU_EVENTS: [&str; 2] = ["gpu_bench_progress", "gpu_bench_finished"];

/// The events after which the reachability page refetches; Docker events do not touch it.
/// `rules_changed` too: every device's rules verdict comes with the comparison.
pub const REACH_EVENTS: [&str; 4] = [
    "targets_changed",
    "agent_probed",
    "device_reported",
    "rules_changed",
];

/// The events after which the firewall page refetches the loaded rules.
pub const RULES_EVENTS: [&str; 1] = ["rules_changed"];

/// Opens `GET /api/events?ticket=…`.
pub fn open_events(ticket: &str) -> Result<EventSource, ApiError> {
    EventSource::new(&at(&format!("{}?ticket={}", routes::EVENTS, enc(ticket))))
        .map_err(|e| ApiError::Network(format!("cannot open the event stream: {e:?}")))
}

/// The overview of the agent at `base` (`""`: the one serving the page), for the Fleet
/// page, which asks every agent whichever one is chosen.
pub async fn overview_of(base: &str, token: &str) -> Result<Overview, ApiError> {
    get_from(token, &format!("{base}{}", routes::OVERVIEW)).await
}

/// Asks the agent serving the page why the agent at `url` cannot be reached from here
/// (its probe of that agent's health route, with CORS for this page's origin).
pub async fn fleet_check(home_token: &str, url: &str) -> Result<AgentProbe, ApiError> {
    let body = vantage_shared::fleet::FleetCheck {
        url: url.to_owned(),
    };
    // Relative: the agent serving the page, whichever agent is chosen.
    post_to(home_token, routes::FLEET_CHECK, Some(&body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_agent_errors() {
        assert_eq!(
            classify(401, r#"{"error":"unauthorized","message":"x"}"#),
            ApiError::Unauthorized
        );
        assert_eq!(
            classify(
                503,
                r#"{"error":"docker_unavailable","message":"cannot connect"}"#
            ),
            ApiError::DockerUnavailable("cannot connect".into())
        );
        assert_eq!(
            classify(503, "upstream down"),
            ApiError::Other {
                status: 503,
                message: "upstream down".into()
            }
        );
        assert_eq!(
            classify(
                404,
                r#"{"error":"not_found","message":"no container named x"}"#
            ),
            ApiError::NotFound("no container named x".into())
        );
        assert_eq!(
            classify(500, r#"{"error":"internal","message":"boom"}"#),
            ApiError::Other {
                status: 500,
                message: "boom".into()
            }
        );
    }
}
