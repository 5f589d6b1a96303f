//! Reachability API (issue 3): targets, agent probes, device reports, phone links and the
//! comparison. A phone link's code is a scoped token: it may list the probe set, have the
//! agent probe a *configured* target and post its own results — never probe an address of
//! its choosing, so the agent cannot be used as an open proxy or scanner.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::Utc;
use tokio::sync::Semaphore;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::diagnosis::vantage_points::compare;
use vantage_shared::probe::{
    classify_browser, validate_new_target, AgentProbe, Comparison, DeviceReportIn, DeviceResult,
    NewPhoneLink, NewTarget, PhoneLink, ProbeSet, ProbeTarget, ReachVerdict, RulesVerdict, Target,
    TargetComparison, TargetSource, MAX_REPORT_RESULTS, MAX_TARGETS,
};
use vantage_shared::{AgentEvent, ApiErrorBody};

use crate::auth::{client_ip, random_code, Caller};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::probe::{probe_target, ProbeContext};
use crate::AppState;

/// Default phone-link lifetime.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(3600);
/// Longest phone-link lifetime.
pub const MAX_LINK_TTL: Duration = Duration::from_secs(24 * 3600);
/// Probes running at once, whoever asked: a page hammering "probe" cannot make the agent
/// open thousands of connections.
pub const MAX_CONCURRENT_PROBES: usize = 64;
/// A phone asking for the agent's view gets a probe at most this old instead of a new one.
const PHONE_PROBE_REUSE: Duration = Duration::from_secs(30);
/// Devices shown per target in the comparison.
const DEVICES_PER_TARGET: usize = 20;

/// Probes that phone links may have running at once, apart from the admin's pool: phones
/// cannot starve the admin's probes.
pub const MAX_PHONE_PROBES: usize = 4;
/// Probe requests one phone link may make per minute.
const PHONE_PROBES_PER_MINUTE: usize = 30;
/// Reports one phone link may post per minute.
const PHONE_REPORTS_PER_MINUTE: usize = 20;
/// Devices one phone link may report from (a family's phones, a team's laptops).
pub const MAX_DEVICES_PER_LINK: usize = 50;
/// Device result rows kept in all; the oldest go first.
const MAX_DEVICE_ROWS: usize = 20_000;
/// Largest report body: a result per target for the most targets allowed.
pub const MAX_REPORT_BYTES: usize = 1024 * 1024;

/// Sliding-window request counter per key (a phone link's code).
#[derive(Clone, Default)]
pub struct RateLimiter {
    inner: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl RateLimiter {
    /// Records a request for `key`; false when it already made `max` within `window`.
    pub fn allow(&self, key: &str, max: usize, window: Duration) -> bool {
        let Ok(mut map) = self.inner.lock() else {
            return false;
        };
        let now = Instant::now();
        if map.len() > 10_000 {
            // Expired links leave keys behind; drop those with nothing in the window.
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = map.entry(key.to_owned()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= max {
            return false;
        }
        q.push_back(now);
        true
    }
}

/// Reachability state shared by the handlers.
#[derive(Clone)]
pub struct Reach {
    /// Targets from the config file; they shadow dashboard targets with the same id.
    pub config_targets: Arc<[Target]>,
    pub trusted_proxies: Arc<[(IpAddr, u8)]>,
    pub probes: Arc<Semaphore>,
    pub phone_probes: Arc<Semaphore>,
    /// One phone-triggered probe per target at a time; the next phone reuses its result.
    target_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    pub limiter: RateLimiter,
}

impl Default for Reach {
    fn default() -> Self {
        Self {
            config_targets: Arc::from(Vec::new()),
            trusted_proxies: Arc::from(Vec::new()),
            probes: Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES)),
            phone_probes: Arc::new(Semaphore::new(MAX_PHONE_PROBES)),
            target_locks: Arc::default(),
            limiter: RateLimiter::default(),
        }
    }
}

impl Reach {
    fn target_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.target_locks.lock() {
            Ok(mut map) => Arc::clone(map.entry(id.to_owned()).or_default()),
            // A poisoned map only loses the de-duplication, not correctness.
            Err(_) => Arc::default(),
        }
    }
}

/// The routes of this module, all behind the token check.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_targets, add_target))
        .routes(routes!(delete_target))
        .routes(routes!(run_probe))
        .routes(routes!(comparison))
        .routes(routes!(list_phone_links, create_phone_link))
        .routes(routes!(revoke_phone_link))
        .routes(routes!(phone_targets))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(post_report))
                // A result per target for up to MAX_TARGETS targets.
                .layer(DefaultBodyLimit::max(MAX_REPORT_BYTES)),
        )
}

