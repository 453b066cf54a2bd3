//! The controller: owns the terminal, feeds keys, the API's live stream and async results
//! to the state, runs effects through the operator API's client, and draws when something changed (at most 30 frames a second, so a
//! flood of events costs a constant amount of drawing).

use std::io::IsTerminal as _;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use futures::StreamExt as _;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::app::{Action, App, CopyWhat, Effect, EventItem, Link, Message, SlackAuth, Toast};
use super::fire::FireResult;
use super::theme::Theme;
use super::view;
use crate::api::client::{Client, ClientError};
use crate::api::wire;
use crate::config::LoadOptions;
use crate::dispatch::Engine;
use crate::store::DeliveryStatus;

/// What the console shows: an engine it runs itself, or a `serve` it attaches to.
pub enum Target {
    /// The engine and the ingest API run in this process and stop with the console.
    InProcess {
        /// The engine.
        engine: Engine,
        /// The ingest listener (already bound).
        listener: tokio::net::TcpListener,
        /// How the config was loaded (the API writes filters back and reloads with it).
        load: Box<LoadOptions>,
    },
    /// A `serve` elsewhere, through its operator API.
    Remote(Client),
}

/// How the console looks and what it offers.
pub struct Options {
    /// Colours.
    pub theme: Theme,
    /// Payloads offered by test-fire: (name, JSON).
    pub fixtures: Vec<(String, String)>,
    /// Refuse every action here, whatever the token allows.
    pub readonly: bool,
}

/// Why the console cannot run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// stdout is not a terminal.
    #[error("the console needs a terminal; to run herald without one, use `herald serve`")]
    NoTerminal,
    /// Terminal I/O failed.
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
    /// The herald to show did not let the console in.
    #[error("cannot attach to {at}: {error}")]
    Attach {
        /// Where (masked).
        at: String,
        /// Why.
        error: ClientError,
    },
}

/// How many events a page brings.
const PAGE: usize = 200;

