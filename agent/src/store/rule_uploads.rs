//! Rules files uploaded in the dashboard (docs/incidents.md, "Blocked from the guest
//! Wi-Fi"), kept as the original text so that each load parses them again with the
//! current parsers.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{from_ns, to_ns, Store, StoreError};

impl Store {
    /// Rules uploads: (id, name, text, loaded at), oldest first.
    pub async fn rule_uploads(
        &self,
    ) -> Result<Vec<(i64, String, String, DateTime<Utc>)>, StoreError> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, name, text, loaded_ns FROM rule_uploads ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, from_ns(r.get(3)?)))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Stores an upload; returns its id.
    pub async fn insert_rule_upload(
        &self,
        name: String,
        text: String,
        loaded_at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = to_ns(loaded_at)?;
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO rule_uploads (name, text, loaded_ns) VALUES (?1, ?2, ?3)",
                params![name, text, at],
            )?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    /// Deletes an upload; false when there was none.
    pub async fn delete_rule_upload(&self, id: i64) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            Ok(conn.execute("DELETE FROM rule_uploads WHERE id = ?1", params![id])? > 0)
        })
        .await
    }
}
