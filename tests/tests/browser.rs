//! The dashboard in a real browser: headless Chromium over WebDriver opens the
//! tokenized URL against a real agent watching the real Docker engine.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::browser::{
    check_fits, click_fresh, fill, fits_a_phone, require_dashboard, screenshot_dir, text_fresh,
    wait_attr, wait_css, Driver,
};
use support::{require_docker, Agent, Container};

#[tokio::test]
async fn containers_page_and_detail_timeline_show_the_real_container() {
    require_docker();
    require_dashboard();
    let data = tempfile::tempdir().unwrap();
    let container = Container::run(
        "web",
        &[
            "--health-cmd",
            "test -f /tmp/ready",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
        ],
        &["sh", "-c", "sleep 3; touch /tmp/ready; exec sleep 3600"],
    );
    let agent = Agent::start(data.path(), &[]);
    let history = format!("/api/containers/{}/health-history", container.name);
    agent
        .wait_for(&history, Duration::from_secs(30), |s, b| {
            s == 200
                && b["runs"]
                    .as_array()
                    .is_some_and(|p| p.len() >= 5 && p[0]["exit_code"] == 0)
        })
        .await;

    let driver = Driver::start();
    let c = driver.client(1280, 900).await;
    c.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    // The token is taken from the address bar and removed from it.
    wait_css(&c, "[data-testid=docker-status]", Duration::from_secs(20)).await;
    let url = c.current_url().await.unwrap();
    assert!(
        !url.as_str().contains("token="),
        "token left in the address bar: {url}"
    );

    click_fresh(&c, "a[href='/containers']").await;
    let row_css = format!(
        "[data-testid=container-row][data-name='{}']",
        container.name
    );
    wait_css(&c, &row_css, Duration::from_secs(20)).await;
    let badge_text = text_fresh(&c, &format!("{row_css} [data-testid=health-badge]"))
        .await
        .to_lowercase();
    assert!(badge_text.contains("healthy"), "badge says {badge_text:?}");
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("containers.png"), png).unwrap();

    click_fresh(&c, &format!("{row_css} a")).await;
    wait_css(&c, "[data-testid=health-timeline]", Duration::from_secs(20)).await;
    let rows = c
        .find_all(Locator::Css("[data-testid=run-row]"))
        .await
        .unwrap();
    assert!(rows.len() >= 5, "only {} run rows", rows.len());
    let findings = c
        .find_all(Locator::Css(
            "[data-testid=finding][data-code=healthcheck_start_period_too_short]",
        ))
        .await
        .unwrap();
    assert_eq!(findings.len(), 1, "the start-period finding is shown once");
    let marks = c
        .find_all(Locator::Css("[data-testid=health-timeline] rect.bar"))
        .await
        .unwrap();
    assert!(marks.len() >= 5, "timeline has {} probe marks", marks.len());
    // Uptime and lifecycle: the healthcheck uptime, the state band (running now) and the
    // events: its start (from `docker inspect`: it began before the agent) and the health
    // change the agent saw.
    let uptime = text_fresh(&c, "[data-testid=container-uptime]").await;
    assert!(
        uptime.contains("24h") && uptime.contains(" of "),
        "uptime reads {uptime:?}"
    );
    let running = count_when(&c, "[data-testid=life-band] rect.running", 1).await;
    assert!(running >= 1, "the band shows it running");
    let events = text_fresh(&c, "[data-testid=life-events]").await;
    assert!(
        events.contains("started") && events.contains("became healthy"),
        "events read {events:?}"
    );
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("container-detail.png"), png).unwrap();
    c.execute(
        "document.querySelector('.container-life').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join("container-life.png"), png).unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn pages_fit_a_phone_screen() {
    require_docker();
    require_dashboard();
    let data = tempfile::tempdir().unwrap();
    let container = Container::run(
        "phone",
        &["--health-cmd", "true", "--health-interval", "1s"],
        &["sleep", "3600"],
    );
    let agent = Agent::start(data.path(), &[]);
    agent
        .wait_for(
            &format!("/api/containers/{}/health-history", container.name),
            Duration::from_secs(20),
            |s, b| s == 200 && b["total"].as_u64() >= Some(2),
        )
        .await;
    let driver = Driver::start();
    let c = driver.client(360, 780).await;
    c.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    wait_css(&c, "[data-testid=docker-status]", Duration::from_secs(20)).await;
    for (path, ready) in [
        ("/", "[data-testid=docker-status]"),
        ("/containers", "[data-testid=container-row]"),
        (
            &format!("/containers/{}", container.name) as &str,
            "[data-testid=health-timeline]",
        ),
        ("/networks", "main"),
    ] {
        c.goto(&agent.url(path)).await.unwrap();
        wait_css(&c, ready, Duration::from_secs(20)).await;
        let name = if path == "/" {
            "overview".to_owned()
        } else {
            path.trim_start_matches('/').replace('/', "-")
        };
        check_fits(&c, path, &format!("phone-{name}.png")).await;
    }
    c.close().await.unwrap();
}

