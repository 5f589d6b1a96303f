//! Turns what the agent sees into alerts: every finished probe (handed over by
//! `reach::probes::record`) and every container lifecycle event (from the event bus) feeds
//! a result into the subject's stored state
//! (`shared::alerts::step`: thresholds, recovery, reminders) and puts the alerts that come
//! out into the outbox for every channel that wants them.

use chrono::{DateTime, Duration, Utc};
use tokio::sync::broadcast::error::RecvError;
use vantage_shared::alerts::{
    step, Alert, AlertKind, AlertPolicy, AlertState, AlertSubject, Transition,
};
use vantage_shared::diagnosis::agent_probe::CERT_EXPIRY_WARNING_DAYS;
use vantage_shared::diagnosis::restarts::{restart_loop, LOOP_MINUTES};
use vantage_shared::diagnosis::Severity;
use vantage_shared::duration::human_ms;
use vantage_shared::probe::{AgentProbe, Target, TargetResult};
use vantage_shared::{AgentEvent, HealthStatus, LifecycleEvent, LifecycleKind};

use crate::AppState;

/// Follows the event bus until shutdown.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut rx = state.events.subscribe();
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    let _one_at_a_time = state.alerts.judging.lock().await;
                    if let Err(e) = on_event(&state, ev).await {
                        tracing::error!(error = %e, "Could not evaluate an alert");
                    }
                }
                Err(RecvError::Lagged(n)) => tracing::warn!(missed = n, "Alerts fell behind the event bus; some results were not evaluated"),
                Err(RecvError::Closed) => return,
            },
            _ = stop.changed() => return,
        }
    }
}

async fn on_event(state: &AppState, ev: AgentEvent) -> anyhow::Result<()> {
    match ev {
        AgentEvent::ContainerLifecycle {
            container_id,
            container_name,
            event,
        } => on_lifecycle(state, &container_id, &container_name, &event).await,
        _ => Ok(()),
    }
}

/// An alert (the parameters are its fields, in order).
pub(super) fn make(
    kind: AlertKind,
    subject: AlertSubject,
    at: DateTime<Utc>,
    severity: Severity,
    title: String,
    message: String,
    reminder: bool,
) -> Alert {
    Alert {
        kind,
        subject,
        at,
        severity,
        title,
        message,
        reminder,
    }
}

pub(super) fn subject(kind: &str, id: &str, name: &str) -> AlertSubject {
    AlertSubject {
        kind: kind.into(),
        id: id.into(),
        name: name.into(),
    }
}

/// Steps the stored state of `key` with one result; returns the transition.
async fn advance(
    state: &AppState,
    key: String,
    bad: bool,
    at: DateTime<Utc>,
    policy: &AlertPolicy,
) -> anyhow::Result<(Transition, Option<DateTime<Utc>>)> {
    let mut s = load_state(state, &key).await?;
    let (before, unchanged) = (s.since, s.clone());
    let t = step(&mut s, bad, at, policy);
    save_state(state, key, s.clone(), s != unchanged).await?;
    // For a resolution, how long it lasted is measured from when it began.
    Ok((
        t,
        if t == Transition::Resolved {
            before
        } else {
            s.since
        },
    ))
}

/// A subject's state: from memory, else from the store (the first time after a start).
pub(super) async fn load_state(state: &AppState, key: &str) -> anyhow::Result<AlertState> {
    if let Some(s) = state.alerts.cached(key) {
        return Ok(s);
    }
    Ok(state.store.alert_state(key.to_owned()).await?)
}

/// Keeps a subject's state in memory, and in the store when it `changed`: most results
/// change nothing (up, and it was up), and a thousand targets a minute must not mean a
/// thousand writes.
pub(super) async fn save_state(
    state: &AppState,
    key: String,
    s: AlertState,
    changed: bool,
) -> anyhow::Result<()> {
    if changed {
        state.store.set_alert_state(key.clone(), &s).await?;
    }
    state.alerts.cache(key, s);
    Ok(())
}

/// One target result being judged, and where alerts about it go.
struct Seen<'a> {
    state: &'a AppState,
    target: &'a Target,
    who: AlertSubject,
    r: &'a TargetResult,
    probe: &'a AgentProbe,
}

impl Seen<'_> {
    /// Raises an alert about this target at the result's time.
    async fn send(
        &self,
        kind: AlertKind,
        severity: Severity,
        title: String,
        message: String,
        reminder: bool,
    ) -> anyhow::Result<()> {
        let alert = make(
            kind,
            self.who.clone(),
            self.r.at,
            severity,
            title,
            message,
            reminder,
        );
        self.state.alerts.raise(self.state, alert).await
    }
}

async fn find_target(state: &AppState, id: &str) -> anyhow::Result<Option<Target>> {
    if let Some(t) = state.reach.config_targets.iter().find(|t| t.id == id) {
        return Ok(Some(t.clone()));
    }
    Ok(state
        .store
        .targets()
        .await?
        .into_iter()
        .find(|t| t.id == id))
}

