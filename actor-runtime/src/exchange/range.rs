//! Range edges: boundaries every producer agrees on. A range writer holds
//! its output (and a systematic sample of it) until its input ends, hands
//! the sample to the exchange's [`RangeCoordinator`] (or, across
//! processes, its [`super::agreement::RangeAgreement`]), and routes once
//! all producers' samples have produced the boundaries. The held output is
//! in memory: range edges are for data that fits.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::agreement::RangeAgreement;
use super::partition::RangeBounds;
use super::ExchangeError;
use crate::data::{Batch, BatchError, Schema};
use crate::kernels::take::{concat, take_batch};
use crate::kernels::views;

/// Collects every producer's sample of a range edge and publishes the
/// boundaries once the last one arrives.
pub struct RangeCoordinator {
    producers: u32,
    keys: Vec<usize>,
    consumers: u32,
    samples: Mutex<Vec<Batch>>,
    bounds: watch::Sender<Option<Arc<RangeBounds>>>,
}

impl RangeCoordinator {
    /// A coordinator for `producers` producers routing to `consumers`.
    pub fn new(producers: u32, keys: Vec<usize>, consumers: u32) -> Arc<Self> {
        Arc::new(Self {
            producers,
            keys,
            consumers,
            samples: Mutex::new(Vec::new()),
            bounds: watch::channel(None).0,
        })
    }

    /// Adds one producer's sample; waits for everyone's boundaries.
    pub async fn bounds(
        &self,
        sample: Batch,
        schema: &Schema,
    ) -> Result<Arc<RangeBounds>, ExchangeError> {
        let mut watcher = self.bounds.subscribe();
        let complete = {
            let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
            samples.push(sample);
            (samples.len() as u32 == self.producers).then(|| std::mem::take(&mut *samples))
        };
        if let Some(samples) = complete {
            let all = concat(schema, &samples).map_err(|e| corrupt(e.to_string()))?;
            let bounds = RangeBounds::from_sample(&all, &self.keys, self.consumers)
                .map_err(|e| corrupt(e.to_string()))?;
            self.bounds.send_replace(Some(Arc::new(bounds)));
        }
        loop {
            if let Some(bounds) = watcher.borrow_and_update().clone() {
                return Ok(bounds);
            }
            watcher
                .changed()
                .await
                .map_err(|_| corrupt("range coordinator gone".into()))?;
        }
    }
}

fn corrupt(message: String) -> ExchangeError {
    ExchangeError::Corrupt {
        exchange: usize::MAX,
        message,
    }
}

/// Output held back on a range edge until boundaries are known.
pub(super) struct RangeHold {
    agreement: Arc<dyn RangeAgreement>,
    held: Vec<Batch>,
    sample: Vec<Batch>,
    stride: usize,
    seen: usize,
    sampled: usize,
}

const SAMPLE_ROWS: usize = 4096;

impl RangeHold {
    /// Holds output until `agreement` has everyone's boundaries.
    pub(super) fn new(agreement: Arc<dyn RangeAgreement>) -> Self {
        Self {
            agreement,
            held: Vec::new(),
            sample: Vec::new(),
            stride: 1,
            seen: 0,
            sampled: 0,
        }
    }

    /// Holds `batch`, sampling every `stride`-th row of the output.
    pub(super) fn hold(&mut self, batch: Batch, schema: &Schema) -> Result<(), BatchError> {
        let picks: Vec<u32> = (0..batch.num_rows())
            .filter(|i| (self.seen + i).is_multiple_of(self.stride))
            .map(|i| i as u32)
            .collect();
        self.seen += batch.num_rows();
        self.sampled += picks.len();
        self.sample
            .push(take_batch(schema, &views(&batch), &picks)?);
        if self.sampled > SAMPLE_ROWS {
            // Thin the sample to every other row and halve the rate.
            let all = concat(schema, &self.sample)?;
            let half: Vec<u32> = (0..all.num_rows() as u32).step_by(2).collect();
            let thinned = take_batch(schema, &views(&all), &half)?;
            self.sampled = thinned.num_rows();
            self.sample = vec![thinned];
            self.stride *= 2;
        }
        self.held.push(batch);
        Ok(())
    }

    /// Hands this producer's sample over, waits for the boundaries every
    /// producer agreed on, and returns them with the held output.
    pub(super) async fn settle(
        self,
        producer: u32,
        schema: &Schema,
    ) -> Result<(RangeBounds, Vec<Batch>), ExchangeError> {
        let sample = concat(schema, &self.sample).map_err(|e| corrupt(e.to_string()))?;
        let bounds = self.agreement.bounds(producer, sample, schema).await?;
        Ok(((*bounds).clone(), self.held))
    }
}
