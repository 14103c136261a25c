//! Transport tuning: buffer pool, credits, timeouts and the quinn settings
//! derived from them.
//!
//! QUIC has its own stream and connection flow-control windows. Faro's
//! credits already bound what a sender may put on the wire, so the QUIC
//! windows are sized so that they never bind before credits do: a stalled
//! channel then holds pool buffers, not QUIC window, and its neighbours on
//! the same connection keep flowing.

use std::sync::Arc;
use std::time::Duration;

use crate::error::TransportError;

/// UDP payload used on loopback. The link carries 65507, but quinn 0.11
/// on this kernel stalls with packets of 16 KiB and more (with or without
/// GSO), and 8 KiB packets only work without GSO, whose 64 KiB batch limit
/// they overflow. 4 KiB packets with GSO were the fastest that worked:
/// half the CPU per byte of 1200-byte packets.
pub const LOOPBACK_UDP_PAYLOAD: u16 = 4096;

/// Settings of a Faro transport endpoint.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// Size of a receive buffer, and so the largest frame payload accepted.
    pub buffer_size: usize,
    /// Receive buffers in the endpoint's pool: bounds its receive memory.
    pub pool_buffers: usize,
    /// How many of the pool's buffers are lent as floating credit; the
    /// rest are reserved as channels' exclusive credit.
    pub floating_buffers: usize,
    /// Fewest buffers each receiving channel reserves for its lifetime.
    pub exclusive_buffers: u32,
    /// Exclusive credit each channel reserves, in bytes: a channel gets
    /// enough buffers to cover it (and at least `exclusive_buffers`). One
    /// channel's throughput is credit in flight over the credit round trip,
    /// so small buffers need more of them; see [`Self::channel_exclusive`].
    pub channel_credit_bytes: usize,
    /// Frames a sender queues locally, beyond its credit, before `send` waits.
    pub sender_queue: usize,
    /// A connection silent for this long is declared dead (keep-alives go
    /// every third of it). This is how a peer killed outright — no close
    /// frame — is noticed, so it bounds how long a push to a dead shuffle
    /// node hangs before the task fails and re-runs.
    pub idle_timeout: Duration,
    /// Largest UDP payload to use: 1452 is safe on Ethernet; on loopback
    /// or jumbo-frame links up to 65507 cuts per-packet cost. Above 1452,
    /// quinn's MTU discovery probes up to it.
    pub max_udp_payload: u16,
    /// UDP payload the path is known to carry: packets start at this size
    /// and never shrink below it. Leave at 1200 unless the path is known
    /// (loopback); a value the path cannot carry fails the handshake.
    pub min_udp_payload: u16,
    /// Bytes quinn may have in flight per connection, unacknowledged.
    pub send_window: u64,
    /// Incoming bidirectional streams (channels) allowed per connection.
    pub max_channels: u32,
    /// Whether quinn hands the kernel batches of packets in one send
    /// (UDP GSO). A win for small packets; the kernel limits a batch to
    /// 64 KiB, so with large packets it only adds failure modes.
    pub segmentation_offload: bool,
    /// Kernel receive and send buffer asked for the UDP socket; see
    /// [`crate::socket`].
    pub socket_buffer: usize,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            buffer_size: 1 << 20,
            pool_buffers: 256,
            floating_buffers: 64,
            exclusive_buffers: 2,
            channel_credit_bytes: 512 << 10,
            sender_queue: 8,
            idle_timeout: Duration::from_secs(10),
            max_udp_payload: 1452,
            min_udp_payload: 1200,
            send_window: 64 << 20,
            max_channels: 1024,
            segmentation_offload: true,
            socket_buffer: 4 << 20,
        }
    }
}

impl TransportOptions {
    /// Options for peers on one machine: a packet size known to work on
    /// loopback ([`LOOPBACK_UDP_PAYLOAD`]) and a deep socket buffer for
    /// bursts.
    ///
    /// The size is declared rather than discovered: on a busy host a
    /// descheduled receiver makes quinn declare large packets lost, and
    /// its black-hole detection would then fall back to 1200-byte packets,
    /// at several times the CPU cost per byte. Use only between endpoints
    /// on one machine.
    pub fn loopback() -> Self {
        Self {
            max_udp_payload: LOOPBACK_UDP_PAYLOAD,
            min_udp_payload: LOOPBACK_UDP_PAYLOAD,
            socket_buffer: 32 << 20,
            ..Self::default()
        }
    }

    /// Exclusive buffers a receiving channel reserves: enough to cover
    /// `channel_credit_bytes`, at least `exclusive_buffers`. On this
    /// machine a credit loop takes a few hundred microseconds under load,
    /// so 512 KiB in flight sustains about 1.5 GB/s on one channel.
    pub fn channel_exclusive(&self) -> u32 {
        let by_bytes = self.channel_credit_bytes.div_ceil(self.buffer_size.max(1));
        self.exclusive_buffers
            .max(u32::try_from(by_bytes).unwrap_or(u32::MAX))
    }

