//! Alerts end to end inside one agent: a real target on loopback goes down and comes back,
//! and real HTTP receivers get the notifications in each channel's shape (the generic
//! webhook signed with HMAC-SHA256, Slack, Discord, ntfy); thresholds hold back single
//! failures; a receiver that fails is retried and its attempts are logged; the API never
//! shows a channel's secrets.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use common::Receiver;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use vantage_agent::alerts::config::{check_channel, AlertsConfig};
use vantage_agent::alerts::Settings;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::probe::{NewTarget, Target, TargetSource};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SECRET: &str = "hook-signing-key";

fn target(url: &str) -> Target {
    Target::from_new(
        NewTarget {
            name: "Shop API".into(),
            url: url.into(),
            expected_status: None,
            cors_origin: None,
            cors_method: None,
            cors_headers: vec![],
            cors_credentials: false,
            firewall: Default::default(),
            interval_seconds: None,
            interval: None,
        },
        TargetSource::Config,
    )
}

fn settings(channels: &str, alerts: &str) -> Settings {
    #[derive(serde::Deserialize)]
    struct File {
        notifications: Vec<vantage_agent::alerts::config::ChannelConfig>,
    }
    let file: File = toml::from_str(channels).unwrap();
    let checked = file
        .notifications
        .into_iter()
        .map(|c| check_channel(c).unwrap())
        .collect();
    let alerts: AlertsConfig = toml::from_str(alerts).unwrap();
    Settings::from_config(&alerts, checked).unwrap()
}

async fn call(app: &Router, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1:8787")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Starts the alert engine and the delivery worker as `serve` does.
fn start_alerts(state: &AppState) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(vantage_agent::alerts::engine::run(
        state.clone(),
        stopped.clone(),
    ));
    tokio::spawn(vantage_agent::alerts::deliver::run(
        state.store.clone(),
        state.alerts.clone(),
        "test-host".into(),
        stopped,
    ));
    stop
}

