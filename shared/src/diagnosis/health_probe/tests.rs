//! Outputs as Docker records them (seen with real containers: busybox's sh, runc's exec
//! errors), classified, and the fixes they get.

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::api::{HealthStatus, ImageTools};

fn test(form: &str, words: &[&str]) -> Vec<String> {
    std::iter::once(form)
        .chain(words.iter().copied())
        .map(str::to_owned)
        .collect()
}

fn cfg(form: &str, words: &[&str], tools: Option<ImageTools>) -> HealthcheckConfig {
    HealthcheckConfig {
        test: test(form, words),
        interval_ms: 1000,
        timeout_ms: 3000,
        start_period_ms: 0,
        retries: 3,
        tools,
    }
}

fn run(at: i64, exit_code: i64, output: &str) -> HealthcheckRun {
    let start = Utc
        .timestamp_opt(1_700_000_000 + at, 0)
        .single()
        .expect("time");
    HealthcheckRun {
        start,
        end: start + Duration::milliseconds(30),
        duration_ms: 30,
        exit_code,
        output: output.to_owned(),
        status: HealthStatus::Unhealthy,
    }
}

fn busybox() -> Option<ImageTools> {
    Some(ImageTools {
        shell: true,
        programs: vec!["wget".into(), "busybox".into()],
    })
}

const COMPOSE: Launch<'static> = Launch::Compose {
    service: "api",
    container: "shop-api-1",
};
const RUN: Launch<'static> = Launch::DockerRun { container: "api" };

fn diagnose_one(launch: Launch<'_>, config: &HealthcheckConfig, last: HealthcheckRun) -> Finding {
    let runs = [run(0, 0, "ok"), last];
    diagnose(&Input {
        launch,
        config,
        started_at: None,
        runs: &runs,
        ports: &[],
        unhealthy: true,
    })
    .unwrap_or_else(|| panic!("no finding for {:?}", runs[1]))
}

const CURL_MISSING_EXEC: &str = "OCI runtime exec failed: exec failed: unable to start container process: exec: \"curl\": executable file not found in $PATH: unknown";

#[test]
fn a_missing_program_gets_a_check_with_what_the_image_has() {
    let c = cfg(
        "CMD-SHELL",
        &["curl -f http://localhost:8080/health"],
        busybox(),
    );
    let f = diagnose_one(COMPOSE, &c, run(10, 127, "/bin/sh: curl: not found\n"));
    assert_eq!(f.code, FindingCode::HealthcheckCommandBroken);
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.summary.contains("`curl` is not in the image"),
        "{}",
        f.summary
    );
    assert!(f.explanation.contains("exit 127"), "{}", f.explanation);
    let fix = f.fix.expect("fix");
    assert!(
        fix.description.contains("with `wget`, which the image has"),
        "{}",
        fix.description
    );
    assert!(
        fix.description.contains("docker compose up -d api"),
        "{}",
        fix.description
    );
    assert_eq!(
        fix.snippet.as_deref(),
        Some("services:\n  api:\n    healthcheck:\n      test: [\"CMD\",\"wget\",\"-q\",\"-O\",\"/dev/null\",\"http://localhost:8080/health\"]\n")
    );

    // The exec form: runc's words. Started with docker run; the agent could not look.
    let c = cfg("CMD", &["curl", "-f", "http://localhost/"], None);
    let f = diagnose_one(RUN, &c, run(10, -1, CURL_MISSING_EXEC));
    assert!(
        f.summary.contains("`curl` is not in the image"),
        "{}",
        f.summary
    );
    let fix = f.fix.expect("fix");
    assert!(
        fix.description.contains("could not look into the image"),
        "{}",
        fix.description
    );
    assert!(
        fix.description.contains("docker rm -f api"),
        "{}",
        fix.description
    );
    assert_eq!(
        fix.snippet.as_deref(),
        Some("--health-cmd 'wget -q -O /dev/null http://localhost/'\n")
    );
}

#[test]
fn shells_word_a_missing_program_in_their_own_ways() {
    let c = cfg("CMD-SHELL", &["curl -f http://localhost/ || exit 1"], None);
    for out in [
        "/bin/sh: curl: not found",
        "sh: 1: curl: not found",
        "/bin/sh: 1: curl: not found",
        "bash: line 1: curl: command not found",
    ] {
        // `|| exit 1` turns 127 into 1: the shell's words still say what happened.
        assert_eq!(
            classify(&run(1, 1, out), &c),
            Some(Cause::Missing {
                program: "curl".into()
            }),
            "{out}"
        );
    }
}

