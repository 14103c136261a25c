//! Where a task's input channels stand: which have ended, the watermark
//! each has reached, and which are held at a checkpoint barrier. Pure
//! bookkeeping, no I/O: the task loop tells it what each channel
//! delivered and acts on what it answers.
//!
//! - **Watermarks**: the task's watermark is the smallest any open channel
//!   of any input has reached (a channel that has sent none holds it at
//!   [`Watermark::MIN`]); a channel that ended no longer holds it back. It
//!   is reported only when it advances, and not at the very end: when every
//!   channel has ended, end of input is what flushes the operators. A
//!   channel's watermark never moves back; an earlier one is ignored, as
//!   Flink's watermark valve does.
//! - **Idleness**: a channel that says it is idle stops holding the
//!   watermark back until it delivers rows or a watermark again. When
//!   every open channel is idle, the watermark moves to the largest any of
//!   them reached (as Flink's valve does), and the task is idle itself:
//!   the loop tells its consumers so, once.
//! - **Barriers** (aligned): a channel that delivers barrier n is held (the
//!   loop stops reading it) until every open channel has delivered n; then
//!   the barrier is complete and every channel is released. A channel that
//!   ends during alignment no longer needs to deliver it. A different
//!   barrier while aligning is an error: barriers arrive in order, one
//!   checkpoint at a time.
//! - **Detached channels** (approximate failover): a channel whose
//!   producer went away without ending is neither read nor waited for —
//!   by the watermark or an alignment — yet its input stays open until
//!   the producer's new attempt is swapped in ([`Frontier::rewire`]). A
//!   rewired channel joins no alignment already under way.

use crate::message::{Barrier, Watermark};

/// A channel broke the order signals must keep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    /// A second barrier while another was being aligned.
    #[error("input {input} channel {channel} sent barrier {got} while barrier {aligning} was being aligned")]
    BarrierOutOfOrder {
        /// The input.
        input: usize,
        /// The channel.
        channel: usize,
        /// The barrier it sent.
        got: u64,
        /// The barrier being aligned.
        aligning: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Channel {
    ended: bool,
    held: bool,
    idle: bool,
    detached: bool,
    watermark: Watermark,
}

impl Channel {
    /// Whether it holds the watermark and alignments back.
    fn counts(&self) -> bool {
        !self.ended && !self.detached
    }
}

/// What a channel's end of data changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ended {
    /// Its input has no open channel left.
    pub input_ended: bool,
    /// The task's watermark advanced (the channel held it back).
    pub watermark: Option<Watermark>,
    /// The barrier being aligned waited only for this channel.
    pub barrier: Option<Barrier>,
}

/// The state of every channel of every input of one task.
#[derive(Debug, Clone)]
pub struct Frontier {
    inputs: Vec<Vec<Channel>>,
    watermark: Watermark,
    aligning: Option<Barrier>,
}

impl Frontier {
    /// A frontier over inputs with `channels[i]` channels each.
    pub fn new(channels: &[usize]) -> Self {
        let open = Channel {
            ended: false,
            held: false,
            idle: false,
            detached: false,
            watermark: Watermark::MIN,
        };
        Self {
            inputs: channels.iter().map(|&n| vec![open; n]).collect(),
            watermark: Watermark::MIN,
            aligning: None,
        }
    }

    fn channel(&self, input: usize, channel: usize) -> Option<&Channel> {
        self.inputs.get(input).and_then(|c| c.get(channel))
    }

    /// Whether the loop should read this channel now (open, not held).
    pub fn readable(&self, input: usize, channel: usize) -> bool {
        self.channel(input, channel)
            .is_some_and(|c| c.counts() && !c.held)
    }

    /// Whether a channel has not ended (held at a barrier or not).
    pub fn channel_open(&self, input: usize, channel: usize) -> bool {
        self.channel(input, channel).is_some_and(|c| !c.ended)
    }

    /// Whether input `input` has a channel the loop may read now.
    pub fn input_readable(&self, input: usize) -> bool {
        self.inputs
            .get(input)
            .is_some_and(|channels| channels.iter().any(|c| c.counts() && !c.held))
    }

    /// Whether input `input` has a channel that has not ended.
    pub fn input_open(&self, input: usize) -> bool {
        self.inputs
            .get(input)
            .is_some_and(|channels| channels.iter().any(|c| !c.ended))
    }

