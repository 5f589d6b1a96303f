//! The API contract against the real agent process: schemathesis generates requests from
//! the agent's own `/api/openapi.json`, both schema-valid ones and ones that break the
//! schema, and checks that the agent never answers with a server error, accepts every
//! schema-valid request, refuses every schema-violating one, and answers in the shapes and
//! with the statuses the document gives.
//!
//! The fuzzer gets the live document with two kinds of changes, both made here so the
//! agent's own document stays exactly what it serves:
//! * Routes that make the agent contact an address or run long work are taken out (see
//!   [`EXCLUDED`]), so it can never make the agent reach an address it generated.
//! * Values that must name something the agent has (a target, a loaded rule set, a rules
//!   file's content) are pinned to something it has ([`pin_state`]): a schema cannot say
//!   "a target that exists", and the agent rightly refuses the others.
//!
//! The agent runs without Docker: the Docker routes answer `503 docker_unavailable`, which
//! they document.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{http, workspace_root, Agent, AgentLaunch};

/// Operations the fuzzer must not call, with why.
const EXCLUDED: &[(&str, &str, &str)] = &[
    (
        "post",
        "/api/targets/{id}/probe",
        "connects to the target's address (the fuzzer creates targets at generated addresses)",
    ),
    (
        "post",
        "/api/fleet/check",
        "connects to the agent URL it is given (the fuzzer would have it probe generated addresses)",
    ),
    (
        "post",
        "/api/gpu/runs",
        "starts a benchmark run: minutes of CPU and GPU work",
    ),
    (
        "post",
        "/api/rules/host",
        "runs iptables-save, ip6tables-save and nft",
    ),
    (
        "get",
        "/api/events",
        "a server-sent event stream stays open until the agent stops",
    ),
];

/// The target in the agent's config file: device reports name it. Never probed (the probe
/// route is excluded, and `Agent` runs without scheduled probes, which would otherwise
/// probe the targets the fuzzer creates), and config targets cannot be deleted through
/// the API.
const TARGET_ID: &str = "fuzz";
const CONFIG: &str = "[[targets]]\nname = \"Fuzz\"\nurl = \"http://127.0.0.1:9/\"\n";

/// A rules file the agent parses: uploads carry it.
const RULES_FILE: &str = r#"{"SecurityGroups": [{"GroupId": "sg-0ffffffffffffffff", "GroupName": "public-web", "VpcId": "vpc-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}], "IpPermissionsEgress": []}]}"#;

/// Test cases per operation and phase: enough for the coverage phase to try every
/// constraint's edges and the fuzzing phase a few hundred bodies per route, small enough
/// for well under a minute of the fuzzer on two cores.
const MAX_EXAMPLES: &str = "300";
/// The whole run is stopped after this; a healthy one takes under a minute.
const RUN_LIMIT: Duration = Duration::from_secs(300);

const NO_DOCKER: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");

/// schemathesis.toml: the statuses each check expects where the defaults do not fit.
/// * A request refused for its size (`413`) is refused.
/// * Without Docker the Docker routes answer `503 docker_unavailable`, as documented.
/// * Each upload is stored and the agent keeps at most 100 rules files (one more is a
///   documented `409`): a few dozen uploads test the route without reaching that limit.
const SCHEMATHESIS_CONFIG: &str = r#"
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

[[operations]]
include-path-regex = "^/api/(containers|containers/\\{id\\}|networks|connectivity)$"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]

[[operations]]
include-name = "POST /api/rules"
generation.max-examples = 25
"#;

/// The schemathesis command: `SCHEMATHESIS` when set, else the one `scripts/lib.sh`
/// (`install_schemathesis`) puts under `.tools/`.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("SCHEMATHESIS").map_or_else(
        || workspace_root().join(".tools/schemathesis-venv/bin/schemathesis"),
        PathBuf::from,
    );
    let works = Command::new(&path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        works,
        "schemathesis not found at {}: run scripts/test.sh, or install it alone with \
         `bash -c 'source scripts/lib.sh && install_schemathesis'` (PyPI, into \
         .tools/schemathesis-venv), or set SCHEMATHESIS to its path",
        path.display()
    );
    path
}

