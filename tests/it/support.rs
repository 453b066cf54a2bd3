//! Test helpers: a scriptable HTTP receiver, config loading, and running the real binary.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use herald::config::{self, Config, LoadOptions, Location, Report};

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status and body.
    Status(u16, &'static str),
    /// 429 with `Retry-After: N`.
    RetryAfter(u64),
    /// This status after a delay.
    Slow(u64, u16),
    /// Never answers.
    Hang,
}

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Recorded {
    /// All values of a header, in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("body is JSON")
    }
}

struct Inner {
    default: Reply,
    queue: VecDeque<Reply>,
    got: Vec<Recorded>,
}

/// An HTTP receiver on 127.0.0.1 that records every request and answers as scripted.
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut i = inner.lock().expect("lock");
        i.got.push(Recorded {
            uri: uri.to_string(),
            headers,
            body,
            at: Instant::now(),
        });
        i.queue.pop_front().unwrap_or_else(|| i.default.clone())
    };
    match reply {
        Reply::Status(code, body) => {
            (StatusCode::from_u16(code).expect("status"), body).into_response()
        }
        Reply::RetryAfter(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", secs.to_string())],
            "slow down",
        )
            .into_response(),
        Reply::Slow(ms, code) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            StatusCode::from_u16(code).expect("status").into_response()
        }
        Reply::Hang => std::future::pending().await,
    }
}

impl Receiver {
    pub async fn start(default: Reply) -> Self {
        Self::start_on(0, default).await
    }

    /// Starts on a given port (to bring a receiver "back up" where it was).
    pub async fn start_on(port: u16, default: Reply) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Mutex::new(Inner {
            default,
            queue: VecDeque::new(),
            got: Vec::new(),
        }));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn push(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().expect("lock").queue.extend(replies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().expect("lock").got.clone()
    }
}

/// What `${ATLANTIS_API_SECRET}` reads as in the tests' configs.
pub const ATLANTIS_API_SECRET: &str = "atlantis-api-secret-0123456789";

/// Loads a config from text, with a fixed environment for `${VAR}`.
pub fn load(
    text: &str,
    token: Option<&str>,
    headers: Option<&str>,
) -> Result<(Config, Report), Report> {
    let opts = LoadOptions {
        slack_token: token.map(|t| (t.to_string(), Location::Flag("--slack-token".into()))),
        http_headers: headers.map(|h| {
            (
                h.to_string(),
                Location::Flag("--webhook-http-headers".into()),
            )
        }),
        vars: Arc::new(|name| match name {
            "TEST_TOKEN" => Some("xoxb-from-env".to_string()),
            "ATLANTIS_API_SECRET" => Some(ATLANTIS_API_SECRET.to_string()),
            _ => None,
        }),
        ..LoadOptions::default()
    };
    config::load_str(text, "test.yaml", &opts)
}

/// Loads a config that must be valid.
pub fn load_ok(text: &str, token: Option<&str>, headers: Option<&str>) -> Config {
    match load(text, token, headers) {
        Ok((c, _)) => c,
        Err(r) => panic!("config should load:\n{r}"),
    }
}

/// The error messages of a config that must be invalid.
pub fn load_errors(text: &str, token: Option<&str>) -> Vec<String> {
    match load(text, token, None) {
        Ok(_) => panic!("config should not load:\n{text}"),
        Err(r) => r
            .diagnostics
            .iter()
            .filter(|d| d.severity == config::Severity::Error)
            .map(|d| d.message.clone())
            .collect(),
    }
}

/// A bundled payload of `examples/payloads/`, as bytes.
pub fn payload(name: &str) -> Vec<u8> {
    std::fs::read(repo_file(&format!("examples/payloads/{name}"))).expect("fixture")
}

/// Runs the real `herald` binary with a clean environment.
pub async fn herald(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(args).env("NO_COLOR", "1");
    for var in [
        "ATLANTIS_SLACK_TOKEN",
        "ATLANTIS_WEBHOOK_HTTP_HEADERS",
        "HERALD_CONFIG",
        "HERALD_SLACK_API_URL",
    ] {
        cmd.env_remove(var);
    }
    // Each run gets a journal of its own unless the test gives one.
    let scratch = std::env::temp_dir().join(format!("herald-test-{}", uuid::Uuid::new_v4()));
    cmd.env("HERALD_DATA_DIR", &scratch);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("herald finished within 60 s")
        .expect("herald ran");
    let _ = std::fs::remove_dir_all(&scratch);
    out
}

