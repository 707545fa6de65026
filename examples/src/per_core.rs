//! Serving an axum app the way actix-web serves its apps: one thread accepts connections and
//! hands them in turn to one single-threaded tokio runtime per core, which serves each
//! connection to its end. A request never moves between threads, and connections are spread
//! evenly (the kernel's `SO_REUSEPORT` hashing is not even with few connections).
//!
//! `axum::serve(listener, app)` on tokio's multi-threaded runtime is the usual way to serve an
//! axum app and works the same; on two cores it is slower (BENCHMARKS.md), so the demo is
//! served this way to compare the two adapters rather than the two threading models.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::support::announce;

/// Serves `app` on `addr` with one worker thread per core (see the module docs), after
/// printing the bound address (port 0 picks a free port). Runs until the process ends.
///
/// # Errors
/// When the address cannot be bound, a runtime cannot start, or a worker thread stops.
pub fn serve_axum(addr: SocketAddr, app: Router) -> io::Result<()> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    announce(&[local]);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut hand_to = Vec::with_capacity(workers);
    for index in 0..workers {
        let (sender, connections) = unbounded_channel();
        hand_to.push(sender);
        let app = app.clone();
        std::thread::Builder::new()
            .name(format!("axum-worker-{index}"))
            .spawn(move || -> io::Result<()> {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
                    .block_on(async move { axum::serve(Handed { connections, local }, app).await })
            })?;
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(accept_loop(listener, &hand_to))
}

/// Accepts connections and hands them to the workers in turn.
async fn accept_loop(
    listener: std::net::TcpListener,
    workers: &[UnboundedSender<(std::net::TcpStream, SocketAddr)>],
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    for worker in workers.iter().cycle() {
        let (stream, peer) = loop {
            match listener.accept().await {
                Ok(accepted) => break accepted,
                // Out of file descriptors and the like: wait rather than spin.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        // The worker registers the connection with its own runtime.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "could not hand a connection over");
                continue;
            }
        };
        if worker.send((stream, peer)).is_err() {
            return Err(io::Error::other("a server worker thread stopped"));
        }
    }
    Ok(())
}

/// The connections one worker is handed, as a listener for `axum::serve`.
struct Handed {
    connections: UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for Handed {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some((stream, peer)) = self.connections.recv().await else {
                // The acceptor is gone: the process is ending.
                return std::future::pending().await;
            };
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => {
                    // Nagle's algorithm off, as actix-web sets it on its connections.
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::warn!(%error, "could not set TCP_NODELAY");
                    }
                    return (stream, peer);
                }
                Err(error) => tracing::warn!(%error, "could not take a connection over"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
