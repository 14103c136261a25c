//! Savepoints: a complete checkpoint copied out of the job's retention
//! into a directory of its own, with a `_metadata.json` saying which
//! chain and slot saved each operator's state at which parallelism — so
//! a new job (maybe with other parallelisms) can be started from it, as
//! Flink's `flink run -s`.
//!
//! What a restored task reads is drawn here, without I/O: each slot of
//! the new plan is matched to the saved slot of the same vertex and
//! phase, and handed the routing of the hash edge feeding its chain so
//! that, at another parallelism, keyed state follows its key groups. A
//! savepoint holding state of a vertex the new job lacks is refused (the
//! state would be silently dropped), as is one taken with other key
//! groups (keys would land in the wrong subtasks).

use std::path::{Path, PathBuf};

use faro_runtime::checkpoint::location::Location;
use faro_runtime::checkpoint::reading::read_task_state;
use faro_runtime::checkpoint::{CheckpointStorage, KeyRouting, RestorePlan, SlotRestore};
use faro_runtime::plan::{Phase, Plan};
use faro_runtime::spec::Partitioning;
use serde::{Deserialize, Serialize};

/// The name of a savepoint's description inside its directory.
pub const METADATA: &str = "_metadata.json";

/// One slot of a saved chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSlot {
    /// The slot (0: the chain's source; *i + 1*: its operator *i*).
    pub slot: u32,
    /// The vertex its operator came from.
    pub vertex: String,
    /// `complete`, `partial` or `final`.
    pub phase: String,
}

/// One chain of the job that saved, as its task files are numbered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedChain {
    /// Subtasks that saved.
    pub parallelism: u32,
    /// Its slots.
    pub slots: Vec<SavedSlot>,
}

/// What `_metadata.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointMeta {
    /// The job that took it.
    pub job: String,
    /// The checkpoint it was.
    pub checkpoint: u64,
    /// The job's key groups (none for a job without hash edges).
    pub key_groups: Option<u32>,
    /// The chains, by the number their task files carry.
    pub chains: Vec<SavedChain>,
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Complete => "complete",
        Phase::Partial => "partial",
        Phase::Final => "final",
    }
}

