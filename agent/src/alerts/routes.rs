//! `/api/notifications`: the channels (where they send, never their secrets), the policy,
//! the delivery log with every attempt, and a test notification per channel.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vantage_shared::alerts::{
    Alert, AlertKind, AlertSubject, ChannelInfo, NotificationsOverview, TestNotification,
};
use vantage_shared::diagnosis::Severity;
use vantage_shared::routes;
use vantage_shared::ApiErrorBody;

use super::new_channel::NewChannel;
use super::ChannelError;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::AppState;

/// Deliveries the overview lists.
const LOG_ROWS: u32 = 100;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(overview))
        .routes(routes!(send_test))
        .routes(routes!(add_channel))
        .routes(routes!(delete_channel))
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Invalid(m) => ApiError::BadRequest(m),
            ChannelError::Exists(n) => {
                ApiError::Conflict(format!("a channel named `{n}` exists: choose another name"))
            }
            ChannelError::InConfig(n) => ApiError::Conflict(format!(
                "the channel `{n}` is in the config file: remove it there and restart the agent"
            )),
            ChannelError::Missing(n) => ApiError::NotFound(format!("no dashboard channel `{n}`")),
            ChannelError::Store(e) => e.into(),
        }
    }
}

/// Adds a channel (admin), one shape per `kind`, checked as the config file's are (e-mail
/// always over TLS; `ca_file` only in the config file). Its secret, token or password
/// is kept by the agent and never sent back: the answer is the channel as the overview
/// shows it.
#[utoipa::path(post, path = routes::CHANNELS, tag = "alerts", security(("bearer" = [])), request_body = NewChannel,
    responses((status = 201, body = ChannelInfo), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
async fn add_channel(
    State(state): State<AppState>,
    ApiJson(c): ApiJson<NewChannel>,
) -> Result<(StatusCode, Json<ChannelInfo>), ApiError> {
    let config = c.into_config().map_err(ApiError::BadRequest)?;
    let channel = state.alerts.add(&state.store, config).await?;
    Ok((StatusCode::CREATED, Json(channel.info())))
}

/// Removes a channel added on the dashboard (admin); its pending notifications give up.
#[utoipa::path(delete, path = routes::CHANNEL, tag = "alerts", security(("bearer" = [])),
    params(("name" = String, Path, description = "Channel name")),
    responses((status = 204), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
async fn delete_channel(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.alerts.remove(&state.store, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The channels, from the config file and added here (destination host only: URL paths, tokens and
/// passwords never leave the agent), the alert policy, and the newest 100 deliveries with
/// their attempts.
#[utoipa::path(get, path = routes::NOTIFICATIONS, tag = "alerts", security(("bearer" = [])),
    responses((status = 200, body = NotificationsOverview), (status = 401, body = ApiErrorBody)))]
async fn overview(State(state): State<AppState>) -> Result<Json<NotificationsOverview>, ApiError> {
    let s = &state.alerts.settings;
    Ok(Json(NotificationsOverview {
        channels: state.alerts.channels().iter().map(|c| c.info()).collect(),
        failures: s.policy.failures,
        successes: s.policy.successes,
        remind_every_seconds: s
            .policy
            .remind_every
            .and_then(|d| u64::try_from(d.num_seconds()).ok()),
        max_attempts: s.max_attempts,
        mute: s.mute.clone(),
        deliveries: state.store.deliveries(LOG_ROWS).await?,
    }))
}

/// Puts a test notification for one channel in the outbox; the delivery log shows how it
/// went (`202`: queued).
#[utoipa::path(post, path = routes::NOTIFICATIONS_TEST, tag = "alerts", security(("bearer" = [])), request_body = TestNotification,
    responses((status = 202, description = "Queued"), (status = 400, body = ApiErrorBody), (status = 401, body = ApiErrorBody), (status = 404, body = ApiErrorBody)))]
async fn send_test(
    State(state): State<AppState>,
    ApiJson(t): ApiJson<TestNotification>,
) -> Result<StatusCode, ApiError> {
    let channel = state.alerts.channel(&t.channel).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no channel `{}`: add it on the Notifications page or in [[notifications]] of the config file",
            t.channel
        ))
    })?;
    let alert = Alert {
        kind: AlertKind::Test,
        subject: AlertSubject {
            kind: "agent".into(),
            id: state.hostname.clone(),
            name: state.hostname.clone(),
        },
        at: Utc::now(),
        severity: Severity::Info,
        title: format!("Test notification from Vantage on {}", state.hostname),
        message: format!(
            "The channel `{}` works: this is how Vantage's alerts will arrive.",
            channel.config.name
        ),
        reminder: false,
    };
    state
        .store
        .enqueue_notification(channel.config.name.clone(), &alert)
        .await?;
    state.alerts.wake.notify_one();
    Ok(StatusCode::ACCEPTED)
}
