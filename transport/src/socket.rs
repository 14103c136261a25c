//! UDP socket sizing.
//!
//! QUIC on a fast path sends bursts faster than a default-sized kernel
//! receive buffer (about 200 KiB) drains. The overflow is silent packet
//! loss, which quinn reads as congestion and, with large datagrams, as an
//! MTU black hole, dropping to 1200-byte packets for a minute. Sizing the
//! socket buffers to hold a burst avoids both.
//!
//! `SO_RCVBUFFORCE`/`SO_SNDBUFFORCE` (root, or `CAP_NET_ADMIN`) may exceed
//! the system's `net.core.rmem_max`; otherwise the plain options are used
//! and the kernel caps them there.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// Effective kernel buffer sizes of a socket, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketBuffers {
    /// Receive buffer.
    pub receive: usize,
    /// Send buffer.
    pub send: usize,
}

fn set_option(socket: &UdpSocket, name: libc::c_int, bytes: usize) -> bool {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: the fd is a live socket owned by `socket`, and the option
    // value is a c_int whose size is passed alongside it.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    result == 0
}

fn get_option(socket: &UdpSocket, name: libc::c_int) -> usize {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: as above; `value` and `len` are valid for writes of a c_int.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if result == 0 {
        usize::try_from(value).unwrap_or(0)
    } else {
        0
    }
}

/// Asks for `bytes` of receive and send buffer and returns what the kernel
/// granted (Linux reports twice the requested size, for its bookkeeping).
pub fn size_buffers(socket: &UdpSocket, bytes: usize) -> SocketBuffers {
    if !set_option(socket, libc::SO_RCVBUFFORCE, bytes) {
        set_option(socket, libc::SO_RCVBUF, bytes);
    }
    if !set_option(socket, libc::SO_SNDBUFFORCE, bytes) {
        set_option(socket, libc::SO_SNDBUF, bytes);
    }
    SocketBuffers {
        receive: get_option(socket, libc::SO_RCVBUF),
        send: get_option(socket, libc::SO_SNDBUF),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_grow_at_least_to_the_system_maximum() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = get_option(&socket, libc::SO_RCVBUF);
        let after = size_buffers(&socket, 8 << 20);
        assert!(after.receive >= before, "{after:?} vs {before}");
        assert!(after.receive > 0 && after.send > 0);
    }
}
