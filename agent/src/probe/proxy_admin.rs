//! Reading a target's proxy admin endpoint after its probe: HAProxy's stats page or stats
//! socket, Envoy's `/clusters`. The endpoint is the operator's own configuration; the agent
//! only reads it (`GET`, no redirects followed, at most 1 MiB in 3 s) and keeps the parsed
//! server states, never the raw text.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vantage_shared::proxy_admin::{ProxyAdmin, ProxyObservation, MAX_ADMIN_BYTES};

/// How long one read of the admin endpoint may take.
const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// What the endpoint says, or why it could not be read.
pub async fn observe(admin: &ProxyAdmin) -> ProxyObservation {
    let read = tokio::time::timeout(READ_TIMEOUT, read(admin))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", READ_TIMEOUT.as_secs())));
    ProxyObservation::from_read(admin, read)
}

async fn read(admin: &ProxyAdmin) -> Result<String, String> {
    match admin.url.strip_prefix("unix:") {
        Some(path) => {
            let command = admin
                .kind
                .socket_command()
                .ok_or("this admin output is read over HTTP, not a socket")?;
            socket(path, command).await
        }
        None => http(&admin.url).await,
    }
}

/// One command on HAProxy's stats socket; it answers and closes.
async fn socket(path: &str, command: &str) -> Result<String, String> {
    let mut s = tokio::net::UnixStream::connect(path)
        .await
        .map_err(|e| format!("cannot connect to the stats socket {path}: {e}"))?;
    s.write_all(command.as_bytes())
        .await
        .map_err(|e| format!("cannot write to {path}: {e}"))?;
    let mut buf = Vec::new();
    s.take(MAX_ADMIN_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    text(buf)
}

async fn http(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))?;
    let mut resp = client.get(url).send().await.map_err(|e| error_chain(&e))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err("HTTP 401: it asks for credentials, and Vantage reads it without".into());
    }
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_ADMIN_BYTES {
            break;
        }
    }
    text(buf)
}

fn text(buf: Vec<u8>) -> Result<String, String> {
    if buf.len() > MAX_ADMIN_BYTES {
        return Err(format!("larger than {} KiB", MAX_ADMIN_BYTES / 1024));
    }
    String::from_utf8(buf).map_err(|_| "not text (UTF-8)".into())
}

/// reqwest's error with its causes ("error sending request: … Connection refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    out
}
