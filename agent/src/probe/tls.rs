//! TLS handshakes for https probes (rustls with the `ring` provider, no OpenSSL), verified
//! against the system's roots, with the certificate reported even when verification fails.
//!
//! The verifier records the webpki verdict instead of aborting the handshake, so a
//! self-signed or expired certificate still yields its subject, issuer, names and dates; the
//! caller then refuses to send HTTP over it. Handshake signatures are still checked, so the
//! server must hold the certificate's key.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use vantage_shared::duration::fmt_secs;

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use vantage_shared::probe::TlsResult;

/// The roots: the system's CA bundle, or Mozilla's (webpki-roots) when the host has none
/// (distroless and scratch images ship without /etc/ssl/certs).
pub(crate) fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(native.certs);
            if added == 0 {
                tracing::warn!(
                    errors = native.errors.len(),
                    "No system CA certificates found; verifying TLS against the bundled Mozilla roots"
                );
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(store)
        })
        .clone()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the verifier saw: the leaf certificate and webpki's verdict on the chain.
#[derive(Debug, Default)]
struct Seen {
    leaf: Option<CertificateDer<'static>>,
    verdict: Option<Result<(), rustls::Error>>,
}

/// Wraps webpki's verifier: records its verdict and lets the handshake finish.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Mutex<Seen>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.leaf = Some(end_entity.clone().into_owned());
        seen.verdict = Some(verdict);
        // The verdict is acted on by the caller (no HTTP over an unverified session).
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Certificate fields as the report shows them.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct CertInfo {
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub sans: Vec<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    pub self_signed: bool,
}

/// Reads subject, issuer, SANs and validity from a DER certificate.
pub(crate) fn cert_info(der: &[u8]) -> CertInfo {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return CertInfo::default();
    };
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(n) => sans.push((*n).to_owned()),
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .ok()
                            .map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        sans.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let validity = cert.validity();
    CertInfo {
        self_signed: subject == issuer,
        subject: Some(subject),
        issuer: Some(issuer),
        sans,
        not_before: DateTime::from_timestamp(validity.not_before.timestamp(), 0),
        not_after: DateTime::from_timestamp(validity.not_after.timestamp(), 0),
    }
}

fn day(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "?".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// Why the certificate was rejected, in words a person can act on.
pub(crate) fn describe_cert_error(e: &rustls::Error, info: &CertInfo, host: &str) -> String {
    let names = if info.sans.is_empty() {
        "no names".to_owned()
    } else {
        info.sans.join(", ")
    };
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the certificate expired on {}", day(info.not_after))
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!(
                    "the certificate is not valid yet (valid from {}): check this host's clock",
                    day(info.not_before)
                )
            }
            CertificateError::UnknownIssuer if info.self_signed => format!(
                "self-signed certificate ({}): no certificate authority this host trusts signed it",
                info.subject.as_deref().unwrap_or("no subject")
            ),
            CertificateError::UnknownIssuer => format!(
                "unknown issuer ({}): the chain does not lead to a root this host trusts (a missing intermediate certificate, or a private CA)",
                info.issuer.as_deref().unwrap_or("?")
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("name mismatch: the certificate is for {names}, not {host}")
            }
            CertificateError::Revoked => "the certificate was revoked".to_owned(),
            CertificateError::BadSignature => {
                "the certificate's signature does not verify".to_owned()
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the certificate is not valid for TLS server authentication".to_owned()
            }
            other => format!("certificate rejected: {other:?}"),
        },
        other => describe_handshake_error(other),
    }
}