/// Takes [`EXCLUDED`] out of the document; each must be in it (a renamed route would
/// otherwise slip back in under its new name unnoticed).
fn exclude(doc: &mut Value) {
    let paths = doc["paths"].as_object_mut().unwrap();
    for (method, path, why) in EXCLUDED {
        let removed = paths
            .get_mut(*path)
            .and_then(|item| item.as_object_mut())
            .and_then(|item| item.remove(*method));
        assert!(
            removed.is_some(),
            "{} {path} ({why}) is not in the OpenAPI document any more: update EXCLUDED",
            method.to_uppercase()
        );
        if paths[*path].as_object().is_some_and(|item| item.is_empty()) {
            paths.remove(*path);
        }
    }
}

/// The schema at `pointer`, which must be there.
fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
    doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} is not in the OpenAPI document: update pin_state"))
}

/// Pins the values that must name what the agent has.
fn pin_state(doc: &mut Value) {
    // A device report's results name targets of the probe set.
    *at(doc, "/components/schemas/BrowserCheck/properties/target_id") =
        json!({"type": "string", "enum": [TARGET_ID]});
    // The rule sets a question names must be loaded: the fuzzer names none (every loaded
    // set applies). Naming any is then schema-violating, and refused as it should be.
    let question = at(
        doc,
        "/components/schemas/RulesQuestion/allOf/0/properties/sets",
    );
    question["maxItems"] = json!(0);
    // An upload is a cloud CLI's output: one the agent parses.
    *at(
        doc,
        "/paths/~1api~1rules/post/requestBody/content/text~1plain/schema",
    ) = json!({"type": "string", "enum": [RULES_FILE]});
}

/// The end of the agent's log: thousands of requests make the whole of it too long to read.
fn log_tail(agent: &Agent) -> String {
    let log = agent.log_text();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_agent_keeps_its_openapi_contract() {
    let st = schemathesis();
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("vantage.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let agent = Agent::start_with(
        data.path(),
        &[NO_DOCKER],
        &AgentLaunch {
            args: vec!["--config".into(), config.display().to_string()],
            ..AgentLaunch::default()
        },
    );

    let res = http()
        .get(agent.url("/api/openapi.json"))
        .bearer_auth(&agent.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut doc: Value = res.json().await.unwrap();
    exclude(&mut doc);
    pin_state(&mut doc);
    let schema = data.path().join("openapi.json");
    std::fs::write(&schema, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let st_config = data.path().join("schemathesis.toml");
    std::fs::write(&st_config, SCHEMATHESIS_CONFIG).unwrap();

    let started = Instant::now();
    let mut child = Command::new(&st)
        .arg("--config-file")
        .arg(&st_config)
        .arg("--no-color")
        .arg("run")
        .arg(&schema)
        .args(["--url", &agent.base])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", agent.token),
        ])
        .args([
            "--checks",
            "not_a_server_error,positive_data_acceptance,negative_data_rejection,\
             response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        // One worker: with two, the fuzzer's own code generation races with some seeds
        // ("AST constructor recursion depth mismatch"), and the run is CPU-bound anyway.
        .args(["--workers", "1", "--seed", "1"])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "10"])
        .arg("--continue-on-failure")
        .current_dir(data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", st.display()));

    // Read both pipes while it runs (a full pipe would stall it) and stop it at the limit.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let out = out.join().unwrap();
    let err = err.join().unwrap();
    let took = started.elapsed();
    eprintln!("schemathesis took {took:.0?}");

    let Some(status) = status else {
        panic!(
            "schemathesis ran past {RUN_LIMIT:?} and was stopped:\n{out}\n{err}\nagent log, last lines:\n{}",
            log_tail(&agent)
        );
    };
    assert!(
        status.success(),
        "schemathesis found requests where the agent breaks its OpenAPI contract \
         (docs/api.md, \"Contract\"):\n{out}\n{err}\nagent log, last lines:\n{}",
        log_tail(&agent)
    );
    // A run that tested nothing would pass too.
    assert!(
        out.contains("passed"),
        "schemathesis reported no passed operations:\n{out}\n{err}"
    );
}
