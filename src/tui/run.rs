//! The controller: owns the terminal, feeds keys, engine events and async results to the
//! state, runs effects, and draws when something changed (at most 30 frames a second, so a
//! flood of events costs a constant amount of drawing).

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use futures::StreamExt as _;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::app::{Action, App, DeliveryItem, Effect, EventItem, Message, SlackAuth, Toast, WINDOW};
use super::fire::FireResult;
use super::theme::Theme;
use super::view;
use crate::config::{self, Config, LoadOptions};
use crate::dispatch::{CoreEvent, Engine};
use crate::event::Subject;
use crate::store::{DeliveryFilter, DeliveryStatus};

/// What the console needs besides the engine.
pub struct Options {
    /// Colours.
    pub theme: Theme,
    /// How the config was loaded (for writing a filter back and re-reading it).
    pub load: LoadOptions,
    /// The ingest listener (already bound).
    pub listener: tokio::net::TcpListener,
    /// Payloads offered by test-fire: (name, JSON).
    pub fixtures: Vec<(String, String)>,
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
}

/// Runs the console until the user quits. The engine and the ingest API run in-process
/// and stop with it; anything undelivered stays in the journal.
///
/// # Errors
/// No terminal, or terminal I/O failure.
pub async fn run(engine: Engine, options: Options) -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NoTerminal);
    }
    let listen = options.listener.local_addr()?.to_string();
    let shutdown = CancellationToken::new();
    let ingest = tokio::spawn(crate::ingest::serve(
        options.listener,
        engine.clone(),
        shutdown.clone(),
    ));
    let worker = tokio::spawn({
        let (e, s) = (engine.clone(), shutdown.clone());
        async move { e.run(s, Duration::from_secs(3)).await }
    });
    let (tx, mut rx) = unbounded_channel::<Message>();
    let mut app = App::new(engine.config(), listen, options.fixtures);
    spawn_initial_loads(&engine, &tx);
    let mut core = engine.subscribe();

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
                    if let Some(action) = super::keys::map(&app, &ev) {
                        if let Some(effect) = app.update(action) {
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
                                app.apply(match edited {
                                    Ok(t) => Message::Edited(t),
                                    Err(e) => Message::Toast(Toast { text: e, error: true }),
                                });
                            } else {
                                run_effect(effect, &engine, &tx, &options.load);
                            }
                        }
                        dirty = true;
                    }
                }
                Some(Err(e)) => break Err(e.into()),
                None => break Ok(()),
            },
            Some(m) = rx.recv() => {
                app.apply(m);
                dirty = true;
            }
            ce = core.recv() => match ce {
                Ok(ce) => {
                    app.apply(from_core(ce));
                    dirty = true;
                }
                // Fell behind a flood: reload the window from the journal.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => spawn_initial_loads(&engine, &tx),
                Err(_) => {}
            },
            _ = counts.tick() => {
                let (e, tx) = (engine.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(c) = e.reader().counts().await {
                        let _ = tx.send(Message::Counts(c));
                    }
                });
            }
            () = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    };
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    shutdown.cancel();
    let _ = ingest.await;
    let _ = worker.await;
    result
}

/// The newest events with their deliveries, the counts, and Slack's `auth.test`.
fn spawn_initial_loads(engine: &Engine, tx: &UnboundedSender<Message>) {
    let (e, t) = (engine.clone(), tx.clone());
    tokio::spawn(async move {
        if let Ok(items) = load_window(&e).await {
            let _ = t.send(Message::Loaded(items));
        }
        if let Ok(c) = e.reader().counts().await {
            let _ = t.send(Message::Counts(c));
        }
    });
    let config = engine.config();
    let needs_slack = config.webhooks.iter().any(|w| w.target.uses_slack_token());
    if let (true, Some(token)) = (needs_slack, config.slack_token.clone()) {
        let t = tx.clone();
        tokio::spawn(async move {
            let state = match crate::notify::client() {
                Ok(c) => {
                    match crate::notify::slack::auth_test(&c, &config.slack_api_url, token.expose())
                        .await
                    {
                        Ok(info) => SlackAuth::Ok(info.team),
                        Err(e) => SlackAuth::Failed(e),
                    }
                }
                Err(e) => SlackAuth::Failed(e.to_string()),
            };
            let _ = t.send(Message::SlackAuth(state));
        });
    }
}