/// The address the agent sees the caller as (see [`client_ip`]).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Absent only when the router is driven without a socket (unit tests).
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Self(client_ip(
            peer,
            &forwarded,
            &state.reach.trusted_proxies,
        )))
    }
}

/// Config targets, then dashboard targets not shadowed by them.
async fn all_targets(state: &AppState) -> Result<Vec<Target>, ApiError> {
    let mut out: Vec<Target> = state.reach.config_targets.to_vec();
    for t in state.store.targets().await? {
        if !out.iter().any(|o| o.id == t.id) {
            out.push(t);
        }
    }
    Ok(out)
}

async fn find_target(state: &AppState, id: &str) -> Result<Target, ApiError> {
    all_targets(state)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no target `{id}`: only targets in the config file or added in the dashboard can be probed"
            ))
        })
}

/// The origin the dashboard was loaded from: the browser's `Origin`, else the `Host`.
fn request_origin(headers: &HeaderMap) -> String {
    if let Some(o) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if o.starts_with("http://") || o.starts_with("https://") {
            return o.to_owned();
        }
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// Every probe target, config targets first.
#[utoipa::path(get, path = "/api/targets", tag = "reach", security(("bearer" = [])),
    responses((status = 200, body = [Target]), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody)))]
async fn list_targets(State(state): State<AppState>) -> Result<Json<Vec<Target>>, ApiError> {
    Ok(Json(all_targets(&state).await?))
}

/// Adds a target (admin). Its id is the slug of its name.
#[utoipa::path(post, path = "/api/targets", tag = "reach", security(("bearer" = [])), request_body = NewTarget,
    responses((status = 201, body = Target), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
async fn add_target(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewTarget>,
) -> Result<(StatusCode, Json<Target>), ApiError> {
    validate_new_target(&new).map_err(ApiError::BadRequest)?;
    let existing = all_targets(&state).await?;
    if existing.len() >= MAX_TARGETS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_TARGETS} targets; delete some first"
        )));
    }
    let target = Target::from_new(new, TargetSource::Dashboard);
    if existing.iter().any(|t| t.id == target.id)
        || !state.store.insert_target(target.clone()).await?
    {
        return Err(ApiError::Conflict(format!(
            "a target with id `{}` exists: choose another name",
            target.id
        )));
    }
    state.docker.publish(AgentEvent::TargetsChanged);
    Ok((StatusCode::CREATED, Json(target)))
}

