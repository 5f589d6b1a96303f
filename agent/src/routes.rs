//! The JSON API under `/api`: handlers, their OpenAPI descriptions, and the router
//! that applies the token check to every route but liveness.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::Deserialize;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::diagnosis::{connectivity, container, health_timing};
use vantage_shared::routes;
use vantage_shared::{
    AgentHealth, ApiErrorBody, ConnectivityReport, ContainerCounts, ContainerDetail,
    ContainerSummary, EventTicket, HealthHistory, HealthStats, NetworkSummary, Overview, Problem,
};

use crate::auth::{require_token, TICKET_TTL};
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::AppState;

/// Most runs one history request returns.
pub const MAX_HISTORY_LIMIT: u32 = 10_000;
/// Probes looked at for a container's diagnoses.
const DIAGNOSIS_WINDOW: u32 = 2_000;

#[derive(OpenApi)]
#[openapi(
    info(title = "Vantage agent API", description = "Docker state, healthcheck history and diagnoses from a Vantage agent. Every route but /api/health needs `Authorization: Bearer <token>`."),
    modifiers(&BearerAuth),
    tags((name = "agent"), (name = "docker"), (name = "events"), (name = "reach", description = "Targets, probes from the agent and from devices, phone links"), (name = "rules", description = "Security groups and firewall rules: would this source be allowed?"), (name = "alerts", description = "Notification channels, the delivery log, test notifications"), (name = "fleet", description = "Other agents, as this dashboard reaches them"), (name = "gpu", description = "GPU identity, containers' GPU access, benchmark runs (transfers, blur on GPU vs CPU, break-even N*)"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Routes behind the token check (the check itself is added by [`api`]).
fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(overview))
        .routes(routes!(list_containers))
        .routes(routes!(get_container))
        .routes(routes!(health_history))
        .routes(routes!(list_networks))
        .routes(routes!(get_connectivity))
        .routes(routes!(event_ticket))
        .merge(crate::containers::routes())
        .merge(crate::alerts::routes::routes())
        .merge(crate::reach::routes())
        .merge(crate::rules::routes())
        .merge(crate::gpu::routes())
        .merge(crate::fleet::routes())
        .merge(crate::cors_api::routes())
}

/// Routes without the token check. `/api/events` authenticates with a one-time ticket
/// instead of the header.
fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(events))
}

/// The `/api` router: [`public`] routes and the [`protected`] ones behind the token check.
pub fn api(state: AppState) -> Router<AppState> {
    let (protected, _) = protected().split_for_parts();
    let (public, _) = public().split_for_parts();
    // Prometheus' scrape: its own read-only token, outside the JSON API and its document.
    let metrics = Router::new()
        .route(
            "/metrics",
            axum::routing::get(crate::metrics::scrape::metrics),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::scrape::require_metrics_token,
        ));
    public
        .merge(protected.route_layer(middleware::from_fn_with_state(state, require_token)))
        .merge(metrics)
}

/// The OpenAPI document describing [`api`]. It depends on the code alone (no state), so
/// it is the same for every agent of one build; `docs/openapi.json` is a copy that
/// `agent/tests/openapi.rs` keeps current.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(public())
        .merge(protected())
        .into_openapi();
    // The request rules that field attributes cannot state (URL forms, one field
    // depending on another).
    if let Some(components) = doc.components.as_mut() {
        vantage_shared::openapi::refine(components);
        crate::alerts::new_channel::refine(components);
    }
    document_large_bodies(&mut doc);
    crate::strict_bodies::forbid_unknown_fields(doc)
}

/// Every route that takes a body may answer `413`: the body limits (`reject_large_bodies`
/// and `DefaultBodyLimit` in `app`) stand in front of all of them.
fn document_large_bodies(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, ResponseBuilder};
    let too_large = ResponseBuilder::new()
        .description("The body is larger than the route takes")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ApiErrorBody")))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        let ops = [&mut item.put, &mut item.post, &mut item.patch];
        for op in ops.into_iter().flatten() {
            if op.request_body.is_some() {
                op.responses
                    .responses
                    .entry("413".into())
                    .or_insert_with(|| too_large.clone().into());
            }
        }
    }
}

