//! `shuffle_request`: the shuffle node's request decoding and what it does
//! with a request, plus the client's decoding of the node's answer.
//!
//! The input is one or more Open payloads, one per line. Each is decoded
//! exactly as `ShuffleServer::serve_channel` does
//! (`serde_json::from_slice::<Envelope>`), authorized the same way
//! (`valid_job_id`, then the HMAC token check, which the fuzzer cannot
//! forge: the harness then goes on as the job's own tasks would, holding a
//! real token), and applied to a real `ShuffleStore` in a fresh directory
//! under /dev/shm, following `server/requests.rs`: register creates the
//! store, push appends frames, commit commits, fetch reads the partition's
//! visible frames, list/delete_job/stats/heartbeat. The same bytes are also
//! decoded as a `Response`, as `ShuffleClient` reads the node's answers.

#![no_main]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use faro_shuffle::protocol::{valid_job_id, Envelope, Request, Response};
use faro_shuffle::storage::{IoPreference, RecordKey, ShuffleShape, ShuffleStore};
use faro_shuffle::ClusterSecret;
use libfuzzer_sys::fuzz_target;

fn scratch() -> PathBuf {
    PathBuf::from(format!(
        "/dev/shm/faro-fuzz-shuffle-request-{}",
        std::process::id()
    ))
}

fn secret() -> &'static ClusterSecret {
    static SECRET: OnceLock<ClusterSecret> = OnceLock::new();
    SECRET.get_or_init(|| ClusterSecret::new(b"faro fuzz cluster secret"))
}

#[derive(Default)]
struct Node {
    shuffles: HashMap<(String, u32), ShuffleStore>,
}

impl Node {
    fn label(job: &str, shuffle: u32) -> String {
        format!("job {job} shuffle {shuffle}")
    }

    fn serve(&mut self, envelope: Envelope, frames: &[&[u8]]) {
        let (job, shuffle) = (envelope.job.clone(), envelope.shuffle);
        let key = (job.clone(), shuffle);
        match envelope.request {
            Request::Register { maps, partitions } => {
                // `register` refuses a shape out of bounds before it locks.
                let shape = ShuffleShape { maps, partitions };
                if let Err(reason) = shape.check() {
                    let _ = format!("{}: {reason}", Self::label(&job, shuffle));
                    return;
                }
                if let Some(existing) = self.shuffles.get(&key) {
                    let _ = existing.shape() == shape;
                    return;
                }
                let dir = scratch().join(&job).join(shuffle.to_string());
                match ShuffleStore::create(
                    &dir,
                    &Self::label(&job, shuffle),
                    shape,
                    IoPreference::Std,
                ) {
                    Ok(store) => {
                        self.shuffles.insert(key, store);
                    }
                    Err(error) => {
                        let _ = error.to_string();
                    }
                }
            }
            Request::Push {
                partition,
                map,
                attempt,
                first_seq,
            } => {
                let Some(store) = self.shuffles.get_mut(&key) else {
                    return;
                };
                // `serve_push` numbers the frames from `first_seq` and
                // refuses the push past u32::MAX.
                let mut seq = first_seq;
                for frame in frames {
                    let key = RecordKey {
                        map_id: map,
                        attempt,
                        seq,
                    };
                    if let Err(error) =
                        store.push_checked(partition, key, frame, crc32c::crc32c(frame))
                    {
                        let _ = error.to_string();
                        return;
                    }
                    seq = match seq.checked_add(1) {
                        Some(next) => next,
                        None => return,
                    };
                }
            }
            Request::Commit { map, attempt } => {
                if let Some(store) = self.shuffles.get_mut(&key) {
                    match store.commit(map, attempt) {
                        Ok(plan) => {
                            let _ = format!("{plan:?}");
                        }
                        Err(error) => {
                            let _ = error.to_string();
                        }
                    }
                }
            }
            Request::Fetch { partition, maps } => {
                let maps = maps.unwrap_or(0..u32::MAX);
                if let Some(store) = self.shuffles.get(&key) {
                    match store.read_maps(partition, maps) {
                        Ok(frames) => {
                            for index in 0..frames.len() {
                                let payload = frames.get(index).expect("listed frame");
                                let crc = frames.checksum(index).expect("listed checksum");
                                assert_eq!(crc32c::crc32c(payload), crc);
                                assert_eq!(
                                    payload.as_ptr() as usize % 16,
                                    0,
                                    "payloads are 16-byte aligned"
                                );
                            }
                            assert_eq!(frames.iter().count(), frames.len());
                        }
                        Err(error) => {
                            let _ = error.to_string();
                        }
                    }
                }
            }
            Request::DeleteJob => {
                self.shuffles.retain(|(owner, _), _| owner != &job);
                let _ = std::fs::remove_dir_all(scratch().join(&job));
            }
            Request::List => {
                for ((owner, _), store) in &self.shuffles {
                    if owner == &job {
                        let _ = (
                            store.shape(),
                            store.book().committed_maps(),
                            store.stored_bytes(),
                        );
                    }
                }
            }
            Request::Stats | Request::Heartbeat => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let mut node = Node::default();
    for (n, line) in lines.iter().enumerate() {
        // The client side: a node's answer.
        if let Ok(response) = serde_json::from_slice::<Response>(line) {
            let bytes = serde_json::to_vec(&response).expect("a response serializes");
            assert_eq!(
                serde_json::from_slice::<Response>(&bytes).expect("round trip"),
                response
            );
        }
        // The node side: an Open payload.
        let envelope = match serde_json::from_slice::<Envelope>(line) {
            Ok(envelope) => envelope,
            Err(error) => {
                let _ = format!("malformed request: {error}");
                continue;
            }
        };
        let bytes = serde_json::to_vec(&envelope).expect("an envelope serializes");
        assert_eq!(
            serde_json::from_slice::<Envelope>(&bytes).expect("round trip"),
            envelope
        );
        if !valid_job_id(&envelope.job) {
            continue;
        }
        assert!(!envelope.job.contains(['/', '.', '\\']));
        let _ = secret().verify(&envelope.job, &envelope.token);
        // Frames a push carries: the lines after it, at most three.
        let frames: Vec<&[u8]> = lines[n + 1..].iter().take(3).copied().collect();
        node.serve(envelope, &frames);
    }
    drop(node);
    let _ = std::fs::remove_dir_all(scratch());
});
