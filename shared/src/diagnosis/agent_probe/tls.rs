//! TLS findings of an agent probe: expired or expiring certificates, certificates for
//! another name, untrusted chains and failed handshakes, judged at a given time.

use chrono::{DateTime, Utc};

use crate::diagnosis::{Finding, FindingCode, Severity};
use crate::probe::TlsResult;

/// A certificate expiring sooner than this is a warning.
pub const CERT_EXPIRY_WARNING_DAYS: i64 = 14;

/// The summary when TLS stopped the probe.
pub fn tls_failure_summary(host: &str, addr: &str, tls: &TlsResult) -> String {
    format!(
        "TLS to {host} ({addr}) failed: {}",
        tls.error.as_deref().unwrap_or("handshake failed")
    )
}

/// Certificate and handshake findings, judged at `now`.
pub fn tls_findings(host: &str, tls: &TlsResult, now: DateTime<Utc>) -> Vec<Finding> {
    let mut out = Vec::new();
    let names = if tls.sans.is_empty() {
        "no names".to_owned()
    } else {
        tls.sans.join(", ")
    };
    let expired = tls.not_after.is_some_and(|t| t < now);
    if expired {
        let when = tls
            .not_after
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        out.push(
            Finding::new(
                FindingCode::TlsCertificateExpired,
                Severity::Critical,
                format!("The certificate of {host} expired on {when}"),
                format!(
                    "Subject {}, issued by {}. Browsers and clients refuse it outright.",
                    tls.subject.as_deref().unwrap_or("?"),
                    tls.issuer.as_deref().unwrap_or("?")
                ),
            )
            .with_fix("Renew the certificate and reload the server that presents it (check that the renewal job runs and the server picks up the new file).", None, None),
        );
    } else if let Some(after) = tls.not_after {
        let days = (after - now).num_days();
        if days < CERT_EXPIRY_WARNING_DAYS {
            out.push(
                Finding::new(
                    FindingCode::TlsCertificateExpiring,
                    Severity::Warning,
                    format!(
                        "The certificate of {host} expires in {days} day{} ({})",
                        if days == 1 { "" } else { "s" },
                        after.format("%Y-%m-%d")
                    ),
                    "Automatic renewal normally happens 30 days ahead; a certificate this close to expiry means renewal is failing or not set up.",
                )
                .with_fix("Check the renewal job (certbot, cert-manager, your CDN) and its logs now.", None, None),
            );
        }
    }
    if tls.sni_mismatch {
        out.push(
            Finding::new(
                FindingCode::TlsNameMismatch,
                Severity::Critical,
                format!("The certificate presented for {host} is for {names}"),
                format!(
                    "The server sent a certificate that does not name {host} (SNI sent: {}). Usually a default certificate: the server or proxy has no certificate configured for this name, or the name points at the wrong server.",
                    if tls.sni.is_empty() { "none" } else { tls.sni.as_str() }
                ),
            )
            .with_fix(
                format!("Configure a certificate that includes {host} on the server or proxy that answers for it."),
                None,
                None,
            ),
        );
    }
    if !tls.ok && !expired && !tls.sni_mismatch {
        let error = tls
            .error
            .clone()
            .unwrap_or_else(|| "handshake failed".to_owned());
        let untrusted = error.starts_with("self-signed") || error.starts_with("unknown issuer");
        out.push(
            Finding::new(
                if untrusted { FindingCode::TlsUntrusted } else { FindingCode::TlsHandshakeFailed },
                Severity::Critical,
                format!("TLS to {host}: {error}"),
                if untrusted {
                    format!(
                        "Subject {}, issuer {}. Browsers show a certificate warning and fetch() fails.",
                        tls.subject.as_deref().unwrap_or("?"),
                        tls.issuer.as_deref().unwrap_or("?")
                    )
                } else {
                    "The TLS session could not be set up, so no HTTP request was sent.".to_owned()
                },
            )
            .with_fix(
                if untrusted {
                    "Serve a certificate from a public CA (e.g. Let's Encrypt) with the full chain (leaf + intermediates)."
                } else {
                    "Check that this port speaks TLS and supports TLS 1.2 or 1.3."
                },
                None,
                None,
            ),
        );
    }
    out
}
