//! Helpers for end-to-end tests against real parts. Every resource a test makes
//! (container, network, agent process, browser, private Docker daemon) is owned by
//! a guard that removes it on drop, also when the test panics.
//!
//! Missing real parts fail the test with what to install; nothing is skipped.

#![allow(dead_code)]

pub mod browser;
pub mod haproxy;
pub mod netns;
pub mod nginx;
pub mod scripted_http;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

/// The image every test container runs: static busybox, imported (no registry here).
pub const TEST_IMAGE: &str = "vantage-test/busybox:latest";
/// The test image's rootfs version, as its label: a machine with an older image rebuilds
/// it (2 added `dd`, which allocates its block size: the OOM test's memory hog).
const ROOTFS_VERSION: &str = "2";

/// Root of the workspace.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The agent binary built by `cargo build -p vantage-agent` (the test command does that first).
pub fn agent_binary() -> PathBuf {
    if let Ok(p) = std::env::var("VANTAGE_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    let bin = target.join("debug").join("vantage");
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).unwrap_or_else(|_| {
        panic!(
            "agent binary {} not found: run `cargo build -p vantage-agent` first (scripts/test.sh does), or set VANTAGE_BIN",
            bin.display()
        )
    });
    // Testing an old binary would test old code: refuse one older than its sources.
    let root = workspace_root();
    if let Some(newer) = newest_source(&[root.join("agent/src"), root.join("shared/src")])
        .filter(|(t, _)| *t > built)
    {
        panic!(
            "agent binary {} is older than {}: run `cargo build -p vantage-agent` first (scripts/test.sh does)",
            bin.display(),
            newer.1.display()
        );
    }
    bin
}

/// The static (musl) release agent the container image is made of, refused when older
/// than its sources, like [`agent_binary`].
pub fn static_binary() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    let bin = target.join("x86_64-unknown-linux-musl/release/vantage");
    let how = "build it with `./scripts/build-image.sh` (scripts/test.sh does)";
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("static agent {} not found: {how}", bin.display()));
    let root = workspace_root();
    if let Some(newer) = newest_source(&[root.join("agent/src"), root.join("shared/src")])
        .filter(|(t, _)| *t > built)
    {
        panic!(
            "static agent {} is older than {}: {how}",
            bin.display(),
            newer.1.display()
        );
    }
    bin
}

/// The most recently modified file under `dirs`.
fn newest_source(dirs: &[PathBuf]) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                if newest.as_ref().is_none_or(|(n, _)| t > *n) {
                    newest = Some((t, path));
                }
            }
        }
    }
    newest
}

fn run(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    cmd.stdin(Stdio::null()).output()
}

/// Runs `docker …` and returns stdout, panicking with stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let out = run(Command::new("docker").args(args)).unwrap_or_else(|e| {
        panic!("cannot run `docker` ({e}): install it with `apt-get install docker.io`")
    });
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Makes sure the Docker engine answers and the test image exists (built once).
pub fn require_docker() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let ok = run(Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]))
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(ok, "the Docker engine does not answer on /var/run/docker.sock: install docker.io and start dockerd (scripts/test.sh does both)");
        // An image from an older rootfs (fewer applets) is rebuilt.
        let have = run(Command::new("docker").args(["image", "inspect", "--format", "{{index .Config.Labels \"vantage-test-rootfs\"}}", TEST_IMAGE]))
            .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == ROOTFS_VERSION)
            .unwrap_or(false);
        if !have {
            build_test_image();
        }
    });
}

/// The host's static busybox, the one program the test images hold.
pub fn static_busybox() -> &'static Path {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("static busybox not found: apt-get install busybox-static"))
}