/// [`openapi`] as pretty-printed JSON, generated once per process. An error when it
/// cannot be serialised: `serve` then refuses to start and the route answers 500, so no
/// client ever sees an empty or partial document.
pub fn openapi_json_text() -> Result<&'static str, String> {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    DOC.get_or_init(|| {
        openapi()
            .to_pretty_json()
            .map(|mut text| {
                text.push('\n');
                text
            })
            .map_err(|e| format!("generating the OpenAPI document: {e}"))
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// Liveness: answers without a token.
#[utoipa::path(get, path = routes::HEALTH, tag = "agent", responses((status = 200, body = AgentHealth)))]
async fn health() -> Json<AgentHealth> {
    Json(AgentHealth {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// This document.
#[utoipa::path(get, path = routes::OPENAPI, tag = "agent", security(("bearer" = [])),
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json"), (status = 401, body = ApiErrorBody)))]
async fn openapi_json() -> Result<impl IntoResponse, ApiError> {
    let text = openapi_json_text().map_err(ApiError::Internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text))
}

fn require_docker(state: &AppState) -> Result<(), ApiError> {
    if state.docker.is_connected() {
        Ok(())
    } else {
        Err(ApiError::DockerUnavailable(
            state.docker.status().to_string(),
        ))
    }
}

type Diagnosis = (Vec<vantage_shared::diagnosis::Finding>, HealthStats);

/// Diagnoses per container, reused while neither the container nor its number of
/// recorded runs changed: the overview diagnoses every container on each call.
#[derive(Clone, Default)]
pub struct DiagnosisCache {
    inner: Arc<Mutex<HashMap<String, (CacheKey, Diagnosis)>>>,
}

/// What a diagnosis depends on: the container (without its clock-dependent status
/// text) and how many runs it has.
type CacheKey = (ContainerSummary, u64);

impl DiagnosisCache {
    fn get(&self, id: &str, key: &CacheKey) -> Option<Diagnosis> {
        let map = self.inner.lock().ok()?;
        map.get(id)
            .filter(|(k, _)| k == key)
            .map(|(_, d)| d.clone())
    }

    fn put(&self, id: String, key: CacheKey, d: Diagnosis) {
        if let Ok(mut map) = self.inner.lock() {
            map.insert(id, (key, d));
        }
    }

    /// Forgets containers that no longer exist.
    fn retain(&self, ids: &HashSet<&str>) {
        if let Ok(mut map) = self.inner.lock() {
            map.retain(|id, _| ids.contains(id.as_str()));
        }
    }
}

/// The container's findings and health statistics, from the cache when still valid.
async fn diagnose_container(state: &AppState, d: &ContainerSummary) -> Result<Diagnosis, ApiError> {
    let mut stable = d.clone();
    stable.status.clear();
    let key = (stable, state.store.count_for(d.id.clone()).await?);
    if let Some(hit) = state.diagnoses.get(&d.id, &key) {
        return Ok(hit);
    }
    let fresh = diagnose_uncached(state, d).await?;
    state.diagnoses.put(d.id.clone(), key, fresh.clone());
    Ok(fresh)
}

/// Recorded healthcheck runs since the container's latest start, and the findings they
/// support.
async fn diagnose_uncached(state: &AppState, d: &ContainerSummary) -> Result<Diagnosis, ApiError> {
    // The newest runs show flapping now; the first ones since the start show the
    // startup, which a newest-first window loses after an hour of 2 s runs.
    let (mut runs, total) = state
        .store
        .history(d.id.clone(), None, DIAGNOSIS_WINDOW)
        .await?;
    // Only when the newest window does not already reach back to the start of the run.
    let window_full = runs.len() >= DIAGNOSIS_WINDOW as usize;
    let started = d
        .started_at
        .filter(|s| window_full && runs.last().is_some_and(|oldest| oldest.start > *s));
    if let Some(started) = started {
        let early = state
            .store
            .history_from(d.id.clone(), started, DIAGNOSIS_WINDOW)
            .await?;
        let known: HashSet<_> = runs.iter().map(|p| p.start).collect();
        runs.extend(early.into_iter().filter(|p| !known.contains(&p.start)));
    }
    let findings = container::diagnose(d, &runs);
    let mut stats = HealthStats {
        recorded: total,
        passes: runs.iter().filter(|p| p.passed()).count() as u64,
        failures: runs.iter().filter(|p| !p.passed()).count() as u64,
        first_recorded: runs.iter().map(|p| p.start).min(),
        time_to_ready_ms: None,
    };
    if let Some(cfg) = &d.healthcheck {
        stats.time_to_ready_ms = health_timing::measure(&health_timing::Input {
            launch: vantage_shared::diagnosis::health_fix::Launch::of(d),
            config: cfg,
            started_at: d.started_at,
            runs: &runs,
        })
        .time_to_ready_ms;
    }
    Ok((findings, stats))
}

/// What the first screen shows: agent, Docker, counts and current problems.
#[utoipa::path(get, path = routes::OVERVIEW, tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = Overview), (status = 401, body = ApiErrorBody)))]
async fn overview(State(state): State<AppState>) -> Result<Json<Overview>, ApiError> {
    let containers = if state.docker.is_connected() {
        state.docker.containers()
    } else {
        Vec::new()
    };
    state
        .diagnoses
        .retain(&containers.iter().map(|c| c.id.as_str()).collect());
    let mut problems = Vec::new();
    for c in &containers {
        let (findings, _) = diagnose_container(&state, c).await?;
        let findings =
            crate::containers::add_restart_findings(&state, &c.id, &c.name, findings).await?;
        problems.extend(
            findings
                .into_iter()
                .filter(|f| f.severity >= vantage_shared::diagnosis::Severity::Warning)
                .map(|finding| Problem {
                    container_id: c.id.clone(),
                    container_name: c.name.clone(),
                    finding,
                }),
        );
    }
    problems.sort_by_key(|p| std::cmp::Reverse(p.finding.severity));
    let targets = crate::reach::targets(&state).await?;
    let targets_down = targets
        .iter()
        .filter(|t| state.metrics.is_up(&t.id) == Some(false))
        .count() as u64;
    Ok(Json(Overview {
        agent_version: env!("CARGO_PKG_VERSION").into(),
        hostname: state.hostname.clone(),
        agent_started_at: state.started_at,
        docker: state.docker.status(),
        counts: ContainerCounts::from_containers(&containers),
        networks: state.docker.network_count() as u64,
        history_records: state.store.count().await?,
        problems,
        targets: targets.len() as u64,
        targets_down,
        listening_on: state.listening_on.get().map(ToString::to_string),
    }))
}

/// Every container (running or not), sorted by name.
#[utoipa::path(get, path = routes::CONTAINERS, tag = "docker", security(("bearer" = [])),
    responses((status = 200, body = [ContainerSummary]), (status = 401, body = ApiErrorBody), (status = 503, description = "Docker is unavailable", body = ApiErrorBody)))]
