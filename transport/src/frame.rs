//! The frame codec: every byte Faro sends on a QUIC stream is a frame.
//!
//! A frame is a fixed 20-byte header followed by `length` payload bytes. The
//! header carries its own checksum so a corrupted length or kind is caught
//! before the receiver commits a buffer to the payload; the payload has a
//! separate checksum so corruption in the data is caught before anyone reads
//! it. Both checksums are CRC-32C, which runs in hardware on x86-64 and ARMv8.
//!
//! Layout, little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 0..2 | magic `b"FR"` |
//! | 2 | kind ([`FrameKind`]) |
//! | 3 | protocol version ([`PROTOCOL_VERSION`]) |
//! | 4..8 | payload length |
//! | 8..12 | `aux`: backlog for data, credits for credit frames, role for open |
//! | 12..16 | CRC-32C of the payload |
//! | 16..20 | CRC-32C of bytes 0..16 |
//!
//! This module is pure: it encodes and checks headers and knows nothing of
//! streams, so the rules can be tested without a network.

use crate::error::FrameError;

/// Size of every frame header in bytes.
pub const HEADER_LEN: usize = 20;
/// The two bytes every frame header starts with.
pub const MAGIC: [u8; 2] = *b"FR";
/// Version of the frame protocol; a peer speaking another version is refused.
pub const PROTOCOL_VERSION: u8 = 1;
/// Upper bound for the payload of an [`FrameKind::Open`] or [`FrameKind::Error`] frame.
pub const MAX_OPEN_PAYLOAD: u32 = 64 * 1024;
/// Upper bound for the payload of an [`FrameKind::Event`] frame: events
/// are a few words, and a receiver should not commit a data buffer's worth
/// of memory to one.
pub const MAX_EVENT_PAYLOAD: u32 = 4096;

/// What a frame means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// First frame on a stream: names the channel and who sends data.
    Open = 1,
    /// A data buffer; `aux` is the sender's backlog after this frame.
    Data = 2,
    /// Receiver to sender: `aux` more buffers may be sent.
    Credit = 3,
    /// The sender has no more data; the stream finishes after it.
    End = 4,
    /// Either side refuses the channel; the payload says why (UTF-8), and
    /// the stream finishes after it.
    Error = 5,
    /// An application event travelling in order with the data (a
    /// watermark, a checkpoint barrier): a small payload the transport does
    /// not read, sent and credited like a data frame so it can neither
    /// overtake the data nor flood the receiver.
    Event = 6,
}

impl FrameKind {
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Open),
            2 => Some(Self::Data),
            3 => Some(Self::Credit),
            4 => Some(Self::End),
            5 => Some(Self::Error),
            6 => Some(Self::Event),
            _ => None,
        }
    }
}

/// A decoded, checked frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the frame means.
    pub kind: FrameKind,
    /// Payload length in bytes.
    pub length: u32,
    /// Kind-specific word: backlog, credits or role.
    pub aux: u32,
    /// CRC-32C of the payload.
    pub payload_crc: u32,
}

impl FrameHeader {
    /// A header for `payload` of the given kind, with its checksum filled in.
    pub fn for_payload(kind: FrameKind, aux: u32, payload: &[u8]) -> Result<Self, FrameError> {
        Self::for_checked_payload(kind, aux, payload, crc32c::crc32c(payload))
    }

    /// A header for `payload`, whose CRC-32C the caller already knows
    /// (read from a checksummed store): saves a pass over the bytes. A
    /// wrong `payload_crc` makes the receiver reject the frame.
    pub fn for_checked_payload(
        kind: FrameKind,
        aux: u32,
        payload: &[u8],
        payload_crc: u32,
    ) -> Result<Self, FrameError> {
        let length = u32::try_from(payload.len()).map_err(|_| FrameError::Oversized {
            length: payload.len() as u64,
            max: u32::MAX as u64,
        })?;
        Ok(Self {
            kind,
            length,
            aux,
            payload_crc,
        })
    }

    /// A header for a frame without payload (credit, end).
    pub fn control(kind: FrameKind, aux: u32) -> Self {
        Self {
            kind,
            length: 0,
            aux,
            payload_crc: crc32c::crc32c(&[]),
        }
    }

