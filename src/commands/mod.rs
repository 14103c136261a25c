//! One module per `faro` subcommand that is built.

pub mod shuffle_service;
