//! Notifications against real receivers and a real agent process: a pending delivery
//! survives `kill -9` and goes out after the restart; e-mail reaches a real SMTP server
//! (Debian's python3-aiosmtpd) over STARTTLS and over TLS, verified against the test's own
//! CA; a real container turning unhealthy and healthy again, and one OOM-killed in a restart
//! loop, are told to a webhook.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{docker, oom_looping, openssl, require_docker, Agent, AgentLaunch, Container};

/// A webhook receiver on its own thread: keeps each request body, answers 200.
fn receiver(listener: TcpListener) -> Arc<Mutex<Vec<Value>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let body = loop {
                let Ok(n) = s.read(&mut chunk) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_owned());
                    }
                }
            };
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Some(b) = body {
                keep.lock()
                    .unwrap()
                    .push(serde_json::from_str(&b).unwrap_or(Value::Null));
            }
        }
    });
    got
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("vantage.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// An agent with `config` and no Docker: the other tests' containers must not alert here.
fn start(data: &Path, config: &Path) -> Agent {
    Agent::start_with(
        data,
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &AgentLaunch {
            args: vec!["--config".into(), config.display().to_string()],
            ..Default::default()
        },
    )
}

/// An agent with `config` that watches the real Docker engine.
fn start_watching_docker(data: &Path, config: &Path) -> Agent {
    Agent::start_with(
        data,
        &[],
        &AgentLaunch {
            args: vec!["--config".into(), config.display().to_string()],
            ..Default::default()
        },
    )
}

async fn deliveries(agent: &Agent) -> Vec<Value> {
    agent.get("/api/notifications").await.1["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_pending_notification_survives_kill_9() {
    let data = tempfile::tempdir().unwrap();
    // A port with nothing on it yet: the first attempt is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = write_config(
        data.path(),
        &format!("[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/in\"\n"),
    );
    let agent = start(data.path(), &config);
    let (s, v) = agent
        .post_json(
            "/api/notifications/test",
            &serde_json::json!({"channel": "hook"}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let pending = agent
        .wait_for("/api/notifications", Duration::from_secs(10), |s, b| {
            s == 200 && b["deliveries"][0]["attempts"] == 1
        })
        .await;
    let d = &pending["deliveries"][0];
    assert_eq!(d["status"], "pending", "{d:#}");
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("refused"),
        "{d:#}"
    );
    agent.kill9();

    // The receiver comes up while no agent runs; the restarted agent delivers.
    let got = receiver(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let agent = start(data.path(), &config);
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "not delivered after the restart:\n{}",
            agent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got.lock().unwrap()[0]["event"], "test");
    let d = deliveries(&agent).await;
    assert_eq!(
        (d[0]["status"].as_str(), d[0]["attempts"].as_u64()),
        (Some("sent"), Some(2)),
        "{d:#?}"
    );
    let log = d[0]["log"].as_array().unwrap();
    assert!(!log[0]["ok"].as_bool().unwrap() && log[1]["ok"].as_bool().unwrap());
}

/// A private CA and a server certificate for 127.0.0.1 it signed (as a company's own mail
/// server has), as (CA certificate, server certificate, server key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |name: &str| dir.join(name).display().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=Vantage test CA",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p("smtp.key"),
        "-out",
        &p("smtp.csr"),
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("smtp.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &p("ext.cnf"),
        "-out",
        &p("smtp.pem"),
    ]);
    (
        dir.join("ca.pem"),
        dir.join("smtp.pem"),
        dir.join("smtp.key"),
    )
}

/// `python3 -m aiosmtpd` storing mail in `maildir`, with `tls` its TLS flags.
struct Smtp(Child);

