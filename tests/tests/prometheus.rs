//! Prometheus against a real agent: Debian's `prometheus`, with a config this test writes,
//! scrapes an agent on loopback with the read-only metrics token; PromQL through
//! Prometheus' HTTP API sees a target up and then down once its server stops, a real
//! container's state and health, and the probe-phase histograms; the shipped rules load.
//! `promtool` accepts the agent's output and the shipped rules and their unit tests; the
//! token and the open `--metrics-listen` listener admit what they should and no more.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::nginx::free_port;
use support::{http, require_docker, workspace_root, Agent, AgentLaunch, Container};

/// `prometheus` or `promtool`, or a failed test saying what to install.
fn binary(name: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/bin"])
    {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not found: install Prometheus: apt-get install prometheus");
}

/// An HTTP server on loopback answering 200 to everything, until [`Service::stop`].
struct Service {
    port: u16,
    stopped: Arc<AtomicBool>,
}

impl Service {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                if stop.load(Ordering::SeqCst) {
                    // Dropping the listener closes the port: connections are refused.
                    return;
                }
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Self { port, stopped }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and closes the listener.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A Prometheus server killed on drop.
struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `agent` every second with its metrics token and loads the shipped rules.
    async fn start(agent: &Agent, token_file: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rules = workspace_root().join("deploy/prometheus/vantage.rules.yml");
        let target = agent.base.trim_start_matches("http://");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: vantage\n    authorization:\n      type: Bearer\n      credentials_file: {token}\n    static_configs:\n      - targets: ['{target}']\n",
            rules = rules.display(),
            token = token_file.display(),
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(binary("prometheus"))
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start prometheus: {e}"));
        let p = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http().get(format!("{}/-/ready", p.base)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not get ready: {}",
                p.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The instant vector of a PromQL query: each series' labels and value.
    async fn query(&self, promql: &str) -> Vec<(Value, String)> {
        let res: Value = http()
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", promql)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(res["status"], "success", "{promql}: {res}");
        res["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["metric"].clone(),
                    s["value"][1].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Waits until `promql` returns exactly one series with `value`.
    async fn wait_for(&self, promql: &str, value: &str, agent: &Agent) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.query(promql).await;
            if got.len() == 1 && got[0].1 == value {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{promql}` never became {value}: {got:?}\nprometheus log:\n{}\nagent log:\n{}",
                self.log(),
                agent.log_text()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_with_target(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("vantage.toml");
    std::fs::write(
        &path,
        format!(
            "[[targets]]\nname = \"Shop API\"\nurl = \"http://127.0.0.1:{port}/health\"\ninterval = \"5s\"\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn prometheus_sees_a_target_go_down_and_a_container_healthy() {
    require_docker();
    binary("prometheus");
    let service = Service::start();
    let c = Container::run(
        "prom",
        &["--health-cmd", "true", "--health-interval", "1s"],
        &["sleep", "3600"],
    );
    let data = tempfile::tempdir().unwrap();
    let config = config_with_target(data.path(), service.port);
    let agent = Agent::start_with(
        data.path(),
        &[],
        &AgentLaunch {
            args: vec!["--config".into(), config.display().to_string()],
            scheduled_probes: true,
            ..Default::default()
        },
    );
    let prom = Prometheus::start(&agent, &data.path().join("metrics.token")).await;

    // The token is accepted (a 401 would leave `up` at 0).
    prom.wait_for(r#"up{job="vantage"}"#, "1", &agent).await;
    prom.wait_for(r#"vantage_target_up{target="shop-api"}"#, "1", &agent)
        .await;
    prom.wait_for(
        r#"vantage_target_http_status{target="shop-api"}"#,
        "200",
        &agent,
    )
    .await;
    prom.wait_for(
        r#"vantage_target_phase_duration_seconds_count{target="shop-api",phase="connect"} > bool 0"#,
        "1",
        &agent,
    )
    .await;
    let info = prom.query("vantage_build_info").await;
    assert_eq!(info[0].0["version"], env!("CARGO_PKG_VERSION"), "{info:?}");
    let running = format!(
        r#"vantage_container_state{{container="{}",state="running"}}"#,
        c.name
    );
    prom.wait_for(&running, "1", &agent).await;
    let healthy = format!(
        r#"vantage_container_health_status{{container="{}",status="healthy"}}"#,
        c.name
    );
    prom.wait_for(&healthy, "1", &agent).await;
    prom.wait_for(
        &format!(
            r#"vantage_container_healthcheck_duration_seconds_count{{container="{}"}} > bool 0"#,
            c.name
        ),
        "1",
        &agent,
    )
    .await;

    // The server stops: the next scheduled probe is refused and the series follows.
    service.stop();
    prom.wait_for(r#"vantage_target_up{target="shop-api"}"#, "0", &agent)
        .await;
    prom.wait_for(
        r#"vantage_target_probes_total{target="shop-api",result="down"} > bool 0"#,
        "1",
        &agent,
    )
    .await;

    // The shipped rules load and evaluate without errors.
    let rules: Value = http()
        .get(format!("{}/api/v1/rules", prom.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "vantage", "{rules}");
    for rule in group["rules"].as_array().unwrap() {
        assert_eq!(rule["health"], "ok", "{rule}");
    }
}

fn promtool(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(binary("promtool"))
        .args(args)
        .current_dir(workspace_root().join("deploy/prometheus"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

async fn scrape(url: &str, token: Option<&str>, accept: Option<&str>) -> (u16, String, String) {
    let mut req = http().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.unwrap();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status().as_u16(), kind, res.text().await.unwrap())
}

#[tokio::test]
async fn promtool_accepts_the_output_and_the_shipped_rules() {
    binary("promtool");
    let service = Service::start();
    let data = tempfile::tempdir().unwrap();
    let config = config_with_target(data.path(), service.port);
    let open_port = free_port();
    let agent = Agent::start_with(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &AgentLaunch {
            args: vec![
                "--config".into(),
                config.display().to_string(),
                "--metrics-listen".into(),
                format!("127.0.0.1:{open_port}"),
            ],
            ..Default::default()
        },
    );
    let (s, _) = agent.post("/api/targets/shop-api/probe").await;
    assert_eq!(s, 200);
    let token = std::fs::read_to_string(data.path().join("metrics.token")).unwrap();
    let token = token.trim();
    let url = agent.url("/metrics");

    let (s, kind, text) = scrape(&url, Some(token), None).await;
    assert_eq!(s, 200, "{text}");
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    for name in [
        "vantage_build_info",
        "vantage_docker_up 0",
        "vantage_target_up{target=\"shop-api\"} 1",
        "vantage_target_http_status{target=\"shop-api\"} 200",
        "# TYPE vantage_target_probes_total counter",
        "# TYPE vantage_target_phase_duration_seconds histogram",
    ] {
        assert!(text.contains(name), "no `{name}` in:\n{text}");
    }
    let lint = promtool(&["check", "metrics"], Some(&text));
    assert!(!lint.contains("problem"), "{lint}");

    let (s, kind, open) = scrape(&url, Some(token), Some("application/openmetrics-text")).await;
    assert_eq!(s, 200);
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(open.ends_with("# EOF\n"), "{open}");

    // The metrics token reads metrics and nothing else; no token reads nothing.
    assert_eq!(scrape(&url, None, None).await.0, 401);
    assert_eq!(scrape(&url, Some("wrong"), None).await.0, 401);
    let api = http()
        .get(agent.url("/api/containers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status().as_u16(), 401);
    // The admin token works on /metrics too.
    assert_eq!(scrape(&url, Some(&agent.token), None).await.0, 200);

    // The open listener: metrics without a token, and only metrics.
    let open_base = format!("http://127.0.0.1:{open_port}");
    let (s, _, body) = scrape(&format!("{open_base}/metrics"), None, None).await;
    assert_eq!(s, 200);
    assert!(body.contains("vantage_target_up"), "{body}");
    let (s, _, _) = scrape(&format!("{open_base}/api/containers"), None, None).await;
    assert_eq!(s, 404);
    drop(service);

    promtool(&["check", "rules", "vantage.rules.yml"], None);
    promtool(&["test", "rules", "vantage.rules.test.yml"], None);
    promtool(
        &["check", "config", "--syntax-only", "prometheus.yml"],
        None,
    );
}
