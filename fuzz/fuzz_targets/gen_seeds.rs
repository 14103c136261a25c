//! Not a fuzz target: writes the binary seed corpora (frames, archived
//! batches, control messages, outcomes, shuffle directories) with the
//! project's own encoders, so seeds follow the formats as they change.
//! Run once from fuzz/ (see README): it writes under `$FARO_FUZZ_SEEDS`
//! (default `corpus`) and exits before fuzzing starts.

#![no_main]

use std::path::{Path, PathBuf};

use faro_runtime::attempt::encode_outcome;
use faro_runtime::attempt::TaskDone;
use faro_runtime::task::TaskReport;
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value, VectorElement};
use faro_scheduler::control::{FromScheduler, ToScheduler, ToWorker};
use faro_shuffle::storage::{IoPreference, RecordKey, ShuffleShape, ShuffleStore};
use faro_transport::frame::{FrameHeader, FrameKind};
use libfuzzer_sys::fuzz_target;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn frame(kind: FrameKind, aux: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = FrameHeader::for_payload(kind, aux, payload)
        .unwrap()
        .encode()
        .to_vec();
    out.extend_from_slice(payload);
    out
}

fn frames(root: &Path) {
    let dir = root.join("frame");
    // [flags][max payload selector] stream
    let mut push = vec![0x30, 2];
    push.extend(frame(FrameKind::Open, 1, b"job-1/0/0->1@0"));
    push.extend(frame(FrameKind::Data, 2, b"first batch bytes"));
    push.extend(frame(FrameKind::Data, 0, b"second"));
    push.extend(frame(FrameKind::End, 0, b""));
    write(&dir, "push-data-end", &push);
    let mut pull = vec![0x00, 2];
    pull.extend(frame(
        FrameKind::Open,
        2,
        b"S{\"Heartbeat\":{\"worker\":\"w\"}}",
    ));
    pull.extend(frame(FrameKind::Credit, 4, b""));
    pull.extend(frame(FrameKind::Credit, u32::MAX, b""));
    pull.extend(frame(FrameKind::Error, 0, "refused: é".as_bytes()));
    write(&dir, "pull-credit-error", &pull);
    let mut upload = vec![0x13, 1];
    upload.extend(frame(
        FrameKind::Open,
        1,
        b"U\x01\x02\x03\x04\x05\x06\x07\x08",
    ));
    upload.extend(frame(FrameKind::Data, 0, &[0u8; 1024]));
    upload.extend(frame(FrameKind::Error, 0, b"bye"));
    write(&dir, "upload-fixed-crc", &upload);
    let mut refused = vec![0x03, 0];
    refused.extend(frame(FrameKind::Data, 0, b"no open first"));
    write(&dir, "data-before-open", &refused);
}

fn sample_batches() -> Vec<(&'static str, Batch)> {
    let all_types = Schema::new(vec![
        Field::new("b", DataType::Bool),
        Field::nullable("i", DataType::Int64),
        Field::new("f", DataType::Float64),
        Field::nullable("s", DataType::Utf8),
        Field::new("bin", DataType::Binary),
        Field::nullable("t", DataType::Timestamp),
        Field::new(
            "v32",
            DataType::Vector {
                element: VectorElement::F32,
                dim: 2,
            },
        ),
        Field::nullable(
            "v64",
            DataType::Vector {
                element: VectorElement::F64,
                dim: 1,
            },
        ),
    ]);
    let mut builder = BatchBuilder::new(all_types.clone(), 3);
    let rows = [
        [
            Value::Bool(true),
            Value::Int64(i64::MIN),
            Value::Float64(f64::NAN),
            Value::Utf8("héllo".into()),
            Value::Binary(vec![0, 255]),
            Value::Timestamp(0),
            Value::F32Vector(vec![1.0, -0.0]),
            Value::F64Vector(vec![f64::INFINITY]),
        ],
        [
            Value::Bool(false),
            Value::Null,
            Value::Float64(-1.5),
            Value::Null,
            Value::Binary(vec![]),
            Value::Null,
            Value::F32Vector(vec![0.5, 2.0]),
            Value::Null,
        ],
        [
            Value::Bool(true),
            Value::Int64(7),
            Value::Float64(0.0),
            Value::Utf8(String::new()),
            Value::Binary(b"xyz".to_vec()),
            Value::Timestamp(-1),
            Value::F32Vector(vec![3.0, 4.0]),
            Value::F64Vector(vec![1e300]),
        ],
    ];
    for row in &rows {
        builder.push_row(row).unwrap();
    }
    let mixed = builder.finish().unwrap();
    let words = {
        let schema = Schema::new(vec![
            Field::new("word", DataType::Utf8),
            Field::nullable("n", DataType::Int64),
        ]);
        let mut b = BatchBuilder::new(schema, 2);
        b.push_row(&[Value::Utf8("a".into()), Value::Int64(1)])
            .unwrap();
        b.push_row(&[Value::Utf8("b".into()), Value::Null]).unwrap();
        b.finish().unwrap()
    };
    let empty = BatchBuilder::new(all_types, 0).finish().unwrap();
    // A batch that holds no bytes yet claims u32::MAX rows: only columns
    // without data (vectors of dimension 0). BatchView accepts it.
    let hollow = Batch::new(
        Schema::new(vec![Field::new(
            "v",
            DataType::Vector {
                element: VectorElement::F32,
                dim: 0,
            },
        )]),
        u32::MAX as usize,
        vec![faro_runtime::Column {
            validity: None,
            data: faro_runtime::ColumnData::F32Vector(Vec::new()),
        }],
    )
    .unwrap();
    vec![
        ("mixed", mixed),
        ("words", words),
        ("empty", empty),
        ("hollow-4g-rows", hollow),
    ]
}