/// Writes `text` to a temporary config file.
pub fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("herald.yaml");
    std::fs::write(&path, text).expect("write config");
    (dir, path)
}

/// The repository's own file, for fixtures and example configs.
pub fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The Atlantis test fixture: workspace `production`, repo `runatlantis/atlantis`, PR 1 with
/// URL `url`, base branch `main`, user `lkysow`, success.
pub fn apply_fixture() -> herald::event::Event {
    let json = r#"{"Workspace":"production","Repo":{"FullName":"runatlantis/atlantis","Owner":"runatlantis","Name":"atlantis"},
        "Pull":{"Num":1,"URL":"url","HeadBranch":"feature-branch","BaseBranch":"main"},"User":{"Username":"lkysow"},
        "Success":true,"Directory":"."}"#;
    herald::event::Event::Apply(herald::event::parse_apply(json.as_bytes()).expect("fixture"))
}

/// The Atlantis drift fixture: `owner/repo`, ref `main`, id `det-123`, 1 of 2 projects drifted.
pub fn drift_fixture(drifted: u64, total: u64) -> herald::event::Event {
    let mut projects = vec![
        serde_json::json!({"project_name": "project1", "path": "infra/project1", "workspace": "default",
        "has_drift": drifted > 0, "to_add": 1, "to_change": 2, "to_destroy": 0, "to_import": 0, "to_forget": 0,
        "summary": "Plan: 1 to add, 2 to change, 0 to destroy."}),
    ];
    for i in 1..total {
        projects.push(serde_json::json!({"project_name": format!("project{}", i + 1), "path": format!("infra/project{}", i + 1),
            "workspace": "default", "has_drift": false, "to_add": 0, "to_change": 0, "to_destroy": 0, "to_import": 0,
            "to_forget": 0, "summary": "No changes. Your infrastructure matches the configuration."}));
    }
    let body = serde_json::json!({"repository": "owner/repo", "ref": "main", "detection_id": "det-123",
        "projects_with_drift": drifted, "total_projects": total, "projects": projects});
    herald::event::Event::Drift(
        herald::event::parse_drift(body.to_string().as_bytes()).expect("fixture"),
    )
}

/// One stored attempt, as a test reads it back from the journal.
#[derive(Debug, Clone)]
pub struct Tried {
    pub outcome: herald::notify::Outcome,
    pub error: Option<String>,
    pub hint: Option<String>,
    pub response: String,
    pub latency: Duration,
}

/// What became of one delivery, read back from the journal.
#[derive(Debug, Clone)]
pub struct DeliveryReport {
    pub delivery_id: String,
    pub target: String,
    /// Delivered, or failed for good.
    pub outcome: herald::notify::Outcome,
    pub attempts: Vec<Tried>,
}

/// Delivers `event` the way production does (the engine over a journal in a temporary
/// directory: accepted, then attempted and retried by `Engine::drive`, as `herald fire`
/// does) and reads back what the journal recorded.
pub async fn deliver(
    config: Config,
    event: &herald::event::Event,
    selection: herald::dispatch::Selection,
    max_attempts: Option<u32>,
) -> Vec<DeliveryReport> {
    deliver_all(config, std::slice::from_ref(event), selection, max_attempts).await
}

