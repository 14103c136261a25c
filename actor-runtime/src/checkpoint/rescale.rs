//! Restoring at another parallelism: what a subtask of the new job is
//! handed of the state the old subtasks saved, and how it finds its
//! share.
//!
//! Keyed state follows its keys: a streaming job's hash edges route each
//! key through its key group ([`crate::state::key_group`]), a job
//! constant, so a new subtask keeps exactly the rows of saved state whose
//! keys now hash to a group it owns — where the exchange now sends their
//! rows. State that is not keyed (a sink's pending files, a partial
//! aggregate before its shuffle) moves whole: each old subtask's is
//! adopted by one new subtask, round robin.

use serde::{Deserialize, Serialize};

use crate::data::{Batch, Schema};
use crate::kernels::hash::hash_rows;
use crate::kernels::views;
use crate::operator::OperatorError;
use crate::state::key_group::subtask_of_hash;

/// How the hash edge into a keyed operator routes its keys: the columns
/// it hashes (by name, in order) and the job's key groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRouting {
    /// The hashed columns, in the edge's order.
    pub columns: Vec<String>,
    /// The job's key groups.
    pub key_groups: u32,
}

/// The saved state of one operator, taken back at a new parallelism.
#[derive(Debug, Clone, Copy)]
pub struct Rescaled<'a> {
    /// Every old subtask's state for the operator: (old subtask, bytes).
    /// Subtasks that saved none are left out.
    pub states: &'a [(u32, Vec<u8>)],
    /// Subtasks the state was saved by.
    pub from_parallelism: u32,
    /// This subtask, in the new job.
    pub subtask: u32,
    /// Subtasks of the new job.
    pub parallelism: u32,
    /// How keys reach this operator, when a hash edge feeds its chain.
    pub keys: Option<&'a KeyRouting>,
}

impl<'a> Rescaled<'a> {
    /// Whether this subtask adopts old subtask `old`'s unkeyed state
    /// (each old subtask's goes to exactly one new one).
    pub fn adopts(&self, old: u32) -> bool {
        old % self.parallelism.max(1) == self.subtask
    }

    /// The states whose unkeyed parts this subtask adopts.
    pub fn adopted(&self) -> impl Iterator<Item = &'a (u32, Vec<u8>)> + '_ {
        self.states.iter().filter(|(old, _)| self.adopts(*old))
    }

    /// What of old subtask `old`'s saved rows this subtask takes: the
    /// rows whose keys it owns now when the state is `keyed` (see
    /// [`Rescaled::owned_rows`]), else all of them or none (adopted
    /// whole, round robin).
    pub fn share(
        &self,
        old: u32,
        batch: Batch,
        keyed: bool,
        what: &str,
    ) -> Result<Option<Batch>, OperatorError> {
        if keyed {
            self.owned_rows(&batch, what).map(Some)
        } else {
            Ok(self.adopts(old).then_some(batch))
        }
    }

    /// The rows of `batch` (saved keyed state whose key columns carry the
    /// edge's names) whose keys this subtask owns now; an error when no
    /// hash edge routes keys here or a key column is missing, since the
    /// state could then not be split without losing or doubling keys.
    pub fn owned_rows(&self, batch: &Batch, what: &str) -> Result<Batch, OperatorError> {
        let Some(keys) = self.keys else {
            return Err(OperatorError::BadInput(format!(
                "{what} is keyed but no hash edge routes keys to it, so it cannot be \
                 split over {} subtasks (saved by {})",
                self.parallelism, self.from_parallelism
            )));
        };
        if self.parallelism <= 1 {
            // One subtask owns every key.
            return Ok(batch.clone());
        }
        let columns = views(batch);
        let mut key_columns = Vec::with_capacity(keys.columns.len());
        for name in &keys.columns {
            let index = batch.schema().index_of(name).ok_or_else(|| {
                OperatorError::BadInput(format!(
                    "{what}: the edge hashes on {name:?}, which its saved state has no \
                     column for, so it cannot be split over new subtasks"
                ))
            })?;
            key_columns.push(&columns[index]);
        }
        let owned: Vec<u32> = hash_rows(&key_columns, batch.num_rows())
            .into_iter()
            .enumerate()
            .filter(|&(_, hash)| {
                subtask_of_hash(hash, keys.key_groups, self.parallelism) == self.subtask
            })
            .map(|(row, _)| row as u32)
            .collect();
        Ok(batch.take(&owned)?)
    }
}

