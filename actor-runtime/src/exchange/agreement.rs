//! How a range edge's producers agree on boundaries: each hands in its
//! sample and gets boundaries computed from everyone's. In one process a
//! shared [`RangeCoordinator`] does it; across worker processes every
//! producer sends its sample to the scheduler, which answers each with
//! all the samples once the last arrived, and every producer computes
//! the same boundaries from the same samples.
//!
//! A re-run producer is answered from what was gathered for its first
//! attempt, so its boundaries match the ones its peers already used.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::partition::RangeBounds;
use super::range::RangeCoordinator;
use super::ExchangeError;
use crate::data::{Batch, Schema};
use crate::kernels::take::concat;

/// A boxed future, as the agreement traits return.
pub type Agreeing<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Agrees a range edge's boundaries among its producers.
pub trait RangeAgreement: Send + Sync {
    /// Adds `producer`'s sample; resolves to the boundaries every
    /// producer shares.
    fn bounds<'a>(
        &'a self,
        producer: u32,
        sample: Batch,
        schema: &'a Schema,
    ) -> Agreeing<'a, Result<Arc<RangeBounds>, ExchangeError>>;
}

impl RangeAgreement for RangeCoordinator {
    fn bounds<'a>(
        &'a self,
        _producer: u32,
        sample: Batch,
        schema: &'a Schema,
    ) -> Agreeing<'a, Result<Arc<RangeBounds>, ExchangeError>> {
        Box::pin(RangeCoordinator::bounds(self, sample, schema))
    }
}

/// Which exchange a sample belongs to, and how many producers it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRequest {
    /// The job.
    pub job: String,
    /// The exchange.
    pub exchange: usize,
    /// The producer sending.
    pub producer: u32,
    /// Producers of the exchange.
    pub producers: u32,
}

/// Gathers every producer's sample somewhere all producers can reach (the
/// scheduler); set on a worker whose producers run in several processes.
pub trait SampleExchange: Send + Sync {
    /// Sends `sample` and resolves to every producer's sample.
    fn gather(
        &self,
        request: SampleRequest,
        sample: Batch,
    ) -> Agreeing<'static, Result<Vec<Batch>, String>>;
}

/// Boundaries agreed through a [`SampleExchange`].
pub struct GatheredRanges {
    /// Where samples are gathered.
    pub exchange: Arc<dyn SampleExchange>,
    /// The job.
    pub job: String,
    /// The exchange's id.
    pub id: usize,
    /// Producers of the exchange.
    pub producers: u32,
    /// Key positions.
    pub keys: Vec<usize>,
    /// Consumers (ranges).
    pub consumers: u32,
}

impl RangeAgreement for GatheredRanges {
    fn bounds<'a>(
        &'a self,
        producer: u32,
        sample: Batch,
        schema: &'a Schema,
    ) -> Agreeing<'a, Result<Arc<RangeBounds>, ExchangeError>> {
        let failed = |message: String| ExchangeError::Transport {
            exchange: self.id,
            message: format!("agreeing range boundaries: {message}"),
        };
        let request = SampleRequest {
            job: self.job.clone(),
            exchange: self.id,
            producer,
            producers: self.producers,
        };
        Box::pin(async move {
            let samples = self
                .exchange
                .gather(request, sample)
                .await
                .map_err(failed)?;
            let all = concat(schema, &samples).map_err(|e| failed(e.to_string()))?;
            let bounds = RangeBounds::from_sample(&all, &self.keys, self.consumers)
                .map_err(|e| failed(e.to_string()))?;
            Ok(Arc::new(bounds))
        })
    }
}
