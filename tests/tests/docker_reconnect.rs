//! The Docker daemon goes away and comes back while the agent runs: the agent
//! says so plainly and recovers by itself. Uses a private dockerd so that the
//! machine's main daemon (and other tests) are not disturbed.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Agent, PrivateDockerd};

#[tokio::test]
async fn agent_reports_unavailable_and_recovers_without_restart() {
    let bridge_before = docker0_exists();
    let dockerd = PrivateDockerd::start();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path(), &[("DOCKER_HOST", dockerd.socket.as_str())]);

    let overview = agent
        .wait_for("/api/overview", Duration::from_secs(20), |s, b| {
            s == 200 && b["docker"]["state"] == "connected"
        })
        .await;
    assert_eq!(overview["docker"]["endpoint"], dockerd.socket.as_str());
    assert_eq!(agent.get("/api/containers").await.0, 200);

    dockerd.pause();
    let overview = agent
        .wait_for("/api/overview", Duration::from_secs(20), |_, b| {
            b["docker"]["state"] == "unavailable"
        })
        .await;
    let reason = overview["docker"]["reason"].as_str().unwrap_or_default();
    assert!(
        !reason.is_empty(),
        "unavailable without a reason: {overview:#}"
    );
    let (status, body) = agent.get("/api/containers").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "docker_unavailable");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("docker: unavailable, "),
        "{body}"
    );
    // Liveness is unaffected.
    assert_eq!(agent.get("/api/health").await.0, 200);

    dockerd.resume();
    agent
        .wait_for("/api/overview", Duration::from_secs(30), |s, b| {
            s == 200 && b["docker"]["state"] == "connected"
        })
        .await;
    assert_eq!(agent.get("/api/containers").await.0, 200);
    assert!(agent.log_text().contains("Docker connected"));
    drop(dockerd);
    // Regression: a private daemon with `--bridge=none` once deleted the main daemon's docker0
    // (docs/development.md, "Docker in development and tests").
    assert_eq!(
        docker0_exists(),
        bridge_before,
        "the private dockerd changed the host's docker0 bridge"
    );
}

fn docker0_exists() -> bool {
    std::process::Command::new("ip")
        .args(["link", "show", "docker0"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn agent_starts_without_any_docker() {
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let overview = agent
        .wait_for("/api/overview", Duration::from_secs(10), |_, b| {
            b["docker"]["state"] == "unavailable"
        })
        .await;
    let reason = overview["docker"]["reason"].as_str().unwrap();
    assert!(reason.contains("/nonexistent/docker.sock"), "{reason}");
    let (status, body) = agent.get("/api/containers").await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn sigterm_ends_the_agent_even_with_a_dashboard_listening() {
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let (status, ticket) = agent.post("/api/events/ticket").await;
    assert_eq!(status, 200);
    let url = agent.url(&format!(
        "/api/events?ticket={}",
        ticket["ticket"].as_str().unwrap()
    ));
    let mut stream = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("event: docker"));

    let exit = tokio::task::spawn_blocking(move || agent.stop_within(Duration::from_secs(5)))
        .await
        .unwrap();
    let exit =
        exit.expect("the agent did not exit within 5 s of SIGTERM while an event stream was open");
    assert!(exit.success(), "{exit:?}");
    // The stream ended cleanly rather than being cut.
    while let Some(chunk) = stream.chunk().await.unwrap_or(None) {
        let _ = chunk;
    }
}
