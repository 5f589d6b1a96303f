//! The agent's own probe of a configured target, for the admin and (redacted, shared between
//! phones and rate limited) for phone links.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use chrono::Utc;
use vantage_shared::probe::{AgentProbe, ReachVerdict, Target};
use vantage_shared::routes;
use vantage_shared::{AgentEvent, ApiErrorBody};

use super::request_origin;
use super::targets::find_target;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath};
use crate::probe::{probe_target, ProbeContext};
use crate::AppState;

/// A phone asking for the agent's view gets a probe at most this old instead of a new one.
const PHONE_PROBE_REUSE: Duration = Duration::from_secs(30);
/// Probe requests one phone link may make per minute.
const PHONE_PROBES_PER_MINUTE: usize = 30;

/// What a phone link holder sees of the agent's probe: the verdict in words, without
/// addresses, headers, bodies or certificates of the target.
pub(super) fn redact_probe(p: &AgentProbe) -> AgentProbe {
    let status = p.http.as_ref().map(|h| h.status);
    let summary = match (p.verdict, status) {
        (ReachVerdict::Reachable, Some(s)) => format!("The agent reaches it (HTTP {s})."),
        (ReachVerdict::Reachable, None) => "The agent reaches it.".to_owned(),
        (ReachVerdict::CorsBlocked, Some(s)) => format!(
            "The agent reaches it (HTTP {s}), but the page's origin may not read the answer (CORS)."
        ),
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
        verdict: p.verdict,
        summary,
        ..AgentProbe::empty(p.target_id.clone(), p.at)
    }
}

/// Runs the engine with this host's Docker networks for address ownership.
pub(super) async fn probe_with(state: &AppState, target: &Target, origin: String) -> AgentProbe {
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

/// Keeps a finished probe: as the target's newest full observation, as one row of its
/// history, as an event for the dashboards that are open, and for the alert engine.
pub(super) async fn record(state: &AppState, probe: &AgentProbe) -> Result<(), ApiError> {
    record_all(state, vec![probe.clone()]).await
}

/// [`record`] for several probes, kept in one transaction (the scheduler's batches).
pub(super) async fn record_all(state: &AppState, probes: Vec<AgentProbe>) -> Result<(), ApiError> {
    state.store.record_probes(&probes).await?;
    for probe in &probes {
        state.metrics.probed(probe);
        if let Some(cors) = &probe.cors {
            state.reach.remember_origin(&probe.target_id, &cors.origin);
        }
        state.events.publish(AgentEvent::AgentProbed {
            target_id: probe.target_id.clone(),
            verdict: probe.verdict,
        });
    }
    // Alerts are judged beside, never in the way of, the prober.
    tokio::spawn(crate::alerts::engine::probed(state.clone(), probes));
    Ok(())
}

/// Probes one configured target from the agent: DNS, TCP per address, TLS, HTTP, CORS.
/// Phone links get a redacted result, reused for 30 s.
#[utoipa::path(post, path = routes::TARGET_PROBE, tag = "reach", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")),
    responses((status = 200, body = AgentProbe), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(super) async fn run_probe(
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
    record(&state, &probe).await?;
    Ok(Json(match caller {
        Caller::Admin => probe,
        Caller::Phone { .. } => redact_probe(&probe),
    }))
}
