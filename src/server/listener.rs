//! Accepting connections under limits, serving HTTP/1.1 on each, and shutting down gracefully.
//!
//! - At most [`CONNECTIONS_MAX`] connections at once: a permit from a semaphore is taken *before*
//!   `accept`, so excess clients wait in the kernel's backlog instead of costing memory here.
//! - Each connection has a header read timeout ([`HEADER_READ_TIMEOUT`]) and a read buffer cap
//!   ([`REQUEST_HEAD_BYTES_MAX`]): a slow or oversized request head is cut off.
//! - Shutdown is a future passed in (SIGTERM/SIGINT in the binary): the listener stops accepting,
//!   every open connection finishes its in-flight request and closes, and [`serve`] returns
//!   within [`SHUTDOWN_GRACE`] at the latest.
//! - [`serve_per_core`] runs one single-threaded runtime per core, each accepting on its own
//!   `SO_REUSEPORT` socket ([`bind_reuseport`]): no work stealing, no cross-core wake-ups.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header::ACCEPT, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::limits::{CONNECTIONS_MAX, HEADER_READ_TIMEOUT, REQUEST_HEAD_BYTES_MAX, SHUTDOWN_GRACE};
use crate::server::resolver::Resolver;
use crate::snapshot::SnapshotBytes;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub connections_max: usize,
    pub header_read_timeout: Duration,
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            connections_max: CONNECTIONS_MAX,
            header_read_timeout: HEADER_READ_TIMEOUT,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// How [`serve`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection closed within the grace period.
    Cleanly,
    /// The grace period ran out with this many connections still open; they were dropped.
    TimedOut { open: usize },
}

/// Serves `resolver` on `listener` until `shutdown` completes, then drains.
pub async fn serve<B: SnapshotBytes>(
    listener: TcpListener,
    resolver: Arc<Resolver<B>>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Drained {
    let slots = Arc::new(Semaphore::new(options.connections_max));
    serve_with_slots(listener, resolver, &options, slots, shutdown).await
}

/// [`serve`] drawing connection slots from `slots`, shared by every listener of the process.
pub async fn serve_with_slots<B: SnapshotBytes>(
    listener: TcpListener,
    resolver: Arc<Resolver<B>>,
    options: &ServeOptions,
    slots: Arc<Semaphore>,
    shutdown: impl Future<Output = ()>,
) -> Drained {
    let counters = resolver.metrics().register_thread();
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(REQUEST_HEAD_BYTES_MAX)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    eprintln!("permitd: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let resolver = resolver.clone();
        let service_counters = counters.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let accept = request.headers().get(ACCEPT).map(|v| v.as_bytes());
            // The query string travels with the path: the few routes that read one parse it.
            let uri = request.uri();
            let path = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
            let method = request.method();
            let response = resolver.respond_counted(&service_counters, method, path, accept);
            async move { Ok::<_, Infallible>(response) }
        });
        counters.connection_opened();
        let connection_counters = counters.clone();
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client's error (reset, timeout, malformed request) only needs counting.
            if let Err(e) = connection.await {
                let reason = if e.is_timeout() {
                    0
                } else if e.is_parse() || e.is_parse_too_large() {
                    1
                } else {
                    2
                };
                connection_counters.rejected(reason);
            }
            connection_counters.connection_closed();
            drop(slot);
        });
    }
    drop(listener);
    let open = graceful.count();
    tokio::select! {
        () = graceful.shutdown() => Drained::Cleanly,
        () = tokio::time::sleep(options.shutdown_grace) => Drained::TimedOut { open },
    }
}

/// `count` listening sockets on one address with `SO_REUSEPORT`, so the kernel spreads incoming
/// connections over them. With port 0 the first socket picks the port and the others share it.
///
/// # Errors
/// Whatever binding the address gives (in use, not permitted).
pub fn bind_reuseport(
    addr: std::net::SocketAddr,
    count: usize,
) -> std::io::Result<Vec<std::net::TcpListener>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut listeners = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count.max(1) {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        let listener: std::net::TcpListener = socket.into();
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Pending connections the kernel queues per listening socket.
const LISTEN_BACKLOG: i32 = 4096;

/// Serves on every listener, each on its own thread with a single-threaded tokio runtime: one
/// per core, nothing shared on the request path but the read-only resolver (and the connection
/// slots at accept). Returns when `shutdown` turns true and every thread has drained.
pub fn serve_per_core<B: SnapshotBytes>(
    listeners: Vec<std::net::TcpListener>,
    resolver: Arc<Resolver<B>>,
    options: ServeOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Drained> {
    let slots = Arc::new(Semaphore::new(options.connections_max));
    let threads: Vec<_> = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let (resolver, slots, options) = (resolver.clone(), slots.clone(), options.clone());
            let mut shutdown = shutdown.clone();
            std::thread::Builder::new()
                .name(format!("permitd-core-{i}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async move {
                        let listener = TcpListener::from_std(listener)?;
                        let stop = async move {
                            let _ = shutdown.wait_for(|&stop| stop).await;
                        };
                        Ok(serve_with_slots(listener, resolver, &options, slots, stop).await)
                    })
                })
        })
        .collect::<std::io::Result<_>>()?;
    let mut outcome = Drained::Cleanly;
    for thread in threads {
        let drained: std::io::Result<Drained> =
            thread.join().expect("a serving thread does not panic");
        if let Drained::TimedOut { open } = drained? {
            outcome = match outcome {
                Drained::TimedOut { open: before } => Drained::TimedOut {
                    open: before + open,
                },
                Drained::Cleanly => Drained::TimedOut { open },
            };
        }
    }
    Ok(outcome)
}
