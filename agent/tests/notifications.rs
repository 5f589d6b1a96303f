//! Alerts end to end inside one agent: a real target on loopback goes down and comes back,
//! and real HTTP receivers get the notifications in each channel's shape (the generic
//! webhook signed with HMAC-SHA256, Slack, Discord, ntfy); thresholds hold back single
//! failures; a receiver that fails is retried and its attempts are logged; a receiver that
//! is down loses nothing and gets each alert once when it is back; muted targets stay
//! quiet; channels added through the API keep their secrets; the API never shows them; a
//! device that cannot reach what the agent reaches is told once per device.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::Router;
use common::Receiver;
use serde_json::Value;
use vantage_agent::alerts::config::{check_channel, AlertsConfig};
use vantage_agent::alerts::Settings;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::probe::{NewTarget, Target, TargetSource};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SECRET: &str = "hook-signing-key";

fn target(url: &str) -> Target {
    target_for(url, None)
}

fn target_for(url: &str, cors_origin: Option<&str>) -> Target {
    Target::from_new(
        NewTarget {
            name: "Shop API".into(),
            url: url.into(),
            expected_status: None,
            cors_origin: cors_origin.map(str::to_owned),
            cors_method: None,
            cors_headers: vec![],
            cors_credentials: Default::default(),
            cors_mode: Default::default(),
            proxy_admin: None,
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
    common::send(app, TOKEN, method, uri, body).await
}

/// An agent with `targets`, these `[[notifications]]` and `[alerts]`, and its alert engine
/// and delivery running (until the returned sender is dropped).
fn agent(
    targets: Vec<Target>,
    channels: &str,
    alerts: &str,
) -> (Router, AppState, tokio::sync::watch::Sender<bool>) {
    let store = Store::in_memory().unwrap();
    let state = AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        store,
    )
    .with_reach(targets, vec![])
    .with_alerts(settings(channels, alerts));
    let stop = start_alerts(&state);
    (app(state.clone()), state, stop)
}

/// One unsigned webhook channel named `hook`.
fn hook_channel(url: &str) -> String {
    format!("[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\n")
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
    let (app, _state, _stop) = agent(
        vec![target(&service.url("/health"))],
        &channels,
        "failures = 3\nsuccesses = 2\n",
    );
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
    let channels = hook_channel(&hook.url("/in"));
    let (app, _state, _stop) = agent(vec![], &channels, "max_attempts = 2\n");

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

/// A port nothing listens on yet.
fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

#[tokio::test]
async fn a_receiver_down_loses_nothing_and_gets_each_alert_once() {
    let service = Receiver::start(503).await;
    let addr = closed_port();
    let channels = format!(
        "[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://{addr}/in\"\n"
    );
    let (app, _state, _stop) = agent(
        vec![target(&service.url("/health"))],
        &channels,
        "failures = 2\nsuccesses = 1\n",
    );
    let probe = || call(&app, Method::POST, "/api/targets/shop-api/probe", None);
    probe().await;
    probe().await;
    // The alert is in the outbox; its first attempt is refused.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, v) = call(&app, Method::GET, "/api/notifications", None).await;
        if v["deliveries"][0]["attempts"] == 1 {
            assert_eq!(v["deliveries"][0]["status"], "pending", "{v:#}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The target recovers while the receiver is still down: both alerts wait.
    service.set_status(200);
    probe().await;
    let hook = Receiver::start_on(&addr, 200).await;
    let got = wait_for(&hook, 2).await;
    // Retries come 10 s apart: give any duplicate time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events: Vec<Value> = hook
        .requests()
        .iter()
        .map(|r| r.json()["event"].clone())
        .collect();
    assert_eq!(
        events,
        vec![Value::from("target_down"), Value::from("target_up")],
        "{got:?}"
    );
}

#[tokio::test]
async fn a_muted_target_stays_quiet() {
    let service = Receiver::start(503).await;
    let hook = Receiver::start(200).await;
    let channels = hook_channel(&hook.url("/in"));
    let (app, _state, _stop) = agent(
        vec![target(&service.url("/health"))],
        &channels,
        "failures = 1\nmute = [\"Shop API\"]\n",
    );
    for _ in 0..3 {
        call(&app, Method::POST, "/api/targets/shop-api/probe", None).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(hook.requests().is_empty());
}

#[tokio::test]
async fn channels_added_through_the_api_keep_their_secrets() {
    let hook = Receiver::start(200).await;
    let store = Store::in_memory().unwrap();
    let config = format!(
        "[[notifications]]\nname = \"from-file\"\nkind = \"slack\"\nurl = \"{}\"\n",
        hook.url("/s")
    );
    let state = AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        store.clone(),
    )
    .with_alerts(settings(&config, ""));
    let app = app(state.clone());
    let _stop = start_alerts(&state);
    let add = |body: Value| {
        call(
            &app,
            Method::POST,
            "/api/notifications/channels",
            Some(body),
        )
    };

    let url = hook.url("/in/PATHSECRET");
    let (s, v) =
        add(serde_json::json!({"name": "ops", "kind": "webhook", "url": url, "secret": SECRET}))
            .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["source"].as_str(), v["has_secret"].as_bool()),
        (Some("dashboard"), Some(true))
    );
    assert!(
        !v.to_string().contains(SECRET) && !v.to_string().contains("PATHSECRET"),
        "{v}"
    );
    for (body, status, says) in [
        (
            serde_json::json!({"name": "ops", "kind": "slack", "url": url}),
            StatusCode::CONFLICT,
            "exists",
        ),
        (
            serde_json::json!({"name": "from-file", "kind": "slack", "url": url}),
            StatusCode::CONFLICT,
            "exists",
        ),
        (
            serde_json::json!({"name": "m", "kind": "email", "smtp_host": "mail"}),
            StatusCode::BAD_REQUEST,
            "missing field",
        ),
        (
            serde_json::json!({"name": "x", "kind": "webhook", "url": url, "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "unknown field `colour`",
        ),
        (
            serde_json::json!({"name": "x", "kind": "email", "smtp_host": "m", "from": "a@x", "to": ["b@x"], "ca_file": "/etc/shadow"}),
            StatusCode::BAD_REQUEST,
            "unknown field `ca_file`",
        ),
    ] {
        let (s, v) = add(body).await;
        assert_eq!(s, status, "{v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{v}");
    }
    let (_, v) = call(&app, Method::GET, "/api/notifications", None).await;
    let text = v.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains("PATHSECRET"),
        "{v:#}"
    );
    assert_eq!(v["channels"].as_array().unwrap().len(), 2);

    // It delivers, signed with the secret the browser never sees again.
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/notifications/test",
        Some(serde_json::json!({"channel": "ops"})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let got = wait_for(&hook, 1).await;
    let want = vantage_agent::alerts::deliver::signature(SECRET, &got[0].body);
    assert_eq!(got[0].header("x-vantage-signature"), Some(want.as_str()));
    assert!(got[0].line.contains("/in/PATHSECRET"), "{:?}", got[0].line);

    // Stored: an agent started on the same database has it.
    let again = AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        store.clone(),
    );
    again.alerts.load(&store).await.unwrap();
    assert!(again.alerts.channel("ops").is_some());

    let (s, _) = call(
        &app,
        Method::DELETE,
        "/api/notifications/channels/from-file",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = call(
        &app,
        Method::DELETE,
        "/api/notifications/channels/ops",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(
        &app,
        Method::DELETE,
        "/api/notifications/channels/ops",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_cors_flip_is_told_both_ways() {
    let service = Receiver::start(200).await;
    let hook = Receiver::start(200).await;
    let channels = hook_channel(&hook.url("/in"));
    let (app, _state, _stop) = agent(
        vec![target_for(
            &service.url("/items"),
            Some("https://shop.example"),
        )],
        &channels,
        "failures = 1\nsuccesses = 1\n",
    );
    let probe = || call(&app, Method::POST, "/api/targets/shop-api/probe", None);

    // It answers, but without Access-Control-Allow-Origin: pages on the shop cannot read it.
    probe().await;
    let got = wait_for(&hook, 1).await;
    let blocked = got[0].json();
    assert_eq!(
        (blocked["event"].as_str(), blocked["severity"].as_str()),
        (Some("cors_changed"), Some("critical")),
        "{blocked:#}"
    );
    assert!(blocked["title"]
        .as_str()
        .unwrap()
        .contains("CORS now blocks https://shop.example"));
    service.set_headers(&["Access-Control-Allow-Origin: https://shop.example"]);
    probe().await;
    let got = wait_for(&hook, 2).await;
    let allowed = got[1].json();
    assert_eq!(allowed["event"], "cors_changed");
    assert!(
        allowed["title"]
            .as_str()
            .unwrap()
            .contains("CORS allows https://shop.example again"),
        "{allowed:#}"
    );
    // No target_down at any point: it answered throughout.
    assert!(hook
        .requests()
        .iter()
        .all(|r| r.json()["event"] == "cors_changed"));
}

#[tokio::test]
async fn a_reminder_while_it_stays_down() {
    let service = Receiver::start(503).await;
    let hook = Receiver::start(200).await;
    let channels = hook_channel(&hook.url("/in"));
    let (app, _state, _stop) = agent(
        vec![target(&service.url("/health"))],
        &channels,
        "failures = 1\nremind_every = \"5s\"\n",
    );
    let probe = || call(&app, Method::POST, "/api/targets/shop-api/probe", None);
    probe().await;
    wait_for(&hook, 1).await;
    // Before the interval: nothing more; after it: one reminder.
    probe().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(5_000)).await;
    probe().await;
    let got = wait_for(&hook, 2).await;
    let (first, again) = (got[0].json(), got[1].json());
    assert_eq!(
        (first["event"].as_str(), first["reminder"].as_bool()),
        (Some("target_down"), Some(false))
    );
    assert_eq!(
        (again["event"].as_str(), again["reminder"].as_bool()),
        (Some("target_down"), Some(true)),
        "{again:#}"
    );
}

/// What a browser on another network reports for `target`: both its fetches ended so.
fn device_report(device: &str, target: &str, outcome: &str) -> Value {
    let fetch =
        serde_json::json!({"outcome": outcome, "status": null, "elapsed_ms": 8000, "error": null});
    serde_json::json!({
        "device_id": device,
        "page_origin": "http://192.0.2.10:8787",
        "results": [{
            "target_id": target, "no_cors": fetch, "cors": fetch,
            "blocked_by": null, "timing": null
        }]
    })
}

#[tokio::test]
async fn a_device_that_cannot_reach_what_the_agent_reaches_is_told_once() {
    let service = Receiver::start(200).await;
    let hook = Receiver::start(200).await;
    let channels = hook_channel(&hook.url("/in"));
    let (app, _state, _stop) = agent(
        vec![target(&service.url("/health"))],
        &channels,
        "failures = 1\nsuccesses = 1\n",
    );
    // The agent gets through; a phone on the guest network times out.
    let (s, v) = call(&app, Method::POST, "/api/targets/shop-api/probe", None).await;
    assert_eq!(
        (s, v["verdict"].as_str()),
        (StatusCode::OK, Some("reachable"))
    );
    let report = |device: &str, outcome: &str| {
        call(
            &app,
            Method::POST,
            "/api/reports",
            Some(device_report(device, "shop-api", outcome)),
        )
    };
    let (s, v) = report("guest-phone", "timeout").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = wait_for(&hook, 1).await;
    assert_eq!(got.len(), 1);
    let alert = got[0].json();
    assert_eq!(
        (alert["event"].as_str(), alert["severity"].as_str()),
        (Some("critical_finding"), Some("critical")),
        "{alert:#}"
    );
    assert_eq!(alert["subject"]["id"], "shop-api");
    let message = alert["message"].as_str().unwrap();
    assert!(message.contains("Seen from a device at"), "{message}");

    // The same device again, and another device that gets through: nothing new.
    report("guest-phone", "timeout").await;
    report("office-phone", "ok").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.requests().len(), 1, "told once per device and finding");
    // Once the guest phone got through, a new failure is news again.
    report("guest-phone", "ok").await;
    report("guest-phone", "timeout").await;
    let got = wait_for(&hook, 2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["event"], "critical_finding");
}
