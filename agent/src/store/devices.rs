//! Device reports: the latest result of each phone or browser per target, owned by the
//! phone link (or the admin) that posted it, with per-owner and total caps.

use std::collections::HashMap;

use rusqlite::params;
use vantage_shared::probe::DeviceResult;

use super::{to_ns, Store, StoreError};

impl Store {
    /// Records a device's results for `owner` (a phone link's code, or `admin`), replacing
    /// its previous result per target. Refuses (returns false) a device that would be the
    /// owner's `max_devices + 1`-th; keeps at most `max_rows` rows in all, oldest dropped.
    pub async fn save_device_results(
        &self,
        owner: String,
        results: Vec<DeviceResult>,
        max_devices: usize,
        max_rows: usize,
    ) -> Result<bool, StoreError> {
        let Some(first) = results.first() else {
            return Ok(true);
        };
        let device = first.device_id.clone();
        let mut rows = Vec::with_capacity(results.len());
        for r in &results {
            rows.push((
                r.check.target_id.clone(),
                to_ns(r.received_at)?,
                serde_json::to_string(r)?,
            ));
        }
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let known: bool = tx
                .prepare_cached("SELECT 1 FROM device_results WHERE owner = ?1 AND device_id = ?2")?
                .exists(params![owner, device])?;
            if !known {
                let devices: i64 = tx.query_row(
                    "SELECT COUNT(DISTINCT device_id) FROM device_results WHERE owner = ?1",
                    params![owner],
                    |r| r.get(0),
                )?;
                if usize::try_from(devices).unwrap_or(usize::MAX) >= max_devices {
                    return Ok(false);
                }
            }
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO device_results (owner, device_id, target_id, received_ns, json)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (owner, device_id, target_id)
                     DO UPDATE SET received_ns = ?4, json = ?5",
                )?;
                for (target, at, json) in rows {
                    stmt.execute(params![owner, device, target, at, json])?;
                }
            }
            tx.execute(
                "DELETE FROM device_results WHERE rowid IN (
                    SELECT rowid FROM device_results ORDER BY received_ns DESC LIMIT -1 OFFSET ?1)",
                params![i64::try_from(max_rows).unwrap_or(i64::MAX)],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// The latest result of every device per target, newest device first, at most
    /// `per_target` devices per target.
    pub async fn device_results(
        &self,
        per_target: usize,
    ) -> Result<HashMap<String, Vec<DeviceResult>>, StoreError> {
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT target_id, json FROM device_results ORDER BY received_ns DESC",
            )?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out: HashMap<String, Vec<DeviceResult>> = HashMap::new();
            for row in rows {
                let (id, json) = row?;
                let list = out.entry(id).or_default();
                if list.len() < per_target {
                    list.push(serde_json::from_str(&json)?);
                }
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use vantage_shared::probe::{BrowserCheck, FetchAttempt, FetchOutcome, ReachVerdict};

    fn result(device: &str, target: &str, at_s: i64) -> DeviceResult {
        let attempt = FetchAttempt {
            outcome: FetchOutcome::Ok,
            status: Some(200),
            elapsed_ms: 5,
            error: None,
        };
        DeviceResult {
            device_id: device.into(),
            client_ip: "203.0.113.7".into(),
            user_agent: "phone".into(),
            received_at: Utc.timestamp_opt(1_700_000_000 + at_s, 0).unwrap(),
            verdict: ReachVerdict::Reachable,
            check: BrowserCheck {
                target_id: target.into(),
                no_cors: attempt.clone(),
                cors: attempt,
                blocked_by: None,
                timing: None,
            },
            rules: None,
            page_origin: None,
        }
    }

    #[tokio::test]
    async fn device_rows_are_capped_per_owner_and_in_all() {
        let store = Store::in_memory().unwrap();
        let save = |owner: &str, device: &str, at: i64| {
            store.save_device_results(owner.into(), vec![result(device, "t", at)], 2, 3)
        };
        assert!(save("link-a", "d1", 1).await.unwrap());
        assert!(save("link-a", "d2", 2).await.unwrap());
        assert!(
            !save("link-a", "d3", 3).await.unwrap(),
            "third device of one link"
        );
        assert!(
            save("link-a", "d1", 4).await.unwrap(),
            "a known device may report again"
        );
        // Another link's device with the same id does not overwrite link-a's.
        assert!(save("link-b", "d1", 5).await.unwrap());
        let rows = store.device_results(10).await.unwrap();
        assert_eq!(rows["t"].len(), 3);
        // Total cap: the oldest row (link-a d2 at 2) went.
        assert!(save("link-b", "d2", 6).await.unwrap());
        let rows = store.device_results(10).await.unwrap();
        let times: Vec<i64> = rows["t"]
            .iter()
            .map(|r| r.received_at.timestamp() - 1_700_000_000)
            .collect();
        assert_eq!(times, vec![6, 5, 4]);
    }
}
