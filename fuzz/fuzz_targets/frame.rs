//! `frame`: the transport's frame codec, driven the way a channel reads a
//! QUIC stream from a peer.
//!
//! Input: `[flags] [max_payload selector] stream bytes…`. The stream bytes
//! are cut into frames exactly as `transport/src/channel` does: 20 header
//! bytes go to `FrameHeader::decode` (with the receiver's `max_payload`),
//! then `length` payload bytes to `FrameHeader::verify_payload`. The first
//! frame is read as `accept_stream` reads an `Open` frame (max payload 0,
//! role from `aux`); the rest as the receiving loop (`Data`/`End`/`Error`,
//! each data frame charged to a `CreditLedger`) or as the sending side's
//! credit reader, chosen by the Open frame's role. Errors are mapped to
//! their `Fault` code and formatted, as the channel does before stopping
//! the stream.
//!
//! Flags bit 0 / bit 1 make the harness fill in correct header / payload
//! checksums before decoding (what an honest but buggy peer sends), so the
//! fuzzer reaches the length and protocol rules behind the CRCs.

#![no_main]

use faro_transport::credit::CreditLedger;
use faro_transport::frame::{FrameHeader, FrameKind, HEADER_LEN, MAX_EVENT_PAYLOAD, MAX_OPEN_PAYLOAD};
use faro_transport::{Fault, FrameError};
use libfuzzer_sys::fuzz_target;

const MAX_PAYLOADS: [u32; 6] = [0, 1, 1024, 32 * 1024, 1 << 20, u32::MAX];

/// Cuts the next frame off `stream`: its decoded header and payload, or the
/// error the channel would stop the stream with. `None`: the stream ended
/// cleanly between frames.
fn next_frame(
    stream: &mut [u8],
    at: &mut usize,
    max_payload: u32,
    fix_header: bool,
    fix_payload: bool,
) -> Option<Result<(FrameHeader, Vec<u8>), FrameError>> {
    let rest = &mut stream[*at..];
    if rest.is_empty() {
        return None;
    }
    if rest.len() < HEADER_LEN {
        let received = rest.len();
        *at = stream.len();
        return Some(Err(FrameError::Truncated {
            expected: HEADER_LEN,
            received,
        }));
    }
    let announced = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
    if fix_payload {
        let end = rest.len().min(HEADER_LEN.saturating_add(announced));
        let crc = crc32c::crc32c(&rest[HEADER_LEN..end]);
        rest[12..16].copy_from_slice(&crc.to_le_bytes());
    }
    if fix_header {
        let crc = crc32c::crc32c(&rest[0..16]);
        rest[16..20].copy_from_slice(&crc.to_le_bytes());
    }
    let mut bytes = [0u8; HEADER_LEN];
    bytes.copy_from_slice(&rest[..HEADER_LEN]);
    *at += HEADER_LEN;
    let header = match FrameHeader::decode(&bytes, max_payload) {
        Ok(header) => header,
        Err(error) => {
            *at = stream.len();
            return Some(Err(error));
        }
    };
    // The decoder's promise: a header it accepts never asks for more
    // memory than the receiver's limit for its kind.
    match header.kind {
        FrameKind::Data => assert!(header.length <= max_payload),
        FrameKind::Event => assert!(header.length <= MAX_EVENT_PAYLOAD.min(max_payload)),
        FrameKind::Open | FrameKind::Error => assert!(header.length <= MAX_OPEN_PAYLOAD),
        FrameKind::Credit | FrameKind::End => assert_eq!(header.length, 0),
    }
    // Round trip: what decoded re-encodes to the same bytes.
    assert_eq!(header.encode(), bytes);
    let len = header.length as usize;
    let rest = &stream[*at..];
    if rest.len() < len {
        let received = rest.len();
        *at = stream.len();
        return Some(Err(FrameError::Truncated {
            expected: len,
            received,
        }));
    }
    let payload = rest[..len].to_vec();
    *at += len;
    if let Err(error) = header.verify_payload(&payload) {
        *at = stream.len();
        return Some(Err(error));
    }
    Some(Ok((header, payload)))
}

