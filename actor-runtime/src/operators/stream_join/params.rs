//! What a spec says to the stream joins: [`WindowJoinParams`] and
//! [`IntervalJoinParams`], with the rules their definitions and operators
//! share — which columns a side names, the window assigner, the joined
//! row's schema, and the interval's bounds.

use serde::{Deserialize, Serialize};

use super::{SideNames, LEFT, RIGHT};
use crate::data::{DataType, Field, Schema};
use crate::operators::join::joined_fields;
use crate::operators::window::{Assigner, WindowKind};

/// Which rows a window join keeps when nothing on the other side matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WindowJoinKind {
    /// Matching pairs only.
    #[default]
    Inner,
    /// Also every unmatched left row, with nulls on the right.
    Left,
    /// Also every unmatched right row, with nulls on the left.
    Right,
    /// Both of the above.
    Full,
}

impl WindowJoinKind {
    pub(super) fn keeps(self, side: usize) -> bool {
        match self {
            Self::Inner => false,
            Self::Left => side == LEFT,
            Self::Right => side == RIGHT,
            Self::Full => true,
        }
    }
}

/// `window_join`'s params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowJoinParams {
    /// The vertex feeding the left side.
    pub left: String,
    /// The vertex feeding the right side.
    pub right: String,
    /// Left key columns.
    pub left_keys: Vec<String>,
    /// Right key columns, pairwise with `left_keys`.
    pub right_keys: Vec<String>,
    /// The left rows' event time (a timestamp column).
    pub left_time: String,
    /// The right rows' event time (a timestamp column).
    pub right_time: String,
    /// The windows, as the `window` operator takes them.
    pub window: WindowKind,
    /// Shift of window starts from the epoch.
    #[serde(default)]
    pub offset_ms: i64,
    /// Inner (the default), left, right or full.
    #[serde(default)]
    pub kind: WindowJoinKind,
    /// Bytes the open windows may hold; over it the join fails clearly.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

impl WindowJoinParams {
    /// The window assigner; sessions (which depend on the rows, not the
    /// clock) are refused.
    pub(super) fn assigner(&self) -> Result<Assigner, String> {
        self.window.aligned(self.offset_ms).ok_or_else(|| {
            "window_join takes tumbling, hopping or cumulating windows, not sessions".into()
        })
    }

    /// The longest window: how far a window's rows reach back from its end.
    pub(super) fn longest(&self) -> i64 {
        match self.window {
            WindowKind::Tumbling { size_ms } | WindowKind::Hopping { size_ms, .. } => size_ms,
            WindowKind::Cumulating { max_size_ms, .. } => max_size_ms,
            WindowKind::Session { gap_ms } => gap_ms,
        }
    }

    pub(super) fn names(&self, side: usize) -> SideNames<'_> {
        match side {
            LEFT => SideNames {
                keys: &self.left_keys,
                time: &self.left_time,
            },
            _ => SideNames {
                keys: &self.right_keys,
                time: &self.right_time,
            },
        }
    }

    /// `window_start`, `window_end`, the left's columns, the right's (a
    /// side nullable when the other side's unmatched rows are kept).
    pub(super) fn output(&self, left: &Schema, right: &Schema) -> Schema {
        let mut fields = vec![
            Field::new("window_start", DataType::Timestamp),
            Field::new("window_end", DataType::Timestamp),
        ];
        let (l, r) = (self.kind.keeps(RIGHT), self.kind.keeps(LEFT));
        fields.extend(joined_fields(left, right, l, r));
        Schema::new(fields)
    }
}

/// `interval_join`'s params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalJoinParams {
    /// The vertex feeding the left side.
    pub left: String,
    /// The vertex feeding the right side.
    pub right: String,
    /// Left key columns.
    pub left_keys: Vec<String>,
    /// Right key columns, pairwise with `left_keys`.
    pub right_keys: Vec<String>,
    /// The left rows' event time (a timestamp column).
    pub left_time: String,
    /// The right rows' event time (a timestamp column).
    pub right_time: String,
    /// The earliest matching right time, relative to the left's.
    pub lower_ms: i64,
    /// The latest matching right time, relative to the left's.
    pub upper_ms: i64,
    /// Bytes the held rows may take; over it the join fails clearly.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

impl IntervalJoinParams {
    pub(super) fn names(&self, side: usize) -> SideNames<'_> {
        match side {
            LEFT => SideNames {
                keys: &self.left_keys,
                time: &self.left_time,
            },
            _ => SideNames {
                keys: &self.right_keys,
                time: &self.right_time,
            },
        }
    }

    pub(super) fn check(&self) -> Result<(), String> {
        match self.lower_ms <= self.upper_ms {
            true => Ok(()),
            false => Err(format!(
                "lower_ms ({}) is above upper_ms ({}): no pair of rows could match",
                self.lower_ms, self.upper_ms
            )),
        }
    }
}
