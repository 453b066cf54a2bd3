//! The ingest server under hostile clients: slow-loris, oversized headers, slow bodies, and
//! more connections than it takes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald::dispatch::{Engine, EngineOptions};
use herald::ingest::Limits;
use herald::store::{Commit, Journal};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::support::{load_ok, repo_file};

struct Ingest {
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Ingest {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(limits: Limits) -> Ingest {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path(), Commit::Grouped).expect("journal");
    let engine = Engine::new(
        Arc::new(load_ok("webhooks: []\n", None, None)),
        journal,
        EngineOptions::default(),
    )
    .expect("engine");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    tokio::spawn(herald::ingest::serve_with(
        listener,
        engine,
        shutdown.clone(),
        limits,
    ));
    Ingest {
        addr,
        shutdown,
        _dir: dir,
    }
}

fn body() -> Vec<u8> {
    std::fs::read(repo_file("examples/payloads/drift-clean.json")).expect("fixture")
}

async fn post(addr: std::net::SocketAddr) -> u16 {
    let client = herald::notify::client().expect("client");
    client
        .post(format!("http://{addr}/events"))
        .header("content-type", "application/json")
        .body(body())
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_clients_do_not_starve_others_and_are_cut_off() {
    let s = start(Limits {
        header_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut c = TcpStream::connect(s.addr).await.expect("connect");
        c.write_all(b"POST /events HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        slow.push(c);
    }
    // Keep trickling header bytes while a normal client works.
    let trickle = tokio::spawn(async move {
        for _ in 0..10 {
            for c in &mut slow {
                let _ = c.write_all(b"X").await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        slow
    });
    for i in 0..20 {
        let started = Instant::now();
        assert_eq!(post(s.addr).await, 202, "request {i}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "request {i} took {:?}",
            started.elapsed()
        );
    }
    let mut slow = trickle.await.expect("trickle");
    // Past the header deadline, the server has closed every slow connection.
    let mut closed = 0;
    for c in &mut slow {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(3), c.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => closed += 1,
            Ok(Ok(n)) => {
                // hyper may answer 408 before closing.
                if String::from_utf8_lossy(&buf[..n]).contains("408") {
                    closed += 1;
                }
            }
            Err(_) => {}
        }
    }
    assert_eq!(closed, 40, "every slow-loris connection was cut off");
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let s = start(Limits::default()).await;
    let client = herald::notify::client().expect("client");
    let r = client
        .post(format!("http://{}/events", s.addr))
        .header("content-type", "application/json")
        .header("x-padding", "a".repeat(20 * 1024))
        .body(body())
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 431);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["error"], "headers too large");
    assert_eq!(post(s.addr).await, 202);
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408() {
    let s = start(Limits {
        request_timeout: Duration::from_millis(800),
        ..Limits::default()
    })
    .await;
    let mut c = TcpStream::connect(s.addr).await.expect("connect");
    c.write_all(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"repo")
        .await
        .expect("write");
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request took too long"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_instead_of_piling_up() {
    let s = start(Limits {
        max_connections: 4,
        header_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(s.addr).await.expect("connect");
        c.write_all(b"POST /ev").await.expect("write");
        idle.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The fifth is served once the idle ones hit the header deadline, not refused.
    let started = Instant::now();
    assert_eq!(post(s.addr).await, 202);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(4),
        "waited {waited:?}"
    );
}
