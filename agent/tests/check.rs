//! `vantage check` and `vantage config check` as a user runs them: the real binary against
//! real HTTP servers on loopback and a real security-group export, from this host and
//! through a running agent (`--agent`). The reports are compared with snapshots in
//! `tests/snapshots/check-*` after replacing what changes between runs (times, ports, the
//! host name); regenerate them with `UPDATE_SNAPSHOTS=1`.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `vantage <args>` with no VANTAGE_* from the environment and a Docker endpoint that does
/// not exist (container checks are the e2e tests'), plus `env`.
fn vantage(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vantage"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("VANTAGE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .current_dir(root())
        .args(args)
        .output()
        .expect("run vantage")
}

/// Replaces what differs between runs: `12.3 ms`/`1.2 s` durations, the servers' ports, the
/// host name, timestamps.
fn normalize(text: &str, ports: &[(u16, &str)]) -> String {
    let mut s = text.to_owned();
    for (port, name) in ports {
        s = s.replace(&port.to_string(), name);
    }
    let host = hostname();
    if !host.is_empty() {
        s = s.replace(&format!("from {host})"), "from HOST)");
        s = s.replace(&format!("\"from\": \"{host}\""), "\"from\": \"HOST\"");
    }
    let mut out = String::new();
    let words: Vec<&str> = s.split(' ').collect();
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        let is_num = !w.is_empty()
            && w.trim_start_matches('(')
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.');
        let unit = next.starts_with("ms")
            || next.starts_with("s)")
            || next.starts_with("s ")
            || next == "s";
        if i > 0 {
            out.push(' ');
        }
        if is_num && unit {
            out.push_str(if w.starts_with('(') { "(T" } else { "T" });
        } else {
            out.push_str(w);
        }
    }
    // JSON and XML times.
    let mut lines = Vec::new();
    for line in out.lines() {
        let l = line.trim_start();
        let keep = if l.starts_with("\"started_at\"") || l.starts_with("\"duration_ms\"") {
            let indent = &line[..line.len() - l.len()];
            let key = l.split(':').next().unwrap_or("");
            let comma = if l.ends_with(',') { "," } else { "" };
            format!("{indent}{key}: \"T\"{comma}")
        } else {
            scrub_attr(scrub_attr(line.to_owned(), "time"), "timestamp")
        };
        lines.push(keep);
    }
    lines.join("\n") + "\n"
}

