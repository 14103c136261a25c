//! One module per `faro` subcommand that is built.

pub mod run;
pub mod shuffle_service;
