//! Endpoints and connections: the QUIC socket, its TLS identity, and the
//! receive buffer pool every channel of the endpoint draws from.
//!
//! One endpoint both accepts and initiates connections, so a worker can
//! serve its peers and dial them on one UDP port. The pool is per endpoint,
//! like Flink's network buffer pool per TaskManager: it bounds the receive
//! memory of the whole process side, however many connections it has.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::channel::{
    accept_stream, open_streams, ChannelReceiver, ChannelSender, IncomingChannel, Role,
};
use crate::error::TransportError;
use crate::options::TransportOptions;
use crate::pool::BufferPool;
use crate::tls::TlsConfig;

/// A QUIC endpoint bound to a UDP socket.
#[derive(Clone)]
pub struct Endpoint {
    quinn: quinn::Endpoint,
    client: quinn::ClientConfig,
    pool: Arc<BufferPool>,
    options: Arc<TransportOptions>,
}

/// How long a pool must have held no frame before its idle buffers go
/// back to the allocator, and how many it keeps warm.
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(2);
const POOL_WARM: usize = 8;

/// Trims `pool` now and then for as long as its endpoint lives.
async fn trim_while_alive(pool: std::sync::Weak<BufferPool>) {
    loop {
        tokio::time::sleep(POOL_IDLE / 2).await;
        match pool.upgrade() {
            Some(pool) => {
                pool.trim_idle(POOL_IDLE, POOL_WARM);
            }
            None => return,
        }
    }
}

impl Endpoint {
    /// Binds `addr` (port 0 picks a free port) with the given identity.
    /// Must be called inside a tokio runtime.
    pub fn bind(
        addr: SocketAddr,
        tls: &TlsConfig,
        options: TransportOptions,
    ) -> Result<Self, TransportError> {
        options.validate()?;
        let transport = options.quinn_transport()?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(tls.quic_server_config()?));
        server.transport_config(transport.clone());
        let mut client = quinn::ClientConfig::new(Arc::new(tls.quic_client_config()?));
        client.transport_config(transport);

        let mut endpoint_config = quinn::EndpointConfig::default();
        endpoint_config
            .max_udp_payload_size(options.max_udp_payload)
            .map_err(|e| TransportError::Config(format!("max_udp_payload: {e}")))?;
        let socket = std::net::UdpSocket::bind(addr)?;
        let buffers = crate::socket::size_buffers(&socket, options.socket_buffer);
        if buffers.receive < options.socket_buffer {
            tracing::warn!(
                granted = buffers.receive,
                asked = options.socket_buffer,
                "UDP receive buffer is smaller than asked (raise net.core.rmem_max or grant CAP_NET_ADMIN); expect loss under load"
            );
        }
        let runtime = quinn::default_runtime().ok_or_else(|| {
            TransportError::Config("Endpoint::bind must run inside a tokio runtime".into())
        })?;
        let quinn = quinn::Endpoint::new(endpoint_config, Some(server), socket, runtime)?;
        let pool = Arc::new(BufferPool::new(
            options.pool_buffers,
            options.floating_buffers,
            options.buffer_size,
        ));
        tokio::spawn(trim_while_alive(Arc::downgrade(&pool)));
        Ok(Self {
            quinn,
            client,
            pool,
            options: Arc::new(options),
        })
    }

    /// The address the endpoint is bound to.
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        Ok(self.quinn.local_addr()?)
    }

    /// The receive buffer pool shared by all channels of this endpoint.
    pub fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    /// The options the endpoint was bound with.
    pub fn options(&self) -> &TransportOptions {
        &self.options
    }

    /// Connects to a peer, whose certificate must be valid for `server_name`
    /// and signed by our CA.
    pub async fn connect(
        &self,
        addr: SocketAddr,
        server_name: &str,
    ) -> Result<Connection, TransportError> {
        let connecting = self
            .quinn
            .connect_with(self.client.clone(), addr, server_name)?;
        Ok(self.wrap(connecting.await?))
    }

    /// Waits for the next peer to begin a connection, without waiting for
    /// its handshake: a server completes each [`Handshake`] in a task of
    /// its own, so a peer that stalls mid-handshake (killed, or hostile)
    /// holds up no other peer. `None` once the endpoint is closed.
    pub async fn accept_handshake(&self) -> Option<Handshake> {
        let incoming = self.quinn.accept().await?;
        Some(Handshake {
            incoming,
            endpoint: self.clone(),
        })
    }

    /// Waits for the next incoming connection and completes its handshake
    /// before taking another: for a peer that expects one caller at a
    /// time. Servers use [`Endpoint::accept_handshake`]. `None` once the
    /// endpoint is closed; a handshake that fails (wrong CA, wrong
    /// protocol) is an `Err` for that connection only.
    pub async fn accept(&self) -> Option<Result<Connection, TransportError>> {
        Some(self.accept_handshake().await?.complete().await)
    }

    fn wrap(&self, quinn: quinn::Connection) -> Connection {
        Connection {
            quinn,
            pool: self.pool.clone(),
            options: self.options.clone(),
        }
    }

    /// Closes every connection and stops accepting new ones.
    pub fn close(&self) {
        self.quinn.close(0u32.into(), b"endpoint closed");
    }

    /// Waits until every connection has been closed cleanly.
    pub async fn wait_idle(&self) {
        self.quinn.wait_idle().await;
    }
}