/// Judges finished probes, in order (called by `reach::probes::record` for every probe, scheduled
/// or asked for); errors are logged, never returned to the prober.
pub async fn probed(state: AppState, probes: Vec<AgentProbe>) {
    let judging = std::sync::Arc::clone(&state.alerts.judging);
    let _one_at_a_time = judging.lock().await;
    for probe in &probes {
        if let Err(e) = on_probe(&state, probe).await {
            tracing::error!(target = %probe.target_id, error = %e, "Could not evaluate an alert");
        }
    }
}

async fn on_probe(state: &AppState, probe: &AgentProbe) -> anyhow::Result<()> {
    let Some(target) = find_target(state, &probe.target_id).await? else {
        return Ok(());
    };
    if state.alerts.muted(&[&target.id, &target.name]) {
        return Ok(());
    }
    let r = TargetResult::from_probe(probe);
    let seen = Seen {
        state,
        target: &target,
        who: subject("target", &target.id, &target.name),
        r: &r,
        probe,
    };
    availability(&seen).await?;
    if r.up {
        cors(&seen).await?;
        certificate(&seen).await?;
        critical_findings(&seen).await?;
    }
    Ok(())
}

async fn availability(s: &Seen<'_>) -> anyhow::Result<()> {
    let (state, t, r) = (s.state, s.target, s.r);
    let alerts = &state.alerts;
    let policy = alerts.settings.policy;
    let (tr, since) = advance(state, format!("target:{}", t.id), !r.up, r.at, &policy).await?;
    let why = r
        .error
        .clone()
        .unwrap_or_else(|| r.verdict.as_str().replace('_', " "));
    let finding = r
        .finding
        .as_deref()
        .map(|f| format!(" Finding: `{f}`."))
        .unwrap_or_default();
    let (kind, severity, title, message) = match tr {
        Transition::Opened | Transition::Reminder => (
            AlertKind::TargetDown,
            Severity::Critical,
            format!("{} is down", t.name),
            format!(
                "{} ({}): {why}.{finding} Down since {}.",
                t.name,
                t.url,
                since.map_or_else(
                    || "now".into(),
                    |s| s.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                )
            ),
        ),
        Transition::Resolved => (
            AlertKind::TargetUp,
            Severity::Info,
            format!("{} is up again", t.name),
            format!(
                "{} ({}) answers again{}{}.",
                t.name,
                t.url,
                r.http_status
                    .map(|s| format!(" with HTTP {s}"))
                    .unwrap_or_default(),
                since
                    .map(|s| format!(
                        " after {} down",
                        human_ms(u64::try_from((r.at - s).num_milliseconds()).unwrap_or(0))
                    ))
                    .unwrap_or_default()
            ),
        ),
        Transition::Nothing => return Ok(()),
    };
    s.send(kind, severity, title, message, tr == Transition::Reminder)
        .await
}

async fn cors(s: &Seen<'_>) -> anyhow::Result<()> {
    let (state, t, r) = (s.state, s.target, s.r);
    let alerts = &state.alerts;
    let (Some(origin), Some(allowed)) = (t.cors_origin.as_deref(), r.cors_allowed) else {
        return Ok(());
    };
    let policy = alerts.settings.policy;
    let (tr, _) = advance(state, format!("cors:{}", t.id), !allowed, r.at, &policy).await?;
    let (severity, title, message) = match tr {
        Transition::Opened | Transition::Reminder => (
            Severity::Critical,
            format!("{}: CORS now blocks {origin}", t.name),
            format!("Pages on {origin} can no longer read {}'s responses, although it answers. The dashboard's probe detail names the CORS rule that fails.", t.url),
        ),
        Transition::Resolved => (
            Severity::Info,
            format!("{}: CORS allows {origin} again", t.name),
            format!("Pages on {origin} can read {}'s responses again.", t.url),
        ),
        Transition::Nothing => return Ok(()),
    };
    s.send(
        AlertKind::CorsChanged,
        severity,
        title,
        message,
        tr == Transition::Reminder,
    )
    .await
}

async fn certificate(s: &Seen<'_>) -> anyhow::Result<()> {
    let (state, t, r) = (s.state, s.target, s.r);
    let Some(expires) = r.cert_expires else {
        return Ok(());
    };
    let days = (expires - r.at).num_days();
    let soon = days < CERT_EXPIRY_WARNING_DAYS;
    // Once when it comes close, then daily; renewal closes it quietly.
    let policy = AlertPolicy {
        failures: 1,
        successes: 1,
        remind_every: Some(Duration::days(1)),
    };
    let (tr, _) = advance(state, format!("cert:{}", t.id), soon, r.at, &policy).await?;
    if !matches!(tr, Transition::Opened | Transition::Reminder) {
        return Ok(());
    }
    let (severity, title) = if expires <= r.at {
        (
            Severity::Critical,
            format!("{}: the certificate has expired", t.name),
        )
    } else {
        (
            Severity::Warning,
            format!("{}: the certificate expires in {days} days", t.name),
        )
    };
    let message = format!(
        "{}'s certificate ends on {}. Renewal (certbot, Caddy, Traefik, cert-manager) normally replaces it 30 days ahead: check that it runs and that the server reloaded the new file.",
        t.url,
        expires.format("%Y-%m-%d %H:%M UTC")
    );
    s.send(
        AlertKind::CertificateExpiring,
        severity,
        title,
        message,
        tr == Transition::Reminder,
    )
    .await
}

