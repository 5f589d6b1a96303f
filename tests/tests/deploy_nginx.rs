//! docs/deployment.md's nginx example, as written there, in front of a real agent with TLS:
//! the test takes the `nginx` block from the document, points it at a self-signed
//! certificate and the agent's port, and checks through it that the dashboard loads, the
//! event stream delivers events as they happen (no buffering), and a phone link works
//! end to end with the phone's address taken from `X-Forwarded-For`.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::nginx::{free_port, Nginx};
use support::{openssl, workspace_root, Agent, AgentLaunch};

const HOST: &str = "vantage.test";

/// The ```nginx block of docs/deployment.md.
fn documented_server_block() -> String {
    let doc = std::fs::read_to_string(workspace_root().join("docs/deployment.md")).unwrap();
    let start = doc
        .find("```nginx\n")
        .expect("an nginx block in docs/deployment.md")
        + 9;
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_owned()
}

/// A client that trusts the test's certificate and finds `vantage.test` on loopback.
fn client(cert: &Path, port: u16) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve(HOST, ([127, 0, 0, 1], port).into())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_documented_nginx_config_serves_the_dashboard_events_and_phone_links() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        &format!("/CN={HOST}"),
        "-addext",
        &format!("subjectAltName=DNS:{HOST}"),
        // A server's own certificate, not a CA's: TLS clients refuse a CA as the server.
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    let config = dir.path().join("vantage.toml");
    std::fs::write(
        &config,
        "[[targets]]\nname = \"Shop API\"\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    let agent = Agent::start_with(
        dir.path(),
        &[("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")],
        &AgentLaunch {
            args: vec![
                "--config".into(),
                config.display().to_string(),
                "--allowed-host".into(),
                HOST.into(),
                "--trusted-proxy".into(),
                "127.0.0.1".into(),
            ],
            ..Default::default()
        },
    );
    let agent_port = agent.base.rsplit(':').next().unwrap().to_owned();
    let port = free_port();
    let block = documented_server_block()
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
        .replace(
            "server_name vantage.example.com;",
            &format!("server_name {HOST};"),
        )
        .replace("/etc/ssl/vantage/fullchain.pem", cert.to_str().unwrap())
        .replace("/etc/ssl/vantage/privkey.pem", key.to_str().unwrap())
        .replace(
            "http://127.0.0.1:8787",
            &format!("http://127.0.0.1:{agent_port}"),
        );
    assert!(
        block.contains(&format!("127.0.0.1:{port} ssl")),
        "the documented block changed shape:\n{block}"
    );
    let nginx = Nginx::start(&block);
    let https = client(&cert, port);
    let base = format!("https://{HOST}:{port}");
    let admin = |req: reqwest::RequestBuilder| req.bearer_auth(&agent.token);

    // The dashboard and the API, over TLS, under the proxied host name.
    let page = https.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200, "{}", nginx.logs());
    assert!(page.text().await.unwrap().contains("<html"));
    let health = https
        .get(format!("{base}/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // The event stream: the first event arrives at once, and a probe's event as it happens.
    let ticket: Value = admin(https.post(format!("{base}/api/events/ticket")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut stream = https
        .get(format!(
            "{base}/api/events?ticket={}",
            ticket["ticket"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
        .await
        .expect("no event within 5 s through nginx: is it buffering?")
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("event: docker"),
        "{first:?}"
    );
    let probe = admin(https.post(format!("{base}/api/targets/shop-api/probe")))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);
    let mut seen = String::new();
    while !seen.contains("agent_probed") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .expect("the probe's event did not come through nginx within 5 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(stream);

    // A phone link made with the public base URL works through the proxy, and the report
    // carries the phone's address from X-Forwarded-For, not nginx's.
    let link: Value = admin(https.post(format!("{base}/api/phone-links")))
        .json(&json!({"base_url": base}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{base}/p/")), "{link}");
    let code = link["code"].as_str().unwrap();
    let phone_page = https.get(url).send().await.unwrap();
    assert_eq!(phone_page.status(), 200);
    let targets = https
        .get(format!("{base}/api/phone/targets"))
        .bearer_auth(code)
        .send()
        .await
        .unwrap();
    assert_eq!(targets.status(), 200);
    let ok = json!({"outcome": "ok", "status": 200, "elapsed_ms": 12, "error": null});
    let report = json!({
        "device_id": "guest-phone",
        "page_origin": base,
        "results": [{"target_id": "shop-api", "no_cors": ok, "cors": ok, "blocked_by": null, "timing": null}]
    });
    let posted = https
        .post(format!("{base}/api/reports"))
        .bearer_auth(code)
        .header("X-Forwarded-For", "203.0.113.9")
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200, "{}", posted.text().await.unwrap());
    let comparison: Value = admin(https.get(format!("{base}/api/comparison")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device = &comparison["targets"][0]["devices"][0];
    assert_eq!(device["client_ip"], "203.0.113.9", "{comparison:#}");
}
