//! The Vantage agent as a library: configuration, state, router and server, so
//! tests can drive the router directly and `main` stays a thin shell.

pub mod admin_cli;
pub mod alerts;
pub mod auth;
pub mod check;
pub mod config;
pub mod containers;
pub mod cors_api;
pub mod docker;
pub mod error;
pub mod events;
pub mod fleet;
pub mod gpu;
pub mod host_firewall;
pub mod metrics;
pub mod probe;
pub mod reach;
pub mod routes;
pub mod rules;
pub mod store;
pub mod strict_bodies;
pub mod web;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::Router;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::config::{Config, MAX_BODY_BYTES};
use crate::docker::{DockerHandle, DockerWatcher};
use crate::store::Store;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub token: Arc<str>,
    pub allowed_hosts: Arc<[String]>,
    pub docker: DockerHandle,
    /// The event bus every part publishes on and the dashboard's stream reads.
    pub events: events::Events,
    pub store: Store,
    pub tickets: auth::Tickets,
    pub hostname: String,
    pub started_at: DateTime<Utc>,
    /// Set to `true` on shutdown: ends long-lived responses (the event stream) and tasks.
    pub shutdown: Arc<watch::Sender<bool>>,
    pub diagnoses: routes::DiagnosisCache,
    pub reach: reach::Reach,
    pub rules: rules::Rules,
    /// The GPU benchmark slot (one run at a time).
    pub gpu: gpu::Gpu,
    /// Alert policy, notification channels and the delivery worker's doorbell.
    pub alerts: alerts::Alerts,
    /// The distributions `GET /metrics` keeps between scrapes.
    pub metrics: metrics::Metrics,
    /// The read-only token for `GET /metrics` (the admin token works there too).
    pub metrics_token: Option<Arc<str>>,
    /// Dashboards on other origins that may call the API (`--cors-allow-origin`).
    pub cors_allow_origins: Arc<[String]>,
    /// The address the API listens on, once bound (the overview says it, so the dashboard
    /// words its phone-link advice from the fact).
    pub listening_on: Arc<std::sync::OnceLock<std::net::SocketAddr>>,
}

impl AppState {
    /// The state of an agent watching Docker at `docker_host` (it connects once a
    /// [`DockerWatcher`] runs with `docker`).
    pub fn new(token: String, allowed_hosts: Vec<String>, docker_host: &str, store: Store) -> Self {
        let events = events::Events::default();
        Self {
            token: token.into(),
            allowed_hosts: allowed_hosts.into(),
            docker: DockerHandle::new(docker_host, events.clone()),
            events,
            store,
            tickets: auth::Tickets::default(),
            hostname: hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "unknown".into()),
            started_at: Utc::now(),
            shutdown: Arc::new(watch::channel(false).0),
            diagnoses: routes::DiagnosisCache::default(),
            reach: reach::Reach::default(),
            rules: rules::Rules::default(),
            gpu: gpu::Gpu::default(),
            alerts: alerts::Alerts::default(),
            metrics: metrics::Metrics::default(),
            metrics_token: None,
            cors_allow_origins: Arc::from(Vec::new()),
            listening_on: Arc::default(),
        }
    }

    /// The agent admitting API calls from dashboards on these (checked) origins.
    pub fn with_cors_allow_origins(mut self, origins: Vec<String>) -> Self {
        self.cors_allow_origins = origins.into();
        self
    }

    /// The agent with a read-only token for `GET /metrics`.
    pub fn with_metrics_token(mut self, token: String) -> Self {
        self.metrics_token = Some(token.into());
        self
    }

    /// Sets the config-file targets and the trusted proxies.
    /// The agent with these alert settings (none by default: no channels).
    pub fn with_alerts(mut self, settings: alerts::Settings) -> Self {
        self.alerts = alerts::Alerts::new(settings);
        self
    }

    pub fn with_reach(
        mut self,
        targets: Vec<vantage_shared::probe::Target>,
        trusted_proxies: Vec<(std::net::IpAddr, u8)>,
    ) -> Self {
        self.reach.config_targets = targets.into();
        self.reach.trusted_proxies = trusted_proxies.into();
        self
    }
}

