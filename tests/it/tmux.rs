//! The real binary in a real terminal: tmux runs `herald tui`, the test posts events over
//! HTTP, reads the screen with `capture-pane -e` and types keys.

use std::process::Command;
use std::time::Duration;

use crate::support::{config_file, eventually, free_port, herald, stderr};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(width: u16, height: u16) -> Self {
        let socket = format!("herald-e2e-{}", uuid::Uuid::new_v4());
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg("env PS1='e2e$ ' TERM=xterm-256color bash --norc --noprofile")
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(ok.success(), "tmux starts");
        Self { socket }
    }

    fn send(&self, keys: &[&str]) {
        let ok = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(ok.success());
    }

    fn screen(&self, colours: bool) -> String {
        let mut args = vec!["-L", &self.socket, "capture-pane", "-p"];
        if colours {
            args.push("-e");
        }
        let out = Command::new("tmux")
            .args(&args)
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn wait_for(&self, text: &str) -> bool {
        eventually(Duration::from_secs(15), async || {
            self.screen(false).contains(text)
        })
        .await
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The line of the screen (with colour escapes) that contains `text`.
fn line_with<'a>(screen: &'a str, text: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(text))
}

/// Whether `text` on that line is drawn in the given ANSI colour (high-contrast theme:
/// light red is index 9, light green 10; tmux writes them as 38;5;N or 9x).
fn coloured(line: &str, text: &str, index: u8) -> bool {
    let Some(at) = line.find(text) else {
        return false;
    };
    let before = &line[..at];
    let last_sgr = before
        .rfind("\x1b[")
        .map(|i| &before[i..])
        .unwrap_or_default();
    last_sgr.contains(&format!("38;5;{index}m"))
        || last_sgr.contains(&format!("{}m", 90 + index - 8))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_shows_drift_red_and_green_has_help_and_restores_the_terminal() {
    let (dir, config) = config_file(
        "webhooks:\n  - {event: drift, kind: http, url: 'http://127.0.0.1:9/none', retry: {max-attempts: 1}}\n",
    );
    let port = free_port();
    let term = Tmux::start(120, 32);
    let command = format!(
        "HERALD_DATA_DIR={} {} tui -c {} --listen 127.0.0.1:{port} --theme high-contrast",
        dir.path().join("data").display(),
        env!("CARGO_BIN_EXE_herald"),
        config.display()
    );
    term.send(&[&command, "Enter"]);
    assert!(
        term.wait_for("2 Events").await,
        "the console starts:\n{}",
        term.screen(false)
    );

    let client = herald::notify::client().expect("client");
    for fixture in ["drift-detected.json", "drift-clean.json"] {
        let body = std::fs::read(crate::support::repo_file(&format!(
            "examples/payloads/{fixture}"
        )))
        .expect("fixture");
        let r = client
            .post(format!("http://127.0.0.1:{port}/events"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status().as_u16(), 202);
    }
    term.send(&["3"]);
    assert!(
        term.wait_for("✗ DRIFT").await && term.wait_for("✓ clean").await,
        "{}",
        term.screen(false)
    );
    // Move the selection off the drifted row so its colours are the list's own.
    let screen = term.screen(true);
    let drifted = line_with(&screen, "✗ DRIFT").expect("drift row");
    assert!(coloured(drifted, "✗ DRIFT", 9), "drift in red: {drifted:?}");
    term.send(&["j"]);
    assert!(
        eventually(Duration::from_secs(5), async || {
            let s = term.screen(true);
            line_with(&s, "✓ clean").is_some_and(|l| coloured(l, "✓ clean", 10))
        })
        .await,
        "clean in green: {:?}",
        line_with(&term.screen(true), "✓ clean")
    );

    term.send(&["?"]);
    assert!(
        term.wait_for("filter the list").await,
        "help opens: {}",
        term.screen(false)
    );
    term.send(&["Escape"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    term.send(&["q"]);
    assert!(
        eventually(Duration::from_secs(10), async || {
            let s = term.screen(false);
            s.lines()
                .rfind(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim() == "e2e$")
                && !s.contains("2 Events")
        })
        .await,
        "the shell prompt is back and the console is gone:\n{}",
        term.screen(false)
    );
}

#[tokio::test]
async fn without_a_terminal_the_console_points_to_serve() {
    let (_dir, config) = config_file("webhooks: []\n");
    let out = herald(&["tui", "-c", config.to_str().expect("utf-8")], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("use `herald serve`"),
        "{}",
        stderr(&out)
    );
    let out = herald(&["-c", config.to_str().expect("utf-8")], &[]).await;
    assert_eq!(out.status.code(), Some(2), "herald alone is the console");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_fire_edits_the_payload_in_editor_and_comes_back() {
    let (dir, config) = config_file(
        "webhooks:\n  - {name: audit, event: apply, kind: http, url: 'http://127.0.0.1:9/none', retry: {max-attempts: 1}}\n",
    );
    let term = Tmux::start(120, 32);
    // An "editor" that changes the workspace without asking anything.
    let command = format!(
        "EDITOR='sed -i s/production/canary-from-editor/' HERALD_DATA_DIR={} {} tui -c {} --listen 127.0.0.1:{}",
        dir.path().join("data").display(),
        env!("CARGO_BIN_EXE_herald"),
        config.display(),
        free_port()
    );
    term.send(&[&command, "Enter"]);
    assert!(term.wait_for("2 Events").await, "{}", term.screen(false));
    term.send(&["1"]);
    term.send(&["t"]);
    assert!(
        term.wait_for("Exact message").await,
        "{}",
        term.screen(false)
    );
    // The bundled fixtures are sorted; apply-success.json is the second.
    term.send(&["j"]);
    term.send(&["e"]);
    assert!(
        term.wait_for("edited").await,
        "the edited payload is offered: {}",
        term.screen(false)
    );
    assert!(
        term.wait_for("canary-from-editor").await,
        "and previewed: {}",
        term.screen(false)
    );
    term.send(&["Enter"]);
    assert!(
        term.wait_for("Send the payload to audit").await,
        "firing asks first, naming the webhook: {}",
        term.screen(false)
    );
    term.send(&["y"]);
    assert!(
        term.wait_for("✗ audit").await,
        "the answer is shown: {}",
        term.screen(false)
    );
    assert!(
        term.wait_for("hint: is the receiver running").await,
        "{}",
        term.screen(false)
    );
    term.send(&["Escape"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    term.send(&["q"]);
    assert!(
        eventually(Duration::from_secs(10), async || !term
            .screen(false)
            .contains("2 Events"))
        .await
    );
}

/// `herald tui` where a `serve` already answers attaches to it through the operator API
/// instead of starting a second engine on the same journal: the status bar says so, events
/// posted to `serve` appear, and pausing from the console pauses `serve`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_attaches_to_a_serve_already_running_where_it_would_listen() {
    let (dir, config) = config_file(
        "webhooks:\n  - {event: drift, kind: http, url: 'http://127.0.0.1:9/none', retry: {max-attempts: 1}}\n",
    );
    let port = free_port();
    let serve = crate::support::Serve::start(&config, &dir.path().join("data"), port).await;
    let term = Tmux::start(160, 24);
    let command = format!(
        "HERALD_DATA_DIR={} {} tui -c {} --listen 127.0.0.1:{port}; echo exited-$?",
        dir.path().join("console-data").display(),
        env!("CARGO_BIN_EXE_herald"),
        config.display(),
    );
    term.send(&[&command, "Enter"]);
    assert!(
        term.wait_for(&format!("attached http://127.0.0.1:{port}"))
            .await,
        "the console attaches: {}",
        term.screen(false)
    );
    let client = herald::notify::client().expect("client");
    let body = std::fs::read_to_string(crate::support::repo_file(
        "examples/payloads/drift-detected.json",
    ))
    .expect("fixture");
    crate::support::post_event(&serve.url, "/events/drift", body).await;
    assert!(
        term.wait_for("Drift detected").await,
        "the event posted to serve appears live: {}",
        term.screen(false)
    );
    term.send(&["p"]);
    assert!(
        term.wait_for("Pause deliveries").await,
        "{}",
        term.screen(false)
    );
    term.send(&["y"]);
    let paused = eventually(Duration::from_secs(10), async || {
        let s: serde_json::Value = client
            .get(format!("{}/api/v1/status", serve.url))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        s["paused"] == true
    })
    .await;
    assert!(paused, "p in the console pauses serve");
    assert!(term.wait_for("PAUSED").await, "{}", term.screen(false));
    // And the other way: resumed through serve's API, the console shows it.
    let r = client
        .post(format!("{}/api/v1/resume", serve.url))
        .send()
        .await
        .expect("resume");
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        term.wait_for("▶ running").await,
        "a resume from elsewhere shows: {}",
        term.screen(false)
    );
    term.send(&["q"]);
    assert!(term.wait_for("exited-0").await, "{}", term.screen(false));
    assert!(
        !dir.path().join("console-data").exists(),
        "no second engine or journal was started"
    );
}

/// A demo that cannot start (here: an unknown `--theme`) says why and leaves nothing
/// behind in the temporary directory; it used to leave its config and journal there.
#[tokio::test]
async fn a_demo_that_fails_to_start_leaves_no_temporary_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let term = Tmux::start(100, 20);
    let command = format!(
        "TMPDIR={} {} demo --theme no-such-theme; echo ended $((100 + $?))",
        tmp.path().display(),
        env!("CARGO_BIN_EXE_herald"),
    );
    term.send(&[&command, "Enter"]);
    // The command line itself reads "ended $((": only its output reads "ended 1..".
    assert!(term.wait_for("ended 1").await, "{}", term.screen(false));
    let screen = term.screen(false);
    assert!(screen.contains("theme no-such-theme"), "{screen}");
    assert!(!screen.contains("ended 100"), "it failed: {screen}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read tmp")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A drift report whose summary names `repo`, so each posted one can be found on screen.
fn drift_named(repo: &str) -> String {
    serde_json::json!({"repository": repo, "ref": "main", "detection_id": repo,
        "projects_with_drift": 1, "total_projects": 1, "projects": [{"project_name": "p", "path": "p",
        "workspace": "default", "has_drift": true, "to_add": 1, "to_change": 0, "to_destroy": 0,
        "to_import": 0, "to_forget": 0, "summary": "Plan: 1 to add, 0 to change, 0 to destroy."}]})
    .to_string()
}

async fn post_drift(url: &str, repo: &str) {
    crate::support::post_event(url, "/events/drift", drift_named(repo)).await;
}

const OPERATOR: &str = "op-7Qx2LmZr9VbT4kWs";
const VIEWER: &str = "view-3JpN8cYh5RfD2gUe";

/// A serve with tokens, watched and acted on from `herald tui --remote`: a wrong token
/// exits with a clear error, the operator's console shows events live and its replay
/// reaches the receiver, a viewer's console watches but its replay is refused, clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_console_watches_and_acts_with_its_token() {
    let rx = crate::support::Receiver::start(crate::support::Reply::Status(200, "")).await;
    let (dir, config) = config_file(&format!(
        "herald:\n  operator-token: {OPERATOR}\n  viewer-token: {VIEWER}\nwebhooks:\n  - {{event: drift, kind: http, url: '{}'}}\n",
        rx.url("/drift")
    ));
    let port = free_port();
    let serve = crate::support::Serve::start(&config, &dir.path().join("data"), port).await;
    let herald_bin = env!("CARGO_BIN_EXE_herald");

    let term = Tmux::start(160, 24);
    term.send(&[
        &format!(
            "{herald_bin} tui --remote {} --token wrong-token; echo exited-$?",
            serve.url
        ),
        "Enter",
    ]);
    assert!(term.wait_for("exited-2").await, "{}", term.screen(false));
    let screen = term.screen(false).replace('\n', "");
    let said = screen
        .split("herald: cannot attach")
        .nth(1)
        .expect("an error is said");
    assert!(
        said.contains("missing or wrong operator API token"),
        "{screen}"
    );
    assert!(
        !said.contains("wrong-token"),
        "the token is not echoed: {said}"
    );
    term.send(&["clear", "Enter"]);

    term.send(&[
        &format!(
            "HERALD_TOKEN={OPERATOR} {herald_bin} tui --remote {}",
            serve.url
        ),
        "Enter",
    ]);
    assert!(term.wait_for("attached").await, "{}", term.screen(false));
    post_drift(&serve.url, "acme/live-one").await;
    assert!(
        term.wait_for("acme/live-one").await,
        "live: {}",
        term.screen(false)
    );
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() == 1).await,
        "delivered once"
    );
    // The newest event is selected (follow): r replays it through serve.
    term.send(&["r"]);
    assert!(
        term.wait_for("Replay the event").await,
        "a replay asks first: {}",
        term.screen(false)
    );
    term.send(&["y"]);
    assert!(
        eventually(Duration::from_secs(10), async || rx.requests().len() == 2).await,
        "the replay reaches the receiver: {}",
        term.screen(false)
    );
    term.send(&["q"]);

    let viewer = Tmux::start(160, 24);
    viewer.send(&[
        &format!(
            "HERALD_TOKEN={VIEWER} {herald_bin} tui --remote {}",
            serve.url
        ),
        "Enter",
    ]);
    assert!(
        viewer.wait_for("acme/live-one").await,
        "{}",
        viewer.screen(false)
    );
    viewer.send(&["r"]);
    assert!(
        viewer.wait_for("Replay the event").await,
        "{}",
        viewer.screen(false)
    );
    viewer.send(&["y"]);
    assert!(
        viewer.wait_for("may only read").await,
        "a viewer's replay is refused, and says why: {}",
        viewer.screen(false)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.requests().len(), 2, "nothing was sent for the viewer");
}

/// serve restarts under an attached console: the console says it is reconnecting, then
/// catches up from where it was: every event posted meanwhile is listed, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_console_reconnects_and_catches_up() {
    let (dir, config) = config_file(
        "webhooks:\n  - {event: drift, kind: http, url: 'http://127.0.0.1:9/none', retry: {max-attempts: 1}}\n",
    );
    let port = free_port();
    let serve = crate::support::Serve::start(&config, &dir.path().join("data"), port).await;
    let term = Tmux::start(160, 40);
    term.send(&[
        &format!(
            "{} tui --remote {}",
            env!("CARGO_BIN_EXE_herald"),
            serve.url
        ),
        "Enter",
    ]);
    assert!(term.wait_for("attached").await, "{}", term.screen(false));
    post_drift(&serve.url, "acme/before-1").await;
    post_drift(&serve.url, "acme/before-2").await;
    assert!(
        term.wait_for("acme/before-2").await,
        "{}",
        term.screen(false)
    );

    serve.signal("-TERM");
    let serve = {
        assert!(
            term.wait_for("reconnecting").await,
            "the status bar says so: {}",
            term.screen(false)
        );
        serve.restart().await
    };
    for n in 1..=4 {
        post_drift(&serve.url, &format!("acme/during-{n}")).await;
    }
    assert!(
        term.wait_for("acme/during-4").await,
        "caught up: {}",
        term.screen(false)
    );
    assert!(term.wait_for("attached").await, "{}", term.screen(false));
    let screen = term.screen(false);
    for n in 1..=4 {
        // A list row reads "drift Drift detected in …" (the side panel has no kind column).
        let row = format!("drift Drift detected in acme/during-{n}:");
        assert_eq!(
            screen.matches(row.as_str()).count(),
            1,
            "{row} listed once: {screen}"
        );
    }
    assert!(
        screen.contains("Events (6, following)"),
        "six events, none twice: {screen}"
    );
}

/// `y` then `c` copies a curl command that posts the selected event again (OSC 52, and a
/// file for terminals that ignore it): the payload as received, the token left to the shell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn y_copies_a_curl_reproduction_without_secrets() {
    let (dir, config) = config_file(
        "herald:\n  ingest-token: ingest-Zq8Lm3Vx7Rt2Kp9W\nwebhooks:\n  - {event: drift, kind: http, url: 'http://127.0.0.1:9/none', retry: {max-attempts: 1}}\n",
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let term = Tmux::start(140, 30);
    let command = format!(
        "TMPDIR={} HERALD_DATA_DIR={} {} tui -c {} --listen 127.0.0.1:{port}",
        tmp.path().display(),
        dir.path().join("data").display(),
        env!("CARGO_BIN_EXE_herald"),
        config.display()
    );
    term.send(&[&command, "Enter"]);
    assert!(term.wait_for("2 Events").await, "{}", term.screen(false));
    let r = herald::notify::client()
        .expect("client")
        .post(format!("http://127.0.0.1:{port}/events/drift"))
        .header("authorization", "Bearer ingest-Zq8Lm3Vx7Rt2Kp9W")
        .header("content-type", "application/json")
        .body(drift_named("acme/copied"))
        .send()
        .await
        .expect("posted");
    assert_eq!(r.status().as_u16(), 202);
    assert!(term.wait_for("acme/copied").await, "{}", term.screen(false));
    term.send(&["y"]);
    assert!(
        term.wait_for("a curl command").await,
        "{}",
        term.screen(false)
    );
    term.send(&["c"]);
    assert!(
        term.wait_for("copied the curl command").await,
        "{}",
        term.screen(false)
    );
    let file = std::fs::read_dir(tmp.path())
        .expect("tmp")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().contains("herald-curl-command-"))
        .expect("the copy is also in a file");
    let text = std::fs::read_to_string(file).expect("read");
    assert!(
        text.starts_with(&format!(
            "curl -sS -X POST 'http://127.0.0.1:{port}/events'"
        )),
        "{text}"
    );
    assert!(text.contains("\"repository\": \"acme/copied\""), "{text}");
    assert!(text.contains("${HERALD_INGEST_TOKEN}"), "{text}");
    assert!(
        !text.contains("ingest-Zq8Lm3Vx7Rt2Kp9W"),
        "no token in the copy: {text}"
    );
    term.send(&["q"]);
}