    /// Whether every channel of every input has ended.
    pub fn all_ended(&self) -> bool {
        self.inputs.iter().flatten().all(|c| c.ended)
    }

    /// The task's watermark so far.
    pub fn watermark(&self) -> Watermark {
        self.watermark
    }

    /// Records that `channel` of `input` reached `watermark`; returns the
    /// task's watermark if that advanced it.
    pub fn on_watermark(
        &mut self,
        input: usize,
        channel: usize,
        watermark: Watermark,
    ) -> Option<Watermark> {
        let state = self.inputs.get_mut(input)?.get_mut(channel)?;
        state.watermark = state.watermark.max(watermark);
        state.idle = false;
        self.advance()
    }

    /// Records that `channel` of `input` delivered rows: an idle channel
    /// is active again (and holds the watermark back from now on).
    pub fn on_data(&mut self, input: usize, channel: usize) {
        if let Some(state) = self.inputs.get_mut(input).and_then(|c| c.get_mut(channel)) {
            state.idle = false;
        }
    }

    /// Records that `channel` of `input` is idle; returns the task's
    /// watermark if that advanced it.
    pub fn on_idle(&mut self, input: usize, channel: usize) -> Option<Watermark> {
        let state = self.inputs.get_mut(input)?.get_mut(channel)?;
        state.idle = true;
        self.advance()
    }

    /// Whether every open channel is idle (and one is open): the task's
    /// own event time is unknown for now.
    pub fn all_idle(&self) -> bool {
        let mut open = self
            .inputs
            .iter()
            .flatten()
            .filter(|c| c.counts())
            .peekable();
        open.peek().is_some() && open.all(|c| c.idle)
    }

    /// Records that `channel` of `input` delivered `barrier`; returns it
    /// once every open channel has.
    pub fn on_barrier(
        &mut self,
        input: usize,
        channel: usize,
        barrier: Barrier,
    ) -> Result<Option<Barrier>, FrontierError> {
        match self.aligning {
            Some(aligning) if aligning != barrier => {
                return Err(FrontierError::BarrierOutOfOrder {
                    input,
                    channel,
                    got: barrier.checkpoint,
                    aligning: aligning.checkpoint,
                })
            }
            _ => self.aligning = Some(barrier),
        }
        if let Some(state) = self.inputs.get_mut(input).and_then(|c| c.get_mut(channel)) {
            state.held = true;
        }
        Ok(self.complete_barrier())
    }

    /// Records that `channel` of `input` has no more data.
    pub fn on_end(&mut self, input: usize, channel: usize) -> Ended {
        if let Some(state) = self.inputs.get_mut(input).and_then(|c| c.get_mut(channel)) {
            state.ended = true;
            state.held = false;
        }
        Ended {
            input_ended: !self.input_open(input),
            watermark: self.advance(),
            barrier: self.complete_barrier(),
        }
    }

    /// Records that `channel` of `input` lost its producer (approximate
    /// failover): it is not read or waited for until rewired.
    pub fn detach(&mut self, input: usize, channel: usize) -> Ended {
        if let Some(state) = self.inputs.get_mut(input).and_then(|c| c.get_mut(channel)) {
            state.detached = true;
            state.held = false;
        }
        Ended {
            input_ended: false,
            watermark: self.advance(),
            barrier: self.complete_barrier(),
        }
    }

    /// Records that `channel` of `input` now comes from its producer's
    /// new attempt: read again, holding the watermark back from where it
    /// was (never behind), but excused from the alignment under way —
    /// the new attempt may never send that barrier. Returns the barrier
    /// if that completes it.
    pub fn rewire(&mut self, input: usize, channel: usize) -> Option<Barrier> {
        let aligning = self.aligning.is_some();
        let state = self.inputs.get_mut(input)?.get_mut(channel)?;
        state.detached = false;
        state.ended = false;
        state.idle = false;
        state.held = aligning;
        self.complete_barrier()
    }

    fn advance(&mut self) -> Option<Watermark> {
        let open = || self.inputs.iter().flatten().filter(|c| c.counts());
        let active = open().filter(|c| !c.idle).map(|c| c.watermark).min();
        let reached = match active {
            Some(lowest) => lowest,
            None => open().map(|c| c.watermark).max()?,
        };
        (reached > self.watermark).then(|| {
            self.watermark = reached;
            reached
        })
    }

