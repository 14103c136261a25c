//! Faro's end-to-end tests, one module per file beside this one, built
//! as one test binary: each of them links the whole engine, and one link
//! (and one optimised copy of what they share) instead of twenty-five
//! takes minutes off every CI run. Run one file's tests with
//! `cargo test --release --test integration cluster::`.

mod support;

mod approximate;
mod checkpoints;
mod cli;
mod cli_status;
mod cluster;
mod deploy_configs;
mod failure_detection;
mod hostile_input;
mod hybrid;
mod incremental;
mod load;
mod local;
mod multi_host;
mod nexmark_queries;
#[path = "nexmark_reference/main.rs"]
mod nexmark_reference;
mod prometheus;
mod run;
mod savepoints;
mod shuffle_operations;
mod shuffle_service;
mod skew;
mod sql;
mod sql_cli;
mod sql_sqlite;
mod training_cluster;
mod ui;
mod unaligned;
