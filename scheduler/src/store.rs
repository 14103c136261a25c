//! The scheduler's metadata store: every job's record, spec, listing
//! entry and result in an embedded redb database, written through on
//! every change, so a restarted scheduler still knows every job.
//!
//! A job's parts live in separate tables because they are read apart: the
//! spec (up to a megabyte) is written once and read only to run or resume
//! the job; the record (state, attempts) changes with every step; the
//! listing entry (id, name, state, times) is keyed by submission time, so
//! a page of `GET /v1/jobs` reads only the entries it returns.

use std::path::Path;

use faro_runtime::spec::JobSpec;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::jobs::{JobRecord, JobResult, JobState};

const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
const SPECS: TableDefinition<&str, &[u8]> = TableDefinition::new("specs");
const LISTING: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("listing");
const RESULTS: TableDefinition<&str, &[u8]> = TableDefinition::new("results");

/// redb's page cache: the working set is a few records at a time (its
/// default of 1 GiB would let a busy scheduler's memory grow with
/// history).
const CACHE_BYTES: usize = 16 << 20;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("job store: {0}")]
pub struct StoreError(String);

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

/// A job as `GET /v1/jobs` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    /// The job's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: JobState,
    /// When it was submitted (ms since the epoch).
    pub submitted_ms: u64,
    /// When it started running.
    #[serde(default)]
    pub started_ms: Option<u64>,
    /// When it ended.
    pub finished_ms: Option<u64>,
    /// Whether it runs in streaming mode.
    #[serde(default)]
    pub streaming: bool,
    /// Work it ran again after failures, of every cause.
    #[serde(default)]
    pub reruns: u32,
}

impl JobSummary {
    fn of(job: &JobRecord) -> Self {
        Self {
            id: job.id.clone(),
            name: job.name.clone(),
            state: job.state,
            submitted_ms: job.submitted_ms,
            started_ms: job.started_ms,
            finished_ms: job.finished_ms,
            streaming: job.streaming,
            reruns: job.reruns.total(),
        }
    }
}

/// One page of the job listing, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPage {
    /// The jobs.
    pub jobs: Vec<JobSummary>,
    /// Where the next page starts (`after=`), if there is one.
    pub next: Option<String>,
}

/// The cursor after `job` (its submission time and id).
fn cursor(job: &JobSummary) -> String {
    format!("{}.{}", job.submitted_ms, job.id)
}

fn parse_cursor(text: &str) -> Option<(u64, &str)> {
    let (ms, id) = text.split_once('.')?;
    Some((ms.parse().ok()?, id))
}

