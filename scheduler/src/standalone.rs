//! The scheduler process's control endpoint: worker processes connect,
//! register and heartbeat here, and the scheduler calls them back on the
//! same connections (see [`crate::control`]). Streaming jobs' workers
//! send their live `collect` rows here too.

use std::sync::Arc;

use faro_transport::rpc::{Responder, RpcServer};
use faro_transport::{Connection, Endpoint};

use faro_runtime::attempt::{batch_from_bytes, AttemptKey};

use crate::checkpoints::CheckpointHub;
use crate::control::{FromScheduler, ToScheduler};
use crate::ranges::Samples;
use crate::workers::Workers;
use faro_runtime::checkpoint::CheckpointAcks;

/// Accepts workers on `endpoint` until it closes; range samples are
/// gathered in `samples`, checkpoint acknowledgements routed by
/// `checkpoints`.
pub async fn serve_control(
    endpoint: Endpoint,
    workers: Arc<Workers>,
    samples: Arc<Samples>,
    checkpoints: Arc<CheckpointHub>,
) {
    workers.spawn_expiry();
    while let Some(handshake) = endpoint.accept_handshake().await {
        let routes = (workers.clone(), samples.clone(), checkpoints.clone());
        // Each handshake in its own task: a worker killed mid-handshake
        // must not hold up the others' registrations.
        tokio::spawn(async move {
            match handshake.complete().await {
                Ok(connection) => serve_worker(connection, routes).await,
                Err(error) => tracing::debug!(%error, "a worker could not connect"),
            }
        });
    }
}

/// What a worker's messages reach: the registry, the range samples and
/// the checkpoint acknowledgement routes.
type Routes = (Arc<Workers>, Arc<Samples>, Arc<CheckpointHub>);

async fn serve_worker(connection: Connection, routes: Routes) {
    let server = Arc::new(RpcServer::new());
    while let Ok(incoming) = connection.accept_channel().await {
        let (server, routes, connection) = (server.clone(), routes.clone(), connection.clone());
        tokio::spawn(async move {
            match server.accept(incoming).await {
                Ok(Some((request, responder))) => {
                    answer(&routes, &connection, &request, responder).await;
                }
                Ok(None) => {}
                Err(error) => tracing::debug!(%error, "a control call failed"),
            }
        });
    }
}

async fn answer(routes: &Routes, connection: &Connection, request: &[u8], responder: Responder) {
    let (workers, samples, checkpoints) = routes;
    let answer = match serde_json::from_slice::<ToScheduler>(request) {
        Ok(ToScheduler::Register { worker, slots }) => {
            workers.register(worker, slots, connection.clone());
            FromScheduler::Registered {
                heartbeat_ms: workers.detection().interval.as_millis().max(10) as u64,
            }
        }
        Ok(ToScheduler::Heartbeat { worker, progress }) => {
            let progress = progress.into_iter().map(|p| p.into_parts()).collect();
            if workers.heartbeat(&worker, progress) {
                FromScheduler::Alive
            } else {
                FromScheduler::Unknown
            }
        }
        Ok(ToScheduler::Samples {
            job,
            exchange,
            producer,
            producers,
            sample,
        }) => match samples
            .gather(&job, exchange, producer, producers, sample)
            .await
        {
            Ok(all) => FromScheduler::Samples {
                samples: all.as_ref().clone(),
            },
            Err(message) => FromScheduler::Refused { message },
        },
        Ok(ToScheduler::Rows {
            worker,
            job,
            chain,
            subtask,
            attempt,
            batch,
        }) => {
            let key = AttemptKey {
                job,
                chain,
                subtask,
                attempt,
            };
            take_rows(workers, &worker, &key, &batch).await
        }
        Ok(ToScheduler::CheckpointAck(ack)) => {
            checkpoints.ack(ack);
            FromScheduler::Taken
        }
        Ok(ToScheduler::RecordsLost(lost)) => {
            checkpoints.records_lost(lost);
            FromScheduler::Taken
        }
        Err(error) => {
            responder
                .refuse(&format!("malformed control request: {error}"))
                .await;
            return;
        }
    };
    let bytes = serde_json::to_vec(&answer).unwrap_or_default();
    if let Err(error) = responder.respond(&bytes).await {
        tracing::debug!(%error, "a worker did not take an answer");
    }
}

/// Hands one batch of live `collect` rows to whoever reads the attempt's
/// rows, waiting while they are behind.
async fn take_rows(
    workers: &Workers,
    worker: &str,
    key: &AttemptKey,
    batch: &[u8],
) -> FromScheduler {
    let refused = |message: String| FromScheduler::Refused { message };
    let Some(live) = workers.get(worker).and_then(|w| w.live_rows(key)) else {
        return refused(format!(
            "no live rows are awaited from {}[{}] attempt {} of job {}",
            key.chain, key.subtask, key.attempt, key.job
        ));
    };
    let batch = match batch_from_bytes(batch) {
        Ok(batch) => batch,
        Err(error) => return refused(format!("malformed rows: {error}")),
    };
    match live.send(batch).await {
        Ok(()) => FromScheduler::Taken,
        Err(_) => refused("the reader of the job's rows went away".into()),
    }
}