/// A loopback HTTP server answering every request with 200 and `Access-Control-Allow-Origin: *`,
/// on its own thread for the life of the test process.
fn cors_open_server() -> u16 {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"ok\":true}",
                );
            });
        }
    });
    port
}

/// The phone page on a 360 px phone: it runs the probe set by itself, shows the result,
/// fits the screen. Prints the figure BENCHMARKS.md quotes (time from navigation to the
/// first result), which is measured, not asserted.
#[tokio::test]
async fn phone_page_runs_the_probes_and_fits_a_phone() {
    require_dashboard();
    let port = cors_open_server();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vantage.toml");
    std::fs::write(
        &config,
        format!("[[targets]]\nname = \"Shop API\"\nurl = \"http://127.0.0.1:{port}/items\"\n"),
    )
    .unwrap();
    let agent = support::Agent::start_with(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &support::AgentLaunch {
            args: vec!["--config".into(), config.display().to_string()],
            ..Default::default()
        },
    );
    let (status, link) = agent
        .post_json("/api/phone-links", &serde_json::json!({}))
        .await;
    assert_eq!(status, 201, "{link}");
    let code = link["code"].as_str().unwrap().to_owned();

    let driver = Driver::start();
    let c = driver.client(360, 780).await;
    c.goto(&agent.url(&format!("/p/{code}"))).await.unwrap();
    // Poll in the page so the figure is the page's own clock, not WebDriver's.
    let first_result_ms = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = c
                .execute(
                    "return document.querySelector('[data-testid=phone-result]') ? performance.now() : null",
                    vec![],
                )
                .await
                .unwrap();
            if let Some(ms) = v.as_f64() {
                break ms;
            }
            assert!(Instant::now() < deadline, "no phone-result after 30 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let done = wait_css(&c, "[data-testid=phone-status]", Duration::from_secs(20)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while text_fresh(&c, "[data-testid=phone-status]").await.trim() != "done" {
        assert!(
            Instant::now() < deadline,
            "phone page never finished: {:?}",
            done.text().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = wait_css(&c, "[data-testid=phone-result]", Duration::from_secs(5)).await;
    assert_eq!(
        result.attr("data-verdict").await.unwrap().as_deref(),
        Some("reachable")
    );
    let ip = text_fresh(&c, "[data-testid=phone-client-ip]").await;
    assert!(ip.contains("127.0.0.1"), "client address shown: {ip}");
    // The phone link's own small bundle ran, not the dashboard's.
    let wasm = c
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name) \
               .concat([...document.scripts].map(s => s.textContent)) \
               .filter(n => n.includes('.wasm') || n.includes('_bg.wasm')).join(' ')",
            vec![],
        )
        .await
        .unwrap();
    let wasm = wasm.as_str().unwrap_or_default().to_owned();
    assert!(
        wasm.contains("/phone/phone-") && !wasm.contains("vantage-frontend-"),
        "the phone page loaded {wasm}"
    );

    // The page's probe engine reads and clears Resource Timing entries, so the bundle's
    // own transfer is not visible here; BENCHMARKS.md quotes dist/'s gzip size instead.
    println!("phone page: first result {first_result_ms:.0} ms after navigation start");
    check_fits(&c, "the phone page", "phone-page.png").await;
    c.close().await.unwrap();
}

