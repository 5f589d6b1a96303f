//! Network namespaces for reachability tests (docs/incidents.md, "Blocked from the guest
//! Wi-Fi"): a router joining a server, an office and a guest network and the test's own
//! (root) namespace, with a firewall in the server namespace. Every namespace, veth, route
//! and iptables rule lives inside a namespace (or goes away with one), and each namespace
//! is deleted on drop, after the processes still running in it are killed; namespaces left
//! by a crashed earlier run are removed when the next lab starts.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Every namespace and interface this module makes starts with this, then the pid of the
/// test process that made it: `vtn<pid>-<n>-srv`, `vtn<pid>x<n>h`.
pub const PREFIX: &str = "vtn";

/// The TCP port the server namespace's "API" (nginx) listens on.
pub const API_PORT: u16 = 8080;

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown} ({e}): apt-get install iproute2 iptables"))
}

/// Runs a command and panics with its stderr when it fails; returns stdout.
fn check(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip(args: &[&str]) -> String {
    check(Command::new("ip").args(args))
}

/// `ip` and `iptables` are installed and usable (root, and a kernel that allows netns).
pub fn require_tools() {
    for (bin, package) in [("ip", "iproute2"), ("iptables", "iptables")] {
        let found = std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .chain(["/usr/sbin", "/sbin"])
            .any(|d| Path::new(d).join(bin).is_file());
        assert!(found, "`{bin}` not found: apt-get install {package}");
    }
    let out = run(Command::new("ip").args(["netns", "list"]));
    assert!(
        out.status.success(),
        "`ip netns list` failed ({}): network namespace tests need root",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The pid embedded in one of our names (`vtn<pid>-…` or `vtn<pid>x…`).
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Removes namespaces and root-side interfaces whose creating test process is gone
/// (a run that was killed before its guards could drop).
pub fn remove_stale() {
    let list = ip(&["netns", "list"]);
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        if owner_pid(name).is_some_and(|p| !pid_alive(p)) {
            kill_all_in(name);
            let _ = run(Command::new("ip").args(["netns", "del", name]));
        }
    }
    let links = ip(&["-o", "link", "show"]);
    for link in links.lines().filter_map(|l| l.split(':').nth(1)) {
        let link = link.trim().split('@').next().unwrap_or_default();
        if owner_pid(link).is_some_and(|p| !pid_alive(p)) {
            let _ = run(Command::new("ip").args(["link", "del", link]));
        }
    }
}

/// Kills every process that runs inside namespace `name`.
fn kill_all_in(name: &str) {
    for _ in 0..3 {
        let out = run(Command::new("ip").args(["netns", "pids", name]));
        let pids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One network namespace with `lo` up; deleted on drop, its processes killed first.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(name: &str) -> Self {
        ip(&["netns", "add", name]);
        let ns = Self {
            name: name.to_owned(),
        };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// `ip netns exec <name> <program>`, for the caller to add arguments and spawn.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `args` inside the namespace; panics with stderr on failure; returns stdout.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut c = self.command(args[0]);
        check(c.args(&args[1..]))
    }

    /// Runs `args` inside the namespace and returns whatever happened.
    pub fn try_exec(&self, args: &[&str]) -> Output {
        let mut c = self.command(args[0]);
        run(c.args(&args[1..]))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_all_in(&self.name);
        let _ = run(Command::new("ip").args(["netns", "del", &self.name]));
    }
}

/// One /24 of the lab: the network, the router's address and the host's address on it.
#[derive(Debug, Clone)]
pub struct Subnet {
    /// `10.X.Y.0/24`
    pub cidr: String,
    /// `10.X.Y.1`: the router's side.
    pub gateway: String,
    /// `10.X.Y.2`: the server, office, guest or root side.
    pub host: String,
}

impl Subnet {
    fn new(second: u8, third: u8) -> Self {
        Self {
            cidr: format!("10.{second}.{third}.0/24"),
            gateway: format!("10.{second}.{third}.1"),
            host: format!("10.{second}.{third}.2"),
        }
    }
}

/// A `10.X.0.0/16` that no route or address on this machine uses yet.
fn free_second_octet(n: u32) -> u8 {
    let routes = ip(&["-4", "route", "show", "table", "all"]) + &ip(&["-4", "-o", "addr", "show"]);
    // Start somewhere that depends on the pid, so concurrent test processes diverge.
    let start = (std::process::id().wrapping_add(n.wrapping_mul(7))) % 150;
    (0..150)
        .map(|i| (77 + (start + i) % 150) as u8)
        .find(|x| !routes.contains(&format!("10.{x}.")))
        .expect("no free 10.X.0.0/16 for the lab: too many routes on this machine")
}

/// The guest Wi-Fi reproduction (docs/incidents.md, "Blocked from the guest Wi-Fi"):
///
/// ```text
///   root (test process) ── 10.X.4.0/24 ──┐
///   server  (agent, nginx :8080) ─ 10.X.1.0/24 ─ router (forwarding)
///   office  (browser) ──────────── 10.X.2.0/24 ─┤
///   guest   (browser) ──────────── 10.X.3.0/24 ─┘
/// ```
///
/// The server's firewall ([`Lab::firewall_api`]) admits the API port only from the
/// office and from the server itself, and silently drops everyone else, as a cloud
/// security group does.
pub struct Lab {
    pub server_net: Subnet,
    pub office_net: Subnet,
    pub guest_net: Subnet,
    pub root_net: Subnet,
    /// The root namespace's end of its veth to the router.
    pub host_link: String,
    // Dropped in declaration order: the leaf namespaces, then the router (whose
    // deletion also removes the root-side veth and the routes through it).
    pub server: Netns,
    pub office: Netns,
    pub guest: Netns,
    pub router: Netns,
}

impl Lab {
    pub fn start() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        require_tools();
        remove_stale();
        let n = N.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let x = free_second_octet(n);
        let ns = |role: &str| format!("{PREFIX}{pid}-{n}-{role}");
        // Interface names are at most 15 bytes: vtn + pid (≤ 7) + x + n + role (≤ 2).
        let link = |role: &str| format!("{PREFIX}{pid}x{n}{role}");
        let router = Netns::create(&ns("rtr"));
        let server = Netns::create(&ns("srv"));
        let office = Netns::create(&ns("off"));
        let guest = Netns::create(&ns("gst"));
        router.exec(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
        let lab_nets = [
            (&server, "s", Subnet::new(x, 1)),
            (&office, "o", Subnet::new(x, 2)),
            (&guest, "g", Subnet::new(x, 3)),
        ];
        for (leaf, role, net) in &lab_nets {
            let (leaf_end, router_end) = (link(role), link(&format!("r{role}")));
            ip(&[
                "link",
                "add",
                &leaf_end,
                "netns",
                &leaf.name,
                "type",
                "veth",
                "peer",
                "name",
                &router_end,
                "netns",
                &router.name,
            ]);
            leaf.exec(&[
                "ip",
                "addr",
                "add",
                &format!("{}/24", net.host),
                "dev",
                &leaf_end,
            ]);
            leaf.exec(&["ip", "link", "set", &leaf_end, "up"]);
            leaf.exec(&["ip", "route", "add", "default", "via", &net.gateway]);
            router.exec(&[
                "ip",
                "addr",
                "add",
                &format!("{}/24", net.gateway),
                "dev",
                &router_end,
            ]);
            router.exec(&["ip", "link", "set", &router_end, "up"]);
        }
        // The root namespace's link: the test process reaches the agent and the
        // chromedrivers through the router, like an admin on another network would.
        let root_net = Subnet::new(x, 4);
        let host_link = link("h");
        let router_end = link("rh");
        ip(&[
            "link",
            "add",
            &host_link,
            "type",
            "veth",
            "peer",
            "name",
            &router_end,
            "netns",
            &router.name,
        ]);
        ip(&[
            "addr",
            "add",
            &format!("{}/24", root_net.host),
            "dev",
            &host_link,
        ]);
        ip(&["link", "set", &host_link, "up"]);
        router.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", root_net.gateway),
            "dev",
            &router_end,
        ]);
        router.exec(&["ip", "link", "set", &router_end, "up"]);
        for (_, _, net) in &lab_nets {
            ip(&[
                "route",
                "add",
                &net.cidr,
                "via",
                &root_net.gateway,
                "dev",
                &host_link,
            ]);
        }
        let [(_, _, server_net), (_, _, office_net), (_, _, guest_net)] = lab_nets;
        Self {
            server_net,
            office_net,
            guest_net,
            root_net,
            host_link,
            server,
            office,
            guest,
            router,
        }
    }

    /// The server's address (where the agent and the API listen).
    pub fn server_ip(&self) -> &str {
        &self.server_net.host
    }

    /// In the server namespace: `port` admits the office network and the server itself
    /// (loopback and its own subnet, so the agent can probe it) and drops everything
    /// else without an answer, so a guest's connect times out (the firewall signature).
    pub fn firewall_api(&self, port: u16) {
        let port = port.to_string();
        let rule = |extra: &[&str]| {
            let mut args = vec![
                "iptables", "-w", "-A", "INPUT", "-p", "tcp", "--dport", &port,
            ];
            args.extend_from_slice(extra);
            self.server.exec(&args);
        };
        rule(&["-i", "lo", "-j", "ACCEPT"]);
        rule(&["-s", &self.server_net.cidr, "-j", "ACCEPT"]);
        rule(&["-s", &self.office_net.cidr, "-j", "ACCEPT"]);
        rule(&["-j", "DROP"]);
    }

    /// `curl` from inside `ns` (connect timeout `secs`): its exit code (0 ok, 7
    /// refused, 28 timed out) and what it printed.
    pub fn curl_from(&self, ns: &Netns, url: &str, secs: u32) -> (i32, String) {
        let out = ns.try_exec(&[
            "curl",
            "-sS",
            "--noproxy",
            "*",
            "--connect-timeout",
            &secs.to_string(),
            "-m",
            &(secs + 2).to_string(),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            url,
        ]);
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The routes and the host link go with the router's namespace; deleting the link
        // first only makes that explicit. The namespaces drop right after this.
        let _ = run(Command::new("ip").args(["link", "del", &self.host_link]));
    }
}

/// chromedriver in a namespace (or the root one), in its own process group so that
/// dropping it also ends Chromium; listening where the test process can reach it.
pub struct Webdriver {
    child: Child,
    pub url: String,
    profile: tempfile::TempDir,
}

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

impl Webdriver {
    /// In `ns`, listening on `listen_ip:port` and admitting only `client_ip`;
    /// in the root namespace (`ns` = None) on loopback.
    pub fn start(ns: Option<&Netns>, listen_ip: &str, client_ip: &str) -> Self {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(bin).exists(),
                "{bin} missing: apt-get install chromium chromium-driver"
            );
        }
        let port = match ns {
            // A fresh namespace has every port free.
            Some(_) => 9515,
            None => super::nginx::free_port(),
        };
        let mut cmd = match ns {
            Some(ns) => ns.command(CHROMEDRIVER),
            None => Command::new(CHROMEDRIVER),
        };
        cmd.arg(format!("--port={port}"));
        if ns.is_some() {
            // With an allow-list chromedriver listens on every address, not just loopback.
            cmd.arg(format!("--allowed-ips={client_ip}"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromedriver ({e}): apt-get install chromium-driver")
            });
        let deadline = Instant::now() + Duration::from_secs(15);
        let addr = format!("{listen_ip}:{port}");
        while std::net::TcpStream::connect_timeout(
            &addr.parse().expect("chromedriver address"),
            Duration::from_millis(500),
        )
        .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            url: format!("http://{addr}"),
            profile: tempfile::tempdir().expect("profile dir"),
        }
    }

    /// A new headless Chromium session with the flags from docs/development.md.
    pub async fn client(&self, width: u32, height: u32) -> fantoccini::Client {
        let profile = self
            .profile
            .path()
            .join(format!("p{}", self.profile_counter()));
        let caps = super::browser::chrome_capabilities(width, height, &profile);
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("WebDriver session at {}: {e}", self.url))
    }

    fn profile_counter(&self) -> u32 {
        static N: AtomicU32 = AtomicU32::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }
}

impl Drop for Webdriver {
    fn drop(&mut self) {
        // SIGTERM lets Chromium shut down its helpers; SIGKILL only what is left.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