/// Reads the window of newest events and their deliveries in two queries.
pub async fn load_window(engine: &Engine) -> Result<Vec<EventItem>, crate::store::StoreError> {
    let journal = engine.reader();
    let rows = journal.events(WINDOW, None).await?;
    let oldest = rows.last().map_or(0, |r| r.received_at);
    let deliveries = journal
        .deliveries(DeliveryFilter {
            limit: WINDOW * 8,
            ..DeliveryFilter::default()
        })
        .await?;
    let mut by_event: HashMap<String, Vec<DeliveryItem>> = HashMap::new();
    for d in deliveries
        .into_iter()
        .rev()
        .filter(|d| d.created_at >= oldest)
    {
        by_event
            .entry(d.event_id.clone())
            .or_default()
            .push(DeliveryItem {
                id: d.id,
                label: d.webhook_label,
                status: d.status,
                attempts: d.attempts,
                error: d.last_error,
                hint: None,
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| EventItem {
            deliveries: by_event.remove(&r.id).unwrap_or_default(),
            id: r.id,
            received_at: r.received_at,
            source: r.source,
            event: Arc::new(r.event),
        })
        .collect())
}

fn from_core(ce: CoreEvent) -> Message {
    match ce {
        CoreEvent::Recorded {
            event_id,
            source,
            event,
            deliveries,
        } => Message::Recorded(EventItem {
            id: event_id,
            received_at: crate::clock::now_ms(),
            source,
            event,
            deliveries: deliveries
                .into_iter()
                .map(|(id, label)| DeliveryItem {
                    id,
                    label,
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    error: None,
                    hint: None,
                })
                .collect(),
        }),
        CoreEvent::Attempted {
            delivery_id,
            event_id,
            label,
            number,
            attempt,
            status,
            ..
        } => Message::Attempted {
            event_id,
            delivery_id,
            label,
            status,
            attempts: number,
            error: attempt.error,
            hint: attempt.hint,
        },
    }
}

fn toast(tx: &UnboundedSender<Message>, text: impl Into<String>, error: bool) {
    let _ = tx.send(Message::Toast(Toast {
        text: text.into(),
        error,
    }));
}

/// Runs an effect off the UI loop; results come back as messages.
fn run_effect(effect: Effect, engine: &Engine, tx: &UnboundedSender<Message>, load: &LoadOptions) {
    let (engine, tx) = (engine.clone(), tx.clone());
    match effect {
        Effect::Quit | Effect::EditPayload(_) => {}
        Effect::Pause(p) => {
            tokio::spawn(async move {
                match engine.set_paused(p).await {
                    Ok(()) => {
                        let _ = tx.send(Message::Paused(p));
                    }
                    Err(e) => tracing::error!("cannot change the pause state: {e}"),
                }
            });
        }
        Effect::LoadDetail(id) => {
            tokio::spawn(async move {
                let journal = engine.reader();
                let body = journal
                    .event(&id)
                    .await
                    .ok()
                    .flatten()
                    .map(|e| e.body)
                    .unwrap_or_default();
                let mut attempts = Vec::new();
                let rows = journal
                    .deliveries(DeliveryFilter {
                        event_id: Some(id.clone()),
                        ..DeliveryFilter::default()
                    })
                    .await
                    .unwrap_or_default();
                for d in rows.into_iter().rev() {
                    let a = journal.attempts(&d.id).await.unwrap_or_default();
                    attempts.push((d.id, a));
                }
                let _ = tx.send(Message::Detail {
                    event_id: id,
                    body,
                    attempts,
                });
            });
        }
        Effect::Replay { id, webhooks } => {
            tokio::spawn(async move {
                match engine.replay(&id, &webhooks).await {
                    Ok(ids) => {
                        let mut deliveries = Vec::new();
                        let mut event_id = String::new();
                        for new in &ids {
                            if let Ok(Some(d)) = engine.reader().delivery(new).await {
                                event_id = d.event_id;
                                deliveries.push((d.id, d.webhook_label));
                            }
                        }
                        if ids.is_empty() {
                            toast(
                                &tx,
                                "nothing to replay: no webhook matches this event now (R chooses one)",
                                true,
                            );
                        } else {
                            let _ = tx.send(Message::Replayed {
                                event_id,
                                deliveries,
                            });
                        }
                    }
                    Err(e) => toast(&tx, format!("replay: {e}"), true),
                }
            });
        }
        Effect::ApplyFilter {
            webhook,
            field,
            pattern,
        } => match with_filter(&engine.config(), webhook, field, &pattern) {
            Ok(c) => {
                let c = Arc::new(c);
                engine.reload(c.clone());
                let _ = tx.send(Message::Config(c));
                toast(
                    &tx,
                    format!(
                        "{} applied to the running engine (ctrl-s also writes it to the file)",
                        field.key()
                    ),
                    false,
                );
            }
            Err(e) => toast(&tx, e, true),
        },
        Effect::WriteFilter {
            webhook,
            field,
            pattern,
        } => {
            let load = load.clone();
            match write_filter(&engine.config(), &load, webhook, field, &pattern) {
                Ok((c, msg)) => {
                    let c = Arc::new(c);
                    engine.reload(c.clone());
                    let _ = tx.send(Message::Config(c));
                    toast(&tx, msg, false);
                }
                Err(e) => toast(&tx, e, true),
            }
        }
        Effect::Fire { body, webhooks } => {
            tokio::spawn(async move {
                let results = fire(&engine, &body, &webhooks).await.unwrap_or_else(|e| {
                    vec![FireResult {
                        label: "test-fire".into(),
                        ok: false,
                        status: None,
                        error: Some(e),
                        hint: None,
                    }]
                });
                let _ = tx.send(Message::Fired(results));
            });
        }
    }
}

/// The config with one filter changed.
fn with_filter(
    config: &Config,
    webhook: usize,
    field: Subject,
    pattern: &str,
) -> Result<Config, String> {
    if webhook >= config.webhooks.len() {
        return Err("that webhook is gone".into());
    }
    config
        .with_filter(webhook, field.key(), pattern)
        .map_err(|p| p.message)
}

/// Writes one filter into the config file (and any other filter of the webhook applied but
/// not saved, see [`config::write_filters`]); returns the config re-read and what to say.
///
/// # Errors
/// A sentence saying what could not be read, edited or written.
pub fn write_filter(
    config: &Config,
    load: &LoadOptions,
    webhook: usize,
    field: Subject,
    pattern: &str,
) -> Result<(Config, String), String> {
    let written = config::write_filters(config, load, webhook, &[(field.key(), pattern)])
        .map_err(|e| e.to_string())?;
    let what = match written.keys.as_slice() {
        [one, two] => format!("{one} and {two} (applied earlier, unsaved until now)"),
        keys => keys.join(" and "),
    };
    let name = written
        .config
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let msg = format!(
        "wrote {what} of webhook #{webhook} to {name} (backup {})",
        written.backup.display()
    );
    Ok((written.config, msg))
}

/// Fires a payload at webhooks through the engine and reads the answers.
async fn fire(engine: &Engine, body: &str, webhooks: &[usize]) -> Result<Vec<FireResult>, String> {
    let ids = engine
        .test_fire(body.as_bytes(), webhooks)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for id in ids {
        let journal = engine.reader();
        let row = journal.delivery(&id).await.map_err(|e| e.to_string())?;
        let last = journal
            .attempts(&id)
            .await
            .map_err(|e| e.to_string())?
            .pop();
        if let Some(r) = row {
            out.push(FireResult {
                label: r.webhook_label,
                ok: r.status == DeliveryStatus::Succeeded,
                status: last.as_ref().and_then(|a| a.status),
                error: last.as_ref().and_then(|a| a.error.clone()),
                hint: last.and_then(|a| a.hint),
            });
        }
    }
    Ok(out)
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
