//! History query time for one container with 1 million stored runs (BENCHMARKS.md,
//! "History query with 1 million stored healthcheck runs"): the page the dashboard asks for,
//! newest first, with its total.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use vantage_agent::store::Store;
use vantage_shared::{HealthStatus, HealthcheckRun};

const RECORDS: i64 = 1_000_000;
const ID: &str = "4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d1234";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date");
    // One run every 2 s: a million runs are ~23 days of one container.
    rt.block_on(async {
        for chunk in 0..(RECORDS / 100_000) {
            let runs: Vec<HealthcheckRun> = (chunk * 100_000..(chunk + 1) * 100_000)
                .map(|i| {
                    let start = t0 + chrono::Duration::seconds(i * 2);
                    HealthcheckRun {
                        start,
                        end: start + chrono::Duration::milliseconds(40),
                        duration_ms: 40,
                        exit_code: i64::from(i % 17 == 0),
                        output: "GET /health 200".into(),
                        status: HealthStatus::Healthy,
                    }
                })
                .collect();
            store
                .insert_runs(ID.into(), "inference".into(), runs)
                .await
                .expect("insert");
        }
    });
    let since = t0 + chrono::Duration::seconds((RECORDS - 3600) * 2);
    let mut g = c.benchmark_group("history_1m");
    g.bench_function("newest_500_with_total", |b| {
        b.iter(|| {
            rt.block_on(store.history(black_box(ID.into()), None, 500))
                .expect("query")
        })
    });
    g.bench_function("last_2h_500", |b| {
        b.iter(|| {
            rt.block_on(store.history(black_box(ID.into()), Some(since), 500))
                .expect("query")
        })
    });
    g.bench_function("insert_5_dupes", |b| {
        // What every inspect does: re-offer Docker's 5-entry log, all already stored.
        let (runs, _) = rt
            .block_on(store.history(ID.into(), None, 5))
            .expect("query");
        b.iter(|| {
            rt.block_on(store.insert_runs(ID.into(), "inference".into(), runs.clone()))
                .expect("insert")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
