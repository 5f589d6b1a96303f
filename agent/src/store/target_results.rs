//! Target history: one row per probe of a target (scheduled or asked for), read back as a
//! page of results or as the last 30 days for the summary.

use chrono::{DateTime, Utc};
use rusqlite::params;
use vantage_shared::probe::{ReachVerdict, TargetResult};

use super::{from_ns, to_ns, Store, StoreError};

/// The columns [`result_from_row`] reads, in its order.
const COLUMNS: &str = "at_ns, verdict, up, dns_ms, connect_ms, tls_ms, first_byte_ms, total_ms,
     http_status, body_bytes, fingerprint, cors_allowed, cert_expiry_ns, error, finding";

fn result_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TargetResult> {
    let verdict: String = r.get(1)?;
    Ok(TargetResult {
        at: from_ns(r.get(0)?),
        // An unknown word (written by a newer agent) reads as unknown rather than failing.
        verdict: serde_json::from_value(serde_json::Value::String(verdict))
            .unwrap_or(ReachVerdict::Unknown),
        up: r.get(2)?,
        dns_ms: r.get(3)?,
        connect_ms: r.get(4)?,
        tls_ms: r.get(5)?,
        first_byte_ms: r.get(6)?,
        total_ms: r.get(7)?,
        http_status: r.get(8)?,
        body_bytes: r
            .get::<_, Option<i64>>(9)?
            .and_then(|n| u64::try_from(n).ok()),
        fingerprint: r.get(10)?,
        cors_allowed: r.get(11)?,
        cert_expires: r.get::<_, Option<i64>>(12)?.map(from_ns),
        error: r.get(13)?,
        finding: r.get(14)?,
    })
}

/// The row of one result (inside the caller's transaction, if any).
pub(super) fn insert_result_row(
    conn: &rusqlite::Connection,
    target_id: &str,
    r: &TargetResult,
) -> Result<(), StoreError> {
    let at = to_ns(r.at)?;
    let expiry = r.cert_expires.map(to_ns).transpose()?;
    let body_bytes = r.body_bytes.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    conn.prepare_cached(
        "INSERT OR REPLACE INTO target_results (target_id, at_ns, verdict, up, dns_ms,
         connect_ms, tls_ms, first_byte_ms, total_ms, http_status, body_bytes,
         fingerprint, cors_allowed, cert_expiry_ns, error, finding)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        target_id,
        at,
        r.verdict.as_str(),
        r.up,
        r.dns_ms,
        r.connect_ms,
        r.tls_ms,
        r.first_byte_ms,
        r.total_ms,
        r.http_status,
        body_bytes,
        r.fingerprint,
        r.cors_allowed,
        expiry,
        r.error,
        r.finding,
    ])?;
    Ok(())
}

impl Store {
    /// Stores one result; a second result at the same instant replaces the first.
    pub async fn insert_target_result(
        &self,
        target_id: String,
        r: TargetResult,
    ) -> Result<(), StoreError> {
        self.with_conn(move |conn| insert_result_row(conn, &target_id, &r))
            .await
    }

    /// Results of one target in `[since, until]`, newest first, at most `limit`, and how
    /// many there are in that range.
    pub async fn target_results(
        &self,
        target_id: String,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<(Vec<TargetResult>, u64), StoreError> {
        let since = since.map(to_ns).transpose()?.unwrap_or(i64::MIN);
        let until = until.map(to_ns).transpose()?.unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let results = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM target_results
                     WHERE target_id = ?1 AND at_ns >= ?2 AND at_ns <= ?3
                     ORDER BY at_ns DESC LIMIT ?4"
                ))?
                .query_map(params![target_id, since, until, limit], result_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let total: i64 = conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM target_results
                     WHERE target_id = ?1 AND at_ns >= ?2 AND at_ns <= ?3",
                )?
                .query_row(params![target_id, since, until], |r| r.get(0))?;
            Ok((results, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn result(offset_s: i64, up: bool) -> TargetResult {
        TargetResult {
            at: Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap() + Duration::seconds(offset_s),
            verdict: if up {
                ReachVerdict::Reachable
            } else {
                ReachVerdict::TimedOut
            },
            up,
            dns_ms: Some(1.5),
            connect_ms: Some(2.0),
            tls_ms: None,
            first_byte_ms: Some(10.0),
            total_ms: Some(12.0),
            http_status: up.then_some(200),
            body_bytes: up.then_some(42),
            fingerprint: None,
            cors_allowed: Some(true),
            cert_expires: Some(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()),
            error: (!up).then(|| "timed out".to_owned()),
            finding: None,
        }
    }

    #[tokio::test]
    async fn results_read_back_newest_first_within_the_range() {
        let s = Store::in_memory().unwrap();
        for i in 0..10 {
            s.insert_target_result("api".into(), result(i * 60, i % 3 != 0))
                .await
                .unwrap();
        }
        s.insert_target_result("other".into(), result(0, true))
            .await
            .unwrap();
        let (all, total) = s.target_results("api".into(), None, None, 3).await.unwrap();
        assert_eq!(total, 10);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], result(9 * 60, false));
        assert!(all[0].at > all[1].at);
        let (mid, total) = s
            .target_results(
                "api".into(),
                Some(result(120, true).at),
                Some(result(240, true).at),
                100,
            )
            .await
            .unwrap();
        assert_eq!((mid.len(), total), (3, 3));
        assert_eq!(mid[2], result(120, true));
        s.delete_target("api".into()).await.unwrap();
        assert_eq!(
            s.target_results("api".into(), None, None, 9)
                .await
                .unwrap()
                .1,
            0
        );
        assert_eq!(
            s.target_results("other".into(), None, None, 9)
                .await
                .unwrap()
                .1,
            1
        );
    }
}