/// Removes a dashboard target with its results (admin). Config targets are removed in the file.
#[utoipa::path(delete, path = "/api/targets/{id}", tag = "reach", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")),
    responses((status = 204), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
async fn delete_target(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.reach.config_targets.iter().any(|t| t.id == id) {
        return Err(ApiError::Conflict(format!(
            "target `{id}` is defined in the config file: remove it there and restart the agent"
        )));
    }
    if !state.store.delete_target(id.clone()).await? {
        return Err(ApiError::NotFound(format!("no dashboard target `{id}`")));
    }
    state.docker.publish(AgentEvent::TargetsChanged);
    Ok(StatusCode::NO_CONTENT)
}

/// What a phone link holder sees of the agent's probe: the verdict in words, without
/// addresses, headers, bodies or certificates of the target.
fn redact_probe(p: &AgentProbe) -> AgentProbe {
    let status = p.http.as_ref().map(|h| h.status);
    let summary = match (p.verdict, status) {
        (ReachVerdict::Reachable, Some(s)) => format!("The agent reaches it (HTTP {s})."),
        (ReachVerdict::Reachable, None) => "The agent reaches it.".to_owned(),
        (ReachVerdict::HttpError, Some(s)) => {
            format!("The agent reaches it, but it answers HTTP {s}.")
        }
        (ReachVerdict::DnsFailed, _) => "The agent cannot resolve its name.".to_owned(),
        (ReachVerdict::TimedOut, _) => "The agent's connection attempts time out.".to_owned(),
        (ReachVerdict::Refused, _) => "The agent's connection attempts are refused.".to_owned(),
        (ReachVerdict::TlsFailed, _) => "The agent's TLS handshake fails.".to_owned(),
        _ => "The agent could not tell.".to_owned(),
    };
    AgentProbe {
        target_id: p.target_id.clone(),
        at: p.at,
        dns: None,
        tcp: Vec::new(),
        tls: None,
        http: None,
        cors: None,
        verdict: p.verdict,
        summary,
        findings: Vec::new(),
    }
}

/// A target as a phone link holder may see it: name and URL, none of its settings
/// (request headers may hold keys; the rest is the admin's business).
/// The rules verdict already worked out for the device at `ip` (the diagnosis quotes it;
/// evaluating the rules again would give the same answer at the same cost).
fn rules_of(devices: &[DeviceResult], ip: &str) -> Option<RulesVerdict> {
    devices
        .iter()
        .find(|d| d.client_ip == ip)
        .and_then(|d| d.rules.clone())
}

fn redact_target(t: &Target) -> Target {
    Target {
        id: t.id.clone(),
        name: t.name.clone(),
        url: t.url.clone(),
        expected_status: None,
        cors_origin: None,
        cors_method: None,
        cors_headers: Vec::new(),
        cors_credentials: false,
        // Which security groups apply is the admin's business, not the phone's.
        firewall: Default::default(),
        source: t.source,
    }
}

/// Runs the engine with this host's Docker networks for address ownership.
async fn probe_with(state: &AppState, target: &Target, origin: String) -> AgentProbe {
    let ctx = ProbeContext {
        docker_networks: state
            .docker
            .networks()
            .into_iter()
            .flat_map(|n| {
                let name = n.name;
                n.subnets.into_iter().map(move |s| (name.clone(), s))
            })
            .collect(),
        default_origin: origin,
        ..ProbeContext::default()
    };
    probe_target(target, &ctx).await
}

/// Probes one configured target from the agent: DNS, TCP per address, TLS, HTTP, CORS.
/// Phone links get a redacted result, reused for 30 s.
#[utoipa::path(post, path = "/api/targets/{id}/probe", tag = "reach", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")),
    responses((status = 200, body = AgentProbe), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
async fn run_probe(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AgentProbe>, ApiError> {
    let target = find_target(&state, &id).await?;
    let probe = match &caller {
        Caller::Admin => {
            let _permit = state
                .reach
                .probes
                .acquire()
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            probe_with(&state, &target, request_origin(&headers)).await
        }
        Caller::Phone { code, base_url, .. } => {
            if !state.reach.limiter.allow(
                &format!("probe:{code}"),
                PHONE_PROBES_PER_MINUTE,
                Duration::from_secs(60),
            ) {
                return Err(ApiError::TooManyRequests(format!(
                    "at most {PHONE_PROBES_PER_MINUTE} probes a minute per phone link"
                )));
            }
            // Phones asking at once share one probe: the later ones wait and reuse it.
            let lock = state.reach.target_lock(&id);
            let _one_at_a_time = lock.lock().await;
            if let Some(p) = state.store.agent_probe(id.clone()).await? {
                let fresh = Utc::now()
                    .signed_duration_since(p.at)
                    .to_std()
                    .is_ok_and(|age| age < PHONE_PROBE_REUSE);
                if fresh {
                    return Ok(Json(redact_probe(&p)));
                }
            }
            let _permit = state.reach.phone_probes.try_acquire().map_err(|_| {
                ApiError::TooManyRequests(
                    "the agent is busy probing for other phones: try again in a few seconds".into(),
                )
            })?;
            // The origin comes from the link, never from the caller: a phone must not
            // choose the origin behind the admin's stored CORS verdict.
            let origin = if base_url.is_empty() {
                request_origin(&headers)
            } else {
                base_url.clone()
            };
            probe_with(&state, &target, origin).await
        }
    };
    state.store.save_agent_probe(&probe).await?;
    state.docker.publish(AgentEvent::AgentProbed {
        target_id: probe.target_id.clone(),
        verdict: probe.verdict,
    });
    Ok(Json(match caller {
        Caller::Admin => probe,
        Caller::Phone { .. } => redact_probe(&probe),
    }))
}

/// Every target with the agent's latest probe, every device's latest result, and the
/// diagnosis (admin).
#[utoipa::path(get, path = "/api/comparison", tag = "reach", security(("bearer" = [])),
    responses((status = 200, body = Comparison), (status = 401, body = ApiErrorBody), (status = 403, body = ApiErrorBody)))]
async fn comparison(State(state): State<AppState>) -> Result<Json<Comparison>, ApiError> {
    let targets = all_targets(&state).await?;
    let mut agents = state.store.agent_probes().await?;
    let mut devices = state.store.device_results(DEVICES_PER_TARGET).await?;
    let rules_loaded = !state.rules.is_empty();
    let targets = targets
        .into_iter()
        .map(|t| {
            let agent = agents.remove(&t.id);
            let mut devices = devices.remove(&t.id).unwrap_or_default();
            let port = target_port(&t);
            for d in &mut devices {
                d.rules = state.rules.verdict_for(&d.client_ip, port, &t.firewall);
            }
            let findings = compare(&t, agent.as_ref(), &devices, &|ip| rules_of(&devices, ip));
            TargetComparison {
                target: t,
                agent,
                devices,
                findings,
            }
        })
        .collect();
    Ok(Json(Comparison {
        targets,
        rules_loaded,
    }))
}

/// The port the rules are asked about: the target's.
fn target_port(t: &Target) -> u16 {
    vantage_shared::probe::parse_target_url(&t.url).map_or(443, |a| a.port)
}

/// The probe set for a phone link: target names and URLs only.
#[utoipa::path(get, path = "/api/phone/targets", tag = "reach", security(("bearer" = [])),
    responses((status = 200, body = ProbeSet), (status = 401, body = ApiErrorBody)))]