/// [`deliver`] for several events at once, through one engine (so their attempts run
/// together and share the Slack pacing).
pub async fn deliver_all(
    config: Config,
    events: &[herald::event::Event],
    selection: herald::dispatch::Selection,
    max_attempts: Option<u32>,
) -> Vec<DeliveryReport> {
    use herald::notify::Outcome;
    let dir = tempfile::tempdir().expect("tempdir");
    let journal =
        herald::store::Journal::open(dir.path(), herald::store::Commit::Grouped).expect("journal");
    let engine = herald::dispatch::Engine::new(
        Arc::new(config),
        journal.clone(),
        herald::dispatch::EngineOptions::default(),
    )
    .expect("engine");
    let mut ids = Vec::new();
    for e in events {
        let (_, new) = engine
            .accept(herald::intake::Source::Fire, received(e), &selection)
            .await
            .expect("accepted");
        ids.extend(new);
    }
    engine.drive(&ids, max_attempts).await.expect("driven");
    let mut out = Vec::new();
    for id in ids {
        let row = journal
            .reader()
            .delivery(&id)
            .await
            .expect("row")
            .expect("delivery");
        let attempts = journal
            .reader()
            .attempts(&id)
            .await
            .expect("attempts")
            .into_iter()
            .map(|a| Tried {
                outcome: match a.outcome.as_str() {
                    "delivered" => Outcome::Delivered,
                    "retryable" => Outcome::Retryable,
                    _ => Outcome::Failed,
                },
                error: a.error,
                hint: a.hint,
                response: a.response,
                latency: Duration::from_millis(a.latency_ms.unsigned_abs()),
            })
            .collect();
        out.push(DeliveryReport {
            delivery_id: row.id,
            target: row.target,
            outcome: if row.status == herald::store::DeliveryStatus::Succeeded {
                Outcome::Delivered
            } else {
                Outcome::Failed
            },
            attempts,
        });
    }
    out
}

/// Delivers with one attempt per webhook, routed as Atlantis routes.
pub async fn fire(config: Config, event: &herald::event::Event) -> Vec<DeliveryReport> {
    deliver(config, event, herald::dispatch::Selection::Route, Some(1)).await
}