    /// The 20 header bytes, header checksum included.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..2].copy_from_slice(&MAGIC);
        bytes[2] = self.kind as u8;
        bytes[3] = PROTOCOL_VERSION;
        bytes[4..8].copy_from_slice(&self.length.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.aux.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.payload_crc.to_le_bytes());
        let header_crc = crc32c::crc32c(&bytes[0..16]);
        bytes[16..20].copy_from_slice(&header_crc.to_le_bytes());
        bytes
    }

    /// Decodes and checks header bytes received from a peer.
    ///
    /// `max_payload` is the largest data payload this receiver accepts (its
    /// buffer size). Length rules per kind are enforced here, so a caller
    /// never reserves memory for a length it would later reject.
    pub fn decode(bytes: &[u8; HEADER_LEN], max_payload: u32) -> Result<Self, FrameError> {
        if bytes[0..2] != MAGIC {
            return Err(FrameError::BadMagic([bytes[0], bytes[1]]));
        }
        let stored_crc = u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        let computed_crc = crc32c::crc32c(&bytes[0..16]);
        if stored_crc != computed_crc {
            return Err(FrameError::HeaderChecksum {
                stored: stored_crc,
                computed: computed_crc,
            });
        }
        if bytes[3] != PROTOCOL_VERSION {
            return Err(FrameError::UnsupportedVersion(bytes[3]));
        }
        let kind = FrameKind::from_byte(bytes[2]).ok_or(FrameError::UnknownKind(bytes[2]))?;
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let header = Self {
            kind,
            length: word(4),
            aux: word(8),
            payload_crc: word(12),
        };
        header.check_length(max_payload)?;
        Ok(header)
    }

    fn check_length(&self, max_payload: u32) -> Result<(), FrameError> {
        match self.kind {
            FrameKind::Data if self.length > max_payload => Err(FrameError::Oversized {
                length: self.length as u64,
                max: max_payload as u64,
            }),
            FrameKind::Event if self.length > MAX_EVENT_PAYLOAD.min(max_payload) => {
                Err(FrameError::Oversized {
                    length: self.length as u64,
                    max: MAX_EVENT_PAYLOAD.min(max_payload) as u64,
                })
            }
            FrameKind::Open | FrameKind::Error if self.length > MAX_OPEN_PAYLOAD => {
                Err(FrameError::Oversized {
                    length: self.length as u64,
                    max: MAX_OPEN_PAYLOAD as u64,
                })
            }
            FrameKind::Credit | FrameKind::End if self.length != 0 => Err(FrameError::BadLength {
                kind: self.kind,
                length: self.length,
            }),
            _ => Ok(()),
        }
    }

    /// Checks a received payload against the header's checksum.
    pub fn verify_payload(&self, payload: &[u8]) -> Result<(), FrameError> {
        let computed = crc32c::crc32c(payload);
        if computed == self.payload_crc {
            Ok(())
        } else {
            Err(FrameError::PayloadChecksum {
                stored: self.payload_crc,
                computed,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let header = FrameHeader::for_payload(FrameKind::Data, 7, b"hello").unwrap();
        let decoded = FrameHeader::decode(&header.encode(), 1024).unwrap();
        assert_eq!(decoded, header);
        decoded.verify_payload(b"hello").unwrap();
    }

    #[test]
    fn flipped_length_bit_is_a_header_checksum_error() {
        let mut bytes = FrameHeader::for_payload(FrameKind::Data, 0, b"x")
            .unwrap()
            .encode();
        bytes[5] ^= 0x01;
        assert!(matches!(
            FrameHeader::decode(&bytes, 1 << 20),
            Err(FrameError::HeaderChecksum { .. })
        ));
    }

    #[test]
    fn oversized_data_frame_is_refused_before_reading_it() {
        let header = FrameHeader {
            kind: FrameKind::Data,
            length: 2048,
            aux: 0,
            payload_crc: 0,
        };
        let err = FrameHeader::decode(&header.encode(), 1024).unwrap_err();
        assert_eq!(
            err,
            FrameError::Oversized {
                length: 2048,
                max: 1024
            }
        );
        assert!(err.to_string().contains("2048"), "{err}");
    }

    #[test]
    fn an_event_larger_than_a_few_words_is_refused() {
        let fits = FrameHeader::for_payload(FrameKind::Event, 0, &[0u8; 9]).unwrap();
        assert_eq!(FrameHeader::decode(&fits.encode(), 1 << 20).unwrap(), fits);
        let header = FrameHeader {
            kind: FrameKind::Event,
            length: MAX_EVENT_PAYLOAD + 1,
            aux: 0,
            payload_crc: 0,
        };
        assert_eq!(
            FrameHeader::decode(&header.encode(), 1 << 20).unwrap_err(),
            FrameError::Oversized {
                length: MAX_EVENT_PAYLOAD as u64 + 1,
                max: MAX_EVENT_PAYLOAD as u64
            }
        );
    }

    #[test]
    fn control_frame_with_payload_is_a_bad_length() {
        let header = FrameHeader {
            kind: FrameKind::Credit,
            length: 7,
            aux: 1,
            payload_crc: 0,
        };
        assert_eq!(
            FrameHeader::decode(&header.encode(), 1024).unwrap_err(),
            FrameError::BadLength {
                kind: FrameKind::Credit,
                length: 7
            }
        );
    }

    #[test]
    fn corrupted_payload_is_caught() {
        let header = FrameHeader::for_payload(FrameKind::Data, 0, b"payload").unwrap();
        assert!(matches!(
            header.verify_payload(b"paxload"),
            Err(FrameError::PayloadChecksum { .. })
        ));
    }

    #[test]
    fn garbage_is_bad_magic_and_unknown_kind_is_named() {
        assert!(matches!(
            FrameHeader::decode(&[0xAB; HEADER_LEN], 1024),
            Err(FrameError::BadMagic(_))
        ));
        let mut bytes = FrameHeader::control(FrameKind::End, 0).encode();
        bytes[2] = 99;
        let crc = crc32c::crc32c(&bytes[0..16]);
        bytes[16..20].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            FrameHeader::decode(&bytes, 1024).unwrap_err(),
            FrameError::UnknownKind(99)
        );
    }
}