    /// Checks the options for values that cannot work.
    pub fn validate(&self) -> Result<(), TransportError> {
        let fail = |message: String| Err(TransportError::Config(message));
        if self.buffer_size == 0 || self.buffer_size > u32::MAX as usize {
            return fail(format!(
                "buffer_size {} must be between 1 and 4 GiB",
                self.buffer_size
            ));
        }
        if self.exclusive_buffers == 0 {
            return fail("exclusive_buffers must be at least 1".into());
        }
        if self.floating_buffers > self.pool_buffers {
            return fail(format!(
                "floating_buffers {} is larger than pool_buffers {}",
                self.floating_buffers, self.pool_buffers
            ));
        }
        if self.pool_buffers - self.floating_buffers < self.channel_exclusive() as usize {
            return fail(format!(
                "pool_buffers {} less floating_buffers {} is smaller than one channel's {} exclusive buffers \
                 (exclusive_buffers {}, channel_credit_bytes {} over buffer_size {})",
                self.pool_buffers,
                self.floating_buffers,
                self.channel_exclusive(),
                self.exclusive_buffers,
                self.channel_credit_bytes,
                self.buffer_size
            ));
        }
        if !(1200..=65527).contains(&self.max_udp_payload) {
            return fail(format!(
                "max_udp_payload {} must be between 1200 and 65527",
                self.max_udp_payload
            ));
        }
        if self.idle_timeout < Duration::from_millis(100) {
            return fail(format!(
                "idle_timeout {:?} is below 100 ms",
                self.idle_timeout
            ));
        }
        Ok(())
    }

    fn pool_bytes(&self) -> u64 {
        (self.pool_buffers as u64).saturating_mul(self.buffer_size as u64)
    }

    /// The quinn transport settings these options imply.
    pub(crate) fn quinn_transport(&self) -> Result<Arc<quinn::TransportConfig>, TransportError> {
        let varint = |value: u64| {
            quinn::VarInt::from_u64(value.min(quinn::VarInt::MAX.into_inner()))
                .unwrap_or(quinn::VarInt::MAX)
        };
        let idle = quinn::IdleTimeout::try_from(self.idle_timeout).map_err(|_| {
            TransportError::Config(format!("idle_timeout {:?} is too large", self.idle_timeout))
        })?;
        let mut transport = quinn::TransportConfig::default();
        transport
            .max_idle_timeout(Some(idle))
            .keep_alive_interval(Some(self.idle_timeout / 3))
            .max_concurrent_bidi_streams(self.max_channels.into())
            .max_concurrent_uni_streams(0u32.into())
            // Credits bound every stream; the window must only cover them
            // (plus control frames) so it never stalls a channel first.
            .stream_receive_window(varint(self.pool_bytes() + (1 << 20)))
            .receive_window(varint(self.pool_bytes() + (8 << 20)))
            .send_window(self.send_window)
            .enable_segmentation_offload(self.segmentation_offload);
        transport
            .min_mtu(self.min_udp_payload)
            .initial_mtu(self.min_udp_payload);
        if self.min_udp_payload >= self.max_udp_payload {
            transport.mtu_discovery_config(None);
        } else if self.max_udp_payload > 1452 {
            // A lost probe is retried after a short cooldown, so one unlucky
            // burst does not pin the connection low for the default minute.
            let mut mtu = quinn::MtuDiscoveryConfig::default();
            mtu.upper_bound(self.max_udp_payload)
                .black_hole_cooldown(Duration::from_secs(2));
            transport.mtu_discovery_config(Some(mtu));
        }
        Ok(Arc::new(transport))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_credit_covers_the_configured_bytes() {
        let small = TransportOptions {
            buffer_size: 64 << 10,
            ..TransportOptions::default()
        };
        assert_eq!(small.channel_exclusive(), 8);
        assert_eq!(
            TransportOptions::default().channel_exclusive(),
            2,
            "1 MiB buffers keep the floor"
        );
        let none = TransportOptions {
            channel_credit_bytes: 0,
            ..small
        };
        assert_eq!(none.channel_exclusive(), 2);
    }

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        TransportOptions::default().validate().unwrap();
        TransportOptions::loopback().validate().unwrap();
        let err = TransportOptions {
            pool_buffers: 65,
            ..TransportOptions::default()
        }
        .validate()
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "pool_buffers 65 less floating_buffers 64 is smaller than one channel's 2"
            ),
            "{err}"
        );
        let err = TransportOptions {
            max_udp_payload: 100,
            ..TransportOptions::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("max_udp_payload 100"), "{err}");
    }
}