/// `docker import` of a rootfs holding only static busybox and its applet links.
fn build_test_image() {
    let busybox = static_busybox();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for d in ["bin", "tmp", "www", "etc"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
    for applet in [
        "sh", "sleep", "touch", "test", "wget", "httpd", "nc", "cat", "echo", "ls", "rm", "date",
        "true", "false", "dd",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("symlink");
    }
    std::fs::write(root.join("www/index.html"), "ok\n").expect("index");
    let tar_path = dir.path().with_extension("tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(&tar_path)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success(), "tar of the test rootfs failed");
    let out = Command::new("docker")
        .args(["import", "-c", "CMD [\"/bin/sh\"]", "-c"])
        .arg(format!("LABEL vantage-test-rootfs={ROOTFS_VERSION}"))
        .arg(&tar_path)
        .arg(TEST_IMAGE)
        .output()
        .expect("docker import");
    let _ = std::fs::remove_file(&tar_path);
    assert!(
        out.status.success(),
        "docker import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `openssl` with `args` (making test certificates), or fails with what to install.
pub fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("openssl ({e}): apt-get install openssl"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A unique name for this test run's resources, so parallel tests never collide.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "vt-{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A container removed (forcefully) on drop.
pub struct Container {
    pub name: String,
    pub id: String,
}

impl Container {
    /// `docker run -d --name <unique> <args…> TEST_IMAGE <cmd…>`.
    pub fn run(prefix: &str, args: &[&str], cmd: &[&str]) -> Self {
        Self::run_image(prefix, TEST_IMAGE, args, cmd)
    }

    /// The same with another image (built `FROM` the test image).
    pub fn run_image(prefix: &str, image: &str, args: &[&str], cmd: &[&str]) -> Self {
        require_docker();
        let name = unique(prefix);
        let mut all = vec!["run", "-d", "--name", &name, "--label", "vantage-test=1"];
        all.extend_from_slice(args);
        all.push(image);
        all.extend_from_slice(cmd);
        let id = docker(&all);
        Self { name, id }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = run(Command::new("docker").args(["rm", "-f", &self.name]));
    }
}

/// Builds `tag` from a Dockerfile given as text, with no context (`docker build -`): the
/// test image plus an instruction or two, e.g. an exec-form `HEALTHCHECK`.
pub fn build_image(tag: &str, dockerfile: &str) {
    require_docker();
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker build");
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(dockerfile.as_bytes())
            .expect("write the Dockerfile");
    }
    let out = child.wait_with_output().expect("docker build");
    assert!(
        out.status.success(),
        "docker build of {tag} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A container in an OOM restart loop: `dd` allocates its 100 MiB block under a 32 MiB
/// limit, the kernel's OOM killer ends it at once, and `--restart always` starts it again
/// (backing off from 100 ms).
pub fn oom_looping(prefix: &str) -> Container {
    Container::run(
        prefix,
        &[
            "--restart",
            "always",
            "--memory",
            "32m",
            "--memory-swap",
            "32m",
        ],
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"],
    )
}

/// A user-defined Docker network removed on drop (after its containers are gone).
pub struct Network {
    pub name: String,
}

impl Network {
    pub fn create(prefix: &str) -> Self {
        require_docker();
        let name = unique(prefix);
        docker(&["network", "create", "--label", "vantage-test=1", &name]);
        Self { name }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = run(Command::new("docker").args(["network", "rm", &self.name]));
    }
}

/// A running `vantage serve` process on a free loopback port, killed on drop.
pub struct Agent {
    child: Child,
    pub base: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl Agent {
    /// Starts the agent with `data_dir` and extra environment (e.g. `DOCKER_HOST`).
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_with(data_dir, env, &AgentLaunch::default())
    }

    /// Starts the agent with extra arguments, optionally inside a network namespace.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)], launch: &AgentLaunch) -> Self {
        let log = data_dir.join(format!("agent-{}.log", unique("log")));
        let log_file = std::fs::File::create(&log).expect("agent log");
        // `ip netns exec` and `setpriv` exec what follows, so the child is the agent itself.
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if let Some(ns) = &launch.netns {
            argv.extend(["ip", "netns", "exec", ns].map(Into::into));
        }
        if let Some(uid) = launch.user {
            argv.extend(
                [
                    "setpriv".to_owned(),
                    format!("--reuid={uid}"),
                    format!("--regid={uid}"),
                    "--clear-groups".to_owned(),
                ]
                .map(Into::into),
            );
        }
        argv.push(agent_binary().into());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.args(["serve", "--listen", &launch.listen, "--resync-secs", "5"])
            .args(&launch.args)
            .args((!launch.scheduled_probes).then_some("--no-scheduled-probes"))
            .arg("--data-dir")
            .arg(data_dir)
            .env("VANTAGE_LOG", "info,vantage_agent=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the agent: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut url = None;
        while Instant::now() < deadline {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(u) = line.trim().strip_prefix("Dashboard: ") {
                        url = Some(u.to_owned());
                        break;
                    }
                }
                _ => break,
            }
        }
        let url = url.unwrap_or_else(|| {
            panic!(
                "agent printed no dashboard URL; log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        // Keep draining stdout so the agent never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (base, token) = url.split_once("/?token=").expect("tokenized URL");
        // The agent prints a loopback URL for a wildcard listen address; a test outside
        // the agent's namespace reaches it at the address it names instead.
        let base = match &launch.host {
            Some(host) => {
                let port = base.rsplit_once(':').map(|(_, p)| p).expect("port in URL");
                format!("http://{host}:{port}")
            }
            None => base.to_owned(),
        };
        Self {
            child,
            base,
            token: token.to_owned(),
            data_dir: data_dir.to_owned(),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET` with the admin token; returns status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let res = http()
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    /// Polls `path` until `check` accepts the body, or panics after `timeout` with the last body.
    pub async fn wait_for(
        &self,
        path: &str,
        timeout: Duration,
        mut check: impl FnMut(u16, &serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, body) = self.get(path).await;
            if check(status, &body) {
                return body;
            }
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting on {path}; last answer {status}: {body:#}\nagent log:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no graceful shutdown, no flush.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait agent")
    }
}

impl Agent {
    /// SIGTERM, then waits at most `limit` for the exit; `None` if it did not exit.
    pub fn stop_within(mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// `POST` with the admin token.
    pub async fn post(&self, path: &str) -> (u16, serde_json::Value) {
        let res = http()
            .post(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// How [`Agent::start_with`] launches the agent.
#[derive(Debug, Clone)]
pub struct AgentLaunch {
    /// `--listen`; `127.0.0.1:0` by default.
    pub listen: String,
    /// More `serve` arguments, e.g. `--config <file>` or `--trusted-proxy 127.0.0.1/32`.
    pub args: Vec<String>,
    /// Run inside this network namespace (`ip netns exec`).
    pub netns: Option<String>,
    /// The address the test reaches the agent at, instead of the one it prints.
    pub host: Option<String>,
    /// Run as this unprivileged uid and gid (`setpriv`), e.g. 65534 (nobody).
    pub user: Option<u32>,
    /// Let the agent probe its targets at their intervals. Off by default: these tests
    /// probe on cue, so every probe they count or compare is one they asked for (and no
    /// generated target is ever contacted); the scheduler has its own tests in
    /// `agent/tests/target_history.rs`.
    pub scheduled_probes: bool,
}

impl Default for AgentLaunch {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:0".to_owned(),
            args: Vec::new(),
            netns: None,
            host: None,
            user: None,
            scheduled_probes: false,
        }
    }
}

impl Agent {
    /// `POST` a JSON body with the admin token; returns status and JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = http()
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client")
    })
}

/// A private Docker daemon on its own socket and data root, that a test may stop
/// and start at will without disturbing the machine's main daemon.
pub struct PrivateDockerd {
    pub dir: tempfile::TempDir,
    pub socket: String,
    child: Mutex<Option<Child>>,
}

impl PrivateDockerd {
    pub fn start() -> Self {
        require_docker();
        let dir = tempfile::Builder::new()
            .prefix("vt-dockerd")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let socket = format!("unix://{}/docker.sock", dir.path().display());
        let d = Self {
            dir,
            socket,
            child: Mutex::new(None),
        };
        d.resume();
        d
    }

    /// (Re)starts the daemon and waits until it answers.
    pub fn resume(&self) {
        let root = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("dockerd.log"))
            .expect("log");
        // In a network namespace of its own: a daemon started with `--bridge=none`
        // deletes `docker0`, which would break the machine's main daemon.
        let child = Command::new("unshare")
            .args(["--net", "dockerd"])
            .arg("--host")
            .arg(&self.socket)
            .arg(format!("--data-root={}", root.join("data").display()))
            .arg(format!("--exec-root={}", root.join("exec").display()))
            .arg(format!("--pidfile={}", root.join("dockerd.pid").display()))
            // No bridge and no iptables: nothing to set up in the private namespace.
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dockerd ({e}): apt-get install docker.io"));
        *self.child.lock().expect("lock") = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ok = run(Command::new("docker").args(["-H", &self.socket, "version"]))
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "private dockerd did not answer: {}",
            std::fs::read_to_string(root.join("dockerd.log")).unwrap_or_default()
        );
    }

    /// Stops the daemon (SIGTERM, then waits).
    pub fn pause(&self) {
        if let Some(mut child) = self.child.lock().expect("lock").take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        self.pause();
        // dockerd leaves its own containerd behind in the exec root; stop it too.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(self.dir.path().to_string_lossy().as_ref())
            .status();
    }
}