async fn phone_targets(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ClientIp(ip): ClientIp,
) -> Result<Json<ProbeSet>, ApiError> {
    let expires_at = match caller {
        Caller::Phone { expires_at, .. } => expires_at,
        // The admin token does not expire; say "a day from now" rather than nothing.
        Caller::Admin => Utc::now() + chrono::Duration::days(1),
    };
    Ok(Json(ProbeSet {
        targets: all_targets(&state)
            .await?
            .iter()
            .map(ProbeTarget::from)
            .collect(),
        expires_at,
        client_ip: ip.to_string(),
    }))
}

fn valid_device_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Records one device's browser results with the address the agent saw, and answers with
/// the comparison for that device.
#[utoipa::path(post, path = "/api/reports", tag = "reach", security(("bearer" = [])), request_body = DeviceReportIn,
    responses((status = 200, body = Comparison), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 413, body = ApiErrorBody)))]
async fn post_report(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(report): ApiJson<DeviceReportIn>,
) -> Result<Json<Comparison>, ApiError> {
    if !valid_device_id(&report.device_id) {
        return Err(ApiError::BadRequest(
            "device_id must be 1–64 letters, digits, `-` or `_`".into(),
        ));
    }
    if report.results.len() > MAX_REPORT_RESULTS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_REPORT_RESULTS} results per report"
        )));
    }
    if report.page_origin.len() > 300 {
        return Err(ApiError::BadRequest("page_origin is too long".into()));
    }
    let targets = all_targets(&state).await?;
    for r in &report.results {
        if !targets.iter().any(|t| t.id == r.target_id) {
            return Err(ApiError::BadRequest(format!(
                "no target `{}`: the probe set changed; reload the page",
                r.target_id.chars().take(80).collect::<String>()
            )));
        }
    }
    let user_agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .chars()
        .take(300)
        .collect();
    let now = Utc::now();
    let results: Vec<DeviceResult> = report
        .results
        .into_iter()
        .map(|mut probe| {
            // Error texts come from the browser: keep them short.
            for a in [&mut probe.no_cors, &mut probe.cors] {
                if let Some(e) = &mut a.error {
                    *e = e.chars().take(300).collect();
                }
            }
            DeviceResult {
                device_id: report.device_id.clone(),
                client_ip: ip.to_string(),
                user_agent: user_agent.clone(),
                received_at: now,
                verdict: classify_browser(&probe),
                probe,
                rules: None,
            }
        })
        .collect();
    let owner = match &caller {
        Caller::Admin => "admin".to_owned(),
        Caller::Phone { code, .. } => {
            if !state.reach.limiter.allow(
                &format!("report:{code}"),
                PHONE_REPORTS_PER_MINUTE,
                Duration::from_secs(60),
            ) {
                return Err(ApiError::TooManyRequests(format!(
                    "at most {PHONE_REPORTS_PER_MINUTE} reports a minute per phone link"
                )));
            }
            code.clone()
        }
    };
    let saved = state
        .store
        .save_device_results(
            owner,
            results.clone(),
            MAX_DEVICES_PER_LINK,
            MAX_DEVICE_ROWS,
        )
        .await?;
    if !saved {
        return Err(ApiError::TooManyRequests(format!(
            "this link has already reported from {MAX_DEVICES_PER_LINK} devices: create a new link"
        )));
    }
    state.docker.publish(AgentEvent::DeviceReported {
        device_id: report.device_id.clone(),
        client_ip: ip.to_string(),
    });
    let mut agents = state.store.agent_probes().await?;
    let phone = matches!(caller, Caller::Phone { .. });
    let targets = results
        .into_iter()
        .filter_map(|d| {
            let t = targets.iter().find(|t| t.id == d.probe.target_id)?;
            let mut agent = agents.remove(&t.id);
            if phone {
                // The diagnosis is worded from what the phone may see, so it does not quote
                // resolved addresses or server headers.
                agent = agent.as_ref().map(redact_probe);
            }
            // Phone holders do not learn what the firewall admits; the admin's view does.
            let mut d = d;
            d.rules = if phone {
                None
            } else {
                state
                    .rules
                    .verdict_for(&d.client_ip, target_port(t), &t.firewall)
            };
            let one = std::slice::from_ref(&d);
            let findings = compare(t, agent.as_ref(), one, &|ip| rules_of(one, ip));
            Some(TargetComparison {
                target: if phone { redact_target(t) } else { t.clone() },
                agent,
                devices: vec![d],
                findings,
            })
        })
        .collect();
    Ok(Json(Comparison {
        targets,
        rules_loaded: !phone && !state.rules.is_empty(),
    }))
}

