//! Where a `read` finds its files: the store and path a spec names,
//! checked against the worker's access policy ([`Location`]), the
//! listing of a directory's data files (skipping what Spark and Hadoop
//! skip), and a CSV file's header line, which a split after the file's
//! first is read behind.

use std::path::{Path, PathBuf};

use super::{Failure, ReadParams, CHUNK, MAX_LINE_BYTES};
use crate::access::{Access, AccessPolicy};
use crate::operator::OperatorError;

/// Where a `read` finds its files: an opendal service, its options, the
/// path in it, and how file names are shown in messages.
pub(super) struct Location {
    scheme: String,
    options: std::collections::BTreeMap<String, String>,
    pub(super) path: String,
    /// Local files are shown as absolute paths (opendal's keys drop the
    /// leading `/`).
    local: bool,
}

impl Location {
    /// Where `params` points, once the worker's `access` allows it.
    pub(super) fn of(params: &ReadParams, access: &AccessPolicy) -> Result<Self, OperatorError> {
        match &params.store {
            Some(store) => {
                access.check_store(
                    &store.scheme,
                    store.options.get("root").map(String::as_str),
                    &params.path,
                    Access::Read,
                )?;
                Ok(Self {
                    scheme: store.scheme.clone(),
                    options: store.options.clone(),
                    path: params.path.clone(),
                    local: false,
                })
            }
            None => {
                let resolved = access.check(Path::new(&params.path), Access::Read)?;
                let mut options = std::collections::BTreeMap::new();
                options.insert("root".to_string(), "/".to_string());
                Ok(Self {
                    scheme: "fs".into(),
                    options,
                    path: resolved.display().to_string(),
                    local: true,
                })
            }
        }
    }

    /// A listed key as people read it.
    pub(super) fn shown(&self, key: &str) -> String {
        if self.local {
            format!("/{}", key.trim_start_matches('/'))
        } else {
            key.to_string()
        }
    }

    /// Whether the worker may read the listed `key`.
    pub(super) fn allowed(&self, key: &str, access: &AccessPolicy) -> Result<(), Failure> {
        if self.local {
            access
                .check(&PathBuf::from(self.shown(key)), Access::Read)
                .map(|_| ())
                .map_err(Failure::of)
        } else {
            access
                .check_store(
                    &self.scheme,
                    self.options.get("root").map(String::as_str),
                    key,
                    Access::Read,
                )
                .map_err(Failure::of)
        }
    }
}

/// Whether a file called `name` (its last path segment) holds data to
/// read: not hidden (`.x`, Flink's `.part-….inprogress.…`), not a marker
/// or scratch name starting with `_` (Spark's and Hadoop's `_SUCCESS`,
/// `_temporary`), not one of Faro's own parts still being written
/// (`part-….inprogress-N`).
pub(crate) fn is_data_file(name: &str) -> bool {
    !(name.is_empty()
        || name.starts_with('.')
        || name.starts_with('_')
        || name.contains(".inprogress"))
}

/// The store `location` names, and the files at its path (the file
/// itself, or a directory's files in name order).
pub(super) async fn open_listing(
    location: &Location,
) -> Result<(opendal::Operator, Vec<String>), Failure> {
    opendal::init_default_registry();
    let scheme = &location.scheme;
    let op = opendal::Operator::via_iter(scheme, location.options.clone())
        .map_err(|e| Failure::Input(format!("opening store {scheme:?}: {e}")))?;
    let path = location.shown(&location.path);
    let key = location.path.trim_start_matches('/').to_string();
    if let Ok(meta) = op.stat(&key).await {
        if meta.is_file() {
            return Ok((op, vec![key]));
        }
    }
    let dir = if key.ends_with('/') || key.is_empty() {
        key.clone()
    } else {
        format!("{key}/")
    };
    let entries = op
        .list(&dir)
        .await
        .map_err(|e| Failure::store(format!("listing {path}"), &e))?;
    let mut files: Vec<String> = entries
        .into_iter()
        .filter(|e| e.metadata().is_file() && is_data_file(e.name()))
        .map(|e| e.path().to_string())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Failure::Input(format!("{path}: no such file or directory")));
    }
    Ok((op, files))
}

/// The first line of `file` (of `length` bytes), through its line
/// break: a CSV header, at most [`MAX_LINE_BYTES`] long.
pub(super) async fn header_line(
    op: &opendal::Operator,
    file: &str,
    length: u64,
    shown: &str,
) -> Result<Vec<u8>, Failure> {
    let reader =
        (op.reader(file).await).map_err(|e| Failure::store(format!("reading {shown}"), &e))?;
    let mut line = Vec::new();
    while (line.len() as u64) < length.min(MAX_LINE_BYTES) {
        let at = line.len() as u64;
        let chunk = (reader.read(at..(at + CHUNK as u64).min(length)).await)
            .map_err(|e| Failure::store(format!("reading {shown}"), &e))?
            .to_vec();
        if chunk.is_empty() {
            break;
        }
        if let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&chunk[..=end]);
            return Ok(line);
        }
        line.extend_from_slice(&chunk);
    }
    match (line.len() as u64) < MAX_LINE_BYTES {
        true => Ok(line),
        false => Err(Failure::Input(format!(
            "{shown}: the header line is longer than {MAX_LINE_BYTES} bytes"
        ))),
    }
}
