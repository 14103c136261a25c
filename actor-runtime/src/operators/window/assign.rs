//! Which event-time windows a row belongs to: pure arithmetic on
//! timestamps (milliseconds), shared by every window operator.
//!
//! Windows are half-open, `[start, end)`, and aligned to the epoch plus an
//! offset, as Flink's and SQL's window table functions are:
//!
//! - **tumbling** of `size`: one window per row;
//! - **hopping** of `size` every `slide`: `size / slide` windows per row
//!   (rounded up), the latest-starting first;
//! - **cumulating** of `max_size` by `step`: windows that all start where
//!   the row's `max_size` tumbling window starts and end at each `step`
//!   after the row, up to `max_size` (a day's running totals, hour by
//!   hour).
//!
//! Session windows depend on the other rows of their key and live in
//! [`super::session`]. Known limits: timestamps within `size` of `i64`'s
//! ends saturate rather than wrap.

/// One window: `[start, end)` in event-time milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// The first millisecond in the window.
    pub start: i64,
    /// The first millisecond after it.
    pub end: i64,
}

impl Window {
    /// The last timestamp the window holds: when the watermark passes it,
    /// the window is complete.
    pub fn max_timestamp(&self) -> i64 {
        self.end.saturating_sub(1)
    }
}

/// Why a window definition cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// A size, slide, step or gap that is not positive.
    #[error("a window's {what} must be positive, not {value} ms")]
    NotPositive {
        /// Which length.
        what: &'static str,
        /// Its value.
        value: i64,
    },
    /// A slide or step that does not divide the size.
    #[error("a window's {what} ({value} ms) must divide its size ({size} ms)")]
    NotDividing {
        /// `slide` or `step`.
        what: &'static str,
        /// Its value.
        value: i64,
        /// The size.
        size: i64,
    },
}

/// A window kind whose windows follow from the row's timestamp alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigner {
    /// Consecutive windows of `size`.
    Tumbling {
        /// Window length.
        size: i64,
        /// Shift of window starts from the epoch.
        offset: i64,
    },
    /// Windows of `size` starting every `slide`.
    Hopping {
        /// Window length.
        size: i64,
        /// Distance between window starts.
        slide: i64,
        /// Shift of window starts from the epoch.
        offset: i64,
    },
    /// Windows growing by `step` up to `max_size`.
    Cumulating {
        /// The largest window.
        max_size: i64,
        /// How much each window is longer than the one before.
        step: i64,
        /// Shift of window starts from the epoch.
        offset: i64,
    },
}

fn positive(what: &'static str, value: i64) -> Result<(), WindowError> {
    if value > 0 {
        Ok(())
    } else {
        Err(WindowError::NotPositive { what, value })
    }
}

/// The start of the `size` window (aligned to `offset`) holding `ts`.
pub fn window_start(ts: i64, size: i64, offset: i64) -> i64 {
    ts.saturating_sub(ts.wrapping_sub(offset).rem_euclid(size))
}

impl Assigner {
    /// Checks the lengths: positive, and (hopping, cumulating) the slide
    /// or step dividing the size, so windows stay aligned.
    pub fn check(&self) -> Result<(), WindowError> {
        let divides = |what, value: i64, size: i64| {
            positive(what, value)?;
            if size % value == 0 {
                Ok(())
            } else {
                Err(WindowError::NotDividing { what, value, size })
            }
        };
        match *self {
            Self::Tumbling { size, .. } => positive("size", size),
            Self::Hopping { size, slide, .. } => {
                positive("size", size)?;
                divides("slide", slide, size)
            }
            Self::Cumulating { max_size, step, .. } => {
                positive("size", max_size)?;
                divides("step", step, max_size)
            }
        }
    }

    /// How many windows one row falls in.
    pub fn windows_per_row(&self) -> usize {
        match *self {
            Self::Tumbling { .. } => 1,
            Self::Hopping { size, slide, .. } => (size / slide.max(1)) as usize,
            Self::Cumulating { max_size, step, .. } => (max_size / step.max(1)) as usize,
        }
    }

    /// Appends the windows holding `ts` to `out`.
    pub fn assign(&self, ts: i64, out: &mut Vec<Window>) {
        match *self {
            Self::Tumbling { size, offset } => {
                let start = window_start(ts, size, offset);
                out.push(Window {
                    start,
                    end: start.saturating_add(size),
                });
            }
            Self::Hopping {
                size,
                slide,
                offset,
            } => {
                let mut start = window_start(ts, slide, offset);
                while start > ts.saturating_sub(size) {
                    out.push(Window {
                        start,
                        end: start.saturating_add(size),
                    });
                    let Some(earlier) = start.checked_sub(slide) else {
                        break;
                    };
                    start = earlier;
                }
            }
            Self::Cumulating {
                max_size,
                step,
                offset,
            } => {
                let start = window_start(ts, max_size, offset);
                let last = start.saturating_add(max_size);
                let mut end = window_start(ts, step, offset).saturating_add(step);
                while end <= last {
                    out.push(Window { start, end });
                    if end == last {
                        break;
                    }
                    end = end.saturating_add(step);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(assigner: Assigner, ts: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        assigner.assign(ts, &mut out);
        out.iter().map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn tumbling_windows_hold_each_row_once_including_before_the_epoch() {
        let t = Assigner::Tumbling {
            size: 10,
            offset: 0,
        };
        assert_eq!(windows(t, 0), [(0, 10)]);
        assert_eq!(windows(t, 9), [(0, 10)]);
        assert_eq!(windows(t, 10), [(10, 20)]);
        assert_eq!(windows(t, -1), [(-10, 0)]);
        let shifted = Assigner::Tumbling {
            size: 10,
            offset: 3,
        };
        assert_eq!(windows(shifted, 2), [(-7, 3)]);
        assert_eq!(windows(shifted, 3), [(3, 13)]);
    }

    #[test]
    fn hopping_windows_are_every_window_that_holds_the_row() {
        let h = Assigner::Hopping {
            size: 10,
            slide: 5,
            offset: 0,
        };
        assert_eq!(windows(h, 7), [(5, 15), (0, 10)]);
        assert_eq!(windows(h, 5), [(5, 15), (0, 10)]);
        assert_eq!(windows(h, 4), [(0, 10), (-5, 5)]);
        for ts in -50..50 {
            let all = windows(h, ts);
            assert_eq!(all.len(), h.windows_per_row());
            assert!(all.iter().all(|&(s, e)| s <= ts && ts < e && e - s == 10));
        }
    }

    #[test]
    fn cumulating_windows_start_together_and_end_at_each_step_after_the_row() {
        let c = Assigner::Cumulating {
            max_size: 12,
            step: 4,
            offset: 0,
        };
        assert_eq!(windows(c, 0), [(0, 4), (0, 8), (0, 12)]);
        assert_eq!(windows(c, 5), [(0, 8), (0, 12)]);
        assert_eq!(windows(c, 11), [(0, 12)]);
        assert_eq!(windows(c, 12), [(12, 16), (12, 20), (12, 24)]);
    }

    #[test]
    fn lengths_are_checked() {
        assert!(Assigner::Tumbling { size: 0, offset: 0 }.check().is_err());
        let error = Assigner::Hopping {
            size: 10,
            slide: 3,
            offset: 0,
        }
        .check()
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "a window's slide (3 ms) must divide its size (10 ms)"
        );
        assert!(Assigner::Cumulating {
            max_size: 10,
            step: -5,
            offset: 0
        }
        .check()
        .is_err());
    }
}
