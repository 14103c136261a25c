//! One module per `faro` subcommand that is built.

pub mod client;
pub mod local;
pub mod run;
pub mod shuffle_service;
