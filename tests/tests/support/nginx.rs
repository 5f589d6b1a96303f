//! A real Debian nginx per test: its own `nginx.conf`, pid file, logs and temp paths in
//! a temp dir, the `server {}` blocks the test gives, killed with its workers on drop.
//! Optionally inside a network namespace (`ip netns exec`).

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A port that nothing listens on: bound, released, and checked to refuse connections.
/// For "the upstream is down" cases.
pub fn closed_port() -> u16 {
    loop {
        let port = free_port();
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            return port;
        }
    }
}

/// The nginx binary, or a failed test saying how to install it.
pub fn nginx_binary() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain([
        "/usr/sbin",
        "/usr/local/sbin",
        "/usr/local/nginx/sbin",
    ]) {
        let candidate = Path::new(dir).join("nginx");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("nginx not found: install nginx: apt-get install nginx");
}

/// A running nginx master (and its worker), killed as a process group on drop.
pub struct Nginx {
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `servers` (one or more `server { … }` blocks) inside the `http {}`
    /// block, and waits until it listens. Ports are the test's to pick ([`free_port`]).
    pub fn start(servers: &str) -> Self {
        Self::start_in(None, servers)
    }

    /// Like [`Nginx::start`], inside the network namespace `netns` when given.
    pub fn start_in(netns: Option<&str>, servers: &str) -> Self {
        let bin = nginx_binary();
        let dir = tempfile::Builder::new()
            .prefix("vt-nginx")
            .tempdir()
            .expect("nginx temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("tmp")).expect("nginx tmp dir");
        // As root, nginx would run its workers as `nobody`, who cannot use the 0700 temp
        // dir; keep them root (the directive is ignored with a warning otherwise).
        let running_as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let user = if running_as_root { "user root;" } else { "" };
        let conf = format!(
            "# Written by tests/tests/support/nginx.rs\n\
             worker_processes 1;\n\
             {user}\n\
             pid nginx.pid;\n\
             error_log error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n\
             \x20 access_log access.log;\n\
             \x20 client_body_temp_path tmp/body;\n\
             \x20 proxy_temp_path tmp/proxy;\n\
             \x20 fastcgi_temp_path tmp/fastcgi;\n\
             \x20 uwsgi_temp_path tmp/uwsgi;\n\
             \x20 scgi_temp_path tmp/scgi;\n\
             \x20 default_type application/octet-stream;\n\
             {servers}\n\
             }}\n"
        );
        let conf_path = root.join("nginx.conf");
        std::fs::write(&conf_path, &conf).expect("write nginx.conf");
        let out = std::fs::File::create(root.join("stderr.log")).expect("nginx stderr log");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        // `-p` makes every relative path above live in the temp dir; `-e` moves the log
        // nginx writes before it has read the config (default /var/log/nginx/error.log).
        cmd.arg("-p")
            .arg(format!("{}/", root.display()))
            .arg("-e")
            .arg("error.log")
            .arg("-c")
            .arg(&conf_path)
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): install nginx: apt-get install nginx",
                bin.display()
            )
        });
        let mut me = Self { child, dir };
        // nginx writes its pid file after it has bound every listening socket, so from
        // then on connections queue in the kernel even before a worker accepts them.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if me.dir.path().join("nginx.pid").exists() {
                return me;
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!(
                    "nginx exited ({status}) before listening:\n{}\nconfig:\n{conf}",
                    me.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not start within 10 s:\n{}\nconfig:\n{conf}",
                me.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// nginx's stderr and error log, for failure messages.
    pub fn logs(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- nginx stderr ---\n{}--- nginx error.log ---\n{}",
            read("stderr.log"),
            read("error.log")
        )
    }

    /// The access log (one line per request nginx answered).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The master was started in its own process group: end it and its workers.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