async fn list_containers(
    State(state): State<AppState>,
) -> Result<Json<Vec<ContainerSummary>>, ApiError> {
    require_docker(&state)?;
    Ok(Json(state.docker.containers()))
}

fn not_found(what: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no container `{what}`: use its name, full id or an id prefix of at least 4 characters"
    ))
}

/// One container with its configuration, health statistics and diagnoses.
#[utoipa::path(get, path = routes::CONTAINER, tag = "docker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Container name, id, or id prefix (≥ 4 characters)")),
    responses((status = 200, body = ContainerDetail), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 503, body = ApiErrorBody)))]
async fn get_container(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ContainerDetail>, ApiError> {
    require_docker(&state)?;
    let mut d = state.docker.container(&id).ok_or_else(|| not_found(&id))?;
    let (findings, stats) = diagnose_container(&state, &d.summary).await?;
    let (id, name) = (&d.summary.id, &d.summary.name);
    d.findings = crate::containers::add_restart_findings(&state, id, name, findings).await?;
    d.health_stats = stats;
    Ok(Json(d))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryParams {
    /// Only runs that started at or after this time (RFC 3339), between 1677-09-21 and
    /// 2262-04-11 (the history's nanosecond clock); the pattern admits the years 1678–2261.
    #[param(
        pattern = "^(167[89]|16[89][0-9]|1[7-9][0-9]{2}|20[0-9]{2}|21[0-9]{2}|22[0-5][0-9]|226[01])-"
    )]
    since: Option<DateTime<Utc>>,
    /// At most this many runs (default 500).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
}