fn link(
    code: String,
    base: &str,
    created: chrono::DateTime<Utc>,
    expires: chrono::DateTime<Utc>,
) -> PhoneLink {
    PhoneLink {
        url: format!("{}/p/{code}", base.trim_end_matches('/')),
        code,
        created_at: created,
        expires_at: expires,
    }
}

/// Creates a phone link: a short URL carrying a scoped, expiring token (admin).
#[utoipa::path(post, path = "/api/phone-links", tag = "reach", security(("bearer" = [])), request_body = NewPhoneLink,
    responses((status = 201, body = PhoneLink), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody)))]
async fn create_phone_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewPhoneLink>,
) -> Result<(StatusCode, Json<PhoneLink>), ApiError> {
    let ttl = match (new.ttl_seconds, new.ttl_minutes) {
        (Some(s), _) => Duration::from_secs(u64::from(s)),
        (None, Some(m)) => Duration::from_secs(u64::from(m) * 60),
        (None, None) => DEFAULT_LINK_TTL,
    };
    if ttl.is_zero() || ttl > MAX_LINK_TTL {
        return Err(ApiError::BadRequest(
            "a phone link lives between 1 second and 24 hours".into(),
        ));
    }
    let base = match new.base_url {
        Some(b) => {
            let b = b.trim().trim_end_matches('/').to_owned();
            let rest = b
                .strip_prefix("http://")
                .or_else(|| b.strip_prefix("https://"))
                .unwrap_or("");
            if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) || b.len() > 300 {
                return Err(ApiError::BadRequest(format!(
                    "base_url `{b}` must look like http://203.0.113.5:8787 (scheme, host, port; no path)"
                )));
            }
            b
        }
        None => request_origin(&headers),
    };
    let code = random_code().map_err(|e| ApiError::Internal(e.to_string()))?;
    let created = Utc::now();
    let expires =
        created + chrono::Duration::from_std(ttl).map_err(|e| ApiError::Internal(e.to_string()))?;
    state
        .store
        .create_phone_link(code.clone(), base.clone(), created, expires)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(link(code, &base, created, expires)),
    ))
}

/// Phone links that are neither expired nor revoked (admin).
#[utoipa::path(get, path = "/api/phone-links", tag = "reach", security(("bearer" = [])),
    responses((status = 200, body = [PhoneLink]), (status = 401, body = ApiErrorBody)))]
async fn list_phone_links(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<PhoneLink>>, ApiError> {
    let base = request_origin(&headers);
    let links = state.store.active_phone_links(Utc::now()).await?;
    Ok(Json(
        links
            .into_iter()
            .map(|(code, stored, c, e)| {
                let base = if stored.is_empty() { &base } else { &stored };
                link(code, base, c, e)
            })
            .collect(),
    ))
}

/// Revokes a phone link at once (admin).
#[utoipa::path(delete, path = "/api/phone-links/{code}", tag = "reach", security(("bearer" = [])),
    params(("code" = String, Path, description = "The link's code")),
    responses((status = 204), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
async fn revoke_phone_link(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.revoke_phone_link(code).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such phone link".into()))
    }
}
