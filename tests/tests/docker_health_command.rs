//! End to end against the real Docker engine: a healthcheck command that cannot run is
//! diagnosed as the check's fault, not the app's, and its fix uses what the image has and
//! fits how the container was started (docs/findings.md, "Healthchecks that cannot run").
//! The suggested `docker run` flags are then used for real, and the container turns healthy.
//! Cases: a missing program (shell and exec form), a crash (SIGSEGV), a file that is not
//! executable, an exec-form check written as one string, and an image without a shell.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{build_image, docker, require_docker, Agent, Container, TEST_IMAGE};

/// Serves the test image's `/www` on 8080: the "app" the checks are about.
const HTTPD: [&str; 7] = ["httpd", "-f", "-p", "8080", "-h", "/www", "-v"];

/// Waits until the container's findings include `code`, and returns that finding.
async fn finding(agent: &Agent, name: &str, code: &str) -> Value {
    let path = format!("/api/containers/{name}");
    let detail = agent
        .wait_for(&path, Duration::from_secs(40), |s, b| {
            s == 200
                && b["health"] == "unhealthy"
                && b["findings"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|f| f["code"] == code))
        })
        .await;
    let findings = detail["findings"].as_array().unwrap().clone();
    // One root cause, one critical finding: `container_unhealthy` points at the check.
    let critical: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] == "critical")
        .collect();
    assert_eq!(critical.len(), 1, "{findings:#?}");
    assert!(
        findings
            .iter()
            .all(|f| !f["code"].as_str().unwrap().starts_with("healthcheck_never")),
        "a timing finding blames the app: {findings:#?}"
    );
    findings.into_iter().find(|f| f["code"] == code).unwrap()
}

/// The value of `--health-cmd '…'` as the shell reads it.
fn health_cmd(snippet: &str) -> String {
    let value = snippet
        .trim()
        .strip_prefix("--health-cmd ")
        .unwrap_or_else(|| panic!("not a --health-cmd flag: {snippet}"));
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s' {value}"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_missing_curl_is_the_checks_fault_and_wget_fixes_it() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path(), &[]);
    // The app serves; the check asks for curl, which the image lacks.
    let c = Container::run(
        "no-curl",
        &[
            "--health-cmd",
            "curl -f http://localhost:8080/ || exit 1",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
        ],
        &HTTPD,
    );
    let f = finding(&agent, &c.name, "healthcheck_command_broken").await;
    assert_eq!(f["severity"], "critical");
    let summary = f["summary"].as_str().unwrap();
    assert!(summary.contains("`curl` is not in the image"), "{f:#}");
    let fix = &f["fix"];
    let description = fix["description"].as_str().unwrap();
    // The agent looked into the image: busybox's wget is there.
    assert!(
        description.contains("with `wget`, which the image has"),
        "{fix:#}"
    );
    assert!(
        description.contains(&format!("docker rm -f {}", c.name)),
        "{fix:#}"
    );
    assert_eq!(fix["snippet_language"], "shell");
    let cmd = health_cmd(fix["snippet"].as_str().unwrap());
    assert_eq!(cmd, "wget -q -O /dev/null http://localhost:8080/");

    // The container page shows it, with its fix, on a desktop and a phone.
    {
        use support::browser::{check_fits, require_dashboard, screenshot_dir, wait_css, Driver};
        require_dashboard();
        let driver = Driver::start();
        for (width, shot) in [
            (1280, "container-check-broken.png"),
            (360, "phone-container-check-broken.png"),
        ] {
            let b = driver.client(width, 900).await;
            b.goto(&format!("{}/?token={}", agent.base, agent.token))
                .await
                .unwrap();
            wait_css(&b, "main", Duration::from_secs(20)).await;
            b.goto(&agent.url(&format!("/containers/{}", c.name)))
                .await
                .unwrap();
            let card = "[data-testid=finding][data-code=healthcheck_command_broken]";
            wait_css(&b, card, Duration::from_secs(20)).await;
            b.execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
                vec![Value::String(card.to_owned())],
            )
            .await
            .unwrap();
            if width == 360 {
                check_fits(&b, "/containers/{name} with a broken check", shot).await;
            } else {
                std::fs::write(screenshot_dir().join(shot), b.screenshot().await.unwrap()).unwrap();
            }
            b.close().await.unwrap();
        }
    }

    // The fix, used as given: the same app turns healthy.
    let fixed = Container::run(
        "fixed",
        &["--health-cmd", &cmd, "--health-interval", "1s"],
        &HTTPD,
    );
    agent
        .wait_for(
            &format!("/api/containers/{}", fixed.name),
            Duration::from_secs(30),
            |s, b| s == 200 && b["health"] == "healthy",
        )
        .await;
}