/// `?since=&until=&limit=` of the stored histories that take a time range (a target's
/// results, a container's lifecycle events).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RangeParams {
    /// Only entries at or after this time (RFC 3339), between 1677-09-21 and 2262-04-11.
    #[param(
        pattern = "^(167[89]|16[89][0-9]|1[7-9][0-9]{2}|20[0-9]{2}|21[0-9]{2}|22[0-5][0-9]|226[01])-"
    )]
    pub since: Option<DateTime<Utc>>,
    /// Only entries at or before this time (RFC 3339), in the same range.
    #[param(
        pattern = "^(167[89]|16[89][0-9]|1[7-9][0-9]{2}|20[0-9]{2}|21[0-9]{2}|22[0-5][0-9]|226[01])-"
    )]
    pub until: Option<DateTime<Utc>>,
    /// At most this many entries (default 500).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

impl RangeParams {
    /// The page size, after [`history_query`]'s checks.
    pub(crate) fn checked_limit(&self) -> Result<u32, ApiError> {
        history_query("since and until", &[self.since, self.until], self.limit)
    }
}

/// Checks a history query's times (named `names` in the message) against the store's
/// nanosecond clock and its page size against [`MAX_HISTORY_LIMIT`]; returns the page size
/// (default 500). The container and target histories answer alike.
pub(crate) fn history_query(
    names: &str,
    times: &[Option<DateTime<Utc>>],
    limit: Option<u32>,
) -> Result<u32, ApiError> {
    if times
        .iter()
        .flatten()
        .any(|t| t.timestamp_nanos_opt().is_none())
    {
        return Err(ApiError::BadRequest(format!(
            "{names} must be between 1677 and 2262 (RFC 3339)"
        )));
    }
    let limit = limit.unwrap_or(500);
    if limit == 0 || limit > MAX_HISTORY_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_HISTORY_LIMIT}"
        )));
    }
    Ok(limit)
}

/// Every recorded healthcheck run of a container, newest first. Served from the
/// history database, so it also answers while Docker is down or after the container is gone.
#[utoipa::path(get, path = routes::HEALTH_HISTORY, tag = "docker", security(("bearer" = [])),
    params(("id" = String, Path, description = "Container name, id, or id prefix"), HistoryParams),
    responses((status = 200, body = HealthHistory), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
async fn health_history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryParams>,
) -> Result<Json<HealthHistory>, ApiError> {
    let limit = history_query("since", &[q.since], q.limit)?;
    let (container_id, container_name) = match state.docker.container(&id) {
        Some(d) => (d.summary.id, d.summary.name),
        None => state
            .store
            .find_container(id.clone())
            .await?
            .ok_or_else(|| not_found(&id))?,
    };
    let (runs, total) = state
        .store
        .history(container_id.clone(), q.since, limit)
        .await?;
    Ok(Json(HealthHistory {
        container_id,
        container_name,
        runs,
        total,
    }))
}

/// Networks with the containers on each.
#[utoipa::path(get, path = routes::NETWORKS, tag = "docker", security(("bearer" = [])),
    responses((status = 200, body = [NetworkSummary]), (status = 401, body = ApiErrorBody), (status = 503, body = ApiErrorBody)))]
async fn list_networks(
    State(state): State<AppState>,
) -> Result<Json<Vec<NetworkSummary>>, ApiError> {
    require_docker(&state)?;
    Ok(Json(state.docker.networks()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConnectivityParams {
    /// The calling container (name, id or id prefix).
    from: String,
    /// The container it wants to reach.
    to: String,
}

/// Can container `from` reach container `to` by name?
#[utoipa::path(get, path = routes::CONNECTIVITY, tag = "docker", security(("bearer" = [])), params(ConnectivityParams),
    responses((status = 200, body = ConnectivityReport), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 503, body = ApiErrorBody)))]
