//! The host's own firewall against the kernel: rules loaded into a server network
//! namespace (with `iptables-restore`, then natively with `nft -f`), read back
//! inside it with `iptables-save` and `nft -j list ruleset`, evaluated by Vantage, and
//! checked against real TCP connection attempts from an office and a guest namespace:
//! Allowed ↔ connected, Denied by DROP ↔ timed out, Denied by REJECT ↔ refused (or "no
//! route to host" for ICMP host/admin-prohibited). A container-like namespace behind a
//! `dock0` veth, reached through Docker-shaped DNAT rules, checks the FORWARD path of
//! published ports that INPUT never sees. An IPv6 pair of namespaces checks neighbour
//! discovery: without it an "allowed" port is unreachable.
//!
//! Only namespaces this test creates carry traffic; all of them are removed on drop.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use support::netns::{Lab, Netns, PREFIX};
use support::nginx::Nginx;
use vantage_shared::rules::{
    evaluate, parse_rules, summary, DestinationInfo, HostDenial, HostPath, Outcome, Question,
    RuleSet, Verdict,
};

/// How long a connection attempt may take before it counts as timed out: a DROP answers
/// nothing; REJECT and accepted connections answer within milliseconds on veths.
const CONNECT_TIMEOUT_S: u32 = 2;

/// The container-like namespace's network, inside the server namespace only.
const CTR_NET: &str = "10.250.0.0/24";
const CTR_GW: &str = "10.250.0.1";
const CTR_IP: &str = "10.250.0.2";

/// Every tool the test runs, with the package that has it.
fn require_tools() {
    let path = std::env::var("PATH").unwrap_or_default();
    for (bin, package) in [
        ("ip", "iproute2"),
        ("iptables", "iptables"),
        ("iptables-restore", "iptables"),
        ("iptables-save", "iptables"),
        ("nft", "nftables"),
        ("iptables-legacy", "iptables"),
        ("setpriv", "util-linux"),
        ("bash", "bash"),
        ("timeout", "coreutils"),
    ] {
        let found = path
            .split(':')
            .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
            .any(|d| Path::new(d).join(bin).is_file());
        assert!(
            found,
            "`{bin}` not found: apt-get install iproute2 iptables nftables ({package} has it)"
        );
    }
}

/// What the kernel did with one connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Connected,
    TimedOut,
    Refused,
    /// EHOSTUNREACH, "No route to host".
    Unreachable,
    /// ENETUNREACH, "Network is unreachable".
    NetUnreachable,
    /// EACCES, "Permission denied".
    PermissionDenied,
    Other,
}

/// What bash printed for a failed connect.
fn kernel_of(code: Option<i32>, err: &str) -> Kernel {
    match code {
        Some(0) => Kernel::Connected,
        Some(124) => Kernel::TimedOut,
        _ if err.contains("Connection refused") => Kernel::Refused,
        _ if err.contains("No route to host") => Kernel::Unreachable,
        _ if err.contains("Network is unreachable") => Kernel::NetUnreachable,
        _ if err.contains("Permission denied") => Kernel::PermissionDenied,
        _ => Kernel::Other,
    }
}

