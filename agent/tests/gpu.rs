//! GPU routes through the router with `oneshot`: the token, the status with
//! its reasons, option checks with clear 400s, one run at a time (409), a quick run to
//! the end with progress events, history and 404s. On a machine without a driver the
//! run completes with the CPU baseline and says what the GPU part needs.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;
use vantage_agent::store::Store;
use vantage_agent::{app, AppState};
use vantage_shared::gpu::{GpuRun, GpuRunStarted, GpuRunStatus, GpuRunSummary, GpuStatus};
use vantage_shared::{AgentEvent, ApiErrorBody};

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn test_app() -> (Router, AppState) {
    let docker = "unix:///nonexistent/docker.sock";
    let state = AppState::new(TOKEN.into(), vec![], docker, Store::in_memory().unwrap());
    (app(state.clone()), state)
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<&str>,
    token: bool,
) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1:8787");
    if token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_owned())
        }
        None => Body::empty(),
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

fn err(body: &[u8]) -> ApiErrorBody {
    serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "not an ApiErrorBody ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })
}

#[tokio::test]
async fn gpu_routes_need_the_token() {
    let (app, _) = test_app();
    for (method, uri) in [
        (Method::GET, "/api/gpu"),
        (Method::GET, "/api/gpu/runs"),
        (Method::POST, "/api/gpu/runs"),
        (Method::GET, "/api/gpu/runs/x"),
        (Method::POST, "/api/gpu/runs/x/cancel"),
    ] {
        let (status, body) = call(&app, method.clone(), uri, None, false).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(err(&body).error, "unauthorized");
    }
}

#[tokio::test]
async fn status_says_what_is_missing() {
    let (app, _) = test_app();
    let (status, body) = call(&app, Method::GET, "/api/gpu", None, true).await;
    assert_eq!(status, StatusCode::OK);
    let s: GpuStatus = serde_json::from_slice(&body).unwrap();
    // Decided by cuInit, not by the library loading: a driver that loads but does not
    // initialise must be reported with its error.
    match vantage_agent::gpu::driver_init() {
        Ok(()) => assert!(s.driver.available, "{s:?}"),
        Err(reason) => {
            assert!(!s.driver.available);
            assert_eq!(s.driver.reason.as_deref(), Some(reason.as_str()));
            if !vantage_agent::gpu::driver_present() {
                assert_eq!(reason, "no NVIDIA driver found (libcuda.so.1 not loadable)");
            }
            assert!(s.devices.is_empty());
            assert!(s.benchmark_needs.unwrap().contains(&reason));
        }
    }
    // Docker is down in this test: said, not an error.
    assert!(!s.docker.available);
    assert!(s.docker.reason.unwrap().starts_with("docker: "));
    assert_eq!(s.running, None);
}

