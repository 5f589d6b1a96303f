//! Helpers the router-level test files share: a real HTTP server on loopback.

use std::net::SocketAddr;

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
