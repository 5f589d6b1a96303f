//! Probe engine cost (BENCHMARKS.md, "Probe engine"): 1,000 loopback HTTP targets probed at once,
//! with wall time and CPU time, plus two helper modes for `scripts/bench-probe.sh`.
//!
//! * `cargo bench -p vantage-agent --bench probe` — a printed report (wall, CPU, per-probe
//!   latency over a few rounds), then criterion's own measurement of one 1,000-target round.
//! * `<bench binary> serve` — the same tiny HTTP server on one port, until killed; prints
//!   `PORT <n>` first.
//! * `<bench binary> phases <url> <runs>` — probes `url` `runs` times in a row and prints
//!   `dns connect tls first_byte total` (ms) per run, to compare with `curl -w`.
//!
//! The servers run on their own runtime whose threads are named `bench-server`, so the
//! probe side's CPU time is the process's minus theirs (per-thread `/proc/self/task/*/stat`).

// Bench code: a failed expect is a failed benchmark with its location.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use criterion::Criterion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vantage_agent::probe::{probe_target, ProbeContext};
use vantage_shared::probe::{ReachVerdict, Target, TargetSource};

const TARGETS: usize = 1000;
const SERVER_THREAD: &str = "bench-server";
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/// Answers every connection with one fixed 200, as a minimal app would.
async fn serve(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut buf = Vec::with_capacity(1024);
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                if buf.len() > 64 * 1024 {
                    return;
                }
            }
            let _ = s.write_all(RESPONSE).await;
            let _ = s.shutdown().await;
        });
    }
}

fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .expect("server runtime")
}

fn probe_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("probe-worker")
        .enable_all()
        .build()
        .expect("probe runtime")
}

fn target(i: usize, port: u16) -> Target {
    Target {
        id: format!("t{i}"),
        name: format!("t{i}"),
        url: format!("http://127.0.0.1:{port}/health"),
        expected_status: None,
        cors_origin: None,
        cors_method: None,
        cors_headers: Vec::new(),
        cors_credentials: Default::default(),
        cors_mode: Default::default(),
        proxy_admin: None,
        firewall: Default::default(),
        interval_seconds: 60,
        source: TargetSource::Config,
    }
}

/// CPU seconds (user + system) of this process's threads, split into (server, everything
/// else). Linux reports them in clock ticks of 1/100 s (USER_HZ).
fn cpu_seconds() -> (f64, f64) {
    let (mut server, mut rest) = (0u64, 0u64);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0);
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: comm may contain spaces, so split at the last ')'.
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map_or("", |(_, c)| c);
        let fields: Vec<&str> = tail.split_whitespace().collect();
        // After the comm: state is field 3, utime 14 and stime 15 (1-based, man proc).
        let ticks = fields
            .get(11)
            .and_then(|u| u.parse::<u64>().ok())
            .unwrap_or(0)
            + fields
                .get(12)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        if comm.starts_with(SERVER_THREAD) {
            server += ticks;
        } else {
            rest += ticks;
        }
    }
    (server as f64 / 100.0, rest as f64 / 100.0)
}

struct Round {
    wall: Duration,
    probe_cpu: f64,
    server_cpu: f64,
    reachable: usize,
    totals_ms: Vec<f64>,
}

/// Probes every target at once and measures the round.
fn round(rt: &tokio::runtime::Runtime, targets: &[Target]) -> Round {
    let ctx = ProbeContext::default();
    let (server_before, rest_before) = cpu_seconds();
    let started = Instant::now();
    let probes = rt.block_on(async {
        let handles: Vec<_> = targets
            .iter()
            .cloned()
            .map(|t| {
                let ctx = ctx.clone();
                tokio::spawn(async move { probe_target(&t, &ctx).await })
            })
            .collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.expect("probe task"));
        }
        out
    });
    let wall = started.elapsed();
    let (server_after, rest_after) = cpu_seconds();
    let mut totals_ms: Vec<f64> = probes
        .iter()
        .filter_map(|p| p.http.as_ref().map(|h| h.timing.total_ms))
        .collect();
    totals_ms.sort_by(f64::total_cmp);
    Round {
        wall,
        probe_cpu: rest_after - rest_before,
        server_cpu: server_after - server_before,
        reachable: probes
            .iter()
            .filter(|p| p.verdict == ReachVerdict::Reachable)
            .count(),
        totals_ms,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    percentile(&v, 0.5)
}

