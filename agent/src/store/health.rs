//! Healthcheck history: every healthcheck run Docker reported, per container, with
//! per-container totals kept by triggers (see `migrations`, step 2).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use vantage_shared::{HealthStatus, HealthcheckRun};

use super::{from_ns, to_ns, Store, StoreError};

/// Docker keeps at most 4096 bytes of a check's output; we store no more than that.
pub const MAX_OUTPUT_BYTES: usize = 4096;

/// Reads `start_ns, end_ns, exit_code, output, status`.
fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HealthcheckRun> {
    let start = from_ns(r.get(0)?);
    let end = from_ns(r.get(1)?);
    let status: String = r.get(4)?;
    Ok(HealthcheckRun {
        start,
        end,
        duration_ms: u64::try_from((end - start).num_milliseconds()).unwrap_or(0),
        exit_code: r.get(2)?,
        output: r.get(3)?,
        status: HealthStatus::from_docker(&status),
    })
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Store {
    /// Stores healthcheck runs, ignoring those already stored (same container and start time).
    /// Returns the ones that were new, in the order given.
    pub async fn insert_runs(
        &self,
        container_id: String,
        container_name: String,
        runs: Vec<HealthcheckRun>,
    ) -> Result<Vec<HealthcheckRun>, StoreError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn(move |conn| {
            let tx = conn.transaction()?;
            let mut new = Vec::new();
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO healthcheck_runs
                     (container_id, container_name, start_ns, end_ns, exit_code, output, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for p in runs {
                    let output = truncate_utf8(&p.output, MAX_OUTPUT_BYTES);
                    let changed = stmt.execute(params![
                        container_id,
                        container_name,
                        to_ns(p.start)?,
                        to_ns(p.end)?,
                        p.exit_code,
                        output,
                        p.status.as_str(),
                    ])?;
                    if changed > 0 {
                        new.push(p);
                    }
                }
            }
            tx.commit()?;
            Ok(new)
        })
        .await
    }

    /// Runs of one container, newest first, and how many match in all.
    pub async fn history(
        &self,
        container_id: String,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<(Vec<HealthcheckRun>, u64), StoreError> {
        let since_ns = since.map(to_ns).transpose()?.unwrap_or(i64::MIN);
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT start_ns, end_ns, exit_code, output, status FROM healthcheck_runs
                 WHERE container_id = ?1 AND start_ns >= ?2
                 ORDER BY start_ns DESC LIMIT ?3",
            )?;
            let runs = stmt
                .query_map(params![container_id, since_ns, limit], run_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let total: i64 = if since_ns == i64::MIN {
                conn.prepare_cached("SELECT n FROM healthcheck_run_counts WHERE container_id = ?1")?
                    .query_row(params![container_id], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0)
            } else {
                conn.prepare_cached(
                    "SELECT COUNT(*) FROM healthcheck_runs WHERE container_id = ?1 AND start_ns >= ?2",
                )?
                .query_row(params![container_id, since_ns], |r| r.get(0))?
            };
            Ok((runs, u64::try_from(total).unwrap_or(0)))
        })
        .await
    }

    /// The first `limit` runs of one container at or after `from`, oldest first:
    /// the runs after a container start, which the newest-first page loses on
    /// long-running containers.
    pub async fn history_from(
        &self,
        container_id: String,
        from: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HealthcheckRun>, StoreError> {
        let from_ns = to_ns(from)?;
        self.with_conn(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT start_ns, end_ns, exit_code, output, status FROM healthcheck_runs
                 WHERE container_id = ?1 AND start_ns >= ?2
                 ORDER BY start_ns ASC LIMIT ?3",
            )?;
            let runs = stmt
                .query_map(params![container_id, from_ns, limit], run_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(runs)
        })
        .await
    }

    /// The id and name of the most recent container that had this name or id (prefix),
    /// so history stays reachable after the container is gone or Docker is down.
    pub async fn find_container(
        &self,
        id_or_name: String,
    ) -> Result<Option<(String, String)>, StoreError> {
        self.with_conn(move |conn| {
            let by_name = conn
                .prepare_cached(
                    "SELECT container_id, container_name FROM healthcheck_runs WHERE container_name = ?1
                     ORDER BY start_ns DESC LIMIT 1",
                )?
                .query_row(params![id_or_name], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if by_name.is_some() {
                return Ok(by_name);
            }
            if id_or_name.len() < 4 || !id_or_name.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(None);
            }
            // Prefix match on the primary key: [prefix, prefix + 'g') covers every hex id.
            let upper = format!("{id_or_name}g");
            Ok(conn
                .prepare_cached(
                    "SELECT container_id, container_name FROM healthcheck_runs
                     WHERE container_id >= ?1 AND container_id < ?2 ORDER BY start_ns DESC LIMIT 1",
                )?
                .query_row(params![id_or_name, upper], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await
    }

    /// How many runs are stored for one container (kept by triggers: no scan).
    pub async fn count_for(&self, container_id: String) -> Result<u64, StoreError> {
        self.with_conn(move |conn| {
            let n: Option<i64> = conn
                .prepare_cached("SELECT n FROM healthcheck_run_counts WHERE container_id = ?1")?
                .query_row(params![container_id], |r| r.get(0))
                .optional()?;
            Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
        })
        .await
    }

    /// How many runs are stored in all.
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.with_conn(|conn| {
            let n: i64 = conn.query_row(
                "SELECT COALESCE(SUM(n), 0) FROM healthcheck_run_counts",
                [],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}

#[cfg(test)]
pub(super) mod tests {
    use chrono::TimeZone;

    use super::*;

    /// A healthcheck run `offset_s` seconds into a fixed morning, 25 ms long.
    pub(in crate::store) fn run(offset_s: i64, exit_code: i64) -> HealthcheckRun {
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
            + chrono::Duration::seconds(offset_s);
        HealthcheckRun {
            start,
            end: start + chrono::Duration::milliseconds(25),
            duration_ms: 25,
            exit_code,
            output: "out".into(),
            status: HealthStatus::Starting,
        }
    }

    #[tokio::test]
    async fn insert_dedupes_by_start_and_queries_newest_first() {
        let s = Store::in_memory().unwrap();
        let new = s
            .insert_runs("abc123".into(), "web".into(), vec![run(0, 1), run(1, 0)])
            .await
            .unwrap();
        assert_eq!(new.len(), 2);
        // Docker's log overlaps with what we already have: only the new one is new.
        let new = s
            .insert_runs("abc123".into(), "web".into(), vec![run(1, 0), run(2, 0)])
            .await
            .unwrap();
        assert_eq!(new, vec![run(2, 0)]);
        let (h, total) = s.history("abc123".into(), None, 2).await.unwrap();
        assert_eq!(total, 3);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].start, run(2, 0).start);
        assert_eq!(h[0].duration_ms, 25);
        let (h, total) = s
            .history("abc123".into(), Some(run(1, 0).start), 10)
            .await
            .unwrap();
        assert_eq!((h.len(), total), (2, 2));
        assert_eq!(s.count().await.unwrap(), 3);
        assert_eq!(s.count_for("abc123".into()).await.unwrap(), 3);
        assert_eq!(s.count_for("other".into()).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn history_from_reads_the_runs_after_a_start_oldest_first() {
        let s = Store::in_memory().unwrap();
        let runs: Vec<_> = (0..10).map(|i| run(i, 0)).collect();
        s.insert_runs("a".into(), "a".into(), runs).await.unwrap();
        let early = s
            .history_from("a".into(), run(3, 0).start, 2)
            .await
            .unwrap();
        assert_eq!(early, vec![run(3, 0), run(4, 0)]);
    }

    #[tokio::test]
    async fn finds_containers_by_name_and_id_prefix() {
        let s = Store::in_memory().unwrap();
        s.insert_runs("abc123def".into(), "web".into(), vec![run(0, 0)])
            .await
            .unwrap();
        assert_eq!(
            s.find_container("web".into()).await.unwrap(),
            Some(("abc123def".into(), "web".into()))
        );
        assert_eq!(
            s.find_container("abc1".into()).await.unwrap(),
            Some(("abc123def".into(), "web".into()))
        );
        assert_eq!(s.find_container("abd".into()).await.unwrap(), None);
        assert_eq!(s.find_container("zzzz".into()).await.unwrap(), None);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("abc", 10), "abc");
    }
}