/// The whole HTTP application: API, dashboard, and the Host check in front of both.
pub fn app(state: AppState) -> Router {
    let mut router = routes::api(state.clone())
        .fallback(web::static_handler)
        .method_not_allowed_fallback(|| async { error::ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(reject_large_bodies))
        // gzip for the wasm bundle and JSON (phones on LTE); SSE is left alone by the default predicate.
        .layer(CompressionLayer::new())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    if !state.cors_allow_origins.is_empty() {
        // Preflights are answered here, before the token check (they carry no token).
        router = router.layer(cors_layer(&state.cors_allow_origins));
    }
    router
        // Outside the dashboards' CORS: the reports route alone, for targets' page origins.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            reach::page_reports_cors,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::check_host,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for dashboards on other origins (the Fleet page of another agent's dashboard):
/// exactly the configured origins, the API's methods, the `Authorization` and
/// `Content-Type` headers, and no credentials (the token travels in a header, never in a
/// cookie). With no origin configured, no CORS header is ever sent.
fn cors_layer(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(600))
}

/// Refuses bodies announced larger than `MAX_BODY_BYTES` before reading them, with
/// the API's JSON error; bodies without a length are capped by `DefaultBodyLimit`.
async fn reject_large_bodies(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Rules uploads (a big account's export) and device reports (a result per target) are
    // the routes that take more.
    let post = req.method() == axum::http::Method::POST;
    let limit = match req.uri().path() {
        path if post && path == vantage_shared::routes::RULES => rules::MAX_RULES_BYTES,
        path if post && path == vantage_shared::routes::REPORTS => reach::MAX_REPORT_BYTES,
        _ => MAX_BODY_BYTES,
    };
    match announced {
        Some(n) if n > limit as u64 => error::ApiError::PayloadTooLarge.into_response(),
        _ => next.run(req).await,
    }
}

/// Creates the data dir (private to the user) if needed.
pub fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
    let mut perms = std::fs::metadata(dir)?.permissions();
    if perms.mode() & 0o077 != 0 {
        perms.set_mode(0o700);
        // Best effort: a shared, pre-existing directory may belong to someone else.
        if let Err(e) = std::fs::set_permissions(dir, perms) {
            tracing::warn!(dir = %dir.display(), error = %e, "Could not make the data dir private");
        }
    }
    Ok(())
}

/// Runs the agent until `shutdown` resolves: watcher, pruner, probe scheduler, alert
/// engine and notification delivery, and the HTTP server.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // A document that cannot be generated is a bug in this build: say so at start rather
    // than serve a broken one.
    routes::openapi_json_text().map_err(anyhow::Error::msg)?;
    prepare_data_dir(&config.data_dir)?;
    let (token, created) = auth::load_or_create_token(&config.data_dir)?;
    let (metrics_token, _) = auth::load_or_create(&config.data_dir.join(auth::METRICS_TOKEN_FILE))?;
    let store = Store::open(&config.data_dir).with_context(|| {
        format!(
            "opening the history database in {}",
            config.data_dir.display()
        )
    })?;
    let state = AppState::new(
        token.clone(),
        config.allowed_hosts.clone(),
        &config.docker_host,
        store.clone(),
    )
    .with_reach(config.targets.clone(), config.trusted_proxies.clone())
    .with_alerts(config.alerts.clone())
    .with_metrics_token(metrics_token)
    .with_cors_allow_origins(config.cors_allow_origins.clone());
    state
        .alerts
        .load(&store)
        .await
        .context("loading the notification channels added on the dashboard")?;
    match store.interrupt_gpu_runs().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(runs = n, "GPU benchmark runs were cut off by the last stop"),
        Err(e) => tracing::error!(error = %e, "Could not mark interrupted GPU runs"),
    }
    let rule_files = rules::load_files(&config.rules_files)?;
    rules::reload(&state, rule_files)
        .await
        .map_err(|e| anyhow::anyhow!("loading stored rules: {e}"))?;
    if config.read_host_firewall {
        // In the background: three commands with a 10 s limit each must not delay listening.
        let rules = state.rules.clone();
        let events = state.events.clone();
        tokio::spawn(async move {
            let read = rules.read_host().await;
            tracing::info!(summary = %read.summary, "Host firewall");
            events.publish(vantage_shared::AgentEvent::RulesChanged);
        });
    }

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let _ = state.listening_on.set(addr);

    let mut tasks = spawn_tasks(&state, &config, store);
    if let Some(at) = config.metrics_listen {
        tasks.push(metrics_listener(&state, at).await?);
    }

    if !web::dashboard_built() {
        tracing::warn!("Dashboard bundle (dist/) is missing: the agent serves the API and a page explaining how to build it");
    }
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    // Printed (not logged) so it is easy to copy, the way notebook servers do.
    println!("Vantage {} is running.", env!("CARGO_PKG_VERSION"));
    println!("  Dashboard: http://{host}:{}/?token={token}", addr.port());
    println!(
        "  Token {} in {}",
        if created {
            "created and stored"
        } else {
            "stored"
        },
        config.data_dir.join(auth::TOKEN_FILE).display()
    );
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "Listening");

    // Tell the event streams and tasks first: graceful shutdown waits for every
    // open response, and an event stream would otherwise never end.
    let stop = Arc::clone(&state.shutdown);
    let signal = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let gpu = state.gpu.clone();
    // The peer address is the client's IP for device reports (or the proxy's, see
    // `--trusted-proxy`).
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await
    .context("HTTP server")?;
    futures_util::future::join_all(tasks).await;
    // A GPU benchmark runs on the blocking pool, which the runtime waits for on exit:
    // stop it (it returns within about a second) and let it store its record.
    gpu.cancel_all();
    if !gpu.wait_idle(std::time::Duration::from_secs(10)).await {
        tracing::warn!(
            "The GPU benchmark did not stop in 10 s; the next start marks it interrupted"
        );
    }
    tracing::info!("Stopped");
    Ok(())
}

