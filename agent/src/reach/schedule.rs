//! Scheduled probes: the agent probes every target at its interval, with nobody watching,
//! and keeps each result (`probes::record`). A target's probes fall at a fixed offset
//! within its interval, taken from its id, so a thousand targets spread over the interval
//! instead of firing together, and a restart keeps the same spread. At most
//! [`MAX_AT_ONCE`] probes run together; a target still being probed is not probed again.
//! Results are stored in batches, one transaction per [`BATCH_WINDOW`], so a thousand
//! targets cost a few commits a minute rather than a thousand.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, watch, Semaphore};
use vantage_shared::probe::{AgentProbe, Target};

use super::probes::{probe_with, record_all};
use super::targets::all_targets;
use crate::probe::DEFAULT_ORIGIN;
use crate::AppState;

/// Scheduled probes running at once. Each waits mostly on the network, and a probe's own
/// deadline bounds how long it holds its slot.
pub const MAX_AT_ONCE: usize = 32;
/// How long finished scheduled probes are gathered before they are stored together. A
/// `kill -9` can lose at most this much of the newest results; a clean shutdown loses none.
pub const BATCH_WINDOW: Duration = Duration::from_secs(1);
/// The most results one transaction takes.
const MAX_BATCH: usize = 256;
/// How long a clean shutdown waits for the probes still running, to store them.
const DRAIN: Duration = Duration::from_secs(5);
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

/// The schedule: every known target, and a heap of when each is due next. A wake pops only
/// the targets that are due, so a thousand targets cost nothing between their turns.
#[derive(Default)]
struct Plan {
    /// Target id → the target and the generation of its live heap entry.
    targets: HashMap<String, (Target, u64)>,
    /// (due at, generation, id), soonest first. An entry whose generation is no longer
    /// its target's (interval changed, target removed and added again) is dropped when
    /// it comes up, so a target never holds two live turns.
    heap: BinaryHeap<Reverse<(u64, u64, String)>>,
    generation: u64,
}

fn interval_ms(t: &Target) -> u64 {
    u64::from(t.interval_seconds) * 1000
}

impl Plan {
    /// Takes the current target list: new targets and changed intervals get a turn on
    /// their grid, removed targets lose theirs.
    fn refresh(&mut self, list: Vec<Target>, now: u64) {
        let mut next = HashMap::with_capacity(list.len());
        for t in list {
            let kept = match self.targets.remove(&t.id) {
                Some((old, generation)) if interval_ms(&old) == interval_ms(&t) => generation,
                _ => self.schedule(&t.id, interval_ms(&t), now),
            };
            next.insert(t.id.clone(), (t, kept));
        }
        self.targets = next;
    }

    fn schedule(&mut self, id: &str, interval: u64, now: u64) -> u64 {
        self.generation += 1;
        let at = next_due_ms(now, interval, offset_ms(id, interval));
        self.heap
            .push(Reverse((at, self.generation, id.to_owned())));
        self.generation
    }

    /// The targets due by `now`, each given its next turn.
    fn due(&mut self, now: u64) -> Vec<Target> {
        let mut out = Vec::new();
        while self
            .heap
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at <= now)
        {
            let Some(Reverse((_, generation, id))) = self.heap.pop() else {
                break;
            };
            let Some((target, live)) = self.targets.get(&id) else {
                continue;
            };
            if *live != generation {
                continue;
            }
            let target = target.clone();
            let renewed = self.schedule(&id, interval_ms(&target), now);
            if let Some(entry) = self.targets.get_mut(&id) {
                entry.1 = renewed;
            }
            out.push(target);
        }
        out
    }

    fn next_at(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }
}

/// Probes every target at its interval until shutdown.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_AT_ONCE));
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (results, finished) = mpsc::channel(MAX_AT_ONCE * 2);
    let writer = tokio::spawn(keep(state.clone(), finished));
    let mut plan = Plan::default();
    let mut read_at = 0;
    loop {
        let now = now_ms();
        if now >= read_at {
            match all_targets(&state).await {
                Ok(list) => plan.refresh(list, now),
                Err(e) => {
                    tracing::warn!(error = %e, "Scheduled probes: could not read the targets")
                }
            }
            read_at = now + REREAD.as_millis() as u64;
        }
        for target in plan.due(now) {
            start(&state, target, &slots, &running, &results);
        }
        let soonest = plan.next_at().unwrap_or(read_at).min(read_at);
        let wait = soonest.saturating_sub(now_ms()).max(10);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = shutdown.changed() => break,
        }
    }
    // The writer ends once the probes still running have sent their results.
    drop(results);
    if tokio::time::timeout(DRAIN, writer).await.is_err() {
        tracing::warn!("Scheduled probes: stopped before the last results were stored");
    }
}

