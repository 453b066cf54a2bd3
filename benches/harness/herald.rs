//! herald under measurement: the real `herald serve` binary, or the library's engine and
//! ingest API on a runtime of their own (for what the binary has no switch for, such as one
//! commit per event).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald::config::{LoadOptions, load_str};
use herald::dispatch::{Engine, EngineOptions};
use herald::store::Journal;
use tokio_util::sync::CancellationToken;

/// A scratch directory under cargo's target dir (on the project's disk, like a real journal).
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir")
}

/// The real binary, built by cargo with the same profile as the harness.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_herald")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// `webhooks:` with one HTTP drift webhook per URL.
pub fn drift_config(urls: &[String], extra: &str) -> String {
    let mut text = String::from("webhooks:\n");
    for u in urls {
        text.push_str(&format!(
            "  - {{event: drift, kind: http, url: '{u}'{extra}}}\n"
        ));
    }
    text
}

/// A running `herald serve`.
pub struct Serve {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    pub pid: u32,
    _dir: tempfile::TempDir,
}

impl Serve {
    pub async fn start(config: &str) -> Self {
        Self::start_with(config, &[]).await
    }

    /// With more environment (`HERALD_JOURNAL` for a PostgreSQL journal).
    pub async fn start_with(config: &str, env: &[(&str, &str)]) -> Self {
        let dir = scratch();
        let file = dir.path().join("herald.yaml");
        std::fs::write(&file, config).expect("config");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let child = tokio::process::Command::new(binary())
            .args(["serve", "-c"])
            .arg(&file)
            .args(["--listen", &addr.to_string()])
            .env("HERALD_DATA_DIR", dir.path().join("data"))
            // HERALD_LOG=debug cargo bench ... shows what the server does.
            .env(
                "HERALD_LOG",
                std::env::var("HERALD_LOG").unwrap_or_else(|_| "error".into()),
            )
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .spawn()
            .expect("herald serve starts");
        let pid = child.id().expect("pid");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline, "herald serve did not listen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            child,
            addr,
            pid,
            _dir: dir,
        }
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A process's resident memory.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The engine and ingest API in this process, on their own two-thread runtime so the
/// load generator's runtime does not share their scheduler.
pub struct InProcess {
    pub addr: SocketAddr,
    pub engine: Engine,
    shutdown: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    /// Ingest only (no delivery workers), on `journal`.
    pub fn ingest_only(config: &str, journal: Journal) -> Self {
        let (config, _) =
            load_str(config, "bench.yaml", &LoadOptions::default()).expect("bench config");
        let engine =
            Engine::new(Arc::new(config), journal, EngineOptions::default()).expect("engine");
        let shutdown = CancellationToken::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let (e, s) = (engine.clone(), shutdown.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(listener.local_addr().expect("addr"))
                    .expect("harness waits");
                let _ = herald::ingest::serve(listener, e, s).await;
            });
        });
        let addr = rx.recv().expect("in-process ingest starts");
        Self {
            addr,
            engine,
            shutdown,
            thread: Some(thread),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
