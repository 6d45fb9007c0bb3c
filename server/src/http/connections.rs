//! The serve loop: accepts TCP connections up to a cap and serves each with hyper's HTTP/1,
//! with a header timeout, an idle timeout and a body timeout (README "HTTP limits").
//!
//! `axum::serve` has none of these: 1,000 half-sent requests held 1,000 sockets for over a
//! minute (issue 17, item 9). Decisions:
//! - **The cap waits, it does not refuse.** Over [`HttpLimits::max_connections`] the loop stops
//!   accepting; new connections wait in the kernel's listen backlog and are served as soon as
//!   one closes (a slow client closes at the latest after the header timeout). A burst of
//!   normal clients is delayed, not failed.
//! - **Header and idle timeouts are one timer with two deadlines.** hyper arms its header timer
//!   whenever it waits for a request head: at the start of a connection *and* between requests on
//!   a kept-alive one, so with hyper alone the idle timeout would be the header timeout.
//!   [`HeadTimer`] gives hyper's timer two deadlines: the header timeout from the connection's
//!   start or from the first byte of a later request, and the idle timeout while a kept-alive
//!   connection has received nothing. hyper does not wait for a head while a request is being
//!   answered, so a long computation or a streamed export is never idle.
//! - **The body timeout is per chunk** (tower-http's `TimeoutBody`): an import upload on a slow
//!   line works as long as bytes keep coming, and the clock runs only while the handler waits
//!   for the body.
//! - **Shutdown drains**: stop accepting, let each connection finish its request (hyper's
//!   graceful shutdown closes idle ones at once), and return when every connection is gone.
//! - **TLS is the same loop** ([`serve_with`] and an acceptor from `http::tls`): the handshake
//!   runs inside the connection's task, under its permit, and belongs to the first request's
//!   head: handshake and head together must arrive within the header timeout from the
//!   connection's start. The idle and body timeouts count decrypted bytes.
//!
//! Every request carries the peer address as `ConnectInfo<SocketAddr>`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_http::timeout::TimeoutBody;

use crate::settings::HttpLimits;

/// Serves `app` on `listener` until `shutdown` completes, then drains: returns when every
/// connection has finished.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_with(listener, app, limits, None, shutdown).await;
}

/// [`serve`], over TLS when `tls` is given.
pub async fn serve_with(
    mut listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // The permit first: over the cap, connections wait in the backlog, not in memory.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            // axum's accept: retries connection errors, waits a second on others (EMFILE).
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(
            stream,
            peer,
            tls.clone(),
            app.clone(),
            limits.clone(),
            stopped.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it ends: having them all back means drained.
    let _ = permits.acquire_many(limits.max_connections).await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    limits: HttpLimits,
    mut stopped: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let started = tokio::time::Instant::now();
    let Some(acceptor) = tls else {
        return http1(stream, peer, started, app, limits, stopped).await;
    };
    let handshake =
        tokio::time::timeout_at(started + limits.header_timeout, acceptor.accept(stream));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            // Scanners, plain HTTP on the HTTPS port, clients that distrust the certificate.
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                return;
            }
        },
        _ = stopped.wait_for(|stop| *stop) => return,
    };
    http1(stream, peer, started, app, limits, stopped).await;
}

/// One HTTP/1 connection over `stream` (TCP, or TLS after the handshake) that began at
/// `started`.
async fn http1<S>(
    stream: S,
    peer: SocketAddr,
    started: tokio::time::Instant,
    app: Router,
    limits: HttpLimits,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let received = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Counted {
        stream,
        received: received.clone(),
    });
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(|body| axum::body::Body::new(TimeoutBody::new(body_timeout, body)));
        req.extensions_mut().insert(ConnectInfo(peer));
        tower::ServiceExt::oneshot(app.clone(), req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(HeadTimer {
            received,
            started,
            header: limits.header_timeout,
            idle: limits.idle_timeout,
        })
        .header_read_timeout(limits.header_timeout);
    let mut conn = std::pin::pin!(builder.serve_connection(io, service));
    let stop = async {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = stop => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        // Timeouts and clients that went away: normal, and not worth more than a debug line.
        tracing::debug!(error = %e, "connection ended");
    }
}

/// The socket, counting the bytes received so that [`HeadTimer`] can tell an idle connection
/// from one that has started a request.
struct Counted<S> {
    stream: S,
    received: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            this.received.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// hyper's timer for one HTTP/1 server connection. hyper uses `sleep_until` there only for its
/// header read timeout, armed each time it starts waiting for a request head; the sleep it gets
/// ([`HeadWait`]) moves its own deadline: the header timeout on a new connection or from the
/// first byte of a request, the idle timeout while nothing has arrived since the last answer.
/// (`tests/tests/hardening.rs` checks both deadlines against a real server, so a hyper that
/// used the timer otherwise would fail there.)
#[derive(Clone)]
struct HeadTimer {
    received: Arc<AtomicU64>,
    /// When the connection was accepted (before a TLS handshake).
    started: tokio::time::Instant,
    header: Duration,
    idle: Duration,
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        hyper_util::rt::TokioTimer::new().sleep(duration)
    }

    fn sleep_until(&self, _deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let now = tokio::time::Instant::now();
        let received = self.received.load(Ordering::Relaxed);
        Box::pin(HeadWait {
            sleep: Box::pin(tokio::time::sleep_until(now + self.header)),
            received: self.received.clone(),
            // The first head's clock runs from the connection's start (a TLS handshake counts).
            armed_at: if received == 0 { self.started } else { now },
            received_at_arm: received,
            first_byte_at: None,
            header: self.header,
            idle: self.idle,
        })
    }
}

struct HeadWait {
    sleep: Pin<Box<tokio::time::Sleep>>,
    received: Arc<AtomicU64>,
    armed_at: tokio::time::Instant,
    /// Bytes the connection had received when hyper began to wait: 0 on a new connection.
    received_at_arm: u64,
    /// When a byte of the awaited request was first seen (hyper polls this sleep right after
    /// each read that did not complete the head).
    first_byte_at: Option<tokio::time::Instant>,
    header: Duration,
    idle: Duration,
}

impl HeadWait {
    fn deadline(&mut self) -> tokio::time::Instant {
        if self.first_byte_at.is_none()
            && self.received.load(Ordering::Relaxed) > self.received_at_arm
        {
            self.first_byte_at = Some(tokio::time::Instant::now());
        }
        match self.first_byte_at {
            // A new connection has the header timeout from its start, whatever trickles in.
            _ if self.received_at_arm == 0 => self.armed_at + self.header,
            Some(first) => first + self.header,
            None => self.armed_at + self.idle,
        }
    }
}

impl Future for HeadWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let deadline = this.deadline();
        if this.sleep.deadline() != deadline {
            this.sleep.as_mut().reset(deadline);
        }
        this.sleep.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for HeadWait {}
