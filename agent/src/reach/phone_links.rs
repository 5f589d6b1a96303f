//! Phone links: short URLs carrying a scoped, expiring token that lets another device fetch
//! the probe set and report what it sees; created, listed and revoked by the admin.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::Utc;
use vantage_shared::probe::{NewPhoneLink, PhoneLink, ProbeSet, ProbeTarget};
use vantage_shared::routes;
use vantage_shared::ApiErrorBody;

use super::targets::all_targets;
use super::{request_origin, ClientIp};
use crate::auth::{random_code, Caller};
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::AppState;

/// The probe set for a phone link: target names and URLs only.
#[utoipa::path(get, path = routes::PHONE_TARGETS, tag = "reach", security(("bearer" = [])),
    responses((status = 200, body = ProbeSet), (status = 401, body = ApiErrorBody)))]
pub(super) async fn phone_targets(
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

fn link(
    code: String,
    base: &str,
    created: chrono::DateTime<Utc>,
    expires: chrono::DateTime<Utc>,
) -> PhoneLink {
    PhoneLink {
        url: vantage_shared::phone_link::phone_page_url(base, &code),
        code,
        created_at: created,
        expires_at: expires,
    }
}

/// Creates a phone link: a short URL carrying a scoped, expiring token (admin).
#[utoipa::path(post, path = routes::PHONE_LINKS, tag = "reach", security(("bearer" = [])), request_body = NewPhoneLink,
    responses((status = 201, body = PhoneLink), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody)))]
pub(super) async fn create_phone_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewPhoneLink>,
) -> Result<(StatusCode, Json<PhoneLink>), ApiError> {
    let ttl = new.lifetime().map_err(ApiError::BadRequest)?;
    let base = match new.base_url {
        Some(b) => {
            let b = b.trim().trim_end_matches('/').to_owned();
            let rest = b
                .strip_prefix("http://")
                .or_else(|| b.strip_prefix("https://"))
                .unwrap_or("");
            if rest.is_empty()
                || rest.contains(['/', '?', '#', '@', ' '])
                || b.chars().count() > 300
            {
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
#[utoipa::path(get, path = routes::PHONE_LINKS, tag = "reach", security(("bearer" = [])),
    responses((status = 200, body = [PhoneLink]), (status = 401, body = ApiErrorBody)))]
pub(super) async fn list_phone_links(
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
#[utoipa::path(delete, path = routes::PHONE_LINK, tag = "reach", security(("bearer" = [])),
    params(("code" = String, Path, description = "The link's code")),
    responses((status = 204), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
pub(super) async fn revoke_phone_link(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.revoke_phone_link(code).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such phone link".into()))
    }
}
