//! Scheduled probes: the agent probes every target at its interval, with nobody watching,
//! and keeps each result (`probes::record`). A target's probes fall at a fixed offset
//! within its interval, taken from its id, so a thousand targets spread over the interval
//! instead of firing together, and a restart keeps the same spread. At most
//! [`MAX_AT_ONCE`] probes run together; a target still being probed is not probed again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{watch, Semaphore};
use vantage_shared::probe::Target;

use super::probes::{probe_with, record};
use super::targets::all_targets;
use crate::probe::DEFAULT_ORIGIN;
use crate::AppState;

/// Scheduled probes running at once. Each waits mostly on the network, and a probe's own
/// deadline bounds how long it holds its slot.
pub const MAX_AT_ONCE: usize = 32;
/// How often the target list is read again, so added and removed targets take effect.
const REREAD: Duration = Duration::from_secs(5);

/// Where in its interval a target is probed: a hash of its id (FNV-1a), the same on
/// every start and every machine.
pub fn offset_ms(id: &str, interval_ms: u64) -> u64 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    hash % interval_ms.max(1)
}

/// The first time after `now_ms` (milliseconds since the epoch) that falls on the
/// target's grid: `offset + k × interval`.
pub fn next_due_ms(now_ms: u64, interval_ms: u64, offset_ms: u64) -> u64 {
    let interval = interval_ms.max(1);
    let phase = (now_ms % interval + interval - offset_ms % interval) % interval;
    now_ms + interval - phase
}

fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// Probes every target at its interval until shutdown.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_AT_ONCE));
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    // Target id → (its interval, when it is due next).
    let mut due: HashMap<String, (u64, u64)> = HashMap::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut read_at = 0;
    loop {
        let now = now_ms();
        if now >= read_at {
            match all_targets(&state).await {
                Ok(list) => targets = list,
                Err(e) => {
                    tracing::warn!(error = %e, "Scheduled probes: could not read the targets")
                }
            }
            read_at = now + REREAD.as_millis() as u64;
            let ids: HashSet<&str> = targets.iter().map(|t| t.id.as_str()).collect();
            due.retain(|id, _| ids.contains(id.as_str()));
        }
        // This runs every few milliseconds with a thousand targets: look up, allocate
        // only for a target seen for the first time.
        for t in &targets {
            let interval = u64::from(t.interval_seconds) * 1000;
            let next = || next_due_ms(now, interval, offset_ms(&t.id, interval));
            let entry = match due.get_mut(&t.id) {
                Some(e) => e,
                None => due
                    .entry(t.id.clone())
                    .or_insert_with(|| (interval, next())),
            };
            if entry.0 != interval {
                *entry = (interval, next());
            }
            if entry.1 > now {
                continue;
            }
            entry.1 = next();
            start(&state, t, &slots, &running);
        }
        let soonest = due.values().map(|(_, at)| *at).min().unwrap_or(read_at);
        let wait = soonest.min(read_at).saturating_sub(now_ms()).max(10);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Starts one probe unless the target is still being probed or every slot is taken.
fn start(
    state: &AppState,
    target: &Target,
    slots: &Arc<Semaphore>,
    running: &Arc<Mutex<HashSet<String>>>,
) {
    let Ok(mut busy) = running.lock() else { return };
    if busy.contains(&target.id) {
        return;
    }
    let Ok(permit) = Arc::clone(slots).try_acquire_owned() else {
        tracing::warn!(
            target = %target.id,
            "Scheduled probes: {MAX_AT_ONCE} are already running; this one waits for its next turn"
        );
        return;
    };
    busy.insert(target.id.clone());
    let (state, target, running) = (state.clone(), target.clone(), Arc::clone(running));
    tokio::spawn(async move {
        let origin = page_origin(&state, &target).await;
        let probe = probe_with(&state, &target, origin).await;
        if let Err(e) = record(&state, &probe).await {
            tracing::error!(target = %target.id, error = %e, "Could not store a scheduled probe");
        }
        drop(permit);
        if let Ok(mut busy) = running.lock() {
            busy.remove(&target.id);
        }
    });
}

/// The page origin to evaluate CORS for when the target names none: the one its last
/// probe used (the dashboard's, when someone pressed Probe), so a scheduled probe does not
/// swap the verdict the dashboard shows for one about another origin.
async fn page_origin(state: &AppState, target: &Target) -> String {
    if target.cors_origin.is_some() {
        // The target's own origin wins inside the probe; this one is not used.
        return DEFAULT_ORIGIN.to_owned();
    }
    // Only the origin: parsing the whole stored probe for it, a thousand times a minute,
    // was most of the scheduler's work.
    state
        .store
        .agent_probe_origin(target.id.clone())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| DEFAULT_ORIGIN.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_fall_on_each_targets_grid() {
        // Interval 60 s, offset 7 s: due at …:07 of every minute.
        assert_eq!(next_due_ms(120_000, 60_000, 7_000), 127_000);
        assert_eq!(next_due_ms(127_000, 60_000, 7_000), 187_000);
        assert_eq!(next_due_ms(126_999, 60_000, 7_000), 127_000);
        // Always strictly later, and never more than one interval away.
        for now in [0, 1, 59_999, 60_000, 1_700_000_000_123] {
            let due = next_due_ms(now, 60_000, 7_000);
            assert!(due > now && due - now <= 60_000, "{now} → {due}");
            assert_eq!(due % 60_000, 7_000);
        }
    }

    #[test]
    fn a_thousand_targets_spread_over_the_interval() {
        let interval = 60_000;
        let mut per_second = [0_u32; 60];
        for i in 0..1000 {
            let off = offset_ms(&format!("target-{i}"), interval);
            assert!(off < interval);
            per_second[(off / 1000) as usize] += 1;
        }
        // Evenly that is ~17 a second; no second gets a crowd.
        let most = per_second.iter().max().copied().unwrap_or(0);
        assert!(most <= 40, "{per_second:?}");
        assert_eq!(offset_ms("api", interval), offset_ms("api", interval));
    }
}
