//! Spill files: batches written to local disk when an operator's state
//! outgrows its memory budget, and read back in place. Each batch is its
//! rkyv archive preceded by its length; files live in the task's spill
//! directory and are deleted when whatever owns them last (writer, closed
//! [`SpillFile`] or reader) is dropped, so a failing operator leaves none.
//!
//! A file is open only while it is written or read: a finished file can be
//! kept closed as a [`SpillFile`], so an operator holding many of them (the
//! sort's runs) holds no file handles or buffers for them.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rkyv::util::AlignedVec;

use crate::data::{Batch, BatchView};
use crate::operator::OperatorError;

/// Appends batches to a new spill file.
pub struct SpillWriter {
    path: PathBuf,
    file: BufWriter<File>,
    buffer: AlignedVec,
    batches: usize,
    rows: u64,
    bytes: u64,
}

impl SpillWriter {
    /// Creates `path` (truncating it).
    pub fn create(path: &Path) -> Result<Self, OperatorError> {
        let file =
            File::create(path).map_err(OperatorError::io("creating spill file", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(1 << 20, file),
            buffer: AlignedVec::new(),
            batches: 0,
            rows: 0,
            bytes: 0,
        })
    }

    /// Appends one batch.
    pub fn write(&mut self, batch: &Batch) -> Result<(), OperatorError> {
        let buffer = std::mem::take(&mut self.buffer);
        let bytes = batch.write_into(buffer);
        let io = OperatorError::io("writing spill file", self.path.display());
        self.file
            .write_all(&(bytes.len() as u64).to_le_bytes())
            .and_then(|()| self.file.write_all(&bytes))
            .map_err(io)?;
        self.bytes += 8 + bytes.len() as u64;
        self.batches += 1;
        self.rows += batch.num_rows() as u64;
        self.buffer = bytes;
        Ok(())
    }

    /// Bytes written.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and closes the file, which stays on disk as a [`SpillFile`].
    pub fn close(mut self) -> Result<SpillFile, OperatorError> {
        self.file
            .flush()
            .map_err(OperatorError::io("writing spill file", self.path.display()))?;
        let file = SpillFile {
            path: std::mem::take(&mut self.path),
            rows: self.rows,
            bytes: self.bytes,
        };
        // Dropping the writer (its path now empty) closes the handle and
        // keeps the file, which `file` owns from here on.
        drop(self);
        Ok(file)
    }

    /// Flushes and returns a reader of what was written.
    pub fn finish(self) -> Result<SpillReader, OperatorError> {
        self.close()?.open()
    }
}

impl Drop for SpillWriter {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A finished spill file, closed: no handle or buffer is held until it is
/// opened. Deleted when dropped, unless it was opened (the reader then owns
/// the file).
#[derive(Debug)]
pub struct SpillFile {
    path: PathBuf,
    rows: u64,
    bytes: u64,
}

impl SpillFile {
    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows it holds.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes it holds (archives and their lengths).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Opens the file for reading; the reader deletes it when dropped, and
    /// so does a failure to open it.
    pub fn open(mut self) -> Result<SpillReader, OperatorError> {
        let file = File::open(&self.path)
            .map_err(OperatorError::io("opening spill file", self.path.display()))?;
        Ok(SpillReader {
            path: std::mem::take(&mut self.path),
            file: BufReader::with_capacity(1 << 20, file),
        })
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Reads a spill file's batches back, one at a time.
pub struct SpillReader {
    path: PathBuf,
    file: BufReader<File>,
}

impl SpillReader {
    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next batch's archive, or `None` at the end. Read it with
    /// [`BatchView::new`].
    pub fn next_archive(&mut self) -> Result<Option<AlignedVec>, OperatorError> {
        let io = || OperatorError::io("reading spill file", self.path.display());
        let mut len = [0u8; 8];
        match self.file.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io()(e)),
        }
        let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| {
            OperatorError::BadInput(format!("spill file {} is corrupt", self.path.display()))
        })?;
        let mut bytes = AlignedVec::with_capacity(len);
        bytes.resize(len, 0);
        self.file.read_exact(&mut bytes).map_err(io())?;
        Ok(Some(bytes))
    }

    /// The next batch, read back into an owned batch.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError> {
        match self.next_archive()? {
            None => Ok(None),
            Some(bytes) => Ok(Some(BatchView::new(&bytes)?.to_batch()?)),
        }
    }
}

impl Drop for SpillReader {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
