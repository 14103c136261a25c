//! The scheduler's metadata store: every job's record and result in an
//! embedded redb database, written through on every change, so a
//! restarted scheduler still knows every job.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::jobs::{JobRecord, JobResult};

const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
const RESULTS: TableDefinition<&str, &[u8]> = TableDefinition::new("results");

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("job store: {0}")]
pub struct StoreError(String);

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// Jobs and results on disk.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(failed)?;
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(JOBS).map_err(failed)?;
        txn.open_table(RESULTS).map_err(failed)?;
        txn.commit().map_err(failed)?;
        Ok(Self { db })
    }

    fn put(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut table = txn.open_table(table).map_err(failed)?;
            table.insert(key, value).map_err(failed)?;
        }
        txn.commit().map_err(failed)
    }

    fn get(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(table).map_err(failed)?;
        Ok(table.get(key).map_err(failed)?.map(|v| v.value().to_vec()))
    }

    /// Writes a job's record.
    pub fn put_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        self.put(JOBS, &job.id, &serde_json::to_vec(job).map_err(failed)?)
    }

    /// A job's record.
    pub fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.get(JOBS, id)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(failed))
            .transpose()
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(JOBS).map_err(failed)?;
        let mut jobs = Vec::new();
        for entry in table.iter().map_err(failed)? {
            let (_, value) = entry.map_err(failed)?;
            jobs.push(serde_json::from_slice::<JobRecord>(value.value()).map_err(failed)?);
        }
        jobs.sort_by_key(|j| (j.submitted_ms, j.id.clone()));
        Ok(jobs)
    }

    /// Writes a job's result.
    pub fn put_result(&self, id: &str, result: &JobResult) -> Result<(), StoreError> {
        self.put(RESULTS, id, &serde_json::to_vec(result).map_err(failed)?)
    }

    /// Writes a job's record and result in one transaction.
    pub fn put_job_and_result(
        &self,
        job: &JobRecord,
        result: &JobResult,
    ) -> Result<(), StoreError> {
        let job_bytes = serde_json::to_vec(job).map_err(failed)?;
        let result_bytes = serde_json::to_vec(result).map_err(failed)?;
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut jobs = txn.open_table(JOBS).map_err(failed)?;
            jobs.insert(job.id.as_str(), job_bytes.as_slice())
                .map_err(failed)?;
            let mut results = txn.open_table(RESULTS).map_err(failed)?;
            results
                .insert(job.id.as_str(), result_bytes.as_slice())
                .map_err(failed)?;
        }
        txn.commit().map_err(failed)
    }

    /// A job's result, if it has one.
    pub fn result(&self, id: &str) -> Result<Option<JobResult>, StoreError> {
        self.get(RESULTS, id)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(failed))
            .transpose()
    }
}