/// How many elements match `css` once at least `want` do (or after 15 s).
async fn count_when(c: &Client, css: &str, want: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let n = c.find_all(Locator::Css(css)).await.map_or(0, |v| v.len());
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A target's History on the Reachability page: after three good probes of one target and
/// a refused one of another, the heartbeat bar, the latency chart with its phases stacked,
/// the uptime and the ongoing incident show, on a desktop and on a 360 px phone; and a
/// dashboard target's interval is changed from its card.
#[tokio::test]
async fn target_history_shows_heartbeats_uptime_and_incidents() {
    require_dashboard();
    let port = cors_open_server();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vantage.toml");
    std::fs::write(
        &config,
        format!(
            "[[targets]]\nname = \"Shop API\"\nurl = \"http://127.0.0.1:{port}/items\"\n\
             [[targets]]\nname = \"Gone\"\nurl = \"http://127.0.0.1:9/\"\n"
        ),
    )
    .unwrap();
    let agent = support::Agent::start_with(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &support::AgentLaunch {
            args: vec!["--config".into(), config.display().to_string()],
            ..Default::default()
        },
    );
    for path in ["shop-api", "shop-api", "shop-api", "gone"] {
        let (status, v) = agent.post(&format!("/api/targets/{path}/probe")).await;
        assert_eq!(status, 200, "{v}");
    }
    let dash = serde_json::json!({"name": "Dash", "url": format!("http://127.0.0.1:{port}/")});
    let (status, v) = agent.post_json("/api/targets", &dash).await;
    assert_eq!(status, 201, "{v}");

    let driver = Driver::start();
    for (width, height, shot) in [
        (1280, 900, "reach-history.png"),
        (360, 780, "phone-reach-history.png"),
    ] {
        let c = driver.client(width, height).await;
        c.goto(&format!("{}/?token={}", agent.base, agent.token))
            .await
            .unwrap();
        wait_css(&c, "main", Duration::from_secs(20)).await;
        c.goto(&agent.url("/reach")).await.unwrap();
        let shop = "[data-target-id=shop-api]";
        wait_css(&c, shop, Duration::from_secs(20)).await;
        click_fresh(&c, &format!("{shop} details.target-history > summary")).await;
        let beats = count_when(&c, &format!("{shop} [data-testid=heartbeats] li.up"), 3).await;
        assert_eq!(beats, 3, "one green mark per good probe");
        let uptime = text_fresh(&c, &format!("{shop} [data-testid=uptime]")).await;
        assert!(uptime.contains("100 % (3 of 3)"), "uptime reads {uptime:?}");
        let chart = format!("{shop} [data-testid=latency-chart]");
        wait_attr(&c, &chart, "data-columns", "3").await;
        // Loopback HTTP measures at least connect and the wait for the first byte.
        let phases = count_when(&c, &format!("{chart} rect.seg"), 6).await;
        assert!(phases >= 6, "{phases} phase segments for 3 results");
        let gone = "[data-target-id=gone]";
        click_fresh(&c, &format!("{gone} details.target-history > summary")).await;
        assert_eq!(
            count_when(&c, &format!("{gone} [data-testid=heartbeats] li.down"), 1).await,
            1
        );
        let incident = text_fresh(&c, &format!("{gone} [data-testid=incidents]")).await;
        assert!(
            incident.contains("Down since"),
            "incident reads {incident:?}"
        );
        let band = format!("{gone} [data-testid=latency-chart] rect.down-band");
        assert_eq!(
            count_when(&c, &band, 1).await,
            1,
            "the refused probe is a red band"
        );
        if width == 1280 {
            change_interval(&c).await;
        }
        // The screenshot shows the panel, not the cards above it.
        c.execute(
            "document.querySelector('[data-target-id=shop-api] details.target-history').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
        if width == 360 {
            check_fits(&c, "/reach with History open", shot).await;
        } else {
            std::fs::write(screenshot_dir().join(shot), c.screenshot().await.unwrap()).unwrap();
        }
        c.close().await.unwrap();
    }
}

/// "Interval…" on the dashboard target: a too-short interval is refused in the form, `5m`
/// is saved and the card's badge follows.
async fn change_interval(c: &Client) {
    let dash = "[data-target-id=dash]";
    click_fresh(c, &format!("{dash} [data-testid=edit-interval]")).await;
    let input = format!("{dash} [data-testid=interval-form] input");
    fill(c, &input, "2s").await;
    click_fresh(
        c,
        &format!("{dash} [data-testid=interval-form] button[type=submit]"),
    )
    .await;
    let problem = text_fresh(c, &format!("{dash} .interval-edit .field-error")).await;
    assert!(problem.contains("5 s to 24 h"), "the form says {problem:?}");
    fill(c, &input, "5m").await;
    click_fresh(
        c,
        &format!("{dash} [data-testid=interval-form] button[type=submit]"),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let head = text_fresh(c, &format!("{dash} .target-name")).await;
        if head.contains("every 5m") {
            break;
        }
        assert!(Instant::now() < deadline, "the card still says {head:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Notifications page: the channels without their secrets, "Send test" on a working and
/// on a refused webhook, the delivery log with "sent" and "retrying", a channel added with
/// the form (its secret never shown again) and deleted; on a desktop and a 360 px phone. An
/// agent without channels shows how to add one.
#[tokio::test]
async fn notifications_page_adds_channels_sends_tests_and_shows_the_log() {
    require_dashboard();
    let ok_port = cors_open_server();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vantage.toml");
    std::fs::write(
        &config,
        format!(
            "[alerts]\nremind_every = \"1h\"\n\
             [[notifications]]\nname = \"ops-hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{ok_port}/hooks/PATHSECRET\"\nsecret = \"SIGNINGSECRET\"\n\
             [[notifications]]\nname = \"broken\"\nkind = \"slack\"\nurl = \"http://127.0.0.1:{closed}/services/x\"\n"
        ),
    )
    .unwrap();
    let agent = support::Agent::start_with(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &support::AgentLaunch {
            args: vec!["--config".into(), config.display().to_string()],
            ..Default::default()
        },
    );
    let driver = Driver::start();
    for (width, height, shot) in [
        (1280, 900, "notifications.png"),
        (360, 780, "phone-notifications.png"),
    ] {
        let c = driver.client(width, height).await;
        c.goto(&format!("{}/?token={}", agent.base, agent.token))
            .await
            .unwrap();
        wait_css(&c, "main", Duration::from_secs(20)).await;
        c.goto(&agent.url("/notifications")).await.unwrap();
        wait_css(&c, "[data-testid=channels]", Duration::from_secs(20)).await;
        let page = text_fresh(&c, "main").await;
        assert!(
            !page.contains("PATHSECRET") && !page.contains("SIGNINGSECRET"),
            "{page}"
        );
        assert!(
            page.contains("secret set") && page.contains("a reminder every 1h"),
            "{page}"
        );
        if width == 1280 {
            for name in ["ops-hook", "broken"] {
                click_fresh(
                    &c,
                    &format!("[data-testid=channel][data-name={name}] [data-testid=send-test]"),
                )
                .await;
            }
            wait_css(
                &c,
                "[data-testid=delivery][data-status=sent]",
                Duration::from_secs(20),
            )
            .await;
            let retrying = count_when(&c, "[data-testid=delivery][data-status=pending]", 1).await;
            assert_eq!(retrying, 1, "the refused one waits for its retry");
            let log = text_fresh(&c, "[data-testid=deliveries]").await;
            assert!(
                log.contains("retrying") && log.to_lowercase().contains("refused"),
                "{log}"
            );
            // A webhook URL's path is its secret: errors never quote it.
            assert!(!log.contains("/services/x"), "{log}");
            add_and_delete_a_channel(&c, ok_port).await;
            std::fs::write(screenshot_dir().join(shot), c.screenshot().await.unwrap()).unwrap();
        } else {
            wait_css(&c, "[data-testid=deliveries]", Duration::from_secs(20)).await;
            check_fits(&c, "/notifications", shot).await;
        }
        c.close().await.unwrap();
    }
    // No channels: the page says how to add one.
    let empty = tempfile::tempdir().unwrap();
    let bare = support::Agent::start(
        empty.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let c = driver.client(1280, 900).await;
    c.goto(&format!("{}/?token={}", bare.base, bare.token))
        .await
        .unwrap();
    wait_css(&c, "main", Duration::from_secs(20)).await;
    c.goto(&bare.url("/notifications")).await.unwrap();
    let hint = text_fresh(&c, "[data-testid=no-channels]").await;
    assert!(hint.contains("[[notifications]]"), "{hint}");
    c.close().await.unwrap();
}

/// The form: a webhook with a signing secret; listed as added here, the secret gone from
/// the page; then deleted with its confirm step.
async fn add_and_delete_a_channel(c: &Client, port: u16) {
    click_fresh(c, "[data-testid=add-channel] > summary").await;
    fill(c, "[data-testid=add-channel] input[name=name]", "team-hook").await;
    fill(
        c,
        "[data-testid=add-channel] input[name=url]",
        &format!("http://127.0.0.1:{port}/hooks/FORMPATH"),
    )
    .await;
    fill(
        c,
        "[data-testid=add-channel] input[name=secret]",
        "FORMSECRET",
    )
    .await;
    click_fresh(c, "[data-testid=add-channel-submit]").await;
    let added = "[data-testid=channel][data-name=team-hook]";
    wait_css(c, added, Duration::from_secs(10)).await;
    let page = text_fresh(c, "main").await;
    assert!(
        !page.contains("FORMSECRET") && !page.contains("FORMPATH"),
        "{page}"
    );
    let value = c
        .execute(
            "return document.querySelector('[data-testid=add-channel] input[name=secret]').value",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(value.as_str(), Some(""), "the form forgot the secret");
    click_fresh(c, &format!("{added} [data-testid=delete-channel]")).await;
    click_fresh(c, &format!("{added} [data-testid=confirm-delete-channel]")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.find(Locator::Css(added)).await.is_ok() {
        assert!(Instant::now() < deadline, "the channel is still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two groups from one account export: one attached to the load balancer (office only),
/// one to another instance (443 open to all).
const FIREWALL_SGS: &str = r#"{"SecurityGroups": [
  {"GroupId": "sg-0123456789abcdef0", "GroupName": "shop-lb", "VpcId": "vpc-1",
   "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
     "IpRanges": [{"CidrIp": "198.51.100.0/24", "Description": "office"}]}],
   "IpPermissionsEgress": []},
  {"GroupId": "sg-0ffffffffffffffff", "GroupName": "public-web", "VpcId": "vpc-1",
   "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
     "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
   "IpPermissionsEgress": []}
]}"#;

/// The Firewall page in the browser: paste an account's security groups (a broken paste
/// first: the located error), ask about a guest address, see the verdict and the deciding
/// rule highlighted in the table, narrow the question to the group attached to the
/// service, read the host's own firewall; the page fits a phone.
#[tokio::test]
async fn firewall_page_loads_asks_and_highlights_the_deciding_rule() {
    require_dashboard();
    let data = tempfile::tempdir().unwrap();
    let agent = support::Agent::start(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let driver = Driver::start();
    let c = driver.client(1280, 1000).await;
    c.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    wait_css(&c, "main", Duration::from_secs(20)).await;
    c.goto(&agent.url("/firewall")).await.unwrap();
    wait_css(&c, "[data-testid=empty-state]", Duration::from_secs(20)).await;

    // A broken export is refused in the browser, naming the line.
    let broken = FIREWALL_SGS.replacen("\"FromPort\": 443", "\"FromPort\": \"https\"", 1);
    fill(
        &c,
        "[data-testid=rules-form] input[name=name]",
        "prod-sgs.json",
    )
    .await;
    fill(&c, "[data-testid=rules-form] textarea[name=rules]", &broken).await;
    let err = wait_css(&c, "[data-testid=rules-error]", Duration::from_secs(10)).await;
    let err = err.text().await.unwrap();
    assert!(err.contains("line 3") && err.contains("FromPort"), "{err}");

    fill(
        &c,
        "[data-testid=rules-form] textarea[name=rules]",
        FIREWALL_SGS,
    )
    .await;
    click_fresh(&c, "[data-testid=rules-form] button[type=submit]").await;
    wait_css(
        &c,
        "[data-testid=rule-set][data-set-id=sg-0ffffffffffffffff]",
        Duration::from_secs(15),
    )
    .await;

    // Every loaded group: the other instance's open group admits the guest.
    fill(
        &c,
        "[data-testid=ask-form] input[name=source]",
        "203.0.113.7",
    )
    .await;
    click_fresh(&c, "[data-testid=ask-form] button[type=submit]").await;
    wait_attr(&c, "[data-testid=ask-verdict]", "data-outcome", "allowed").await;
    wait_css(
        &c,
        "[data-set-id=sg-0ffffffffffffffff] [data-testid=rule-row][data-deciding=true]",
        Duration::from_secs(5),
    )
    .await;

    // Only the group attached to the load balancer: denied, its office rule the nearest.
    click_fresh(&c, "[data-testid=scope-fields] summary").await;
    click_fresh(&c, "[data-testid=scope-set][value=sg-0123456789abcdef0]").await;
    let scope = text_fresh(&c, "[data-testid=scope-summary]").await;
    assert_eq!(scope, "1 of 2 rule sets");
    click_fresh(&c, "[data-testid=ask-form] button[type=submit]").await;
    wait_attr(&c, "[data-testid=ask-verdict]", "data-outcome", "denied").await;
    wait_css(
        &c,
        "[data-set-id=sg-0123456789abcdef0] [data-testid=rule-row][data-nearest=true]",
        Duration::from_secs(5),
    )
    .await;
    let verdict = text_fresh(&c, "[data-testid=ask-verdict]").await;
    assert!(verdict.contains("198.51.100.0/24"), "{verdict}");
    let fix = text_fresh(&c, "[data-testid=ask-fix]").await;
    assert!(
        fix.contains("authorize-security-group-ingress") && fix.contains("sg-0123456789abcdef0"),
        "{fix}"
    );
    std::fs::write(
        screenshot_dir().join("firewall.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // An ip6tables-save that printed nothing: one click loads "no IPv6 rules".
    click_fresh(&c, "[data-testid=host-paste-help] summary").await;
    click_fresh(&c, "[data-testid=printed-nothing-v6]").await;
    let valid = text_fresh(&c, "[data-testid=rules-form] .good-text").await;
    assert!(valid.contains("1 rule set, 0 rules"), "{valid}");
    click_fresh(&c, "[data-testid=rules-form] button[type=submit]").await;
    let none = wait_css(
        &c,
        "[data-testid=rule-set][data-set-id=\"ip6tables:none\"]",
        Duration::from_secs(15),
    )
    .await;
    let none = none.text().await.unwrap();
    assert!(none.contains("no IPv6 rules"), "{none}");

    // The host's own firewall, read by the agent (root here): a sentence and each command.
    click_fresh(&c, "[data-testid=read-host]").await;
    let summary = wait_css(&c, "[data-testid=host-summary]", Duration::from_secs(20)).await;
    let summary = summary.text().await.unwrap();
    let (_, read) = agent.get("/api/rules/host").await;
    assert_eq!(read["summary"].as_str(), Some(summary.as_str()), "{read:#}");
    let items = c
        .find_all(Locator::Css("[data-testid=host-firewall] li"))
        .await
        .unwrap();
    assert_eq!(items.len(), 3, "{summary}");
    if read["loaded"].is_object() {
        wait_css(&c, "[data-rules-id=host]", Duration::from_secs(10)).await;
    }
    c.close().await.unwrap();

    // On a phone: no horizontal scrolling.
    fits_a_phone(
        &driver,
        &agent,
        "/firewall",
        "[data-testid=rule-set]",
        "phone-firewall.png",
    )
    .await;
}

/// The GPU page without a GPU, in the browser: the page says what is missing, a quick run
/// started from the page streams its progress, completes with the CPU baseline, and
/// shows the time-against-N chart, the figures and why the GPU part did not run; the page
/// fits a phone.
#[tokio::test]
async fn gpu_page_without_a_gpu_runs_the_cpu_baseline() {
    require_dashboard();
    let data = tempfile::tempdir().unwrap();
    let agent = support::Agent::start(
        data.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let (_, status) = agent.get("/api/gpu").await;
    if status["driver"]["available"] == true {
        panic!(
            "this test checks the no-driver path; this machine has an NVIDIA driver: {status:#}"
        );
    }
    let driver = Driver::start();
    let c = driver.client(1280, 1000).await;
    c.goto(&format!("{}/?token={}", agent.base, agent.token))
        .await
        .unwrap();
    wait_css(&c, "main", Duration::from_secs(20)).await;
    c.goto(&agent.url("/gpu")).await.unwrap();
    let missing = wait_css(&c, "[data-testid=gpu-unavailable]", Duration::from_secs(20)).await;
    let missing = missing.text().await.unwrap();
    assert!(missing.contains("libcuda"), "{missing}");
    wait_css(&c, "[data-testid=runs-empty]", Duration::from_secs(5)).await;

    click_fresh(&c, "[data-testid=bench-start]").await;
    // Progress arrives over the event stream while the run goes on.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut saw_progress = false;
    loop {
        let state = c
            .execute(
                "const p = document.querySelector('[data-testid=gpu-progress]'); \
                 const r = document.querySelector('[data-testid=gpu-run]'); \
                 return [p ? p.textContent : null, r ? r.getAttribute('data-status') : null];",
                vec![],
            )
            .await
            .unwrap();
        saw_progress |= state[0].is_string();
        if state[1].as_str() == Some("completed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the quick run did not complete in 180 s: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_progress, "no progress was shown while the run went on");
    let skipped = text_fresh(&c, "[data-testid=gpu-skipped]").await;
    assert!(skipped.contains("NVIDIA driver"), "{skipped}");
    let series = c
        .find_all(Locator::Css("[data-testid=line-chart] .series"))
        .await
        .unwrap();
    assert_eq!(series.len(), 2, "one line per CPU engine");
    let rows = c
        .find_all(Locator::Css("[data-testid=blur-table] tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 4, "N = 1, 2, 4, 8");
    assert!(c
        .find(Locator::Css("[data-testid=stacked-bars]"))
        .await
        .is_err());
    c.execute(
        "document.querySelector('[data-testid=gpu-run]').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    std::fs::write(
        screenshot_dir().join("gpu.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // A full-size run can be stopped from the page: it ends as `cancelled`, promptly.
    c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    click_fresh(&c, "[data-testid=bench-quick]").await;
    click_fresh(&c, "[data-testid=bench-start]").await;
    wait_css(&c, "[data-testid=gpu-progress]", Duration::from_secs(30)).await;
    let stop_clicked = Instant::now();
    click_fresh(&c, "[data-testid=bench-cancel]").await;
    wait_attr(&c, "[data-testid=gpu-run]", "data-status", "cancelled").await;
    println!(
        "GPU page: a full run stopped {:?} after Stop",
        stop_clicked.elapsed()
    );
    wait_css(
        &c,
        "[data-testid=bench-start]:not([disabled])",
        Duration::from_secs(10),
    )
    .await;
    c.close().await.unwrap();

    fits_a_phone(
        &driver,
        &agent,
        "/gpu",
        "[data-testid=line-chart]",
        "phone-gpu.png",
    )
    .await;
}
