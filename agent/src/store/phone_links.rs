//! Phone links: the codes a phone opens to report what it can reach, with their
//! expiry and revocation.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{from_ns, to_ns, Store, StoreError};

impl Store {
    /// Stores a new link; `base_url` is what the phone opens, kept so the QR code stays
    /// right when the dashboard is reloaded from another address.
    pub async fn create_phone_link(
        &self,
        code: String,
        base_url: String,
        created: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (c, e) = (to_ns(created)?, to_ns(expires)?);
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO phone_links (code, created_ns, expires_ns, base_url)
                 VALUES (?1, ?2, ?3, ?4)",
                params![code, c, e, base_url],
            )?;
            Ok(())
        })
        .await
    }

    /// A phone link's (base URL, expires), unless unknown or revoked.
    pub async fn phone_link(
        &self,
        code: String,
    ) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        self.with_conn(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT base_url, expires_ns FROM phone_links WHERE code = ?1 AND revoked = 0",
                )?
                .query_row(params![code], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()?;
            Ok(row.map(|(b, e)| (b, from_ns(e))))
        })
        .await
    }

    /// Links not yet expired or revoked: (code, base URL, created, expires), newest first.
    pub async fn active_phone_links(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String, DateTime<Utc>, DateTime<Utc>)>, StoreError> {
        let now = to_ns(now)?;
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT code, base_url, created_ns, expires_ns FROM phone_links
                 WHERE revoked = 0 AND expires_ns > ?1 ORDER BY created_ns DESC",
            )?;
            let rows = stmt.query_map(params![now], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    from_ns(r.get(2)?),
                    from_ns(r.get(3)?),
                ))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Revokes a link; false when it did not exist.
    pub async fn revoke_phone_link(&self, code: String) -> Result<bool, StoreError> {
        self.with_conn(move |conn| {
            let n = conn.execute(
                "UPDATE phone_links SET revoked = 1 WHERE code = ?1",
                params![code],
            )?;
            Ok(n > 0)
        })
        .await
    }
}
