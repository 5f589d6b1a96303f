//! The container image with the real Docker engine: `docker build` of the FROM scratch
//! Dockerfile from the static agent (no registry), run as compose.yaml runs it (read-only
//! root, every capability dropped, the socket read-only, the data directory a volume). It
//! lists the host's containers, its healthcheck is the binary itself and turns healthy,
//! it runs as a non-root user, and the history survives recreating the container.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{docker, http, require_docker, static_binary, unique, workspace_root, Container};

/// Builds the image from the static binary; the tag is unique to this run.
fn build_image() -> String {
    static_binary();
    let tag = format!("{}:test", unique("vantage-image"));
    docker(&[
        "build",
        "--quiet",
        "-t",
        &tag,
        workspace_root().to_str().unwrap(),
    ]);
    tag
}

/// A running agent container, removed on drop.
struct AgentContainer {
    name: String,
    base: String,
    token: String,
}

impl AgentContainer {
    /// `docker run` as compose.yaml does, with `volume` as its data directory.
    async fn start(image: &str, volume: &str) -> Self {
        let name = unique("vantage-agent");
        let socket_gid = std::fs::metadata("/var/run/docker.sock")
            .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
            .unwrap()
            .to_string();
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "vantage-test=1",
            "--read-only",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges:true",
            "--group-add",
            &socket_gid,
            "-p",
            "127.0.0.1::8787",
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock:ro",
            "-v",
            &format!("{volume}:/data"),
            "--health-interval",
            "1s",
            image,
        ]);
        let port = docker(&["port", &name, "8787/tcp"]);
        let port = port
            .lines()
            .next()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_owned();
        // The token is printed with the dashboard URL, as `docker compose logs` shows it.
        let deadline = Instant::now() + Duration::from_secs(30);
        let token = loop {
            let logs = docker(&["logs", &name]);
            if let Some(t) = logs.split("?token=").nth(1) {
                break t.split_whitespace().next().unwrap().to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no dashboard URL in the logs:\n{logs}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        Self {
            name,
            base: format!("http://127.0.0.1:{port}"),
            token,
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let res = http()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    async fn wait_for(&self, path: &str, mut ok: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, v) = self.get(path).await;
            if s == 200 && ok(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{path} never matched; last {s}: {v:#}\nlogs:\n{}",
                docker(&["logs", &self.name])
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn health(&self) -> String {
        docker(&["inspect", "-f", "{{.State.Health.Status}}", &self.name])
    }
}

impl Drop for AgentContainer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

fn runs(v: &Value) -> usize {
    v["runs"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn the_image_runs_read_only_lists_containers_and_keeps_history() {
    require_docker();
    let image = build_image();
    let user = docker(&["image", "inspect", "-f", "{{.Config.User}}", &image]);
    assert_eq!(user, "65532:65532", "the image runs as a non-root user");
    let watched = Container::run(
        "watched",
        &["--health-cmd", "true", "--health-interval", "1s"],
        &["sleep", "3600"],
    );
    let volume = unique("vantage-data");
    let agent = AgentContainer::start(&image, &volume).await;

    // It reads the host's Docker through the read-only socket.
    let list = agent
        .wait_for("/api/containers", |v| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|c| c["name"] == watched.name))
        })
        .await;
    assert!(list.as_array().unwrap().len() >= 2, "{list:#}");
    let history = format!(
        "/api/containers/{}/health-history?limit=10000",
        watched.name
    );
    let before = agent.wait_for(&history, |v| runs(v) >= 3).await;

    // The healthcheck is the binary itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    while agent.health() != "healthy" {
        assert!(Instant::now() < deadline, "health: {}", agent.health());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Recreated on the same volume: the same token, and the history from before.
    let token = agent.token.clone();
    drop(agent);
    let agent = AgentContainer::start(&image, &volume).await;
    assert_eq!(agent.token, token, "the token lives in the volume");
    let after = agent.wait_for(&history, |v| runs(v) >= runs(&before)).await;
    let oldest = |v: &Value| v["runs"].as_array().unwrap().last().unwrap()["start"].clone();
    assert_eq!(oldest(&after), oldest(&before), "the oldest run survived");

    drop(agent);
    docker(&["volume", "rm", &volume]);
    docker(&["image", "rm", &image]);
}
