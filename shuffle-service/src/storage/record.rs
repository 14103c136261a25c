//! The on-disk record: how one pushed frame is stored in a partition file.
//!
//! Layout, little-endian, every record starting on a 16-byte boundary so
//! its payload does too (an mmap'd file then yields payloads that rkyv can
//! read in place):
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `FRSP` |
//! | 4..8 | map id |
//! | 8..12 | attempt |
//! | 12..16 | sequence number within the map attempt |
//! | 16..20 | payload length |
//! | 20..24 | CRC-32C of the payload |
//! | 24..28 | CRC-32C of bytes 0..24 |
//! | 28..32 | zero |
//! | 32.. | payload, then zero padding to a multiple of 16 |
//!
//! Pure encoding and decoding; files are handled in [`super::partition`].

/// Bytes of a record header.
pub const RECORD_HEADER_LEN: usize = 32;
/// Records and payloads start on multiples of this.
pub const RECORD_ALIGN: usize = 16;
const MAGIC: [u8; 4] = *b"FRSP";

/// Who wrote a record: the producer attempt and its position in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordKey {
    /// The map task that pushed it.
    pub map_id: u32,
    /// The attempt of that map task.
    pub attempt: u32,
    /// Position in the attempt's stream to this partition, from 0.
    pub seq: u32,
}

/// A decoded record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Who wrote it.
    pub key: RecordKey,
    /// Payload bytes.
    pub length: u32,
    /// CRC-32C of the payload.
    pub payload_crc: u32,
}

/// Why bytes at some offset are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFault {
    /// Fewer bytes remain than a header or the announced payload needs:
    /// the tail of a write cut short.
    Torn,
    /// The header's checksum or magic is wrong.
    BadHeader,
    /// The payload does not match its checksum.
    BadPayload,
}

impl RecordHeader {
    /// Encodes the header for `payload`.
    pub fn new(key: RecordKey, payload: &[u8]) -> Self {
        Self {
            key,
            length: payload.len() as u32,
            payload_crc: crc32c::crc32c(payload),
        }
    }

    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; RECORD_HEADER_LEN] {
        let mut bytes = [0u8; RECORD_HEADER_LEN];
        bytes[0..4].copy_from_slice(&MAGIC);
        bytes[4..8].copy_from_slice(&self.key.map_id.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.key.attempt.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.key.seq.to_le_bytes());
        bytes[16..20].copy_from_slice(&self.length.to_le_bytes());
        bytes[20..24].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c::crc32c(&bytes[0..24]);
        bytes[24..28].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Total bytes the record occupies on disk, padding included.
    pub fn stored_len(&self) -> usize {
        stored_len(self.length as usize)
    }
}

/// Bytes a record with a payload of `payload_len` occupies on disk.
pub fn stored_len(payload_len: usize) -> usize {
    (RECORD_HEADER_LEN + payload_len).div_ceil(RECORD_ALIGN) * RECORD_ALIGN
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Decodes and checks the header of the record starting at `bytes[0]`.
/// The payload is not checked: a reader that skips the record never pays
/// for its checksum.
pub fn decode_header(bytes: &[u8]) -> Result<RecordHeader, RecordFault> {
    if bytes.len() < RECORD_HEADER_LEN {
        return Err(RecordFault::Torn);
    }
    if bytes[0..4] != MAGIC
        || word(bytes, 24) != crc32c::crc32c(&bytes[0..24])
        || word(bytes, 28) != 0
    {
        return Err(RecordFault::BadHeader);
    }
    let header = RecordHeader {
        key: RecordKey {
            map_id: word(bytes, 4),
            attempt: word(bytes, 8),
            seq: word(bytes, 12),
        },
        length: word(bytes, 16),
        payload_crc: word(bytes, 20),
    };
    if bytes.len() < header.stored_len() {
        return Err(RecordFault::Torn);
    }
    Ok(header)
}

/// The checked payload of a record whose header decoded from `bytes`.
pub fn checked_payload<'a>(
    bytes: &'a [u8],
    header: &RecordHeader,
) -> Result<&'a [u8], RecordFault> {
    let payload = bytes
        .get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + header.length as usize)
        .ok_or(RecordFault::Torn)?;
    if crc32c::crc32c(payload) == header.payload_crc {
        Ok(payload)
    } else {
        Err(RecordFault::BadPayload)
    }
}

/// Decodes and fully checks the record starting at `bytes[0]`.
pub fn decode(bytes: &[u8]) -> Result<(RecordHeader, &[u8]), RecordFault> {
    let header = decode_header(bytes)?;
    Ok((header, checked_payload(bytes, &header)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &[u8]) -> Vec<u8> {
        let key = RecordKey {
            map_id: 3,
            attempt: 1,
            seq: 9,
        };
        let header = RecordHeader::new(key, payload);
        let mut bytes = header.encode().to_vec();
        bytes.extend_from_slice(payload);
        bytes.resize(header.stored_len(), 0);
        bytes
    }

    #[test]
    fn records_round_trip_and_stay_aligned() {
        for len in [0usize, 1, 15, 16, 17, 1000] {
            let payload = vec![7u8; len];
            let bytes = record(&payload);
            assert_eq!(bytes.len() % RECORD_ALIGN, 0);
            let (header, read) = decode(&bytes).unwrap();
            assert_eq!(read, &payload[..]);
            assert_eq!(
                header.key,
                RecordKey {
                    map_id: 3,
                    attempt: 1,
                    seq: 9
                }
            );
        }
    }

    #[test]
    fn every_cut_is_torn_and_every_flip_is_caught() {
        let bytes = record(b"some payload bytes");
        for cut in 0..bytes.len() {
            assert_eq!(
                decode(&bytes[..cut]).unwrap_err(),
                RecordFault::Torn,
                "cut at {cut}"
            );
        }
        for at in 0..RECORD_HEADER_LEN + 18 {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(decode(&flipped).is_err(), "flip at {at} went unnoticed");
        }
    }
}
