//! `window`'s params: the window kind, which clock assigns rows to
//! windows, and the checks validation makes of them. The operators in
//! [`super::aligned`] and [`super::sessions`] trust what these checks
//! passed.

use serde::{Deserialize, Serialize};

use super::assign::{Assigner, WindowError};
use crate::operators::aggregate::{AggregateParams, AggregateSpec};

/// The window kind, in a spec: `{"tumbling": {"size_ms": 60000}}`,
/// `{"hopping": {"size_ms": …, "slide_ms": …}}`,
/// `{"cumulating": {"max_size_ms": …, "step_ms": …}}` or
/// `{"session": {"gap_ms": …}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowKind {
    /// Consecutive windows.
    Tumbling {
        /// Window length.
        size_ms: i64,
    },
    /// Overlapping windows starting every `slide_ms`.
    Hopping {
        /// Window length.
        size_ms: i64,
        /// Distance between starts (divides the size).
        slide_ms: i64,
    },
    /// Windows growing by `step_ms` up to `max_size_ms`.
    Cumulating {
        /// The largest window.
        max_size_ms: i64,
        /// Growth per window (divides the largest).
        step_ms: i64,
    },
    /// Per group, rows less than `gap_ms` apart share one window: a
    /// session `[first row, last row + gap_ms)`.
    Session {
        /// Event time without a row that closes a session.
        gap_ms: i64,
    },
}

/// `window`'s params.
///
/// Rows are assigned to windows by event time (`time` names a timestamp
/// column; windows fire when the watermark passes them) or, with
/// `processing_time: true` and no `time`, by the wall clock when they
/// arrive (windows fire once the clock has passed their end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowParams {
    /// The event-time column (a timestamp); absent for processing time.
    #[serde(default)]
    pub time: Option<String>,
    /// Assign rows by the wall clock at arrival instead of a column.
    #[serde(default)]
    pub processing_time: bool,
    /// The windows.
    pub window: WindowKind,
    /// Shift of window starts from the epoch.
    #[serde(default)]
    pub offset_ms: i64,
    /// Group keys within a window (none: one group per window).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// The aggregates, as `aggregate` takes them.
    pub aggregates: Vec<AggregateSpec>,
    /// How long after its end a window waits for late rows before firing.
    #[serde(default)]
    pub allowed_lateness_ms: i64,
    /// Bytes of state per open window before spilling (aligned windows);
    /// bytes of all open sessions' state (session windows, which fail
    /// beyond it).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// Why `window`'s params do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A bad size, slide, step or gap.
    #[error(transparent)]
    Window(#[from] WindowError),
    /// Neither or both of the two clocks.
    #[error(
        "a window needs either `time` (an event-time column) or `processing_time: true`, not {0}"
    )]
    Clock(&'static str),
    /// Processing time with a window kind it cannot run.
    #[error("processing-time windows cannot be sessions (a session's gap is event time between rows); use `time`")]
    ProcessingSession,
    /// Processing time with lateness, which it cannot have.
    #[error(
        "allowed_lateness_ms has no meaning in processing time: no row is late by the wall clock"
    )]
    ProcessingLateness,
    /// A negative allowance.
    #[error("allowed_lateness_ms must not be negative")]
    NegativeLateness,
}

impl WindowKind {
    /// The assigner of these windows shifted by `offset` ms, if they are
    /// aligned to the epoch; `None` for sessions, which depend on the rows.
    pub fn aligned(&self, offset: i64) -> Option<Assigner> {
        Some(match *self {
            WindowKind::Tumbling { size_ms } => Assigner::Tumbling {
                size: size_ms,
                offset,
            },
            WindowKind::Hopping { size_ms, slide_ms } => Assigner::Hopping {
                size: size_ms,
                slide: slide_ms,
                offset,
            },
            WindowKind::Cumulating {
                max_size_ms,
                step_ms,
            } => Assigner::Cumulating {
                max_size: max_size_ms,
                step: step_ms,
                offset,
            },
            WindowKind::Session { .. } => return None,
        })
    }
}

impl WindowParams {
    /// The assigner of aligned windows; `None` for sessions.
    pub fn assigner(&self) -> Option<Assigner> {
        self.window.aligned(self.offset_ms)
    }

    /// The aggregate each window (or session) computes.
    pub fn aggregate(&self) -> AggregateParams {
        AggregateParams {
            group_by: self.group_by.clone(),
            aggregates: self.aggregates.clone(),
            memory_bytes: self.memory_bytes,
        }
    }

    /// Checks everything but columns: lengths, one clock, and what
    /// processing time cannot do.
    pub fn check(&self) -> Result<(), ParamsError> {
        match (&self.time, self.processing_time) {
            (Some(_), true) => return Err(ParamsError::Clock("both")),
            (None, false) => return Err(ParamsError::Clock("neither")),
            _ => {}
        }
        match (self.assigner(), self.window) {
            (Some(assigner), _) => assigner.check()?,
            (None, WindowKind::Session { gap_ms }) if gap_ms <= 0 => {
                return Err(WindowError::NotPositive {
                    what: "gap",
                    value: gap_ms,
                }
                .into())
            }
            _ => {}
        }
        if self.allowed_lateness_ms < 0 {
            return Err(ParamsError::NegativeLateness);
        }
        if self.processing_time {
            if matches!(self.window, WindowKind::Session { .. }) {
                return Err(ParamsError::ProcessingSession);
            }
            if self.allowed_lateness_ms != 0 {
                return Err(ParamsError::ProcessingLateness);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(json: serde_json::Value) -> WindowParams {
        let mut base = serde_json::json!({"aggregates": [{"name": "n", "function": "count"}]});
        if let (Some(base), Some(extra)) = (base.as_object_mut(), json.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn one_clock_and_what_processing_time_refuses() {
        let tumbling = serde_json::json!({"tumbling": {"size_ms": 10}});
        let session = serde_json::json!({"session": {"gap_ms": 10}});
        let ok = params(serde_json::json!({"time": "t", "window": session}));
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(ok.assigner(), None);
        let wall = params(serde_json::json!({"processing_time": true, "window": tumbling}));
        assert_eq!(wall.check(), Ok(()));
        let both =
            params(serde_json::json!({"time": "t", "processing_time": true, "window": tumbling}));
        assert_eq!(both.check(), Err(ParamsError::Clock("both")));
        let neither = params(serde_json::json!({"window": tumbling}));
        assert!(neither.check().unwrap_err().to_string().contains(
            "either `time` (an event-time column) or `processing_time: true`, not neither"
        ));
        let wall_session = params(serde_json::json!({"processing_time": true, "window": session}));
        assert_eq!(wall_session.check(), Err(ParamsError::ProcessingSession));
        let late = params(
            serde_json::json!({"processing_time": true, "window": tumbling, "allowed_lateness_ms": 5}),
        );
        assert_eq!(late.check(), Err(ParamsError::ProcessingLateness));
        let no_gap = params(serde_json::json!({"time": "t", "window": {"session": {"gap_ms": 0}}}));
        assert_eq!(
            no_gap.check().unwrap_err().to_string(),
            "a window's gap must be positive, not 0 ms"
        );
    }
}