/// A TCP connect from inside `ns` (bash's /dev/tcp: one plain connect, no retries).
fn attempt(ns: &str, ip: &str, port: u16) -> (Kernel, String) {
    let script = format!("exec 3<>/dev/tcp/{ip}/{port}");
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "timeout",
            &CONNECT_TIMEOUT_S.to_string(),
        ])
        .args(["bash", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (kernel_of(out.status.code(), &err), err.trim().to_owned())
}

/// What the kernel must do for Vantage's verdict; `None` for Unknown.
fn expected(v: &Verdict) -> Option<Vec<Kernel>> {
    match v.outcome {
        Outcome::Allowed => Some(vec![Kernel::Connected]),
        Outcome::Denied => Some(match v.host.as_ref().and_then(|h| h.denial) {
            Some(HostDenial::Dropped) => vec![Kernel::TimedOut],
            Some(HostDenial::Refused) => vec![Kernel::Refused],
            Some(HostDenial::Unreachable) => vec![Kernel::Unreachable],
            Some(HostDenial::NetworkUnreachable) => vec![Kernel::NetUnreachable],
            Some(HostDenial::PermissionDenied) => vec![Kernel::PermissionDenied],
            // The handshake completes: the connect succeeds, the request then times out.
            Some(HostDenial::HandshakeOnly) => vec![Kernel::Connected],
            Some(HostDenial::Rejected) => vec![
                Kernel::Refused,
                Kernel::Unreachable,
                Kernel::NetUnreachable,
                Kernel::PermissionDenied,
            ],
            None => vec![
                Kernel::TimedOut,
                Kernel::Refused,
                Kernel::Unreachable,
                Kernel::NetUnreachable,
                Kernel::PermissionDenied,
            ],
        }),
        Outcome::Unknown => None,
    }
}

/// Runs `program` in `ns` with `input` on stdin; panics with its stderr on failure.
fn exec_with_stdin(ns: &Netns, program: &str, args: &[&str], input: &str) {
    let mut child = ns
        .command(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} ({e}): apt-get install iptables nftables"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\ninput:\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The server namespace with a container-like namespace behind `dock0`, as Docker's
/// default bridge puts a container behind `docker0`.
struct Host {
    // Dropped in declaration order: the listeners, the container, then the lab.
    _nginx: Vec<Nginx>,
    _ctr: Netns,
    lab: Lab,
}

fn start_host() -> Host {
    static N: AtomicU32 = AtomicU32::new(0);
    require_tools();
    let lab = Lab::start();
    // Named like the lab's namespaces, so a crashed run's leftover is removed by the next.
    let ctr = Netns::create(&format!(
        "{PREFIX}{}-fk{}-ctr",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    // Interface names only need to be unique inside these namespaces.
    lab.server.exec(&[
        "ip", "link", "add", "dock0", "type", "veth", "peer", "name", "eth0", "netns", &ctr.name,
    ]);
    lab.server
        .exec(&["ip", "addr", "add", &format!("{CTR_GW}/24"), "dev", "dock0"]);
    lab.server.exec(&["ip", "link", "set", "dock0", "up"]);
    ctr.exec(&["ip", "addr", "add", &format!("{CTR_IP}/24"), "dev", "eth0"]);
    ctr.exec(&["ip", "link", "set", "eth0", "up"]);
    ctr.exec(&["ip", "route", "add", "default", "via", CTR_GW]);
    lab.server
        .exec(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    // The kernel rate-limits ICMP errors per destination: a guest rejected a few times in a
    // row would see the next REJECT as a timeout. Every REJECT must answer here.
    lab.server
        .exec(&["sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0"]);
    let listen = |ports: &[u16]| {
        let lines: String = ports
            .iter()
            .map(|p| format!("  listen 0.0.0.0:{p};\n"))
            .collect();
        format!("server {{\n{lines}  location / {{ return 200 'ok'; }}\n}}\n")
    };
    let nginx = vec![
        Nginx::start_in(
            Some(&lab.server.name),
            &listen(&[8080, 8081, 8082, 8083, 8084, 8085]),
        ),
        Nginx::start_in(Some(&ctr.name), &listen(&[80, 81])),
    ];
    Host {
        _nginx: nginx,
        _ctr: ctr,
        lab,
    }
}

/// One row: a client, a port, and what the kernel is expected to do (which also guards
/// the lab itself: a broken route would time out everything and agree with nothing).
struct Row {
    client: &'static str,
    port: u16,
    kernel: Kernel,
    /// Vantage says Unknown here (a match it does not evaluate), naming this.
    unknown_names: Option<&'static str>,
    forward: bool,
}

fn row(client: &'static str, port: u16, kernel: Kernel) -> Row {
    Row {
        client,
        port,
        kernel,
        unknown_names: None,
        forward: false,
    }
}

/// Attempts every row's connection, in parallel (the drops each wait for the timeout).
fn attempt_all(host: &Host, rows: &[Row]) -> Vec<(Kernel, String)> {
    let lab = &host.lab;
    let server = lab.server_ip().to_owned();
    std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .iter()
            .map(|r| {
                let ns = match r.client {
                    "office" => lab.office.name.clone(),
                    _ => lab.guest.name.clone(),
                };
                let server = server.clone();
                s.spawn(move || attempt(&ns, &server, r.port))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Evaluates every row with `sets` and returns where Vantage and the kernel disagree.
fn compare(
    host: &Host,
    sets: &[RuleSet],
    view: &str,
    rows: &[Row],
    results: &[(Kernel, String)],
    strict: bool,
) -> Vec<String> {
    let lab = &host.lab;
    let server = lab.server_ip().to_owned();
    let mut failures = Vec::new();
    for (r, (kernel, err)) in rows.iter().zip(results) {
        let kernel = *kernel;
        let source = match r.client {
            "office" => &lab.office_net.host,
            _ => &lab.guest_net.host,
        };
        let q = Question::tcp(source.parse().unwrap(), r.port).with_destination(DestinationInfo {
            address: Some(server.parse().unwrap()),
            ..DestinationInfo::default()
        });
        let v = evaluate(sets, &q);
        let line = format!(
            "[{view}] {} → tcp/{}: kernel {kernel:?} ({err}), Vantage {} {} — {}",
            r.client,
            r.port,
            v.outcome,
            v.explanation_code,
            summary(&v)
        );
        if kernel != r.kernel {
            failures.push(format!(
                "{line}\n  the lab expected the kernel to say {:?}",
                r.kernel
            ));
            continue;
        }
        match expected(&v) {
            Some(want) if !want.contains(&kernel) => {
                failures.push(format!("{line}\n  Vantage's verdict means {want:?}"));
            }
            Some(_) => {
                if r.forward && v.host.as_ref().map(|h| h.path) != Some(HostPath::Forward) {
                    failures.push(format!("{line}\n  expected the FORWARD path (DNAT)"));
                }
            }
            None => {
                // Unknown is honest only where a rule could decide either way.
                let named = r
                    .unknown_names
                    .is_some_and(|n| v.unknown_reasons.iter().any(|u| u.reason.contains(n)));
                if strict && !named {
                    failures.push(format!(
                        "{line}\n  Unknown, but not because of {:?}",
                        r.unknown_names
                    ));
                }
            }
        }
        if strict && r.unknown_names.is_some() && v.outcome != Outcome::Unknown {
            failures.push(format!("{line}\n  expected Unknown"));
        }
    }
    failures
}

fn iptables_rules(office: &str, guest: &str) -> String {
    format!(
        "*filter\n\
         :INPUT DROP [0:0]\n\
         :FORWARD DROP [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n\
         :OFFICE - [0:0]\n\
         :DOCKER - [0:0]\n\
         :DOCKER-USER - [0:0]\n\
         -A INPUT -i lo -j ACCEPT\n\
         -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A INPUT -p tcp -m multiport --dports 8080,8082 -j OFFICE\n\
         -A INPUT -s {guest} -p tcp -m tcp --dport 8081 -j REJECT --reject-with tcp-reset\n\
         -A INPUT -s {office} -p tcp -m tcp --dport 8081 -j ACCEPT\n\
         -A INPUT -p tcp -m tcp --dport 8083 -j REJECT --reject-with icmp-host-prohibited\n\
         -A INPUT -p tcp -m tcp --dport 8085 -m recent --name vantage --rcheck --seconds 60 -j DROP\n\
         -A INPUT -p tcp -m tcp --dport 8085 -j ACCEPT\n\
         -A OFFICE -s {office} -m comment --comment \"office network\" -j ACCEPT\n\
         -A OFFICE -p tcp -m tcp --dport 8082 -j REJECT\n\
         -A OFFICE -j RETURN\n\
         -A FORWARD -j DOCKER-USER\n\
         -A FORWARD -o dock0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A FORWARD -o dock0 -j DOCKER\n\
         -A FORWARD -i dock0 ! -o dock0 -j ACCEPT\n\
         -A DOCKER -d {CTR_IP}/32 ! -i dock0 -o dock0 -p tcp -m tcp --dport 80 -j ACCEPT\n\
         -A DOCKER -d {CTR_IP}/32 ! -i dock0 -o dock0 -p tcp -m tcp --dport 81 -j ACCEPT\n\
         -A DOCKER-USER -s {guest} -p tcp -m tcp --dport 81 -j DROP\n\
         -A DOCKER-USER -j RETURN\n\
         COMMIT\n\
         *nat\n\
         :PREROUTING ACCEPT [0:0]\n\
         :INPUT ACCEPT [0:0]\n\
         :OUTPUT ACCEPT [0:0]\n\
         :POSTROUTING ACCEPT [0:0]\n\
         :DOCKER - [0:0]\n\
         -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n\
         -A POSTROUTING -s {CTR_NET} ! -o dock0 -j MASQUERADE\n\
         -A DOCKER -i dock0 -j RETURN\n\
         -A DOCKER ! -i dock0 -p tcp -m tcp --dport 8088 -j DNAT --to-destination {CTR_IP}:80\n\
         -A DOCKER ! -i dock0 -p tcp -m tcp --dport 8089 -j DNAT --to-destination {CTR_IP}:81\n\
         COMMIT\n"
    )
}

fn nft_rules(office: &str, guest: &str) -> String {
    format!(
        "table inet vantage_test {{\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority filter; policy drop;\n\
         \x20   iif \"lo\" accept\n\
         \x20   ct state vmap {{ established : accept, related : accept, invalid : drop }}\n\
         \x20   tcp dport {{ 8080, 8082 }} jump office\n\
         \x20   ip saddr {guest} tcp dport 8081 reject with tcp reset\n\
         \x20   ip saddr {office} tcp dport 8081 accept\n\
         \x20   tcp dport 8083 reject with icmpx admin-prohibited\n\
         \x20   tcp dport 8085 limit rate 1/minute drop\n\
         \x20   tcp dport 8085 accept\n\
         \x20 }}\n\
         \x20 chain office {{\n\
         \x20   ip saddr {office} accept\n\
         \x20   tcp dport 8082 reject\n\
         \x20   return\n\
         \x20 }}\n\
         \x20 chain forward {{\n\
         \x20   type filter hook forward priority filter; policy drop;\n\
         \x20   ct state established,related accept\n\
         \x20   iifname != \"dock0\" oifname \"dock0\" ip daddr {CTR_IP} ip saddr != {guest} tcp dport {{ 80, 81 }} accept\n\
         \x20   iifname != \"dock0\" oifname \"dock0\" ip daddr {CTR_IP} tcp dport 80 accept\n\
         \x20 }}\n\
         }}\n\
         table ip vantage_nat {{\n\
         \x20 chain prerouting {{\n\
         \x20   type nat hook prerouting priority dstnat; policy accept;\n\
         \x20   fib daddr type local tcp dport 8088 dnat to {CTR_IP}:80\n\
         \x20   fib daddr type local tcp dport 8089 dnat to {CTR_IP}:81\n\
         \x20 }}\n\
         \x20 chain postrouting {{\n\
         \x20   type nat hook postrouting priority srcnat; policy accept;\n\
         \x20   ip saddr {CTR_NET} oifname != \"dock0\" masquerade\n\
         \x20 }}\n\
         }}\n"
    )
}

/// The rows both rulesets are written to produce.
fn rows(unknown_8085: &'static str, kernel_8085: Kernel) -> Vec<Row> {
    use Kernel::*;
    let mut rows = vec![
        row("office", 8080, Connected),
        row("office", 8081, Connected),
        row("office", 8082, Connected),
        row("office", 8083, Unreachable),
        row("office", 8084, TimedOut),
        row("guest", 8080, TimedOut),
        row("guest", 8081, Refused),
        row("guest", 8082, Refused),
        row("guest", 8083, Unreachable),
        row("guest", 8084, TimedOut),
    ];
    for client in ["office", "guest"] {
        rows.push(Row {
            unknown_names: Some(unknown_8085),
            ..row(client, 8085, kernel_8085)
        });
    }
    // Published ports: INPUT drops 8088/8089, yet they are reached through FORWARD.
    rows.push(Row {
        forward: true,
        ..row("office", 8088, Connected)
    });
    rows.push(Row {
        forward: true,
        ..row("guest", 8088, Connected)
    });
    rows.push(Row {
        forward: true,
        ..row("office", 8089, Connected)
    });
    rows.push(Row {
        forward: true,
        ..row("guest", 8089, TimedOut)
    });
    rows
}

#[test]
fn vantage_verdicts_match_what_the_kernel_does() {
    let started = Instant::now();
    let host = start_host();
    let lab = &host.lab;
    let (office, guest) = (lab.office_net.cidr.clone(), lab.guest_net.cidr.clone());

    // 1. iptables rules, read back with iptables-save inside the server namespace.
    exec_with_stdin(
        &lab.server,
        "iptables-restore",
        &[],
        &iptables_rules(&office, &guest),
    );
    let saved = lab.server.exec(&["iptables-save"]);
    let sets = parse_rules(&saved, "iptables-save").unwrap_or_else(|e| panic!("{e}\n{saved}"));
    let ids: Vec<&str> = sets.iter().map(|s| s.id.as_str()).collect();
    assert!(
        ids.contains(&"iptables:filter") && ids.contains(&"iptables:nat"),
        "{ids:?}"
    );
    let rows_ipt = rows("-m recent", Kernel::Connected);
    let kernel = attempt_all(&host, &rows_ipt);
    let mut failures = compare(&host, &sets, "iptables-save", &rows_ipt, &kernel, true);

    // The same rules as nft shows them (iptables here may be the nf_tables backend): the
    // `xt` parts hide their options, so Vantage may say Unknown, but a decided verdict
    // must still be what the kernel does.
    let json = lab.server.exec(&["nft", "-j", "list", "ruleset"]);
    let nft_view = parse_rules(&json, "nft -j list ruleset").unwrap_or_else(|e| panic!("{e}"));
    failures.extend(compare(
        &host,
        &nft_view,
        "nft view of iptables",
        &rows_ipt,
        &kernel,
        false,
    ));

    // 2. The same policy written natively for nftables.
    lab.server.exec(&["nft", "flush", "ruleset"]);
    exec_with_stdin(
        &lab.server,
        "nft",
        &["-f", "-"],
        &nft_rules(&office, &guest),
    );
    let json = lab.server.exec(&["nft", "-j", "list", "ruleset"]);
    let sets = parse_rules(&json, "nft -j list ruleset").unwrap_or_else(|e| panic!("{e}\n{json}"));
    let ids: Vec<&str> = sets.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["nft:inet vantage_test", "nft:ip vantage_nat"]);
    // `limit rate 1/minute` passes the first packets, so the DROP after it applies.
    let rows_nft = rows("nft `limit`", Kernel::TimedOut);
    let kernel = attempt_all(&host, &rows_nft);
    failures.extend(compare(&host, &sets, "nft", &rows_nft, &kernel, true));

    assert!(
        failures.is_empty(),
        "Vantage and the kernel disagree:\n{}",
        failures.join("\n")
    );
    // The Docker caveat in words, from the iptables view.
    let saved_sets = parse_rules(&saved, "iptables-save").unwrap();
    let q = Question::tcp(lab.guest_net.host.parse().unwrap(), 8088);
    let v = evaluate(&saved_sets, &q);
    assert!(
        v.explanation
            .contains("INPUT and ufw rules do not apply to published ports"),
        "{}",
        v.explanation
    );
    assert_eq!(
        v.host.as_ref().and_then(|h| h.input_would),
        Some(Outcome::Denied)
    );
    drop(host);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// The agent reads the firewall of the host it runs on (here: the server namespace) with
/// `iptables-save`, `ip6tables-save` and `nft -j list ruleset`, loads it as the rules
/// `host`, and answers "would this source be allowed?" the way the kernel then behaves.
/// iptables' own tables are read once (from iptables-save, not again through nft's `xt`
/// view); a native nftables table beside them is read from nft. The same commands' output
/// pasted as files answers the same: nf_tables tables once, legacy ones too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_reads_its_hosts_firewall_live() {
    require_tools();
    let lab = Lab::start();
    let guest = lab.guest_net.cidr.clone();
    exec_with_stdin(
        &lab.server,
        "iptables-restore",
        &[],
        &format!(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -s {guest} -p tcp -m tcp --dport 8081 -j DROP\nCOMMIT\n"
        ),
    );
    exec_with_stdin(
        &lab.server,
        "nft",
        &["-f", "-"],
        &format!(
            "table inet vantage_extra {{\n\
             \x20 chain input {{\n\
             \x20   type filter hook input priority 10; policy accept;\n\
             \x20   ip saddr {guest} tcp dport 8082 reject with tcp reset\n\
             \x20 }}\n\
             }}\n"
        ),
    );
    // A rule in the legacy backend too: the kernel applies both, and the nf_tables
    // iptables-save only warns about it on stderr.
    lab.server.exec(&[
        "iptables-legacy",
        "-w",
        "-A",
        "INPUT",
        "-s",
        &guest,
        "-p",
        "tcp",
        "--dport",
        "8083",
        "-j",
        "DROP",
    ]);
    let _nginx = Nginx::start_in(
        Some(&lab.server.name),
        "server {\n  listen 0.0.0.0:8080;\n  listen 0.0.0.0:8081;\n  listen 0.0.0.0:8082;\n  \
         listen 0.0.0.0:8083;\n  location / { return 200 'ok'; }\n}\n",
    );
    let data = tempfile::tempdir().unwrap();
    let server_ip = lab.server_ip().to_owned();
    let agent = support::Agent::start_with(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &support::AgentLaunch {
            listen: "0.0.0.0:0".into(),
            netns: Some(lab.server.name.clone()),
            host: Some(server_ip.clone()),
            ..Default::default()
        },
    );

    let (status, before) = agent.get("/api/rules/host").await;
    assert_eq!((status, before), (200, serde_json::Value::Null));
    let (status, read) = agent
        .post_json("/api/rules/host", &serde_json::json!({}))
        .await;
    assert_eq!(status, 200, "{read:#}");
    let ids: Vec<&str> = read["loaded"]["sets"]
        .as_array()
        .unwrap_or_else(|| panic!("nothing loaded: {read:#}"))
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(ids.contains(&"iptables:filter"), "{ids:?}");
    assert!(ids.contains(&"nft:inet vantage_extra"), "{ids:?}");
    // With iptables' nf_tables backend, nft would show `ip filter` again with opaque `xt`
    // matches; with the legacy backend nft never sees it. Either way, not twice.
    assert!(!ids.contains(&"nft:ip filter"), "{ids:?}\n{read:#}");
    assert_eq!(read["loaded"]["id"], "host");
    let (_, listed) = agent.get("/api/rules").await;
    assert!(
        listed.as_array().unwrap().iter().any(|l| l["id"] == "host"),
        "{listed:#}"
    );

    let server = server_ip.clone();
    let cases = [
        ("office", 8081, "allowed", Kernel::Connected),
        ("guest", 8080, "allowed", Kernel::Connected),
        ("guest", 8081, "denied", Kernel::TimedOut),
        ("guest", 8082, "denied", Kernel::Refused),
        ("guest", 8083, "denied", Kernel::TimedOut),
        ("office", 8083, "allowed", Kernel::Connected),
    ];
    let mut failures = Vec::new();
    let mut live_answers = Vec::new();
    for (client, port, want, kernel_want) in cases {
        let (ns, source) = match client {
            "office" => (&lab.office, &lab.office_net.host),
            _ => (&lab.guest, &lab.guest_net.host),
        };
        let (s, v) = agent
            .post_json(
                "/api/rules/evaluate",
                &serde_json::json!({"source": source, "port": port, "sets": [], "destination": {"address": server}}),
            )
            .await;
        let ns_name = ns.name.clone();
        let server_c = server.clone();
        let (kernel, err) = tokio::task::spawn_blocking(move || attempt(&ns_name, &server_c, port))
            .await
            .unwrap();
        if s != 200 || v["outcome"] != want || kernel != kernel_want {
            failures.push(format!(
                "{client} → tcp/{port}: HTTP {s}, Vantage {} (want {want}), kernel {kernel:?} \
                 (want {kernel_want:?}: {err})\n{v:#}",
                v["outcome"]
            ));
        }
        live_answers.push((source.clone(), port, v));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let legacy = read["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["command"] == "iptables-legacy-save" && c["ok"] == true);
    assert!(legacy, "the legacy tables were not read: {read:#}");

    // A burst of reads runs the commands at most twice (the one going when the burst came,
    // and one that started after it): later requests share the newer answer.
    let body = serde_json::json!({});
    let post = || agent.post_json("/api/rules/host", &body);
    let (a, b, c, d) = tokio::join!(post(), post(), post(), post());
    let reads = [a, b, c, d];
    let mut read_ats: Vec<String> = reads
        .iter()
        .map(|(s, r)| {
            assert_eq!(*s, 200, "{r:#}");
            r["read_at"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    read_ats.sort();
    read_ats.dedup();
    assert!(
        read_ats.len() <= 2,
        "four reads ran the commands {read_ats:?}"
    );

    // Dropped on request: the host's rules stop applying to every question.
    let res = support::http()
        .delete(agent.url("/api/rules/host"))
        .bearer_auth(&agent.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    let (_, listed) = agent.get("/api/rules").await;
    assert!(
        !listed.as_array().unwrap().iter().any(|l| l["id"] == "host"),
        "{listed:#}"
    );

    // Pasted instead: the same commands' output, each loaded as its own file, answers as the
    // live read did: iptables' nf_tables table is in both `iptables-save` and nft's output
    // and counts once; the legacy table is a table of its own that applies too.
    let mut pasted = Vec::new();
    for (label, cmd) in [
        ("iptables-save", vec!["iptables-save"]),
        ("iptables-legacy-save", vec!["iptables-legacy-save"]),
        ("nft", vec!["nft", "-j", "list", "ruleset"]),
    ] {
        let text = lab.server.exec(&cmd);
        let res = support::http()
            .post(agent.url(&format!("/api/rules?name={label}")))
            .bearer_auth(&agent.token)
            .body(text.clone())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        assert_eq!(status, 201, "{label}: {body:#}\n{text}");
        pasted.extend(
            body["sets"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["id"].as_str().map(str::to_owned)),
        );
    }
    assert!(
        pasted.contains(&"iptables-legacy:filter".to_owned()),
        "{pasted:?}"
    );
    assert!(pasted.contains(&"nft:ip filter".to_owned()), "{pasted:?}");
    for (source, port, live) in &live_answers {
        let (s, v) = agent
            .post_json(
                "/api/rules/evaluate",
                &serde_json::json!({"source": source, "port": port, "sets": [], "destination": {"address": server}}),
            )
            .await;
        let rules = |v: &serde_json::Value| -> Vec<String> {
            v["deciding_rules"]
                .as_array()
                .map(|a| a.iter().map(|r| r["text"].to_string()).collect())
                .unwrap_or_default()
        };
        if s != 200 || v["outcome"] != live["outcome"] || rules(&v) != rules(live) {
            failures.push(format!(
                "pasted, {source} → tcp/{port}: HTTP {s}, {} by {:?}; live: {} by {:?}\n{v:#}",
                v["outcome"],
                rules(&v),
                live["outcome"],
                rules(live)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An agent without root gets each command's own error and a sentence saying what to do,
/// and keeps running.
#[tokio::test]
async fn without_root_the_agent_says_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    require_tools();
    let data = tempfile::tempdir().unwrap();
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let agent = support::Agent::start_with(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &support::AgentLaunch {
            user: Some(65534),
            ..Default::default()
        },
    );
    let (status, read) = agent
        .post_json("/api/rules/host", &serde_json::json!({}))
        .await;
    assert_eq!(status, 200, "{read:#}");
    assert!(read["loaded"].is_null(), "{read:#}");
    let summary = read["summary"].as_str().unwrap();
    assert!(
        summary.contains("uid 65534") && summary.contains("needs root"),
        "{summary}"
    );
    let commands = read["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 3, "{read:#}");
    assert!(commands.iter().all(|c| c["ok"] == false), "{read:#}");
    let (status, _) = agent.get("/api/health").await;
    assert_eq!(status, 200);
}

/// Two namespaces on one link, with IPv6 (addresses without duplicate detection, so they
/// work at once) and IPv4: a client and a server with nginx on ports 8080–8087 of both.
struct V6Link {
    _nginx: Nginx,
    server: Netns,
    client: Netns,
}

const V6_SERVER: &str = "fd00:76::1";
const V6_CLIENT: &str = "fd00:76::2";
const V4_SERVER: &str = "10.76.0.1";
const V4_CLIENT: &str = "10.76.0.2";

fn v6_link() -> V6Link {
    static N: AtomicU32 = AtomicU32::new(0);
    require_tools();
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = |role: &str| format!("{PREFIX}{}-v6{n}-{role}", std::process::id());
    let (server, client) = (Netns::create(&name("srv")), Netns::create(&name("cli")));
    server.exec(&[
        "ip",
        "link",
        "add",
        "v6s",
        "type",
        "veth",
        "peer",
        "name",
        "v6c",
        "netns",
        &client.name,
    ]);
    for (ns, dev, addr, v4) in [
        (&server, "v6s", V6_SERVER, V4_SERVER),
        (&client, "v6c", V6_CLIENT, V4_CLIENT),
    ] {
        let v6 = format!("{addr}/64");
        ns.exec(&["ip", "addr", "add", &v6, "dev", dev, "nodad"]);
        ns.exec(&["ip", "addr", "add", &format!("{v4}/24"), "dev", dev]);
        ns.exec(&["ip", "link", "set", dev, "up"]);
    }
    // Every REJECT must answer: no ICMP rate limit in the server.
    server.exec(&["sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0"]);
    server.exec(&["sysctl", "-q", "-w", "net.ipv6.icmp.ratelimit=0"]);
    let listens: String = (8080..=8087)
        .map(|p| format!("  listen [::]:{p} ipv6only=on;\n  listen 0.0.0.0:{p};\n"))
        .collect();
    let nginx = Nginx::start_in(
        Some(&server.name),
        &format!("server {{\n{listens}  location / {{ return 200 'ok'; }}\n}}\n"),
    );
    V6Link {
        _nginx: nginx,
        server,
        client,
    }
}

/// One connect from the client to the server's `ip` and `port`, after forgetting what the
/// client knew of its neighbours (so that each attempt resolves the address again). The
/// limit is longer than address resolution's 3 s, which is what fails without discovery.
fn attempt_on_link(link: &V6Link, ip: &str, port: u16) -> (Kernel, String) {
    link.client.exec(&["ip", "neigh", "flush", "all"]);
    let out = link
        .client
        .command("timeout")
        .args(["8", "bash", "-c", &format!("exec 3<>/dev/tcp/{ip}/{port}")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (kernel_of(out.status.code(), &err), err.trim().to_owned())
}

/// An input policy of DROP that admits the port and established traffic but not neighbour
/// discovery: the kernel never gets the SYN (address resolution fails, "no route to host"),
/// and Vantage says the same, naming the policy. Admitting ICMPv6 types 135 and 136 fixes
/// both.
#[test]
fn ipv6_needs_neighbour_discovery() {
    let link = v6_link();
    let rules = |nd: &str| {
        format!(
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
             -A INPUT -i lo -j ACCEPT\n{nd}\
             -A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT\nCOMMIT\n"
        )
    };
    let nd = "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT\n\
              -A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 136 -j ACCEPT\n";
    let mut failures = Vec::new();
    for (with_nd, want_kernel) in [(false, Kernel::Unreachable), (true, Kernel::Connected)] {
        exec_with_stdin(
            &link.server,
            "ip6tables-restore",
            &[],
            &rules(if with_nd { nd } else { "" }),
        );
        let saved = link.server.exec(&["ip6tables-save"]);
        let sets = parse_rules(&saved, "ip6tables-save").unwrap_or_else(|e| panic!("{e}"));
        let v = evaluate(&sets, &Question::tcp(V6_CLIENT.parse().unwrap(), 8080));
        let (kernel, err) = attempt_on_link(&link, V6_SERVER, 8080);
        let line = format!(
            "neighbour discovery admitted: {with_nd}: kernel {kernel:?} ({err}), Vantage {} {} — {}",
            v.outcome,
            v.explanation_code,
            summary(&v)
        );
        if kernel != want_kernel {
            failures.push(format!("{line}\n  the lab expected {want_kernel:?}"));
        } else if !expected(&v).is_some_and(|k| k.contains(&kernel)) {
            failures.push(format!(
                "{line}\n  Vantage's verdict means {:?}",
                expected(&v)
            ));
        }
        if !with_nd && v.explanation_code.as_str() != "HOST_NEIGHBOUR_DISCOVERY" {
            failures.push(format!("{line}\n  not said to be neighbour discovery"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What the client sees for each kind of REJECT, per family, in an `inet` table: `reject
/// with icmp …` applies to IPv4 only and `icmpv6 …` to IPv6 only (the rule after it decides
/// for the other family), `icmpx` and `tcp reset` to both; and each ICMP type gives its own
/// error: EHOSTUNREACH, ENETUNREACH, EACCES or a refusal.
#[test]
fn reject_types_scope_and_errors_match_the_kernel() {
    let link = v6_link();
    exec_with_stdin(
        &link.server,
        "nft",
        &["-f", "-"],
        "table inet rejects {\n\
         \x20 chain input {\n\
         \x20   type filter hook input priority 0; policy accept;\n\
         \x20   tcp dport 8081 reject with icmp type host-prohibited\n\
         \x20   tcp dport 8082 reject with icmpv6 type admin-prohibited\n\
         \x20   tcp dport 8083 reject with icmp type net-unreachable\n\
         \x20   tcp dport 8084 reject with icmpx type admin-prohibited\n\
         \x20   tcp dport 8085 reject with icmpv6 type policy-fail\n\
         \x20   tcp dport 8086 reject with icmpv6 type no-route\n\
         \x20   tcp dport 8087 reject with tcp reset\n\
         \x20 }\n\
         }\n",
    );
    let json = link.server.exec(&["nft", "-j", "list", "ruleset"]);
    let sets = parse_rules(&json, "nft -j list ruleset").unwrap_or_else(|e| panic!("{e}"));
    use Kernel::*;
    let cases: [(u16, Kernel, Kernel); 7] = [
        (8081, Unreachable, Connected),
        (8082, Connected, PermissionDenied),
        (8083, NetUnreachable, Connected),
        (8084, Unreachable, PermissionDenied),
        (8085, Connected, PermissionDenied),
        (8086, Connected, NetUnreachable),
        (8087, Refused, Refused),
    ];
    let mut failures = Vec::new();
    for (port, want4, want6) in cases {
        for (client, server, want) in [(V4_CLIENT, V4_SERVER, want4), (V6_CLIENT, V6_SERVER, want6)]
        {
            let v = evaluate(&sets, &Question::tcp(client.parse().unwrap(), port));
            let (kernel, err) = attempt_on_link(&link, server, port);
            let line = format!(
                "{client} → tcp/{port}: kernel {kernel:?} ({err}), Vantage {} {:?} — {}",
                v.outcome,
                v.host.as_ref().and_then(|h| h.denial),
                summary(&v)
            );
            if kernel != want {
                failures.push(format!("{line}\n  the lab expected {want:?}"));
            } else if !expected(&v).is_some_and(|k| k == [kernel]) {
                failures.push(format!(
                    "{line}\n  Vantage's verdict means {:?}",
                    expected(&v)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An HTTP request from the client, limited to 3 s: whether an answer came.
fn request_on_link(link: &V6Link, ip: &str, port: u16) -> bool {
    link.client
        .command("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "3"])
        .arg(format!("http://{ip}:{port}/"))
        .status()
        .unwrap()
        .success()
}

/// A rule that admits only conntrack state NEW, with nothing for ESTABLISHED: the kernel
/// completes the handshake (the connect succeeds) and drops the request, and Vantage says
/// exactly that. With ESTABLISHED admitted, the request is answered.
#[test]
fn a_new_only_rule_lets_the_handshake_through_and_nothing_else() {
    let link = v6_link();
    let rules = |established: &str| {
        format!(
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -i lo -j ACCEPT\n{established}\
             -A INPUT -p tcp -m tcp --dport 8080 -m conntrack --ctstate NEW -j ACCEPT\nCOMMIT\n"
        )
    };
    let mut failures = Vec::new();
    for with_established in [false, true] {
        let est = "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
        exec_with_stdin(
            &link.server,
            "iptables-restore",
            &[],
            &rules(if with_established { est } else { "" }),
        );
        let saved = link.server.exec(&["iptables-save"]);
        let sets = parse_rules(&saved, "iptables-save").unwrap_or_else(|e| panic!("{e}"));
        let v = evaluate(&sets, &Question::tcp(V4_CLIENT.parse().unwrap(), 8080));
        let (kernel, err) = attempt_on_link(&link, V4_SERVER, 8080);
        let answered = request_on_link(&link, V4_SERVER, 8080);
        let line = format!(
            "ESTABLISHED admitted: {with_established}: connect {kernel:?} ({err}), request \
             answered: {answered}; Vantage {} {} — {}",
            v.outcome,
            v.explanation_code,
            summary(&v)
        );
        if kernel != Kernel::Connected || answered != with_established {
            failures.push(format!(
                "{line}\n  the lab expected a connect, and an answer only with ESTABLISHED"
            ));
            continue;
        }
        let want = if with_established {
            "ALLOWED"
        } else {
            "HOST_HANDSHAKE_ONLY"
        };
        if v.explanation_code.as_str() != want || !expected(&v).is_some_and(|k| k == [kernel]) {
            failures.push(format!("{line}\n  expected {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
