//! The certificate alert end to end: a real HTTPS server on loopback presents a certificate
//! from a private CA that ends in three days; the agent process (trusting that CA through
//! `SSL_CERT_FILE`, as an operator with a company CA would) probes it and a webhook receiver
//! gets `certificate_expiring` once, while the target stays up.

// Test code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, Utc};
use common::Receiver;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

/// A CA (PEM) and an acceptor presenting a leaf for 127.0.0.1 it signed, ending in `days`.
fn certificates(days: i64) -> (String, TlsAcceptor) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Vantage Test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let mut leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let end = Utc::now() + chrono::Duration::days(days);
    leaf.not_after = rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![
                leaf.der().clone(),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca_cert.pem(), TlsAcceptor::from(Arc::new(cfg)))
}

/// Answers every HTTPS request with 200.
async fn https_server(acceptor: TlsAcceptor) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_near_its_end_is_told_once() {
    let (ca_pem, acceptor) = certificates(3);
    let port = https_server(acceptor).await;
    let hook = Receiver::start(200).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let config = dir.path().join("vantage.toml");
    std::fs::write(
        &config,
        format!(
            "[[targets]]\nname = \"Shop\"\nurl = \"https://127.0.0.1:{port}/\"\n\
             [[notifications]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            hook.url("/in")
        ),
    )
    .unwrap();
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let agent_port = listen.local_addr().unwrap().port();
    drop(listen);
    let _agent = Serve(
        Command::new(env!("CARGO_BIN_EXE_vantage"))
            .args([
                "serve",
                "--no-scheduled-probes",
                "--listen",
                &format!("127.0.0.1:{agent_port}"),
            ])
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path())
            .env("VANTAGE_DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env("SSL_CERT_FILE", &ca_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let token_file = dir.path().join("admin.token");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", agent_port)).is_err() || !token_file.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = std::fs::read_to_string(&token_file).unwrap();
    let http = reqwest::Client::new();
    let probe = || {
        http.post(format!(
            "http://127.0.0.1:{agent_port}/api/targets/shop/probe"
        ))
        .bearer_auth(token.trim())
        .send()
    };
    for _ in 0..2 {
        let res = probe().await.unwrap();
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            v["verdict"], "reachable",
            "trusted through SSL_CERT_FILE: {v:#}"
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hook.requests().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no alert");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got: Vec<Value> = hook.requests().iter().map(common::Received::json).collect();
    assert_eq!(got.len(), 1, "once, not per probe: {got:#?}");
    assert_eq!(
        (got[0]["event"].as_str(), got[0]["severity"].as_str()),
        (Some("certificate_expiring"), Some("warning"))
    );
    let title = got[0]["title"].as_str().unwrap();
    assert!(
        title.contains("expires in 2 days") || title.contains("expires in 3 days"),
        "{title}"
    );
}