#[test]
fn not_executable_and_crashed_programs() {
    let c = cfg("CMD-SHELL", &["/bin/check"], busybox());
    assert_eq!(
        classify(&run(1, 126, "/bin/sh: /bin/check: Permission denied\n"), &c),
        Some(Cause::NotExecutable {
            program: "/bin/check".into()
        })
    );
    let exec = cfg("CMD", &["/bin/check"], busybox());
    let out = "OCI runtime exec failed: exec failed: unable to start container process: exec: \"/bin/check\": permission denied: unknown";
    let f = diagnose_one(RUN, &exec, run(1, -1, out));
    assert!(
        f.summary.contains("`/bin/check` cannot be executed"),
        "{}",
        f.summary
    );
    let fix = f.fix.expect("fix");
    assert!(
        fix.description.contains("RUN chmod +x /bin/check"),
        "{}",
        fix.description
    );

    // busybox's wget segfaults: neither wget nor another busybox applet is offered.
    let c = cfg(
        "CMD-SHELL",
        &["wget -q -O /dev/null http://localhost:8080/"],
        busybox(),
    );
    let f = diagnose_one(COMPOSE, &c, run(1, 139, ""));
    assert!(
        f.summary
            .contains("`wget` crashed with exit 139, a segmentation fault"),
        "{}",
        f.summary
    );
    let fix = f.fix.expect("fix");
    assert!(fix.snippet.is_none());
    assert!(
        fix.description.contains("none of curl, wget"),
        "{}",
        fix.description
    );
    // With python3 in the image, python3 checks the same URL.
    let mut tools = busybox().expect("tools");
    tools.programs.push("python3".into());
    let c = cfg(
        "CMD-SHELL",
        &["wget -q -O /dev/null http://localhost:8080/"],
        Some(tools),
    );
    let f = diagnose_one(COMPOSE, &c, run(1, 139, ""));
    let snippet = f.fix.and_then(|x| x.snippet).expect("snippet");
    assert!(
        snippet.contains(r#"["CMD","python3","-c","import urllib.request; urllib.request.urlopen(\"http://localhost:8080/\", timeout=5)"]"#),
        "{snippet}"
    );
}

#[test]
fn a_shell_check_in_an_image_without_a_shell() {
    let out = "OCI runtime exec failed: exec failed: unable to start container process: exec: \"/bin/sh\": stat /bin/sh: no such file or directory: unknown";
    let tools = Some(ImageTools {
        shell: false,
        programs: vec![],
    });
    let c = cfg("CMD-SHELL", &["/app/server --check"], tools);
    let f = diagnose_one(COMPOSE, &c, run(1, -1, out));
    assert!(f.summary.contains("no /bin/sh"), "{}", f.summary);
    let snippet = f.fix.and_then(|x| x.snippet).expect("snippet");
    assert!(
        snippet.contains(r#"test: ["CMD","/app/server","--check"]"#),
        "{snippet}"
    );
    // docker run's --health-cmd needs the shell: the image's Dockerfile instead.
    let f = diagnose_one(RUN, &c, run(1, -1, out));
    let fix = f.fix.expect("fix");
    assert_eq!(fix.snippet_language.as_deref(), Some("dockerfile"));
    assert_eq!(
        fix.snippet.as_deref(),
        Some("HEALTHCHECK CMD [\"/app/server\",\"--check\"]\n")
    );
}

#[test]
fn quoting_for_the_other_form() {
    let one = cfg("CMD", &["wget -q http://localhost/"], busybox());
    let out = "OCI runtime exec failed: exec failed: unable to start container process: exec: \"wget -q http://localhost/\": stat wget -q http://localhost/: no such file or directory: unknown";
    let f = diagnose_one(COMPOSE, &one, run(1, -1, out));
    assert_eq!(f.code, FindingCode::HealthcheckCommandQuoting);
    assert!(
        f.summary
            .contains("runs a program named `wget -q http://localhost/`"),
        "{}",
        f.summary
    );
    let snippet = f.fix.and_then(|x| x.snippet).expect("snippet");
    assert!(
        snippet.contains(r#"test: ["CMD","wget","-q","http://localhost/"]"#),
        "{snippet}"
    );

    let ops = cfg(
        "CMD",
        &["curl", "-f", "http://localhost/", "||", "exit", "1"],
        None,
    );
    let f = diagnose_one(RUN, &ops, run(1, 6, "curl: (6) Could not resolve host: ||"));
    assert!(
        f.summary.contains("`||` reaches the program"),
        "{}",
        f.summary
    );
    assert_eq!(
        f.fix.and_then(|x| x.snippet).as_deref(),
        Some("--health-cmd 'curl -f http://localhost/ || exit 1'\n")
    );

    let list = cfg(
        "CMD-SHELL",
        &[r#"["CMD", "curl", "-f", "http://localhost/"]"#],
        None,
    );
    let f = diagnose_one(COMPOSE, &list, run(1, 127, "/bin/sh: [CMD,: not found"));
    let fix = f.fix.expect("fix");
    assert!(
        fix.description.contains("without quotes around it"),
        "{}",
        fix.description
    );
    assert!(fix
        .snippet
        .expect("snippet")
        .contains(r#"test: ["CMD","curl","-f","http://localhost/"]"#));

    let quoted = cfg("CMD-SHELL", &["'curl -f http://localhost/'"], None);
    let f = diagnose_one(
        COMPOSE,
        &quoted,
        run(1, 127, "/bin/sh: curl -f http://localhost/: not found"),
    );
    assert!(
        f.summary
            .contains("a program named `curl -f http://localhost/`"),
        "{}",
        f.summary
    );
    assert!(f
        .fix
        .and_then(|x| x.snippet)
        .expect("snippet")
        .contains(r#"test: ["CMD-SHELL","curl -f http://localhost/"]"#));
}

#[test]
fn the_apps_own_failures_are_not_the_commands() {
    let c = cfg(
        "CMD-SHELL",
        &["wget -q -O /dev/null http://localhost:8080/"],
        busybox(),
    );
    for (code, out) in [
        (
            1,
            "wget: can't connect to remote host (127.0.0.1): Connection refused\n",
        ),
        (1, "wget: server returned error: HTTP/1.1 404 Not Found"),
        (22, "curl: (22) The requested URL returned error: 503"),
        (-1, "Health check exceeded timeout (3s)"),
        (1, "sh: the app says: not found"),
    ] {
        assert_eq!(classify(&run(1, code, out), &c), None, "{out}");
    }
    // The latest run passed, or the failure is from before the latest start: nothing.
    let runs = [run(0, 127, "/bin/sh: curl: not found"), run(5, 0, "")];
    let input = Input {
        launch: COMPOSE,
        config: &c,
        started_at: None,
        runs: &runs,
        ports: &[],
        unhealthy: false,
    };
    assert_eq!(diagnose(&input), None);
    let old = [run(0, 127, "/bin/sh: curl: not found")];
    let input = Input {
        runs: &old,
        started_at: Some(Utc.timestamp_opt(1_700_000_003, 0).single().expect("time")),
        ..input
    };
    assert_eq!(diagnose(&input), None);
}

/// In the container's diagnosis the broken command is the one critical finding: the
/// unhealthy status points at it, and no timing finding blames the app.
#[test]
fn the_container_gets_one_critical_finding_for_a_broken_command() {
    use crate::api::{ContainerState, ContainerSummary};
    let c = ContainerSummary {
        id: "f".repeat(64),
        name: "api".into(),
        image: "shop/api".into(),
        state: ContainerState::Running,
        status: String::new(),
        health: HealthStatus::Unhealthy,
        failing_streak: 4,
        created: None,
        started_at: None,
        finished_at: None,
        exit_code: None,
        restart_count: 0,
        ports: vec![],
        networks: vec![],
        healthcheck: Some(cfg("CMD-SHELL", &["curl -f http://localhost/"], busybox())),
        compose_project: Some("shop".into()),
        compose_service: Some("api".into()),
    };
    let runs: Vec<_> = (0..4)
        .map(|i| run(i, 127, "/bin/sh: curl: not found"))
        .collect();
    let findings = crate::diagnosis::container::diagnose(&c, &runs);
    let codes: Vec<_> = findings.iter().map(|f| (f.code, f.severity)).collect();
    assert_eq!(
        codes,
        vec![
            (FindingCode::HealthcheckCommandBroken, Severity::Critical),
            (FindingCode::ContainerUnhealthy, Severity::Warning),
        ]
    );
    // The same history from the app (connection refused) keeps the timing findings.
    let runs: Vec<_> = (0..4)
        .map(|i| {
            run(
                i,
                1,
                "wget: can't connect to remote host (127.0.0.1): Connection refused",
            )
        })
        .collect();
    let findings = crate::diagnosis::container::diagnose(&c, &runs);
    assert!(
        findings
            .iter()
            .any(|f| f.code == FindingCode::HealthcheckNeverPassed),
        "{findings:#?}"
    );
    assert!(findings
        .iter()
        .any(|f| f.code == FindingCode::ContainerUnhealthy && f.severity == Severity::Critical));
}

/// What an independent review found: each case here once went wrong.
#[test]
fn shells_started_on_purpose_scripts_and_variables() {
    // `sh -c` with `$(…)` on purpose: when it fails, it is the app's failure, not quoting.
    let purposeful = cfg(
        "CMD",
        &["sh", "-c", "test \"$(wget -qO- localhost/health)\" = ok"],
        busybox(),
    );
    assert_eq!(quoting(&purposeful), None);
    assert_eq!(classify(&run(1, 1, ""), &purposeful), None);

    // A script whose own `jq` is missing: `jq` is named, not the script.
    let script = cfg("CMD-SHELL", &["/app/check.sh"], busybox());
    assert_eq!(
        classify(
            &run(1, 127, "/app/check.sh: line 3: jq: command not found"),
            &script
        ),
        Some(Cause::Missing {
            program: "jq".into()
        })
    );
    // 127 and no words: some program it runs, not necessarily the first.
    let f = diagnose_one(COMPOSE, &script, run(2, 127, ""));
    assert!(
        f.summary.contains("a program it runs is not in the image"),
        "{}",
        f.summary
    );

    // Shell syntax in the exec form becomes a shell line that keeps each word whole.
    let ops = cfg(
        "CMD",
        &[
            "curl",
            "-H",
            "Accept: a b",
            "http://localhost/",
            "||",
            "exit",
            "1",
        ],
        None,
    );
    let f = diagnose_one(RUN, &ops, run(1, 6, "curl: (6) Could not resolve host: ||"));
    let cmd = f.fix.and_then(|x| x.snippet).expect("snippet");
    assert!(
        cmd.contains(r#"curl -H '\''Accept: a b'\'' http://localhost/ || exit 1"#),
        "{cmd}"
    );

    // Compose substitutes `$VAR` itself: the snippet writes `$$`.
    let var = cfg("CMD-SHELL", &["curl -f http://localhost:$PORT/"], None);
    let f = diagnose_one(COMPOSE, &cfg("CMD", &["curl -f http://localhost:$PORT/"], None), run(1, -1, "OCI runtime exec failed: exec failed: unable to start container process: exec: \"curl -f http://localhost:$PORT/\": stat curl -f http://localhost:$PORT/: no such file or directory: unknown"));
    let snippet = f.fix.and_then(|x| x.snippet).expect("snippet");
    assert!(snippet.contains("$$PORT"), "{snippet}");
    // A URL with a variable is checked through the shell, which expands it.
    let f = diagnose_one(COMPOSE, &var, run(1, 127, "/bin/sh: curl: not found"));
    let snippet = f.fix.and_then(|x| x.snippet).expect("snippet");
    assert!(
        snippet
            .contains(r#"test: ["CMD-SHELL","wget -q -O /dev/null \"http://localhost:$$PORT/\""]"#),
        "{snippet}"
    );

    // Running a shell-form check by hand goes through the container's shell, never the
    // user's: `|| exit 1` must not close their terminal.
    let runtime = cfg("CMD-SHELL", &["curl -f http://localhost/ || exit 1"], None);
    let f = diagnose_one(
        RUN,
        &runtime,
        run(1, -1, "OCI runtime exec failed: exec failed: unable to start container process: read init-p: connection reset by peer: unknown"),
    );
    assert_eq!(
        f.fix.and_then(|x| x.snippet).as_deref(),
        Some("docker exec api sh -c 'curl -f http://localhost/ || exit 1'\n")
    );
}
