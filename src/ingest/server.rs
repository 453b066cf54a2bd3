//! The ingest server's connection handling, with the limits a public endpoint needs:
//! a cap on open connections, a deadline for a request's headers (slow-loris clients are
//! cut off rather than holding a connection forever), a deadline for the whole request, and
//! a bound on header size.
//!
//! Only HTTP/1.1 is served. Atlantis and env0 post with HTTP/1.1, and HTTP/2 would let one
//! connection carry hundreds of concurrent bodies; hyper's HTTP/1 connection also starts its
//! header deadline the moment it waits for a request line, so a connection that sends
//! nothing at all (or idles between requests) is closed after `header_timeout` too.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// Limits on what one client can take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at once; more wait in the kernel's backlog until one closes. Every
    /// open connection is closed within `header_timeout` when it sends no request, and
    /// within `request_timeout` when it does, so a waiting one is never starved for good.
    pub max_connections: usize,
    /// Time allowed to send a request's headers.
    pub header_timeout: Duration,
    /// Time allowed for a whole request, body included.
    pub request_timeout: Duration,
    /// Total size of a request's header names and values.
    pub max_header_bytes: usize,
    /// Time given to open requests when shutting down.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            max_header_bytes: 16 * 1024,
            grace: Duration::from_secs(5),
        }
    }
}

/// Refuses oversized headers (431) and requests that take too long (408).
pub async fn guard(limits: Limits, req: Request, next: Next) -> Response {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > limits.max_header_bytes {
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            axum::Json(serde_json::json!({
                "error": "headers too large",
                "detail": format!("the limit is {} bytes of header names and values", limits.max_header_bytes),
            })),
        )
            .into_response();
    }
    match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            axum::Json(serde_json::json!({
                "error": "request took too long",
                "detail": format!("send the whole request within {}", humantime::format_duration(limits.request_timeout)),
            })),
        )
            .into_response(),
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets open requests finish for up
/// to `limits.grace`.
///
/// # Errors
/// Only on a listener failure that is not a per-connection error.
pub async fn run(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = std::sync::Arc::new(Semaphore::new(limits.max_connections));
    let tracker = TaskTracker::new();
    let (closing_tx, closing_rx) = watch::channel(false);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, addr) = tokio::select! {
            () = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut closing = closing_rx.clone();
        tracker.spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut req = req.map(Body::new);
                    // Who is asking: the operator API answers only loopback without tokens.
                    req.extensions_mut().insert(crate::api::Peer(addr));
                    router.clone().oneshot(req)
                });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = async { while closing.changed().await.is_ok() && !*closing.borrow() {} } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    let _ = closing_tx.send(true);
    tracker.close();
    if tokio::time::timeout(limits.grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("closing connections that did not finish within the grace period");
    }
    Ok(())
}
