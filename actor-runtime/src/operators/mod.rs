//! The built-in operators (see [`crate::spec::operators`] for their
//! parameters): [`basic`] stateless ones and simple sinks, [`aggregate`],
//! [`sort`] and top-n, [`join`], [`read`] and the [`files`] sink, and the [`spill`] files stateful
//! operators use when over budget.

pub mod aggregate;
pub mod basic;
pub mod files;
pub mod join;
pub mod read;
pub mod sort;
pub mod spill;
pub mod window;
