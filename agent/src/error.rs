//! The API's one error type: every handler returns `Result<_, ApiError>`, and
//! every error reaches the client as an `ApiErrorBody` JSON with a fitting status.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use vantage_shared::ApiErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong access token: send `Authorization: Bearer <token>` (the token is in <data-dir>/admin.token)")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("this phone link has expired or was revoked: ask for a new one")]
    LinkExpired,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("host `{0}` is not allowed: start the agent with `--allowed-host {0}` if you reach it under that name")]
    ForbiddenHost(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("method not allowed on this route (see /api/openapi.json)")]
    MethodNotAllowed,
    #[error("{0}")]
    DockerUnavailable(String),
    /// Details are logged, never sent: they may name paths or internals.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::LinkExpired => "link_expired",
            Self::Conflict(_) => "conflict",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::ForbiddenHost(_) => "forbidden_host",
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::DockerUnavailable(_) => "docker_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::LinkExpired => StatusCode::UNAUTHORIZED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            // 421 Misdirected Request: this server is not the one that name points to.
            Self::ForbiddenHost(_) => StatusCode::MISDIRECTED_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::DockerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> ApiErrorBody {
        let message = match self {
            Self::Internal(_) => "internal error; the agent's log has the details".to_owned(),
            other => other.to_string(),
        };
        ApiErrorBody {
            error: self.code().to_owned(),
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "Internal error answering a request");
        }
        (self.status(), Json(self.body())).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::BadRequest(format!("bad query string: {}", e.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        Self::BadRequest(format!("bad path: {}", e.body_text()))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::PayloadTooLarge
        } else {
            Self::BadRequest(format!("bad JSON body: {}", e.body_text()))
        }
    }
}

/// `Query` whose rejection is an `ApiError`, so malformed query strings get the JSON error shape.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path` with `ApiError` rejections.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Json` with `ApiError` rejections, so malformed bodies get the JSON error shape, and
/// read the way the OpenAPI document describes bodies (JSON Schema's data model):
/// * serde's derived `Deserialize` also reads a struct from a JSON array, its fields by
///   position, so `[null, null]` would pass for a phone-link request. A body with an array
///   where its type has an object is refused.
/// * JSON Schema counts `1.0` and `1e3` as integers; serde refuses them for an integer
///   field. A number with a zero fraction is read as the integer it is.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + Serialize,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // The text is parsed once, by axum's `Json` (content type, size limit, syntax
        // errors with their line and column); the typed read and the checks below work on
        // that tree.
        let Json(sent) = Json::<serde_json::Value>::from_request(req, state).await?;
        let value = match typed::<T>(&sent) {
            Ok(value) => value,
            // Again with `1.0` as `1`; the first error stands if that does not help.
            Err(first) => integral_numbers(&sent)
                .and_then(|ints| typed::<T>(&ints).ok())
                .ok_or(first)?,
        };
        let read = serde_json::to_value(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Some(path) = array_for_object(&sent, &read) {
            return Err(ApiError::BadRequest(format!(
                "bad JSON body: {path} must be a JSON object, not an array"
            )));
        }
        Ok(Self(value))
    }
}

/// Where in the body a path is: `body`, `body.results[2].cors`.
fn at(path: &str) -> String {
    match path {
        "" | "." => "body".to_owned(),
        p if p.starts_with('[') => format!("body{p}"),
        p => format!("body.{p}"),
    }
}

/// Reads `T` from the parsed body; an error names where in the body it is, as
/// `body.results[2].cors: invalid type: …`. A key the type does not have, at any depth,
/// is refused by name rather than dropped: a misspelt optional field would otherwise
/// silently mean its default.
fn typed<T: DeserializeOwned>(body: &serde_json::Value) -> Result<T, ApiError> {
    let mut unknown: Vec<String> = Vec::new();
    let read: Result<T, _> = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        body,
        &mut |path: serde_ignored::Path<'_>| unknown.push(path.to_string()),
    ));
    // An unknown key is named first: with a misspelt required field, "unknown field
    // `devce_id`" says more than "missing field `device_id`".
    if let Some(path) = unknown.first() {
        // serde_ignored writes `results.2.bogus`; say it as the other errors do.
        let (parent, field) = path.rsplit_once('.').unwrap_or(("", path));
        let parent = parent
            .split('.')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.bytes().all(|b| b.is_ascii_digit()) {
                    format!("[{s}]")
                } else {
                    format!(".{s}")
                }
            })
            .collect::<String>();
        let parent = parent.strip_prefix('.').unwrap_or(&parent);
        return Err(ApiError::BadRequest(format!(
            "bad JSON body: {}: unknown field `{field}`",
            at(parent)
        )));
    }
    read.map_err(|e| {
        ApiError::BadRequest(format!(
            "bad JSON body: {}: {}",
            at(&e.path().to_string()),
            e.inner()
        ))
    })
}

