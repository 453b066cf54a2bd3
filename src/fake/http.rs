//! A fake HTTP receiver that accepts most requests and turns some away, for `herald demo`:
//! enough failures to show retries working, never enough to lose anything.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;

/// A running receiver; stops when dropped.
pub struct FakeHttp {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeHttp {
    /// Starts on a free loopback port; every `fail_every`-th request (if not 0) gets a 503.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(fail_every: u64) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let count = received.clone();
        let app = Router::new().fallback(move || {
            let n = count.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                if fail_every > 0 && n.is_multiple_of(fail_every) {
                    (StatusCode::SERVICE_UNAVAILABLE, "busy, try again").into_response()
                } else {
                    (StatusCode::OK, "ok").into_response()
                }
            }
        });
        let task = tokio::spawn(async move {
            let _stopped = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            received,
            task,
        })
    }

    /// A URL on the receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}
