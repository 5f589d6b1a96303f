//! `POST /api/cors/evaluate`: the CORS verdict for a request shape and the responses a
//! person already has, with every rule and where browsers depart from the standard. Nothing is probed: the agent is never asked to
//! connect anywhere, so this route cannot be turned into a proxy.

use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::cors::{evaluate, CorsQuestion, CorsReport};
use vantage_shared::{routes as paths, ApiErrorBody};

use crate::error::{ApiError, ApiJson};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(cors_evaluate))
}

/// The browser's CORS verdict on the given responses, rule by rule.
#[utoipa::path(post, path = paths::CORS_EVALUATE, tag = "reach", security(("bearer" = [])), request_body = CorsQuestion,
    responses((status = 200, body = CorsReport), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody)))]
pub(crate) async fn cors_evaluate(
    ApiJson(question): ApiJson<CorsQuestion>,
) -> Result<Json<CorsReport>, ApiError> {
    question.check().map_err(ApiError::BadRequest)?;
    Ok(Json(evaluate(
        &question.request,
        question.preflight.as_ref(),
        question.actual.as_ref(),
    )))
}