/// A critical finding on a target that still answers, once per finding while it lasts.
async fn critical_findings(s: &Seen<'_>) -> anyhow::Result<()> {
    let (state, t) = (s.state, s.target);
    let critical: Vec<_> = s
        .probe
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        // Told apart elsewhere: CORS flips and certificates have their own alerts.
        .filter(|f| {
            !f.code.as_str().starts_with("cors_")
                && !f.code.as_str().starts_with("tls_certificate_")
        })
        .collect();
    for f in newly_open(state, format!("findings:{}", t.id), critical).await? {
        let title = format!("{}: {}", t.name, f.summary);
        let message = format!(
            "{} While it still answers, this needs attention. ({})",
            f.explanation,
            f.code.as_str()
        );
        s.send(
            AlertKind::CriticalFinding,
            Severity::Critical,
            title,
            message,
            false,
        )
        .await?;
    }
    Ok(())
}

/// Of `findings` (all critical, all about one subject), those not open at `key` before:
/// the set at `key` becomes exactly `findings`, so one that goes away and comes back is
/// new again.
pub(super) async fn newly_open<'f>(
    state: &AppState,
    key: String,
    findings: Vec<&'f vantage_shared::diagnosis::Finding>,
) -> anyhow::Result<Vec<&'f vantage_shared::diagnosis::Finding>> {
    let mut open = load_state(state, &key).await?;
    let now: Vec<String> = findings
        .iter()
        .map(|f| f.code.as_str().to_owned())
        .collect();
    let new = findings
        .into_iter()
        .filter(|f| !open.open.iter().any(|c| c == f.code.as_str()))
        .collect();
    let changed = open.open != now;
    open.open = now;
    save_state(state, key, open, changed).await?;
    Ok(new)
}

async fn on_lifecycle(
    state: &AppState,
    id: &str,
    name: &str,
    e: &LifecycleEvent,
) -> anyhow::Result<()> {
    let alerts = &state.alerts;
    if alerts.muted(&[name, id]) {
        return Ok(());
    }
    let who = subject("container", id, name);
    if e.kind == LifecycleKind::Health {
        // Docker already counted its retries: one event is the verdict.
        let policy = AlertPolicy {
            failures: 1,
            successes: 1,
            ..alerts.settings.policy
        };
        let bad = e.health == Some(HealthStatus::Unhealthy);
        let (tr, since) = advance(state, format!("health:{id}"), bad, e.at, &policy).await?;
        let (kind, severity, title, message) = match tr {
            Transition::Opened | Transition::Reminder => {
                let (runs, _) = state.store.history(id.to_owned(), None, 1).await?;
                let output = runs
                    .first()
                    .map(|r| r.output.trim().to_owned())
                    .filter(|o| !o.is_empty());
                (
                    AlertKind::ContainerUnhealthy,
                    Severity::Critical,
                    format!("{name} is unhealthy"),
                    format!(
                        "Docker marks `{name}` unhealthy: its healthcheck fails.{}",
                        output
                            .map(|o| format!(" Last output: {o}"))
                            .unwrap_or_default()
                    ),
                )
            }
            Transition::Resolved => (
                AlertKind::ContainerHealthy,
                Severity::Info,
                format!("{name} is healthy again"),
                format!(
                    "`{name}`'s healthcheck passes again{}.",
                    since
                        .map(|s| format!(
                            " after {}",
                            human_ms(u64::try_from((e.at - s).num_milliseconds()).unwrap_or(0))
                        ))
                        .unwrap_or_default()
                ),
            ),
            Transition::Nothing => return Ok(()),
        };
        return alerts
            .raise(
                state,
                make(
                    kind,
                    who,
                    e.at,
                    severity,
                    title,
                    message,
                    tr == Transition::Reminder,
                ),
            )
            .await;
    }
    // Any other event may start or end a restart loop.
    let since = e.at - Duration::minutes(LOOP_MINUTES);
    let (events, _) = state
        .store
        .lifecycle_events(id.to_owned(), Some(since), None, 1_000)
        .await?;
    let looping = restart_loop(name, &events, e.at);
    let policy = AlertPolicy {
        failures: 1,
        successes: 1,
        remind_every: None,
    };
    let (tr, _) = advance(
        state,
        format!("loop:{id}"),
        looping.is_some(),
        e.at,
        &policy,
    )
    .await?;
    if let (Transition::Opened, Some(f)) = (tr, looping) {
        alerts
            .raise(
                state,
                make(
                    AlertKind::RestartLoop,
                    who,
                    e.at,
                    Severity::Critical,
                    format!("{name} is in a restart loop"),
                    format!("{} {}", f.summary.replace('`', ""), f.explanation),
                    false,
                ),
            )
            .await?;
    }
    Ok(())
}
