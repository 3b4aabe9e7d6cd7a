//! What a connection may cost the server: deadlines on every request head (not only the
//! first, which is all actix-http's `client_request_timeout` covers) and on every body, an
//! idle write timeout for a client that stops reading, and a cap on simultaneous connections
//! per peer address. The accepted TCP stream is wrapped in [`LimitedIo`], which enforces the
//! deadlines; [`track_requests`] (the outermost middleware) tells it where each request is.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, TcpListener};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::{HttpMessage as _, HttpService, Protocol, Request};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{AppConfig, Payload, Server, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::rt::net::TcpStream;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The connection limits (`CALLEM_HEAD_TIMEOUT_SECS`, `CALLEM_BODY_TIMEOUT_SECS`,
/// `CALLEM_WRITE_IDLE_TIMEOUT_SECS`, `CALLEM_MAX_CONNECTIONS_PER_CLIENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// A request head must arrive whole within this time of its first byte (the first
    /// request's: of the connection being accepted).
    pub head_timeout: Duration,
    /// A request body must arrive whole within this time of its head.
    pub body_timeout: Duration,
    /// A response that makes no progress for this long (the client reads nothing) ends the
    /// connection.
    pub write_idle_timeout: Duration,
    /// Idle time allowed between two requests of a keep-alive connection.
    pub keep_alive: Duration,
    /// Simultaneous connections one peer address may hold; beyond, new ones are closed at once.
    pub max_connections_per_client: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            head_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(30),
            write_idle_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(5),
            max_connections_per_client: 64,
        }
    }
}

/// Where the connection's current request is, as [`LimitedIo`] must know to pick a deadline.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Between requests (or before the first): the next head must be complete by the deadline,
    /// started by its first byte (or by the end of the previous response).
    AwaitingHead { deadline: Option<Instant> },
    /// The head has arrived; the body must be complete by the deadline.
    Body { deadline: Instant },
    /// The request is whole: the handler runs and the response is written (no read deadline).
    Handling,
}

/// The phase of one connection, shared between its IO and the requests served on it (both run
/// on the connection's worker thread).
#[derive(Debug)]
pub struct ConnState {
    phase: Cell<Phase>,
    limits: ConnLimits,
}

impl ConnState {
    fn set(&self, phase: Phase) {
        self.phase.set(phase);
    }

    fn request_started(&self, has_body: bool) {
        self.set(if has_body {
            Phase::Body {
                deadline: Instant::now() + self.limits.body_timeout,
            }
        } else {
            Phase::Handling
        });
    }

    fn body_complete(&self) {
        if let Phase::Body { .. } = self.phase.get() {
            self.set(Phase::Handling);
        }
    }

    fn response_complete(&self) {
        // Idle time is keep-alive's, then the head's own time once its first byte is here.
        self.set(Phase::AwaitingHead {
            deadline: Some(Instant::now() + self.limits.keep_alive + self.limits.head_timeout),
        });
    }

    fn read_deadline(&self) -> Option<Instant> {
        match self.phase.get() {
            Phase::AwaitingHead { deadline } => deadline,
            Phase::Body { deadline } => Some(deadline),
            Phase::Handling => None,
        }
    }

    fn bytes_read(&self) {
        if let Phase::AwaitingHead { deadline } = self.phase.get() {
            let own = Instant::now() + self.limits.head_timeout;
            let tighter = deadline.map_or(own, |d| d.min(own));
            if deadline != Some(tighter) {
                self.set(Phase::AwaitingHead {
                    deadline: Some(tighter),
                });
            }
        }
    }
}