/// What the channel does with a frame error: a fault code for the peer
/// and a log line.
fn report(error: &FrameError) {
    let fault = Fault::from(error);
    assert_eq!(Fault::from_code(u64::from(fault.code())), Some(fault));
    let _ = error.to_string();
}

/// `rpc::RpcServer::accept`'s reading of an Open payload.
fn rpc_open(payload: &[u8]) {
    let id = payload
        .get(1..9)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes);
    match payload.first() {
        Some(b'S') => {
            let _request = &payload[1..];
        }
        Some(b'U') | Some(b'L') => {
            let _ = id;
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let flags = data[0];
    let (fix_header, fix_payload) = (flags & 1 != 0, flags & 2 != 0);
    let max_payload = MAX_PAYLOADS[data[1] as usize % MAX_PAYLOADS.len()];
    let exclusive = u32::from(flags >> 4);
    let mut stream = data[2..].to_vec();
    let mut at = 0usize;

    // accept_stream: the first frame must be Open, read with max payload 0.
    let (open, payload) = match next_frame(&mut stream, &mut at, 0, fix_header, fix_payload) {
        None => return,
        Some(Err(error)) => return report(&error),
        Some(Ok(frame)) => frame,
    };
    if open.kind != FrameKind::Open {
        return report(&FrameError::Unexpected {
            got: open.kind,
            context: "a channel must start with an Open frame",
        });
    }
    let pushes = match open.aux {
        1 => true,
        2 => false,
        _ => {
            return report(&FrameError::Unexpected {
                got: FrameKind::Open,
                context: "the Open frame names no known role",
            })
        }
    };
    rpc_open(&payload);

    if pushes {
        // The acceptor receives: ChannelReceiver's read loop.
        let mut ledger = CreditLedger::new(exclusive);
        let mut granted_total: u64 = 0;
        loop {
            // Grant credit as the granter task does, and let the consumer
            // release frames now and then.
            let grant = ledger.take_grant();
            granted_total += u64::from(grant);
            let floating = ledger.floating_wanted();
            ledger.add_floating(floating.min(4));
            match next_frame(&mut stream, &mut at, max_payload, fix_header, fix_payload) {
                None => {
                    return report(&FrameError::Truncated {
                        expected: HEADER_LEN,
                        received: 0,
                    })
                }
                Some(Err(error)) => return report(&error),
                Some(Ok((header, payload))) => match header.kind {
                    FrameKind::Data | FrameKind::Event => {
                        if let Err(error) = ledger.on_frame(header.aux) {
                            return report(&error);
                        }
                        assert!(payload.len() <= max_payload as usize);
                        if header.kind == FrameKind::Event {
                            // As the runtime reads an event it accepts.
                            if let Err(error) = faro_runtime::message::Signal::decode(&payload) {
                                let _ = error.to_string();
                            }
                        }
                        if payload.len() % 2 == 0 {
                            let _ = ledger.on_release();
                        }
                        assert!(ledger.in_use() as u64 <= granted_total);
                    }
                    FrameKind::Error => {
                        let _ = String::from_utf8_lossy(&payload);
                        return;
                    }
                    FrameKind::End => {
                        if at < stream.len() {
                            report(&FrameError::Unexpected {
                                got: FrameKind::End,
                                context: "bytes followed the End frame",
                            });
                        }
                        return;
                    }
                    other => {
                        return report(&FrameError::Unexpected {
                            got: other,
                            context: "a receiving channel accepts only Data, Event and End frames",
                        })
                    }
                },
            }
        }
    } else {
        // The acceptor sends: the credit reader (max payload 0).
        let mut available: u32 = 0;
        loop {
            match next_frame(&mut stream, &mut at, 0, fix_header, fix_payload) {
                None => return,
                Some(Err(error)) => return report(&error),
                Some(Ok((header, payload))) => match header.kind {
                    // `read_credit` adds a peer's credit saturating.
                    FrameKind::Credit => available = available.saturating_add(header.aux),
                    FrameKind::Error => {
                        let _ = String::from_utf8_lossy(&payload);
                        return;
                    }
                    other => {
                        let _ = available;
                        return report(&FrameError::Unexpected {
                            got: other,
                            context: "a sending channel accepts only Credit frames",
                        });
                    }
                },
            }
        }
    }
});
