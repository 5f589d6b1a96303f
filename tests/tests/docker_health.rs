//! End to end against the real Docker engine: full healthcheck history beyond
//! Docker's 5 entries, the start-period diagnosis, history across agent restarts
//! and `kill -9`, and container-to-container reachability (docs/incidents.md, "Unhealthy
//! while the app is fine" and "Two containers that cannot talk").

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{require_docker, Agent, Container, Network};

/// Container whose "service" is ready only after `ready_after` seconds, checked every second.
fn slow_starter(ready_after: u32) -> Container {
    let script = format!("sleep {ready_after}; touch /tmp/ready; exec sleep 3600");
    Container::run(
        "slow",
        &[
            "--health-cmd",
            "test -f /tmp/ready",
            "--health-interval",
            "1s",
            "--health-timeout",
            "1s",
            "--health-retries",
            "2",
        ],
        &["sh", "-c", &script],
    )
}

fn runs(body: &serde_json::Value) -> Vec<serde_json::Value> {
    body["runs"].as_array().cloned().unwrap_or_default()
}

fn passed(p: &serde_json::Value) -> bool {
    p["exit_code"] == 0
}

#[tokio::test]
async fn records_more_than_five_runs_and_diagnoses_slow_start() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path(), &[]);
    let c = slow_starter(7);
    let path = format!("/api/containers/{}/health-history?limit=1000", c.name);

    // Wait for several passes after the early failures: well past Docker's 5-entry log.
    let history = agent
        .wait_for(&path, Duration::from_secs(60), |s, b| {
            s == 200 && runs(b).iter().filter(|p| passed(p)).count() >= 4
        })
        .await;
    let list = runs(&history);
    assert!(list.len() > 5, "only {} runs recorded", list.len());
    assert_eq!(history["total"].as_u64(), Some(list.len() as u64));
    // Newest first, and each has start, end, exit code and output.
    for w in list.windows(2) {
        assert!(
            w[0]["start"].as_str() > w[1]["start"].as_str(),
            "not newest first"
        );
    }
    for p in &list {
        for key in ["start", "end", "exit_code", "output"] {
            assert!(p.get(key).is_some(), "run lacks {key}: {p}");
        }
    }
    let oldest_first: Vec<bool> = list.iter().rev().map(passed).collect();
    let first_pass = oldest_first.iter().position(|&p| p).expect("a pass");
    assert!(
        first_pass >= 4,
        "expected ≥ 4 early failures before the first pass, got {oldest_first:?}"
    );
    assert!(
        oldest_first[first_pass..].iter().all(|&p| p),
        "passes after ready: {oldest_first:?}"
    );

    // The diagnosis fires with a start_period that covers the observed ~7 s.
    let (status, detail) = agent.get(&format!("/api/containers/{}", c.name)).await;
    assert_eq!(status, 200);
    let findings = detail["findings"].as_array().unwrap();
    let f = findings
        .iter()
        .find(|f| f["code"] == "healthcheck_start_period_too_short")
        .unwrap_or_else(|| panic!("no start-period finding in {findings:#?}"));
    // Started with `docker run`: the fix is its flags.
    assert_eq!(f["fix"]["snippet_language"], "shell");
    let snippet = f["fix"]["snippet"].as_str().unwrap();
    assert!(
        snippet.starts_with("--health-cmd 'test -f /tmp/ready'"),
        "{snippet}"
    );
    let secs: u64 = snippet
        .split_whitespace()
        .skip_while(|w| *w != "--health-start-period")
        .nth(1)
        .and_then(|v| v.strip_suffix('s'))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no whole-second start_period in {snippet}"));
    assert!(
        (10..=60).contains(&secs),
        "start_period {secs}s does not fit a ~7 s start"
    );
    let ready = detail["health_stats"]["time_to_ready_ms"].as_u64().unwrap();
    assert!((6_000..15_000).contains(&ready), "time to ready {ready} ms");
    assert_eq!(detail["health"], "healthy");
    assert!(detail["summary"].is_null(), "summary fields are flattened");
    assert_eq!(detail["healthcheck"]["interval_ms"], 1000);

    // The overview lists it as a current problem.
    let (_, overview) = agent.get("/api/overview").await;
    let problems = overview["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["container_name"] == c.name.as_str()),
        "{overview:#}"
    );
}

