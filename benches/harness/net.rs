//! The harness's own loopback peers: a light HTTP/1.1 load generator and a receiver that
//! counts (and optionally timestamps) what it gets. Both are plain hyper, so the same
//! client measures herald and the receiver's own ceiling, and neither takes much of the
//! two cores away from what is measured.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// Receipt times by event number.
type Seen = Arc<Mutex<Vec<(u64, Instant)>>>;

/// How a receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 at once.
    Ok,
    /// 503 for one request in a hundred, else 200.
    FlakyOnePercent,
    /// Reads the request and never answers.
    Stall,
}

/// A loopback HTTP receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    count: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    seen: Option<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver; with `record`, it keeps the receipt time of every body's
    /// `detection_id` number (see [`drift_body`]).
    pub async fn start(behaviour: Behaviour, record: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let count = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let seen = record.then(|| Arc::new(Mutex::new(Vec::with_capacity(65_536))));
        let (c, s, opened) = (count.clone(), seen.clone(), connections.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                opened.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nodelay(true);
                let (c, s) = (c.clone(), s.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (c, s) = (c.clone(), s.clone());
                        async move { Ok::<_, Infallible>(answer(req, behaviour, &c, s.as_ref()).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            count,
            connections,
            seen,
            task,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Requests received so far (answered or not).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Receipt times by id, taken out of the receiver.
    pub fn take_seen(&self) -> Vec<(u64, Instant)> {
        self.seen
            .as_ref()
            .map(|s| std::mem::take(&mut *s.lock().expect("lock")))
            .unwrap_or_default()
    }

    /// Waits until `n` requests have arrived; returns when, or `None` after `limit`.
    pub async fn wait_for(&self, n: u64, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            if self.count() >= n {
                return Some(Instant::now());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    req: Request<Incoming>,
    behaviour: Behaviour,
    count: &AtomicU64,
    seen: Option<&Seen>,
) -> Response<Full<Bytes>> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let at = Instant::now();
    let n = count.fetch_add(1, Ordering::Relaxed);
    if behaviour == Behaviour::FlakyOnePercent && n % 100 == 99 {
        // Not delivered: not recorded.
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .body(Full::new(Bytes::from_static(b"flaky")))
            .expect("response");
    }
    if let (Some(seen), Some(id)) = (seen, detection_number(&body)) {
        seen.lock().expect("lock").push((id, at));
    }
    if behaviour == Behaviour::Stall {
        std::future::pending::<()>().await;
    }
    Response::new(Full::new(Bytes::from_static(b"ok")))
}

/// An Atlantis drift report whose `detection_id` is `bench-N`, so a receiver can tell
/// which event a delivery carries without parsing the JSON.
pub fn drift_body(n: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"repository":"acme/infra","ref":"main","detection_id":"bench-{n}","projects_with_drift":1,"total_projects":2,"projects":[{{"name":"network","path":"network","workspace":"default","has_drift":true,"to_add":1,"to_change":0,"to_destroy":0}},{{"name":"dns","path":"dns","workspace":"default","has_drift":false,"to_add":0,"to_change":0,"to_destroy":0}}]}}"#
    ))
}

/// The N of `"detection_id":"bench-N"` in a body, however the JSON is spaced.
fn detection_number(body: &[u8]) -> Option<u64> {
    let key = b"\"detection_id\"";
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &body[at..];
    let start = rest.windows(7).position(|w| w == b"\"bench-")? + 7;
    let digits = rest[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    Some(digits)
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        Self {
            send,
            host: addr.to_string(),
        }
    }

    /// Posts `body` as JSON to `path`; returns the status.
    pub async fn post(&mut self, path: &str, body: Bytes) -> u16 {
        self.send.ready().await.expect("connection ready");
        let req = Request::post(path)
            .header("host", &self.host)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .expect("request");
        let resp = self.send.send_request(req).await.expect("response");
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        status
    }
}

/// Posts `total` bodies (`body(i)`) to `addr` over `conns` keep-alive connections, each
/// sending its next request when the last is answered. Returns when the last answer
/// arrived and how many were 2xx.
pub async fn blast(
    addr: SocketAddr,
    path: &str,
    total: u64,
    conns: u64,
    body: fn(u64) -> Bytes,
) -> (Duration, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let mut open = Vec::new();
    for _ in 0..conns {
        open.push(Conn::open(addr).await);
    }
    let started = Instant::now();
    let tasks: Vec<_> = open
        .into_iter()
        .map(|mut c| {
            let (next, ok, path) = (next.clone(), ok.clone(), path.to_string());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    if (200..300).contains(&c.post(&path, body(i)).await) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("client task");
    }
    (started.elapsed(), ok.load(Ordering::Relaxed))
}

/// A paced run: when it started and the period between two sends, so event i was due at
/// `start + i * period`.
#[derive(Debug, Clone, Copy)]
pub struct Paced {
    pub start: Instant,
    pub period: Duration,
    pub ok: u64,
}

impl Paced {
    pub fn due(&self, i: u64) -> Instant {
        self.start + self.period.mul_f64(i as f64)
    }
}

/// Posts `drift_body(i)` for i in 0..total at `rate` per second (open loop: the schedule
/// does not wait for answers, so a slow answer shows as latency, not as a slower rate)
/// over a pool of connections. `start` is shared with whoever computes latencies.
pub async fn paced(addr: SocketAddr, path: &str, total: u64, rate: u64, start: Instant) -> Paced {
    let conns = 32;
    // The schedule hands event numbers to whichever connection is free; tokio's mpsc
    // behind a shared lock is enough of a multi-consumer queue at these rates.
    let (tx, rx) = tokio::sync::mpsc::channel::<u64>(usize::try_from(total.max(1)).unwrap_or(1));
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let ok = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let mut c = Conn::open(addr).await;
        let (rx, ok, path) = (rx.clone(), ok.clone(), path.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                // The lock is let go before the post, so the connections post in parallel.
                let next = rx.lock().await.recv().await;
                let Some(i) = next else { break };
                if (200..300).contains(&c.post(&path, drift_body(i)).await) {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut p = Paced {
        start,
        period: Duration::from_secs_f64(1.0 / rate.max(1) as f64),
        ok: 0,
    };
    for i in 0..total {
        tokio::time::sleep_until(p.due(i).into()).await;
        if tx.send(i).await.is_err() {
            break;
        }
    }
    drop(tx);
    for t in tasks {
        t.await.expect("client task");
    }
    p.ok = ok.load(Ordering::Relaxed);
    p
}

/// Latencies in ms from each event's due time to its first receipt.
pub fn latencies(p: &Paced, seen: &[(u64, Instant)]) -> Vec<f64> {
    let mut first: std::collections::HashMap<u64, Instant> = std::collections::HashMap::new();
    for &(id, at) in seen {
        first
            .entry(id)
            .and_modify(|f| *f = (*f).min(at))
            .or_insert(at);
    }
    first
        .into_iter()
        .map(|(id, at)| at.saturating_duration_since(p.due(id)).as_secs_f64() * 1000.0)
        .collect()
}

/// The p-th percentile (0..=1) of `v`, nearest rank.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}
