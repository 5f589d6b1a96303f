//! Geometry of a container's state band: its stored lifecycle events over the last day
//! as stretches of running, unhealthy, down and paused, so a restart loop or a night of
//! crashes is seen at a glance. Pure, so the stretches are unit-tested natively.

use chrono::{DateTime, Duration, Utc};
use vantage_shared::{HealthStatus, LifecycleEvent, LifecycleKind};

/// What the container was doing over one stretch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    Unhealthy,
    Paused,
    Down,
    /// Before the first stored event: the agent did not see it.
    Unknown,
}

impl Phase {
    pub fn class(self) -> &'static str {
        match self {
            Self::Running => "life running",
            Self::Unhealthy => "life unhealthy",
            Self::Paused => "life paused",
            Self::Down => "life down",
            Self::Unknown => "life unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Unhealthy => "running, unhealthy",
            Self::Paused => "paused",
            Self::Down => "not running",
            Self::Unknown => "not seen",
        }
    }
}

/// One stretch, as fractions of the band's width.
#[derive(Debug, Clone, PartialEq)]
pub struct Stretch {
    pub phase: Phase,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// 0–1 of the band.
    pub x: f64,
    pub w: f64,
}

/// Stretches from `now - window` to `now`; `events` in any order.
pub fn stretches(events: &[LifecycleEvent], now: DateTime<Utc>, window: Duration) -> Vec<Stretch> {
    let start = now - window;
    let mut sorted: Vec<&LifecycleEvent> = events.iter().filter(|e| e.at <= now).collect();
    sorted.sort_by_key(|e| e.at);
    let mut out: Vec<Stretch> = Vec::new();
    let (mut phase, mut since, mut healthy) = (Phase::Unknown, start, true);
    for e in sorted {
        let next = match e.kind {
            LifecycleKind::Start | LifecycleKind::Unpause | LifecycleKind::Restart => {
                healthy = true;
                Phase::Running
            }
            // Only a running container has health: a first health event also says it runs.
            LifecycleKind::Health if phase != Phase::Down => {
                healthy = e.health != Some(HealthStatus::Unhealthy);
                if healthy {
                    Phase::Running
                } else {
                    Phase::Unhealthy
                }
            }
            LifecycleKind::Pause => Phase::Paused,
            LifecycleKind::Die | LifecycleKind::Stop | LifecycleKind::Destroy => Phase::Down,
            _ => phase,
        };
        let next = if next == Phase::Running && !healthy {
            Phase::Unhealthy
        } else {
            next
        };
        if next != phase {
            push(&mut out, phase, since.max(start), e.at, start, window);
            (phase, since) = (next, e.at);
        }
    }
    push(&mut out, phase, since.max(start), now, start, window);
    out
}

fn push(
    out: &mut Vec<Stretch>,
    phase: Phase,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    start: DateTime<Utc>,
    window: Duration,
) {
    if to <= from {
        return;
    }
    let total = window.num_milliseconds().max(1) as f64;
    let x = (from - start).num_milliseconds() as f64 / total;
    let w = (to - from).num_milliseconds() as f64 / total;
    out.push(Stretch {
        phase,
        from,
        to,
        x,
        w,
    });
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
    }

    fn ev(hours_ago: i64, kind: LifecycleKind, health: Option<HealthStatus>) -> LifecycleEvent {
        LifecycleEvent {
            at: now() - Duration::hours(hours_ago),
            kind,
            exit_code: None,
            signal: None,
            health,
        }
    }

    #[test]
    fn a_day_of_running_crashing_and_unhealthy() {
        let events = vec![
            ev(18, LifecycleKind::Start, None),
            ev(12, LifecycleKind::Die, None),
            ev(6, LifecycleKind::Start, None),
            ev(3, LifecycleKind::Health, Some(HealthStatus::Unhealthy)),
        ];
        let s = stretches(&events, now(), Duration::hours(24));
        let phases: Vec<Phase> = s.iter().map(|s| s.phase).collect();
        assert_eq!(
            phases,
            vec![
                Phase::Unknown,
                Phase::Running,
                Phase::Down,
                Phase::Running,
                Phase::Unhealthy
            ]
        );
        assert!((s[0].w - 0.25).abs() < 1e-9 && (s[2].x - 0.5).abs() < 1e-9);
        let total: f64 = s.iter().map(|s| s.w).sum();
        assert!((total - 1.0).abs() < 1e-9, "the band is covered: {total}");
    }

    #[test]
    fn events_before_the_window_set_where_it_starts() {
        let events = vec![ev(48, LifecycleKind::Start, None)];
        let s = stretches(&events, now(), Duration::hours(24));
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].phase, s[0].x, s[0].w), (Phase::Running, 0.0, 1.0));
        // A restart of an unhealthy container starts healthy again.
        let events = vec![
            ev(10, LifecycleKind::Start, None),
            ev(8, LifecycleKind::Health, Some(HealthStatus::Unhealthy)),
            ev(6, LifecycleKind::Die, None),
            ev(5, LifecycleKind::Start, None),
        ];
        let s = stretches(&events, now(), Duration::hours(24));
        assert_eq!(s.last().unwrap().phase, Phase::Running);
        assert!(stretches(&[], now(), Duration::hours(24))[0].phase == Phase::Unknown);
        // Seen first through a health change: running from then on.
        let events = vec![ev(2, LifecycleKind::Health, Some(HealthStatus::Healthy))];
        let s = stretches(&events, now(), Duration::hours(24));
        assert_eq!(s.last().unwrap().phase, Phase::Running);
    }
}
