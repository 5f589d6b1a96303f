//! The history database's schema, as an ordered table of steps. A database records the
//! last step it has in SQLite's `user_version`; opening it applies every later step, each
//! in its own transaction together with the new `user_version`.
//!
//! Steps are never edited once released: databases in the field were made by them, and
//! a change to the schema is a new step at the end. The statements keep their exact
//! text (indentation included), because SQLite stores it in `sqlite_master` and a new
//! database should read the same as one upgraded step by step.

use rusqlite::Connection;

/// One schema step.
pub(super) struct Migration {
    /// The `user_version` the database has once this step is applied.
    pub(super) version: i64,
    pub(super) description: &'static str,
    /// A change that depends on what the database already holds, which plain SQL cannot
    /// express; runs in the step's transaction before `sql`.
    pub(super) prepare: Option<fn(&Connection) -> rusqlite::Result<()>>,
    pub(super) sql: &'static str,
}

/// Every step, oldest first; versions count up from 1 without gaps.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "healthcheck probes, keyed by container and start time",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS health_probes (
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
                 CREATE INDEX IF NOT EXISTS health_probes_by_start ON health_probes (start_ns);",
    },
    Migration {
        version: 2,
        // COUNT(*) over a million rows costs ~90 ms, and every history page reports
        // its total.
        description: "per-container probe totals, kept by triggers",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS probe_counts (
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
                 END;",
    },
    Migration {
        version: 3,
        // Agent probes and device results keep only the latest per target (and per
        // device): the comparison is about "now". Databases made before `base_url` was
        // added here lack it; step 5 adds it to them.
        description: "reachability: targets, agent probes, device results, phone links",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS targets (
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
                 );",
    },
    Migration {
        version: 4,
        description: "rules files uploaded in the dashboard, as the original text",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS rule_uploads (
                    id        INTEGER PRIMARY KEY AUTOINCREMENT,
                    name      TEXT    NOT NULL,
                    text      TEXT    NOT NULL,
                    loaded_ns INTEGER NOT NULL
                 );",
    },
    Migration {
        version: 5,
        // Device results belong to the phone link (or the admin) that posted them, so a
        // link holder can neither overwrite another link's devices nor flood past its
        // own cap. The table held at most the last hour's test data when this came, so
        // it is dropped rather than converted.
        description: "device results owned by the link that posted them",
        prepare: Some(add_phone_link_base_url),
        sql: "DROP TABLE IF EXISTS device_results;
                 CREATE TABLE device_results (
                    owner       TEXT    NOT NULL,
                    device_id   TEXT    NOT NULL,
                    target_id   TEXT    NOT NULL,
                    received_ns INTEGER NOT NULL,
                    json        TEXT    NOT NULL,
                    PRIMARY KEY (owner, device_id, target_id)
                 );
                 CREATE INDEX device_results_by_time ON device_results (received_ns);",
    },
    Migration {
        version: 6,
        description: "GPU benchmark runs",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS gpu_runs (
                    id         TEXT PRIMARY KEY,
                    started_ns INTEGER NOT NULL,
                    status     TEXT    NOT NULL,
                    json       TEXT    NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS gpu_runs_by_start ON gpu_runs (started_ns);",
    },
    Migration {
        version: 7,
        // "Probe" now means only the agent's network probe; a healthcheck execution is a
        // run. Renaming keeps every row and takes no time; the indexes and triggers are
        // made again under the new names.
        description: "healthcheck history renamed to healthcheck runs",
        prepare: None,
        sql: "DROP TRIGGER IF EXISTS probe_counts_insert;
                 DROP TRIGGER IF EXISTS probe_counts_delete;
                 DROP INDEX IF EXISTS health_probes_by_name;
                 DROP INDEX IF EXISTS health_probes_by_start;
                 ALTER TABLE health_probes RENAME TO healthcheck_runs;
                 ALTER TABLE probe_counts RENAME TO healthcheck_run_counts;
                 CREATE INDEX healthcheck_runs_by_name ON healthcheck_runs (container_name, start_ns);
                 CREATE INDEX healthcheck_runs_by_start ON healthcheck_runs (start_ns);
                 CREATE TRIGGER healthcheck_run_counts_insert AFTER INSERT ON healthcheck_runs BEGIN
                    INSERT INTO healthcheck_run_counts VALUES (NEW.container_id, 1)
                    ON CONFLICT (container_id) DO UPDATE SET n = n + 1;
                 END;
                 CREATE TRIGGER healthcheck_run_counts_delete AFTER DELETE ON healthcheck_runs BEGIN
                    UPDATE healthcheck_run_counts SET n = n - 1 WHERE container_id = OLD.container_id;
                 END;",
    },
    Migration {
        version: 8,
        // One row per probe of a target, for its history, uptime and latency. The
        // columns are what the summary reads, so it never parses JSON.
        description: "target results: every probe of a target over time",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS target_results (
                    target_id      TEXT    NOT NULL,
                    at_ns          INTEGER NOT NULL,
                    verdict        TEXT    NOT NULL,
                    up             INTEGER NOT NULL,
                    dns_ms         REAL,
                    connect_ms     REAL,
                    tls_ms         REAL,
                    first_byte_ms  REAL,
                    total_ms       REAL,
                    http_status    INTEGER,
                    body_bytes     INTEGER,
                    fingerprint    TEXT,
                    cors_allowed   INTEGER,
                    cert_expiry_ns INTEGER,
                    error          TEXT,
                    finding        TEXT,
                    PRIMARY KEY (target_id, at_ns)
                 ) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS target_results_by_time ON target_results (at_ns);",
    },
    Migration {
        version: 9,
        // Docker's event stream, kept: it forgets what happened to a container as soon as
        // it is recreated, and restart loops and OOM kills are read from these rows. The
        // key drops the events a reconnect replays twice.
        description: "container lifecycle events: starts, exits, OOM kills, restarts, health",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS lifecycle_events (
                    container_id   TEXT    NOT NULL,
                    container_name TEXT    NOT NULL,
                    at_ns          INTEGER NOT NULL,
                    kind           TEXT    NOT NULL,
                    exit_code      INTEGER,
                    signal         TEXT,
                    health         TEXT,
                    PRIMARY KEY (container_id, at_ns, kind)
                 ) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS lifecycle_events_by_name ON lifecycle_events (container_name, at_ns);
                 CREATE INDEX IF NOT EXISTS lifecycle_events_by_time ON lifecycle_events (at_ns);",
    },
    Migration {
        version: 10,
        // Alerts outlive a restart: the state per subject (so an open alert is neither
        // forgotten nor sent again) and the outbox with every delivery attempt.
        description: "alerts: state per subject, the notification outbox and its attempts",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS alert_states (
                    subject TEXT PRIMARY KEY,
                    json    TEXT NOT NULL
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS notifications (
                    id         INTEGER PRIMARY KEY AUTOINCREMENT,
                    channel    TEXT    NOT NULL,
                    alert      TEXT    NOT NULL,
                    status     TEXT    NOT NULL,
                    attempts   INTEGER NOT NULL DEFAULT 0,
                    created_ns INTEGER NOT NULL,
                    next_ns    INTEGER,
                    sent_ns    INTEGER,
                    last_error TEXT
                 );
                 CREATE INDEX IF NOT EXISTS notifications_due ON notifications (status, next_ns);
                 CREATE TABLE IF NOT EXISTS notification_attempts (
                    notification_id INTEGER NOT NULL,
                    at_ns           INTEGER NOT NULL,
                    ok              INTEGER NOT NULL,
                    outcome         TEXT    NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS notification_attempts_by_id ON notification_attempts (notification_id, at_ns);",
    },
    Migration {
        version: 11,
        // Channels added on the dashboard, with their secrets: they never leave the agent.
        description: "notification channels added on the dashboard",
        prepare: None,
        sql: "CREATE TABLE IF NOT EXISTS channels (
                    name       TEXT PRIMARY KEY,
                    json       TEXT    NOT NULL,
                    created_ns INTEGER NOT NULL
                 );",
    },
];

/// The version a database has once every step is applied.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Step 5's catch-up for databases whose step 3 predates `phone_links.base_url`.
fn add_phone_link_base_url(conn: &Connection) -> rusqlite::Result<()> {
    let has_base_url = conn
        .prepare("SELECT 1 FROM pragma_table_info('phone_links') WHERE name = 'base_url'")?
        .exists([])?;
    if !has_base_url {
        conn.execute_batch(
            "ALTER TABLE phone_links ADD COLUMN base_url TEXT NOT NULL DEFAULT '';",
        )?;
    }
    Ok(())
}

/// Brings the database up to `SCHEMA_VERSION`.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Applies, in order, every step after the database's `user_version` up to `target`.
/// A database newer than this code (a downgraded agent) is left as it is.
fn migrate_to(conn: &mut Connection, target: i64) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for step in MIGRATIONS
        .iter()
        .filter(|m| m.version > version && m.version <= target)
    {
        tracing::debug!(
            version = step.version,
            "Upgrading the history database: {}",
            step.description
        );
        let tx = conn.transaction()?;
        if let Some(prepare) = step.prepare {
            prepare(&tx)?;
        }
        tx.execute_batch(step.sql)?;
        tx.pragma_update(None, "user_version", step.version)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