fn scrub_attr(line: String, attr: &str) -> String {
    let key = format!(" {attr}=\"");
    let Some(i) = line.find(&key) else {
        return line;
    };
    let start = i + key.len();
    let end = line[start..].find('"').map_or(line.len(), |j| start + j);
    format!("{}T{}", &line[..start], &line[end..])
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

fn snapshot(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(
        got, want,
        "{name} changed: review it, then run with UPDATE_SNAPSHOTS=1"
    );
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn config(dir: &Path, ok: u16, closed: u16, expect_guest: &str) -> PathBuf {
    let path = dir.join("vantage.toml");
    std::fs::write(
        &path,
        format!(
            "rules_files = [\"fixtures/valid/aws-describe-security-groups.json\"]\n\n\
             [[targets]]\nname = \"Shop API\"\nurl = \"http://127.0.0.1:{ok}/health\"\n\n\
             [[targets]]\nname = \"Old backend\"\nurl = \"127.0.0.1:{closed}\"\n\n\
             [[checks.rules]]\nname = \"guest Wi-Fi reaches HTTPS\"\nsource = \"203.0.113.7\"\n\
             port = 443\nexpect = \"{expect_guest}\"\n\n\
             [[checks.rules]]\nsource = \"198.51.100.20\"\nprotocol = \"tcp\"\nport = 22\nexpect = \"denied\"\n"
        ),
    )
    .unwrap();
    path
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_and_exit_codes_from_this_host() {
    let (addr, _server) = common::http_server(OK).await;
    let closed = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let ports = [(addr.port(), "PORT_OK"), (closed, "PORT_CLOSED")];
    let cfg = config(dir.path(), addr.port(), closed, "allowed");
    let cfg = cfg.to_str().unwrap();

    // A refused target and a rule that does not hold: exit 1, in every format.
    for (format, name) in [
        ("text", "check-text.txt"),
        ("json", "check-json.json"),
        ("junit", "check-junit.xml"),
    ] {
        let out = vantage(&["check", "--config", cfg, "--format", format], &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        snapshot(name, &normalize(&stdout, &ports));
    }
    // Not a terminal: no colour codes, whatever the format.
    let (stdout, _) = text(&vantage(&["check", "--config", cfg], &[]));
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    // Forced colour (CLICOLOR_FORCE) is honoured.
    let (stdout, _) = text(&vantage(
        &["check", "--config", cfg],
        &[("CLICOLOR_FORCE", "1")],
    ));
    assert!(stdout.contains("\u{1b}[1m\u{1b}[31mFAIL"), "{stdout:?}");

    // Only what holds: exit 0.
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "rules_files = [\"fixtures/valid/aws-describe-security-groups.json\"]\n\
             [[targets]]\nname = \"Shop API\"\nurl = \"http://127.0.0.1:{}/\"\n\
             [[checks.rules]]\nsource = \"203.0.113.7\"\nport = 443\nexpect = \"denied\"\n",
            addr.port()
        ),
    )
    .unwrap();
    let out = vantage(&["check", "--config", good.to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("PASS: 2 passed, 0 warned, 0 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: Docker cannot be reached"),
        "{stdout}"
    );
}

#[test]
fn configs_that_cannot_run_exit_2_with_the_place_named() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let cases = [
        (
            "bad-url.toml",
            "# targets\n\n[[targets]]\nname = \"a\"\nurl = \"ftp://x/\"\n",
            "line 3, column 1: [[targets]] `a`: unsupported scheme `ftp`",
        ),
        (
            "typo.toml",
            "[[targets]]\nname = \"a\"\nurl = \"x:1\"\nintervall = \"5m\"\n",
            "line 4, column 1",
        ),
        (
            "no-rules.toml",
            "[[checks.rules]]\nsource = \"203.0.113.7\"\nport = 443\nexpect = \"allowed\"\n",
            "[[checks.rules]] needs rules to ask",
        ),
        (
            "named-container.toml",
            "[checks]\ncontainers = [\"api\"]\n",
            "the config names containers, but Docker cannot be reached",
        ),
    ];
    for (name, body, want) in cases {
        let path = write(name, body);
        let out = vantage(&["check", "--config", &path], &[]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stdout}{stderr}");
        assert!(stderr.contains(want), "{name}: {stderr}");
    }
    // `config check` validates without probing: the same places, and 0 for a good file.
    let path = write(
        "bad-url.toml",
        "# targets\n\n[[targets]]\nname = \"a\"\nurl = \"ftp://x/\"\n",
    );
    let out = vantage(&["config", "check", &path], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    snapshot(
        "config-check-error.txt",
        &stderr.replace(&path, "vantage.toml"),
    );
    let path = write(
        "good.toml",
        "[[targets]]\nname = \"a\"\nurl = \"x:1\"\ninterval = \"5m\"\n[[checks.rules]]\nsource = \"::1\"\nport = 22\nexpect = \"denied\"\n",
    );
    let out = vantage(&["config", "check", &path], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.ends_with("ok (1 target, 1 rule check, 0 rules files)\n"),
        "{stdout}"
    );
}

/// `--agent`: the running agent probes its own targets and answers the rule questions.
#[tokio::test(flavor = "multi_thread")]
async fn through_a_running_agent() {
    let (addr, _server) = common::http_server(OK).await;
    let closed = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), addr.port(), closed, "denied");
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listen.local_addr().unwrap().port();
    drop(listen);
    let mut agent = Command::new(env!("CARGO_BIN_EXE_vantage"))
        .args([
            "serve",
            "--no-scheduled-probes",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path())
        .env("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .current_dir(root())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let token_file = dir.path().join("admin.token");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !token_file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cfg = cfg.to_str().unwrap();
    let tf = token_file.to_str().unwrap();
    let out = vantage(
        &[
            "check",
            "--agent",
            &url,
            "--token-file",
            tf,
            "--config",
            cfg,
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let ports = [
        (addr.port(), "PORT_OK"),
        (closed, "PORT_CLOSED"),
        (port, "PORT_AGENT"),
    ];
    snapshot("check-agent.txt", &normalize(&stdout, &ports));

    // The token from the environment works too; a wrong one cannot run.
    let token = std::fs::read_to_string(&token_file).unwrap();
    let out = vantage(
        &["check", "--agent", &url, "--config", cfg],
        &[("VANTAGE_TOKEN", token.trim())],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = vantage(&["check", "--agent", &url], &[("VANTAGE_TOKEN", "wrong")]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refused the token"), "{stderr}");
    let out = vantage(
        &["check", "--agent", "http://127.0.0.1:9"],
        &[("VANTAGE_TOKEN", "x")],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach the agent"), "{stderr}");
    let _ = agent.kill();
    let _ = agent.wait();
}