/// A connection a peer has begun and whose handshake is still under way.
pub struct Handshake {
    incoming: quinn::Incoming,
    endpoint: Endpoint,
}

impl Handshake {
    /// The address the peer connects from (not yet authenticated).
    pub fn remote_address(&self) -> SocketAddr {
        self.incoming.remote_address()
    }

    /// Completes the handshake: the connection once both sides proved
    /// their identity, or why not. A peer that stops answering fails it
    /// after the idle timeout.
    pub async fn complete(self) -> Result<Connection, TransportError> {
        let connection = self.incoming.await?;
        Ok(self.endpoint.wrap(connection))
    }
}

/// An established, mutually authenticated connection to a peer.
#[derive(Clone)]
pub struct Connection {
    quinn: quinn::Connection,
    pool: Arc<BufferPool>,
    options: Arc<TransportOptions>,
}

impl Connection {
    /// Opens a channel on which this side sends; `open` tells the peer
    /// what the channel is for.
    pub async fn open_sender(&self, open: &[u8]) -> Result<ChannelSender, TransportError> {
        let (send, recv) = open_streams(&self.quinn, Role::Push, open).await?;
        Ok(ChannelSender::start(
            send,
            recv,
            self.options.sender_queue,
            self.options.buffer_size,
        ))
    }

    /// Opens a channel on which this side receives (the peer sends).
    pub async fn open_receiver(&self, open: &[u8]) -> Result<ChannelReceiver, TransportError> {
        let (send, recv) = open_streams(&self.quinn, Role::Pull, open).await?;
        ChannelReceiver::start(
            send,
            recv,
            self.pool.clone(),
            self.options.channel_exclusive(),
        )
    }

    /// Waits for the peer to open a channel.
    pub async fn accept_channel(&self) -> Result<IncomingChannel, TransportError> {
        let (send, recv) = self.quinn.accept_bi().await?;
        accept_stream(send, recv, self.pool.clone(), self.options.clone()).await
    }

    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.quinn.remote_address()
    }

    /// Waits until the connection is closed and says why.
    pub async fn closed(&self) -> TransportError {
        TransportError::ConnectionLost(self.quinn.closed().await)
    }

    /// Whether the connection is still usable (not closed by either end,
    /// nor timed out).
    pub fn is_open(&self) -> bool {
        self.quinn.close_reason().is_none()
    }

    /// Closes the connection; its channels fail with `ConnectionLost`.
    pub fn close(&self) {
        self.quinn.close(0u32.into(), b"closed");
    }

    /// The underlying quinn connection, for raw access in tests and benches.
    pub fn quinn(&self) -> &quinn::Connection {
        &self.quinn
    }
}
