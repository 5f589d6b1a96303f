//! The GPU feature on the real process: `vantage serve` starts and answers the GPU
//! routes, stops promptly with a run going, and `vantage bench gpu --json --quick` runs to
//! the end and stores its run where the agent's history shows it. On a machine without a
//! usable NVIDIA driver (CI) both say why the GPU part is missing and still deliver the
//! CPU baseline; on a GPU machine they must deliver the GPU part too.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{agent_binary, Agent};

/// What the CUDA driver does on this machine, asked directly (not through the agent):
/// `dlopen("libcuda.so.1")`, then `cuInit(0)`.
#[derive(Debug, PartialEq)]
enum Driver {
    /// libcuda.so.1 is not loadable.
    Absent,
    /// cuInit succeeded: a usable driver.
    Usable,
    /// The library loads but cuInit fails with this error name (no device node in a
    /// container, a kernel module mismatch, …).
    InitFails(String),
}

fn driver() -> Driver {
    // Python's ctypes is the smallest independent way to call the driver API here.
    const PROBE: &str = r#"
import ctypes, sys
try:
    cuda = ctypes.CDLL("libcuda.so.1")
except OSError:
    print("absent"); sys.exit(0)
r = cuda.cuInit(0)
if r == 0:
    print("usable"); sys.exit(0)
name = ctypes.c_char_p()
cuda.cuGetErrorName(r, ctypes.byref(name))
print("fails", (name.value or b"CUDA_ERROR_UNKNOWN").decode())
"#;
    let out = Command::new("python3")
        .args(["-c", PROBE])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}) to ask the driver: install it (apt-get install python3)"
            )
        });
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    match text.split_once(' ') {
        _ if text == "absent" => Driver::Absent,
        _ if text == "usable" => Driver::Usable,
        Some(("fails", name)) => Driver::InitFails(name.to_owned()),
        _ => panic!(
            "driver probe said {text:?}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The agent's reason for no driver must be the one the driver gives.
fn assert_reason(reason: &str, driver: &Driver) {
    match driver {
        Driver::Absent => assert!(reason.contains("libcuda.so.1 not loadable"), "{reason}"),
        Driver::InitFails(name) => assert!(
            reason.starts_with("the NVIDIA driver is installed but cuInit failed: ")
                && reason.contains(name.as_str()),
            "cuInit says {name}; the agent says: {reason}"
        ),
        Driver::Usable => panic!("the driver initialises, yet the agent says: {reason}"),
    }
}

const NO_DOCKER: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");

#[tokio::test]
async fn serve_answers_gpu_routes_and_runs_a_benchmark() {
    let driver = driver();
    let data = tempfile::tempdir().unwrap();
    // No Docker here on purpose: the GPU page must answer without it too.
    let agent = Agent::start(data.path(), &[NO_DOCKER]);
    let (status, gpu) = agent.get("/api/gpu").await;
    assert_eq!(status, 200, "{gpu:#}");
    if driver == Driver::Usable {
        assert_eq!(gpu["driver"]["available"], true, "{gpu:#}");
        assert!(!gpu["devices"].as_array().unwrap().is_empty(), "{gpu:#}");
    } else {
        assert_eq!(gpu["driver"]["available"], false);
        assert_reason(gpu["driver"]["reason"].as_str().unwrap(), &driver);
        assert!(
            gpu["benchmark_needs"]
                .as_str()
                .unwrap()
                .contains("NVIDIA driver"),
            "{gpu:#}"
        );
    }
    assert_eq!(gpu["docker"]["available"], false, "{gpu:#}");

    let (status, started) = agent
        .post_json(
            "/api/gpu/runs",
            &serde_json::json!({"quick": true, "image_side": 128, "ns": [1, 2], "transfer_sizes": [65536], "repetitions": 1}),
        )
        .await;
    assert_eq!(status, 202, "{started:#}");
    let id = started["id"].as_str().unwrap().to_owned();
    let run = agent
        .wait_for(
            &format!("/api/gpu/runs/{id}"),
            Duration::from_secs(120),
            |s, b| s == 200 && b["status"] != "running",
        )
        .await;
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(run["blur"]["cpu"].as_array().unwrap().len(), 2);
    if driver != Driver::Usable {
        assert_reason(run["gpu_skipped"].as_str().unwrap(), &driver);
    }

    // History survives a restart of the agent.
    assert!(agent.stop().success());
    let agent = Agent::start(data.path(), &[NO_DOCKER]);
    let (status, list) = agent.get("/api/gpu/runs").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], id.as_str(), "{list:#}");
}