/// The slot layout of `plan`'s chains, as a savepoint records it.
pub fn layout_of(plan: &Plan) -> Vec<SavedChain> {
    plan.chains
        .iter()
        .map(|chain| {
            let offset = match chain.steps.first() {
                Some(head) if head.operator.is_source() => 0,
                _ => 1,
            };
            SavedChain {
                parallelism: chain.parallelism,
                slots: chain
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, step)| SavedSlot {
                        slot: i as u32 + offset,
                        vertex: step.vertex.clone(),
                        phase: phase_name(step.phase).to_string(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The key groups of `plan`'s hash edges (one job constant).
pub fn key_groups_of(plan: &Plan) -> Option<u32> {
    plan.exchanges.iter().find_map(|e| e.key_groups)
}

/// How keys reach chain `chain` of `plan`: through its one hash input.
fn key_routing(plan: &Plan, chain: usize) -> Option<KeyRouting> {
    let [input] = plan.chains[chain].inputs.as_slice() else {
        return None;
    };
    let exchange = &plan.exchanges[*input];
    match (&exchange.partitioning, exchange.key_groups) {
        (Partitioning::Hash(columns), Some(key_groups)) => Some(KeyRouting {
            columns: columns.clone(),
            key_groups,
        }),
        _ => None,
    }
}

/// Why a savepoint cannot start a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavepointError {
    /// It holds state of a vertex the job does not have.
    #[error("the savepoint holds state of vertex {0:?} ({1}), which this job does not have")]
    UnknownVertex(String, String),
    /// It was taken with other key groups.
    #[error("the savepoint was taken with {saved:?} key groups, this job has {now:?}; keyed state would land in the wrong subtasks")]
    KeyGroups {
        /// The savepoint's.
        saved: Option<u32>,
        /// The job's.
        now: Option<u32>,
    },
    /// Its description cannot be read.
    #[error("{path}: {message}")]
    Unreadable {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Checks that every saved slot finds its vertex in `plan` and that the
/// key groups match.
pub fn check_compatible(meta: &SavepointMeta, plan: &Plan) -> Result<(), SavepointError> {
    let now = key_groups_of(plan);
    let keyed = meta.key_groups.is_some() && now.is_some();
    if keyed && meta.key_groups != now {
        return Err(SavepointError::KeyGroups {
            saved: meta.key_groups,
            now,
        });
    }
    let layout = layout_of(plan);
    for saved in meta.chains.iter().flat_map(|c| &c.slots) {
        let found = layout
            .iter()
            .flat_map(|c| &c.slots)
            .any(|s| s.vertex == saved.vertex && s.phase == saved.phase);
        if !found {
            return Err(SavepointError::UnknownVertex(
                saved.vertex.clone(),
                saved.phase.clone(),
            ));
        }
    }
    Ok(())
}

/// What subtasks of chain `chain` of `plan` restore from `saved` (the
/// chains that saved), whose task files are in `dir`.
pub fn restore_plan(
    saved: &[SavedChain],
    plan: &Plan,
    chain: usize,
    checkpoint: u64,
    dir: &str,
) -> RestorePlan {
    let keys = key_routing(plan, chain);
    let here = &layout_of(plan)[chain];
    let mut slots = Vec::new();
    for slot in &here.slots {
        let from = saved.iter().enumerate().find_map(|(c, s)| {
            let found = s
                .slots
                .iter()
                .find(|x| x.vertex == slot.vertex && x.phase == slot.phase)?;
            Some((c, found.slot, s.parallelism))
        });
        if let Some((from_chain, from_slot, from_parallelism)) = from {
            slots.push(SlotRestore {
                slot: slot.slot,
                from_chain,
                from_slot,
                from_parallelism,
                keys: keys.clone(),
            });
        }
    }
    RestorePlan {
        checkpoint,
        dir: dir.to_string(),
        parallelism: here.parallelism,
        slots,
        finished: Vec::new(),
    }
}

/// The location of checkpoint `checkpoint` of `job` in the store at
/// `root` (a directory or an `s3://` location).
pub fn checkpoint_dir(root: &str, job: &str, checkpoint: u64) -> Option<String> {
    let dir = CheckpointStorage::checkpoint_dir(job, checkpoint).ok()?;
    Some(Location::join(root, &dir))
}

/// Copies the checkpoint at location `from` (a directory or an `s3://`
/// location), every task's state whole, to a new savepoint directory
/// under `root` and writes its
/// description there; returns the directory. The description is written
/// last, so a directory without one is an unfinished copy. Files are
/// copied one at a time, each written off the caller's loop.
pub async fn write(root: &Path, from: &str, meta: &SavepointMeta) -> Result<PathBuf, String> {
    let dir = root.join(format!("savepoint-{}-{}", meta.job, meta.checkpoint));
    let blocking = |f: Box<dyn FnOnce() -> std::io::Result<()> + Send>| async move {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    };
    let made = dir.clone();
    blocking(Box::new(move || std::fs::create_dir_all(made))).await?;
    let store = CheckpointStorage::new(from).map_err(|e| e.to_string())?;
    for name in store.list("").await.map_err(|e| e.to_string())? {
        // A savepoint stands alone: a task's state is written whole, its
        // parts (wherever the checkpoint points) read into it.
        let bytes = match CheckpointStorage::parts_file_of(&name) {
            Some(_) => read_task_state(from, &name).await?.state.encode(),
            None if name.ends_with(".parts") => continue,
            None => store.read(&name).await.map_err(|e| e.to_string())?,
        };
        let to = dir.join(&name);
        blocking(Box::new(move || std::fs::write(to, bytes))).await?;
    }
    let text = serde_json::to_vec_pretty(meta).map_err(|e| e.to_string())?;
    let described = dir.clone();
    blocking(Box::new(move || describe(&described, &text))).await?;
    Ok(dir)
}

/// Writes a savepoint's description (through a temporary name).
fn describe(dir: &Path, text: &[u8]) -> std::io::Result<()> {
    let temporary = dir.join(format!(".{METADATA}"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(temporary, dir.join(METADATA))
}

/// Reads the description of the savepoint in `dir`.
pub fn read(dir: &Path) -> Result<SavepointMeta, SavepointError> {
    let path = dir.join(METADATA);
    let unreadable = |message: String| SavepointError::Unreadable {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
    serde_json::from_slice(&text).map_err(|e| unreadable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faro_runtime::spec::{validate, JobSpec};

    /// Nexmark bids (parallelism 1) counted per auction in windows at
    /// `parallelism`, written to files; `window` names the window vertex.
    fn plan(parallelism: u32, window: &str) -> Plan {
        let json = format!(
            r#"{{"name": "w", "mode": "streaming", "checkpoints": {{"interval_ms": 100}},
            "vertices": [
              {{"id": "bids", "operator": "nexmark", "parallelism": 1,
                "params": {{"table": "bid", "events": 10}}}},
              {{"id": "{window}", "operator": "window", "parallelism": {parallelism},
                "params": {{"time": "date_time", "window": {{"tumbling": {{"size_ms": 500}}}},
                           "group_by": ["auction"],
                           "aggregates": [{{"name": "n", "function": "count"}}]}}}},
              {{"id": "out", "operator": "files", "parallelism": {parallelism},
                "params": {{"path": "/tmp/x", "format": "csv"}}}}],
            "edges": [
              {{"from": "bids", "to": "{window}", "partitioning": {{"hash": ["auction"]}}}},
              {{"from": "{window}", "to": "out", "partitioning": "forward"}}]}}"#
        );
        Plan::new(&validate(&JobSpec::from_json(&json).unwrap()).unwrap())
    }

    fn meta(plan: &Plan) -> SavepointMeta {
        SavepointMeta {
            job: "j".into(),
            checkpoint: 7,
            key_groups: key_groups_of(plan),
            chains: layout_of(plan),
        }
    }

    #[test]
    fn a_rescaled_restore_finds_each_slot_by_vertex_and_phase_with_the_key_routing() {
        let saved = plan(2, "counts");
        let layout = layout_of(&saved);
        // The source's chain numbers from slot 0; the others from 1.
        assert_eq!(layout[0].slots[0].slot, 0);
        assert_eq!(layout[1].slots[0].slot, 1);
        let now = plan(3, "counts");
        check_compatible(&meta(&saved), &now).unwrap();
        let last = now.chains.len() - 1;
        let restore = restore_plan(&layout, &now, last, 7, "/sp");
        assert_eq!(restore.parallelism, 3);
        assert_eq!((restore.checkpoint, restore.dir.as_str()), (7, "/sp"));
        let window = restore
            .slots
            .iter()
            .find(|s| now.chains[last].steps[s.slot as usize - 1].vertex == "counts")
            .unwrap();
        assert_eq!(window.from_parallelism, 2);
        let keys = window.keys.as_ref().unwrap();
        assert_eq!(keys.columns, ["auction"]);
        assert_eq!(Some(keys.key_groups), key_groups_of(&saved));
        // Every slot of the chain has a saved counterpart.
        assert_eq!(restore.slots.len(), now.chains[last].steps.len());
        // The source's chain is fed by no hash edge.
        assert!(restore_plan(&layout, &now, 0, 7, "/sp").slots[0]
            .keys
            .is_none());
    }

    #[test]
    fn a_savepoint_with_state_the_job_lacks_or_other_key_groups_is_refused() {
        let saved = plan(2, "counts");
        let error = check_compatible(&meta(&saved), &plan(2, "tallies")).unwrap_err();
        assert!(
            matches!(&error, SavepointError::UnknownVertex(v, _) if v == "counts"),
            "{error}"
        );
        let mut other = meta(&saved);
        other.key_groups = Some(4096);
        let error = check_compatible(&other, &saved).unwrap_err();
        assert!(error.to_string().contains("4096"), "{error}");
    }

    #[tokio::test]
    async fn a_savepoint_is_copied_whole_and_described_last() {
        use faro_runtime::checkpoint::increments::PartRef;
        use faro_runtime::checkpoint::TaskState;
        let dir = tempfile::tempdir().unwrap();
        let older = dir.path().join("j/chk-0000000001");
        let from = dir.path().join("j/chk-0000000002");
        std::fs::create_dir_all(&older).unwrap();
        std::fs::create_dir_all(&from).unwrap();
        // One task stored whole, one in parts: one in the older
        // checkpoint's parts file, one in its own.
        let mut whole = TaskState {
            slots: 2,
            ..TaskState::default()
        };
        whole.blobs.insert(1, b"state".to_vec());
        std::fs::write(from.join("000-00000.state"), whole.encode()).unwrap();
        let part = |checkpoint, bytes: &[u8]| PartRef {
            checkpoint,
            offset: 0,
            len: bytes.len() as u64,
            crc: crc32c::crc32c(bytes),
        };
        std::fs::write(older.join("001-00000.parts"), b"old-").unwrap();
        std::fs::write(from.join("001-00000.parts"), b"new").unwrap();
        let mut parted = TaskState {
            slots: 2,
            ..TaskState::default()
        };
        parted.manifests.insert(
            1,
            vec![(0, vec![part(1, b"old-")]), (1, vec![part(2, b"new")])],
        );
        std::fs::write(from.join("001-00000.state"), parted.encode()).unwrap();
        let meta = meta(&plan(2, "counts"));
        let from = from.display().to_string();
        let written = write(&dir.path().join("savepoints"), &from, &meta)
            .await
            .unwrap();
        let copied = |name: &str| TaskState::decode(&std::fs::read(written.join(name)).unwrap());
        assert_eq!(copied("000-00000.state").unwrap(), whole);
        let mut joined = TaskState {
            slots: 2,
            ..TaskState::default()
        };
        joined.blobs.insert(1, b"old-new".to_vec());
        assert_eq!(copied("001-00000.state").unwrap(), joined);
        assert!(!written.join("001-00000.parts").exists());
        assert_eq!(read(&written).unwrap(), meta);
        std::fs::write(written.join(METADATA), b"{ cut").unwrap();
        let error = read(&written).unwrap_err().to_string();
        assert!(error.contains(METADATA), "{error}");
        // A damaged part fails the savepoint, naming it.
        std::fs::write(older.join("001-00000.parts"), b"old!").unwrap();
        let error = write(&dir.path().join("again"), &from, &meta)
            .await
            .unwrap_err();
        assert!(error.contains("checksum"), "{error}");
    }
}