/// Jobs and results on disk.
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (creating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(failed)?;
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(JOBS).map_err(failed)?;
        txn.open_table(SPECS).map_err(failed)?;
        txn.open_table(LISTING).map_err(failed)?;
        txn.open_table(RESULTS).map_err(failed)?;
        txn.commit().map_err(failed)?;
        let store = Self { db };
        store.upgrade()?;
        Ok(store)
    }

    /// Brings a store an earlier version wrote up to date: its records
    /// held their specs, and it had no listing. Each job without a
    /// listing entry gets one, and its spec moves to the spec table.
    fn upgrade(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut jobs = txn.open_table(JOBS).map_err(failed)?;
            let mut specs = txn.open_table(SPECS).map_err(failed)?;
            let mut listing = txn.open_table(LISTING).map_err(failed)?;
            if listing.len().map_err(failed)? > 0 || jobs.len().map_err(failed)? == 0 {
                return Ok(());
            }
            let mut old = Vec::new();
            for entry in jobs.iter().map_err(failed)? {
                let (key, value) = entry.map_err(failed)?;
                old.push((key.value().to_string(), value.value().to_vec()));
            }
            for (id, bytes) in old {
                let mut raw: serde_json::Value = serde_json::from_slice(&bytes).map_err(failed)?;
                let spec = raw.as_object_mut().and_then(|record| record.remove("spec"));
                let record: JobRecord = serde_json::from_value(raw).map_err(failed)?;
                if let Some(spec) = spec {
                    specs
                        .insert(
                            id.as_str(),
                            serde_json::to_vec(&spec).map_err(failed)?.as_slice(),
                        )
                        .map_err(failed)?;
                }
                let summary = serde_json::to_vec(&JobSummary::of(&record)).map_err(failed)?;
                listing
                    .insert((record.submitted_ms, id.as_str()), summary.as_slice())
                    .map_err(failed)?;
                jobs.insert(
                    id.as_str(),
                    serde_json::to_vec(&record).map_err(failed)?.as_slice(),
                )
                .map_err(failed)?;
            }
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

    /// Writes a new job: its record, spec and listing entry.
    pub fn add_job(&self, job: &JobRecord, spec: &JobSpec) -> Result<(), StoreError> {
        let spec = serde_json::to_vec(spec).map_err(failed)?;
        self.write(job, |txn| {
            txn.open_table(SPECS)
                .map_err(failed)?
                .insert(job.id.as_str(), spec.as_slice())
                .map_err(failed)?;
            Ok(())
        })
    }

    /// Writes a job's record (and its listing entry).
    pub fn put_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        self.write(job, |_| Ok(()))
    }

    /// Writes a job's record and result in one transaction.
    pub fn put_job_and_result(
        &self,
        job: &JobRecord,
        result: &JobResult,
    ) -> Result<(), StoreError> {
        let result = serde_json::to_vec(result).map_err(failed)?;
        self.write(job, |txn| {
            txn.open_table(RESULTS)
                .map_err(failed)?
                .insert(job.id.as_str(), result.as_slice())
                .map_err(failed)?;
            Ok(())
        })
    }

    /// Writes `job`'s record and listing entry, and whatever `more`
    /// writes, in one transaction.
    fn write(
        &self,
        job: &JobRecord,
        more: impl FnOnce(&redb::WriteTransaction) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let record = serde_json::to_vec(job).map_err(failed)?;
        let summary = serde_json::to_vec(&JobSummary::of(job)).map_err(failed)?;
        let txn = self.db.begin_write().map_err(failed)?;
        {
            txn.open_table(JOBS)
                .map_err(failed)?
                .insert(job.id.as_str(), record.as_slice())
                .map_err(failed)?;
            txn.open_table(LISTING)
                .map_err(failed)?
                .insert((job.submitted_ms, job.id.as_str()), summary.as_slice())
                .map_err(failed)?;
            more(&txn)?;
        }
        txn.commit().map_err(failed)
    }

    /// A job's record.
    pub fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.get(JOBS, id)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(failed))
            .transpose()
    }

    /// A job's spec.
    pub fn spec(&self, id: &str) -> Result<Option<JobSpec>, StoreError> {
        self.get(SPECS, id)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(failed))
            .transpose()
    }

    /// Every job's record, oldest first.
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

    /// Up to `limit` jobs submitted after the cursor `after` (from the
    /// start without one), oldest first.
    pub fn page(&self, after: Option<&str>, limit: usize) -> Result<JobPage, StoreError> {
        let start = match after {
            Some(text) => Some(
                parse_cursor(text)
                    .ok_or_else(|| StoreError(format!("{text:?} is not a page cursor")))?,
            ),
            None => None,
        };
        let txn = self.db.begin_read().map_err(failed)?;
        let table = txn.open_table(LISTING).map_err(failed)?;
        let range = match start {
            Some(start) => table.range(start..).map_err(failed)?,
            None => table.range::<(u64, &str)>(..).map_err(failed)?,
        };
        let mut jobs = Vec::new();
        let mut more = false;
        for entry in range {
            let (key, value) = entry.map_err(failed)?;
            if start.is_some_and(|s| key.value() == s) {
                continue;
            }
            if jobs.len() == limit {
                more = true;
                break;
            }
            jobs.push(serde_json::from_slice::<JobSummary>(value.value()).map_err(failed)?);
        }
        let next = if more { jobs.last().map(cursor) } else { None };
        Ok(JobPage { jobs, next })
    }

    /// A job's result, if it has one.
    pub fn result(&self, id: &str) -> Result<Option<JobResult>, StoreError> {
        self.get(RESULTS, id)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(failed))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, submitted_ms: u64) -> JobRecord {
        JobRecord::queued(id.into(), format!("name of {id}"), false, submitted_ms)
    }

    #[test]
    fn a_store_of_the_earlier_layout_is_upgraded_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.redb");
        {
            // The earlier layout: records with their specs, no listing.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut jobs = txn.open_table(JOBS).unwrap();
                let mut old = serde_json::to_value(record("j-old", 5)).unwrap();
                old["spec"] = serde_json::to_value(JobSpec {
                    name: "kept".into(),
                    ..JobSpec::default()
                })
                .unwrap();
                jobs.insert("j-old", serde_json::to_vec(&old).unwrap().as_slice())
                    .unwrap();
            }
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let page = store.page(None, 10).unwrap();
        assert_eq!(page.jobs.len(), 1);
        assert_eq!(page.jobs[0].id, "j-old");
        assert_eq!(store.spec("j-old").unwrap().unwrap().name, "kept");
        assert!(store.job("j-old").unwrap().is_some());
    }

    #[test]
    fn pages_follow_submission_order_and_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("jobs.redb")).unwrap();
        for (i, ms) in [30, 10, 20, 20, 40].iter().enumerate() {
            store
                .add_job(&record(&format!("j{i}"), *ms), &JobSpec::default())
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.page(after.as_deref(), 2).unwrap();
            assert!(page.jobs.len() <= 2);
            seen.extend(page.jobs.iter().map(|j| j.id.clone()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["j1", "j2", "j3", "j0", "j4"]);
        let mut changed = record("j1", 10);
        changed.state = JobState::Running;
        store.put_job(&changed).unwrap();
        assert_eq!(
            store.page(None, 1).unwrap().jobs[0].state,
            JobState::Running
        );
        assert!(store.page(Some("garbage"), 1).is_err());
        assert_eq!(store.spec("j3").unwrap(), Some(JobSpec::default()));
    }
}