#[tokio::test]
async fn history_survives_restart_and_kill_9() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let c = Container::run(
        "steady",
        &["--health-cmd", "true", "--health-interval", "1s"],
        &["sleep", "3600"],
    );
    let path = format!("/api/containers/{}/health-history?limit=10000", c.name);

    let agent = Agent::start(data.path(), &[]);
    let before = agent
        .wait_for(&path, Duration::from_secs(30), |s, b| {
            s == 200 && runs(b).len() >= 8
        })
        .await;
    let first_start = runs(&before).last().unwrap()["start"].clone();
    agent.kill9();
    let killed_at = chrono::Utc::now();

    // While no agent runs, Docker keeps only 5 results: make sure more than 5 happen.
    tokio::time::sleep(Duration::from_secs(7)).await;

    let restarted_at = chrono::Utc::now();
    let agent = Agent::start(data.path(), &[]);
    let after = agent
        .wait_for(&path, Duration::from_secs(30), |s, b| {
            s == 200 && runs(b).len() > runs(&before).len()
        })
        .await;
    let after_list = runs(&after);
    assert_eq!(
        after_list.last().unwrap()["start"],
        first_start,
        "the oldest run from before kill -9 is still there"
    );
    for p in runs(&before) {
        assert!(
            after_list.iter().any(|q| q["start"] == p["start"]),
            "lost run {p}"
        );
    }
    // Probes that ran while no agent was running can only come from the backfill
    // of Docker's 5-entry log on (re)connect.
    let in_gap = after_list
        .iter()
        .filter_map(|p| p["start"].as_str())
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .filter(|t| *t > killed_at && *t < restarted_at)
        .count();
    assert!(
        in_gap >= 4,
        "only {in_gap} runs from while the agent was down were backfilled"
    );
    let status = agent.stop();
    assert!(status.success(), "graceful stop failed: {status:?}");

    // A third start after a graceful stop still has all of it.
    let agent = Agent::start(data.path(), &[]);
    let (_, again) = agent.get(&path).await;
    assert!(runs(&again).len() >= after_list.len());
}

#[tokio::test]
async fn containers_on_different_networks_share_none() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path(), &[]);
    let net_a = Network::create("proj-a");
    let net_b = Network::create("proj-b");
    let dashboard = Container::run("dashboard", &["--network", &net_a.name], &["sleep", "3600"]);
    let api = Container::run("api", &["--network", &net_b.name], &["sleep", "3600"]);

    let path = format!("/api/connectivity?from={}&to={}", dashboard.name, api.name);
    let report = agent
        .wait_for(&path, Duration::from_secs(20), |s, _| s == 200)
        .await;
    assert_eq!(report["verdict"]["kind"], "no_shared_network", "{report:#}");
    let summary = report["finding"]["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        format!(
            "No shared network: `{}` is on `{}`, `{}` on `{}`",
            api.name, net_b.name, dashboard.name, net_a.name
        )
    );
    assert_eq!(report["verdict"]["from_networks"][0], net_a.name.as_str());

    // The networks list shows who is on which network.
    let (_, nets) = agent.get("/api/networks").await;
    let a = nets
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == net_a.name.as_str())
        .expect("network listed");
    assert_eq!(a["user_defined"], true);
    assert_eq!(a["containers"][0]["name"], dashboard.name.as_str());

    // Connect the dashboard to the API's network: the verdict follows Docker's events.
    support::docker(&["network", "connect", &net_b.name, &dashboard.name]);
    let report = agent
        .wait_for(&path, Duration::from_secs(20), |s, b| {
            s == 200 && b["verdict"]["kind"] == "shared_network"
        })
        .await;
    assert_eq!(report["verdict"]["networks"][0], net_b.name.as_str());
    drop((dashboard, api));
}
