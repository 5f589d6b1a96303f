//! CORS for one route, for the page users really visit: the console snippet
//! (`vantage_shared::page_snippet`) posts its report from that page's origin. The agent
//! admits an origin only when it is a target's `cors_origin`, only for `POST /api/reports`
//! (and its preflight), and only while a phone link is valid; the report itself still
//! needs that link's code. Every other route stays closed to every other origin.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use vantage_shared::cors::serialize_origin;
use vantage_shared::routes;

use super::targets::all_targets;
use crate::AppState;

/// How long a browser may reuse the preflight's answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// The layer in front of the router.
pub async fn page_reports_cors(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() != routes::REPORTS {
        return next.run(req).await;
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    if !admitted(&state, &origin).await {
        return next.run(req).await;
    }
    let Ok(value) = HeaderValue::from_str(&origin) else {
        return next.run(req).await;
    };
    let asks_post = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .is_some_and(|m| m.as_bytes() == b"POST");
    if req.method() == Method::OPTIONS && asks_post {
        // Chrome asks before a public page may reach a private address (Private Network
        // Access): the agent on a private address is the very thing this route is for.
        let private_network = req
            .headers()
            .get("access-control-request-private-network")
            .is_some_and(|v| v.as_bytes() == b"true");
        return preflight(value, private_network);
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

/// A target's page origin, while some phone link is valid.
async fn admitted(state: &AppState, origin: &str) -> bool {
    let origin = serialize_origin(origin);
    if origin == "null" || origin.is_empty() {
        return false;
    }
    let Ok(targets) = all_targets(state).await else {
        return false;
    };
    let named = targets.iter().any(|t| {
        t.cors_origin
            .as_deref()
            .is_some_and(|o| serialize_origin(o.trim()) == origin)
    });
    named
        && state
            .store
            .active_phone_links(Utc::now())
            .await
            .is_ok_and(|links| !links.is_empty())
}

fn preflight(origin: HeaderValue, private_network: bool) -> Response {
    let mut resp = (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
            (
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            ),
            (
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(PREFLIGHT_MAX_AGE),
            ),
            (header::VARY, HeaderValue::from_static("Origin")),
        ],
    )
        .into_response();
    if private_network {
        resp.headers_mut().insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
    }
    resp
}
