//! `[alerts]` and `[[notifications]]` of the config file: when to alert and where to send,
//! checked at start so a typo in a channel is an error with its line, not a silent miss.

use std::path::PathBuf;

use chrono::Duration;
use serde::{Deserialize, Serialize};
use vantage_shared::alerts::{AlertKind, AlertPolicy, ChannelInfo};
use vantage_shared::probe::parse_interval;

/// Delivery attempts before a notification is given up (about 21 minutes of retries).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// `[alerts]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Bad results in a row before an alert [default: 3].
    pub failures: Option<u32>,
    /// Good results in a row before the recovery notice [default: 2].
    pub successes: Option<u32>,
    /// Remind this often while something stays down, e.g. `1h` [default: never].
    pub remind_every: Option<String>,
    /// Delivery attempts before giving up [default: 8].
    pub max_attempts: Option<u32>,
    /// Target ids or names, container names: never alerted on.
    #[serde(default)]
    pub mute: Vec<String>,
}

/// Where a channel sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// The generic JSON payload, optionally signed (HMAC-SHA256 of the body).
    Webhook,
    /// Slack-compatible incoming webhooks (Mattermost too).
    Slack,
    Discord,
    Ntfy,
    Email,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Ntfy => "ntfy",
            Self::Email => "email",
        }
    }
}

/// How an e-mail channel talks to its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on this host or a test server.
    None,
}

/// One `[[notifications]]` entry, or the body of `POST /api/notifications/channels` (the
/// same fields, without `ca_file`: a path on the agent's host is the config file's to name).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// Webhook, Slack, Discord: the URL to post to; ntfy: the topic's URL.
    pub url: Option<String>,
    /// Webhook: the HMAC-SHA256 key for `X-Vantage-Signature`.
    pub secret: Option<String>,
    /// ntfy: an access token.
    pub token: Option<String>,
    /// Only these events (`target_down`, `container_unhealthy`, …); empty: all.
    #[serde(default)]
    pub events: Vec<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    #[serde(default)]
    pub smtp_security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    /// A CA certificate (PEM) to trust for the SMTP server, besides the public roots.
    /// Config file only: the API refuses it.
    #[schema(ignore)]
    pub ca_file: Option<PathBuf>,
}

/// A checked channel.
#[derive(Debug, Clone)]
pub struct Channel {
    pub config: ChannelConfig,
    pub events: Vec<AlertKind>,
    /// Added on the dashboard (stored in the database) rather than in the config file.
    pub from_dashboard: bool,
}

impl Channel {
    /// Whether this channel wants `kind` (a test always goes through).
    pub fn wants(&self, kind: AlertKind) -> bool {
        kind == AlertKind::Test || self.events.is_empty() || self.events.contains(&kind)
    }

    /// The API's view: where it goes, never the URL's path, a token or a password.
    pub fn info(&self) -> ChannelInfo {
        let c = &self.config;
        let destination = match c.kind {
            ChannelKind::Email => format!(
                "{}:{} → {}",
                c.smtp_host.as_deref().unwrap_or("?"),
                smtp_port(c),
                c.to.join(", ")
            ),
            // A Slack or Discord URL's path is its secret; the host says enough.
            _ => c
                .url
                .as_deref()
                .and_then(|u| u.split_once("://"))
                .map(|(scheme, rest)| {
                    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                    let host = host.rsplit('@').next().unwrap_or(host);
                    format!("{scheme}://{host}")
                })
                .unwrap_or_default(),
        };
        ChannelInfo {
            name: c.name.clone(),
            kind: c.kind.as_str().to_owned(),
            destination,
            events: self.events.iter().map(|k| k.as_str().to_owned()).collect(),
            has_secret: c.secret.is_some() || c.token.is_some() || c.password.is_some(),
            source: if self.from_dashboard {
                "dashboard"
            } else {
                "config"
            }
            .to_owned(),
        }
    }
}

/// The port an e-mail channel uses: as given, else 587 for STARTTLS, 465 for TLS, 25.
pub fn smtp_port(c: &ChannelConfig) -> u16 {
    c.smtp_port.unwrap_or(match c.smtp_security {
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::None => 25,
    })
}

/// Everything the alert engine and the delivery worker need.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub policy: AlertPolicy,
    pub max_attempts: u32,
    pub mute: Vec<String>,
    pub channels: Vec<Channel>,
}

impl Settings {
    /// Checks `[alerts]` and the channels; an error names the channel.
    pub fn from_config(alerts: &AlertsConfig, channels: Vec<Channel>) -> Result<Self, String> {
        let remind_every = alerts
            .remind_every
            .as_deref()
            .map(|s| parse_interval(s).map(|secs| Duration::seconds(i64::from(secs))))
            .transpose()
            .map_err(|e| format!("[alerts] remind_every: {e}"))?;
        let policy = AlertPolicy {
            failures: alerts.failures.unwrap_or(3).max(1),
            successes: alerts.successes.unwrap_or(2).max(1),
            remind_every,
        };
        let mut checked: Vec<Channel> = Vec::new();
        for channel in channels {
            if checked.iter().any(|o| o.config.name == channel.config.name) {
                return Err(format!(
                    "[[notifications]] `{}`: another channel has this name",
                    channel.config.name
                ));
            }
            checked.push(channel);
        }
        Ok(Self {
            policy,
            max_attempts: alerts
                .max_attempts
                .unwrap_or(DEFAULT_MAX_ATTEMPTS)
                .clamp(1, 50),
            mute: alerts.mute.clone(),
            channels: checked,
        })
    }

    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.config.name == name)
    }
}

