//! A real Debian HAProxy per test: its own config in a temp dir (the sections the test
//! gives, a stats socket at admin level), run in the foreground and killed on drop; and a
//! backend (static busybox's `httpd`) that can be stopped and started again on its port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The haproxy binary, or a failed test saying how to install it.
pub fn haproxy_binary() -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin"])
    {
        let candidate = Path::new(dir).join("haproxy");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("haproxy not found: install it: apt-get install haproxy");
}

/// A running HAProxy, killed on drop.
pub struct Haproxy {
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Haproxy {
    /// Starts HAProxy with `sections` (frontends, backends, `listen` blocks) after a
    /// `global` with the stats socket and `defaults` in HTTP mode, and waits for the socket.
    pub fn start(sections: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("vt-haproxy")
            .tempdir()
            .expect("haproxy temp dir");
        let socket = dir.path().join("admin.sock");
        let conf = format!(
            "# Written by tests/tests/support/haproxy.rs\n\
             global\n\
             \x20 stats socket {} mode 600 level admin\n\
             defaults\n\
             \x20 mode http\n\
             \x20 timeout connect 1s\n\
             \x20 timeout client 5s\n\
             \x20 timeout server 5s\n\
             {sections}\n",
            socket.display()
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, conf).expect("write haproxy.cfg");
        let check = Command::new(haproxy_binary())
            .arg("-c")
            .arg("-f")
            .arg(&path)
            .output()
            .expect("haproxy -c");
        assert!(
            check.status.success(),
            "haproxy rejects its config: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let child = Command::new(haproxy_binary())
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start haproxy");
        let until = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < until,
                "haproxy did not open its stats socket"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, dir }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("admin.sock")
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A backend: busybox `httpd` serving `files` on a loopback port, stoppable and
/// restartable on the same port.
pub struct Backend {
    pub port: u16,
    root: tempfile::TempDir,
    child: Option<Child>,
}

impl Backend {
    /// Serves `files` (path, content) on `port`.
    pub fn start(port: u16, files: &[(&str, &str)]) -> Self {
        let root = tempfile::tempdir().expect("backend root");
        for (path, content) in files {
            let p = root.path().join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).expect("backend dir");
            }
            std::fs::write(p, content).expect("backend file");
        }
        let mut b = Self {
            port,
            root,
            child: None,
        };
        b.resume();
        b
    }

    /// Starts `httpd` again and waits until it accepts connections.
    pub fn resume(&mut self) {
        let child = Command::new(super::static_busybox())
            .args([
                "httpd",
                "-f",
                "-p",
                &format!("127.0.0.1:{}", self.port),
                "-h",
            ])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("busybox httpd");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "the backend did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills `httpd`: connections to the port are refused.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}
