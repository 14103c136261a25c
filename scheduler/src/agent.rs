//! The worker process's side of the control connection: register with
//! the scheduler, heartbeat, and answer its calls (run an attempt, cancel
//! one, finish a job) on the same connection.
//!
//! A worker that loses the scheduler (the connection drops, or the
//! scheduler says it no longer knows the worker) cancels every attempt it
//! runs — the scheduler has given them up and will run them again — and
//! registers anew, retrying until the scheduler is back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faro_runtime::attempt::{batch_from_bytes, encode_outcome, AttemptKey};
use faro_runtime::checkpoint::{CheckpointAck, CheckpointAcks};
use faro_runtime::data::Batch;
use faro_runtime::exchange::agreement::{Agreeing, SampleExchange, SampleRequest};
use faro_runtime::worker::Worker;
use faro_transport::rpc::{call, Responder, RpcServer};
use faro_transport::{Connection, Endpoint};

use crate::control::{AttemptProgress, FromScheduler, ToScheduler, ToWorker, DONE};

/// How long to wait before trying to reach the scheduler again.
const RECONNECT: Duration = Duration::from_millis(500);

/// The worker's way to the scheduler for range samples and checkpoint
/// acknowledgements: the current control connection.
#[derive(Default)]
struct SchedulerSamples {
    connection: Mutex<Option<Connection>>,
}

impl SampleExchange for SchedulerSamples {
    fn gather(
        &self,
        request: SampleRequest,
        sample: Batch,
    ) -> Agreeing<'static, Result<Vec<Batch>, String>> {
        let connection = self
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Box::pin(async move {
            let connection = connection.ok_or("not connected to the scheduler")?;
            let message = ToScheduler::Samples {
                job: request.job,
                exchange: request.exchange,
                producer: request.producer,
                producers: request.producers,
                sample: sample.to_bytes().to_vec(),
            };
            match ask(&connection, &message).await? {
                FromScheduler::Samples { samples } => samples
                    .iter()
                    .map(|bytes| batch_from_bytes(bytes).map_err(|e| format!("a sample: {e}")))
                    .collect(),
                FromScheduler::Refused { message } => Err(message),
                other => Err(format!("unexpected answer to samples: {other:?}")),
            }
        })
    }
}

impl CheckpointAcks for SchedulerSamples {
    /// Sent on the current control connection, off the task's loop; an
    /// acknowledgement that cannot be sent leaves the checkpoint to time
    /// out.
    fn ack(&self, ack: CheckpointAck) {
        self.tell(ToScheduler::CheckpointAck(ack), "acknowledge a checkpoint");
    }

    /// Sent like an acknowledgement; a report that cannot be sent is
    /// lost with the connection (the count is a lower bound then).
    fn records_lost(&self, lost: faro_runtime::rewire::RecordsLost) {
        self.tell(
            ToScheduler::RecordsLost(lost),
            "report records possibly lost",
        );
    }
}

impl SchedulerSamples {
    /// Sends `message` on the current control connection, off the
    /// caller's loop; logs if it cannot (`doing` says what it was for).
    fn tell(&self, message: ToScheduler, doing: &'static str) {
        let connection = self
            .connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(connection) = connection else {
            return;
        };
        tokio::spawn(async move {
            if let Err(error) = ask(&connection, &message).await {
                tracing::warn!(%error, "cannot {doing}");
            }
        });
    }
}

/// Serves `scheduler` from `worker` until the process ends.
pub async fn serve_scheduler(worker: Arc<Worker>, endpoint: Endpoint, scheduler: SocketAddr) {
    let mut announced = false;
    let samples = Arc::new(SchedulerSamples::default());
    worker.set_sample_exchange(samples.clone());
    worker.set_checkpoint_acks(samples.clone());
    loop {
        match session(&worker, &endpoint, scheduler, &mut announced, &samples).await {
            Ok(()) => {}
            Err(error) => tracing::warn!(%scheduler, %error, "no scheduler; retrying"),
        }
        let running = worker.running_count();
        if running > 0 {
            tracing::warn!(running, "lost the scheduler: cancelling every attempt");
        }
        worker.cancel_all();
        tokio::time::sleep(RECONNECT).await;
    }
}

async fn ask(connection: &Connection, message: &ToScheduler) -> Result<FromScheduler, String> {
    let request = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    let answer = call(connection, &request)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&answer).map_err(|e| format!("malformed answer from the scheduler: {e}"))
}

