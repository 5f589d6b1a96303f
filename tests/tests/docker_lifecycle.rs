//! A container's stored life against the real Docker engine: an OOM-killed container in a
//! restart loop is diagnosed (restarts counted, exit 137 named as the OOM killer), health
//! changes are kept, the healthcheck uptime adds up, and events that happen while the agent
//! is down are still recorded when it comes back. `vantage check` judges the same
//! containers, from the host and through the agent.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{agent_binary, docker, oom_looping, require_docker, Agent, Container};

fn events(body: &Value) -> Vec<Value> {
    body["events"].as_array().cloned().unwrap_or_default()
}

fn has(body: &Value, kind: &str) -> bool {
    events(body).iter().any(|e| e["kind"] == kind)
}

fn codes(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_oom_restart_loop_is_diagnosed_with_its_exit_code() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path(), &[]);
    let c = oom_looping("oom");
    let summary_path = format!("/api/containers/{}/summary", c.name);
    let summary = agent
        .wait_for(&summary_path, Duration::from_secs(60), |s, b| {
            s == 200 && codes(&b["findings"]).contains(&"container_restart_loop".to_owned())
        })
        .await;
    assert!(
        summary["restarts_24h"].as_u64().unwrap() >= 3,
        "{summary:#}"
    );
    let exit = &summary["last_exit"];
    assert_eq!(exit["exit_code"], 137, "{summary:#}");
    assert_eq!(exit["oom_killed"], true, "{summary:#}");
    let text = summary["findings"][0]["summary"].as_str().unwrap();
    assert!(
        text.contains("code 137: killed by the kernel's out-of-memory killer"),
        "{text}"
    );
    assert_eq!(
        summary["uptime"],
        Value::Array(vec![]),
        "no healthcheck, no uptime"
    );

    // The timeline has the kernel's OOM kill, the exit with its code and the restarts.
    let timeline = agent
        .get(&format!("/api/containers/{}/events?limit=100", c.name))
        .await
        .1;
    assert_eq!(timeline["container_id"], c.id.as_str());
    assert!(
        has(&timeline, "oom") && has(&timeline, "start"),
        "{timeline:#}"
    );
    assert!(
        events(&timeline)
            .iter()
            .any(|e| e["kind"] == "die" && e["exit_code"] == 137),
        "{timeline:#}"
    );
    // The container's own diagnoses carry the loop, in place of "restarting".
    let (_, detail) = agent.get(&format!("/api/containers/{}", c.name)).await;
    let found = codes(&detail["findings"]);
    assert!(
        found.contains(&"container_restart_loop".to_owned()),
        "{found:?}"
    );
    assert!(
        !found.contains(&"container_restarting".to_owned()),
        "{found:?}"
    );
    let (_, overview) = agent.get("/api/overview").await;
    assert!(
        overview["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["finding"]["code"] == "container_restart_loop"),
        "{overview:#}"
    );
}

/// Health changes are kept as events and the healthcheck uptime counts the runs; a stop
/// while the agent is down is recorded once it is back (Docker replays its recent events).
#[tokio::test]
async fn health_changes_uptime_and_events_from_while_the_agent_was_down() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let c = Container::run(
        "sick",
        &[
            "--health-cmd",
            "test -f /tmp/ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &["sh", "-c", "sleep 4; touch /tmp/ok; exec sleep 3600"],
    );
    let agent = Agent::start(data.path(), &[]);
    let events_path = format!("/api/containers/{}/events", c.name);
    let timeline = agent
        .wait_for(&events_path, Duration::from_secs(40), |s, b| {
            s == 200
                && events(b).iter().any(|e| e["health"] == "healthy")
                && events(b).iter().any(|e| e["health"] == "unhealthy")
        })
        .await;
    // Newest first: healthy after unhealthy.
    let newest_health = events(&timeline)
        .into_iter()
        .find(|e| e["kind"] == "health")
        .map(|e| e["health"].clone());
    assert_eq!(newest_health, Some(Value::from("healthy")), "{timeline:#}");
    let summary_path = format!("/api/containers/{}/summary", c.name);
    let summary = agent
        .wait_for(&summary_path, Duration::from_secs(10), |s, b| {
            s == 200 && b["uptime"][0]["up"].as_u64() >= Some(1)
        })
        .await;
    let day = &summary["uptime"][0];
    assert_eq!(day["window"], "24h", "{summary:#}");
    let (checks, up) = (day["checks"].as_u64().unwrap(), day["up"].as_u64().unwrap());
    assert!(checks > up && up >= 1, "failures then passes: {summary:#}");

    agent.kill9();
    docker(&["stop", "-t", "1", &c.name]);
    let agent = Agent::start(data.path(), &[]);
    let timeline = agent
        .wait_for(&events_path, Duration::from_secs(30), |s, b| {
            s == 200 && has(b, "die") && has(b, "stop")
        })
        .await;
    let before = events(&timeline).len();
    // Served from the database: it answers for a container Docker no longer has.
    drop(c);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, gone) = agent.get(&events_path).await;
    assert_eq!(status, 200, "{gone:#}");
    assert!(events(&gone).len() >= before, "{gone:#}");
    assert!(has(&gone, "destroy"), "{gone:#}");
}

/// `vantage check` with real containers: a healthy one passes, an OOM-looping one fails (as
/// restarting from the host; as a restart loop with its exit code through the agent, which
/// has the stored events), a named container that does not exist fails; exit code 1.
#[tokio::test]
async fn vantage_check_judges_real_containers() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path(), &[]);
    let healthy = Container::run(
        "ok",
        &["--health-cmd", "true", "--health-interval", "1s"],
        &["sleep", "3600"],
    );
    let looping = oom_looping("oomck");
    agent
        .wait_for(
            &format!("/api/containers/{}", healthy.name),
            Duration::from_secs(30),
            |s, b| s == 200 && b["health"] == "healthy",
        )
        .await;
    agent
        .wait_for(
            &format!("/api/containers/{}/summary", looping.name),
            Duration::from_secs(60),
            |s, b| s == 200 && b["restarts_24h"].as_u64() >= Some(3),
        )
        .await;
    let config = data.path().join("check.toml");
    std::fs::write(
        &config,
        format!(
            "[checks]\ncontainers = [\"{}\", \"{}\", \"no-such-container\"]\n",
            healthy.name, looping.name
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(agent_binary())
            .args(["check", "--format", "json", "--config"])
            .arg(&config)
            .args(extra)
            .env("VANTAGE_TOKEN", &agent.token)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report)
    };
    let status_of = |report: &Value, name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in {report:#}"))
    };
    for extra in [&[][..], &["--agent", agent.base.as_str()][..]] {
        let (code, report) = run(extra);
        assert_eq!(code, Some(1), "{report:#}");
        assert_eq!(
            status_of(&report, &healthy.name)["status"],
            "pass",
            "{report:#}"
        );
        assert_eq!(status_of(&report, "no-such-container")["status"], "fail");
        let looping_check = status_of(&report, &looping.name);
        assert_eq!(looping_check["status"], "fail", "{report:#}");
        if !extra.is_empty() {
            // The agent has the events: the loop and the OOM kill are named.
            let text = looping_check["summary"].as_str().unwrap();
            assert!(
                text.contains("restart loop") && text.contains("out-of-memory killer"),
                "{text}"
            );
        }
    }
}
