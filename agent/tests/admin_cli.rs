//! `vantage health` and `vantage token rotate` as operators run them: health against a
//! real HTTP server on loopback (up, and a port where nothing listens), token rotation in
//! a data directory (a new token, mode 0600, the other token untouched).

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn vantage(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vantage"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("VANTAGE_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn health_is_0_when_the_agent_answers_and_1_when_not() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let answer: &[u8] = if request.starts_with("GET /api/health ") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}"
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            let _ = s.write_all(answer);
        }
    });
    let up = vantage(&["health", "--listen", &addr.to_string()]);
    assert!(up.status.success(), "{}", text(&up));

    // A wildcard listen address is asked on loopback, as inside the container.
    let wildcard = format!("0.0.0.0:{}", addr.port());
    let up = vantage(&["health", "--listen", &wildcard]);
    assert!(up.status.success(), "{}", text(&up));

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = vantage(&["health", "--listen", &closed.to_string(), "--timeout", "2"]);
    assert_eq!(down.status.code(), Some(1));
    assert!(text(&down).contains("refused"), "{}", text(&down));
}

#[test]
fn token_rotate_replaces_one_token() {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin.token");
    let metrics = dir.path().join("metrics.token");
    std::fs::write(&admin, "old-admin\n").unwrap();
    std::fs::write(&metrics, "old-metrics\n").unwrap();
    let data = dir.path().to_str().unwrap();

    let out = vantage(&["token", "rotate", "--data-dir", data]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(printed.len(), 64, "{printed}");
    assert_eq!(std::fs::read_to_string(&admin).unwrap().trim(), printed);
    assert_eq!(
        std::fs::metadata(&admin).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(&metrics).unwrap(), "old-metrics\n");

    let out = vantage(&["token", "rotate", "--data-dir", data, "--metrics"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed_metrics = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        std::fs::read_to_string(&metrics).unwrap().trim(),
        printed_metrics
    );
    assert_eq!(std::fs::read_to_string(&admin).unwrap().trim(), printed);

    let missing = vantage(&["token", "rotate", "--data-dir", "/nonexistent/vantage"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).contains("--data-dir"), "{}", text(&missing));
}