#[tokio::test]
async fn exec_form_checks_in_compose_crashes_and_images_without_a_shell() {
    require_docker();
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path(), &[]);

    // An exec-form check (only an image can set one without compose), in a container
    // that compose labels as service `api`: the fix is a compose snippet under `api`.
    let exec_image = "vantage-test/hc-exec:latest";
    build_image(
        exec_image,
        &format!(
            "FROM {TEST_IMAGE}\nHEALTHCHECK --interval=1s --retries=2 CMD [\"curl\", \"-f\", \"http://localhost:8080/\"]\n"
        ),
    );
    let compose = Container::run_image(
        "compose",
        exec_image,
        &[
            "--label",
            "com.docker.compose.project=shop",
            "--label",
            "com.docker.compose.service=api",
        ],
        &HTTPD,
    );

    // A check program that crashes (SIGSEGV), started with docker run.
    let crash = Container::run(
        "crash",
        &[
            "--health-cmd",
            "/tmp/check http://localhost:8080/",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
        ],
        &[
            "sh",
            "-c",
            "printf '#!/bin/sh\\nkill -SEGV $$\\n' > /tmp/check && chmod +x /tmp/check && exec httpd -f -p 8080 -h /www",
        ],
    );

    let f = finding(&agent, &compose.name, "healthcheck_command_broken").await;
    assert!(
        f["explanation"]
            .as_str()
            .unwrap()
            .contains("executable file not found"),
        "{f:#}"
    );
    assert_eq!(f["fix"]["snippet_language"], "yaml");
    let snippet = f["fix"]["snippet"].as_str().unwrap();
    assert_eq!(
        snippet,
        "services:\n  api:\n    healthcheck:\n      test: [\"CMD\",\"wget\",\"-q\",\"-O\",\"/dev/null\",\"http://localhost:8080/\"]\n",
    );
    assert!(f["fix"]["description"]
        .as_str()
        .unwrap()
        .contains("docker compose up -d api"));

    let f = finding(&agent, &crash.name, "healthcheck_command_broken").await;
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains("`/tmp/check` crashed with exit 139, a segmentation fault"),
        "{f:#}"
    );
    assert_eq!(
        health_cmd(f["fix"]["snippet"].as_str().unwrap()),
        "wget -q -O /dev/null http://localhost:8080/"
    );

    // Quoted for the other form: one string in an exec-form check.
    let quoted_image = "vantage-test/hc-quoted:latest";
    build_image(
        quoted_image,
        &format!(
            "FROM {TEST_IMAGE}\nHEALTHCHECK --interval=1s --retries=2 CMD [\"wget -q -O /dev/null http://localhost:8080/\"]\n"
        ),
    );
    let quoted = Container::run_image("quoted", quoted_image, &[], &HTTPD);
    let f = finding(&agent, &quoted.name, "healthcheck_command_quoting").await;
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("runs a program named `wget -q -O /dev/null http://localhost:8080/`"),
        "{f:#}"
    );
    assert_eq!(
        health_cmd(f["fix"]["snippet"].as_str().unwrap()),
        "wget -q -O /dev/null http://localhost:8080/"
    );

    // Not executable: the check is a file without its x bit.
    let noexec = Container::run(
        "noexec",
        &["--health-cmd", "/tmp/check", "--health-interval", "1s", "--health-retries", "2"],
        &[
            "sh",
            "-c",
            "echo 'wget -q -O /dev/null http://localhost:8080/' > /tmp/check && exec httpd -f -p 8080 -h /www",
        ],
    );
    let f = finding(&agent, &noexec.name, "healthcheck_command_broken").await;
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("`/tmp/check` cannot be executed"),
        "{f:#}"
    );
    assert!(
        f["explanation"].as_str().unwrap().contains("exit 126"),
        "{f:#}"
    );
    assert!(
        f["fix"]["description"]
            .as_str()
            .unwrap()
            .contains("RUN chmod +x /tmp/check"),
        "{f:#}"
    );

    // No /bin/sh: a CMD-SHELL check cannot start, and docker run cannot fix it.
    let bare = "vantage-test/hc-bare:latest";
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(support::static_busybox(), root.path().join("busybox")).unwrap();
    let tar = root.path().join("rootfs.tar");
    let ok = std::process::Command::new("tar")
        .args([
            "-C",
            root.path().to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            "busybox",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    docker(&["import", tar.to_str().unwrap(), bare]);
    let shell_less = Container::run_image(
        "no-shell",
        bare,
        &[
            "--health-cmd",
            "/busybox wget -q -O /dev/null http://localhost:8080/",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
        ],
        &["/busybox", "httpd", "-f", "-p", "8080", "-h", "/"],
    );
    let f = finding(&agent, &shell_less.name, "healthcheck_command_broken").await;
    assert!(
        f["summary"].as_str().unwrap().contains("no /bin/sh"),
        "{f:#}"
    );
    assert_eq!(f["fix"]["snippet_language"], "dockerfile");
    assert_eq!(
        f["fix"]["snippet"],
        "HEALTHCHECK CMD [\"/busybox\",\"wget\",\"-q\",\"-O\",\"/dev/null\",\"http://localhost:8080/\"]\n"
    );
}
