//! The parsers on real outputs: HAProxy 2.6 from Debian (its stats page, `show stat` and
//! `show servers state` on the stats socket, with servers up, refused, answering 500 and
//! timing out), and Envoy's `/clusters` in the shapes its admin documentation gives.

use super::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/../fixtures/proxy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn states(servers: &[ProxyServer]) -> Vec<(String, ServerState, Option<String>)> {
    servers
        .iter()
        .map(|s| (s.label(), s.state, s.reason.clone()))
        .collect()
}

fn down(label: &str, reason: &str) -> (String, ServerState, Option<String>) {
    (label.to_owned(), ServerState::Down, Some(reason.to_owned()))
}

#[test]
fn haproxy_show_stat_and_servers_state_agree() {
    let expected = vec![
        (
            "app/app1 (127.0.0.1:18081)".to_owned(),
            ServerState::Up,
            None,
        ),
        down(
            "app/app2 (127.0.0.1:18082)",
            "health check: connection refused (L4CON)",
        ),
        down(
            "app/app3 (127.0.0.1:18083)",
            "health check: HTTP 500 (L7STS)",
        ),
        down(
            "app/app4 (127.0.0.1:18084)",
            "health check: timeout (no HTTP answer in time) (L7TOUT)",
        ),
    ];
    let csv = parse_haproxy_csv(&fixture("haproxy-2.6-show-stat.csv")).expect("csv");
    assert_eq!(states(&csv), expected);
    // `show servers state` has numbers, not words: no errno text, no HTTP status.
    let mut from_state = expected.clone();
    from_state[1].2 = Some("health check: TCP connection failed (L4CON)".into());
    from_state[2].2 = Some("health check: bad HTTP status (L7STS)".into());
    let state =
        parse_haproxy_servers_state(&fixture("haproxy-2.6-servers-state.txt")).expect("state");
    assert_eq!(states(&state), from_state);
}

#[test]
fn haproxy_stats_page_without_addresses() {
    // The stats page leaves `addr` empty: servers are named by backend and name.
    let page = parse_haproxy_csv(&fixture("haproxy-2.6-stats-page.csv")).expect("csv");
    assert_eq!(
        states(&page),
        vec![
            ("app/app1".to_owned(), ServerState::Up, None),
            down("app/app2", "health check: connection refused (L4CON)"),
            down("app/app3", "health check: HTTP 500 (L7STS)"),
            down(
                "app/app4",
                "health check: timeout (no HTTP answer in time) (L7TOUT)"
            ),
        ]
    );
}

#[test]
fn haproxy_maintenance_drain_and_going_down() {
    let csv = "# pxname,svname,status,check_status,check_code,last_chk,addr\n\
               app,a,MAINT,L7OK,200,,10.0.0.1:80\n\
               app,b,DRAIN,L7OK,200,,10.0.0.2:80\n\
               app,c,UP 1/3,L7STS,503,,10.0.0.3:80\n\
               app,d,no check,,,,10.0.0.4:80\n\
               app,BACKEND,UP,,,,\n";
    let s = parse_haproxy_csv(csv).expect("csv");
    let got: Vec<ServerState> = s.iter().map(|s| s.state).collect();
    assert_eq!(
        got,
        [
            ServerState::Maintenance,
            ServerState::Draining,
            ServerState::Up,
            ServerState::Up
        ]
    );
    // Free text with a comma is quoted; the columns after it stay in place.
    let quoted = "# pxname,svname,status,check_status,check_code,last_chk,addr\n\
                  app,e,DOWN,L4CON,,\"Connection refused, at \"\"init\"\"\",10.0.0.5:80\n";
    let s = parse_haproxy_csv(quoted).expect("csv");
    assert_eq!(s[0].address.as_deref(), Some("10.0.0.5:80"));
    assert_eq!(
        s[0].reason.as_deref(),
        Some("health check: connection refused, at \"init\" (L4CON)")
    );
    // 0x40 in the admin state is "FQDN set on the socket", not maintenance.
    let state = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_check_status srv_port\n\
                 3 app 1 a 10.0.0.1 2 64 15 80\n3 app 2 b 10.0.0.2 2 1 15 80\n";
    let s = parse_haproxy_servers_state(state).expect("state");
    assert_eq!(
        s.iter().map(|s| s.state).collect::<Vec<_>>(),
        [ServerState::Up, ServerState::Maintenance]
    );
    assert!(parse_haproxy_csv("pxname,svname\n").is_err());
    assert!(parse_haproxy_csv("# a,b,c\n").is_err());
    assert!(parse_haproxy_servers_state("1\n").is_err());
}

