//! The history database: every healthcheck probe result, in SQLite (WAL) in the data dir.
//!
//! WAL with `synchronous = NORMAL` keeps every committed transaction across a
//! `kill -9` of the agent (only an OS crash may lose the last ones), which is the
//! durability the history needs without an fsync per probe.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use vantage_shared::gpu::{GpuRun, GpuRunStatus};
use vantage_shared::probe::{AgentProbe, DeviceResult, Target};
use vantage_shared::{HealthProbe, HealthStatus};

/// Docker keeps at most 4096 bytes of probe output; we store no more than that.
pub const MAX_OUTPUT_BYTES: usize = 4096;

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

/// Reads `start_ns, end_ns, exit_code, output, status`.
fn probe_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HealthProbe> {
    let start = from_ns(r.get(0)?);
    let end = from_ns(r.get(1)?);
    let status: String = r.get(4)?;
    Ok(HealthProbe {
        start,
        end,
        duration_ms: u64::try_from((end - start).num_milliseconds()).unwrap_or(0),
        exit_code: r.get(2)?,
        output: r.get(3)?,
        status: HealthStatus::from_docker(&status),
    })
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version < 1 {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS health_probes (
                    container_id   TEXT    NOT NULL,
                    container_name TEXT    NOT NULL,
                    start_ns       INTEGER NOT NULL,
                    end_ns         INTEGER NOT NULL,
                    exit_code      INTEGER NOT NULL,
                    output         TEXT    NOT NULL,
                    status         TEXT    NOT NULL,
                    PRIMARY KEY (container_id, start_ns)
                 ) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS health_probes_by_name ON health_probes (container_name, start_ns);
                 CREATE INDEX IF NOT EXISTS health_probes_by_start ON health_probes (start_ns);
                 PRAGMA user_version = 1;",
            )?;
        }
        if version < 2 {
            // Per-container totals kept by triggers: COUNT(*) over a million rows
            // costs ~90 ms, and every history page reports its total.
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS probe_counts (
                    container_id TEXT PRIMARY KEY,
                    n            INTEGER NOT NULL
                 ) WITHOUT ROWID;
                 DELETE FROM probe_counts;
                 INSERT INTO probe_counts
                    SELECT container_id, COUNT(*) FROM health_probes GROUP BY container_id;
                 CREATE TRIGGER IF NOT EXISTS probe_counts_insert AFTER INSERT ON health_probes BEGIN
                    INSERT INTO probe_counts VALUES (NEW.container_id, 1)
                    ON CONFLICT (container_id) DO UPDATE SET n = n + 1;
                 END;
                 CREATE TRIGGER IF NOT EXISTS probe_counts_delete AFTER DELETE ON health_probes BEGIN
                    UPDATE probe_counts SET n = n - 1 WHERE container_id = OLD.container_id;
                 END;
                 PRAGMA user_version = 2;
                 COMMIT;",
            )?;
        }
        if version < 3 {
            // Reachability (issue 3). Agent probes and device results keep only the
            // latest per target (and per device): the comparison is about "now".
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS targets (
                    id         TEXT PRIMARY KEY,
                    json       TEXT    NOT NULL,
                    created_ns INTEGER NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS agent_probes (
                    target_id TEXT PRIMARY KEY,
                    at_ns     INTEGER NOT NULL,
                    json      TEXT    NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS device_results (
                    device_id   TEXT    NOT NULL,
                    target_id   TEXT    NOT NULL,
                    received_ns INTEGER NOT NULL,
                    json        TEXT    NOT NULL,
                    PRIMARY KEY (device_id, target_id)
                 );
                 CREATE INDEX IF NOT EXISTS device_results_by_time ON device_results (received_ns);
                 CREATE TABLE IF NOT EXISTS phone_links (
                    code       TEXT PRIMARY KEY,
                    created_ns INTEGER NOT NULL,
                    expires_ns INTEGER NOT NULL,
                    revoked    INTEGER NOT NULL DEFAULT 0,
                    base_url   TEXT    NOT NULL DEFAULT ''
                 );
                 PRAGMA user_version = 3;
                 COMMIT;",
            )?;
        }
        if version < 4 {
            // Rules files uploaded in the dashboard (issue 4), kept as the original text.
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS rule_uploads (
                    id        INTEGER PRIMARY KEY AUTOINCREMENT,
                    name      TEXT    NOT NULL,
                    text      TEXT    NOT NULL,
                    loaded_ns INTEGER NOT NULL
                 );
                 PRAGMA user_version = 4;
                 COMMIT;",
            )?;
        }
        if version < 5 {
            // Device results belong to the phone link (or the admin) that posted them, so a
            // link holder can neither overwrite another link's devices nor flood past its
            // own cap. The table held at most the last hour's test data when this came.
            let has_base_url = conn
                .prepare("SELECT 1 FROM pragma_table_info('phone_links') WHERE name = 'base_url'")?
                .exists([])?;
            if !has_base_url {
                conn.execute_batch(
                    "ALTER TABLE phone_links ADD COLUMN base_url TEXT NOT NULL DEFAULT '';",
                )?;
            }
            conn.execute_batch(
                "BEGIN;
                 DROP TABLE IF EXISTS device_results;
                 CREATE TABLE device_results (
                    owner       TEXT    NOT NULL,
                    device_id   TEXT    NOT NULL,
                    target_id   TEXT    NOT NULL,
                    received_ns INTEGER NOT NULL,
                    json        TEXT    NOT NULL,
                    PRIMARY KEY (owner, device_id, target_id)
                 );
                 CREATE INDEX device_results_by_time ON device_results (received_ns);
                 PRAGMA user_version = 5;
                 COMMIT;",
            )?;
        }
        if version < 6 {
            // GPU benchmark runs (issue 5): the whole run record as JSON, with the
            // columns the history list sorts and filters on.
            conn.execute_batch(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS gpu_runs (
                    id         TEXT PRIMARY KEY,
                    started_ns INTEGER NOT NULL,
                    status     TEXT    NOT NULL,
                    json       TEXT    NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS gpu_runs_by_start ON gpu_runs (started_ns);
                 PRAGMA user_version = 6;
                 COMMIT;",
            )?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

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

    /// Stores probes, ignoring those already stored (same container and start time).
    /// Returns the ones that were new, in the order given.
    pub async fn insert_probes(
        &self,
        container_id: String,
        container_name: String,
        probes: Vec<HealthProbe>,
    ) -> Result<Vec<HealthProbe>, StoreError> {
        if probes.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let mut new = Vec::new();
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO health_probes
                     (container_id, container_name, start_ns, end_ns, exit_code, output, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for p in probes {
                    let output = truncate_utf8(&p.output, MAX_OUTPUT_BYTES);
                    let changed = stmt.execute(params![
                        container_id,
                        container_name,
                        to_ns(p.start)?,
                        to_ns(p.end)?,
                        p.exit_code,
                        output,
                        p.status.as_str(),
                    ])?;
                    if changed > 0 {
                        new.push(p);
                    }
                }
            }
            tx.commit()?;
            Ok(new)
        })
        .await
    }

    /// Probes of one container, newest first, and how many match in all.
    pub async fn history(
        &self,
        container_id: String,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<(Vec<HealthProbe>, u64), StoreError> {
        let since_ns = since.map(to_ns).transpose()?.unwrap_or(i64::MIN);
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT start_ns, end_ns, exit_code, output, status FROM health_probes
                 WHERE container_id = ?1 AND start_ns >= ?2
                 ORDER BY start_ns DESC LIMIT ?3",
            )?;
            let probes = stmt
                .query_map(params![container_id, since_ns, limit], probe_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let total: i64 = if since_ns == i64::MIN {
                conn.prepare_cached("SELECT n FROM probe_counts WHERE container_id = ?1")?
                    .query_row(params![container_id], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0)
            } else {
                conn.prepare_cached(
                    "SELECT COUNT(*) FROM health_probes WHERE container_id = ?1 AND start_ns >= ?2",
                )?
                .query_row(params![container_id, since_ns], |r| r.get(0))?
            };
            Ok((probes, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    /// The first `limit` probes of one container at or after `from`, oldest first:
    /// the start of a run, which the newest-first page loses on long-running containers.
    pub async fn history_from(
        &self,
        container_id: String,
        from: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HealthProbe>, StoreError> {
        let from_ns = to_ns(from)?;
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT start_ns, end_ns, exit_code, output, status FROM health_probes
                 WHERE container_id = ?1 AND start_ns >= ?2
                 ORDER BY start_ns ASC LIMIT ?3",
            )?;
            let probes = stmt
                .query_map(params![container_id, from_ns, limit], probe_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(probes)
        })
        .await
    }

    /// The id and name of the most recent container that had this name or id (prefix),
    /// so history stays reachable after the container is gone or Docker is down.
    pub async fn find_container(
        &self,
        id_or_name: String,
    ) -> Result<Option<(String, String)>, StoreError> {
        self.with_conn(move |conn| {
            let by_name = conn
                .prepare_cached(
                    "SELECT container_id, container_name FROM health_probes WHERE container_name = ?1
                     ORDER BY start_ns DESC LIMIT 1",
                )?
                .query_row(params![id_or_name], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if by_name.is_some() {
                return Ok(by_name);
            }
            if id_or_name.len() < 4 || !id_or_name.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(None);
            }
            // Prefix match on the primary key: [prefix, prefix + 'g') covers every hex id.
            let upper = format!("{id_or_name}g");
            Ok(conn
                .prepare_cached(
                    "SELECT container_id, container_name FROM health_probes
                     WHERE container_id >= ?1 AND container_id < ?2 ORDER BY start_ns DESC LIMIT 1",
                )?
                .query_row(params![id_or_name, upper], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await
    }

    /// How many probes are stored for one container (kept by triggers: no scan).
    pub async fn count_for(&self, container_id: String) -> Result<u64, StoreError> {
        self.with_conn(move |conn| {
            let n: Option<i64> = conn
                .prepare_cached("SELECT n FROM probe_counts WHERE container_id = ?1")?
                .query_row(params![container_id], |r| r.get(0))
                .optional()?;
            Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
        })
        .await
    }

    /// How many probes are stored in all.
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.with_conn(|conn| {
            let n: i64 =
                conn.query_row("SELECT COALESCE(SUM(n), 0) FROM probe_counts", [], |r| {
                    r.get(0)
                })?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    /// Deletes probes that started before `before`, device results received before it
    /// and phone links that expired before it; returns how many probes.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before_ns = to_ns(before)?;
        self.with_conn(move |conn| {
            let n = conn.execute(
                "DELETE FROM health_probes WHERE start_ns < ?1",
                params![before_ns],
            )?;
            conn.execute(
                "DELETE FROM device_results WHERE received_ns < ?1",
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

    // -----------------------------------------------------------------------------------------
    // Reachability: dashboard targets, latest agent probes, device results, phone links.
    // -----------------------------------------------------------------------------------------

    /// Targets added in the dashboard, oldest first.
    pub async fn targets(&self) -> Result<Vec<Target>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached("SELECT json FROM targets ORDER BY created_ns")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for json in rows {
                out.push(serde_json::from_str(&json?)?);
            }
            Ok(out)
        })
        .await
    }

    /// Adds a target; false when one with that id exists.
    pub async fn insert_target(&self, target: Target) -> Result<bool, StoreError> {
        let json = serde_json::to_string(&target)?;
        let now = to_ns(Utc::now())?;
        self.with_conn(move |conn| {
            let n = conn.execute(
                "INSERT OR IGNORE INTO targets (id, json, created_ns) VALUES (?1, ?2, ?3)",
                params![target.id, json, now],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Removes a dashboard target with its results; false when there was none.
    pub async fn delete_target(&self, id: String) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute("DELETE FROM targets WHERE id = ?1", params![id])?;
            tx.execute("DELETE FROM agent_probes WHERE target_id = ?1", params![id])?;
            tx.execute(
                "DELETE FROM device_results WHERE target_id = ?1",
                params![id],
            )?;
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }

    /// Keeps the newest agent probe of a target.
    pub async fn save_agent_probe(&self, probe: &AgentProbe) -> Result<(), StoreError> {
        let json = serde_json::to_string(probe)?;
        let at = to_ns(probe.at)?;
        let id = probe.target_id.clone();
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO agent_probes (target_id, at_ns, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT (target_id) DO UPDATE SET at_ns = ?2, json = ?3",
                params![id, at, json],
            )?;
            Ok(())
        })
        .await
    }

    /// The newest agent probe of one target.
    pub async fn agent_probe(&self, target_id: String) -> Result<Option<AgentProbe>, StoreError> {
        self.with_conn(move |conn| {
            let json: Option<String> = conn
                .prepare_cached("SELECT json FROM agent_probes WHERE target_id = ?1")?
                .query_row(params![target_id], |r| r.get(0))
                .optional()?;
            Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
        })
        .await
    }

    /// The newest agent probe of every target.
    pub async fn agent_probes(&self) -> Result<HashMap<String, AgentProbe>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached("SELECT target_id, json FROM agent_probes")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = HashMap::new();
            for row in rows {
                let (id, json) = row?;
                out.insert(id, serde_json::from_str(&json)?);
            }
            Ok(out)
        })
        .await
    }

    /// Records a device's results for `owner` (a phone link's code, or `admin`), replacing
    /// its previous result per target. Refuses (returns false) a device that would be the
    /// owner's `max_devices + 1`-th; keeps at most `max_rows` rows in all, oldest dropped.
    pub async fn save_device_results(
        &self,
        owner: String,
        results: Vec<DeviceResult>,
        max_devices: usize,
        max_rows: usize,
    ) -> Result<bool, StoreError> {
        let Some(first) = results.first() else {
            return Ok(true);
        };
        let device = first.device_id.clone();
        let mut rows = Vec::with_capacity(results.len());
        for r in &results {
            rows.push((
                r.probe.target_id.clone(),
                to_ns(r.received_at)?,
                serde_json::to_string(r)?,
            ));
        }
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let known: bool = tx
                .prepare_cached("SELECT 1 FROM device_results WHERE owner = ?1 AND device_id = ?2")?
                .exists(params![owner, device])?;
            if !known {
                let devices: i64 = tx.query_row(
                    "SELECT COUNT(DISTINCT device_id) FROM device_results WHERE owner = ?1",
                    params![owner],
                    |r| r.get(0),
                )?;
                if usize::try_from(devices).unwrap_or(usize::MAX) >= max_devices {
                    return Ok(false);
                }
            }
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO device_results (owner, device_id, target_id, received_ns, json)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (owner, device_id, target_id)
                     DO UPDATE SET received_ns = ?4, json = ?5",
                )?;
                for (target, at, json) in rows {
                    stmt.execute(params![owner, device, target, at, json])?;
                }
            }
            tx.execute(
                "DELETE FROM device_results WHERE rowid IN (
                    SELECT rowid FROM device_results ORDER BY received_ns DESC LIMIT -1 OFFSET ?1)",
                params![i64::try_from(max_rows).unwrap_or(i64::MAX)],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// The latest result of every device per target, newest device first, at most
    /// `per_target` devices per target.
    pub async fn device_results(
        &self,
        per_target: usize,
    ) -> Result<HashMap<String, Vec<DeviceResult>>, StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT target_id, json FROM device_results ORDER BY received_ns DESC",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out: HashMap<String, Vec<DeviceResult>> = HashMap::new();
            for row in rows {
                let (id, json) = row?;
                let list = out.entry(id).or_default();
                if list.len() < per_target {
                    list.push(serde_json::from_str(&json)?);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Stores a new link; `base_url` is what the phone opens, kept so the QR code stays
    /// right when the dashboard is reloaded from another address.
    pub async fn create_phone_link(
        &self,
        code: String,
        base_url: String,
        created: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (c, e) = (to_ns(created)?, to_ns(expires)?);
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO phone_links (code, created_ns, expires_ns, base_url)
                 VALUES (?1, ?2, ?3, ?4)",
                params![code, c, e, base_url],
            )?;
            Ok(())
        })
        .await
    }

    /// A phone link's (base URL, expires), unless unknown or revoked.
    pub async fn phone_link(
        &self,
        code: String,
    ) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        self.with_conn(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT base_url, expires_ns FROM phone_links WHERE code = ?1 AND revoked = 0",
                )?
                .query_row(params![code], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()?;
            Ok(row.map(|(b, e)| (b, from_ns(e))))
        })
        .await
    }

    /// Links not yet expired or revoked: (code, base URL, created, expires), newest first.
    pub async fn active_phone_links(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String, DateTime<Utc>, DateTime<Utc>)>, StoreError> {
        let now = to_ns(now)?;
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT code, base_url, created_ns, expires_ns FROM phone_links
                 WHERE revoked = 0 AND expires_ns > ?1 ORDER BY created_ns DESC",
            )?;
            let rows = stmt.query_map(params![now], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    from_ns(r.get(2)?),
                    from_ns(r.get(3)?),
                ))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Rules uploads: (id, name, text, loaded at), oldest first.
    pub async fn rule_uploads(
        &self,
    ) -> Result<Vec<(i64, String, String, DateTime<Utc>)>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, name, text, loaded_ns FROM rule_uploads ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, from_ns(r.get(3)?)))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Stores an upload; returns its id.
    pub async fn insert_rule_upload(
        &self,
        name: String,
        text: String,
        loaded_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = to_ns(loaded_at)?;
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO rule_uploads (name, text, loaded_ns) VALUES (?1, ?2, ?3)",
                params![name, text, at],
            )?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    /// Deletes an upload; false when there was none.
    pub async fn delete_rule_upload(&self, id: i64) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            Ok(conn.execute("DELETE FROM rule_uploads WHERE id = ?1", params![id])? > 0)
        })
        .await
    }

    /// Revokes a link; false when it did not exist.
    /// Inserts or replaces a GPU benchmark run.
    pub async fn save_gpu_run(&self, run: &GpuRun) -> Result<(), StoreError> {
        let json = serde_json::to_string(run)?;
        let (id, started, status) = (
            run.id.clone(),
            to_ns(run.started_at)?,
            serde_json::to_value(run.status)?
                .as_str()
                .unwrap_or("unknown")
                .to_owned(),
        );
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO gpu_runs (id, started_ns, status, json) VALUES (?1, ?2, ?3, ?4)",
                params![id, started, status, json],
            )?;
            Ok(())
        })
        .await
    }

    /// One GPU run by id.
    pub async fn gpu_run(&self, id: String) -> Result<Option<GpuRun>, StoreError> {
        let json: Option<String> = self
            .with_conn(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT json FROM gpu_runs WHERE id = ?1")?
                    .query_row(params![id], |r| r.get(0))
                    .optional()?)
            })
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(StoreError::from))
            .transpose()
    }

    /// The newest `limit` GPU runs, newest first. A row that no longer parses (written
    /// by another version) is skipped rather than failing the whole list.
    pub async fn gpu_runs(&self, limit: u32) -> Result<Vec<GpuRun>, StoreError> {
        let rows: Vec<String> = self
            .with_conn(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT json FROM gpu_runs ORDER BY started_ns DESC, id DESC LIMIT ?1",
                )?;
                let rows = stmt
                    .query_map(params![limit], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(rows)
            })
            .await?;
        Ok(rows
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect())
    }

    /// Marks runs left `running` by an agent that stopped as `interrupted`.
    pub async fn interrupt_gpu_runs(&self) -> Result<u64, StoreError> {
        let running = self
            .with_conn(|conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT json FROM gpu_runs WHERE status = 'running'")?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        let mut n = 0;
        for json in running {
            let Ok(mut run) = serde_json::from_str::<GpuRun>(&json) else {
                continue;
            };
            run.status = GpuRunStatus::Interrupted;
            run.error = Some("the agent stopped while this run was going".into());
            self.save_gpu_run(&run).await?;
            n += 1;
        }
        Ok(n)
    }

    pub async fn revoke_phone_link(&self, code: String) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            let n = conn.execute(
                "UPDATE phone_links SET revoked = 1 WHERE code = ?1",
                params![code],
            )?;
            Ok(n > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(offset_s: i64, exit_code: i64) -> HealthProbe {
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
            + chrono::Duration::seconds(offset_s);
        HealthProbe {
            start,
            end: start + chrono::Duration::milliseconds(25),
            duration_ms: 25,
            exit_code,
            output: "out".into(),
            status: HealthStatus::Starting,
        }
    }

    #[tokio::test]
    async fn insert_dedupes_by_start_and_queries_newest_first() {
        let s = Store::in_memory().unwrap();
        let new = s
            .insert_probes(
                "abc123".into(),
                "web".into(),
                vec![probe(0, 1), probe(1, 0)],
            )
            .await
            .unwrap();
        assert_eq!(new.len(), 2);
        // Docker's log overlaps with what we already have: only the new one is new.
        let new = s
            .insert_probes(
                "abc123".into(),
                "web".into(),
                vec![probe(1, 0), probe(2, 0)],
            )
            .await
            .unwrap();
        assert_eq!(new, vec![probe(2, 0)]);
        let (h, total) = s.history("abc123".into(), None, 2).await.unwrap();
        assert_eq!(total, 3);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].start, probe(2, 0).start);
        assert_eq!(h[0].duration_ms, 25);
        let (h, total) = s
            .history("abc123".into(), Some(probe(1, 0).start), 10)
            .await
            .unwrap();
        assert_eq!((h.len(), total), (2, 2));
        assert_eq!(s.count().await.unwrap(), 3);
        assert_eq!(s.count_for("abc123".into()).await.unwrap(), 3);
        assert_eq!(s.count_for("other".into()).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn history_from_reads_the_start_of_a_run_oldest_first() {
        let s = Store::in_memory().unwrap();
        let probes: Vec<_> = (0..10).map(|i| probe(i, 0)).collect();
        s.insert_probes("a".into(), "a".into(), probes)
            .await
            .unwrap();
        let early = s
            .history_from("a".into(), probe(3, 0).start, 2)
            .await
            .unwrap();
        assert_eq!(early, vec![probe(3, 0), probe(4, 0)]);
    }

    #[tokio::test]
    async fn finds_containers_by_name_and_id_prefix() {
        let s = Store::in_memory().unwrap();
        s.insert_probes("abc123def".into(), "web".into(), vec![probe(0, 0)])
            .await
            .unwrap();
        assert_eq!(
            s.find_container("web".into()).await.unwrap(),
            Some(("abc123def".into(), "web".into()))
        );
        assert_eq!(
            s.find_container("abc1".into()).await.unwrap(),
            Some(("abc123def".into(), "web".into()))
        );
        assert_eq!(s.find_container("abd".into()).await.unwrap(), None);
        assert_eq!(s.find_container("zzzz".into()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn prune_drops_old_rows() {
        let s = Store::in_memory().unwrap();
        s.insert_probes("a".into(), "a".into(), vec![probe(0, 0), probe(100, 0)])
            .await
            .unwrap();
        assert_eq!(s.prune(probe(50, 0).start).await.unwrap(), 1);
        assert_eq!(s.count().await.unwrap(), 1);
        let total = s.history("a".into(), None, 10).await.unwrap().1;
        assert_eq!(total, 1, "the kept total follows deletes");
    }

    #[tokio::test]
    async fn history_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.insert_probes("a".into(), "a".into(), vec![probe(0, 0)])
                .await
                .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn version_1_databases_get_their_counts() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("history.sqlite3")).unwrap();
            conn.execute_batch(
                "CREATE TABLE health_probes (container_id TEXT NOT NULL, container_name TEXT NOT NULL,
                   start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, exit_code INTEGER NOT NULL,
                   output TEXT NOT NULL, status TEXT NOT NULL,
                   PRIMARY KEY (container_id, start_ns)) WITHOUT ROWID;
                 INSERT INTO health_probes VALUES ('a', 'a', 1, 2, 0, '', 'healthy'),
                                                  ('a', 'a', 3, 4, 0, '', 'healthy');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.count().await.unwrap(), 2);
        s.insert_probes("a".into(), "a".into(), vec![probe(0, 0)])
            .await
            .unwrap();
        assert_eq!(s.history("a".into(), None, 1).await.unwrap().1, 3);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("abc", 10), "abc");
    }
}