/// A free loopback port (nothing listens on it once this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The engine and the ingest API running in this process over a fresh journal.
pub struct Server {
    pub url: String,
    pub engine: herald::dispatch::Engine,
    pub shutdown: tokio_util::sync::CancellationToken,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start(config: Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = herald::store::Journal::open(dir.path(), herald::store::Commit::Grouped)
            .expect("journal");
        let engine = herald::dispatch::Engine::new(
            Arc::new(config),
            journal,
            herald::dispatch::EngineOptions::default(),
        )
        .expect("engine");
        let shutdown = tokio_util::sync::CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(herald::ingest::serve(
            listener,
            engine.clone(),
            shutdown.clone(),
        ));
        let (e, s) = (engine.clone(), shutdown.clone());
        tokio::spawn(async move { e.run(s, Duration::from_secs(1)).await });
        Self {
            url,
            engine,
            shutdown,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Posts `body` to `url` with `headers`; the status and the answer (JSON, else its text).
pub async fn post(url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let client = herald::notify::client().expect("client");
    let mut req = client.post(url).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Polls `f` until it is true or `limit` passes.
pub async fn eventually(limit: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The real `herald serve` on a loopback port.
pub struct Serve {
    pub child: tokio::process::Child,
    pub url: String,
    pub port: u16,
    pub config: PathBuf,
    pub data: PathBuf,
}

impl Serve {
    pub async fn start(config: &Path, data: &Path, port: u16) -> Self {
        Self::start_with(config, data, port, &[]).await
    }

    pub async fn start_with(config: &Path, data: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args([
                "serve",
                "-c",
                config.to_str().expect("utf-8"),
                "--grace",
                "5s",
            ])
            .env("HERALD_DATA_DIR", data)
            .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
            .env("HERALD_LOG", "info")
            .env_remove("ATLANTIS_SLACK_TOKEN")
            .env_remove("HERALD_SLACK_API_URL")
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("herald serve starts");
        let url = format!("http://127.0.0.1:{port}");
        let client = herald::notify::client().expect("client");
        let up = eventually(Duration::from_secs(15), async || {
            client
                .get(format!("{url}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(up, "herald serve did not come up");
        Self {
            child,
            url,
            port,
            config: config.to_path_buf(),
            data: data.to_path_buf(),
        }
    }

    pub async fn restart(mut self) -> Self {
        let _ = self.child.wait().await;
        Self::start(&self.config, &self.data, self.port).await
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill runs");
        assert!(ok.success());
    }

    pub async fn stderr_after_exit(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exits within 20 s")
            .expect("status");
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            use tokio::io::AsyncReadExt as _;
            let _ = e.read_to_string(&mut text).await;
        }
        (status, text)
    }
}

/// The token the tests' fake Slack accepts.
pub const TOKEN: &str = "xoxb-test-token";

/// A fake Slack on a free loopback port that accepts only [`TOKEN`].
pub async fn fake_slack() -> herald::fake::FakeSlack {
    herald::fake::FakeSlack::start(herald::fake::slack::Options {
        token: Some(TOKEN.into()),
        ..herald::fake::slack::Options::default()
    })
    .await
    .expect("fake slack")
}

/// An event as the one intake path reads it (its JSON, read back by `intake::read`).
pub fn received(event: &herald::event::Event) -> herald::intake::Received {
    let body = event.to_json().to_string();
    let shape = match event.kind() {
        herald::config::EventKind::Apply => herald::event::Shape::Apply,
        herald::config::EventKind::Plan => herald::event::Shape::Plan,
        herald::config::EventKind::Drift => herald::event::Shape::Drift,
    };
    match herald::intake::read(body.as_bytes(), Some(shape)) {
        Ok(herald::intake::Inbound::Event(r)) => r,
        other => panic!("not an event: {other:?}"),
    }
}

/// Posts `body` to herald's ingest `route` (`/events/drift`, ...) at `url` and expects 202.
pub async fn post_event(url: &str, route: &str, body: impl Into<reqwest::Body>) {
    let r = herald::notify::client()
        .expect("client")
        .post(format!("{url}{route}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("posted");
    assert_eq!(r.status().as_u16(), 202, "{route} accepted");
}

/// A TLS front on a free loopback port for a plain-HTTP server, with a certificate for
/// `127.0.0.1` from a throwaway CA, as a reverse proxy or ingress in front of `serve` is.
pub struct TlsFront {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The CA's certificate (PEM), for `SSL_CERT_FILE`.
    pub ca: PathBuf,
    /// TLS handshakes completed.
    pub handshakes: Arc<std::sync::atomic::AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl TlsFront {
    pub async fn start(backend: std::net::SocketAddr) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let ca_params = {
            let mut p = CertificateParams::new(Vec::<String>::new()).expect("ca params");
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p
        };
        let ca =
            CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
        let leaf_key = KeyPair::generate().expect("key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("leaf params")
            .signed_by(&leaf_key, &ca)
            .expect("leaf");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca.pem()).expect("write ca");
        herald::install_crypto_provider();
        let server = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(
                    leaf_key.serialize_der().into(),
                ),
            )
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("https://{}", listener.local_addr().expect("addr"));
        let handshakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = handshakes.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends here.
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self {
            url,
            ca: ca_path,
            handshakes,
            _dir: dir,
        }
    }
}

/// A receiver that answers 200 after `delay` and counts what `Receiver` does not: the
/// connections it accepted, the requests it answered, and the most it held at once.
pub struct Tally {
    /// Its URL (`/hook`).
    pub url: String,
    connections: Arc<std::sync::atomic::AtomicUsize>,
    answered: Arc<std::sync::atomic::AtomicUsize>,
    peak: Arc<std::sync::atomic::AtomicUsize>,
}

impl Tally {
    pub async fn start(delay: Duration) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let [connections, answered, peak, held] =
            std::array::from_fn(|_| Arc::new(AtomicUsize::new(0)));
        let (c, a, p) = (connections.clone(), answered.clone(), peak.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (a, p, held) = (a.clone(), p.clone(), held.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_req| {
                        let (a, p, held) = (a.clone(), p.clone(), held.clone());
                        async move {
                            p.fetch_max(held.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                            tokio::time::sleep(delay).await;
                            held.fetch_sub(1, Ordering::SeqCst);
                            a.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                http_body_util::Full::new(Bytes::from_static(b"ok")),
                            ))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url,
            connections,
            answered,
            peak,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests answered so far.
    pub fn answered(&self) -> usize {
        self.answered.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The most requests held at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::SeqCst)
    }
}
