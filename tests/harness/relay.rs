//! [`TcpRelay`]: a loopback TCP relay in front of the server whose live
//! connections a test can cut, to break a call mid-way the way a network
//! or a load balancer would, while new connections still get through.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Relays every connection to a target address until cut or dropped.
pub struct TcpRelay {
    addr: SocketAddr,
    /// Bumped on every cut; each relayed connection ends when it changes.
    cuts: watch::Sender<u64>,
    accepted: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl TcpRelay {
    /// Starts relaying `127.0.0.1:<free port>` to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("failed to bind the relay");
        let addr = listener.local_addr().expect("the relay has an address");
        let (cuts, _) = watch::channel(0);
        let accepted = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(accept_loop(
            listener,
            target,
            cuts.clone(),
            accepted.clone(),
        ));
        Self {
            addr,
            cuts,
            accepted,
            accept,
        }
    }

    /// Returns how many connections clients have opened through the relay.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Returns the relay's address as a client endpoint, `http://host:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every connection relayed so far, mid-call or not; later
    /// connections are relayed as before.
    pub fn cut(&self) {
        self.cuts.send_modify(|generation| *generation += 1);
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    cuts: watch::Sender<u64>,
    accepted: Arc<AtomicUsize>,
) {
    while let Ok((client, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::SeqCst);
        let mut cut = cuts.subscribe();
        cut.mark_unchanged();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            relay(client, server, &mut cut).await;
        });
    }
}

/// Copies bytes both ways until either side closes or the relay is cut;
/// returning drops (closes) both sockets.
async fn relay(mut client: TcpStream, mut server: TcpStream, cut: &mut watch::Receiver<u64>) {
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.changed() => {}
    }
}
