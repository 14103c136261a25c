//! Credit accounting for one receiving channel, as in Flink's credit-based
//! flow control. Pure logic: no I/O, no locks, so the rules are unit-tested
//! here and the channel code only moves bytes.
//!
//! A receiver owns *permits*, each the right to hold one pool buffer:
//! `exclusive` permits for the channel's lifetime, plus *floating* permits
//! borrowed from the pool while the sender announces a backlog. A permit is
//! in exactly one of three states:
//!
//! - **granted**: promised to the sender as credit, no frame yet;
//! - **in use**: holding a received frame the consumer has not released;
//! - **idle**: neither; granted on the next credit announcement.
//!
//! The sender may send one data frame per credit. Receive memory of the
//! channel is therefore bounded by its permits, and the process's receive
//! memory by the pool.

use crate::error::FrameError;

/// Permit bookkeeping of one receiving channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditLedger {
    exclusive: u32,
    floating: u32,
    granted: u32,
    in_use: u32,
    backlog: u32,
}

impl CreditLedger {
    /// A ledger for a channel that owns `exclusive` permits.
    pub fn new(exclusive: u32) -> Self {
        Self {
            exclusive,
            floating: 0,
            granted: 0,
            in_use: 0,
            backlog: 0,
        }
    }

    /// Permits the channel owns, exclusive and floating.
    pub fn owned(&self) -> u32 {
        self.exclusive + self.floating
    }

    /// Exclusive permits, held for the channel's lifetime.
    pub fn exclusive(&self) -> u32 {
        self.exclusive
    }

    /// Floating permits currently borrowed from the pool.
    pub fn floating(&self) -> u32 {
        self.floating
    }

    /// Frames received and not yet released by the consumer.
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Credits the sender holds and has not used yet.
    pub fn granted(&self) -> u32 {
        self.granted
    }

    /// The backlog the sender announced with its last frame.
    pub fn backlog(&self) -> u32 {
        self.backlog
    }

    fn idle(&self) -> u32 {
        self.owned() - self.granted - self.in_use
    }

    /// Buffers the channel wants to be able to fill: its exclusive share
    /// plus the sender's announced backlog.
    fn required(&self) -> u32 {
        self.exclusive.saturating_add(self.backlog)
    }

    /// A data frame arrived announcing `backlog` more frames queued behind it.
    pub fn on_frame(&mut self, backlog: u32) -> Result<(), FrameError> {
        if self.granted == 0 {
            return Err(FrameError::NoCredit);
        }
        self.granted -= 1;
        self.in_use += 1;
        self.backlog = backlog;
        Ok(())
    }

    /// The consumer released a frame. Returns `true` when one floating
    /// permit should go back to the pool because the channel holds more than
    /// it requires.
    pub fn on_release(&mut self) -> bool {
        self.in_use = self.in_use.saturating_sub(1);
        let holds_surplus = self.owned() - self.in_use > self.required();
        if self.floating > 0 && holds_surplus && self.idle() > 0 {
            self.floating -= 1;
            true
        } else {
            false
        }
    }

    /// Floating permits to ask the pool for so the channel can hold its
    /// required buffers besides those the consumer still holds.
    pub fn floating_wanted(&self) -> u32 {
        let available = self.owned() - self.in_use;
        self.required().saturating_sub(available)
    }

    /// Adds floating permits obtained from the pool.
    pub fn add_floating(&mut self, permits: u32) {
        self.floating += permits;
    }

    /// Marks every idle permit as granted and returns how many: the number
    /// to announce to the sender in one credit frame.
    pub fn take_grant(&mut self) -> u32 {
        let grant = self.idle();
        self.granted += grant;
        grant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_grant_is_the_exclusive_share() {
        let mut ledger = CreditLedger::new(2);
        assert_eq!(ledger.take_grant(), 2);
        assert_eq!(ledger.take_grant(), 0, "nothing is granted twice");
    }

    #[test]
    fn a_frame_without_credit_is_a_protocol_error() {
        let mut ledger = CreditLedger::new(1);
        assert_eq!(ledger.on_frame(0), Err(FrameError::NoCredit));
        ledger.take_grant();
        ledger.on_frame(0).unwrap();
        assert_eq!(ledger.on_frame(0), Err(FrameError::NoCredit));
    }

    #[test]
    fn released_exclusive_buffer_becomes_credit_again() {
        let mut ledger = CreditLedger::new(2);
        ledger.take_grant();
        ledger.on_frame(0).unwrap();
        ledger.on_frame(0).unwrap();
        assert_eq!(ledger.take_grant(), 0, "both buffers hold frames");
        assert!(!ledger.on_release(), "exclusive permits never go back");
        assert_eq!(ledger.take_grant(), 1);
    }

    #[test]
    fn backlog_asks_for_floating_permits_and_surplus_returns_them() {
        let mut ledger = CreditLedger::new(2);
        ledger.take_grant();
        ledger.on_frame(5).unwrap();
        // One buffer in use, one granted: the sender has 5 more queued.
        assert_eq!(ledger.floating_wanted(), 6);
        ledger.add_floating(6);
        assert_eq!(ledger.take_grant(), 6);
        for backlog in (0..=5).rev() {
            ledger.on_frame(backlog).unwrap();
        }
        assert_eq!(ledger.in_use(), 7);
        // The backlog is drained, but the consumer holds 7 frames: one more
        // buffer keeps the exclusive share of 2 available.
        assert_eq!(ledger.floating_wanted(), 1);
        let returned = (0..7).filter(|_| ledger.on_release()).count();
        // Two exclusive permits remain; the granted one is still promised.
        assert_eq!(returned, 6);
        assert_eq!(ledger.floating(), 0);
        assert_eq!(ledger.owned(), 2);
    }

    proptest::proptest! {
        /// Whatever the order of frames, releases and grants, no permit is
        /// promised or used twice and floating permits follow the backlog.
        #[test]
        fn permits_are_never_double_counted(ops in proptest::collection::vec((0u8..4, 0u32..8), 0..200)) {
            let mut ledger = CreditLedger::new(2);
            let mut pool_lent = 0u32;
            for (op, value) in ops {
                match op {
                    0 => { let _ = ledger.on_frame(value); }
                    1 if ledger.in_use() > 0 => { if ledger.on_release() { pool_lent -= 1; } }
                    2 => { let wanted = ledger.floating_wanted(); ledger.add_floating(wanted); pool_lent += wanted; }
                    _ => { ledger.take_grant(); }
                }
                proptest::prop_assert!(ledger.granted() + ledger.in_use() <= ledger.owned());
                proptest::prop_assert_eq!(ledger.floating(), pool_lent);
            }
        }
    }

    #[test]
    fn consumer_holding_frames_keeps_the_exclusive_share_flowing() {
        let mut ledger = CreditLedger::new(2);
        ledger.take_grant();
        ledger.on_frame(0).unwrap();
        ledger.on_frame(0).unwrap();
        assert_eq!(ledger.floating_wanted(), 2);
    }
}