#[test]
fn envoy_clusters_text_and_json() {
    let text = parse_envoy_clusters(&fixture("envoy-clusters.txt")).expect("text");
    assert_eq!(
        states(&text),
        vec![
            ("admin_ui/127.0.0.1:3000".to_owned(), ServerState::Up, None),
            down(
                "backend/10.0.0.100:18443",
                "failed its active health check (timeout)"
            ),
            down("backend/10.0.0.101:18443", "ejected by outlier detection"),
            (
                "backend/[2001:db8::7]:18443".to_owned(),
                ServerState::Up,
                None
            ),
        ]
    );
    let json = parse_envoy_clusters(&fixture("envoy-clusters.json")).expect("json");
    assert_eq!(
        states(&json),
        vec![
            down(
                "backend/10.0.0.100:18443",
                "failed its active health check (timeout)"
            ),
            down("backend/10.0.0.101:18443", "ejected by outlier detection"),
            down(
                "backend/10.0.0.102:18443",
                "marked unhealthy by EDS (the control plane)"
            ),
            (
                "backend/[2001:db8::7]:18443".to_owned(),
                ServerState::Up,
                None
            ),
        ]
    );
    assert!(parse_envoy_clusters("<html>login</html>").is_err());
    assert!(parse_envoy_clusters("{\"cluster_statuses\": 5}").is_err());
}

#[test]
fn admin_endpoints_are_checked_and_filtered_by_backend() {
    let admin = |kind, url: &str, backend: Option<&str>| ProxyAdmin {
        kind,
        url: url.into(),
        backend: backend.map(str::to_owned),
    };
    assert!(admin(
        ProxyAdminKind::HaproxyCsv,
        "http://127.0.0.1:8404/stats;csv",
        None
    )
    .validate()
    .is_ok());
    assert!(admin(
        ProxyAdminKind::HaproxyServersState,
        "unix:/run/haproxy/admin.sock",
        None
    )
    .validate()
    .is_ok());
    for (kind, url) in [
        (ProxyAdminKind::EnvoyClusters, "unix:/run/envoy.sock"),
        (ProxyAdminKind::HaproxyCsv, "unix:relative.sock"),
        (ProxyAdminKind::HaproxyCsv, "ftp://x/stats"),
        (ProxyAdminKind::HaproxyCsv, "http://x/\n"),
        (
            ProxyAdminKind::HaproxyCsv,
            "http://admin:secret@127.0.0.1:8404/stats;csv",
        ),
    ] {
        assert!(admin(kind, url, None).validate().is_err(), "{url}");
    }
    assert!(admin(ProxyAdminKind::HaproxyCsv, "http://x/", Some(" "))
        .validate()
        .is_err());

    let text = fixture("envoy-clusters.txt");
    let a = admin(
        ProxyAdminKind::EnvoyClusters,
        "http://127.0.0.1:9901/clusters",
        Some("backend"),
    );
    let obs = ProxyObservation::from_read(&a, Ok(text.clone()));
    assert_eq!((obs.servers.len(), obs.error), (3, None));
    let a = ProxyAdmin {
        backend: Some("api".into()),
        ..a
    };
    let obs = ProxyObservation::from_read(&a, Ok(text));
    assert_eq!(
        obs.error.as_deref(),
        Some("no server of backend `api` in the admin output (backends: admin_ui, backend)")
    );
    let obs = ProxyObservation::from_read(&a, Err("connection refused".into()));
    assert_eq!(obs.error.as_deref(), Some("connection refused"));
}
