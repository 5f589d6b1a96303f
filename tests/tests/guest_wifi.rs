//! docs/incidents.md, "Blocked from the guest Wi-Fi": an API whose firewall admits only the
//! office network.
//! Real network namespaces (server, office, guest, a router between them), real nginx
//! as the API, the real agent in the server namespace, and a real headless Chromium on
//! each of the office and guest networks opening the phone link.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;
use support::netns::{Lab, Netns, Webdriver, API_PORT};
use support::nginx::Nginx;
use support::{Agent, AgentLaunch};

/// The tests of this file that run browsers take turns: two or three Chromiums at once
/// are plenty for a 2-core machine, and a starved page could miss its own timeouts.
static BROWSERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// nginx answering the API port with 200 and `Access-Control-Allow-Origin: *`, so that a
/// browser that can connect at all gets "reachable" in both fetch modes.
fn api_server(lab: &Lab) -> Nginx {
    Nginx::start_in(
        Some(&lab.server.name),
        &format!(
            "server {{\n\
             \x20 listen 0.0.0.0:{API_PORT};\n\
             \x20 location / {{\n\
             \x20   add_header Access-Control-Allow-Origin * always;\n\
             \x20   default_type application/json;\n\
             \x20   return 200 '{{\"items\":[1,2,3]}}';\n\
             \x20 }}\n\
             }}\n"
        ),
    )
}

/// The harness itself: the office connects to the API port, the guest's SYNs are
/// dropped (a connect timeout, not a refusal), and the server reaches its own API.
#[test]
fn network_namespaces_isolate_guest() {
    let lab = Lab::start();
    lab.firewall_api(API_PORT);
    let _api = api_server(&lab);
    let url = format!("http://{}:{API_PORT}/", lab.server_ip());

    let (code, out) = lab.curl_from(&lab.office, &url, 3);
    assert_eq!((code, out.as_str()), (0, "200"), "office → API");
    let (code, out) = lab.curl_from(&lab.server, &url, 3);
    assert_eq!((code, out.as_str()), (0, "200"), "server → its own API");

    let started = Instant::now();
    let (code, out) = lab.curl_from(&lab.guest, &url, 2);
    let waited = started.elapsed();
    // 28 = timed out; 7 would be "refused", the signature of a closed port, not a firewall.
    assert_eq!(code, 28, "guest → API should time out: {out}");
    assert!(
        waited >= Duration::from_millis(1900),
        "the guest's connect failed after {waited:?}, too fast for a timeout: {out}"
    );
    // The guest network itself works: it reaches other ports on the server.
    let (code, out) = lab.curl_from(&lab.guest, &format!("http://{}:1/", lab.server_ip()), 2);
    assert_eq!(
        code, 7,
        "guest → closed port is refused (routing works): {out}"
    );

    // The root namespace (the test process) reaches the lab through the router.
    let probe = std::net::TcpStream::connect_timeout(
        &format!("{}:1", lab.office_net.host).parse().unwrap(),
        Duration::from_secs(2),
    );
    let err = probe.expect_err("nothing listens on the office's port 1");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "root → office through the router: {err}"
    );

    let names = (lab.server.name.clone(), lab.router.name.clone());
    let host_link = lab.host_link.clone();
    drop(_api);
    drop(lab);
    let list = String::from_utf8_lossy(
        &std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(
        !list.contains(&names.0) && !list.contains(&names.1),
        "namespaces left behind: {list}"
    );
    let link = std::process::Command::new("ip")
        .args(["link", "show", &host_link])
        .output()
        .unwrap();
    assert!(!link.status.success(), "{host_link} left behind");
}

/// A page on an unfiltered port of the server that fetches the API (3 s timeout) and
/// writes the outcome into its title.
const FETCH_PAGE_PORT: u16 = 8081;

