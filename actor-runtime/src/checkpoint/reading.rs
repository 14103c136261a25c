//! Reading one task's saved state back whole: its state file and, for a
//! slot stored in parts ([`super::increments`]), each piece of each part,
//! in order, from the parts file that holds it — the task's own file in that checkpoint's
//! directory, beside this one — checked against the part's CRC-32C. A
//! missing or damaged file or part is an error naming it, so a restore
//! falls back rather than take partial state.

use std::collections::BTreeMap;

use super::increments::PartRef;
use super::location::Location;
use super::storage::CheckpointStorage;
use super::TaskState;

/// What reading a task's state found.
#[derive(Debug)]
pub struct ReadState {
    /// The state, every slot whole.
    pub state: TaskState,
    /// Bytes read, over every file.
    pub bytes: usize,
}

/// Reads the state file `name` (`CHAIN-SUBTASK.state`) of the checkpoint
/// or savepoint at location `dir`, with every part it points at.
pub async fn read_task_state(dir: &str, name: &str) -> Result<ReadState, String> {
    let shown = |file: &str, location: &str| format!("{}/{file}", Location::shown(location));
    let storage = CheckpointStorage::new(dir).map_err(|e| e.to_string())?;
    let bytes = storage.read(name).await.map_err(|e| e.to_string())?;
    let mut read = bytes.len();
    let mut state = TaskState::decode(&bytes).map_err(|e| format!("{}: {e}", shown(name, dir)))?;
    if state.manifests.is_empty() {
        return Ok(ReadState { state, bytes: read });
    }
    let parts_name = CheckpointStorage::parts_file_of(name)
        .ok_or_else(|| format!("{}: not a task state file", shown(name, dir)))?;
    let mut files: BTreeMap<u64, (String, Vec<u8>)> = BTreeMap::new();
    for (slot, manifest) in std::mem::take(&mut state.manifests) {
        let pieces: Vec<(u32, PartRef)> = manifest
            .iter()
            .flat_map(|(id, chain)| chain.iter().map(|at| (*id, *at)))
            .collect();
        let mut whole = Vec::with_capacity(pieces.iter().map(|(_, at)| at.len as usize).sum());
        for (id, at) in pieces {
            if let std::collections::btree_map::Entry::Vacant(entry) = files.entry(at.checkpoint) {
                let name = CheckpointStorage::checkpoint_name(at.checkpoint);
                let location = Location::sibling(dir, &name);
                let store = CheckpointStorage::new(&location).map_err(|e| e.to_string())?;
                let bytes = store.read(&parts_name).await.map_err(|e| e.to_string())?;
                read += bytes.len();
                entry.insert((shown(&parts_name, &location), bytes));
            }
            let (file, bytes) = &files[&at.checkpoint];
            let range = usize::try_from(at.offset)
                .ok()
                .zip(usize::try_from(at.len).ok())
                .and_then(|(offset, len)| Some(offset..offset.checked_add(len)?))
                .filter(|range| range.end <= bytes.len());
            let Some(range) = range else {
                return Err(format!(
                    "{file}: part {id} of slot {slot} lies past the file's end ({} bytes)",
                    bytes.len()
                ));
            };
            let part = &bytes[range];
            if crc32c::crc32c(part) != at.crc {
                return Err(format!(
                    "{file}: part {id} of slot {slot} fails its checksum: truncated or corrupted"
                ));
            }
            whole.extend_from_slice(part);
        }
        state.blobs.insert(slot, whole);
    }
    Ok(ReadState { state, bytes: read })
}