/// A failed handshake (before or without a certificate verdict) in words.
pub(crate) fn describe_handshake_error(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the server did not answer with TLS (plain HTTP on this port?): {e}")
        }
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the handshake (TLS alert {alert:?})")
        }
        rustls::Error::PeerIncompatible(p) => {
            format!("no TLS version or cipher in common with the server ({p:?})")
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

fn protocol_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The handshake's report, and the stream when the session may carry HTTP (handshake
/// completed and the certificate verified).
pub(crate) struct Handshake {
    pub result: TlsResult,
    pub stream: Option<TlsStream<TcpStream>>,
    /// No answer within the timeout (as opposed to a failed handshake).
    pub timed_out: bool,
}

/// A connector that verifies against `roots` without aborting the handshake, and where its
/// verifier records what it saw; or why none could be built.
fn connector(roots: Arc<RootCertStore>) -> Result<(TlsConnector, Arc<Mutex<Seen>>), String> {
    let provider = provider();
    let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| format!("no usable root certificates: {e}"))?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let verifier = Arc::new(Recorder {
        inner,
        seen: seen.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let mut config = config
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // Only HTTP/1.1 is spoken afterwards, so only it is offered.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsConnector::from(Arc::new(config)), seen))
}

/// Copies the leaf certificate's fields into `result`, with whether it names `server_name`,
/// and returns them for the error messages.
fn record_leaf(
    result: &mut TlsResult,
    leaf: Option<&CertificateDer<'static>>,
    server_name: &ServerName<'static>,
) -> CertInfo {
    let info = leaf.map(|c| cert_info(c)).unwrap_or_default();
    result.subject = info.subject.clone();
    result.issuer = info.issuer.clone();
    result.sans = info.sans.clone();
    result.not_before = info.not_before;
    result.not_after = info.not_after;
    if let Some(leaf) = leaf {
        // Checked on its own so a name mismatch shows even when the chain fails first.
        result.sni_mismatch = match rustls::server::ParsedCertificate::try_from(leaf) {
            Ok(parsed) => rustls::client::verify_server_name(&parsed, server_name).is_err(),
            Err(_) => false,
        };
    }
    info
}

/// Why the handshake failed, in words: the certificate's fault when the verifier refused
/// it, else rustls' error, else the connection's.
fn describe_failure(
    e: &std::io::Error,
    verdict: Option<&Result<(), rustls::Error>>,
    info: &CertInfo,
    host: &str,
) -> String {
    let rustls_err = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    match (verdict, rustls_err) {
        (Some(Err(v)), _) => describe_cert_error(v, info, host),
        (_, Some(r)) => describe_handshake_error(&r),
        (_, None) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake (not TLS on this port?)"
                .to_owned()
        }
        (_, None) => format!("TLS handshake failed: {e}"),
    }
}

/// Runs a TLS handshake for `host` over `tcp` within `timeout`.
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: &str,
    roots: Arc<RootCertStore>,
    timeout: Duration,
) -> Handshake {
    let started = Instant::now();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip_literal = bare.parse::<std::net::IpAddr>().ok();
    // No SNI is sent for IP addresses (RFC 6066); the certificate must then name the IP.
    let sni = if ip_literal.is_some() {
        String::new()
    } else {
        bare.to_owned()
    };
    let mut result = TlsResult {
        ok: false,
        protocol: None,
        cipher: None,
        alpn: None,
        sni,
        subject: None,
        issuer: None,
        sans: Vec::new(),
        not_before: None,
        not_after: None,
        sni_mismatch: false,
        error: None,
        elapsed_ms: 0.0,
    };
    let fail = |mut r: TlsResult, msg: String| {
        r.error = Some(msg);
        r.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        Handshake {
            result: r,
            stream: None,
            timed_out: false,
        }
    };

    let server_name = match ip_literal {
        Some(ip) => ServerName::IpAddress(ip.into()),
        None => match ServerName::try_from(bare.to_owned()) {
            Ok(n) => n,
            Err(e) => {
                return fail(
                    result,
                    format!("`{bare}` is not a valid TLS server name: {e}"),
                )
            }
        },
    };
    let (connector, seen) = match connector(roots) {
        Ok(c) => c,
        Err(msg) => return fail(result, msg),
    };

    let outcome = tokio::time::timeout(timeout, connector.connect(server_name.clone(), tcp)).await;
    let (leaf, verdict) = {
        let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
        (s.leaf.take(), s.verdict.take())
    };
    let info = record_leaf(&mut result, leaf.as_ref(), &server_name);

    let stream = match outcome {
        Err(_) => {
            let mut hs = fail(
                result,
                format!(
                    "no TLS handshake within {} (the server accepted TCP but never answered)",
                    fmt_secs(timeout.as_secs_f64() * 1000.0)
                ),
            );
            hs.timed_out = true;
            return hs;
        }
        Ok(Err(e)) => {
            let msg = describe_failure(&e, verdict.as_ref(), &info, bare);
            return fail(result, msg);
        }
        Ok(Ok(s)) => s,
    };
    {
        let (_, conn) = stream.get_ref();
        result.protocol = conn.protocol_version().map(protocol_name);
        result.cipher = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        result.alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
    }
    match verdict {
        Some(Ok(())) => {
            result.ok = true;
            result.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            Handshake {
                result,
                stream: Some(stream),
                timed_out: false,
            }
        }
        Some(Err(e)) => {
            let msg = describe_cert_error(&e, &info, bare);
            fail(result, msg)
        }
        None => fail(result, "the server presented no certificate".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> CertInfo {
        CertInfo {
            subject: Some("CN=shop.example".to_owned()),
            issuer: Some("CN=Some CA".to_owned()),
            sans: vec!["shop.example".to_owned(), "www.shop.example".to_owned()],
            not_before: DateTime::from_timestamp(1_700_000_000, 0),
            not_after: DateTime::from_timestamp(1_710_000_000, 0),
            self_signed: false,
        }
    }

    #[test]
    fn certificate_errors_in_words() {
        let e = |c| rustls::Error::InvalidCertificate(c);
        assert!(
            describe_cert_error(&e(CertificateError::Expired), &info(), "shop.example")
                .starts_with("the certificate expired on 2024-03-09")
        );
        assert!(
            describe_cert_error(&e(CertificateError::UnknownIssuer), &info(), "shop.example")
                .starts_with("unknown issuer (CN=Some CA)")
        );
        let mut me = info();
        me.self_signed = true;
        assert!(
            describe_cert_error(&e(CertificateError::UnknownIssuer), &me, "shop.example")
                .starts_with("self-signed certificate (CN=shop.example)")
        );
        assert_eq!(
            describe_cert_error(
                &e(CertificateError::NotValidForName),
                &info(),
                "api.example"
            ),
            "name mismatch: the certificate is for shop.example, www.shop.example, not api.example"
        );
        assert!(
            describe_cert_error(&e(CertificateError::NotValidYet), &info(), "x")
                .contains("check this host's clock")
        );
    }
}
