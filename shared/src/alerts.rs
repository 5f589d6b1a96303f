//! Alerts: when a change is worth telling someone (thresholds on consecutive results,
//! reminders while something stays down), what the message says, and the shapes the
//! notification channels take (a generic JSON webhook, Slack/Mattermost, Discord, ntfy,
//! e-mail). Pure, so the agent's engine and its tests share one definition.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::diagnosis::Severity;

/// The webhook payload's version: a new field keeps it, a changed one bumps it.
pub const PAYLOAD_VERSION: u32 = 1;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    TargetDown,
    TargetUp,
    /// The CORS verdict for the target's origin changed (allowed ↔ blocked).
    CorsChanged,
    ContainerUnhealthy,
    ContainerHealthy,
    RestartLoop,
    /// A critical finding appeared on a target that is still up, or in a device's report
    /// (a phone on another network that times out while the agent gets through).
    CriticalFinding,
    CertificateExpiring,
    /// Sent by hand from the dashboard or the API, to try a channel.
    Test,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TargetDown => "target_down",
            Self::TargetUp => "target_up",
            Self::CorsChanged => "cors_changed",
            Self::ContainerUnhealthy => "container_unhealthy",
            Self::ContainerHealthy => "container_healthy",
            Self::RestartLoop => "restart_loop",
            Self::CriticalFinding => "critical_finding",
            Self::CertificateExpiring => "certificate_expiring",
            Self::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::TargetDown,
            Self::TargetUp,
            Self::CorsChanged,
            Self::ContainerUnhealthy,
            Self::ContainerHealthy,
            Self::RestartLoop,
            Self::CriticalFinding,
            Self::CertificateExpiring,
            Self::Test,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// What an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertSubject {
    /// `target`, `container` or `agent` (for tests).
    pub kind: String,
    /// The target's id or the container's full id.
    pub id: String,
    pub name: String,
}

/// One alert, before it is shaped for a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    pub kind: AlertKind,
    pub subject: AlertSubject,
    pub at: DateTime<Utc>,
    pub severity: Severity,
    /// One line, e.g. `Shop API is down`.
    pub title: String,
    /// A few sentences: what was seen, since when, the finding behind it.
    pub message: String,
    /// A reminder of an alert already sent (the condition still holds).
    #[serde(default)]
    pub reminder: bool,
}

/// When to alert: after `failures` bad results in a row, recover after `successes` good
/// ones, remind every `remind_every` while it stays bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    pub failures: u32,
    pub successes: u32,
    pub remind_every: Option<Duration>,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            failures: 3,
            successes: 2,
            remind_every: None,
        }
    }
}

/// What the engine remembers per subject between results (stored, so a restart neither
/// forgets an open alert nor sends it again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AlertState {
    /// An alert is open: `failures` bad results were seen and no recovery since.
    pub alerting: bool,
    /// Results in a row that disagree with `alerting` (bad while fine, good while alerting).
    pub streak: u32,
    /// When the current condition began (the first bad result of the streak that opened
    /// the alert, or the first good one of the recovery).
    pub since: Option<DateTime<Utc>>,
    /// When the last alert or reminder for it was sent.
    pub last_sent: Option<DateTime<Utc>>,
    /// For subjects that are a set (a target's critical findings): what is open now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<String>,
}

/// What a new result does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Nothing,
    /// Alert: it went bad.
    Opened,
    /// Tell: it is fine again.
    Resolved,
    /// Remind: still bad.
    Reminder,
}

/// Feeds one result (`bad` or not) at `now` into `state` under `policy`.
pub fn step(
    state: &mut AlertState,
    bad: bool,
    now: DateTime<Utc>,
    policy: &AlertPolicy,
) -> Transition {
    if bad == state.alerting {
        state.streak = 0;
        if bad {
            if let (Some(every), Some(last)) = (policy.remind_every, state.last_sent) {
                if now - last >= every {
                    state.last_sent = Some(now);
                    return Transition::Reminder;
                }
            }
        }
        return Transition::Nothing;
    }
    if state.streak == 0 {
        state.since = Some(now);
    }
    state.streak += 1;
    let needed = if bad {
        policy.failures
    } else {
        policy.successes
    }
    .max(1);
    if state.streak < needed {
        return Transition::Nothing;
    }
    state.alerting = bad;
    state.streak = 0;
    state.last_sent = Some(now);
    if bad {
        Transition::Opened
    } else {
        Transition::Resolved
    }
}

