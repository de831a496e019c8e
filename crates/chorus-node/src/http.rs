//! The accept loop the node's two HTTP listeners share (the website and
//! the metrics endpoint): HTTP/1.1 by hyper, a bound on open connections,
//! on the size and arrival time of a request head, and on a connection's
//! lifetime. Each listener supplies only how it answers a request, given
//! the client's address (the website's API limits submissions by it).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// The bounds of one listener.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HttpLimits {
    /// Connections open at once; further ones wait to be accepted.
    pub connections: usize,
    /// Largest request head (hyper's read buffer; 8 KiB at least).
    pub head_bytes: usize,
    /// Time a client has to send its request head.
    pub head_timeout: Duration,
    /// Longest life of a connection, keep-alive included.
    pub connection_timeout: Duration,
}

/// Serves `listener` until `stopped` changes (or its sender is dropped),
/// answering each request with `respond` (the request and the client's
/// address); `None` serves until the task is
/// dropped or aborted. At shutdown every open connection is dropped, so
/// none outlives what `respond` reads. `what` names the listener in logs.
pub(crate) fn spawn<F, Fut>(
    listener: TcpListener,
    what: &'static str,
    limits: HttpLimits,
    mut stopped: Option<watch::Receiver<bool>>,
    respond: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let respond = Arc::new(respond);
    let slots = Arc::new(Semaphore::new(limits.connections));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "{what}: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = changed(&mut stopped) => return,
            };
            let respond = respond.clone();
            let mut stop = stopped.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |req| {
                    let reply = respond(req, peer);
                    async move { Ok::<_, Infallible>(reply.await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(limits.head_timeout)
                    .max_buf_size(limits.head_bytes)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                tokio::select! {
                    _ = tokio::time::timeout(limits.connection_timeout, conn) => {}
                    _ = changed(&mut stop) => {}
                }
            });
        }
    })
}

/// Resolves when the shutdown signal changes or its sender is gone; never
/// without one.
async fn changed(stopped: &mut Option<watch::Receiver<bool>>) {
    match stopped {
        Some(rx) => {
            let _ = rx.changed().await;
        }
        None => std::future::pending().await,
    }
}