async fn wait_for(r: &Receiver, n: usize) -> Vec<common::Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = r.requests();
        if got.len() >= n || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_target_down_and_up_reaches_every_channel_once() {
    let service = Receiver::start(503).await;
    let (hook, slack, discord, ntfy) = (
        Receiver::start(200).await,
        Receiver::start(200).await,
        Receiver::start(204).await,
        Receiver::start(200).await,
    );
    let channels = format!(
        "[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\
         [[notifications]]\nname = \"slack\"\nkind = \"slack\"\nurl = \"{}\"\n\
         [[notifications]]\nname = \"discord\"\nkind = \"discord\"\nurl = \"{}\"\nevents = [\"target_down\"]\n\
         [[notifications]]\nname = \"ntfy\"\nkind = \"ntfy\"\nurl = \"{}\"\ntoken = \"tk_secret\"\n",
        hook.url("/in"),
        slack.url("/services/T0/B0/SLACKPATHSECRET"),
        discord.url("/api/webhooks/1/x"),
        ntfy.url("/vantage")
    );
    let state = AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        Store::in_memory().unwrap(),
    )
    .with_reach(vec![target(&service.url("/health"))], vec![])
    .with_alerts(settings(&channels, "failures = 3\nsuccesses = 2\n"));
    let app = app(state.clone());
    let _stop = start_alerts(&state);
    let probe = || call(&app, Method::POST, "/api/targets/shop-api/probe", None);

    // Two failures are below the threshold: nothing is sent.
    for _ in 0..2 {
        assert_eq!(probe().await.0, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(hook.requests().is_empty(), "sent before the threshold");
    // The third opens the alert, once per channel.
    probe().await;
    let got = wait_for(&hook, 1).await;
    let down = got[0].json();
    assert_eq!(down["event"], "target_down", "{down:#}");
    assert_eq!(down["subject"]["id"], "shop-api");
    assert_eq!(down["agent"]["host"], "test-host");
    assert!(
        down["message"].as_str().unwrap().contains("HTTP 503"),
        "{down:#}"
    );
    // The signature is the body's HMAC-SHA256 under the channel's secret.
    let want = vantage_agent::alerts::deliver::signature(SECRET, &got[0].body);
    assert_eq!(got[0].header("x-vantage-signature"), Some(want.as_str()));
    let text = wait_for(&slack, 1).await[0].json()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.starts_with("*🔴 Shop API is down*"), "{text}");
    let discord_got = wait_for(&discord, 1).await;
    assert!(discord_got[0].json()["content"]
        .as_str()
        .unwrap()
        .contains("Shop API is down"));
    let n = wait_for(&ntfy, 1).await;
    assert_eq!(n[0].header("title"), Some("Shop API is down"));
    assert_eq!(n[0].header("priority"), Some("high"));
    assert_eq!(n[0].header("authorization"), Some("Bearer tk_secret"));

    // Still down: no second alert. Then two good results resolve it.
    probe().await;
    service.set_status(200);
    probe().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.requests().len(), 1, "one failure streak, one alert");
    probe().await;
    let got = wait_for(&hook, 2).await;
    assert_eq!(got[1].json()["event"], "target_up");
    assert!(got[1].json()["message"]
        .as_str()
        .unwrap()
        .contains("answers again with HTTP 200"));
    // Discord asked for target_down only.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(discord.requests().len(), 1);

    // The log has every delivery; the API shows no URL path, token or secret.
    let (s, v) = call(&app, Method::GET, "/api/notifications", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let text = v.to_string();
    for secret in [SECRET, "SLACKPATHSECRET", "tk_secret", "/api/webhooks"] {
        assert!(!text.contains(secret), "{secret} leaked: {v:#}");
    }
    let sent = v["deliveries"].as_array().unwrap();
    assert_eq!(sent.len(), 7, "{v:#}");
    assert!(
        sent.iter()
            .all(|d| d["status"] == "sent" && d["attempts"] == 1),
        "{v:#}"
    );
    assert_eq!(
        v["channels"][1]["destination"],
        format!("http://{}", slack.addr)
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_logged_and_given_up() {
    let hook = Receiver::start(500).await;
    let channels = format!(
        "[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        hook.url("/in")
    );
    let state = AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        Store::in_memory().unwrap(),
    )
    .with_alerts(settings(&channels, "max_attempts = 2\n"));
    let app = app(state.clone());
    let _stop = start_alerts(&state);

    let (s, v) = call(
        &app,
        Method::POST,
        "/api/notifications/test",
        Some(serde_json::json!({"channel": "nope"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = call(
        &app,
        Method::POST,
        "/api/notifications/test",
        Some(serde_json::json!({"channel": "hook", "x": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/notifications/test",
        Some(serde_json::json!({"channel": "hook"})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // First attempt: HTTP 500, retried 10 s later; the second is the last (max_attempts 2).
    let first = wait_for(&hook, 1).await;
    assert_eq!(first[0].json()["event"], "test");
    let (_, v) = call(&app, Method::GET, "/api/notifications", None).await;
    let d = &v["deliveries"][0];
    assert_eq!(
        (d["status"].as_str(), d["attempts"].as_u64()),
        (Some("pending"), Some(1)),
        "{v:#}"
    );
    assert!(
        d["last_error"].as_str().unwrap().starts_with("HTTP 500"),
        "{v:#}"
    );
    assert!(d["next_attempt_at"].is_string());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let d = loop {
        let (_, v) = call(&app, Method::GET, "/api/notifications", None).await;
        if v["deliveries"][0]["status"] == "failed" || tokio::time::Instant::now() > deadline {
            break v["deliveries"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(d["status"], "failed", "{d:#}");
    assert_eq!(d["log"].as_array().unwrap().len(), 2);
    assert_eq!(hook.requests().len(), 2);
}