/// Runs the console until the user quits. It reads and acts only through the operator
/// API: in-process through the router directly, remote over HTTP; anything undelivered
/// stays in the journal when it stops.
///
/// # Errors
/// No terminal, terminal I/O failure, or a herald that cannot be attached to.
pub async fn run(target: Target, options: Options) -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NoTerminal);
    }
    let shutdown = CancellationToken::new();
    let mut background = Vec::new();
    let (client, listen, link) = match target {
        Target::InProcess {
            engine,
            listener,
            load,
        } => {
            let listen = listener.local_addr()?.to_string();
            background.push(tokio::spawn({
                let (e, s, l) = (engine.clone(), shutdown.clone(), (*load).clone());
                async move {
                    let limits = crate::ingest::Limits::default();
                    let _ = crate::ingest::serve_with(listener, e, s, limits, Some(l)).await;
                }
            }));
            background.push(tokio::spawn({
                let (e, s) = (engine.clone(), shutdown.clone());
                async move { e.run(s, Duration::from_secs(3)).await }
            }));
            // The console in place of a serve does what a serve does, drift schedules too.
            background.push(tokio::spawn(crate::schedule::run(
                engine.clone(),
                shutdown.clone(),
            )));
            let client = crate::api::Api::new(engine, Some(*load)).local_client();
            (client, listen, Link::InProcess)
        }
        Target::Remote(client) => {
            let at = client.at();
            (client, at.clone(), Link::Attached(at))
        }
    };
    let attach = |error| TuiError::Attach {
        at: client.at(),
        error,
    };
    // The first call says at once whether the console is let in (a wrong token, nothing
    // listening) instead of opening a screen that stays empty.
    let webhooks = client.webhooks().await.map_err(attach)?;
    let status = client.status().await.map_err(attach)?;
    let (tx, mut rx) = unbounded_channel::<Message>();
    let mut app = App::new(webhooks, listen, options.fixtures);
    app.link = link;
    app.readonly = options.readonly;
    app.paused = status.paused;
    app.counts = status.counts;
    spawn_slack_check(&client, &app, &tx);
    let follow = tokio::spawn(follow(client.clone(), tx.clone(), shutdown.clone()));

    let mut terminal = ratatui::init();
    // ratatui's hook restores the screen on a panic; mouse reporting must go too, or the
    // shell is left printing escape codes on every mouse move.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));
    crossterm::execute!(std::io::stdout(), EnableMouseCapture)?;
    let size = terminal.size()?;
    app.update(Action::Resize(size.width, size.height));
    let mut input = EventStream::new();
    let mut counts = tokio::time::interval(Duration::from_secs(1));
    // The drift scheduler's state changes on the scale of minutes: every 5th second.
    let mut ticks: u64 = 0;
    let frame = Duration::from_millis(33);
    let mut dirty = true;
    let mut next_frame = Instant::now();
    let result = loop {
        if dirty && Instant::now() >= next_frame {
            if let Err(e) = terminal.draw(|f| view::draw(f, &app, &options.theme)) {
                break Err(e.into());
            }
            dirty = false;
            next_frame = Instant::now() + frame;
        }
        tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(ev)) => {
                    if let Some(action) = super::keys::map(&app, &ev)
                        && let Some(effect) = app.update(action)
                    {
                        if effect == Effect::Quit {
                            break Ok(());
                        }
                        if let Effect::EditPayload(text) = effect {
                            // The editor needs the terminal and stdin to itself.
                            drop(input);
                            let edited = edit_in_editor(&text, &std::env::temp_dir());
                            terminal = ratatui::init();
                            crossterm::execute!(std::io::stdout(), EnableMouseCapture)?;
                            // A new terminal has empty buffers, so the next frame is drawn whole.
                            input = EventStream::new();
                            let next = app.apply(match edited {
                                Ok(t) => Message::Edited(t),
                                Err(e) => Message::Toast(Toast { text: e, error: true }),
                            });
                            if let Some(effect) = next {
                                run_effect(effect, &client, &tx, app.readonly);
                            }
                        } else {
                            run_effect(effect, &client, &tx, app.readonly);
                        }
                    }
                    dirty = true;
                }
                Some(Err(e)) => break Err(e.into()),
                None => break Ok(()),
            },
            Some(m) = rx.recv() => {
                if let Some(effect) = app.apply(m) {
                    run_effect(effect, &client, &tx, app.readonly);
                }
                dirty = true;
            }
            _ = counts.tick() => {
                let (c, tx) = (client.clone(), tx.clone());
                let drift = ticks.is_multiple_of(5);
                ticks += 1;
                tokio::spawn(async move {
                    if drift && let Ok(watch) = c.drift().await {
                        // The clock is read here, on the loop; views only read `now_ms`.
                        let now = crate::clock::now_ms();
                        let _ = tx.send(Message::Drift { watch, now });
                    }
                    if let Ok(s) = c.status().await {
                        let _ = tx.send(Message::Counts(s.counts));
                        // The stream tells pause changes as it polls them; a pause and a
                        // resume between two polls never reach it, so the status is the
                        // truth it falls back on.
                        let _ = tx.send(Message::Paused(s.paused));
                    }
                });
            }
            () = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    };
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    shutdown.cancel();
    follow.abort();
    for task in background {
        let _ = task.await;
    }
    result
}

