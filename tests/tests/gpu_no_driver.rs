//! Issue 5 on the real process: `vantage serve` starts and answers the GPU routes, and
//! `vantage bench gpu --json --quick` runs to the end. On a machine without an NVIDIA
//! driver (CI) both say why the GPU part is missing and still deliver the CPU baseline;
//! on a GPU machine they must deliver the GPU part too.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::{agent_binary, Agent};

/// Whether the driver library the agent looks for is on this machine, checked the
/// way the dynamic loader does (ldconfig's cache and the usual directories).
fn has_nvidia_driver() -> bool {
    let cached = Command::new("ldconfig")
        .arg("-p")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("libcuda.so.1"))
        .unwrap_or(false);
    cached
        || [
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            "/usr/lib64/libcuda.so.1",
            "/usr/lib/aarch64-linux-gnu/libcuda.so.1",
        ]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}

#[tokio::test]
async fn serve_answers_gpu_routes_and_runs_a_benchmark() {
    let data = tempfile::tempdir().unwrap();
    // No Docker here on purpose: the GPU page must answer without it too.
    let agent = Agent::start(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let (status, gpu) = agent.get("/api/gpu").await;
    assert_eq!(status, 200, "{gpu:#}");
    if has_nvidia_driver() {
        assert_eq!(gpu["driver"]["available"], true, "{gpu:#}");
        assert!(!gpu["devices"].as_array().unwrap().is_empty(), "{gpu:#}");
    } else {
        assert_eq!(gpu["driver"]["available"], false);
        let reason = gpu["driver"]["reason"].as_str().unwrap();
        assert!(reason.contains("libcuda.so.1 not loadable"), "{reason}");
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
    if !has_nvidia_driver() {
        assert!(run["gpu_skipped"]
            .as_str()
            .unwrap()
            .contains("libcuda.so.1"));
    }

    // History survives a restart of the agent.
    assert!(agent.stop().success());
    let agent = Agent::start(
        data.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let (status, list) = agent.get("/api/gpu/runs").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], id.as_str(), "{list:#}");
}

#[test]
fn bench_gpu_quick_json_exits_zero_with_the_cpu_baseline() {
    let out = Command::new(agent_binary())
        .args(["bench", "gpu", "--json", "--quick"])
        .env_remove("VANTAGE_BENCH_SIZES")
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
    if has_nvidia_driver() {
        assert!(run["blur"]["gpu"].is_object(), "{run:#}");
        assert_eq!(run["blur"]["gpu"]["agreement"]["pass"], true, "{run:#}");
    } else {
        assert!(run["blur"]["gpu"].is_null());
        assert!(run["gpu_skipped"]
            .as_str()
            .unwrap()
            .contains("libcuda.so.1 not loadable"));
        assert!(
            stderr.contains("CPU, one thread: N = 8"),
            "progress on stderr:\n{stderr}"
        );
    }
}