/// The open, metrics-only listener (`--metrics-listen`): `GET /metrics` without a token,
/// and nothing else.
async fn metrics_listener(
    state: &AppState,
    at: std::net::SocketAddr,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .with_context(|| format!("listening for metrics on {at}"))?;
    tracing::info!(addr = %listener.local_addr()?, "Serving /metrics without a token");
    let app = Router::new()
        .route("/metrics", axum::routing::get(metrics::scrape::metrics))
        .with_state(state.clone());
    let mut stop = state.shutdown.subscribe();
    Ok(tokio::spawn(async move {
        let signal = async move {
            let _ = stop.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::error!(error = %e, "The metrics listener stopped");
        }
    }))
}

/// The background tasks: the Docker watcher, the pruner, the probe scheduler, the alert
/// engine and the notification delivery. Each ends on shutdown.
fn spawn_tasks(
    state: &AppState,
    config: &Config,
    store: Store,
) -> Vec<tokio::task::JoinHandle<()>> {
    let stop_rx = state.shutdown.subscribe();
    let watcher = DockerWatcher {
        handle: state.docker.clone(),
        store: store.clone(),
        endpoint: config.docker_host.clone(),
        resync: config.resync,
        shutdown: stop_rx.clone(),
    };
    let scheduler = {
        let (state, on, stop_rx) = (state.clone(), config.scheduled_probes, stop_rx.clone());
        async move {
            if on {
                reach::schedule::run(state, stop_rx).await;
            }
        }
    };
    vec![
        tokio::spawn(watcher.run()),
        tokio::spawn(alerts::engine::run(state.clone(), stop_rx.clone())),
        tokio::spawn(alerts::deliver::run(
            store.clone(),
            state.alerts.clone(),
            state.hostname.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(metrics::run(state.clone(), stop_rx.clone())),
        tokio::spawn(prune_loop(store, config.retention, stop_rx)),
        tokio::spawn(scheduler),
    ]
}

/// Deletes history older than the retention period, hourly.
async fn prune_loop(
    store: Store,
    retention: std::time::Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let Ok(keep) = chrono::Duration::from_std(retention) else { return };
                match store.prune(Utc::now() - keep).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "Pruned old healthcheck history"),
                    Err(e) => tracing::error!(error = %e, "Could not prune history"),
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
