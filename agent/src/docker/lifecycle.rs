//! Docker's container events as stored lifecycle events: which actions are kept (starts,
//! exits with their code, OOM kills, signals, restarts, health changes) and where in the
//! event stream a reconnecting watcher resumes.

use std::collections::HashMap;

use bollard::models::{EventMessage, EventMessageTypeEnum};
use chrono::{DateTime, Duration, Utc};
use vantage_shared::{
    ContainerState, ContainerSummary, HealthStatus, LifecycleEvent, LifecycleKind,
};

/// How far back a reconnect asks Docker to replay events the agent missed while it was
/// down or disconnected. Docker keeps only its last 256 events in memory, so more would
/// not help.
pub(super) const MAX_REPLAY: Duration = Duration::hours(1);

/// The container id, its name and the event to store, for the actions worth keeping;
/// `None` for the rest (`exec_*` from every healthcheck run, `attach`, `resize`, …).
pub(super) fn lifecycle_event(ev: &EventMessage) -> Option<(String, String, LifecycleEvent)> {
    // The watcher also follows network events, whose `create`/`destroy` are not a
    // container's.
    if ev.typ != Some(EventMessageTypeEnum::CONTAINER) {
        return None;
    }
    let actor = ev.actor.as_ref()?;
    let id = actor.id.clone()?;
    let empty = HashMap::new();
    let attrs = actor.attributes.as_ref().unwrap_or(&empty);
    let name = attrs.get("name").cloned().unwrap_or_else(|| id.clone());
    let action = ev.action.as_deref()?;
    let (kind, health) = match action.split_once(':') {
        // `health_status: healthy` (the status follows the colon).
        Some(("health_status", status)) => (
            LifecycleKind::Health,
            Some(HealthStatus::from_docker(status.trim())),
        ),
        Some(_) => return None,
        None => (LifecycleKind::parse(action)?, None),
    };
    if kind == LifecycleKind::Health && health == Some(HealthStatus::None) {
        return None;
    }
    let at = ev
        .time_nano
        .map(DateTime::from_timestamp_nanos)
        .or_else(|| ev.time.and_then(|s| DateTime::from_timestamp(s, 0)))
        .unwrap_or_else(Utc::now);
    let event = LifecycleEvent {
        at,
        kind,
        exit_code: (kind == LifecycleKind::Die)
            .then(|| attrs.get("exitCode")?.parse().ok())
            .flatten(),
        signal: (kind == LifecycleKind::Kill)
            .then(|| attrs.get("signal").cloned())
            .flatten(),
        health,
    };
    Some((id, name, event))
}

/// The last start and, when it has stopped since, the exit of a container as `docker
/// inspect` tells them, for a container with no stored events; only what happened before
/// `before` (the replayed stream brings the rest).
pub(super) fn from_inspect(c: &ContainerSummary, before: DateTime<Utc>) -> Vec<LifecycleEvent> {
    let event = |at, kind, exit_code| LifecycleEvent {
        at,
        kind,
        exit_code,
        signal: None,
        health: None,
    };
    let mut out = Vec::new();
    if let Some(started) = c.started_at.filter(|t| *t < before) {
        out.push(event(started, LifecycleKind::Start, None));
        let stopped = !matches!(c.state, ContainerState::Running | ContainerState::Paused);
        if let Some(finished) = c
            .finished_at
            .filter(|t| stopped && *t > started && *t < before)
        {
            out.push(event(finished, LifecycleKind::Die, c.exit_code));
        }
    }
    out
}

/// Where to resume the event stream: just after the newest stored event when it is recent
/// (events while the agent was away are recorded too), else a second ago.
pub(super) fn replay_since(latest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    let recent = now - Duration::seconds(1);
    match latest {
        Some(t) if t > now - MAX_REPLAY && t < recent => t,
        _ => recent,
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn message(action: &str, attrs: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("abc123".into()),
                attributes: Some(
                    attrs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
            }),
            scope: None,
            time: Some(1_765_000_000),
            time_nano: Some(1_765_000_000_123_456_789),
        }
    }

    #[test]
    fn die_kill_and_health_keep_their_details() {
        let (id, name, e) =
            lifecycle_event(&message("die", &[("name", "api"), ("exitCode", "137")])).unwrap();
        assert_eq!((id.as_str(), name.as_str()), ("abc123", "api"));
        assert_eq!((e.kind, e.exit_code), (LifecycleKind::Die, Some(137)));
        assert_eq!(e.at.timestamp_subsec_nanos(), 123_456_789);
        let (_, _, e) = lifecycle_event(&message("kill", &[("signal", "15")])).unwrap();
        assert_eq!(e.signal.as_deref(), Some("15"));
        let (_, name, e) = lifecycle_event(&message("health_status: unhealthy", &[])).unwrap();
        assert_eq!(name, "abc123", "no name attribute: the id stands in");
        assert_eq!(e.health, Some(HealthStatus::Unhealthy));
        assert_eq!(
            lifecycle_event(&message("oom", &[])).unwrap().2.kind,
            LifecycleKind::Oom
        );
    }

    #[test]
    fn network_events_are_not_a_containers() {
        let mut ev = message("create", &[("name", "shop-net")]);
        ev.typ = Some(EventMessageTypeEnum::NETWORK);
        assert!(lifecycle_event(&ev).is_none());
    }

    #[test]
    fn healthcheck_execs_and_other_noise_are_not_kept() {
        for action in [
            "exec_create: /bin/true",
            "exec_start: sh -c true",
            "exec_die",
            "attach",
            "resize",
            "top",
        ] {
            assert!(lifecycle_event(&message(action, &[])).is_none(), "{action}");
        }
    }

    #[test]
    fn replay_resumes_after_the_newest_event_within_an_hour() {
        let now = Utc::now();
        let ten_min = now - Duration::minutes(10);
        assert_eq!(replay_since(Some(ten_min), now), ten_min);
        assert_eq!(
            replay_since(Some(now - Duration::hours(2)), now),
            now - Duration::seconds(1)
        );
        assert_eq!(replay_since(None, now), now - Duration::seconds(1));
    }

    #[test]
    fn inspect_gives_the_last_start_and_exit_before_the_replay() {
        let json = serde_json::json!({
            "id": "abc", "name": "api", "image": "x", "state": "exited", "status": "",
            "health": "none", "failing_streak": 0, "created": null,
            "started_at": "2026-12-06T10:00:00Z", "finished_at": "2026-12-06T10:05:00Z",
            "exit_code": 139, "restart_count": 0, "ports": [], "networks": [],
            "healthcheck": null, "compose_project": null, "compose_service": null
        });
        let c: ContainerSummary = serde_json::from_value(json).unwrap();
        let replay = DateTime::parse_from_rfc3339("2026-12-06T11:00:00Z")
            .unwrap()
            .to_utc();
        let events = from_inspect(&c, replay);
        let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.exit_code)).collect();
        assert_eq!(
            kinds,
            vec![
                (LifecycleKind::Start, None),
                (LifecycleKind::Die, Some(139))
            ]
        );
        // A start inside the replayed window comes from the stream instead.
        let early = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .to_utc();
        assert!(from_inspect(&c, early).is_empty());
        // A running container has no exit yet, whatever FinishedAt says from before.
        let running = ContainerSummary {
            state: ContainerState::Running,
            ..c
        };
        assert_eq!(from_inspect(&running, replay).len(), 1);
    }
}