/// Regression: SIGTERM during a long run used to wait for the run's blocking
/// task (minutes). Now the agent exits within seconds and the run is stored as
/// `interrupted`, with what it measured.
#[tokio::test]
async fn a_stopping_agent_interrupts_a_running_benchmark_promptly() {
    let data = tempfile::tempdir().unwrap();
    let agent = Agent::start(data.path(), &[NO_DOCKER]);
    let (status, started) = agent
        .post_json(
            "/api/gpu/runs",
            // Minutes of CPU work: N = 64 on 2048², three times, on each path.
            &serde_json::json!({"image_side": 2048, "ns": [1, 64], "transfer_sizes": [65536], "repetitions": 3}),
        )
        .await;
    assert_eq!(status, 202, "{started:#}");
    let id = started["id"].as_str().unwrap().to_owned();
    // The first record so far is saved as the single-threaded phase ends; wait until the
    // run is well into its work instead.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, gpu) = agent.get("/api/gpu").await;
    assert_eq!(gpu["running"], id.as_str(), "{gpu:#}");
    let asked = Instant::now();
    let log = agent.log_text();
    let exit = agent.stop_within(Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "the agent did not exit cleanly within 10 s of SIGTERM ({exit:?}); log so far:\n{log}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );

    let agent = Agent::start(data.path(), &[NO_DOCKER]);
    let (status, run) = agent.get(&format!("/api/gpu/runs/{id}")).await;
    assert_eq!(status, 200, "{run:#}");
    assert_eq!(run["status"], "interrupted", "{run:#}");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .starts_with("the agent stopped while this run was going"),
        "{run:#}"
    );
    assert!(
        run["finished_at"].is_string(),
        "stored as it stopped: {run:#}"
    );
    // N = 64 single-threaded was never reached: null in JSON, read back fine.
    assert!(
        run["blur"]["cpu"][1]["single_thread_ms"].is_null(),
        "{run:#}"
    );
}

#[tokio::test]
async fn bench_gpu_quick_json_stores_the_run_for_the_agent() {
    let driver = driver();
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(agent_binary())
        .args(["bench", "gpu", "--json", "--quick", "--data-dir"])
        .arg(data.path())
        .env_remove("VANTAGE_BENCH_SIZES")
        .env_remove("VANTAGE_BENCH_NO_STORE")
        .output()
        .expect("run vantage bench gpu");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}; stderr:\n{stderr}",
        out.status
    );
    let run: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}); stderr:\n{stderr}"));
    assert_eq!(run["status"], "completed");
    assert_eq!(run["config"]["image_side"], 512);
    let cpu = run["blur"]["cpu"].as_array().unwrap();
    assert_eq!(cpu.len(), 4, "N = 1, 2, 4, 8");
    for p in cpu {
        assert!(p["single_thread_ms"].as_f64().unwrap() > 0.0, "{p}");
        assert!(p["all_cores_ms"].as_f64().unwrap() > 0.0, "{p}");
    }
    assert!(run["blur"]["cpu_single_fit"]["slope"].as_f64().unwrap() > 0.0);
    assert!(!run["machine"]["hostname"].as_str().unwrap().is_empty());
    if driver == Driver::Usable {
        assert!(run["blur"]["gpu"].is_object(), "{run:#}");
        assert_eq!(run["blur"]["gpu"]["agreement"]["pass"], true, "{run:#}");
    } else {
        assert!(run["blur"]["gpu"].is_null());
        assert_reason(run["gpu_skipped"].as_str().unwrap(), &driver);
        assert!(
            stderr.contains("CPU, one thread: N = 8"),
            "progress on stderr:\n{stderr}"
        );
    }
    let id = run["id"].as_str().unwrap();
    assert!(stderr.contains(&format!("stored as {id}")), "{stderr}");

    // The agent on the same data directory lists it, with the machine's identity.
    let agent = Agent::start(data.path(), &[NO_DOCKER]);
    let (status, list) = agent.get("/api/gpu/runs").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], id, "{list:#}");
    assert_eq!(list[0]["status"], "completed", "{list:#}");
    let (status, stored) = agent.get(&format!("/api/gpu/runs/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(stored["machine"], run["machine"], "{stored:#}");
    drop(agent);

    // --no-store leaves nothing behind.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(agent_binary())
        .args(["bench", "gpu", "--json", "--image-side", "64", "--ns", "1"])
        .args(["--repetitions", "1", "--no-store", "--data-dir"])
        .arg(empty.path())
        .env_remove("VANTAGE_BENCH_SIZES")
        .output()
        .expect("run vantage bench gpu --no-store");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!empty.path().join("history.sqlite3").exists());
}
