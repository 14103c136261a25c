//! The built-in operators: [`basic`] stateless ones and simple sinks,
//! [`aggregate`], [`sort`] and top-n, [`join`] (and, in a streaming job,
//! the [`regular_join`]), the streaming [`stream_join`]s (window and
//! interval), [`read`] and the [`files`]
//! sink, the [`nexmark`] source, [`follow`] (files as they appear in a
//! directory), [`kafka`] topics (source and sink), event-time [`window`]s, and the
//! [`spill`] files stateful operators use when over budget.
//! Each operator's implementation sits with its catalogue definition
//! (see [`crate::catalogue`]).

pub mod aggregate;
pub mod basic;
pub mod files;
pub mod follow;
pub mod join;
pub mod kafka;
pub mod nexmark;
pub mod over;
pub mod read;
pub mod regular_join;
pub mod sort;
pub mod spill;
pub mod stream_join;
pub mod window;