/// `value` with every number that has a zero fraction (`1.0`, `1e3`) as an integer, or
/// `None` when it has none.
fn integral_numbers(value: &serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value;
    fn walk(v: &mut Value) -> bool {
        match v {
            Value::Number(n) => {
                let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) else {
                    return false;
                };
                // Within u64/i64, where the conversions below are exact.
                let int = if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                    serde_json::Number::from(f as u64)
                } else if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                    serde_json::Number::from(f as i64)
                } else {
                    return false;
                };
                *n = int;
                true
            }
            // Every element is walked, not only up to the first change.
            Value::Array(items) => {
                items
                    .iter_mut()
                    .map(walk)
                    .filter(|changed| *changed)
                    .count()
                    > 0
            }
            Value::Object(map) => {
                map.values_mut()
                    .map(walk)
                    .filter(|changed| *changed)
                    .count()
                    > 0
            }
            _ => false,
        }
    }
    let mut value = value.clone();
    walk(&mut value).then_some(value)
}

/// The first place where `sent` (the body as the client wrote it) has an array and `read`
/// (the value it was read into, written back) has an object: a struct read from an array.
/// As a path like `body`, `body.destination`, `body.results[2].cors`.
fn array_for_object(sent: &serde_json::Value, read: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    fn walk(sent: &Value, read: &Value, path: &mut String) -> Option<String> {
        match (sent, read) {
            (Value::Array(_), Value::Object(_)) => Some(path.clone()),
            (Value::Object(sent), Value::Object(read)) => read.iter().find_map(|(key, r)| {
                let s = sent.get(key)?;
                let len = path.len();
                path.push('.');
                path.push_str(key);
                let found = walk(s, r, path);
                path.truncate(len);
                found
            }),
            (Value::Array(sent), Value::Array(read)) => {
                sent.iter().zip(read).enumerate().find_map(|(i, (s, r))| {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let found = walk(s, r, path);
                    path.truncate(len);
                    found
                })
            }
            _ => None,
        }
    }
    walk(sent, read, &mut "body".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_standing_in_for_objects_are_found_at_any_depth() {
        let read = json!({"a": 1, "inner": {"b": [{"c": 1}]}, "list": [1, 2]});
        assert_eq!(
            array_for_object(&json!([1, null]), &read),
            Some("body".into())
        );
        assert_eq!(
            array_for_object(&json!({"a": 1, "inner": [[{"c": 1}]]}), &read),
            Some("body.inner".into())
        );
        assert_eq!(
            array_for_object(&json!({"inner": {"b": [[1]]}}), &read),
            Some("body.inner.b[0]".into())
        );
        // Arrays where the type has arrays, and fields the client left out, are fine.
        assert_eq!(array_for_object(&json!({"list": [3]}), &read), None);
        assert_eq!(array_for_object(&json!({}), &read), None);
    }

    #[test]
    fn numbers_with_a_zero_fraction_become_integers() {
        assert_eq!(
            integral_numbers(&json!({"a": 1.0, "b": [2.5, -3e0, 1e3], "c": "1.0", "d": 4})),
            Some(json!({"a": 1, "b": [2.5, -3, 1000], "c": "1.0", "d": 4}))
        );
        assert_eq!(integral_numbers(&json!({"a": 1, "b": 2.5})), None);
        // Beyond u64 it stays a float (and an integer field refuses it).
        assert_eq!(integral_numbers(&json!(1e20)), None);
    }
}
