//! Conversion of `docker inspect` output and the status text, against a trimmed real
//! `docker inspect`.

use bollard::models::ContainerInspectResponse;
use vantage_shared::{ContainerState, HealthStatus};

use super::convert::{convert_health_log, convert_inspect, docker_time};
use super::view::with_status_text;

#[test]
fn docker_never_time_is_none() {
    assert_eq!(docker_time(Some("0001-01-01T00:00:00Z")), None);
    assert!(docker_time(Some("2026-11-22T10:00:00.123456789Z")).is_some());
    assert_eq!(docker_time(None), None);
}

/// Shape of `docker inspect` from Docker 20.10 (API 1.41), trimmed.
const INSPECT: &str = r#"{
    "Id": "4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d4f2a9c0e7b1d1234",
    "Created": "2026-11-22T10:00:00.000000000Z",
    "Name": "/inference",
    "RestartCount": 2,
    "State": {"Status": "running", "Running": true, "ExitCode": 0,
        "StartedAt": "2026-11-22T10:00:01.000000000Z", "FinishedAt": "0001-01-01T00:00:00Z",
        "Health": {"Status": "healthy", "FailingStreak": 0, "Log": [
            {"Start": "2026-11-22T10:00:03.000000000Z", "End": "2026-11-22T10:00:06.000000000Z", "ExitCode": -1, "Output": "Health check exceeded timeout (3s)"},
            {"Start": "2026-11-22T10:00:08.000000000Z", "End": "2026-11-22T10:00:08.050000000Z", "ExitCode": 0, "Output": "ok"}
        ]}},
    "HostConfig": {"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
    "Config": {"Image": "vantage-test/busybox", "Cmd": ["sh", "-c", "sleep 1d"],
        "Labels": {"com.docker.compose.project": "ai", "com.docker.compose.service": "inference"},
        "Healthcheck": {"Test": ["CMD-SHELL", "wget -q -O- http://localhost:8000/health"], "Interval": 2000000000, "Timeout": 3000000000, "Retries": 3}},
    "NetworkSettings": {
        "Ports": {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18000"}], "9000/tcp": null},
        "Networks": {"ai_default": {"NetworkID": "net1", "IPAddress": "172.20.0.2", "Gateway": "172.20.0.1", "Aliases": ["inference", "4f2a9c0e7b1d"], "GlobalIPv6Address": ""}}
    }
}"#;

#[test]
fn converts_inspect_output() {
    let raw: ContainerInspectResponse = serde_json::from_str(INSPECT).unwrap();
    let d = convert_inspect(&raw).unwrap();
    let s = &d.summary;
    assert_eq!(s.name, "inference");
    assert_eq!(s.state, ContainerState::Running);
    assert_eq!(s.health, HealthStatus::Healthy);
    assert_eq!(s.restart_count, 2);
    assert_eq!(s.finished_at, None);
    assert_eq!(s.compose_service.as_deref(), Some("inference"));
    assert_eq!(d.restart_policy.as_deref(), Some("unless-stopped"));
    let hc = s.healthcheck.as_ref().unwrap();
    assert_eq!(
        (
            hc.interval_ms,
            hc.timeout_ms,
            hc.start_period_ms,
            hc.retries
        ),
        (2000, 3000, 0, 3)
    );
    assert_eq!(s.ports.len(), 2);
    assert_eq!(s.ports[0].to_string(), "127.0.0.1:18000→8000/tcp");
    assert_eq!(s.ports[1].host_port, None);
    assert_eq!(s.networks[0].name, "ai_default");
    assert_eq!(s.networks[0].ip_address.as_deref(), Some("172.20.0.2"));
    assert_eq!(s.networks[0].ipv6_address, None);

    let log = raw.state.unwrap().health.unwrap().log.unwrap();
    let runs = convert_health_log(&d, &log);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].exit_code, -1);
    assert_eq!(runs[0].duration_ms, 3000);
    assert_eq!(
        runs[0].status,
        HealthStatus::Starting,
        "one failure < 3 retries"
    );
    assert_eq!(runs[1].status, HealthStatus::Healthy);
    assert_eq!(runs[1].duration_ms, 50);
}

#[test]
fn status_text_reads_like_docker_ps() {
    let raw: ContainerInspectResponse = serde_json::from_str(INSPECT).unwrap();
    let d = convert_inspect(&raw).unwrap();
    let now = d.summary.started_at.unwrap() + chrono::Duration::seconds(185);
    assert_eq!(
        with_status_text(d.summary, now).status,
        "Up 3 min 5 s (healthy)"
    );
}
