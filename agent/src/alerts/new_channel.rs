//! `POST /api/notifications/channels`: a channel as the dashboard adds it, one shape per
//! kind so the OpenAPI document states exactly what the agent accepts (the config file's
//! `[[notifications]]` is looser: `ca_file`, and `smtp_security = "none"` for a relay on
//! the host, stay there).

use serde::{Deserialize, Serialize};
use vantage_shared::alerts::AlertKind;

use super::config::{ChannelConfig, ChannelKind, SmtpSecurity};

/// The longest channel name, URL and SMTP host name the schema admits.
pub const MAX_NAME: usize = 80;
const MAX_URL: usize = 2048;
const MAX_HOST: usize = 253;

/// One event a channel may be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventName {
    TargetDown,
    TargetUp,
    CorsChanged,
    ContainerUnhealthy,
    ContainerHealthy,
    RestartLoop,
    CriticalFinding,
    CertificateExpiring,
}

impl EventName {
    fn kind(self) -> AlertKind {
        match self {
            Self::TargetDown => AlertKind::TargetDown,
            Self::TargetUp => AlertKind::TargetUp,
            Self::CorsChanged => AlertKind::CorsChanged,
            Self::ContainerUnhealthy => AlertKind::ContainerUnhealthy,
            Self::ContainerHealthy => AlertKind::ContainerHealthy,
            Self::RestartLoop => AlertKind::RestartLoop,
            Self::CriticalFinding => AlertKind::CriticalFinding,
            Self::CertificateExpiring => AlertKind::CertificateExpiring,
        }
    }
}

/// How a dashboard e-mail channel reaches its server: always encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// STARTTLS, port 587 by default.
    Starttls,
    /// TLS from the first byte, port 465 by default.
    Tls,
}

/// The SMTP login.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpLogin {
    pub username: String,
    /// Kept by the agent, never sent back.
    pub password: String,
}

/// A channel added on the dashboard, by `kind`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewChannel {
    /// The generic JSON payload (docs/notifications.md), optionally signed.
    Webhook {
        #[schema(
            max_length = 80,
            pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )]
        name: String,
        #[schema(max_length = 2048, pattern = "^https?://")]
        url: String,
        /// HMAC-SHA256 key for `X-Vantage-Signature`; kept by the agent, never sent back.
        #[serde(default)]
        secret: Option<String>,
        /// Only these events (empty or absent: all).
        #[serde(default)]
        events: Vec<EventName>,
    },
    /// Slack or Mattermost incoming webhook.
    Slack {
        #[schema(
            max_length = 80,
            pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )]
        name: String,
        #[schema(max_length = 2048, pattern = "^https?://")]
        url: String,
        #[serde(default)]
        events: Vec<EventName>,
    },
    Discord {
        #[schema(
            max_length = 80,
            pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )]
        name: String,
        #[schema(max_length = 2048, pattern = "^https?://")]
        url: String,
        #[serde(default)]
        events: Vec<EventName>,
    },
    Ntfy {
        #[schema(
            max_length = 80,
            pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )]
        name: String,
        /// The topic's URL.
        #[schema(max_length = 2048, pattern = "^https?://")]
        url: String,
        /// Access token; kept by the agent, never sent back.
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        events: Vec<EventName>,
    },
    Email {
        #[schema(
            max_length = 80,
            pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )]
        name: String,
        #[schema(
            max_length = 253,
            pattern = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )]
        smtp_host: String,
        /// [default: 587 for STARTTLS, 465 for TLS]
        #[serde(default)]
        #[schema(minimum = 0, maximum = 65535)]
        smtp_port: Option<u16>,
        smtp_security: TlsMode,
        #[serde(default)]
        login: Option<SmtpLogin>,
        from: String,
        #[schema(min_items = 1)]
        to: Vec<String>,
        #[serde(default)]
        events: Vec<EventName>,
    },
}

impl NewChannel {
    /// The config-file entry it stands for, or what the schema cannot say is wrong.
    pub fn into_config(self) -> Result<ChannelConfig, String> {
        let blank = |kind: ChannelKind, name: String, events: Vec<EventName>| ChannelConfig {
            name,
            kind,
            url: None,
            secret: None,
            token: None,
            events: events
                .into_iter()
                .map(|e| e.kind().as_str().to_owned())
                .collect(),
            smtp_host: None,
            smtp_port: None,
            smtp_security: SmtpSecurity::Starttls,
            username: None,
            password: None,
            from: None,
            to: vec![],
            ca_file: None,
        };
        let c = match self {
            Self::Webhook {
                name,
                url,
                secret,
                events,
            } => ChannelConfig {
                url: Some(url),
                secret,
                ..blank(ChannelKind::Webhook, name, events)
            },
            Self::Slack { name, url, events } => ChannelConfig {
                url: Some(url),
                ..blank(ChannelKind::Slack, name, events)
            },
            Self::Discord { name, url, events } => ChannelConfig {
                url: Some(url),
                ..blank(ChannelKind::Discord, name, events)
            },
            Self::Ntfy {
                name,
                url,
                token,
                events,
            } => ChannelConfig {
                url: Some(url),
                token,
                ..blank(ChannelKind::Ntfy, name, events)
            },
            Self::Email {
                name,
                smtp_host,
                smtp_port,
                smtp_security,
                login,
                from,
                to,
                events,
            } => ChannelConfig {
                smtp_host: Some(smtp_host),
                smtp_port,
                smtp_security: match smtp_security {
                    TlsMode::Starttls => SmtpSecurity::Starttls,
                    TlsMode::Tls => SmtpSecurity::Tls,
                },
                username: login.as_ref().map(|l| l.username.clone()),
                password: login.map(|l| l.password),
                from: Some(from),
                to,
                ..blank(ChannelKind::Email, name, events)
            },
        };
        // The schema's lengths, held here too (its patterns are `check_channel`'s).
        let too_long =
            |v: &Option<String>, max: usize| v.as_ref().is_some_and(|v| v.chars().count() > max);
        if c.name.chars().count() > MAX_NAME {
            return Err(format!("the name may have at most {MAX_NAME} characters"));
        }
        if too_long(&c.url, MAX_URL) || too_long(&c.smtp_host, MAX_HOST) {
            return Err(format!(
                "the URL may have at most {MAX_URL} characters, the SMTP host {MAX_HOST}"
            ));
        }
        Ok(c)
    }
}

/// The document's `NewChannel`: each kind's shape admits no other field, as serde's
/// `deny_unknown_fields` has it (utoipa leaves this out of a tagged enum's variants).
pub fn refine(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    use utoipa::openapi::RefOr;
    let Some(RefOr::T(Schema::OneOf(one))) = components.schemas.get_mut("NewChannel") else {
        return;
    };
    for variant in &mut one.items {
        if let RefOr::T(Schema::Object(o)) = variant {
            o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        }
    }
}
