//! The runtime's integration tests, one module per file beside this one,
//! built as one test binary: one link and one optimised copy of what they
//! share instead of one per file. `sort_spill.rs` is a binary of its own:
//! it counts the whole process's open files. Run one file's tests with
//! `cargo test --release -p faro-runtime --test integration streaming::`.

mod changelog_support;
mod kafka_support;
mod operator_support;
mod streaming_support;
mod support;

mod aggregate;
mod basic_operators;
mod batch_corruption;
mod batch_roundtrip;
mod changelog;
mod expression_limits;
mod expressions;
mod file_splits;
mod files;
mod incremental_state;
mod jobs;
mod kafka;
mod keyed_state;
mod nexmark_generator;
mod parquet;
mod regular_join;
mod retract;
mod signals;
mod sort_join;
mod spec;
mod stream_joins;
mod streaming;
mod streaming_files;
mod top_n_per_key;
mod window_kinds;