/// Counts the open connections of each peer address (shared by every worker).
#[derive(Debug, Default, Clone)]
struct PeerCounts(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One counted connection; uncounted when dropped (with the connection).
#[derive(Debug)]
struct PeerSlot {
    counts: PeerCounts,
    ip: IpAddr,
}

impl PeerCounts {
    fn take(&self, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// The accepted TCP stream, with the read deadline of its current phase and the idle write
/// timeout; an expired deadline is an IO error, which ends the connection.
pub struct LimitedIo {
    inner: TcpStream,
    state: Rc<ConnState>,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    /// Since when writes have made no progress.
    write_stalled: Option<Instant>,
    _slot: PeerSlot,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl LimitedIo {
    fn new(inner: TcpStream, limits: ConnLimits, slot: PeerSlot) -> Self {
        LimitedIo {
            inner,
            state: Rc::new(ConnState {
                phase: Cell::new(Phase::AwaitingHead { deadline: None }),
                limits,
            }),
            read_timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            write_timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            write_stalled: None,
            _slot: slot,
        }
    }

    /// A write that returned `Pending`: errors once writes have been stalled too long, and
    /// otherwise arms the timer that wakes the connection at that moment.
    fn write_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let since = *self.write_stalled.get_or_insert_with(Instant::now);
        let deadline = since + self.state.limits.write_idle_timeout;
        if self.write_deadline_passed(deadline, cx) {
            return Poll::Ready(Err(timed_out("the client stopped reading the response")));
        }
        Poll::Pending
    }

    /// What a write of the inner stream came to: progress restarts the idle clock, a
    /// `Pending` arms (or trips) it.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.write_stalled = None;
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.write_pending(cx).map(|r| r.map(|()| 0)),
        }
    }

    fn write_deadline_passed(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        if self.write_timer.deadline() != deadline {
            self.write_timer.as_mut().reset(deadline);
        }
        self.write_timer.as_mut().poll(cx).is_ready()
    }
}

impl AsyncRead for LimitedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.state.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = this.state.read_deadline() else {
                    return Poll::Pending;
                };
                if this.read_timer.deadline() != deadline {
                    this.read_timer.as_mut().reset(deadline);
                }
                match this.read_timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Err(timed_out("the client sent its request too slowly")))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for LimitedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => this.write_pending(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `factory`'s app on `listener` like `HttpServer::listen(…).run()` (same
/// `shutdown_timeout`, signals left to `main`), over [`LimitedIo`] connections.
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    limits: ConnLimits,
    uncapped: Vec<ipnetwork::IpNetwork>,
    shutdown_timeout_secs: u64,
    factory: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig, Error = actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let counts = PeerCounts::default();
    // A trusted proxy carries every client behind it: it is not capped (it caps them itself).
    let uncapped = Arc::new(uncapped);
    let builder = Server::build();
    // As `HttpServer` does: a graceful stop also ends idle keep-alive connections.
    let stopping = builder.graceful_shutdown_signal();
    Ok(builder
        .shutdown_timeout(shutdown_timeout_secs)
        .disable_signals()
        .listen("callem", listener, move || {
            let counts = counts.clone();
            let uncapped = uncapped.clone();
            let stopping = stopping.clone();
            let app = factory.clone();
            let accept = fn_service(move |io: TcpStream| {
                let peer = io.peer_addr().ok();
                let slot = peer.and_then(|p| {
                    let ip = p.ip();
                    let max = if uncapped.iter().any(|net| net.contains(ip)) {
                        usize::MAX
                    } else {
                        limits.max_connections_per_client
                    };
                    counts.take(ip, max)
                });
                async move {
                    let Some(slot) = slot else {
                        // Dropping the stream closes it at once.
                        tracing::debug!(peer = ?peer, "connection refused: too many from this address");
                        return Err(actix_http::error::DispatchError::Io(io::Error::other(
                            "too many connections from this address",
                        )));
                    };
                    let _ = io.set_nodelay(true);
                    Ok((LimitedIo::new(io, limits, slot), Protocol::Http1, peer))
                }
            });
            accept.and_then(
                HttpService::<LimitedIo, _, _>::build()
                    .graceful_shutdown_signal(move || {
                        let stopping = stopping.clone();
                        async move { stopping.notified().await }
                    })
                    .keep_alive(limits.keep_alive)
                    .client_request_timeout(limits.head_timeout)
                    .local_addr(addr)
                    .on_connect_ext(|io: &LimitedIo, ext| {
                        ext.insert(io.state.clone());
                    })
                    .finish(map_config(app(), move |_| {
                        AppConfig::__priv_test_new(false, addr.to_string(), addr)
                    })),
            )
        })?
        .run())
}

/// The outermost middleware: starts the body deadline when a request's head has arrived,
/// ends it when the body is read, and starts the next head's when the response is written.
pub async fn track_requests(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<Tracked<BoxBody>>, actix_web::Error> {
    let Some(state) = req.conn_data::<Rc<ConnState>>().cloned() else {
        return next.call(req).await.map(|res| {
            res.map_into_boxed_body()
                .map_body(|_, b| Tracked::untracked(b))
        });
    };
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    state.request_started(has_body);
    if has_body {
        let payload = req.take_payload();
        req.set_payload(Payload::from(Box::pin(TrackedPayload {
            inner: payload,
            state: state.clone(),
        })
            as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>));
    }
    match next.call(req).await {
        Ok(res) => Ok(res.map_into_boxed_body().map_body(|_, body| Tracked {
            body,
            state: Some(state),
        })),
        Err(e) => {
            state.response_complete();
            Err(e)
        }
    }
}

/// The request body, telling the connection when it has been read whole.
struct TrackedPayload {
    inner: Payload,
    state: Rc<ConnState>,
}

impl Stream for TrackedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(None) = polled {
            self.state.body_complete();
        }
        polled
    }
}

/// The response body, telling the connection when it has been written whole (or dropped).
pub struct Tracked<B> {
    body: B,
    state: Option<Rc<ConnState>>,
}

impl<B> Tracked<B> {
    fn untracked(body: B) -> Self {
        Tracked { body, state: None }
    }
}

impl<B> Drop for Tracked<B> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            state.response_complete();
        }
    }
}

impl<B: MessageBody + Unpin> MessageBody for Tracked<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}