/// When the `attempt`-th failed delivery (1-based) is retried: 10 s, doubling, at most
/// 30 minutes apart.
pub fn retry_after(attempt: u32) -> Duration {
    let secs = 10u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    Duration::seconds(i64::try_from(secs.min(1800)).unwrap_or(1800))
}

/// The generic webhook's JSON body (docs/notifications.md describes it).
pub fn webhook_body(alert: &Alert, agent_host: &str, agent_version: &str) -> serde_json::Value {
    serde_json::json!({
        "version": PAYLOAD_VERSION,
        "event": alert.kind.as_str(),
        "reminder": alert.reminder,
        "severity": alert.severity.as_str(),
        "at": alert.at,
        "subject": alert.subject,
        "title": alert.title,
        "message": alert.message,
        "agent": { "host": agent_host, "version": agent_version },
    })
}

fn emoji(alert: &Alert) -> &'static str {
    match alert.kind {
        AlertKind::TargetUp | AlertKind::ContainerHealthy => "✅",
        AlertKind::Test => "🔔",
        _ if alert.severity == Severity::Critical => "🔴",
        _ => "🟠",
    }
}

fn headline(alert: &Alert) -> String {
    let again = if alert.reminder { " (still)" } else { "" };
    format!("{} {}{again}", emoji(alert), alert.title)
}

/// Slack's (and Mattermost's) incoming-webhook body.
pub fn slack_body(alert: &Alert) -> serde_json::Value {
    serde_json::json!({ "text": format!("*{}*\n{}", headline(alert), alert.message) })
}

/// Discord's webhook body (content is limited to 2000 characters).
pub fn discord_body(alert: &Alert) -> serde_json::Value {
    let text = format!("**{}**\n{}", headline(alert), alert.message);
    let text: String = text.chars().take(2000).collect();
    serde_json::json!({ "content": text })
}

/// ntfy's headers (title, priority, tags) for a plain-text message body.
pub fn ntfy_headers(alert: &Alert) -> Vec<(&'static str, String)> {
    let (priority, tag) = match (alert.kind, alert.severity) {
        (AlertKind::TargetUp | AlertKind::ContainerHealthy, _) => ("default", "white_check_mark"),
        (AlertKind::Test, _) => ("low", "bell"),
        (_, Severity::Critical) => ("high", "rotating_light"),
        _ => ("default", "warning"),
    };
    vec![
        ("Title", alert.title.clone()),
        ("Priority", priority.to_owned()),
        ("Tags", tag.to_owned()),
    ]
}

/// An e-mail's subject and plain-text body.
pub fn email_text(alert: &Alert, agent_host: &str) -> (String, String) {
    let again = if alert.reminder { " (still)" } else { "" };
    (
        format!("[Vantage] {}{again}", alert.title),
        format!(
            "{}\n\n{} {} `{}` on {agent_host}, {}.\n",
            alert.message,
            alert.kind.as_str(),
            alert.subject.kind,
            alert.subject.name,
            alert.at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
    )
}

/// A notification channel as the API shows it: never its URL path, token or password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelInfo {
    pub name: String,
    /// `webhook`, `slack`, `discord`, `ntfy` or `email`.
    pub kind: String,
    /// Where it goes, without secrets: the URL's host, or the SMTP server and recipients.
    pub destination: String,
    /// The events it receives (empty: all).
    pub events: Vec<String>,
    /// Whether a signing secret (webhook), token (ntfy) or password (e-mail) is set.
    pub has_secret: bool,
    /// `config` (the config file: change it there) or `dashboard` (added here: deletable).
    pub source: String,
}

/// One notification in the outbox, with its delivery so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    pub alert: Alert,
    /// `pending` (waiting for its next attempt), `sent` or `failed` (gave up).
    pub status: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    /// The next attempt, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Every attempt, oldest first.
    pub log: Vec<DeliveryAttempt>,
}