impl Smtp {
    fn start(port: u16, maildir: &Path, tls: &[&str]) -> Self {
        let ok = Command::new("/usr/bin/python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "aiosmtpd missing: apt-get install python3-aiosmtpd (scripts/test.sh does)"
        );
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(tls)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self(child)
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mails(maildir: &Path) -> Vec<String> {
    std::fs::read_dir(maildir.join("new"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server_over_starttls_and_tls() {
    let data = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(data.path());
    let free = || {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (p1, p2) = (free(), free());
    let (box1, box2) = (data.path().join("starttls"), data.path().join("tls"));
    let (c, k, ca) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        ca.to_str().unwrap(),
    );
    let _starttls = Smtp::start(p1, &box1, &["--tlscert", c, "--tlskey", k]);
    let _tls = Smtp::start(p2, &box2, &["--smtpscert", c, "--smtpskey", k]);
    let channel = |name: &str, port: u16, security: &str| {
        format!(
            "[[notifications]]\nname = \"{name}\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\n\
             smtp_security = \"{security}\"\nfrom = \"vantage@example.test\"\nto = [\"ops@example.test\"]\nca_file = \"{ca}\"\n"
        )
    };
    let config = write_config(
        data.path(),
        &(channel("mail-starttls", p1, "starttls") + &channel("mail-tls", p2, "tls")),
    );
    let agent = start(data.path(), &config);
    for name in ["mail-starttls", "mail-tls"] {
        let (s, v) = agent
            .post_json(
                "/api/notifications/test",
                &serde_json::json!({"channel": name}),
            )
            .await;
        assert_eq!(s, 202, "{v}");
    }
    agent
        .wait_for("/api/notifications", Duration::from_secs(30), |s, b| {
            s == 200
                && b["deliveries"]
                    .as_array()
                    .is_some_and(|d| d.len() == 2 && d.iter().all(|d| d["status"] == "sent"))
        })
        .await;
    for maildir in [&box1, &box2] {
        let got = mails(maildir);
        assert_eq!(got.len(), 1, "{maildir:?}: {got:?}");
        assert!(
            got[0].contains("Subject: [Vantage] Test notification from Vantage"),
            "{}",
            got[0]
        );
        assert!(got[0].contains("To: ops@example.test"), "{}", got[0]);
    }
    // Without the CA the server's certificate is refused, and the log says why.
    let strict = data.path().join("strict.toml");
    std::fs::write(
        &strict,
        channel("strict", p1, "starttls").replace(&format!("ca_file = \"{ca}\"\n"), ""),
    )
    .unwrap();
    let other = tempfile::tempdir().unwrap();
    let agent = start(other.path(), &strict);
    agent
        .post_json(
            "/api/notifications/test",
            &serde_json::json!({"channel": "strict"}),
        )
        .await;
    let v = agent
        .wait_for("/api/notifications", Duration::from_secs(30), |s, b| {
            s == 200 && b["deliveries"][0]["attempts"] == 1
        })
        .await;
    let error = v["deliveries"][0]["last_error"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(
        error.contains("certificate") || error.contains("tls"),
        "{error}"
    );
}

#[tokio::test]
async fn a_container_turning_unhealthy_and_back_is_told() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = receiver(listener);
    let config = write_config(
        data.path(),
        &format!(
            "[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/in\"\n\
             events = [\"container_unhealthy\", \"container_healthy\"]\n"
        ),
    );
    let c = Container::run(
        "alert",
        &[
            "--health-cmd",
            "test -f /tmp/ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &["sh", "-c", "touch /tmp/ok; exec sleep 3600"],
    );
    let agent = start_watching_docker(data.path(), &config);
    agent
        .wait_for(
            &format!("/api/containers/{}", c.name),
            Duration::from_secs(30),
            |s, b| s == 200 && b["health"] == "healthy",
        )
        .await;
    docker(&["exec", &c.name, "rm", "/tmp/ok"]);
    let wait_event = |kind: &'static str| {
        let got = got.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(v) = got
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|v| v["event"] == kind)
                    .cloned()
                {
                    return v;
                }
                assert!(Instant::now() < deadline, "no {kind}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let down = wait_event("container_unhealthy").await;
    assert_eq!(down["subject"]["name"], c.name.as_str(), "{down:#}");
    assert!(
        down["message"]
            .as_str()
            .unwrap()
            .contains("healthcheck fails"),
        "{down:#}"
    );
    docker(&["exec", &c.name, "touch", "/tmp/ok"]);
    let up = wait_event("container_healthy").await;
    assert_eq!(up["severity"], "info", "{up:#}");
    drop(agent);
}

#[tokio::test]
async fn a_restart_loop_is_told_once_with_its_exit_code() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = receiver(listener);
    let config = write_config(
        data.path(),
        &format!(
            "[[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/in\"\n\
             events = [\"restart_loop\"]\n"
        ),
    );
    let agent = start_watching_docker(data.path(), &config);
    let c = oom_looping("oomalert");
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert = loop {
        let found = got
            .lock()
            .unwrap()
            .iter()
            .find(|v| v["subject"]["name"] == c.name.as_str())
            .cloned();
        if let Some(v) = found {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no restart_loop alert:\n{}",
            agent.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(alert["event"], "restart_loop", "{alert:#}");
    let text = alert["message"].as_str().unwrap();
    assert!(
        text.contains("code 137") && text.contains("out-of-memory killer"),
        "{text}"
    );
    // It keeps looping: still one alert.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let n = got
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v["subject"]["name"] == c.name.as_str())
        .count();
    assert_eq!(n, 1);
}