/// Starts one listener per target on the server runtime.
fn start_servers(server_rt: &tokio::runtime::Runtime, n: usize) -> Vec<Target> {
    server_rt.block_on(async {
        let mut targets = Vec::with_capacity(n);
        for i in 0..n {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect(
                "bind (raise the file descriptor limit: ulimit -n 8192; scripts/bench-probe.sh does)",
            );
            let port = listener.local_addr().expect("addr").port();
            tokio::spawn(serve(listener));
            targets.push(target(i, port));
        }
        targets
    })
}

fn report_and_bench() {
    let server_rt = server_runtime();
    let targets = start_servers(&server_rt, TARGETS);
    let rt = probe_runtime();
    // Warm-up: loads the TLS roots once, faults in code, fills the allocator.
    let _ = round(&rt, &targets[..50]);

    const ROUNDS: usize = 5;
    println!(
        "probe_1000_loopback_http: {TARGETS} targets at once, {ROUNDS} rounds, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut rounds = Vec::new();
    for i in 0..ROUNDS {
        let r = round(&rt, &targets);
        println!(
            "  round {}: wall {:>6.1} ms, probe CPU {:>6.0} ms, server CPU {:>5.0} ms, reachable {}/{}, per-probe total p50 {:.1} ms p95 {:.1} ms max {:.1} ms",
            i + 1,
            r.wall.as_secs_f64() * 1000.0,
            r.probe_cpu * 1000.0,
            r.server_cpu * 1000.0,
            r.reachable,
            TARGETS,
            percentile(&r.totals_ms, 0.5),
            percentile(&r.totals_ms, 0.95),
            percentile(&r.totals_ms, 1.0),
        );
        rounds.push(r);
    }
    println!(
        "  median: wall {:.1} ms, probe CPU {:.0} ms ({:.0} µs per probe), server CPU {:.0} ms",
        median(
            rounds
                .iter()
                .map(|r| r.wall.as_secs_f64() * 1000.0)
                .collect()
        ),
        median(rounds.iter().map(|r| r.probe_cpu * 1000.0).collect()),
        median(
            rounds
                .iter()
                .map(|r| r.probe_cpu * 1e6 / TARGETS as f64)
                .collect()
        ),
        median(rounds.iter().map(|r| r.server_cpu * 1000.0).collect()),
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    c.bench_function("probe_1000_loopback_http", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += round(&rt, &targets).wall;
            }
            total
        })
    });
    c.final_summary();
}

fn serve_forever() {
    let rt = server_runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("PORT {}", listener.local_addr().expect("addr").port());
        serve(listener).await;
    });
}

fn phases(url: &str, runs: usize) {
    let rt = probe_runtime();
    let ctx = ProbeContext::default();
    let mut t = target(0, 0);
    t.url = url.to_owned();
    // One unmeasured run: loads the TLS roots and warms caches, as curl's process start is
    // not counted in its own -w figures either.
    let _ = rt.block_on(probe_target(&t, &ctx));
    println!("# dns_ms connect_ms tls_ms first_byte_ms total_ms");
    for _ in 0..runs {
        let p = rt.block_on(probe_target(&t, &ctx));
        match p.http {
            Some(h) => println!(
                "{:.3} {:.3} {:.3} {:.3} {:.3}",
                h.timing.dns_ms,
                h.timing.connect_ms,
                h.timing.tls_ms,
                h.timing.first_byte_ms,
                h.timing.total_ms
            ),
            None => {
                eprintln!("probe failed: {}", p.summary);
                std::process::exit(1);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve_forever(),
        Some("phases") => {
            let url = args.get(1).expect("usage: phases <url> <runs>");
            let runs = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20);
            phases(url, runs);
        }
        _ => report_and_bench(),
    }
}
