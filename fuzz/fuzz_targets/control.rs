//! `control`: the scheduler ↔ worker control messages (JSON over the
//! control RPC, `scheduler/src/control.rs`) and the attempt outcome bytes
//! (`faro_runtime::attempt::decode_outcome`).
//!
//! The first input byte picks the reader, the rest is the message:
//! - 0: the scheduler reading a worker's request (`ToScheduler`,
//!   `standalone.rs`); a sample is an archived batch, validated with
//!   `batch_from_bytes` as the workers that receive it do;
//! - 1: a worker reading the scheduler's answer (`FromScheduler`,
//!   `agent.rs::ask`), every sample through `batch_from_bytes`;
//! - 2: a worker reading a call (`ToWorker`, `agent.rs::answer`); for a
//!   `Run`, the deployment's spec is validated and planned and its chain,
//!   exchanges and placement looked up as `deploy_task` does;
//! - 3: the scheduler reading a `Run` answer (`decode_outcome`), every
//!   collected batch touched.

#![no_main]

use faro_runtime::attempt::{batch_from_bytes, decode_outcome, encode_outcome};
use faro_runtime::plan::Plan;
use faro_runtime::spec::validate;
use faro_scheduler::control::{FromScheduler, ToScheduler, ToWorker};
use libfuzzer_sys::fuzz_target;

fn touch_batch(batch: &faro_runtime::Batch) {
    for index in 0..batch.columns().len() {
        let column = batch.column(index).expect("a decoded batch's column");
        for row in 0..batch.num_rows() {
            let _ = column.value(row);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, message)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => match serde_json::from_slice::<ToScheduler>(message) {
            Ok(ToScheduler::Samples {
                producer,
                producers,
                sample,
                ..
            }) => {
                let _ = producer < producers;
                if let Ok(batch) = batch_from_bytes(&sample) {
                    touch_batch(&batch);
                }
            }
            Ok(other) => {
                let _ = serde_json::to_vec(&other).expect("serializes");
            }
            Err(error) => {
                let _ = format!("malformed control request: {error}");
            }
        },
        1 => match serde_json::from_slice::<FromScheduler>(message) {
            Ok(FromScheduler::Samples { samples }) => {
                for sample in &samples {
                    if let Ok(batch) = batch_from_bytes(sample) {
                        touch_batch(&batch);
                    }
                }
            }
            Ok(other) => {
                let bytes = serde_json::to_vec(&other).expect("serializes");
                assert_eq!(
                    serde_json::from_slice::<FromScheduler>(&bytes).expect("round trip"),
                    other
                );
            }
            Err(error) => {
                let _ = format!("malformed answer from the scheduler: {error}");
            }
        },
        2 => match serde_json::from_slice::<ToWorker>(message) {
            Ok(ToWorker::Run(d)) => {
                let Ok(job) = validate(&d.spec) else {
                    return;
                };
                let plan = Plan::new(&job);
                let Some(chain) = plan.chains.get(d.chain) else {
                    return;
                };
                let worker_of = |chain: usize, subtask: u32| {
                    d.placement
                        .get(chain)
                        .and_then(|w| w.get(subtask as usize))
                        .map(String::as_str)
                };
                for &e in &chain.inputs {
                    let exchange = &plan.exchanges[e];
                    for p in 0..exchange.producers.min(1 << 12) {
                        let _ =
                            faro_runtime::deploy::pair_key(&d.job_id, e, (p, 0), (d.subtask, d.attempt));
                        let _ = worker_of(exchange.from, p);
                    }
                }
                for &e in &chain.outputs {
                    let exchange = &plan.exchanges[e];
                    for q in 0..exchange.consumers.min(1 << 12) {
                        let _ =
                            faro_runtime::deploy::pair_key(&d.job_id, e, (d.subtask, d.attempt), (q, 0));
                        if let Some(target) = worker_of(exchange.to, q) {
                            let _ = target.parse::<std::net::SocketAddr>();
                        }
                    }
                }
            }
            Ok(other) => {
                let _ = serde_json::to_vec(&other).expect("serializes");
            }
            Err(error) => {
                let _ = format!("malformed control request: {error}");
            }
        },
        _ => match decode_outcome(message) {
            Ok(Ok(done)) => {
                for batch in &done.collected {
                    touch_batch(batch);
                }
                // What decoded encodes and decodes again to the same batches.
                let again = decode_outcome(&encode_outcome(&Ok(done))).expect("re-decodes");
                assert!(again.is_ok());
            }
            Ok(Err(failure)) => {
                let _ = format!("{failure:?}");
            }
            Err(error) => {
                let _ = error.to_string();
            }
        },
    }
});
