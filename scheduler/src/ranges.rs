//! Range boundaries for producers in several processes: the scheduler
//! gathers each range edge's samples, one per producer (a re-run
//! producer's second sample is ignored, so everyone's boundaries stay the
//! ones computed first), and answers every producer with all of them, in
//! producer order, once the last arrived. Each producer computes the
//! boundaries from the same samples, so all agree.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

type AllSamples = Arc<Vec<Vec<u8>>>;

struct Gathering {
    producers: u32,
    by_producer: BTreeMap<u32, Vec<u8>>,
    all: watch::Sender<Option<AllSamples>>,
}

/// Samples being gathered, by job and exchange.
#[derive(Default)]
pub struct Samples {
    exchanges: Mutex<HashMap<(String, usize), Gathering>>,
}

impl Samples {
    /// No samples yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds `producer`'s sample of `(job, exchange)` and waits for all.
    pub async fn gather(
        &self,
        job: &str,
        exchange: usize,
        producer: u32,
        producers: u32,
        sample: Vec<u8>,
    ) -> Result<AllSamples, String> {
        if producer >= producers {
            return Err(format!(
                "producer {producer} of exchange {exchange} is out of range (it has {producers})"
            ));
        }
        let mut ready = {
            let mut exchanges = self.exchanges.lock().unwrap_or_else(|p| p.into_inner());
            let gathering = exchanges
                .entry((job.to_string(), exchange))
                .or_insert_with(|| Gathering {
                    producers,
                    by_producer: BTreeMap::new(),
                    all: watch::channel(None).0,
                });
            if gathering.producers != producers {
                return Err(format!(
                    "exchange {exchange} of job {job} has {} producers, not {producers}",
                    gathering.producers
                ));
            }
            gathering.by_producer.entry(producer).or_insert(sample);
            if gathering.by_producer.len() as u32 == producers && gathering.all.borrow().is_none() {
                let all = gathering.by_producer.values().cloned().collect();
                gathering.all.send_replace(Some(Arc::new(all)));
            }
            gathering.all.subscribe()
        };
        let all = ready
            .wait_for(Option::is_some)
            .await
            .map_err(|_| format!("job {job} ended while its producers agreed range boundaries"))?;
        all.clone().ok_or_else(|| "no samples".to_string())
    }

    /// Drops a job's samples (it ended).
    pub fn forget(&self, job: &str) {
        self.exchanges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(j, _), _| j != job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_producer_gets_every_sample_in_producer_order() {
        let samples = Samples::new();
        let second = {
            let samples = samples.clone();
            tokio::spawn(async move { samples.gather("j", 0, 1, 2, vec![1]).await })
        };
        let first = samples.gather("j", 0, 0, 2, vec![0]).await.unwrap();
        let second = second.await.unwrap().unwrap();
        assert_eq!(*first, vec![vec![0], vec![1]]);
        assert_eq!(first, second);
        // A re-run producer gets what the others used.
        let again = samples.gather("j", 0, 1, 2, vec![9]).await.unwrap();
        assert_eq!(*again, vec![vec![0], vec![1]]);
    }

    #[tokio::test]
    async fn mismatched_requests_are_refused() {
        let samples = Samples::new();
        assert!(samples.gather("j", 0, 2, 2, vec![]).await.is_err());
        let pending = {
            let samples = samples.clone();
            tokio::spawn(async move { samples.gather("j", 1, 0, 2, vec![]).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let refused = samples.gather("j", 1, 1, 3, vec![]).await;
        assert!(refused.unwrap_err().contains("2 producers"));
        pending.abort();
    }
}
