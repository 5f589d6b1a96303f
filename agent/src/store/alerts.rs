//! Alert state per subject and the notification outbox: what is waiting to be delivered,
//! every attempt with its outcome, and what the dashboard's delivery log reads.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use vantage_shared::alerts::{Alert, AlertState, Delivery, DeliveryAttempt};

use super::{from_ns, to_ns, Store, StoreError};

/// A notification due for an attempt.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub channel: String,
    pub alert: Alert,
    /// Attempts made so far.
    pub attempts: u32,
}

impl Store {
    /// The stored state of `subject` (default: nothing open).
    pub async fn alert_state(&self, subject: String) -> Result<AlertState, StoreError> {
        self.with_conn(move |conn| {
            let json: Option<String> = conn
                .prepare_cached("SELECT json FROM alert_states WHERE subject = ?1")?
                .query_row(params![subject], |r| r.get(0))
                .optional()?;
            Ok(json
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default())
        })
        .await
    }

    pub async fn set_alert_state(
        &self,
        subject: String,
        state: &AlertState,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(state)?;
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "INSERT INTO alert_states (subject, json) VALUES (?1, ?2)
                 ON CONFLICT (subject) DO UPDATE SET json = ?2",
            )?
            .execute(params![subject, json])?;
            Ok(())
        })
        .await
    }

    /// Channels added on the dashboard, as stored (JSON of the config entry), oldest first.
    pub async fn channels(&self) -> Result<Vec<String>, StoreError> {
        self.with_conn(|conn| {
            let rows = conn
                .prepare_cached("SELECT json FROM channels ORDER BY created_ns")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Stores a dashboard channel; false when one with that name exists.
    pub async fn insert_channel(&self, name: String, json: String) -> Result<bool, StoreError> {
        let now = to_ns(Utc::now())?;
        self.with_conn(move |conn| {
            let n = conn.execute(
                "INSERT OR IGNORE INTO channels (name, json, created_ns) VALUES (?1, ?2, ?3)",
                params![name, json, now],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Removes a dashboard channel; false when there was none.
    pub async fn delete_channel(&self, name: String) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            Ok(conn.execute("DELETE FROM channels WHERE name = ?1", params![name])? > 0)
        })
        .await
    }

    /// Puts an alert in the outbox for `channel`, due now; returns its id.
    pub async fn enqueue_notification(
        &self,
        channel: String,
        alert: &Alert,
    ) -> Result<i64, StoreError> {
        let json = serde_json::to_string(alert)?;
        let now = to_ns(Utc::now())?;
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "INSERT INTO notifications (channel, alert, status, created_ns, next_ns)
                 VALUES (?1, ?2, 'pending', ?3, ?3)",
            )?
            .execute(params![channel, json, now])?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    /// Pending notifications whose next attempt is due at `now`, oldest first; only the
    /// oldest pending one of each channel, so a channel gets its alerts in order ("down"
    /// before "up") even when the first had to wait for a retry.
    pub async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Due>, StoreError> {
        let now = to_ns(now)?;
        self.with_conn(move |conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT id, channel, alert, attempts FROM notifications n
                     WHERE status = 'pending' AND next_ns <= ?1 AND NOT EXISTS
                       (SELECT 1 FROM notifications o
                        WHERE o.channel = n.channel AND o.status = 'pending' AND o.id < n.id)
                     ORDER BY next_ns, id LIMIT ?2",
                )?
                .query_map(params![now, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, u32>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::new();
            for (id, channel, json, attempts) in rows {
                out.push(Due {
                    id,
                    channel,
                    alert: serde_json::from_str(&json)?,
                    attempts,
                });
            }
            Ok(out)
        })
        .await
    }

    /// The next time a pending notification is due, if any (among those
    /// [`Self::due_notifications`] would return).
    pub async fn next_notification_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with_conn(|conn| {
            let ns: Option<i64> = conn
                .prepare_cached(
                    "SELECT MIN(next_ns) FROM notifications n WHERE status = 'pending' AND NOT EXISTS
                       (SELECT 1 FROM notifications o
                        WHERE o.channel = n.channel AND o.status = 'pending' AND o.id < n.id)",
                )?
                .query_row([], |r| r.get(0))?;
            Ok(ns.map(from_ns))
        })
        .await
    }

    /// Records one attempt: sent, retried at `retry_at`, or (`retry_at` `None` after a
    /// failure) given up.
    pub async fn record_attempt(
        &self,
        id: i64,
        ok: bool,
        outcome: String,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let now = to_ns(Utc::now())?;
        let next = retry_at.map(to_ns).transpose()?;
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO notification_attempts (notification_id, at_ns, ok, outcome)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, now, ok, outcome],
            )?;
            let (status, error) = match (ok, next) {
                (true, _) => ("sent", None),
                (false, Some(_)) => ("pending", Some(outcome)),
                (false, None) => ("failed", Some(outcome)),
            };
            tx.execute(
                "UPDATE notifications SET status = ?2, attempts = attempts + 1, next_ns = ?3,
                 sent_ns = CASE WHEN ?4 THEN ?5 ELSE sent_ns END, last_error = ?6 WHERE id = ?1",
                params![id, status, next, ok, now, error],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The newest `limit` notifications with their attempts, newest first.
    pub async fn deliveries(&self, limit: u32) -> Result<Vec<Delivery>, StoreError> {
        self.with_conn(move |conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT id, channel, alert, status, attempts, created_ns, next_ns, sent_ns, last_error
                     FROM notifications ORDER BY id DESC LIMIT ?1",
                )?
                .query_map(params![limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, u32>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut attempts = conn.prepare_cached(
                "SELECT at_ns, ok, outcome FROM notification_attempts
                 WHERE notification_id = ?1 ORDER BY at_ns",
            )?;
            let mut out = Vec::new();
            for (id, channel, json, status, n, created, next, sent, error) in rows {
                let log = attempts
                    .query_map(params![id], |r| {
                        Ok(DeliveryAttempt {
                            at: from_ns(r.get(0)?),
                            ok: r.get(1)?,
                            outcome: r.get(2)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(Delivery {
                    id,
                    channel,
                    alert: serde_json::from_str(&json)?,
                    next_attempt_at: next.filter(|_| status == "pending").map(from_ns),
                    status,
                    attempts: n,
                    created_at: from_ns(created),
                    sent_at: sent.map(from_ns),
                    last_error: error,
                    log,
                });
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use vantage_shared::alerts::{AlertKind, AlertSubject};
    use vantage_shared::diagnosis::Severity;

    use super::*;

    fn alert() -> Alert {
        Alert {
            kind: AlertKind::TargetDown,
            subject: AlertSubject {
                kind: "target".into(),
                id: "api".into(),
                name: "API".into(),
            },
            at: Utc::now(),
            severity: Severity::Critical,
            title: "API is down".into(),
            message: "refused".into(),
            reminder: false,
        }
    }

    #[tokio::test]
    async fn the_outbox_retries_then_sends_or_gives_up() {
        let store = Store::in_memory().unwrap();
        let a = store
            .enqueue_notification("hook".into(), &alert())
            .await
            .unwrap();
        let b = store
            .enqueue_notification("mail".into(), &alert())
            .await
            .unwrap();
        let due = store.due_notifications(Utc::now(), 10).await.unwrap();
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), vec![a, b]);

        let later = Utc::now() + Duration::seconds(10);
        store
            .record_attempt(a, false, "connection refused".into(), Some(later))
            .await
            .unwrap();
        store
            .record_attempt(b, false, "550 no such user".into(), None)
            .await
            .unwrap();
        assert!(store
            .due_notifications(Utc::now(), 10)
            .await
            .unwrap()
            .is_empty());
        let next = store.next_notification_due().await.unwrap().unwrap();
        assert!((next - later).num_milliseconds().abs() < 1);
        let due = store.due_notifications(later, 10).await.unwrap();
        assert_eq!((due.len(), due[0].attempts), (1, 1));
        store
            .record_attempt(a, true, "HTTP 200".into(), None)
            .await
            .unwrap();

        let log = store.deliveries(10).await.unwrap();
        let (mail, hook) = (&log[0], &log[1]);
        assert_eq!((mail.status.as_str(), mail.attempts), ("failed", 1));
        assert_eq!(mail.last_error.as_deref(), Some("550 no such user"));
        assert_eq!(
            (hook.status.as_str(), hook.attempts, hook.log.len()),
            ("sent", 2, 2)
        );
        assert!(!hook.log[0].ok && hook.log[1].ok && hook.sent_at.is_some());
        assert_eq!(store.next_notification_due().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_channel_gets_its_alerts_in_order() {
        let store = Store::in_memory().unwrap();
        let first = store
            .enqueue_notification("hook".into(), &alert())
            .await
            .unwrap();
        let second = store
            .enqueue_notification("hook".into(), &alert())
            .await
            .unwrap();
        let other = store
            .enqueue_notification("mail".into(), &alert())
            .await
            .unwrap();
        let ids = |due: Vec<Due>| due.iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.due_notifications(Utc::now(), 10).await.unwrap()),
            vec![first, other]
        );
        // The first waits for its retry: the second waits behind it, the other channel not.
        let later = Utc::now() + Duration::seconds(10);
        store
            .record_attempt(first, false, "refused".into(), Some(later))
            .await
            .unwrap();
        store
            .record_attempt(other, true, "ok".into(), None)
            .await
            .unwrap();
        assert!(store
            .due_notifications(Utc::now(), 10)
            .await
            .unwrap()
            .is_empty());
        let next = store.next_notification_due().await.unwrap().unwrap();
        assert!(
            (next - later).num_milliseconds().abs() < 1,
            "not the blocked one's time"
        );
        store
            .record_attempt(first, true, "ok".into(), None)
            .await
            .unwrap();
        assert_eq!(
            ids(store.due_notifications(later, 10).await.unwrap()),
            vec![second]
        );
    }

    #[tokio::test]
    async fn alert_state_round_trips() {
        let store = Store::in_memory().unwrap();
        assert_eq!(
            store.alert_state("target:api".into()).await.unwrap(),
            AlertState::default()
        );
        let s = AlertState {
            alerting: true,
            streak: 0,
            since: Some(Utc::now()),
            last_sent: Some(Utc::now()),
            open: vec!["tls_certificate_expired".into()],
        };
        store
            .set_alert_state("target:api".into(), &s)
            .await
            .unwrap();
        assert_eq!(store.alert_state("target:api".into()).await.unwrap(), s);
    }
}