fn batches(root: &Path) {
    for (name, batch) in sample_batches() {
        write(&root.join("batch"), name, &batch.to_bytes());
    }
}

fn control(root: &Path) {
    let dir = root.join("control");
    let json = |tag: u8, value: &dyn erased::Json| {
        let mut out = vec![tag];
        out.extend(value.json());
        out
    };
    let sample = sample_batches()[1].1.to_bytes().to_vec();
    write(
        &dir,
        "register",
        &json(
            0,
            &ToScheduler::Register {
                worker: "127.0.0.1:7000".into(),
                slots: 4,
            },
        ),
    );
    write(
        &dir,
        "heartbeat",
        &json(0, &ToScheduler::Heartbeat { worker: "w".into() }),
    );
    write(
        &dir,
        "samples",
        &json(
            0,
            &ToScheduler::Samples {
                job: "j".into(),
                exchange: 0,
                producer: 0,
                producers: 2,
                sample: sample.clone(),
            },
        ),
    );
    write(
        &dir,
        "registered",
        &json(1, &FromScheduler::Registered { heartbeat_ms: 250 }),
    );
    write(
        &dir,
        "all-samples",
        &json(
            1,
            &FromScheduler::Samples {
                samples: vec![sample.clone(), vec![]],
            },
        ),
    );
    write(
        &dir,
        "refused",
        &json(
            1,
            &FromScheduler::Refused {
                message: "no".into(),
            },
        ),
    );
    write(
        &dir,
        "cancel",
        &json(
            2,
            &ToWorker::Cancel {
                job: "j".into(),
                chain: 1,
                subtask: 0,
                attempt: 2,
            },
        ),
    );
    write(
        &dir,
        "finish",
        &json(2, &ToWorker::FinishJob { job: "j".into() }),
    );
    let spec = include_str!("../../examples/shuffle_agg.json");
    let run = format!(
        r#"{{"Run":{{"job_id":"j1","spec":{spec},"chain":1,"subtask":0,"attempt":0,"placement":[["127.0.0.1:7000","127.0.0.1:7001"],["127.0.0.1:7000","w2"],["w3"]],"shuffle":{{"nodes":[["n1","127.0.0.1:7100"]],"token":"ab","replicas":1}},"max_frame":1048576}}}}"#
    );
    let mut bytes = vec![2];
    bytes.extend(run.as_bytes());
    write(&dir, "run", &bytes);
    let done = TaskDone {
        report: TaskReport::default(),
        collected: vec![sample_batches()[1].1.clone(), sample_batches()[0].1.clone()],
    };
    let mut outcome = vec![3];
    outcome.extend(encode_outcome(&Ok(done)));
    write(&dir, "outcome-ok", &outcome);
    let mut failed = vec![3];
    failed.extend(encode_outcome(&Err(
        faro_runtime::failure::TaskFailure::deterministic("boom"),
    )));
    write(&dir, "outcome-err", &failed);
    // Tag 1: a failure without a cause, from an older worker.
    write(&dir, "outcome-err-old", b"\x03\x01old failure");
}

mod erased {
    pub trait Json {
        fn json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap()
        }
    }
}

/// A real shuffle directory, packed into `shuffle_storage`'s input format.
fn storage(root: &Path) {
    let dir = std::env::temp_dir().join(format!("faro-gen-seeds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = ShuffleStore::create(
        &dir,
        "seed",
        ShuffleShape {
            maps: 2,
            partitions: 2,
        },
        IoPreference::Std,
    )
    .unwrap();
    for (map, attempt, partition, seq, payload) in [
        (0, 0, 0, 0, &b"map 0 frame 0"[..]),
        (0, 0, 0, 1, b"map 0 frame 1, longer than sixteen bytes"),
        (0, 0, 1, 0, b""),
        (1, 0, 0, 0, b"lost attempt"),
        (1, 1, 0, 0, b"winning attempt"),
        (1, 1, 1, 0, b"x"),
    ] {
        store
            .push(
                partition,
                RecordKey {
                    map_id: map,
                    attempt,
                    seq,
                },
                payload,
            )
            .unwrap();
    }
    store.commit(0, 0).unwrap();
    store.commit(1, 1).unwrap();
    drop(store);
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_default();
    let pack = |flags: u8, torn: usize| {
        let mut out = vec![flags, 0b0101];
        if flags & 1 != 0 {
            let meta = read("shuffle.meta");
            out.push(meta.len() as u8);
            out.extend(meta);
        }
        let log = read("commits.log");
        out.extend((log.len() as u16).to_le_bytes());
        out.extend(&log);
        for p in 0..2 {
            let mut part = read(&format!("part-{p:05}.data"));
            part.truncate(part.len().saturating_sub(torn));
            out.extend((part.len() as u16).to_le_bytes());
            out.extend(part);
        }
        out
    };
    let out = root.join("shuffle_storage");
    write(&out, "committed-two-maps", &pack(0x01, 0));
    write(&out, "committed-fixed-crcs", &pack(0x07, 0));
    write(&out, "torn-tail", &pack(0x01, 5));
    write(&out, "generated-meta", &pack(0x00, 0));
    let _ = std::fs::remove_dir_all(&dir);
}

fuzz_target!(
    init: {
        let root = PathBuf::from(std::env::var("FARO_FUZZ_SEEDS").unwrap_or_else(|_| "corpus".into()));
        frames(&root);
        batches(&root);
        control(&root);
        storage(&root);
        eprintln!("seeds written under {}", root.display());
        if std::env::var_os("FARO_FUZZ_SEEDS_THEN_FUZZ").is_none() {
            std::process::exit(0);
        }
    },
    |_data: &[u8]| {}
);