#[cfg(test)]
mod reach_tests {
    use super::*;
    use vantage_shared::probe::{BrowserProbe, FetchAttempt, FetchOutcome, ReachVerdict};

    fn result(device: &str, target: &str, at_s: i64) -> DeviceResult {
        let attempt = FetchAttempt {
            outcome: FetchOutcome::Ok,
            status: Some(200),
            elapsed_ms: 5,
            error: None,
        };
        DeviceResult {
            device_id: device.into(),
            client_ip: "203.0.113.7".into(),
            user_agent: "phone".into(),
            received_at: Utc.timestamp_opt(1_700_000_000 + at_s, 0).unwrap(),
            verdict: ReachVerdict::Reachable,
            probe: BrowserProbe {
                target_id: target.into(),
                no_cors: attempt.clone(),
                cors: attempt,
                blocked_by: None,
                timing: None,
            },
            rules: None,
        }
    }

    #[tokio::test]
    async fn device_rows_are_capped_per_owner_and_in_all() {
        let store = Store::in_memory().unwrap();
        let save = |owner: &str, device: &str, at: i64| {
            store.save_device_results(owner.into(), vec![result(device, "t", at)], 2, 3)
        };
        assert!(save("link-a", "d1", 1).await.unwrap());
        assert!(save("link-a", "d2", 2).await.unwrap());
        assert!(
            !save("link-a", "d3", 3).await.unwrap(),
            "third device of one link"
        );
        assert!(
            save("link-a", "d1", 4).await.unwrap(),
            "a known device may report again"
        );
        // Another link's device with the same id does not overwrite link-a's.
        assert!(save("link-b", "d1", 5).await.unwrap());
        let rows = store.device_results(10).await.unwrap();
        assert_eq!(rows["t"].len(), 3);
        // Total cap: the oldest row (link-a d2 at 2) went.
        assert!(save("link-b", "d2", 6).await.unwrap());
        let rows = store.device_results(10).await.unwrap();
        let times: Vec<i64> = rows["t"]
            .iter()
            .map(|r| r.received_at.timestamp() - 1_700_000_000)
            .collect();
        assert_eq!(times, vec![6, 5, 4]);
    }
}
