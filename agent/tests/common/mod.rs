//! Helpers the router-level test files share: an agent router without Docker, real HTTP
//! servers on loopback (a fixed answer, or a receiver that records requests and answers as
//! told), and sending a request as the admin.

// Each test file compiles this module and uses part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

/// The admin token of [`router`].
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The agent's router with an in-memory store and no Docker daemon, admin token [`TOKEN`].
pub fn router() -> axum::Router {
    vantage_agent::app(vantage_agent::AppState::new(
        TOKEN.into(),
        vec![],
        "unix:///nonexistent/docker.sock",
        vantage_agent::store::Store::in_memory().expect("in-memory store"),
    ))
}

/// A real HTTP server on loopback answering every request with `response` (a whole HTTP/1.1
/// response, `Connection: close`) until its task is aborted; then the port refuses
/// connections.
pub async fn http_server(response: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(response).await;
            });
        }
    });
    (addr, task)
}

/// One request a [`Receiver`] got: its request line, headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A real HTTP server on loopback that keeps every request and answers with `status`
/// (changeable while it runs): a webhook receiver, or a target that goes down and up.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub status: std::sync::Arc<std::sync::atomic::AtomicU16>,
    pub got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    /// Header lines added to every answer (`Name: value\r\n` each).
    pub headers: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Receiver {
    pub async fn start(status: u16) -> Self {
        Self::start_on("127.0.0.1:0", status).await
    }

    /// On a given address, e.g. a port that refused connections until now.
    pub async fn start_on(addr: &str, status: u16) -> Self {
        use std::sync::atomic::{AtomicU16, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind loopback");
        let r = Self {
            addr: listener.local_addr().expect("local address"),
            status: Arc::new(AtomicU16::new(status)),
            got: Arc::new(Mutex::new(Vec::new())),
            headers: Arc::new(Mutex::new(String::new())),
        };
        let (status, got, headers) = (r.status.clone(), r.got.clone(), r.headers.clone());
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                let (status, got) = (status.clone(), got.clone());
                let extra = headers.lock().map(|h| h.clone()).unwrap_or_default();
                tokio::spawn(async move {
                    let code = status.load(Ordering::SeqCst);
                    if let Some(req) = read_request(s, code, &extra).await {
                        if let Ok(mut g) = got.lock() {
                            g.push(req);
                        }
                    }
                });
            }
        });
        r
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Answers with these header lines from now on (e.g. `Access-Control-Allow-Origin: …`).
    pub fn set_headers(&self, lines: &[&str]) {
        if let Ok(mut h) = self.headers.lock() {
            *h = lines.iter().map(|l| format!("{l}\r\n")).collect();
        }
    }

    pub fn set_status(&self, code: u16) {
        self.status.store(code, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn read_request(mut s: tokio::net::TcpStream, code: u16, extra: &str) -> Option<Received> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..].to_vec();
    let reply =
        format!("HTTP/1.1 {code} X\r\n{extra}Content-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = s.write_all(reply.as_bytes()).await;
    Some(Received {
        line,
        headers,
        body,
    })
}

/// Sends `method uri` (with a JSON `body`) to the router as an admin holding `token`, from
/// the agent's default address; the status and the JSON answer (`Null` when not JSON).
pub async fn send(
    app: &axum::Router,
    token: &str,
    method: axum::http::Method,
    uri: &str,
    body: Option<serde_json::Value>,
) -> (axum::http::StatusCode, serde_json::Value) {
    use axum::body::Body;
    use axum::http::{header, Request};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1:8787")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    let res = app.clone().oneshot(req).await.expect("router answers");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}