#[tokio::test]
async fn bad_options_get_clear_400s() {
    let (app, _) = test_app();
    for (body, needle) in [
        (
            r#"{"image_side": 100000}"#,
            "image_side must be between 64 and 4096",
        ),
        (r#"{"ns": [0, 4]}"#, "each N must be between 1 and 64"),
        (r#"{"ns": []}"#, "chain lengths"),
        (r#"{"transfer_sizes": [17]}"#, "transfer size"),
        (
            r#"{"repetitions": 500}"#,
            "repetitions must be between 1 and 50",
        ),
        (r#"{"image_size": 512}"#, "unknown field"),
        (
            r#"{"image_side": 8192}"#,
            "up to 8192 with `vantage bench gpu`",
        ),
        (
            r#"{"ns": [53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64]}"#,
            "about 24 minutes single-threaded",
        ),
        (r#"{"quick": "yes"}"#, "bad JSON body"),
    ] {
        let (status, res) = call(&app, Method::POST, "/api/gpu/runs", Some(body), true).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let e = err(&res);
        assert_eq!(e.error, "bad_request");
        assert!(e.message.contains(needle), "{body}: {}", e.message);
    }
    let (status, res) = call(&app, Method::GET, "/api/gpu/runs/gpu-nope", None, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(err(&res).message.contains("gpu-nope"));
    let (status, res) = call(
        &app,
        Method::POST,
        "/api/gpu/runs/gpu-nope/cancel",
        None,
        true,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(err(&res).message.contains("gpu-nope"));
}

/// A run must be stoppable, and a stopping agent must not wait minutes for it.
/// Cancelled mid-run, it ends within about a second as `cancelled`, keeps
/// what it measured, and a second cancel is a 409.
#[tokio::test]
async fn a_running_benchmark_can_be_cancelled() {
    let (app, state) = test_app();
    let mut events = state.events.subscribe();
    // Minutes of CPU work in a test build: it can only end early by being cancelled.
    let options =
        r#"{"image_side": 2048, "ns": [1, 64], "transfer_sizes": [65536], "repetitions": 3}"#;
    let (status, body) = call(&app, Method::POST, "/api/gpu/runs", Some(options), true).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let started: GpuRunStarted = serde_json::from_slice(&body).unwrap();
    // Let it get into the CPU loops (the test image and any GPU part come first).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(state.gpu.running().as_deref(), Some(started.id.as_str()));
    let asked = Instant::now();
    let cancel = format!("/api/gpu/runs/{}/cancel", started.id);
    let (status, body) = call(&app, Method::POST, &cancel, None, true).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let finished = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Ok(AgentEvent::GpuBenchFinished { run_id, status })) => break (run_id, status),
            Ok(Ok(_)) => {}
            other => panic!("no gpu_bench_finished within 10 s of the cancel: {other:?}"),
        }
    };
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "stopped {:?} after the cancel",
        asked.elapsed()
    );
    assert_eq!(finished, (started.id.clone(), GpuRunStatus::Cancelled));
    assert_eq!(state.gpu.running(), None, "the slot is free again");

    let (status, body) = call(
        &app,
        Method::GET,
        &format!("/api/gpu/runs/{}", started.id),
        None,
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let run: GpuRun = serde_json::from_slice(&body).unwrap();
    assert_eq!(run.status, GpuRunStatus::Cancelled);
    assert!(run.finished_at.is_some());
    assert!(run
        .error
        .unwrap()
        .starts_with("cancelled before the run finished"));
    let cpu = &run.blur.as_ref().unwrap().cpu;
    assert_eq!(cpu.len(), 2);
    // N = 64 on 2048² single-threaded takes far longer than the run was given.
    assert!(cpu[1].single_thread_ms.is_nan(), "{cpu:?}");
    assert!(cpu.iter().all(|p| p.all_cores_ms.is_nan()), "{cpu:?}");

    let (status, body) = call(&app, Method::POST, &cancel, None, true).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        err(&body)
            .message
            .contains("is not running (it is cancelled)"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, body) = call(&app, Method::GET, "/api/gpu/runs", None, true).await;
    assert_eq!(status, StatusCode::OK);
    let list: Vec<GpuRunSummary> = serde_json::from_slice(&body).unwrap();
    assert_eq!(list[0].status, GpuRunStatus::Cancelled);
}

#[tokio::test]
async fn a_quick_run_completes_with_progress_and_history() {
    let (app, state) = test_app();
    let mut events = state.events.subscribe();
    // Big enough that the second request arrives while the first still runs.
    let options = r#"{"quick": true, "image_side": 1024, "ns": [1, 2], "transfer_sizes": [65536], "repetitions": 1}"#;
    let (status, body) = call(&app, Method::POST, "/api/gpu/runs", Some(options), true).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let started: GpuRunStarted = serde_json::from_slice(&body).unwrap();
    assert_eq!(started.config.ns, vec![1, 2]);

    let (status, body) = call(&app, Method::POST, "/api/gpu/runs", Some(options), true).await;
    assert_eq!(status, StatusCode::CONFLICT, "one run at a time");
    assert!(err(&body).message.contains(&started.id));

    let deadline = Instant::now() + Duration::from_secs(120);
    let run: GpuRun = loop {
        let (status, body) = call(
            &app,
            Method::GET,
            &format!("/api/gpu/runs/{}", started.id),
            None,
            true,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let run: GpuRun = serde_json::from_slice(&body).unwrap();
        if run.status != GpuRunStatus::Running {
            break run;
        }
        assert!(Instant::now() < deadline, "run did not finish: {run:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(run.status, GpuRunStatus::Completed, "{:?}", run.error);
    let blur = run.blur.as_ref().unwrap();
    assert_eq!((blur.width, blur.kernel_size), (1024, 21));
    assert_eq!(blur.cpu.iter().map(|p| p.n).collect::<Vec<_>>(), vec![1, 2]);
    // Two blurs cost more than one: the fit's slope is a real per-blur time.
    assert!(blur.cpu_single_fit.unwrap().slope > 0.0);
    assert!(!run.machine.hostname.is_empty() && run.machine.cpu_cores >= 1);
    if let Err(reason) = vantage_agent::gpu::driver_init() {
        assert!(
            run.gpu_skipped.as_deref().unwrap().contains(&reason),
            "{run:?}"
        );
        assert!(run.transfers.is_none() && blur.gpu.is_none());
    }

    let mut progress = 0;
    let finished = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Ok(AgentEvent::GpuBenchProgress { progress: p })) => {
                assert_eq!(p.run_id, started.id);
                assert!(p.done <= p.total);
                progress += 1;
            }
            Ok(Ok(AgentEvent::GpuBenchFinished { run_id, status })) => break (run_id, status),
            Ok(Ok(_)) => {}
            other => panic!("no gpu_bench_finished event: {other:?}"),
        }
    };
    assert_eq!(finished, (started.id.clone(), GpuRunStatus::Completed));
    assert!(
        progress >= 5,
        "start, 2 single-thread, 2 all-cores steps at least"
    );

    let (status, body) = call(&app, Method::GET, "/api/gpu/runs", None, true).await;
    assert_eq!(status, StatusCode::OK);
    let list: Vec<GpuRunSummary> = serde_json::from_slice(&body).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].id.as_str(), list[0].status),
        (started.id.as_str(), GpuRunStatus::Completed)
    );
    // The slot is free again.
    assert_eq!(state.gpu.running(), None);
}

#[tokio::test]
async fn gpu_routes_are_documented() {
    let (app, _) = test_app();
    let (status, body) = call(&app, Method::GET, "/api/openapi.json", None, true).await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for path in [
        "/api/gpu",
        "/api/gpu/runs",
        "/api/gpu/runs/{id}",
        "/api/gpu/runs/{id}/cancel",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["paths"]["/api/gpu/runs"]["post"]["responses"]["409"].is_object());
    let cancel = &doc["paths"]["/api/gpu/runs/{id}/cancel"]["post"]["responses"];
    for code in ["202", "404", "409"] {
        assert!(cancel[code].is_object(), "cancel {code}: {cancel:#}");
    }
    assert!(doc["components"]["schemas"]["GpuRun"].is_object());
}
