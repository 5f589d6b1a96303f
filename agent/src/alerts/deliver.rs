//! Delivery from the outbox: every due notification is sent to its channel; a failure is
//! retried with backoff (10 s doubling to 30 min) until the attempt limit, then marked
//! failed. Each attempt and its outcome is stored for the dashboard. Nothing here blocks
//! a probe: the engine only writes to the outbox.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;
use vantage_shared::alerts::{
    discord_body, email_text, ntfy_headers, retry_after, slack_body, webhook_body, Alert,
};

use super::config::{smtp_port, Channel, ChannelKind, SmtpSecurity};
use crate::store::{Due, Store};

/// One attempt may take this long (connect, TLS, the receiver's answer).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// The worker looks at the outbox at least this often, even without a doorbell.
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// The header that carries the webhook body's HMAC-SHA256: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Vantage-Signature";

/// Sends what is due until shutdown.
pub async fn run(
    store: Store,
    alerts: super::Alerts,
    hostname: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let http = match reqwest::Client::builder().timeout(ATTEMPT_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "Notifications are off: no HTTP client");
            return;
        }
    };
    loop {
        match store.due_notifications(Utc::now(), 20).await {
            Ok(due) => {
                for d in due {
                    deliver(&store, &alerts, &http, &hostname, d).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "Could not read the notification outbox"),
        }
        let next = store.next_notification_due().await.ok().flatten();
        let wait = next
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(IDLE_CHECK)
            .min(IDLE_CHECK);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = alerts.wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

async fn deliver(
    store: &Store,
    alerts: &super::Alerts,
    http: &reqwest::Client,
    hostname: &str,
    d: Due,
) {
    let channel = alerts.channel(&d.channel);
    let result = match &channel {
        Some(channel) => send(http, channel, &d.alert, hostname).await,
        None => Err(anyhow::anyhow!(
            "the channel `{}` is no longer configured",
            d.channel
        )),
    };
    let attempt = d.attempts + 1;
    let (ok, outcome, retry_at) = match result {
        Ok(outcome) => (true, outcome, None),
        Err(e) => {
            let give_up = attempt >= alerts.settings.max_attempts || channel.is_none();
            let retry = (!give_up).then(|| Utc::now() + retry_after(attempt));
            (false, format!("{e:#}"), retry)
        }
    };
    if !ok {
        tracing::warn!(channel = %d.channel, attempt, error = %outcome, "Notification not delivered");
    }
    if let Err(e) = store.record_attempt(d.id, ok, outcome, retry_at).await {
        tracing::error!(error = %e, "Could not record a delivery attempt");
    }
}

/// The HMAC-SHA256 of `body` under `key`, as the signature header carries it.
pub fn signature(key: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this cannot fail.
        Err(_) => return String::new(),
    };
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// One attempt; `Ok` carries what the receiver said.
pub async fn send(
    http: &reqwest::Client,
    channel: &Channel,
    alert: &Alert,
    hostname: &str,
) -> anyhow::Result<String> {
    let c = &channel.config;
    let url = c.url.clone().unwrap_or_default();
    let request = match c.kind {
        ChannelKind::Email => return send_email(channel, alert, hostname).await,
        ChannelKind::Webhook => {
            let body =
                serde_json::to_vec(&webhook_body(alert, hostname, env!("CARGO_PKG_VERSION")))?;
            let mut req = http.post(&url).header("Content-Type", "application/json");
            if let Some(key) = &c.secret {
                req = req.header(SIGNATURE_HEADER, signature(key, &body));
            }
            req.body(body)
        }
        ChannelKind::Slack => http.post(&url).json(&slack_body(alert)),
        ChannelKind::Discord => http.post(&url).json(&discord_body(alert)),
        ChannelKind::Ntfy => {
            let mut req = http.post(&url).body(alert.message.clone());
            for (name, value) in ntfy_headers(alert) {
                req = req.header(name, value);
            }
            if let Some(token) = &c.token {
                req = req.bearer_auth(token);
            }
            req
        }
    };
    // Without the URL: a Slack or Discord URL's path is its secret, and this text is
    // stored and shown in the delivery log.
    let res = request
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e.without_url())))?;
    let status = res.status();
    if status.is_success() {
        return Ok(format!("HTTP {}", status.as_u16()));
    }
    let text = res.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    anyhow::bail!("HTTP {}: {}", status.as_u16(), text.trim())
}

/// An error with its causes, each added only when the text so far does not already say
/// it (reqwest's errors hide the cause, lettre's repeat it).
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(&format!(": {part}"));
        }
        source = s.source();
    }
    text
}

async fn send_email(channel: &Channel, alert: &Alert, hostname: &str) -> anyhow::Result<String> {
    let c = &channel.config;
    let host = c.smtp_host.clone().unwrap_or_default();
    let (subject, body) = email_text(alert, hostname);
    let from: Mailbox = c.from.as_deref().unwrap_or("").parse().context("from")?;
    let mut message = Message::builder().from(from).subject(subject);
    for to in &c.to {
        message = message.to(to.parse().with_context(|| format!("to `{to}`"))?);
    }
    let message = message.body(body)?;
    let mut tls = TlsParameters::builder(host.clone());
    if let Some(path) = &c.ca_file {
        let pem = tokio::fs::read(path)
            .await
            .with_context(|| format!("reading ca_file {}", path.display()))?;
        let ca = Certificate::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("ca_file {}: {}", path.display(), describe(&e)))?;
        tls = tls.add_root_certificate(ca);
    }
    let tls = tls
        .build()
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
        .port(smtp_port(c))
        .timeout(Some(ATTEMPT_TIMEOUT))
        .tls(match c.smtp_security {
            SmtpSecurity::Starttls => Tls::Required(tls),
            SmtpSecurity::Tls => Tls::Wrapper(tls),
            SmtpSecurity::None => Tls::None,
        });
    if let (Some(user), Some(password)) = (&c.username, &c.password) {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let response = transport
        .build()
        .send(message)
        .await
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    Ok(format!(
        "SMTP {}: {}",
        response.code(),
        response.message().collect::<Vec<_>>().join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231s() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
