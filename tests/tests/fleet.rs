//! The Fleet page in real Chromium with 20 real agents: separate processes on loopback
//! ports, each with its own data directory, each admitting the dashboard's origin
//! (`--cors-allow-origin`). All 20 show as reachable at once; one killed shows as
//! unreachable with the reason, and comes back without a page reload once restarted; an
//! agent that does not admit the dashboard's origin is told apart, in Vantage's words;
//! "Open" switches the whole dashboard to an agent; removing one forgets its token.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;
use support::browser::{
    check_fits, click_fresh, require_dashboard, screenshot_dir, wait_css, Driver,
};
use support::{Agent, AgentLaunch};

const AGENTS: usize = 20;
const NO_DOCKER: (&str, &str) = ("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock");

/// An agent admitting `origin`, on `listen`, with one target named after it.
fn start(dir: &Path, name: &str, origin: Option<&str>, listen: &str) -> Agent {
    let config = dir.join("vantage.toml");
    std::fs::write(
        &config,
        format!("[[targets]]\nname = \"only on {name}\"\nurl = \"http://127.0.0.1:9/\"\n"),
    )
    .unwrap();
    let mut args = vec!["--config".to_owned(), config.display().to_string()];
    if let Some(o) = origin {
        args.extend(["--cors-allow-origin".to_owned(), o.to_owned()]);
    }
    Agent::start_with(
        dir,
        &[NO_DOCKER],
        &AgentLaunch {
            listen: listen.to_owned(),
            args,
            ..Default::default()
        },
    )
}

/// `data-state` of every card, by URL (`""` for the agent serving the page).
async fn states(c: &Client) -> Vec<(String, String)> {
    let v = c
        .execute(
            "return [...document.querySelectorAll('[data-testid=fleet-agent]')] \
               .map(e => [e.dataset.url, e.dataset.state])",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

async fn wait_state(c: &Client, url: &str, want: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let all = states(c).await;
        if all.iter().any(|(u, s)| u == url && s == want) {
            let css = format!("[data-testid=fleet-agent][data-url='{url}']");
            return c
                .find(Locator::Css(&css))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{url} never became {want}: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_fleet_page_follows_twenty_agents() {
    require_dashboard();
    let home_dir = tempfile::tempdir().unwrap();
    let home = Agent::start(home_dir.path(), &[NO_DOCKER]);
    let origin = home.base.clone();
    let dirs: Vec<_> = (0..=AGENTS).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut agents: Vec<Option<Agent>> = (0..AGENTS)
        .map(|i| {
            Some(start(
                dirs[i].path(),
                &format!("agent-{i:02}"),
                Some(&origin),
                "127.0.0.1:0",
            ))
        })
        .collect();
    // One more that does not admit the dashboard's origin.
    let closed = start(dirs[AGENTS].path(), "closed", None, "127.0.0.1:0");
    let mut list: Vec<_> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let a = a.as_ref().unwrap();
            json!({"name": format!("agent-{i:02}"), "url": a.base, "token": a.token})
        })
        .collect();
    list.push(json!({"name": "closed", "url": closed.base, "token": closed.token}));

    let driver = Driver::start();
    let c = driver.client(1280, 900).await;
    c.goto(&format!("{}/?token={}", home.base, home.token))
        .await
        .unwrap();
    wait_css(&c, "main h1", Duration::from_secs(20)).await;
    c.execute(
        "localStorage.setItem('vantage.agents', arguments[0]);",
        vec![json!(serde_json::to_string(&list).unwrap())],
    )
    .await
    .unwrap();
    // From opening the page (the dashboard's wasm loading included) to every card filled in.
    let shown = Instant::now();
    c.goto(&home.url("/fleet")).await.unwrap();
    let deadline = shown + Duration::from_secs(2);
    loop {
        let all = states(&c).await;
        let up = all.iter().filter(|(_, s)| s == "up").count();
        if up == AGENTS + 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after 2 s only {up} of {} are up: {all:?}",
            AGENTS + 1
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "fleet: {} agents up {} ms after opening the page",
        AGENTS + 1,
        shown.elapsed().as_millis()
    );
    std::fs::write(
        screenshot_dir().join("fleet-1280.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // The agent that does not admit this origin, told in Vantage's words.
    let why = wait_state(&c, &closed.base, "down", Duration::from_secs(10)).await;
    assert!(
        why.contains(&format!("--cors-allow-origin {origin}")),
        "{why}"
    );

    // One agent dies: unreachable, with the reason; back by itself once restarted.
    c.execute("window.__same_page = 1;", vec![]).await.unwrap();
    let victim = agents[7].take().unwrap();
    let (url, port) = (
        victim.base.clone(),
        victim.base.rsplit(':').next().unwrap().to_owned(),
    );
    victim.kill9();
    let why = wait_state(&c, &url, "down", Duration::from_secs(15)).await;
    assert!(why.contains("connection refused"), "{why}");
    agents[7] = Some(start(
        dirs[7].path(),
        "agent-07",
        Some(&origin),
        &format!("127.0.0.1:{port}"),
    ));
    wait_state(&c, &url, "up", Duration::from_secs(15)).await;
    let same = c
        .execute("return window.__same_page === 1;", vec![])
        .await
        .unwrap();
    assert_eq!(same, json!(true), "the page was reloaded");

    // Removing an agent forgets its token.
    let css = format!(
        "[data-testid=fleet-agent][data-url='{}'] [data-testid=fleet-remove]",
        closed.base
    );
    click_fresh(&c, &css).await;
    let stored = c
        .execute("return localStorage.getItem('vantage.agents');", vec![])
        .await
        .unwrap();
    let stored = stored.as_str().unwrap().to_owned();
    assert!(!stored.contains(&closed.token) && stored.contains(&agents[3].as_ref().unwrap().token));

    // "Open" switches the whole dashboard, event stream included, to that agent.
    let third = agents[3].as_ref().unwrap();
    let open = format!(
        "[data-testid=fleet-agent][data-url='{}'] button.button",
        third.base
    );
    click_fresh(&c, &open).await;
    let banner = wait_css(&c, "[data-testid=on-view]", Duration::from_secs(20)).await;
    assert!(banner.text().await.unwrap().contains("agent-03"));
    c.goto(&home.url("/reach")).await.unwrap();
    let target = wait_css(&c, "[data-testid=reach-target]", Duration::from_secs(20)).await;
    assert!(target.text().await.unwrap().contains("only on agent-03"));
    wait_css(&c, ".live.is-live", Duration::from_secs(20)).await;
    click_fresh(&c, "[data-testid=on-view] button").await;
    wait_css(&c, "[data-testid=fleet]", Duration::from_secs(20)).await;
    assert!(c.find(Locator::Css("[data-testid=on-view]")).await.is_err());
    c.close().await.unwrap();

    // On a phone.
    let p = driver.client(360, 780).await;
    p.goto(&format!("{}/?token={}", home.base, home.token))
        .await
        .unwrap();
    wait_css(&p, "main h1", Duration::from_secs(20)).await;
    p.execute(
        "localStorage.setItem('vantage.agents', arguments[0]);",
        vec![json!(serde_json::to_string(&list[..3]).unwrap())],
    )
    .await
    .unwrap();
    p.goto(&home.url("/fleet")).await.unwrap();
    wait_css(
        &p,
        "[data-testid=fleet-agent][data-state=up] [data-testid=fleet-version]",
        Duration::from_secs(20),
    )
    .await;
    check_fits(&p, "/fleet", "fleet-360.png").await;
    p.close().await.unwrap();
}