/// A remote console scrolls into history older than its first pages (1,101 events), finds
/// the oldest event by a field search over the serve's journal, replays it after a yes that
/// names it, and the receiver gets it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_console_pages_into_history_and_replays_an_old_event() {
    let rx = crate::support::Receiver::start(crate::support::Reply::Status(200, "")).await;
    let (dir, config) = config_file(&format!(
        "herald:\n  operator-token: {OPERATOR}\nwebhooks:\n  - {{name: audit, event: drift, kind: http, url: '{}'}}\n",
        rx.url("/drift")
    ));
    let serve = crate::support::Serve::start(&config, &dir.path().join("data"), free_port()).await;
    post_drift(&serve.url, "acme/oldest").await;
    for chunk in 0..11 {
        let posts = (0..100).map(|n| {
            let url = serve.url.clone();
            async move { post_drift(&url, &format!("acme/r{}", chunk * 100 + n)).await }
        });
        futures::future::join_all(posts).await;
    }
    let term = Tmux::start(150, 30);
    term.send(&[
        &format!(
            "HERALD_TOKEN={OPERATOR} {} tui --remote {}",
            env!("CARGO_BIN_EXE_herald"),
            serve.url
        ),
        "Enter",
    ]);
    assert!(
        term.wait_for("Events (200+").await,
        "the first page: {}",
        term.screen(false)
    );
    // End, again and again: each time near the end the next older page is fetched.
    let mut all = false;
    for _ in 0..30 {
        term.send(&["G"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        if term.screen(false).contains("Events (1101)") {
            all = true;
            break;
        }
    }
    assert!(all, "paged to the oldest: {}", term.screen(false));
    term.send(&["G"]);
    assert!(term.wait_for("acme/oldest").await, "{}", term.screen(false));

    term.send(&["/"]);
    term.send(&["-l", "webhook:audit acme/oldest"]);
    term.send(&["Enter"]);
    assert!(
        term.wait_for("Events (1, journal search").await,
        "one match: {}",
        term.screen(false)
    );
    term.send(&["r"]);
    assert!(
        term.wait_for("Replay the event \"Drift detected in acme/oldest")
            .await,
        "the question names the event: {}",
        term.screen(false)
    );
    term.send(&["y"]);
    let oldest_sent = || {
        rx.requests()
            .iter()
            .filter(|r| r.json()["repository"] == "acme/oldest")
            .count()
    };
    assert!(
        eventually(Duration::from_secs(60), async || oldest_sent() == 2).await,
        "the replay reaches the receiver ({} times): {}",
        oldest_sent(),
        term.screen(false)
    );
    term.send(&["q"]);
}
