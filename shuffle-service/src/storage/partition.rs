//! One reduce partition's append-only file: the writer, crash recovery,
//! and the mmap'd reader.
//!
//! Every record is appended whole with one `write`; a failed append (disk
//! full) is rolled back so no partial record stays behind. After a crash
//! the file is a prefix of what was written, so the only damage possible is
//! a torn last record, which recovery cuts off. Anything else that fails
//! its checks is corruption and is reported, never served.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::append_io::AppendIo;

use super::record::{
    decode_header, stored_len, RecordFault, RecordHeader, RecordKey, RECORD_HEADER_LEN,
};

/// Appends records to a partition file.
#[derive(Debug)]
pub struct PartitionWriter {
    file: File,
    path: PathBuf,
    len: u64,
    /// Bytes up to here have had writeback started.
    writeback_started: u64,
}

/// Start writeback every this many appended bytes, so a commit's sync
/// waits only for the tail instead of everything the attempt wrote.
const WRITE_BEHIND: u64 = 8 << 20;

/// What opening an existing partition file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Bytes of whole records kept.
    pub kept: u64,
    /// Bytes of a torn last record cut off.
    pub cut: u64,
}

impl PartitionWriter {
    /// Opens or creates the file at `path`, cutting off a torn last record.
    pub fn open(path: &Path) -> std::io::Result<(Self, Recovery)> {
        // O_APPEND: every write lands at the end, wherever a reopened
        // file's cursor would be.
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let on_disk = file.metadata()?.len();
        let kept = if on_disk == 0 {
            0
        } else {
            valid_prefix(&map(&file, on_disk)?)
        };
        let recovery = Recovery {
            kept,
            cut: on_disk - kept,
        };
        if recovery.cut > 0 {
            tracing::warn!(path = %path.display(), kept, cut = recovery.cut, "cutting a torn record off a partition file");
            file.set_len(kept)?;
            file.sync_data()?;
        }
        Ok((
            Self {
                file,
                path: path.to_path_buf(),
                len: kept,
                writeback_started: kept,
            },
            recovery,
        ))
    }

    /// Appends one record. On failure the file is rolled back to where it
    /// was, so readers and recovery never meet half a record.
    pub fn append(
        &mut self,
        io: &mut AppendIo,
        key: RecordKey,
        payload: &[u8],
    ) -> std::io::Result<()> {
        self.append_checked(io, key, payload, crc32c::crc32c(payload))
    }

    /// Appends one record whose payload CRC-32C the caller already
    /// verified (the transport checks every frame with the same checksum),
    /// so the payload is not read a second time. Header, payload and
    /// padding go out in one vectored write, without a staging copy.
    pub fn append_checked(
        &mut self,
        io: &mut AppendIo,
        key: RecordKey,
        payload: &[u8],
        payload_crc: u32,
    ) -> std::io::Result<()> {
        let header = RecordHeader {
            key,
            length: payload.len() as u32,
            payload_crc,
        };
        let encoded = header.encode();
        let padding = &[0u8; super::record::RECORD_ALIGN]
            [..header.stored_len() - RECORD_HEADER_LEN - payload.len()];
        if let Err(error) = io.append_parts(&self.file, self.len, &[&encoded, payload, padding]) {
            if let Err(rollback) = self.file.set_len(self.len) {
                tracing::error!(path = %self.path.display(), %rollback, "cannot roll back a failed append; recovery will cut it");
            }
            return Err(error);
        }
        self.len += header.stored_len() as u64;
        if self.len - self.writeback_started >= WRITE_BEHIND {
            self.start_writeback();
        }
        Ok(())
    }

    /// Starts writeback if at least `min_pending` bytes await it.
    pub fn start_writeback_if(&mut self, min_pending: u64) {
        if self.len - self.writeback_started >= min_pending.max(1) {
            self.start_writeback();
        }
    }

    /// Asks the kernel to start writing appended bytes to disk without
    /// waiting (Linux `sync_file_range`); durability still comes from
    /// [`Self::sync`]. A failure only loses the head start.
    fn start_writeback(&mut self) {
        use std::os::fd::AsRawFd;
        let from = self.writeback_started;
        let len = self.len - from;
        // SAFETY: plain syscall on a file descriptor this writer owns.
        let result = unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                from as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        if result == 0 {
            self.writeback_started = self.len;
        }
    }

    /// Waits until every appended record is on disk.
    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Bytes of whole records in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn map(file: &File, len: u64) -> std::io::Result<Mmap> {
    // SAFETY: partition files belong to this service alone, and it never
    // shrinks a file below a length it has handed to a reader: rollbacks
    // and recovery only cut bytes past the last whole record.
    unsafe { memmap2::MmapOptions::new().len(len as usize).map(file) }
}

/// Length of the longest prefix of whole records (a torn tail excluded).
/// Corrupt records are kept: cutting them would hide corruption.
fn valid_prefix(bytes: &[u8]) -> u64 {
    let mut offset = 0usize;
    while offset < bytes.len() {
        match decode_header(&bytes[offset..]) {
            Ok(header) => offset += header.stored_len(),
            Err(RecordFault::Torn) => break,
            // A bad header in the middle: keep the rest for readers to report.
            Err(_) => return bytes.len() as u64,
        }
    }
    offset as u64
}

/// A read-only, mmap'd snapshot of a partition file's first `len` bytes.
pub struct PartitionReader {
    map: Option<Mmap>,
}

/// One record met by [`PartitionReader::records`].
#[derive(Debug)]
pub struct StoredRecord<'a> {
    /// Byte offset in the file.
    pub offset: u64,
    /// The checked header.
    pub header: RecordHeader,
    /// The whole record, header included; check the payload with
    /// [`super::record::checked_payload`] before using it.
    pub bytes: &'a [u8],
}

impl PartitionReader {
    /// Maps the first `len` bytes of the file at `path`.
    pub fn open(path: &Path, len: u64) -> std::io::Result<Self> {
        if len == 0 {
            return Ok(Self { map: None });
        }
        let file = File::open(path)?;
        Ok(Self {
            map: Some(map(&file, len)?),
        })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Walks the records in file order; stops at the first bad header with
    /// its offset and fault.
    pub fn records(&self) -> impl Iterator<Item = Result<StoredRecord<'_>, (u64, RecordFault)>> {
        let bytes = self.bytes();
        let mut offset = 0usize;
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed || offset >= bytes.len() {
                return None;
            }
            let rest = &bytes[offset..];
            let at = offset as u64;
            Some(match decode_header(rest) {
                Ok(header) => {
                    offset += header.stored_len();
                    Ok(StoredRecord {
                        offset: at,
                        header,
                        bytes: &rest[..header.stored_len()],
                    })
                }
                Err(fault) => {
                    failed = true;
                    Err((at, fault))
                }
            })
        })
    }
}

/// Bytes a record of `payload_len` adds to a partition file.
pub fn record_size(payload_len: usize) -> u64 {
    stored_len(payload_len) as u64
}

/// Payloads start this many bytes into a record.
pub const PAYLOAD_OFFSET: usize = RECORD_HEADER_LEN;
