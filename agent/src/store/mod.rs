//! The history database: every healthcheck run, in SQLite (WAL) in the data dir,
//! with the reachability, rules and GPU records kept beside it.
//!
//! WAL with `synchronous = NORMAL` keeps every committed transaction across a
//! `kill -9` of the agent (only an OS crash may lose the last ones), which is the
//! durability the history needs without an fsync per run.
//!
//! This module holds the handle (one connection, used from the blocking pool) and
//! pruning; each table group has its own module with its `impl Store` block, and
//! `migrations` holds the schema steps.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection};

mod alerts;
mod devices;
mod gpu_runs;
pub use alerts::Due;
mod health;
mod lifecycle;
mod migrations;
mod phone_links;
mod rule_uploads;
mod target_results;
mod targets;

pub use health::{truncate_utf8, MAX_OUTPUT_BYTES};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("history database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("history database task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("history database lock poisoned")]
    Poisoned,
    #[error("timestamp out of range")]
    Timestamp,
    #[error("history database: stored JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Cheap to clone; all access goes through one connection on the blocking pool.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

fn to_ns(t: DateTime<Utc>) -> Result<i64, StoreError> {
    t.timestamp_nanos_opt().ok_or(StoreError::Timestamp)
}

fn from_ns(ns: i64) -> DateTime<Utc> {
    Utc.timestamp_nanos(ns)
}

impl Store {
    /// Opens (creating if needed) `history.sqlite3` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(data_dir.join("history.sqlite3"))?;
        Self::init(conn)
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool: SQLite calls block, and
    /// must not stall the async workers.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StoreError::Poisoned)?;
            f(&mut guard)
        })
        .await?
    }

    /// Deletes runs that started before `before`, device results, target results and
    /// lifecycle events from before it and phone links that expired before it; returns how many runs.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before_ns = to_ns(before)?;
        self.with_conn(move |conn| {
            let n = conn.execute(
                "DELETE FROM healthcheck_runs WHERE start_ns < ?1",
                params![before_ns],
            )?;
            conn.execute(
                "DELETE FROM device_results WHERE received_ns < ?1",
                params![before_ns],
            )?;
            conn.execute(
                "DELETE FROM target_results WHERE at_ns < ?1",
                params![before_ns],
            )?;
            conn.execute(
                "DELETE FROM lifecycle_events WHERE at_ns < ?1",
                params![before_ns],
            )?;
            // Pending notifications stay until they are sent or given up.
            conn.execute(
                "DELETE FROM notification_attempts WHERE notification_id IN
                 (SELECT id FROM notifications WHERE status != 'pending' AND created_ns < ?1)",
                params![before_ns],
            )?;
            conn.execute(
                "DELETE FROM notifications WHERE status != 'pending' AND created_ns < ?1",
                params![before_ns],
            )?;
            conn.execute(
                "DELETE FROM phone_links WHERE expires_ns < ?1",
                params![before_ns],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::health::tests::run;
    use super::*;

    #[tokio::test]
    async fn prune_drops_old_rows() {
        let s = Store::in_memory().unwrap();
        s.insert_runs("a".into(), "a".into(), vec![run(0, 0), run(100, 0)])
            .await
            .unwrap();
        assert_eq!(s.prune(run(50, 0).start).await.unwrap(), 1);
        assert_eq!(s.count().await.unwrap(), 1);
        let total = s.history("a".into(), None, 10).await.unwrap().1;
        assert_eq!(total, 1, "the kept total follows deletes");
    }

    #[tokio::test]
    async fn history_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.insert_runs("a".into(), "a".into(), vec![run(0, 0)])
                .await
                .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.count().await.unwrap(), 1);
    }
}
