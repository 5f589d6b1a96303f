//! Container lifecycle events (Docker's `start`, `die`, `oom`, `health_status` …), one row
//! each, and the healthcheck uptime the container summary reads from the stored runs.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use vantage_shared::{HealthStatus, LifecycleEvent, LifecycleKind};

use super::{from_ns, to_ns, Store, StoreError};

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<LifecycleEvent>> {
    let kind: String = r.get(1)?;
    // A word written by a newer agent is skipped rather than failing the page.
    let Some(kind) = LifecycleKind::parse(&kind) else {
        return Ok(None);
    };
    Ok(Some(LifecycleEvent {
        at: from_ns(r.get(0)?),
        kind,
        exit_code: r.get(2)?,
        signal: r.get(3)?,
        health: r
            .get::<_, Option<String>>(4)?
            .map(|h| HealthStatus::from_docker(&h)),
    }))
}

impl Store {
    /// Stores one event; false when it was stored already (a reconnect replays the last
    /// moments of the stream).
    pub async fn insert_lifecycle_event(
        &self,
        container_id: String,
        container_name: String,
        e: LifecycleEvent,
    ) -> Result<bool, StoreError> {
        let at = to_ns(e.at)?;
        self.with_conn(move |conn| {
            let n = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO lifecycle_events
                     (container_id, container_name, at_ns, kind, exit_code, signal, health)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    container_id,
                    container_name,
                    at,
                    e.kind.as_str(),
                    e.exit_code,
                    e.signal,
                    e.health.map(HealthStatus::as_str),
                ])?;
            Ok(n > 0)
        })
        .await
    }

    /// Events of one container in `[since, until]`, newest first, at most `limit`, and how
    /// many there are in that range.
    pub async fn lifecycle_events(
        &self,
        container_id: String,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<(Vec<LifecycleEvent>, u64), StoreError> {
        let since = since.map(to_ns).transpose()?.unwrap_or(i64::MIN);
        let until = until.map(to_ns).transpose()?.unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let events = conn
                .prepare_cached(
                    "SELECT at_ns, kind, exit_code, signal, health FROM lifecycle_events
                     WHERE container_id = ?1 AND at_ns >= ?2 AND at_ns <= ?3
                     ORDER BY at_ns DESC LIMIT ?4",
                )?
                .query_map(params![container_id, since, until, limit], event_from_row)?
                .filter_map(Result::transpose)
                .collect::<Result<Vec<_>, _>>()?;
            let total: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM lifecycle_events
                     WHERE container_id = ?1 AND at_ns >= ?2 AND at_ns <= ?3",
                )?
                .query_row(params![container_id, since, until], |r| r.get(0))?;
            Ok((events, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    /// The id and name of the most recent container with events under this name or id
    /// prefix (at least 4 hex digits), for containers Docker no longer has.
    pub async fn find_lifecycle_container(
        &self,
        id_or_name: String,
    ) -> Result<Option<(String, String)>, StoreError> {
        self.with_conn(move |conn| {
            let hex = id_or_name.len() >= 4 && id_or_name.bytes().all(|b| b.is_ascii_hexdigit());
            let upper = format!("{id_or_name}g");
            Ok(conn
                .prepare_cached(
                    "SELECT container_id, container_name FROM lifecycle_events
                     WHERE container_name = ?1 OR (?2 AND container_id >= ?1 AND container_id < ?3)
                     ORDER BY at_ns DESC LIMIT 1",
                )?
                .query_row(params![id_or_name, hex, upper], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?)
        })
        .await
    }

    /// When the newest stored event of any container happened: where a reconnecting
    /// watcher asks Docker to replay from.
    pub async fn latest_lifecycle_event(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with_conn(|conn| {
            let ns: Option<i64> = conn
                .prepare_cached("SELECT MAX(at_ns) FROM lifecycle_events")?
                .query_row([], |r| r.get(0))
                .optional()?
                .flatten();
            Ok(ns.map(from_ns))
        })
        .await
    }

    /// Healthcheck runs of one container since each of `since`, as (runs, passed).
    pub async fn healthcheck_counts(
        &self,
        container_id: String,
        since: Vec<DateTime<Utc>>,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let since = since
            .into_iter()
            .map(to_ns)
            .collect::<Result<Vec<_>, _>>()?;
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(exit_code = 0), 0) FROM healthcheck_runs
                 WHERE container_id = ?1 AND start_ns > ?2",
            )?;
            let mut out = Vec::with_capacity(since.len());
            for ns in since {
                let (n, up): (i64, i64) =
                    stmt.query_row(params![container_id, ns], |r| Ok((r.get(0)?, r.get(1)?)))?;
                out.push((
                    u64::try_from(n).unwrap_or(0),
                    u64::try_from(up).unwrap_or(0),
                ));
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::store::health::tests::run;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0).unwrap() + Duration::seconds(secs)
    }

    fn event(secs: i64, kind: LifecycleKind) -> LifecycleEvent {
        LifecycleEvent {
            at: at(secs),
            kind,
            exit_code: (kind == LifecycleKind::Die).then_some(137),
            signal: None,
            health: (kind == LifecycleKind::Health).then_some(HealthStatus::Unhealthy),
        }
    }

    #[tokio::test]
    async fn events_round_trip_once_and_are_pruned() {
        let store = Store::in_memory().unwrap();
        let (id, name) = ("c1".to_owned(), "api".to_owned());
        for (secs, kind) in [
            (0, LifecycleKind::Start),
            (9, LifecycleKind::Oom),
            (10, LifecycleKind::Die),
            (20, LifecycleKind::Health),
        ] {
            assert!(store
                .insert_lifecycle_event(id.clone(), name.clone(), event(secs, kind))
                .await
                .unwrap());
        }
        // The same event again (a replay) is not stored twice.
        let again = event(10, LifecycleKind::Die);
        assert!(!store
            .insert_lifecycle_event(id.clone(), name.clone(), again)
            .await
            .unwrap());
        let (events, total) = store
            .lifecycle_events(id.clone(), None, None, 10)
            .await
            .unwrap();
        assert_eq!(total, 4);
        assert_eq!(events[0], event(20, LifecycleKind::Health));
        assert_eq!(events[1].exit_code, Some(137));
        assert_eq!(store.latest_lifecycle_event().await.unwrap(), Some(at(20)));
        let found = Some((id.clone(), name.clone()));
        assert_eq!(
            store.find_lifecycle_container("api".into()).await.unwrap(),
            found
        );
        let by_prefix = store.find_lifecycle_container("c1".into()).await.unwrap();
        assert_eq!(by_prefix, None, "a prefix needs 4 hex digits");
        assert_eq!(
            store.find_lifecycle_container("nope".into()).await.unwrap(),
            None
        );
        let (page, total) = store
            .lifecycle_events(id.clone(), Some(at(5)), Some(at(15)), 1)
            .await
            .unwrap();
        assert_eq!((page.len(), total), (1, 2));

        store.prune(at(15)).await.unwrap();
        let (events, _) = store.lifecycle_events(id, None, None, 10).await.unwrap();
        assert_eq!(events, vec![event(20, LifecycleKind::Health)]);
    }

    #[tokio::test]
    async fn healthcheck_counts_per_window() {
        let store = Store::in_memory().unwrap();
        let runs = vec![run(0, 0), run(60, 1), run(120, 0), run(180, 0)];
        store
            .insert_runs("c1".into(), "api".into(), runs)
            .await
            .unwrap();
        let first = runs_start(&store).await;
        let counts = store
            .healthcheck_counts(
                "c1".into(),
                vec![first - Duration::seconds(1), first + Duration::seconds(90)],
            )
            .await
            .unwrap();
        assert_eq!(counts, vec![(4, 3), (2, 2)]);
        let none = store
            .healthcheck_counts("other".into(), vec![first])
            .await
            .unwrap();
        assert_eq!(none, vec![(0, 0)]);
    }

    async fn runs_start(store: &Store) -> DateTime<Utc> {
        let (runs, _) = store.history("c1".into(), None, 10).await.unwrap();
        runs.iter().map(|r| r.start).min().unwrap()
    }
}
