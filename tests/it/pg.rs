//! A throwaway PostgreSQL 15 cluster for the tests: `initdb` into a temporary directory (as
//! the unprivileged `postgres` user when the tests run as root), the server on a free
//! loopback port, stopped when the test process ends (its stdin is a pipe the server's
//! shell waits on). One cluster per test binary; each test gets a database of its own.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Where Debian's PostgreSQL 15 server binaries are.
const BIN: &str = "/usr/lib/postgresql/15/bin";

struct Cluster {
    port: u16,
    _dir: tempfile::TempDir,
    _server: std::process::Child,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as `postgres` when root.
fn as_owner(program: &str) -> Command {
    let path = format!("{BIN}/{program}");
    if root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(path)
    }
}

fn start() -> Cluster {
    assert!(
        std::path::Path::new(BIN).join("initdb").exists(),
        "PostgreSQL 15 is not installed (apt-get install postgresql-15; .ci/run does it)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let data: PathBuf = dir.path().join("data");
    if root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres", dir.path().to_str().expect("utf-8")])
            .status()
            .expect("chown");
        assert!(ok.success());
    }
    let out = as_owner("initdb")
        .args(["-D", data.to_str().expect("utf-8")])
        .args(["-A", "trust", "-U", "herald", "--no-sync", "-E", "UTF8"])
        .output()
        .expect("initdb runs");
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = crate::support::free_port();
    // The shell starts the server and stops it (fast) once this process's end closes its
    // stdin, so no cluster outlives the tests.
    let script = format!(
        "{BIN}/postgres -D '{data}' -p {port} -k '{sock}' -c listen_addresses=127.0.0.1 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 & \
         pid=$!; cat >/dev/null; kill -INT $pid; wait $pid; rm -rf '{data}'",
        data = data.display(),
        sock = dir.path().display(),
    );
    let mut cmd = if root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    let server = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("postgres starts");
    let cluster = Cluster {
        port,
        _dir: dir,
        _server: server,
    };
    let ready = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(ready, "postgres did not come up on port {port}");
    cluster
}

/// The URL of a new, empty database on the tests' cluster.
pub async fn database() -> String {
    let port = CLUSTER.get_or_init(start).port;
    let admin = format!("postgres://herald@127.0.0.1:{port}/postgres");
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    // The server may still be finishing its start when the port first answers.
    let mut last = None;
    for _ in 0..50 {
        match tokio_postgres::connect(&admin, tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create database");
                return format!("postgres://herald@127.0.0.1:{port}/{name}");
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("cannot connect to the test cluster: {last:?}");
}
