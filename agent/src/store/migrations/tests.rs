//! The schema steps against databases as older agents left them: each must open with
//! its rows and end with the same schema as a new database.

use std::path::Path;

use rusqlite::Connection;

use super::*;
use crate::store::health::tests::run;
use crate::store::{from_ns, Store};

type SchemaRow = (String, String, String, Option<String>);

/// `user_version` and every object in `sqlite_master`, text included.
fn schema(path: &Path) -> (i64, Vec<SchemaRow>) {
    let conn = Connection::open(path).unwrap();
    let version = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (version, rows)
}

fn fresh_schema() -> (i64, Vec<SchemaRow>) {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    schema(&dir.path().join("history.sqlite3"))
}

#[test]
fn versions_count_up_from_one() {
    for (i, step) in MIGRATIONS.iter().enumerate() {
        assert_eq!(
            step.version,
            i64::try_from(i).unwrap() + 1,
            "{}",
            step.description
        );
    }
    // Databases in the field carry these numbers: a new step adds 9, never renumbers.
    assert_eq!(SCHEMA_VERSION, 11);
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
    s.insert_runs("a".into(), "a".into(), vec![run(0, 0)])
        .await
        .unwrap();
    assert_eq!(s.history("a".into(), None, 1).await.unwrap().1, 3);
}

#[tokio::test]
async fn a_version_5_database_opens_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    {
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, 5).unwrap();
        conn.execute_batch(
            "INSERT INTO health_probes VALUES ('a', 'web', 1, 2, 0, 'ok', 'healthy');
             INSERT INTO phone_links (code, created_ns, expires_ns, base_url)
                VALUES ('code', 1, 4000000000000000000, 'http://192.0.2.1:8080/');
             INSERT INTO rule_uploads (name, text, loaded_ns) VALUES ('sg.json', '{}', 1);",
        )
        .unwrap();
    }
    assert_eq!(schema(&path).0, 5);
    {
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.count_for("a".into()).await.unwrap(), 1);
        assert_eq!(
            s.find_container("web".into()).await.unwrap(),
            Some(("a".into(), "web".into()))
        );
        assert_eq!(
            s.phone_link("code".into()).await.unwrap(),
            Some((
                "http://192.0.2.1:8080/".into(),
                from_ns(4_000_000_000_000_000_000)
            ))
        );
        assert_eq!(s.rule_uploads().await.unwrap().len(), 1);
        assert!(s.gpu_runs(10).await.unwrap().is_empty());
    }
    assert_eq!(schema(&path), fresh_schema());
}

#[tokio::test]
async fn a_version_3_database_without_base_url_gets_it() {
    // Step 3 as the first agents with phone links ran it, before `base_url`.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut conn = Connection::open(dir.path().join("history.sqlite3")).unwrap();
        migrate_to(&mut conn, 2).unwrap();
        conn.execute_batch(
            "CREATE TABLE targets (id TEXT PRIMARY KEY, json TEXT NOT NULL, created_ns INTEGER NOT NULL);
             CREATE TABLE agent_probes (target_id TEXT PRIMARY KEY, at_ns INTEGER NOT NULL, json TEXT NOT NULL);
             CREATE TABLE device_results (device_id TEXT NOT NULL, target_id TEXT NOT NULL,
                received_ns INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (device_id, target_id));
             CREATE INDEX device_results_by_time ON device_results (received_ns);
             CREATE TABLE phone_links (code TEXT PRIMARY KEY, created_ns INTEGER NOT NULL,
                expires_ns INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
             INSERT INTO phone_links (code, created_ns, expires_ns) VALUES ('abc', 1, 4000000000000000000);
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.phone_link("abc".into()).await.unwrap(),
        Some((String::new(), from_ns(4_000_000_000_000_000_000)))
    );
    s.create_phone_link(
        "def".into(),
        "http://192.0.2.1/".into(),
        from_ns(1),
        from_ns(2),
    )
    .await
    .unwrap();
    drop(s);
    let (version, rows) = schema(&dir.path().join("history.sqlite3"));
    assert_eq!(version, SCHEMA_VERSION);
    let device_results = rows
        .iter()
        .find(|r| r.1 == "device_results")
        .and_then(|r| r.3.clone())
        .unwrap();
    assert!(device_results.contains("owner"), "{device_results}");
}

#[tokio::test]
async fn a_version_6_database_keeps_its_healthcheck_runs_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    {
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO health_probes VALUES ('a', 'web', 1, 2, 0, 'ok', 'healthy'),
                                              ('a', 'web', 3, 4, 1, 'down', 'unhealthy');",
        )
        .unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.count_for("a".into()).await.unwrap(), 2);
    let (runs, total) = s.history("a".into(), None, 10).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(runs[0].output, "down");
    // The renamed triggers still keep the totals.
    s.insert_runs("a".into(), "web".into(), vec![run(0, 0)])
        .await
        .unwrap();
    assert_eq!(s.count_for("a".into()).await.unwrap(), 3);
    assert_eq!(s.prune(from_ns(3)).await.unwrap(), 1);
    assert_eq!(s.count_for("a".into()).await.unwrap(), 2);
    drop(s);
    let (version, rows) = schema(&path);
    assert_eq!(version, SCHEMA_VERSION);
    assert!(
        rows.iter()
            .all(|r| !r.1.contains("health_probes") && !r.1.contains("probe_counts")),
        "old names left: {rows:?}"
    );
    assert_eq!((version, rows), fresh_schema());
}