/// Stores finished probes: whatever arrives within [`BATCH_WINDOW`] of the first goes
/// into one transaction.
async fn keep(state: AppState, mut finished: mpsc::Receiver<AgentProbe>) {
    while let Some(first) = finished.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + BATCH_WINDOW;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(until, finished.recv()).await {
                Ok(Some(probe)) => batch.push(probe),
                Ok(None) | Err(_) => break,
            }
        }
        let n = batch.len();
        if let Err(e) = record_all(&state, batch).await {
            tracing::error!(results = n, error = %e, "Could not store scheduled probes");
        }
    }
}

/// Starts one probe unless the target is still being probed or every slot is taken.
fn start(
    state: &AppState,
    target: Target,
    slots: &Arc<Semaphore>,
    running: &Arc<Mutex<HashSet<String>>>,
    results: &mpsc::Sender<AgentProbe>,
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
    let (state, running, results) = (state.clone(), Arc::clone(running), results.clone());
    tokio::spawn(async move {
        let origin = page_origin(&state, &target).await;
        let probe = probe_with(&state, &target, origin).await;
        // Fails only once the writer is gone, i.e. at shutdown.
        let _ = results.send(probe).await;
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
    // Kept in memory as probes are recorded; the store answers only the first time a
    // target comes up after a start.
    if let Some(origin) = state.reach.known_origin(&target.id) {
        return origin;
    }
    let origin = state
        .store
        .agent_probe_origin(target.id.clone())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| DEFAULT_ORIGIN.to_owned());
    state.reach.remember_origin(&target.id, &origin);
    origin
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

    fn target(id: &str, interval_seconds: u32) -> Target {
        let mut t: Target = serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "url": "http://127.0.0.1:9/", "expected_status": null,
            "cors_origin": null, "source": "config"
        }))
        .expect("a minimal target");
        t.interval_seconds = interval_seconds;
        t
    }

    fn ids(list: Vec<Target>) -> Vec<String> {
        let mut ids: Vec<String> = list.into_iter().map(|t| t.id).collect();
        ids.sort();
        ids
    }

    #[test]
    fn the_plan_fires_each_target_once_per_interval() {
        let mut plan = Plan::default();
        plan.refresh(vec![target("a", 60), target("b", 5)], 0);
        let (a, b) = (offset_ms("a", 60_000), offset_ms("b", 5_000));
        assert_eq!(plan.next_at(), Some(a.min(b)));
        // Over two minutes: a twice, b 24 times, never both turns of one at once.
        let mut fired: HashMap<String, Vec<u64>> = HashMap::new();
        for now in 0..120_000 {
            for t in plan.due(now) {
                fired.entry(t.id).or_default().push(now);
            }
        }
        assert_eq!(fired["a"], vec![a, a + 60_000]);
        assert_eq!(fired["b"].len(), 24);
        assert!(fired["b"].windows(2).all(|w| w[1] - w[0] == 5_000));
    }

    #[test]
    fn a_changed_removed_or_readded_target_keeps_one_turn() {
        let mut plan = Plan::default();
        plan.refresh(vec![target("a", 60), target("b", 60)], 0);
        // b removed, then added again before its old turn: one turn, not two.
        plan.refresh(vec![target("a", 60)], 1);
        plan.refresh(vec![target("a", 60), target("b", 60)], 2);
        // a's interval changes to 10 s: the old 60 s turn is dropped.
        plan.refresh(vec![target("a", 10), target("b", 60)], 3);
        let mut seen = Vec::new();
        for now in (0..60_000).step_by(10) {
            seen.extend(ids(plan.due(now)));
        }
        assert_eq!(seen.iter().filter(|id| *id == "b").count(), 1);
        assert_eq!(seen.iter().filter(|id| *id == "a").count(), 6);
        // A removed target never fires again, and its stale entries drain away.
        plan.refresh(vec![target("a", 10)], 60_000);
        for now in (60_000..200_000).step_by(10) {
            assert!(!ids(plan.due(now)).contains(&"b".to_owned()));
        }
        assert!(plan.heap.len() <= 1, "{}", plan.heap.len());
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