/// Checks one channel's fields for its kind; an error names the channel.
pub fn check_channel(c: ChannelConfig) -> Result<Channel, String> {
    let name = c.name.clone();
    let bad = |what: String| Err(format!("[[notifications]] `{name}`: {what}"));
    if c.name.trim().is_empty() {
        return Err("[[notifications]]: every channel needs a name".into());
    }
    let mut events = Vec::new();
    for e in &c.events {
        match AlertKind::parse(e) {
            Some(k) => events.push(k),
            None => return bad(format!("unknown event `{e}` (see docs/notifications.md)")),
        }
    }
    match c.kind {
        ChannelKind::Email => {
            if c.smtp_host.as_deref().is_none_or(|h| h.trim().is_empty()) {
                return bad("an e-mail channel needs smtp_host".into());
            }
            if c.from.is_none() || c.to.is_empty() {
                return bad("an e-mail channel needs from and to".into());
            }
            if c.username.is_some() != c.password.is_some() {
                return bad("give both username and password, or neither".into());
            }
            if c.username.is_some() && c.smtp_security == SmtpSecurity::None {
                return bad("a password is never sent without TLS: use smtp_security = \"starttls\" or \"tls\"".into());
            }
        }
        _ => {
            let url = c.url.as_deref().unwrap_or("");
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return bad(format!(
                    "a {} channel needs url = \"https://…\"",
                    c.kind.as_str()
                ));
            }
        }
    }
    Ok(Channel {
        config: c,
        events,
        from_dashboard: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(toml_text: &str) -> Result<Channel, String> {
        check_channel(toml::from_str(toml_text).map_err(|e| e.to_string())?)
    }

    #[test]
    fn channels_are_checked_and_shown_without_secrets() {
        let slack = channel(
            "name = \"ops\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/XXXXSECRET\"\n",
        )
        .unwrap();
        let info = slack.info();
        assert_eq!(info.destination, "https://hooks.slack.com");
        assert!(!format!("{info:?}").contains("SECRET"));
        let hook = channel("name = \"h\"\nkind = \"webhook\"\nurl = \"http://user:pw@10.0.0.5:9000/in?k=1\"\nsecret = \"s\"\n").unwrap();
        assert_eq!(hook.info().destination, "http://10.0.0.5:9000");
        assert!(hook.info().has_secret);

        let e = channel("name = \"m\"\nkind = \"email\"\nsmtp_host = \"mail\"\nfrom = \"a@x\"\n")
            .unwrap_err();
        assert!(e.contains("needs from and to"), "{e}");
        let e = channel("name = \"m\"\nkind = \"email\"\nsmtp_host = \"mail\"\nfrom = \"a@x\"\nto = [\"b@x\"]\nsmtp_security = \"none\"\nusername = \"u\"\npassword = \"p\"\n").unwrap_err();
        assert!(e.contains("never sent without TLS"), "{e}");
        let e = channel("name = \"d\"\nkind = \"discord\"\nurl = \"ftp://x\"\n").unwrap_err();
        assert!(e.contains("needs url"), "{e}");
        let e = channel("name = \"d\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\nevents = [\"target_dwn\"]\n").unwrap_err();
        assert!(e.contains("unknown event `target_dwn`"), "{e}");
        let mail = channel("name = \"m\"\nkind = \"email\"\nsmtp_host = \"mail.example\"\nsmtp_security = \"tls\"\nfrom = \"a@x\"\nto = [\"b@x\"]\n").unwrap();
        assert_eq!(mail.info().destination, "mail.example:465 → b@x");
    }

    #[test]
    fn policy_and_names() {
        let alerts: AlertsConfig =
            toml::from_str("failures = 2\nremind_every = \"30m\"\nmute = [\"db\"]\n").unwrap();
        let c = channel("name = \"a\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/t\"\n").unwrap();
        let s = Settings::from_config(&alerts, vec![c.clone()]).unwrap();
        assert_eq!((s.policy.failures, s.policy.successes), (2, 2));
        assert_eq!(s.policy.remind_every, Some(Duration::minutes(30)));
        let e = Settings::from_config(&alerts, vec![c.clone(), c]).unwrap_err();
        assert!(e.contains("another channel has this name"), "{e}");
        let bad: AlertsConfig = toml::from_str("remind_every = \"soon\"\n").unwrap();
        assert!(Settings::from_config(&bad, vec![])
            .unwrap_err()
            .contains("remind_every"));
    }
}
