//! A throwaway PostgreSQL cluster on loopback for the tests and the benchmark harness: the
//! real server (Debian's `postgresql-15`), not a stand-in. `initdb` into a temporary
//! directory (as the unprivileged `postgres` user when run as root), the server on a free
//! loopback port, stopped and removed when its owner ends.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Where Debian's PostgreSQL 15 server binaries are.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A cluster, and the shell that runs its server: lines on its stdin stop and start the
/// server; when the stdin closes (the test process ends, or the cluster is dropped) it
/// stops the server and removes the data.
pub struct Cluster {
    pub port: u16,
    control: std::sync::Mutex<std::process::ChildStdin>,
    _shell: std::process::Child,
    _dir: tempfile::TempDir,
}

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

impl Cluster {
    /// A new cluster for tests: durability off (`fsync`, `synchronous_commit`), which
    /// tests do not measure.
    pub fn start() -> Cluster {
        Self::start_with(false)
    }

    /// A new cluster as a production one commits (`fsync` and `synchronous_commit` on),
    /// for benchmarks set beside SQLite's `synchronous=FULL`.
    pub fn start_durable() -> Cluster {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Cluster {
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
        let port = free_port();
        let script = format!(
            "up() {{ {BIN}/postgres -D '{data}' -p {port} -k '{sock}' -c listen_addresses=127.0.0.1 \
               {settings} -c max_connections=200 & pid=$!; }}
             up
             while read cmd; do
               case \"$cmd\" in
                 stop) kill -INT $pid; wait $pid ;;
                 start) up ;;
               esac
             done
             kill -INT $pid 2>/dev/null; wait $pid; rm -rf '{data}'",
            data = data.display(),
            sock = dir.path().display(),
            settings = if durable {
                ""
            } else {
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            },
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
        let mut shell = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let cluster = Cluster {
            port,
            control: std::sync::Mutex::new(shell.stdin.take().expect("stdin")),
            _shell: shell,
            _dir: dir,
        };
        cluster.wait_until(true);
        cluster
    }

    fn wait_until(&self, up: bool) {
        let ok = (0..400).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() == up
        });
        assert!(
            ok,
            "postgres on port {} did not come {}",
            self.port,
            if up { "up" } else { "down" }
        );
    }

    fn say(&self, line: &str) {
        use std::io::Write as _;
        let mut c = self.control.lock().expect("control");
        writeln!(c, "{line}").expect("the cluster's shell listens");
        c.flush().expect("flush");
    }

    /// Stops the server (fast shutdown: open connections are cut) and waits until it is.
    pub fn stop(&self) {
        self.say("stop");
        self.wait_until(false);
    }

    /// Starts the server again and waits until it listens.
    pub fn resume(&self) {
        self.say("start");
        self.wait_until(true);
    }

    /// The URL of a new, empty database on this cluster.
    pub async fn database(&self) -> String {
        let admin = format!("postgres://herald@127.0.0.1:{}/postgres", self.port);
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
                    return format!("postgres://herald@127.0.0.1:{}/{name}", self.port);
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("cannot connect to the test cluster: {last:?}");
    }
}
