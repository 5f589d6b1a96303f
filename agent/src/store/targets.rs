//! Reachability targets added in the dashboard, and the newest agent probe of each
//! target (only the latest is kept: the comparison is about "now").

use std::collections::HashMap;

use chrono::Utc;
use rusqlite::{params, OptionalExtension};
use vantage_shared::probe::{AgentProbe, Target, TargetResult};

use super::{to_ns, Store, StoreError};

fn upsert_probe_row(
    conn: &rusqlite::Connection,
    id: &str,
    at: i64,
    json: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO agent_probes (target_id, at_ns, json) VALUES (?1, ?2, ?3)
         ON CONFLICT (target_id) DO UPDATE SET at_ns = ?2, json = ?3",
    )?
    .execute(params![id, at, json])?;
    Ok(())
}

impl Store {
    /// Targets added in the dashboard, oldest first.
    pub async fn targets(&self) -> Result<Vec<Target>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached("SELECT json FROM targets ORDER BY created_ns")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for json in rows {
                out.push(serde_json::from_str(&json?)?);
            }
            Ok(out)
        })
        .await
    }

    /// Adds a target; false when one with that id exists.
    pub async fn insert_target(&self, target: Target) -> Result<bool, StoreError> {
        let json = serde_json::to_string(&target)?;
        let now = to_ns(Utc::now())?;
        self.with_conn(move |conn| {
            let n = conn.execute(
                "INSERT OR IGNORE INTO targets (id, json, created_ns) VALUES (?1, ?2, ?3)",
                params![target.id, json, now],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Replaces a dashboard target's settings (same id); false when there is none.
    pub async fn update_target(&self, target: Target) -> Result<bool, StoreError> {
        let json = serde_json::to_string(&target)?;
        self.with_conn(move |conn| {
            let n = conn.execute(
                "UPDATE targets SET json = ?2 WHERE id = ?1",
                params![target.id, json],
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// Removes a dashboard target with its results; false when there was none.
    pub async fn delete_target(&self, id: String) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute("DELETE FROM targets WHERE id = ?1", params![id])?;
            tx.execute("DELETE FROM agent_probes WHERE target_id = ?1", params![id])?;
            tx.execute(
                "DELETE FROM target_results WHERE target_id = ?1",
                params![id],
            )?;
            tx.execute(
                "DELETE FROM device_results WHERE target_id = ?1",
                params![id],
            )?;
            tx.commit()?;
            Ok(n > 0)
        })
        .await
    }

    /// Keeps a finished probe as its target's newest and as a row of its history, in one
    /// transaction (one write, not two, for every scheduled probe).
    pub async fn record_probe(&self, probe: &AgentProbe) -> Result<(), StoreError> {
        self.record_probes(std::slice::from_ref(probe)).await
    }

    /// Keeps several probes in one transaction: one commit for a whole batch of
    /// scheduled results instead of one each.
    pub async fn record_probes(&self, probes: &[AgentProbe]) -> Result<(), StoreError> {
        let rows = probes
            .iter()
            .map(|p| {
                let json = serde_json::to_string(p)?;
                Ok((
                    p.target_id.clone(),
                    to_ns(p.at)?,
                    json,
                    TargetResult::from_probe(p),
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            for (id, at, json, result) in &rows {
                upsert_probe_row(&tx, id, *at, json)?;
                super::target_results::insert_result_row(&tx, id, result)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The page origin the newest agent probe of a target evaluated CORS for, if any.
    pub async fn agent_probe_origin(
        &self,
        target_id: String,
    ) -> Result<Option<String>, StoreError> {
        self.with_conn(move |conn| {
            let origin: Option<Option<String>> = conn
                .prepare_cached(
                    "SELECT json_extract(json, '$.cors.origin') FROM agent_probes WHERE target_id = ?1",
                )?
                .query_row(params![target_id], |r| r.get(0))
                .optional()?;
            Ok(origin.flatten())
        })
        .await
    }

    /// The newest agent probe of one target.
    pub async fn agent_probe(&self, target_id: String) -> Result<Option<AgentProbe>, StoreError> {
        self.with_conn(move |conn| {
            let json: Option<String> = conn
                .prepare_cached("SELECT json FROM agent_probes WHERE target_id = ?1")?
                .query_row(params![target_id], |r| r.get(0))
                .optional()?;
            Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
        })
        .await
    }

    /// The newest agent probe of every target.
    pub async fn agent_probes(&self) -> Result<HashMap<String, AgentProbe>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn.prepare_cached("SELECT target_id, json FROM agent_probes")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = HashMap::new();
            for row in rows {
                let (id, json) = row?;
                out.insert(id, serde_json::from_str(&json)?);
            }
            Ok(out)
        })
        .await
    }
}