/// Saved rows read back: `state` must be one batch of `schema`, the
/// operator's input columns (`what` names the state in errors).
pub fn saved_rows(state: &[u8], schema: &Schema, what: &str) -> Result<Batch, OperatorError> {
    let batch = crate::attempt::batch_from_bytes(state)?;
    if batch.schema() != schema {
        return Err(OperatorError::BadInput(format!(
            "{what}: saved for other input columns than the job's"
        )));
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Column, ColumnData, DataType, Field};

    fn keyed(keys: Vec<i64>) -> Batch {
        let schema = Schema::new(vec![
            Field::new("k", DataType::Int64),
            Field::new("n", DataType::Int64),
        ]);
        let n = keys.len();
        Batch::new(
            schema,
            n,
            vec![
                Column {
                    validity: None,
                    data: ColumnData::Int64(keys),
                },
                Column {
                    validity: None,
                    data: ColumnData::Int64(vec![1; n]),
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn every_saved_key_goes_to_exactly_one_new_subtask_the_one_its_rows_reach() {
        let routing = KeyRouting {
            columns: vec!["k".into()],
            key_groups: 128,
        };
        let batch = keyed((0..1000).collect());
        for parallelism in [1, 2, 3, 7] {
            let mut seen = 0;
            for subtask in 0..parallelism {
                let rescaled = Rescaled {
                    states: &[],
                    from_parallelism: 2,
                    subtask,
                    parallelism,
                    keys: Some(&routing),
                };
                let owned = rescaled.owned_rows(&batch, "window").unwrap();
                seen += owned.num_rows();
                // The exchange sends each owned key's rows here too.
                let keys = views(&owned);
                for hash in hash_rows(&[&keys[0]], owned.num_rows()) {
                    assert_eq!(subtask_of_hash(hash, 128, parallelism), subtask);
                }
            }
            assert_eq!(seen, 1000, "at parallelism {parallelism}");
        }
    }

    #[test]
    fn unkeyed_state_is_adopted_once_and_keyed_state_without_routing_is_refused() {
        let states = vec![(0, vec![0]), (1, vec![1]), (2, vec![2])];
        let adopters = |parallelism| {
            (0..parallelism)
                .map(|subtask| {
                    let rescaled = Rescaled {
                        states: &states,
                        from_parallelism: 3,
                        subtask,
                        parallelism,
                        keys: None,
                    };
                    rescaled.adopted().map(|(old, _)| *old).collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(adopters(2), vec![vec![0, 2], vec![1]]);
        assert_eq!(adopters(4), vec![vec![0], vec![1], vec![2], vec![]]);
        let rescaled = Rescaled {
            states: &states,
            from_parallelism: 3,
            subtask: 0,
            parallelism: 2,
            keys: None,
        };
        let error = rescaled
            .owned_rows(&keyed(vec![1]), "window w")
            .unwrap_err();
        assert!(error.to_string().contains("no hash edge"), "{error}");
        let wrong = KeyRouting {
            columns: vec!["auction".into()],
            key_groups: 128,
        };
        let rescaled = Rescaled {
            keys: Some(&wrong),
            ..rescaled
        };
        let error = rescaled
            .owned_rows(&keyed(vec![1]), "window w")
            .unwrap_err();
        assert!(error.to_string().contains("\"auction\""), "{error}");
    }
}
