//! `shuffle_storage`: a shuffle directory as a restarted node finds it on
//! disk, corrupted or torn: `shuffle.meta`, `commits.log` and partition
//! files `part-NNNNN.data` are written from the input into a fresh
//! directory under /dev/shm, then `ShuffleStore::open` replays the commit
//! log (`CommitLog::open`) and recovers every partition file
//! (`PartitionWriter::open`: record walk, torn-tail cut), every partition
//! is read (`read_maps`: the mmap'd `PartitionReader`, record headers,
//! payload checksums, visibility), one more frame is pushed and committed,
//! and the directory is opened and read again.
//!
//! Input: `[flags] [meta byte] [log length] commit log… then partition
//! files, each behind a 2-byte length`. Flags: bit 0 takes the meta text
//! from the input (else a well-formed meta for 1–4 maps and partitions),
//! bit 1 / bit 2 fill in valid magic and checksums in the records / log
//! entries (so the fuzzer gets past the CRCs to the walking and visibility
//! rules), bit 3 makes the extra push use map 0 attempt 0.

#![no_main]

use std::path::{Path, PathBuf};

use faro_shuffle::storage::{IoPreference, RecordKey, ShuffleStore};
use libfuzzer_sys::fuzz_target;

const RECORD_HEADER_LEN: usize = 32;

fn scratch() -> PathBuf {
    PathBuf::from(format!(
        "/dev/shm/faro-fuzz-shuffle-storage-{}",
        std::process::id()
    ))
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        first
    }
    fn len16(&mut self) -> usize {
        usize::from(self.byte()) | usize::from(self.byte()) << 8
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

/// Writes valid magic, checksums and padding into each record found by
/// walking `bytes` (as a writer would have produced them), cutting a
/// record that does not fit.
fn fix_records(bytes: &mut Vec<u8>) {
    let mut at = 0;
    while at + RECORD_HEADER_LEN <= bytes.len() {
        let header = &mut bytes[at..at + RECORD_HEADER_LEN];
        // Lengths as the fuzzer wrote them, kept small enough to fit.
        let length = u32::from_le_bytes([header[16], header[17], header[18], header[19]]) % 4096;
        header[16..20].copy_from_slice(&length.to_le_bytes());
        let stored = (RECORD_HEADER_LEN + length as usize).div_ceil(16) * 16;
        if at + stored > bytes.len() {
            break;
        }
        let payload_crc = crc32c::crc32c(
            &bytes[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + length as usize],
        );
        let header = &mut bytes[at..at + RECORD_HEADER_LEN];
        header[0..4].copy_from_slice(b"FRSP");
        header[20..24].copy_from_slice(&payload_crc.to_le_bytes());
        header[28..32].copy_from_slice(&[0; 4]);
        let crc = crc32c::crc32c(&header[0..24]);
        header[24..28].copy_from_slice(&crc.to_le_bytes());
        at += stored;
    }
}

fn fix_log(bytes: &mut [u8]) {
    for entry in bytes.chunks_exact_mut(16) {
        entry[0..4].copy_from_slice(b"FRCM");
        let crc = crc32c::crc32c(&entry[0..12]);
        entry[12..16].copy_from_slice(&crc.to_le_bytes());
    }
}

fn read_all(store: &ShuffleStore) {
    for partition in 0..store.partitions().saturating_add(1) {
        for maps in [0..u32::MAX, 1..2, 0..0] {
            match store.read_maps(partition, maps) {
                Ok(frames) => {
                    for index in 0..frames.len() {
                        let payload = frames.get(index).expect("listed frame");
                        assert_eq!(Some(crc32c::crc32c(payload)), frames.checksum(index));
                    }
                }
                Err(error) => {
                    let _ = error.to_string();
                }
            }
        }
    }
    let _ = (
        store.stored_bytes(),
        store.is_complete(),
        store.partition_files(),
    );
}

fn run(dir: &Path, data: &[u8]) {
    let mut input = Cursor(data);
    let flags = input.byte();
    let shape_byte = input.byte();
    std::fs::create_dir_all(dir).expect("scratch dir");
    let meta = if flags & 1 != 0 {
        let n = input.byte() as usize;
        String::from_utf8_lossy(input.take(n)).into_owned()
    } else {
        let partitions = 1 + (shape_byte & 3);
        let maps = 1 + (shape_byte >> 2 & 3);
        format!("faro-shuffle v1\npartitions {partitions}\nmaps {maps}\n")
    };
    std::fs::write(dir.join("shuffle.meta"), &meta).expect("meta");
    let log_len = input.len16();
    let mut log = input.take(log_len).to_vec();
    if flags & 4 != 0 {
        fix_log(&mut log);
    }
    std::fs::write(dir.join("commits.log"), &log).expect("log");
    let mut partition = 0u32;
    while !input.0.is_empty() && partition < 8 {
        let len = input.len16();
        let mut file = input.take(len).to_vec();
        if flags & 2 != 0 {
            fix_records(&mut file);
        }
        std::fs::write(dir.join(format!("part-{partition:05}.data")), &file).expect("part");
        partition += 1;
    }

    let label = "job fuzz shuffle 0";
    let (mut store, recoveries) = match ShuffleStore::open(dir, label, IoPreference::Std) {
        Ok(opened) => opened,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    for (_, recovery) in &recoveries {
        let _ = (recovery.kept, recovery.cut);
    }
    read_all(&store);
    let (map, attempt) = if flags & 8 != 0 {
        (0, 0)
    } else {
        (u32::from(shape_byte) % 3, 1)
    };
    let key = RecordKey {
        map_id: map,
        attempt,
        seq: 0,
    };
    if store.push(0, key, b"one more frame").is_ok() {
        let _ = store.commit(map, attempt);
    }
    read_all(&store);
    drop(store);
    if let Ok((store, _)) = ShuffleStore::open(dir, label, IoPreference::Std) {
        read_all(&store);
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = scratch();
    let _ = std::fs::remove_dir_all(&dir);
    run(&dir, data);
    let _ = std::fs::remove_dir_all(&dir);
});