/// One connection's life: register, serve calls, heartbeat until the
/// scheduler is gone or forgot this worker.
async fn session(
    worker: &Arc<Worker>,
    endpoint: &Endpoint,
    scheduler: SocketAddr,
    announced: &mut bool,
    samples: &SchedulerSamples,
) -> Result<(), String> {
    let connection = endpoint
        .connect(scheduler, "localhost")
        .await
        .map_err(|e| e.to_string())?;
    *samples.connection.lock().unwrap_or_else(|p| p.into_inner()) = Some(connection.clone());
    let calls = tokio::spawn(serve_calls(connection.clone(), worker.clone()));
    let registered = ask(
        &connection,
        &ToScheduler::Register {
            worker: worker.id(),
            slots: worker.slots(),
        },
    )
    .await;
    let interval = match registered {
        Ok(FromScheduler::Registered { heartbeat_ms }) => {
            Duration::from_millis(heartbeat_ms.max(10))
        }
        Ok(other) => {
            calls.abort();
            return Err(format!("unexpected answer to register: {other:?}"));
        }
        Err(error) => {
            calls.abort();
            return Err(error);
        }
    };
    if !*announced {
        // The first line of stdout names the worker, for scripts and tests.
        println!("faro worker {} registered with {scheduler}", worker.id());
        *announced = true;
    }
    tracing::info!(%scheduler, worker = %worker.id(), slots = worker.slots(), "registered");
    let patience = (interval * 3).max(Duration::from_secs(1));
    let ended = loop {
        tokio::time::sleep(interval).await;
        // A scheduler killed outright never closes the connection; an
        // unanswered heartbeat is how the worker finds out.
        let beat = ToScheduler::Heartbeat {
            worker: worker.id(),
            progress: worker
                .progress()
                .into_iter()
                .map(|(key, progress)| AttemptProgress::new(key, progress))
                .collect(),
        };
        let heartbeat = ask(&connection, &beat);
        match tokio::time::timeout(patience, heartbeat).await {
            Ok(Ok(FromScheduler::Alive)) => {}
            Ok(Ok(FromScheduler::Unknown)) => break Ok(()),
            Ok(Ok(other)) => break Err(format!("unexpected answer to a heartbeat: {other:?}")),
            Ok(Err(error)) => break Err(error),
            Err(_) => break Err(format!("no answer to a heartbeat within {patience:?}")),
        }
    };
    calls.abort();
    connection.close();
    ended
}

/// Answers the scheduler's calls on `connection`.
async fn serve_calls(connection: Connection, worker: Arc<Worker>) {
    let server = Arc::new(RpcServer::new());
    while let Ok(incoming) = connection.accept_channel().await {
        let (server, worker) = (server.clone(), worker.clone());
        let connection = connection.clone();
        tokio::spawn(async move {
            match server.accept(incoming).await {
                Ok(Some((request, responder))) => {
                    answer(&worker, &connection, &request, responder).await
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "a control call failed"),
            }
        });
    }
}

/// How many batches of live rows wait on the worker for the scheduler.
const LIVE_BATCHES: usize = 4;

/// Runs an attempt; a streaming one's `collect` rows go to the scheduler
/// as they come, every one of them before the attempt's outcome.
async fn run_attempt(
    worker: &Worker,
    connection: &Connection,
    deployment: faro_runtime::deploy::TaskDeployment,
) -> Vec<u8> {
    if !deployment.live_collect {
        return encode_outcome(&worker.run_attempt(deployment, None).await);
    }
    let key = AttemptKey::of(&deployment);
    let (live, mut rows) = tokio::sync::mpsc::channel::<Batch>(LIVE_BATCHES);
    let (connection, sender) = (connection.clone(), worker.id());
    let pump = tokio::spawn(async move {
        while let Some(batch) = rows.recv().await {
            let message = ToScheduler::Rows {
                worker: sender.clone(),
                job: key.job.clone(),
                chain: key.chain,
                subtask: key.subtask,
                attempt: key.attempt,
                batch: batch.to_bytes().to_vec(),
            };
            match ask(&connection, &message).await {
                Ok(FromScheduler::Taken) => {}
                // Dropping the receiver fails the sink: nobody reads.
                Ok(other) => {
                    tracing::warn!(answer = ?other, "the scheduler refused live rows");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot send live rows to the scheduler");
                    return;
                }
            }
        }
    });
    let outcome = worker.run_attempt(deployment, Some(live)).await;
    let _ = pump.await;
    encode_outcome(&outcome)
}

async fn answer(worker: &Worker, connection: &Connection, request: &[u8], responder: Responder) {
    let message: ToWorker = match serde_json::from_slice(request) {
        Ok(message) => message,
        Err(error) => {
            responder
                .refuse(&format!("malformed control request: {error}"))
                .await;
            return;
        }
    };
    let response = match message {
        ToWorker::Run(deployment) => run_attempt(worker, connection, *deployment).await,
        ToWorker::Cancel {
            job,
            chain,
            subtask,
            attempt,
        } => {
            worker.cancel_attempt(&AttemptKey {
                job,
                chain,
                subtask,
                attempt,
            });
            DONE.to_vec()
        }
        ToWorker::Checkpoint {
            job,
            chain,
            subtask,
            attempt,
            checkpoint,
            unaligned,
        } => {
            let key = AttemptKey {
                job,
                chain,
                subtask,
                attempt,
            };
            if !worker.trigger_checkpoint(&key, checkpoint, unaligned) {
                responder.refuse("the attempt does not run here").await;
                return;
            }
            DONE.to_vec()
        }
        ToWorker::CheckpointComplete {
            job,
            checkpoint,
            stop,
        } => {
            worker.checkpoint_complete(&job, checkpoint, stop);
            DONE.to_vec()
        }
        ToWorker::PeerRestarted(restart) => {
            worker.peer_restarted(restart).await;
            DONE.to_vec()
        }
        ToWorker::Probe => DONE.to_vec(),
        ToWorker::FinishJob { job } => {
            worker.cancel_job(&job);
            worker.finish_job(&job);
            DONE.to_vec()
        }
    };
    if let Err(error) = responder.respond(&response).await {
        tracing::debug!(%error, "the scheduler did not take an answer");
    }
}