fn api_and_fetch_page(lab: &Lab) -> Nginx {
    let api = format!("http://{}:{API_PORT}/", lab.server_ip());
    let page = format!(
        "<!doctype html><title>waiting</title><script>\
         const ctl = new AbortController(); setTimeout(() => ctl.abort(), 3000);\
         fetch('{api}', {{ signal: ctl.signal }}).then(r => r.text())\
         .then(t => document.title = 'ok ' + t)\
         .catch(e => document.title = 'error ' + e.name);\
         </script>"
    );
    Nginx::start_in(
        Some(&lab.server.name),
        &format!(
            "server {{\n\
             \x20 listen 0.0.0.0:{API_PORT};\n\
             \x20 location / {{ add_header Access-Control-Allow-Origin * always; return 200 'api'; }}\n\
             }}\n\
             server {{\n\
             \x20 listen 0.0.0.0:{FETCH_PAGE_PORT};\n\
             \x20 location / {{ default_type text/html; return 200 \"{}\"; }}\n\
             }}\n",
            page.replace('"', "\\\"")
        ),
    )
}

/// Harness: Chromium driven from the root namespace runs inside the office and guest
/// namespaces; the office's fetch of the API succeeds, the guest's is still pending when
/// the page gives up (dropped, not refused).
#[tokio::test]
async fn browsers_in_namespaces_see_the_firewall() {
    let _turn = BROWSERS.lock().await;
    let lab = Lab::start();
    lab.firewall_api(API_PORT);
    let _nginx = api_and_fetch_page(&lab);
    let page = format!("http://{}:{FETCH_PAGE_PORT}/", lab.server_ip());
    let run = |ns: &'static str| {
        let (netns, ip) = match ns {
            "office" => (&lab.office, lab.office_net.host.clone()),
            _ => (&lab.guest, lab.guest_net.host.clone()),
        };
        let page = page.clone();
        let root = lab.root_net.host.clone();
        async move {
            let driver = Webdriver::start(Some(netns), &ip, &root);
            let c = driver.client(800, 600).await;
            c.goto(&page).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(15);
            let title = loop {
                let title = c.title().await.unwrap();
                if title != "waiting" || Instant::now() > deadline {
                    break title;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            c.close().await.unwrap();
            title
        }
    };
    let (office, guest) = tokio::join!(run("office"), run("guest"));
    assert_eq!(office, "ok api", "office browser");
    assert_eq!(guest, "error AbortError", "guest browser");
}

fn screenshot_dir() -> std::path::PathBuf {
    let dir = support::workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn require_dashboard() {
    let index = support::workspace_root().join("dist/index.html");
    assert!(
        index.exists(),
        "{} missing: build the dashboard with `trunk build --release` (scripts/test.sh does)",
        index.display()
    );
}

/// The page's text, for failure messages.
async fn page_text(c: &Client) -> String {
    match c.find(Locator::Css("body")).await {
        Ok(b) => b.text().await.unwrap_or_default(),
        Err(e) => format!("(no body: {e})"),
    }
}

/// Polls until `css` matches and `check` accepts its (text, attribute `attr`); the page
/// re-renders live, so the element is found afresh every time.
async fn wait_until(
    c: &Client,
    css: &str,
    attr: &str,
    timeout: Duration,
    check: impl Fn(&str, Option<&str>) -> bool,
) -> (String, Option<String>) {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let (Ok(text), Ok(value)) = (e.text().await, e.attr(attr).await) {
                if check(&text, value.as_deref()) {
                    return (text, value);
                }
                last = Some((text, value));
            }
        }
        if Instant::now() > deadline {
            panic!(
                "{css} not as expected after {timeout:?}; last (text, {attr}) = {last:?}; page:\n{}",
                page_text(c).await
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What one device's browser reported on its phone page.
#[derive(Debug)]
struct PhoneRun {
    client_ip: String,
    verdict: Option<String>,
    agent_verdict: Option<String>,
}

/// Opens the phone link in a browser on `ns`'s network and waits for its results.
async fn open_phone_link(lab: &Lab, ns: &Netns, ip: &str, url: &str, shot: &str) -> PhoneRun {
    let driver = Webdriver::start(Some(ns), ip, &lab.root_net.host);
    let c = driver.client(390, 844).await;
    c.goto(url).await.unwrap();
    // The browser check gives up after 8 s; the guest's connect never completes.
    wait_until(
        &c,
        "[data-testid=phone-status]",
        "data-testid",
        Duration::from_secs(40),
        |text, _| text.trim().eq_ignore_ascii_case("done"),
    )
    .await;
    let result_css = "[data-testid=phone-result][data-target-id=shop-api]";
    let (_, verdict) = wait_until(
        &c,
        result_css,
        "data-verdict",
        Duration::from_secs(5),
        |_, v| v.is_some(),
    )
    .await;
    let (client_ip, _) = wait_until(
        &c,
        "[data-testid=phone-client-ip]",
        "data-testid",
        Duration::from_secs(5),
        |t, _| !t.trim().is_empty(),
    )
    .await;
    let (_, agent_verdict) = wait_until(
        &c,
        "[data-testid=phone-agent-verdict]",
        "data-verdict",
        Duration::from_secs(10),
        |_, v| v.is_some(),
    )
    .await;
    std::fs::write(screenshot_dir().join(shot), c.screenshot().await.unwrap()).unwrap();
    c.close().await.unwrap();
    PhoneRun {
        client_ip,
        verdict,
        agent_verdict,
    }
}

/// The guest Wi-Fi incident end to end: the agent (next to the API) says reachable, the
/// office phone says reachable, the guest phone says timed out (blocked before HTTP), each
/// with the address the agent saw; the admin's reachability page and the comparison API
/// agree.
#[tokio::test]
async fn guest_wifi_is_blocked_before_http_while_office_and_agent_reach_the_api() {
    require_dashboard();
    let _turn = BROWSERS.lock().await;
    let lab = Lab::start();
    lab.firewall_api(API_PORT);
    let _api = api_server(&lab);
    let server_ip = lab.server_ip().to_owned();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vantage.toml");
    std::fs::write(
        &config,
        format!(
            "[[targets]]\nname = \"Shop API\"\nurl = \"http://{server_ip}:{API_PORT}/items\"\n"
        ),
    )
    .unwrap();
    let agent = Agent::start_with(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &AgentLaunch {
            listen: "0.0.0.0:0".into(),
            args: vec!["--config".into(), config.display().to_string()],
            netns: Some(lab.server.name.clone()),
            host: Some(server_ip.clone()),
            ..AgentLaunch::default()
        },
    );

    // The agent sits next to the API: reachable.
    let (status, probe) = agent.post("/api/targets/shop-api/probe").await;
    assert_eq!(status, 200, "{probe}");
    assert_eq!(probe["verdict"], "reachable", "{probe:#}");

    let (status, link) = agent
        .post_json(
            "/api/phone-links",
            &json!({ "ttl_minutes": 10, "base_url": agent.base }),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {link}");
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&agent.base), "{url}");

    // Both phones at once: the guest's wait for its timeout overlaps the office's run.
    let (office, guest) = tokio::join!(
        open_phone_link(
            &lab,
            &lab.office,
            &lab.office_net.host,
            &url,
            "guest-wifi-office-phone.png"
        ),
        open_phone_link(
            &lab,
            &lab.guest,
            &lab.guest_net.host,
            &url,
            "guest-wifi-guest-phone.png"
        ),
    );
    assert_eq!(
        office.verdict.as_deref(),
        Some("reachable"),
        "office: {office:?}"
    );
    assert_eq!(
        guest.verdict.as_deref(),
        Some("timed_out"),
        "guest: {guest:?}"
    );
    assert!(
        office.client_ip.contains(&lab.office_net.host),
        "office: {office:?}"
    );
    assert!(
        guest.client_ip.contains(&lab.guest_net.host),
        "guest: {guest:?}"
    );
    for run in [&office, &guest] {
        assert_eq!(run.agent_verdict.as_deref(), Some("reachable"), "{run:?}");
    }

    // What the agent recorded, through the API…
    let (status, cmp) = agent.get("/api/comparison").await;
    assert_eq!(status, 200, "{cmp}");
    let row = cmp["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"]["id"] == "shop-api")
        .cloned()
        .unwrap_or_else(|| panic!("no shop-api row: {cmp:#}"));
    assert_eq!(row["agent"]["verdict"], "reachable", "{row:#}");
    let mut devices: Vec<(String, String)> = row["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["client_ip"].as_str().unwrap_or_default().to_owned(),
                d["verdict"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    devices.sort();
    let mut expected = vec![
        (lab.office_net.host.clone(), "reachable".to_owned()),
        (lab.guest_net.host.clone(), "timed_out".to_owned()),
    ];
    expected.sort();
    assert_eq!(devices, expected, "{row:#}");
    // The diagnosis names the guest's address and calls it a dropped connection.
    let worst = &row["findings"][0];
    assert_eq!(worst["code"], "device_blocked_timeout", "{row:#}");
    let summary = worst["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains(&lab.guest_net.host) && summary.contains("timed out"),
        "{summary}"
    );
    assert!(
        !summary.contains(&lab.office_net.host),
        "the office device is fine: {summary}"
    );

    // …and on the admin's reachability page, from a browser in the root namespace.
    let admin = Webdriver::start(None, "127.0.0.1", "127.0.0.1");
    let c = admin.client(1280, 900).await;
    c.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    wait_until(
        &c,
        "main",
        "data-testid",
        Duration::from_secs(20),
        |_, _| true,
    )
    .await;
    c.goto(&agent.url("/reach")).await.unwrap();
    let target_css = "[data-testid=reach-target][data-target-id=shop-api]";
    wait_until(
        &c,
        target_css,
        "data-target-id",
        Duration::from_secs(20),
        |_, _| true,
    )
    .await;
    let (_, agent_verdict) = wait_until(
        &c,
        &format!("{target_css} [data-testid=agent-verdict]"),
        "data-verdict",
        Duration::from_secs(10),
        |_, v| v.is_some(),
    )
    .await;
    assert_eq!(agent_verdict.as_deref(), Some("reachable"));
    for (ip, verdict) in &expected {
        let css = format!("{target_css} [data-testid=device-verdict][data-client-ip='{ip}']");
        let (_, shown) = wait_until(&c, &css, "data-verdict", Duration::from_secs(10), |_, v| {
            v.is_some()
        })
        .await;
        assert_eq!(shown.as_deref(), Some(verdict.as_str()), "{css}");
    }
    let rows = c
        .find_all(Locator::Css(&format!(
            "{target_css} [data-testid=device-verdict]"
        )))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        2,
        "one row per device:\n{}",
        page_text(&c).await
    );
    std::fs::write(
        screenshot_dir().join("guest-wifi-reach.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    c.close().await.unwrap();
}

/// An API that admits only the shop's page origin: its CORS header names
/// `https://shop.example`, so a page on any other origin (the phone page's) may not read it.
fn shop_only_api(lab: &Lab) -> Nginx {
    Nginx::start_in(
        Some(&lab.server.name),
        &format!(
            "server {{\n\
             \x20 listen 0.0.0.0:{API_PORT};\n\
             \x20 location / {{\n\
             \x20   add_header Access-Control-Allow-Origin https://shop.example always;\n\
             \x20   add_header Vary Origin always;\n\
             \x20   default_type application/json;\n\
             \x20   return 200 '{{\"items\":[1,2,3]}}';\n\
             \x20 }}\n\
             }}\n"
        ),
    )
}

/// The security group in front of the API, as `aws ec2 describe-security-groups` prints
/// it: the API port from the office's range only.
fn office_only_group(lab: &Lab) -> String {
    format!(
        r#"{{"SecurityGroups": [{{
  "GroupId": "sg-0123456789abcdef0", "GroupName": "shop-api", "Description": "shop API",
  "VpcId": "vpc-1", "OwnerId": "123456789012",
  "IpPermissions": [{{"IpProtocol": "tcp", "FromPort": {API_PORT}, "ToPort": {API_PORT},
    "IpRanges": [{{"CidrIp": "{}", "Description": "office"}}],
    "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}}],
  "IpPermissionsEgress": []
}}]}}"#,
        lab.office_net.cidr
    )
}

/// Opens the phone link on `ns`'s network and waits until its own result for the shop API
/// reads `want` (the agent's answer may settle it after the browser's own checks).
async fn phone_result(lab: &Lab, ns: &Netns, ip: &str, url: &str, want: &str, shot: &str) {
    let driver = Webdriver::start(Some(ns), ip, &lab.root_net.host);
    let c = driver.client(390, 844).await;
    c.goto(url).await.unwrap();
    let css = "[data-testid=phone-result][data-target-id=shop-api]";
    wait_until(&c, css, "data-verdict", Duration::from_secs(45), |_, v| {
        v == Some(want)
    })
    .await;
    std::fs::write(screenshot_dir().join(shot), c.screenshot().await.unwrap()).unwrap();
    c.close().await.unwrap();
}

/// The shop's setup end to end: the API admits only `https://shop.example` (CORS) and the
/// office's range (the security group, loaded into the agent). The office phone runs on the
/// agent's origin, so its own CORS check fails; its path works and the shop's origin passes,
/// so it is reachable with no CORS finding. The guest times out, with the rules' verdict
/// and the command that admits it, naming the group.
#[tokio::test]
async fn a_shop_only_api_is_reachable_from_the_office_and_the_guest_gets_the_exact_fix() {
    require_dashboard();
    let _turn = BROWSERS.lock().await;
    let lab = Lab::start();
    lab.firewall_api(API_PORT);
    let _api = shop_only_api(&lab);
    let server_ip = lab.server_ip().to_owned();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vantage.toml");
    std::fs::write(
        &config,
        format!(
            "[[targets]]\nname = \"Shop API\"\nurl = \"http://{server_ip}:{API_PORT}/items\"\n\
             cors_origin = \"https://shop.example\"\n\
             [targets.firewall]\nsets = [\"sg-0123456789abcdef0\"]\n"
        ),
    )
    .unwrap();
    let agent = Agent::start_with(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &AgentLaunch {
            listen: "0.0.0.0:0".into(),
            args: vec!["--config".into(), config.display().to_string()],
            netns: Some(lab.server.name.clone()),
            host: Some(server_ip.clone()),
            ..AgentLaunch::default()
        },
    );
    let res = support::http()
        .post(agent.url("/api/rules?name=shop-sg"))
        .bearer_auth(&agent.token)
        .header("content-type", "text/plain")
        .body(office_only_group(&lab))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "rules upload: {}", res.status());

    let (status, probe) = agent.post("/api/targets/shop-api/probe").await;
    assert_eq!(status, 200, "{probe}");
    assert_eq!(probe["verdict"], "reachable", "{probe:#}");
    assert_eq!(probe["cors"]["allowed"], true, "{probe:#}");

    let (_, link) = agent
        .post_json(
            "/api/phone-links",
            &json!({ "ttl_minutes": 10, "base_url": agent.base }),
        )
        .await;
    let url = link["url"].as_str().unwrap().to_owned();
    tokio::join!(
        phone_result(
            &lab,
            &lab.office,
            &lab.office_net.host,
            &url,
            "reachable",
            "shop-office-phone.png"
        ),
        phone_result(
            &lab,
            &lab.guest,
            &lab.guest_net.host,
            &url,
            "timed_out",
            "shop-guest-phone.png"
        ),
    );

    let (_, cmp) = agent.get("/api/comparison").await;
    let row = cmp["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"]["id"] == "shop-api")
        .cloned()
        .unwrap_or_else(|| panic!("no shop-api row: {cmp:#}"));
    let verdict_of = |ip: &str| {
        row["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["client_ip"] == ip)
            .map(|d| d["verdict"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        verdict_of(&lab.office_net.host).as_deref(),
        Some("reachable"),
        "{row:#}"
    );
    assert_eq!(
        verdict_of(&lab.guest_net.host).as_deref(),
        Some("timed_out"),
        "{row:#}"
    );
    let findings = row["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .all(|f| !f["code"].as_str().unwrap_or_default().contains("cors")),
        "no CORS finding: {findings:#?}"
    );
    let worst = &findings[0];
    assert_eq!(worst["code"], "device_blocked_timeout", "{findings:#?}");
    let guest = &lab.guest_net.host;
    assert!(
        worst["summary"].as_str().unwrap().contains(guest.as_str()),
        "{worst:#}"
    );
    assert!(
        worst["explanation"]
            .as_str()
            .unwrap()
            .contains(&format!("no inbound rule admits {guest}")),
        "{worst:#}"
    );
    let fix = worst["fix"]["snippet"].as_str().unwrap_or_default();
    assert!(
        fix.contains("authorize-security-group-ingress")
            && fix.contains("sg-0123456789abcdef0")
            && fix.contains(&format!("{guest}/32")),
        "{fix}"
    );
}