/// One attempt to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// What the receiver said, or why it could not be reached.
    pub outcome: String,
}

/// `GET /api/notifications`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationsOverview {
    pub channels: Vec<ChannelInfo>,
    /// `failures`, `successes`, `remind_every_seconds` (absent: no reminders), `mute`.
    pub failures: u32,
    pub successes: u32,
    pub remind_every_seconds: Option<u64>,
    pub max_attempts: u32,
    pub mute: Vec<String>,
    /// The newest deliveries, newest first.
    pub deliveries: Vec<Delivery>,
}

/// `POST /api/notifications/test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestNotification {
    /// The channel's name.
    pub channel: String,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn thresholds_open_and_resolve_once() {
        let policy = AlertPolicy {
            failures: 3,
            successes: 2,
            remind_every: Some(Duration::minutes(60)),
        };
        let mut s = AlertState::default();
        let results = [
            false, true, true, false, true, true, true, true, false, true, false, false,
        ];
        let got: Vec<Transition> = results
            .iter()
            .enumerate()
            .map(|(i, bad)| step(&mut s, *bad, t(i as i64), &policy))
            .collect();
        use Transition::*;
        assert_eq!(
            got,
            vec![
                Nothing, Nothing, Nothing, Nothing, Nothing, Nothing, Opened, Nothing, Nothing,
                Nothing, Nothing, Resolved
            ]
        );
        // The alert's condition began with the first of its three failures.
        assert!(!s.alerting);
    }

    #[test]
    fn reminders_while_it_stays_bad() {
        let policy = AlertPolicy {
            failures: 1,
            successes: 1,
            remind_every: Some(Duration::minutes(30)),
        };
        let mut s = AlertState::default();
        assert_eq!(step(&mut s, true, t(0), &policy), Transition::Opened);
        assert_eq!(step(&mut s, true, t(29), &policy), Transition::Nothing);
        assert_eq!(step(&mut s, true, t(30), &policy), Transition::Reminder);
        assert_eq!(step(&mut s, true, t(45), &policy), Transition::Nothing);
        assert_eq!(step(&mut s, false, t(46), &policy), Transition::Resolved);
        let quiet = AlertPolicy {
            remind_every: None,
            ..policy
        };
        let mut s = AlertState::default();
        step(&mut s, true, t(0), &quiet);
        assert_eq!(step(&mut s, true, t(600), &quiet), Transition::Nothing);
    }

    #[test]
    fn retries_back_off_to_half_an_hour() {
        let secs: Vec<i64> = (1..=10).map(|a| retry_after(a).num_seconds()).collect();
        assert_eq!(secs, vec![10, 20, 40, 80, 160, 320, 640, 1280, 1800, 1800]);
    }

    #[test]
    fn channel_shapes() {
        let alert = Alert {
            kind: AlertKind::TargetDown,
            subject: AlertSubject {
                kind: "target".into(),
                id: "shop-api".into(),
                name: "Shop API".into(),
            },
            at: t(0),
            severity: Severity::Critical,
            title: "Shop API is down".into(),
            message: "3 checks failed: connection refused.".into(),
            reminder: false,
        };
        let w = webhook_body(&alert, "web-1", "0.1.0");
        assert_eq!(w["event"], "target_down");
        assert_eq!(w["subject"]["id"], "shop-api");
        assert_eq!(w["agent"]["host"], "web-1");
        assert_eq!(
            slack_body(&alert)["text"],
            "*🔴 Shop API is down*\n3 checks failed: connection refused."
        );
        assert!(discord_body(&alert)["content"]
            .as_str()
            .unwrap()
            .starts_with("**🔴 Shop API is down**"));
        assert_eq!(ntfy_headers(&alert)[1], ("Priority", "high".to_owned()));
        let (subject, body) = email_text(&alert, "web-1");
        assert_eq!(subject, "[Vantage] Shop API is down");
        assert!(
            body.contains("target_down target `Shop API` on web-1"),
            "{body}"
        );
        assert_eq!(
            AlertKind::parse("restart_loop"),
            Some(AlertKind::RestartLoop)
        );
    }
}
