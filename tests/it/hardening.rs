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
    start_with(limits, "webhooks: []\n").await
}

async fn start_with(limits: Limits, config: &str) -> Ingest {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = Journal::open(dir.path(), Commit::Grouped).expect("journal");
    let engine = Engine::new(
        Arc::new(load_ok(config, None, None)),
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
        None,
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

/// Reads what the server sends until it closes the connection or `limit` passes; `None`
/// when the connection is still open then.
async fn read_until_closed(c: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    loop {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout_at(deadline.into(), c.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_deadline() {
    let s = start(Limits {
        header_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut silent = TcpStream::connect(s.addr).await.expect("connect");
    let started = Instant::now();
    let closed = read_until_closed(&mut silent, Duration::from_secs(4)).await;
    assert!(
        closed.is_some(),
        "a silent connection was still open after 4 s"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));

    // The same holds for a kept-alive connection idling after a request.
    let mut idle = TcpStream::connect(s.addr).await.expect("connect");
    let b = body();
    let req = format!(
        "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        b.len()
    );
    idle.write_all(req.as_bytes()).await.expect("write");
    idle.write_all(&b).await.expect("write");
    let got = read_until_closed(&mut idle, Duration::from_secs(4))
        .await
        .expect("an idle kept-alive connection is closed at the header deadline");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 202"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_at_the_cap_do_not_lock_clients_out() {
    let s = start(Limits {
        max_connections: 8,
        header_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(TcpStream::connect(s.addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Not one byte from the eight: they are closed at the header deadline and the waiting
    // client is served.
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(5), post(s.addr))
        .await
        .expect("a client waiting behind silent connections is served within 5 s");
    assert_eq!(status, 202, "after {:?}", started.elapsed());
}

#[tokio::test]
async fn http2_is_not_spoken() {
    let s = start(Limits::default()).await;
    let mut c = TcpStream::connect(s.addr).await.expect("connect");
    // The HTTP/2 connection preface and an empty SETTINGS frame (prior knowledge, h2c).
    c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("write");
    let got = read_until_closed(&mut c, Duration::from_secs(3))
        .await
        .expect("the connection is closed");
    // An HTTP/2 server would answer with its own SETTINGS frame (type 4 at byte 3).
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 "),
        "answered {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_token_is_refused_before_its_body_is_read() {
    let s = start_with(
        Limits {
            request_timeout: Duration::from_secs(3),
            ..Limits::default()
        },
        "herald:\n  ingest-token: tok-abcdefghijkl\n  env0-secret: env0-shared-secret\nwebhooks: []\n",
    )
    .await;
    for (path, extra) in [
        ("/events", ""),
        ("/events/apply", ""),
        // A signature header lets a request through to the body on env0's routes only.
        ("/events/apply", "x-env0-signature: 00\r\n"),
        ("/events/env0", "Authorization: Bearer tok-abcdefghijkl\r\n"),
    ] {
        let mut c = TcpStream::connect(s.addr).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}Content-Length: 1048576\r\n\r\n"
        );
        c.write_all(head.as_bytes()).await.expect("write");
        // Not a byte of the announced MiB is sent: the answer comes from the headers.
        let started = Instant::now();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{path} {extra:?}: no answer before the body"))
            .expect("read");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 401"), "{path} {extra:?}: {text}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
