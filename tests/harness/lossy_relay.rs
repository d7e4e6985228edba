//! [`LossyRelay`]: a loopback relay in front of the server that can lose
//! the reply to one call after the server sent it, the way a connection that
//! breaks at the wrong moment does. The call was carried out, but the client
//! sees a transport error: the case idempotency keys exist for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The HTTP/2 frame type that carries a response's headers.
const HEADERS: u8 = 0x1;

/// Relays every connection to a target address; once armed, it closes the
/// connection that carries the next response instead of forwarding it.
pub struct LossyRelay {
    addr: SocketAddr,
    armed: Arc<AtomicBool>,
    lost: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl LossyRelay {
    /// Starts relaying `127.0.0.1:<free port>` to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("failed to bind the lossy relay");
        let addr = listener.local_addr().expect("the relay has an address");
        let armed = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(accept_loop(listener, target, armed.clone(), lost.clone()));
        Self {
            addr,
            armed,
            lost,
            accept,
        }
    }

    /// Returns the relay's address as a client endpoint, `http://host:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Loses the next response: when the server starts sending it (which a
    /// unary gRPC server does only once the handler has finished), the relay
    /// closes that connection without forwarding a byte of it.
    pub fn lose_next_reply(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Returns how many replies were lost.
    pub fn replies_lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    armed: Arc<AtomicBool>,
    lost: Arc<AtomicUsize>,
) {
    while let Ok((client, _)) = listener.accept().await {
        let (armed, lost) = (armed.clone(), lost.clone());
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            // Returning from either direction drops (closes) both sockets.
            tokio::select! {
                _ = tokio::io::copy(&mut client_read, &mut server_write) => {}
                _ = replies(&mut server_read, &mut client_write, &armed, &lost) => {}
            }
        });
    }
}

/// Forwards the server's HTTP/2 frames one by one, and stops at the first
/// response HEADERS frame seen while armed.
async fn replies(
    server: &mut OwnedReadHalf,
    client: &mut OwnedWriteHalf,
    armed: &AtomicBool,
    lost: &AtomicUsize,
) -> std::io::Result<()> {
    let mut header = [0u8; 9];
    loop {
        server.read_exact(&mut header).await?;
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let frame_type = header[3];
        let stream_id =
            u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; length];
        server.read_exact(&mut payload).await?;
        if frame_type == HEADERS
            && stream_id != 0
            && armed
                .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            lost.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        client.write_all(&header).await?;
        client.write_all(&payload).await?;
    }
}
