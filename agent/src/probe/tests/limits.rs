//! Caps on what a target can make a probe cost: body sizes, the request timeout, bodies that
//! are never read, and one deadline for the whole probe.

use std::time::Instant;

use super::*;
use crate::probe::http::{BodyRead, Outgoing};

#[tokio::test]
async fn huge_bodies_are_counted_up_to_the_cap_not_kept() {
    let big: Arc<Vec<u8>> = Arc::new(vec![b'x'; 11 * 1024 * 1024]);
    let server = start(None, Arc::new(move |_: &Seen| response(200, &[], &big))).await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/", server.port)),
        &ctx(),
    )
    .await;
    let http = p.http.as_ref().expect("http");
    assert!(http.body_truncated);
    assert!(http.body_size >= http::BODY_COUNT_CAP, "{}", http.body_size);
    assert!(http.body_size < 11 * 1024 * 1024);
    assert_eq!(http.body_head.len(), http::BODY_HEAD);
    assert_eq!(p.verdict, ReachVerdict::Reachable);
    assert!(codes(&p).contains(&"http_body_truncated"));

    // A body under the cap is counted in full, though only 64 KiB is kept in memory.
    let mid: Arc<Vec<u8>> = Arc::new(vec![b'y'; 200 * 1024]);
    let server = start(None, Arc::new(move |_: &Seen| response(200, &[], &mid))).await;
    let p = probe_target(
        &target(&format!("http://127.0.0.1:{}/", server.port)),
        &ctx(),
    )
    .await;
    let http = p.http.as_ref().expect("http");
    assert_eq!(http.body_size, 200 * 1024);
    assert!(!http.body_truncated);
}

/// A body that never ends stops at the request timeout, with the status kept.
#[tokio::test]
async fn endless_body_stops_at_the_request_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_head(&mut s).await;
                let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    if s.write_all(b"5\r\nchunk\r\n").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        }
    });
    let mut c = ctx();
    c.request_timeout = Duration::from_millis(600);
    let started = Instant::now();
    let p = probe_target(&target(&format!("http://127.0.0.1:{port}/")), &c).await;
    task.abort();
    assert!(started.elapsed() < Duration::from_secs(3));
    let http = p.http.as_ref().expect("http");
    assert_eq!(http.status, 200);
    assert!(http.body_truncated);
    assert!(
        http.body_size > 0 && http.body_size % 5 == 0,
        "{}",
        http.body_size
    );
    assert!(http.body_head.starts_with("chunkchunk"));
}

/// Neither a redirect hop's body nor a preflight's is read, so a server that
/// announces a body and never sends it cannot hold the probe for a request timeout per hop.
#[tokio::test]
async fn redirect_hops_and_preflights_do_not_read_the_body() {
    let end = start(
        None,
        fixed(200, &[("Access-Control-Allow-Origin", "*")], "end"),
    )
    .await;
    let to = format!("http://127.0.0.1:{}/end", end.port);
    let stalling = start_raw(move |s| {
        let to = to.clone();
        async move {
            let mut s = s;
            let Some(head) = read_head(&mut s).await else {
                return;
            };
            let answer = if head.method == "OPTIONS" {
                "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Headers: x-api-key\r\nContent-Length: 100000\r\n\r\npartial".to_owned()
            } else {
                format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 100000\r\n\r\npartial")
            };
            let _ = s.write_all(answer.as_bytes()).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    })
    .await;
    let mut t = target(&format!("http://127.0.0.1:{}/", stalling.port));
    t.cors_origin = Some("https://shop.example".to_owned());
    t.cors_headers = vec!["X-Api-Key: k1".to_owned()];
    let mut c = ctx();
    c.request_timeout = Duration::from_secs(5);
    let started = Instant::now();
    let p = probe_target(&t, &c).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}: a body was waited for",
        started.elapsed()
    );
    // Reached; the preflight the test server answers does not allow the header.
    assert_eq!(p.verdict, ReachVerdict::CorsBlocked, "{}", p.summary);
    assert_eq!(p.http.as_ref().map(|h| h.body_head.as_str()), Some("end"));
    assert!(p.cors.as_ref().is_some_and(|c| c.preflight_needed));

    // The exchange itself: a redirect's body is skipped, a final response's is read.
    let held = start_raw(|s| {
        answer_and_hold(
            s,
            "HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 50\r\n\r\nabc".to_owned(),
        )
    })
    .await;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", held.port))
        .await
        .expect("connect");
    let out = Outgoing {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        headers: vec![("Host".to_owned(), "x".to_owned())],
    };
    let inc = http::exchange(
        Box::new(stream),
        &out,
        Duration::from_secs(5),
        BodyRead::UnlessRedirect,
    )
    .await
    .expect("head");
    assert_eq!(inc.status, 301);
    assert!(inc.body_skipped && inc.body.is_empty() && !inc.body_timed_out);
}

/// One deadline covers the whole probe. A server that trickles its answer one
/// byte at a time never trips the per-exchange timeout's spirit but must trip this one.
#[tokio::test]
async fn the_whole_probe_has_one_deadline() {
    let trickle = start_raw(|mut s| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        for b in b"HTTP/1.1 200 OK\r\nX-Slow: ".iter().cycle() {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mut c = ctx();
    c.request_timeout = Duration::from_secs(10);
    c.deadline = Duration::from_millis(500);
    let started = Instant::now();
    let p = probe_target(&target(&format!("http://127.0.0.1:{}/", trickle.port)), &c).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(p.verdict, ReachVerdict::TimedOut, "{}", p.summary);
    assert_eq!(
        p.summary,
        format!(
            "The whole probe exceeded 0.5 s (the agent's limit for one probe), while in the HTTP exchange with http://127.0.0.1:{port}/ (127.0.0.1:{port})",
            port = trickle.port
        )
    );
    assert_eq!(codes(&p)[0], "probe_deadline");
    assert_eq!(p.tcp[0].outcome, TcpOutcome::Connected);
    assert!(p.http.is_none());

    // Across hops: each answer comes within every per-step timeout, the sum does not.
    let slow = start_raw(|mut s| async move {
        if let Some(head) = read_head(&mut s).await {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let n: u32 = head.path.trim_start_matches('/').parse().unwrap_or(0);
            let _ = s
                .write_all(&response(302, &[("Location", &format!("/{}", n + 1))], b""))
                .await;
        }
    })
    .await;
    c.deadline = Duration::from_millis(700);
    let p = probe_target(&target(&format!("http://127.0.0.1:{}/0", slow.port)), &c).await;
    assert_eq!(p.verdict, ReachVerdict::TimedOut, "{}", p.summary);
    assert!(
        p.summary.contains("exceeded 0.7 s") && p.summary.contains("(redirect 3)"),
        "{}",
        p.summary
    );
    assert_eq!(fmt_limit(PROBE_DEADLINE), "30 s");
    assert_eq!(ProbeContext::default().deadline, PROBE_DEADLINE);
}