    fn complete_barrier(&mut self) -> Option<Barrier> {
        let barrier = self.aligning?;
        let open = || self.inputs.iter().flatten().filter(|c| c.counts());
        if !open().all(|c| c.held) {
            return None;
        }
        for channel in self.inputs.iter_mut().flatten() {
            channel.held = false;
        }
        self.aligning = None;
        Some(barrier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B1: Barrier = Barrier { checkpoint: 1 };

    #[test]
    fn a_detached_channel_holds_nothing_back_until_rewired_and_the_input_stays_open() {
        let mut f = Frontier::new(&[2]);
        f.on_watermark(0, 0, Watermark(40));
        f.on_watermark(0, 1, Watermark(10));
        assert_eq!(f.on_barrier(0, 0, B1), Ok(None));
        let detached = f.detach(0, 1);
        assert_eq!(detached.watermark, Some(Watermark(40)));
        assert_eq!(detached.barrier, Some(B1), "no longer waited for");
        assert!(!detached.input_ended && !f.all_ended());
        assert!(!f.readable(0, 1));
        assert_eq!(f.rewire(0, 1), None);
        assert!(f.readable(0, 1));
        assert_eq!(
            f.on_watermark(0, 1, Watermark(20)),
            None,
            "it holds the watermark again, from where the task was"
        );
        assert_eq!(f.on_watermark(0, 1, Watermark(50)), None);
        assert_eq!(f.on_watermark(0, 0, Watermark(60)), Some(Watermark(50)));
    }

    #[test]
    fn a_rewired_channel_is_excused_from_the_alignment_under_way() {
        let mut f = Frontier::new(&[3]);
        assert_eq!(f.on_barrier(0, 0, B1), Ok(None));
        assert_eq!(f.rewire(0, 2), None, "channel 1 has not delivered it");
        assert!(!f.readable(0, 2), "held until the alignment completes");
        assert_eq!(f.on_barrier(0, 1, B1), Ok(Some(B1)));
        assert!(f.readable(0, 2));
        let mut f = Frontier::new(&[2]);
        assert_eq!(f.on_barrier(0, 0, B1), Ok(None));
        assert_eq!(f.rewire(0, 1), Some(B1), "the only one missing");
    }

    #[test]
    fn the_watermark_is_the_slowest_open_channels_and_only_moves_forward() {
        let mut f = Frontier::new(&[2, 1]);
        assert_eq!(
            f.on_watermark(0, 0, Watermark(10)),
            None,
            "two still at MIN"
        );
        assert_eq!(f.on_watermark(0, 1, Watermark(20)), None, "input 1 at MIN");
        assert_eq!(f.on_watermark(1, 0, Watermark(5)), Some(Watermark(5)));
        assert_eq!(f.on_watermark(1, 0, Watermark(15)), Some(Watermark(10)));
        assert_eq!(
            f.on_watermark(0, 0, Watermark(3)),
            None,
            "a step back is ignored"
        );
        assert_eq!(f.on_watermark(0, 0, Watermark(30)), Some(Watermark(15)));
        assert_eq!(f.watermark(), Watermark(15));
    }

    #[test]
    fn an_ended_channel_stops_holding_the_watermark_back_but_the_end_is_not_one() {
        let mut f = Frontier::new(&[2]);
        f.on_watermark(0, 0, Watermark(50));
        let ended = f.on_end(0, 1);
        assert_eq!(
            ended,
            Ended {
                input_ended: false,
                watermark: Some(Watermark(50)),
                barrier: None
            }
        );
        assert!(!f.readable(0, 1));
        let last = f.on_end(0, 0);
        assert!(last.input_ended && last.watermark.is_none());
        assert!(f.all_ended());
    }

    #[test]
    fn the_last_watermark_is_where_the_channel_that_ended_last_left_it() {
        // Two inputs of two channels each, every channel at its last
        // watermark: only the order in which they end differs.
        let last = [[17_422, 34_922], [12_424, 24_924]];
        let run = |order: [(usize, usize); 4]| {
            let mut f = Frontier::new(&[2, 2]);
            for (input, channels) in last.iter().enumerate() {
                for (channel, &w) in channels.iter().enumerate() {
                    f.on_watermark(input, channel, Watermark(w));
                }
            }
            for (input, channel) in order {
                f.on_end(input, channel);
            }
            f.watermark()
        };
        assert_eq!(run([(0, 1), (1, 0), (1, 1), (0, 0)]), Watermark(17_422));
        assert_eq!(run([(0, 0), (1, 0), (1, 1), (0, 1)]), Watermark(34_922));
        assert_eq!(run([(0, 0), (0, 1), (1, 1), (1, 0)]), Watermark(12_424));
    }

    #[test]
    fn an_idle_channel_stops_holding_the_watermark_back_until_it_speaks_again() {
        let mut f = Frontier::new(&[3]);
        assert_eq!(f.on_watermark(0, 0, Watermark(10)), None);
        assert_eq!(f.on_watermark(0, 1, Watermark(20)), None);
        // Channel 2 never sent a watermark: idle, it no longer holds 10.
        assert_eq!(f.on_idle(0, 2), Some(Watermark(10)));
        assert!(!f.all_idle());
        // Rows make it active again; its watermark (none yet) holds the
        // task where it is, never back.
        f.on_data(0, 2);
        assert_eq!(f.on_watermark(0, 0, Watermark(30)), None);
        assert_eq!(f.on_watermark(0, 2, Watermark(25)), Some(Watermark(20)));
        assert_eq!(f.watermark(), Watermark(20));
    }

    #[test]
    fn when_every_channel_is_idle_the_watermark_is_the_largest_they_reached() {
        let mut f = Frontier::new(&[1, 1]);
        assert_eq!(f.on_watermark(0, 0, Watermark(5)), None);
        assert_eq!(f.on_watermark(1, 0, Watermark(9)), Some(Watermark(5)));
        // Whichever goes idle first, the last one idle moves the task to
        // the largest watermark: none of them holds rows back any more.
        assert_eq!(f.on_idle(0, 0), Some(Watermark(9)));
        assert!(!f.all_idle());
        assert_eq!(f.on_idle(1, 0), None);
        assert!(f.all_idle());
        // A watermark makes its channel active again, even one it sent
        // before (what a task repeats when it wakes): it holds the
        // watermark where it is, never back.
        assert_eq!(f.on_watermark(1, 0, Watermark(3)), None);
        assert!(!f.all_idle());
        assert_eq!(f.watermark(), Watermark(9));
        assert_eq!(f.on_watermark(1, 0, Watermark(12)), Some(Watermark(12)));
        assert!(!f.all_idle());
        // Ended channels are neither idle nor active.
        f.on_end(0, 0);
        f.on_end(1, 0);
        assert!(!f.all_idle());
    }

    #[test]
    fn a_barrier_holds_each_channel_until_every_open_one_has_delivered_it() {
        let mut f = Frontier::new(&[2, 1]);
        assert_eq!(f.on_barrier(0, 1, B1), Ok(None));
        assert!(!f.readable(0, 1), "held");
        assert!(f.input_readable(0));
        assert_eq!(f.on_barrier(0, 0, B1), Ok(None));
        assert!(
            !f.input_readable(0) && f.input_open(0),
            "held whole, not ended"
        );
        let mut f = Frontier::new(&[2, 1]);
        assert_eq!(f.on_barrier(0, 1, B1), Ok(None));
        assert!(f.readable(0, 0) && f.readable(1, 0));
        assert_eq!(f.on_barrier(1, 0, B1), Ok(None));
        assert_eq!(f.on_barrier(0, 0, B1), Ok(Some(B1)));
        assert!(f.readable(0, 0) && f.readable(0, 1) && f.readable(1, 0));
    }

    #[test]
    fn a_channel_that_ends_during_alignment_completes_it() {
        let mut f = Frontier::new(&[2]);
        assert_eq!(f.on_barrier(0, 0, B1), Ok(None));
        assert_eq!(f.on_end(0, 1).barrier, Some(B1));
        assert!(f.readable(0, 0));
    }

    #[test]
    fn a_second_barrier_during_alignment_is_an_error() {
        let mut f = Frontier::new(&[2]);
        f.on_barrier(0, 0, B1).unwrap();
        let error = f.on_barrier(0, 1, Barrier { checkpoint: 2 }).unwrap_err();
        assert!(
            error.to_string().contains("barrier 2 while barrier 1"),
            "{error}"
        );
    }

    #[test]
    fn an_input_without_channels_is_ended_from_the_start() {
        let f = Frontier::new(&[0]);
        assert!(f.all_ended() && !f.input_open(0));
    }
}