/// Follows the live stream, and reconnects with a growing pause (0.5 s to 5 s) when it
/// drops, from the last position seen, so nothing is missed and nothing comes twice; a
/// `reset` (or a first connection) reloads the newest events.
async fn follow(client: Client, tx: UnboundedSender<Message>, stop: CancellationToken) {
    let mut last: Option<String> = None;
    let mut wait = Duration::from_millis(500);
    loop {
        let why = match client.stream(last.as_deref()).await {
            Ok(mut items) => {
                if client.is_remote() {
                    let _ = tx.send(Message::Link(Link::Attached(client.at())));
                }
                wait = Duration::from_millis(500);
                if last.is_none() {
                    reload(&client, &tx).await;
                }
                loop {
                    match items.next().await {
                        Some(Ok((id, item))) => {
                            if !id.is_empty() {
                                last = Some(id);
                            }
                            if let Some(m) = from_stream(item) {
                                let _ = tx.send(m);
                            } else {
                                reload(&client, &tx).await;
                            }
                        }
                        Some(Err(e)) => break e.to_string(),
                        None => break "the connection closed".to_string(),
                    }
                }
            }
            Err(e) => e.to_string(),
        };
        if stop.is_cancelled() {
            return;
        }
        let _ = tx.send(Message::Link(Link::Reconnecting {
            at: client.at(),
            why,
        }));
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// Loads the webhooks and the newest page of events again.
async fn reload(client: &Client, tx: &UnboundedSender<Message>) {
    if let Ok(w) = client.webhooks().await {
        let _ = tx.send(Message::Webhooks(w));
    }
    match load_page(client).await {
        Ok((items, next)) => {
            let _ = tx.send(Message::Loaded(items));
            let _ = tx.send(Message::Cursor(next));
        }
        Err(e) => toast(tx, format!("cannot load events: {e}"), true),
    }
}

/// The newest page of events with their deliveries, as the lists hold them, and the
/// cursor of the page after it.
///
/// # Errors
/// See [`ClientError`].
pub async fn load_page(client: &Client) -> Result<(Vec<EventItem>, Option<i64>), ClientError> {
    let page = client.events(None, PAGE, "").await?;
    Ok((
        page.events.into_iter().map(EventItem::from).collect(),
        page.next,
    ))
}

/// A stream item as a message; `None` for a reset (the caller reloads).
fn from_stream(it: wire::StreamItem) -> Option<Message> {
    Some(match it {
        wire::StreamItem::Recorded(e) => Message::Recorded(EventItem::from(*e)),
        wire::StreamItem::Attempted(a) => Message::Attempted {
            event_id: a.event_id,
            delivery_id: a.delivery_id,
            label: a.webhook_label,
            status: a.delivery_status,
            attempts: a.number,
            error: a.error,
            hint: None,
        },
        wire::StreamItem::State { paused } => Message::Paused(paused),
        wire::StreamItem::Reset => return None,
    })
}

/// Asks the herald shown whether its Slack token works, when a webhook needs it.
fn spawn_slack_check(client: &Client, app: &App, tx: &UnboundedSender<Message>) {
    if app.slack != SlackAuth::Checking {
        return;
    }
    let (c, t) = (client.clone(), tx.clone());
    tokio::spawn(async move {
        let state = match c.slack().await {
            Ok(wire::SlackAuth::Ok(team)) => SlackAuth::Ok(team),
            Ok(wire::SlackAuth::Failed(e)) => SlackAuth::Failed(e),
            Ok(wire::SlackAuth::NotNeeded) => SlackAuth::NotNeeded,
            Err(e) => SlackAuth::Failed(e.to_string()),
        };
        let _ = t.send(Message::SlackAuth(state));
    });
}

fn toast(tx: &UnboundedSender<Message>, text: impl Into<String>, error: bool) {
    let _ = tx.send(Message::Toast(Toast {
        text: text.into(),
        error,
    }));
}

/// Applies a filter to the engine shown (and with `write` writes it to its config file),
/// then shows the webhooks as they are now and says what was done.
async fn set_filter(
    client: &Client,
    tx: &UnboundedSender<Message>,
    webhook: usize,
    field: crate::event::Subject,
    pattern: &str,
    write: bool,
) {
    match client
        .set_filter(webhook, field.key(), pattern, write)
        .await
    {
        Ok(answer) => {
            if let Ok(w) = client.webhooks().await {
                let _ = tx.send(Message::Webhooks(w));
            }
            let text = match answer.get("said").and_then(serde_json::Value::as_str) {
                Some(said) if write && !said.is_empty() => said.to_string(),
                _ if write => format!("wrote {}", field.key()),
                _ => format!(
                    "{} applied to the running engine (ctrl-s also writes it to the file)",
                    field.key()
                ),
            };
            toast(tx, text, false);
        }
        Err(e) => toast(tx, said(&e), true),
    }
}

/// A `curl` command that posts `body` to the ingest at `base` again. The token is left to
/// the shell (`$HERALD_INGEST_TOKEN`): a copied command never carries a secret.
fn curl(base: &str, body: &str) -> String {
    format!(
        "curl -sS -X POST '{base}/events' \\\n  -H 'Content-Type: application/json' \\\n  -H \"Authorization: Bearer ${{HERALD_INGEST_TOKEN}}\" \\\n  --data-binary @- <<'JSON'\n{body}\nJSON\n"
    )
}

/// Puts `text` on the clipboard with OSC 52 (terminals that allow it: most, and tmux with
/// `set-clipboard on`), and, since a terminal may ignore it silently, also into a file
/// whose path is said.
fn copy(text: &str, event_id: &str, what: CopyWhat) -> String {
    use base64::Engine as _;
    use std::io::Write as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
    let word = match what {
        CopyWhat::Id => "id",
        CopyWhat::Payload => "payload",
        CopyWhat::Curl => "curl command",
    };
    let path = std::env::temp_dir().join(format!("herald-{word}-{event_id}.txt").replace(' ', "-"));
    match std::fs::write(&path, text) {
        Ok(()) => format!("copied the {word} (OSC 52); also in {}", path.display()),
        Err(_) => format!("copied the {word} (OSC 52)"),
    }
}

/// An API error as the console says it: a refusal says which token it takes.
fn said(e: &ClientError) -> String {
    match e {
        ClientError::Api { status: 403, .. } => {
            format!("{e} (this console's token may only read)")
        }
        e => e.to_string(),
    }
}

/// Webhook indexes as the API's selectors.
fn names(indexes: &[usize]) -> Vec<String> {
    indexes.iter().map(ToString::to_string).collect()
}

/// Whether an effect acts on the herald (and so is refused by `--readonly`).
fn acts(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::Replay { .. }
            | Effect::ReplayMany(_)
            | Effect::ReplayFailed
            | Effect::Reload
            | Effect::ApplyFilter { .. }
            | Effect::WriteFilter { .. }
            | Effect::Fire { .. }
            | Effect::Pause(_)
            | Effect::RunSchedule(_)
    )
}

/// Runs an effect off the UI loop, through the API; results come back as messages.
fn run_effect(effect: Effect, client: &Client, tx: &UnboundedSender<Message>, readonly: bool) {
    if readonly && acts(&effect) {
        if let Effect::Fire { .. } = effect {
            let _ = tx.send(Message::Fired(vec![FireResult {
                label: "test-fire".into(),
                ok: false,
                status: None,
                error: Some("this console is read-only (--readonly)".into()),
                hint: None,
            }]));
        }
        toast(
            tx,
            "this console is read-only (--readonly): nothing was sent",
            true,
        );
        return;
    }
    let (client, tx) = (client.clone(), tx.clone());
    tokio::spawn(async move {
        match effect {
            Effect::Quit | Effect::EditPayload(_) => {}
            Effect::RunSchedule(key) => match client.run_schedule(&key).await {
                Ok(v) => toast(
                    &tx,
                    format!(
                        "asked Atlantis about {}: the report comes as a drift event",
                        v["started"].as_str().unwrap_or("the repository")
                    ),
                    false,
                ),
                Err(e) => toast(&tx, format!("drift run: {}", said(&e)), true),
            },
            Effect::Pause(p) => match client.pause(p).await {
                Ok(()) => {
                    let _ = tx.send(Message::Paused(p));
                }
                Err(e) => toast(&tx, format!("pause: {}", said(&e)), true),
            },
            Effect::LoadDetail(id) => match client.event(&id).await {
                Ok(d) => {
                    let body = serde_json::to_string_pretty(&d.event.body).unwrap_or_default();
                    let attempts = d
                        .deliveries
                        .into_iter()
                        .rev()
                        .map(|x| (x.delivery.id, x.attempts))
                        .collect();
                    let _ = tx.send(Message::Detail {
                        event_id: id,
                        body,
                        attempts,
                    });
                }
                Err(e) => toast(&tx, format!("cannot load the event: {e}"), true),
            },
            Effect::Replay { id, webhooks } => match client.replay(&id, &names(&webhooks)).await {
                Ok(created) if created.deliveries.is_empty() => toast(
                    &tx,
                    "nothing to replay: no webhook matches this event now (R chooses one)",
                    true,
                ),
                Ok(created) => toast(
                    &tx,
                    format!("replay queued: {} deliveries", created.deliveries.len()),
                    false,
                ),
                Err(e) => toast(&tx, format!("replay: {}", said(&e)), true),
            },
            Effect::ApplyFilter {
                webhook,
                field,
                pattern,
            } => set_filter(&client, &tx, webhook, field, &pattern, false).await,
            Effect::WriteFilter {
                webhook,
                field,
                pattern,
            } => set_filter(&client, &tx, webhook, field, &pattern, true).await,
            Effect::Fire { body, webhooks } => {
                let results = match serde_json::from_str(&body) {
                    Err(e) => Err(format!("the payload is not JSON: {e}")),
                    Ok(payload) => client
                        .fire(payload, &names(&webhooks))
                        .await
                        .map_err(|e| said(&e)),
                };
                let results = match results {
                    Ok(fired) => fired
                        .deliveries
                        .into_iter()
                        .map(|d| {
                            let last = d.attempts.last();
                            FireResult {
                                label: d.delivery.webhook_label,
                                ok: d.delivery.status == DeliveryStatus::Succeeded,
                                status: last.and_then(|a| a.status),
                                error: last.and_then(|a| a.error.clone()),
                                hint: last.and_then(|a| a.hint.clone()),
                            }
                        })
                        .collect(),
                    Err(e) => vec![FireResult {
                        label: "test-fire".into(),
                        ok: false,
                        status: None,
                        error: Some(e),
                        hint: None,
                    }],
                };
                let _ = tx.send(Message::Fired(results));
            }
            Effect::ReplayMany(ids) => {
                let mut queued = 0;
                let mut failed = Vec::new();
                for id in &ids {
                    match client.replay(id, &[]).await {
                        Ok(created) => queued += created.deliveries.len(),
                        Err(e) => failed.push(said(&e)),
                    }
                }
                match failed.first() {
                    None => toast(
                        &tx,
                        format!(
                            "replay queued: {queued} deliveries for {} events",
                            ids.len()
                        ),
                        false,
                    ),
                    Some(e) => toast(
                        &tx,
                        format!("{} of {} replays refused: {e}", failed.len(), ids.len()),
                        true,
                    ),
                }
            }
            Effect::ReplayFailed => match client.replay_failed(&[]).await {
                Ok(created) => toast(
                    &tx,
                    format!(
                        "replay queued: {} failed deliveries",
                        created.deliveries.len()
                    ),
                    false,
                ),
                Err(e) => toast(&tx, format!("replay: {}", said(&e)), true),
            },
            Effect::Copy {
                event_id,
                what,
                ingest,
            } => {
                let text = match what {
                    CopyWhat::Id => Ok(event_id.clone()),
                    CopyWhat::Payload | CopyWhat::Curl => client.event(&event_id).await.map(|d| {
                        let body = serde_json::to_string_pretty(&d.event.body).unwrap_or_default();
                        if what == CopyWhat::Payload {
                            body
                        } else {
                            curl(&ingest, &body)
                        }
                    }),
                };
                match text {
                    Ok(text) => toast(&tx, copy(&text, &event_id, what), false),
                    Err(e) => toast(&tx, format!("copy: {}", said(&e)), true),
                }
            }
            Effect::Reload => match client.reload().await {
                Ok(_) => {
                    if let Ok(w) = client.webhooks().await {
                        let n = w.len();
                        let _ = tx.send(Message::Webhooks(w));
                        toast(&tx, format!("config reloaded: {n} webhooks"), false);
                    }
                }
                Err(e) => toast(&tx, format!("reload: {}", said(&e)), true),
            },
            Effect::LoadOlder { before, q } => {
                let (items, next) = match client.events(Some(before), PAGE, &q).await {
                    Ok(page) => (
                        page.events.into_iter().map(EventItem::from).collect(),
                        page.next,
                    ),
                    Err(e) => {
                        toast(&tx, format!("cannot load older events: {e}"), true);
                        (Vec::new(), Some(before))
                    }
                };
                let _ = tx.send(Message::Older { items, next });
            }
            Effect::Search(q) => match client.events(None, PAGE, &q).await {
                Ok(page) => {
                    let found = page.events.len();
                    let _ = tx.send(Message::Searched {
                        q: q.clone(),
                        items: page.events.into_iter().map(EventItem::from).collect(),
                        next: page.next,
                    });
                    if !q.is_empty() {
                        let more = if page.next.is_some() { "+" } else { "" };
                        toast(
                            &tx,
                            format!("{found}{more} events in the journal match {q:?}"),
                            false,
                        );
                    }
                }
                Err(e) => toast(&tx, format!("search: {e}"), true),
            },
            Effect::Preview {
                webhook,
                what,
                width,
            } => {
                let answer = client
                    .preview(&webhook.to_string(), what, width)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string());
                let _ = tx.send(Message::Preview { webhook, answer });
            }
        }
    });
}

/// Opens `$EDITOR` (or `vi`) on the text; returns what was saved.
fn edit_in_editor(text: &str, dir: &std::path::Path) -> Result<String, String> {
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    let path = dir.join(format!("herald-payload-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let mut parts = editor.split_whitespace();
    let program = parts.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(parts)
        .arg(&path)
        .status();
    let result = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&path).map_err(|e| e.to_string()),
        Ok(s) => Err(format!("{editor} exited with {s}; payload unchanged")),
        Err(e) => Err(format!("cannot start {editor}: {e} (set $EDITOR)")),
    };
    let _ = std::fs::remove_file(&path);
    result
}
