//! GPU benchmark runs (docs/incidents.md, "Is the GPU worth it here?"): the whole run
//! record as JSON, with the columns the history list sorts and filters on.

use rusqlite::{params, OptionalExtension};
use vantage_shared::gpu::{GpuRun, GpuRunStatus};

use super::{to_ns, Store, StoreError};

impl Store {
    /// Inserts or replaces a GPU benchmark run.
    pub async fn save_gpu_run(&self, run: &GpuRun) -> Result<(), StoreError> {
        let json = serde_json::to_string(run)?;
        let (id, started, status) = (
            run.id.clone(),
            to_ns(run.started_at)?,
            serde_json::to_value(run.status)?
                .as_str()
                .unwrap_or("unknown")
                .to_owned(),
        );
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO gpu_runs (id, started_ns, status, json) VALUES (?1, ?2, ?3, ?4)",
                params![id, started, status, json],
            )?;
            Ok(())
        })
        .await
    }

    /// One GPU run by id.
    pub async fn gpu_run(&self, id: String) -> Result<Option<GpuRun>, StoreError> {
        let json: Option<String> = self
            .with_conn(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT json FROM gpu_runs WHERE id = ?1")?
                    .query_row(params![id], |r| r.get(0))
                    .optional()?)
            })
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(StoreError::from))
            .transpose()
    }

    /// The newest `limit` GPU runs, newest first. A row that no longer parses (written
    /// by another version) is skipped rather than failing the whole list.
    pub async fn gpu_runs(&self, limit: u32) -> Result<Vec<GpuRun>, StoreError> {
        let rows: Vec<String> = self
            .with_conn(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT json FROM gpu_runs ORDER BY started_ns DESC, id DESC LIMIT ?1",
                )?;
                let rows = stmt
                    .query_map(params![limit], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(rows)
            })
            .await?;
        Ok(rows
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect())
    }

    /// Marks runs left `running` by an agent that stopped as `interrupted`.
    pub async fn interrupt_gpu_runs(&self) -> Result<u64, StoreError> {
        let running = self
            .with_conn(|conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT json FROM gpu_runs WHERE status = 'running'")?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        let mut n = 0;
        for json in running {
            let Ok(mut run) = serde_json::from_str::<GpuRun>(&json) else {
                continue;
            };
            run.status = GpuRunStatus::Interrupted;
            run.error = Some("the agent stopped while this run was going".into());
            self.save_gpu_run(&run).await?;
            n += 1;
        }
        Ok(n)
    }
}