async fn get_connectivity(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConnectivityParams>,
) -> Result<Json<ConnectivityReport>, ApiError> {
    require_docker(&state)?;
    let from = state
        .docker
        .container(&q.from)
        .ok_or_else(|| not_found(&q.from))?;
    let to = state
        .docker
        .container(&q.to)
        .ok_or_else(|| not_found(&q.to))?;
    let (verdict, finding) = connectivity::check(&from.summary, &to.summary);
    Ok(Json(ConnectivityReport {
        from: from.summary.name,
        to: to.summary.name,
        verdict,
        finding,
    }))
}

/// A one-time ticket (valid 60 s) for `GET /api/events`, because browsers'
/// `EventSource` cannot send an `Authorization` header.
#[utoipa::path(post, path = routes::EVENT_TICKET, tag = "events", security(("bearer" = [])),
    responses((status = 200, body = EventTicket), (status = 401, body = ApiErrorBody)))]
async fn event_ticket(State(state): State<AppState>) -> Result<Json<EventTicket>, ApiError> {
    let ticket = state
        .tickets
        .issue()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(EventTicket {
        ticket,
        expires_in_s: TICKET_TTL.as_secs(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventParams {
    /// From `POST /api/events/ticket`; single use.
    ticket: String,
}

/// Live updates as server-sent events; each event's name is its `type`.
#[utoipa::path(get, path = routes::EVENTS, tag = "events", params(EventParams),
    responses((status = 200, description = "text/event-stream of AgentEvent", content_type = "text/event-stream", body = vantage_shared::AgentEvent), (status = 401, body = ApiErrorBody)))]
async fn events(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    if !state.tickets.redeem(&q.ticket) {
        return Err(ApiError::Unauthorized);
    }
    let first =
        futures_util::stream::once(std::future::ready(vantage_shared::AgentEvent::Docker {
            status: state.docker.status(),
        }));
    let live = BroadcastStream::new(state.events.subscribe()).filter_map(|r| match r {
        Ok(ev) => Some(ev),
        // A slow client missed events: tell it to refetch everything.
        Err(BroadcastStreamRecvError::Lagged(_)) => {
            Some(vantage_shared::AgentEvent::NetworksChanged)
        }
    });
    let stream = first.chain(live).map(|ev| {
        let data = serde_json::to_string(&ev).unwrap_or_default();
        Ok(Event::default().event(ev.kind()).data(data))
    });
    let mut stop = state.shutdown.subscribe();
    let stream = futures_util::StreamExt::take_until(stream, async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_diagnoses_expire_with_new_probes_or_container_changes() {
        let cache = DiagnosisCache::default();
        let c: ContainerSummary = serde_json::from_value(serde_json::json!({
            "id": "abc", "name": "web", "image": "i", "state": "running", "status": "",
            "health": "healthy", "failing_streak": 0, "created": null, "started_at": null,
            "finished_at": null, "exit_code": null, "restart_count": 0, "ports": [],
            "networks": [], "healthcheck": null, "compose_project": null, "compose_service": null
        }))
        .unwrap();
        let d: Diagnosis = (Vec::new(), HealthStats::default());
        cache.put("abc".into(), (c.clone(), 10), d.clone());
        assert_eq!(cache.get("abc", &(c.clone(), 10)), Some(d));
        assert_eq!(
            cache.get("abc", &(c.clone(), 11)),
            None,
            "a new run invalidates"
        );
        let mut restarted = c.clone();
        restarted.restart_count = 1;
        assert_eq!(
            cache.get("abc", &(restarted, 10)),
            None,
            "a changed container invalidates"
        );
        cache.retain(&HashSet::new());
        assert_eq!(
            cache.get("abc", &(c, 10)),
            None,
            "removed containers are forgotten"
        );
    }
}
