//! One target's 30-day summary with 10 million stored target results (BENCHMARKS.md,
//! "Target summary with 10 million stored results"): what `GET /api/targets/{id}/summary`
//! does, the query and the arithmetic, against a database shaped like a large fleet's.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use vantage_agent::store::Store;
use vantage_shared::probe::summarize;

/// 232 targets probed every 60 s for 30 days: 10,022,400 results.
const TARGETS: i64 = 232;
const PER_TARGET: i64 = 30 * 24 * 60;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Store::open(dir.path()).expect("schema"));
    let now = Utc
        .with_ymd_and_hms(2026, 12, 6, 12, 0, 0)
        .single()
        .expect("date");
    let start_ns = (now - Duration::days(30))
        .timestamp_nanos_opt()
        .expect("ns");
    // Written straight into the file the store made: ten million single-row inserts
    // through the API would take most of an hour and measure nothing of interest.
    let conn = rusqlite::Connection::open(dir.path().join("history.sqlite3")).expect("open");
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
        .expect("pragmas");
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 * ?2 - 1)
         INSERT INTO target_results (target_id, at_ns, verdict, up, dns_ms, connect_ms,
           tls_ms, first_byte_ms, total_ms, http_status, body_bytes, fingerprint,
           cors_allowed, cert_expiry_ns, error, finding)
         SELECT 't' || (i % ?1), ?3 + (i / ?1) * 60000000000 + (i % ?1) * 1000000,
           CASE WHEN i % 997 = 0 THEN 'timed_out' ELSE 'reachable' END,
           i % 997 != 0, 1.2, 2.5, 8.0, 20.0 + (i % 50), 30.0 + (i % 70), 200, 512, NULL,
           1, NULL, NULL, NULL
         FROM n",
        rusqlite::params![TARGETS, PER_TARGET, start_ns],
    )
    .expect("fill");
    drop(conn);
    let store = Store::open(dir.path()).expect("store");
    let mut g = c.benchmark_group("target_history_10m");
    g.sample_size(20);
    g.bench_function("summary_30d_one_target", |b| {
        b.iter(|| {
            let (rows, _) = rt
                .block_on(store.target_results(
                    black_box("t7".into()),
                    Some(now - Duration::days(30)),
                    Some(now),
                    600_000,
                ))
                .expect("query");
            summarize("t7", &rows, now)
        })
    });
    g.bench_function("history_newest_500", |b| {
        b.iter(|| {
            rt.block_on(store.target_results(black_box("t7".into()), None, None, 500))
                .expect("query")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
