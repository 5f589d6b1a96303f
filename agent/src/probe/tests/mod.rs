//! End-to-end tests of the probe engine against real loopback servers started here: plain
//! HTTP, TLS with rcgen certificates, redirects, caps, refusals and timeouts. Nothing is
//! mocked; only loopback addresses receive traffic. This file holds the servers and the
//! certificates; the tests are grouped by what they exercise.

mod connect;
mod cors_requests;
mod limits;
mod redirects;
mod responses;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::RootCertStore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use vantage_shared::cors::{self, CorsRequest};
use vantage_shared::diagnosis::agent_probe::{fmt_limit, Sensitive};
use vantage_shared::fingerprint::Generator;
use vantage_shared::probe::{
    AddressFamily, AgentProbe, ReachVerdict, Target, TargetSource, TcpOutcome,
};

use super::cors_request::{browser_follows, is_unsafe_method_override};
use super::redirect::redirect_block;
use super::*;

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server: one request per connection, answers from a closure, records heads.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

type Handler = Arc<dyn Fn(&Seen) -> Vec<u8> + Send + Sync>;

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut byte).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
        .collect();
    Some(Seen {
        method,
        path,
        headers,
    })
}

async fn serve_conn<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    if let Some(head) = read_head(&mut s).await {
        seen.lock().expect("lock").push(head.clone());
        let response = handler(&head);
        let _ = s.write_all(&response).await;
        let _ = s.shutdown().await;
    }
}

async fn start(tls: Option<TlsAcceptor>, handler: Handler) -> Server {
    start_on(
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        tls,
        handler,
    )
}

fn start_on(listener: TcpListener, tls: Option<TlsAcceptor>, handler: Handler) -> Server {
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (handler, seen) = (handler.clone(), seen2.clone());
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(s) = acceptor.accept(stream).await {
                            serve_conn(s, handler, seen).await;
                        }
                    }
                    None => serve_conn(stream, handler, seen).await,
                }
            });
        }
    });
    Server { port, seen, task }
}

fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn fixed(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> Handler {
    Arc::new(move |_| response(status, headers, body.as_bytes()))
}

fn target(url: &str) -> Target {
    Target {
        id: "t".to_owned(),
        name: "t".to_owned(),
        url: url.to_owned(),
        expected_status: None,
        cors_origin: None,
        cors_method: None,
        cors_headers: Vec::new(),
        cors_credentials: Default::default(),
        cors_mode: Default::default(),
        proxy_admin: None,
        firewall: Default::default(),
        interval_seconds: 60,
        source: TargetSource::Config,
    }
}

fn ctx() -> ProbeContext {
    ProbeContext {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        ..ProbeContext::default()
    }
}

fn codes(p: &AgentProbe) -> Vec<&str> {
    p.findings.iter().map(|f| f.code.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// TLS material
// ---------------------------------------------------------------------------------------------

fn acceptor(chain: Vec<CertificateDer<'static>>, key_der: Vec<u8>) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
        )
        .expect("server cert");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(cfg))
}

fn self_signed(names: &[&str]) -> TlsAcceptor {
    let ck = rcgen::generate_simple_self_signed(
        names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
    )
    .expect("cert");
    acceptor(vec![ck.cert.der().clone()], ck.signing_key.serialize_der())
}

/// A private CA and a leaf it signed for `names`: (server acceptor, roots trusting the CA).
fn ca_signed(names: &[&str]) -> (TlsAcceptor, Arc<RootCertStore>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Vantage Test CA");
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_params =
        rcgen::CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("params");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf");
    let mut roots = RootCertStore::empty();
    roots.add(ca_cert.der().clone()).expect("root");
    (
        acceptor(
            vec![leaf.der().clone(), ca_cert.der().clone()],
            leaf_key.serialize_der(),
        ),
        Arc::new(roots),
    )
}

/// A server that runs `conn` on every accepted connection: for servers that hold, trickle
/// or stall, which the one-shot [`start`] server cannot do.
struct Raw {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_raw<F, Fut>(conn: F) -> Raw
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let conn = Arc::new(conn);
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn((conn.clone())(s));
        }
    });
    Raw { port, task }
}

fn page_with_secrets(url: &str) -> Target {
    let mut t = target(url);
    t.cors_origin = Some("https://shop.example".to_owned());
    t.cors_headers = vec![
        "Authorization: Bearer s3cret".to_owned(),
        "X-Api-Key: k1".to_owned(),
    ];
    t
}

fn leaks(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .flat_map(|s| s.headers.iter())
        .filter(|(n, v)| {
            n.eq_ignore_ascii_case("authorization")
                || n.eq_ignore_ascii_case("x-api-key")
                || v.contains("s3cret")
        })
        .map(|(n, v)| format!("{n}: {v}"))
        .collect()
}

/// Writes `head` and then holds the connection open without finishing the body.
async fn answer_and_hold(mut s: tokio::net::TcpStream, head: String) {
    if read_head(&mut s).await.is_some() {
        let _ = s.write_all(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
