//! The console's state and its pure `update`: user intents come in as [`Action`]s, async
//! results as [`Message`]s, and side effects go out as [`Effect`]s for the controller to
//! run. Nothing here does I/O, so every behaviour can be tested without a terminal.

use std::collections::VecDeque;
use std::sync::Arc;

use tui_input::{Input, InputRequest};

use super::editor::Editor;
use super::fire::FireDialog;
use crate::api::client::Preview;
use crate::api::wire::{self, Webhook};
use crate::config::EventKind;
use crate::event::Event;
use crate::event::Subject;
use crate::store::{AttemptRow, DeliveryStatus, StatusCounts};

/// At most this many events are held in memory; the journal has the rest.
pub const WINDOW: usize = 1000;

/// The three lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// Configured webhooks.
    Webhooks,
    /// Live events.
    Events,
    /// Drift reports.
    Drift,
    /// herald's drift schedules and when each repository last reported.
    Schedules,
}

impl Pane {
    /// All panes in order (keys 1-4, tab).
    pub const ALL: [Pane; 4] = [Pane::Webhooks, Pane::Events, Pane::Drift, Pane::Schedules];

    fn index(self) -> usize {
        match self {
            Pane::Webhooks => 0,
            Pane::Events => 1,
            Pane::Drift => 2,
            Pane::Schedules => 3,
        }
    }

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Webhooks => "Webhooks",
            Pane::Events => "Events",
            Pane::Drift => "Drift",
            Pane::Schedules => "Schedules",
        }
    }
}

/// One delivery as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryItem {
    /// Delivery id.
    pub id: String,
    /// Webhook label.
    pub label: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: Option<String>,
    /// The hint for it.
    pub hint: Option<String>,
}

/// One event as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventItem {
    /// Event id.
    pub id: String,
    /// Received (Unix ms).
    pub received_at: i64,
    /// apply, drift, env0, fire.
    pub source: crate::intake::Source,
    /// The event.
    pub event: Arc<Event>,
    /// Its deliveries.
    pub deliveries: Vec<DeliveryItem>,
}

impl EventItem {
    /// One line: the event's summary.
    pub fn summary(&self) -> String {
        self.event.summary()
    }
}

impl From<wire::FullEvent> for EventItem {
    fn from(e: wire::FullEvent) -> Self {
        Self {
            id: e.summary.id,
            received_at: e.summary.received_at,
            source: e.summary.source,
            event: Arc::new(e.event),
            deliveries: e
                .delivery_list
                .into_iter()
                .map(|d| DeliveryItem {
                    id: d.id,
                    label: d.label,
                    status: d.status,
                    attempts: d.attempts,
                    error: d.error,
                    hint: None,
                })
                .collect(),
        }
    }
}

/// A webhook as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookStats {
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Deliveries that failed for good.
    pub failed: u64,
    /// The last delivery's state and error.
    pub last: Option<(DeliveryStatus, Option<String>)>,
}

impl WebhookStats {
    /// The counters as the journal tallies them.
    pub fn from_tally(w: &Webhook) -> Self {
        Self {
            delivered: u64::from(w.deliveries.succeeded),
            failed: u64::from(w.deliveries.failed),
            last: None,
        }
    }

    /// The last outcome in a few words: `ok`, the error, or `retrying: error`.
    pub fn last_text(&self) -> Option<String> {
        self.last.as_ref().map(|(status, error)| match status {
            DeliveryStatus::Succeeded => "ok".to_string(),
            DeliveryStatus::Failed => error.clone().unwrap_or_else(|| "failed".into()),
            DeliveryStatus::Retrying | DeliveryStatus::Pending => {
                format!("retrying: {}", error.clone().unwrap_or_default())
            }
        })
    }
}

/// Slack's verdict on the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackAuth {
    /// No Slack channel webhook: nothing to check.
    NotNeeded,
    /// Being checked.
    Checking,
    /// `auth.test` passed: the workspace name.
    Ok(String),
    /// `auth.test` failed: the error.
    Failed(String),
}

/// The `/` filter of a list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// The text typed (a leading `!` inverts).
    pub input: Input,
    /// Still typing.
    pub editing: bool,
}

impl ListFilter {
    /// Whether `text` passes: case-insensitive substring, inverted by a leading `!`.
    pub fn passes(&self, text: &str) -> bool {
        let q = self.input.value();
        let (invert, q) = match q.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, q),
        };
        if q.is_empty() {
            return true;
        }
        text.to_lowercase().contains(&q.to_lowercase()) != invert
    }
}

/// What the detail view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailTab {
    /// The received payload.
    Payload,
    /// The message the selected delivery's webhook gets, as its destination shows it.
    Message,
    /// Every attempt's request and response.
    Attempts,
}

/// The detail view of one event.
#[derive(Debug, Clone)]
pub struct Detail {
    /// The event.
    pub event_id: String,
    /// Which tab.
    pub tab: DetailTab,
    /// Scroll offset (lines).
    pub scroll: u16,
    /// The stored body, once loaded.
    pub body: Option<String>,
    /// Attempts per delivery id, once loaded.
    pub attempts: Vec<(String, Vec<AttemptRow>)>,
    /// Which delivery is selected (for replay).
    pub delivery: usize,
    /// The Message tab: the request the selected delivery's webhook gets, once asked.
    pub preview: Option<Result<Box<wire::PreviewAnswer>, String>>,
    /// `/` in the detail: the text looked for, whether it is still being typed, and which
    /// match is shown (`n`/`N` move it).
    pub find: Option<Find>,
}

/// A search inside the event detail.
#[derive(Debug, Clone, Default)]
pub struct Find {
    /// The text looked for (case-insensitive).
    pub input: Input,
    /// Still typing: letters go to the text, not to the keys.
    pub editing: bool,
    /// Which match is shown (wraps around).
    pub hit: usize,
}

/// A transient message in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    /// The text.
    pub text: String,
    /// An error (red) or information.
    pub error: bool,
}

/// Dialogs over the panes.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// Nothing.
    None,
    /// `?` help, filtered by what is typed.
    Help(Input),
    /// An event's detail.
    Detail(Detail),
    /// The filter editor.
    Editor(Box<Editor>),
    /// Test-fire.
    Fire(Box<FireDialog>),
    /// `:` command mode: a command being typed.
    Command(Input),
    /// `y`: what of the event to copy.
    Copy {
        /// The event.
        event_id: String,
    },
    /// An outward action waits for `y` (or enter); `n` or esc cancels and goes back.
    Confirm {
        /// What it does, with its target named.
        text: String,
        /// The action, once confirmed.
        effect: Box<Effect>,
        /// The dialog it came from, shown again afterwards.
        then: Box<Overlay>,
    },
    /// Choosing the webhook a replay goes to.
    ReplayTo {
        /// Event or delivery id to replay.
        id: String,
        /// The event's kind, to warn before sending it to a webhook of the other kind.
        kind: EventKind,
        /// Selected webhook.
        selected: usize,
        /// The selected webhook is for the other event kind and Enter was pressed once:
        /// the warning is shown, and Enter again sends.
        warned: bool,
    },
}

/// User intents.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Leave.
    Quit,
    /// Move the selection.
    Up,
    /// Move the selection.
    Down,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// Next pane or field.
    Next,
    /// Previous pane or field.
    Prev,
    /// Jump to a pane.
    Pane(Pane),
    /// Open, confirm, apply.
    Enter,
    /// Close, back, clear.
    Back,
    /// Open help.
    Help,
    /// Start filtering the list.
    Filter,
    /// Text typed into the focused input.
    Input(InputRequest),
    /// Follow new events on/off.
    ToggleFollow,
    /// Pause or resume deliveries.
    TogglePause,
    /// Replay the selected event or delivery to its webhooks.
    Replay,
    /// Replay to a webhook of one's choice.
    ReplayTo,
    /// Edit the selected webhook's filters.
    EditFilter,
    /// Open test-fire.
    Fire,
    /// Write the edited filter to the config file.
    Write,
    /// Toggle (a webhook in test-fire).
    Toggle,
    /// Edit the payload in `$EDITOR`.
    OpenEditor,
    /// Mouse wheel.
    ScrollUp,
    /// Mouse wheel.
    ScrollDown,
    /// A click at (column, row).
    Click(u16, u16),
    /// The terminal was resized.
    Resize(u16, u16),
    /// Yes, do it (`y` in a confirmation).
    Confirm,
    /// `:` opens command mode.
    Command,
    /// Mark or unmark the selected event (for a bulk replay).
    Mark,
    /// `y`: copy something of the selected event.
    Yank,
    /// `n` in a detail search: the next match.
    FindNext,
    /// `N` in a detail search: the previous match.
    FindPrev,
}

/// Async results for the state.
#[derive(Debug, Clone)]
pub enum Message {
    /// The journal's newest events at start.
    Loaded(Vec<EventItem>),
    /// A new event.
    Recorded(EventItem),
    /// An attempt ended.
    Attempted {
        /// Event id.
        event_id: String,
        /// Delivery id.
        delivery_id: String,
        /// Webhook label.
        label: String,
        /// Status now.
        status: DeliveryStatus,
        /// Attempts so far.
        attempts: u32,
        /// Error.
        error: Option<String>,
        /// Hint.
        hint: Option<String>,
    },
    /// Replays were created for an event.
    Replayed {
        /// The event.
        event_id: String,
        /// New deliveries (id, label).
        deliveries: Vec<(String, String)>,
    },
    /// Counts from the journal.
    Counts(StatusCounts),
    /// The result of Slack's `auth.test`.
    SlackAuth(SlackAuth),
    /// The detail of an event.
    Detail {
        /// The event.
        event_id: String,
        /// Stored body.
        body: String,
        /// Attempts per delivery.
        attempts: Vec<(String, Vec<AttemptRow>)>,
    },
    /// The webhooks now configured (after a reload or a filter change).
    Webhooks(Vec<Webhook>),
    /// A preview arrived (for test-fire or the detail's Message tab).
    Preview {
        /// What was asked.
        webhook: usize,
        /// The request and its look, or why there is none.
        answer: Result<Box<wire::PreviewAnswer>, String>,
    },
    /// The link to the herald the console shows changed.
    Link(Link),
    /// The result of a test-fire.
    Fired(Vec<super::fire::FireResult>),
    /// An edited payload came back from `$EDITOR`.
    Edited(String),
    /// Something to tell the user.
    Toast(Toast),
    /// Whether deliveries are paused.
    Paused(bool),
    /// What the drift scheduler knows, and the wall clock when it was asked.
    Drift {
        /// The schedules and last reports.
        watch: wire::DriftWatch,
        /// Now (Unix ms).
        now: i64,
    },
    /// Where the journal continues past the newest page (`None`: nothing older).
    Cursor(Option<i64>),
    /// An older page of the list (or of the search) arrived.
    Older {
        /// The events, newest first.
        items: Vec<EventItem>,
        /// The cursor after them.
        next: Option<i64>,
    },
    /// The result of a journal search: it replaces the list.
    Searched {
        /// The search (empty: the live list again).
        q: String,
        /// The newest matches.
        items: Vec<EventItem>,
        /// The cursor of older matches.
        next: Option<i64>,
    },
}

/// Side effects for the controller.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Load an event's body and attempts.
    LoadDetail(String),
    /// Replay an event or delivery (to these webhooks, or its own).
    Replay {
        /// Event or delivery id.
        id: String,
        /// Webhook indexes; empty = the usual ones.
        webhooks: Vec<usize>,
    },
    /// Use a config with one filter changed.
    ApplyFilter {
        /// Webhook index.
        webhook: usize,
        /// Which filter.
        field: Subject,
        /// The new pattern.
        pattern: String,
    },
    /// Write a filter to the config file.
    WriteFilter {
        /// Webhook index.
        webhook: usize,
        /// Which filter.
        field: Subject,
        /// The new pattern.
        pattern: String,
    },
    /// Fire a payload at webhooks.
    Fire {
        /// The payload.
        body: String,
        /// Webhook indexes.
        webhooks: Vec<usize>,
    },
    /// Edit text in `$EDITOR` (the console steps aside meanwhile).
    EditPayload(String),
    /// Pause or resume deliveries.
    Pause(bool),
    /// Ask what a webhook would get.
    Preview {
        /// Webhook index.
        webhook: usize,
        /// For which event or payload.
        what: Preview,
        /// The column width to lay it out for.
        width: usize,
    },
    /// Fetch the page of events older than `before` (meeting the search `q`).
    LoadOlder {
        /// The cursor.
        before: i64,
        /// The search in effect.
        q: String,
    },
    /// Search the whole journal (empty: back to the live list).
    Search(String),
    /// Replay these events, each to the webhooks that take it now.
    ReplayMany(Vec<String>),
    /// Replay every failed delivery.
    ReplayFailed,
    /// Re-read the config file of the herald shown.
    Reload,
    /// Run a drift schedule now (by its key).
    RunSchedule(String),
    /// Copy something of an event to the clipboard.
    Copy {
        /// The event.
        event_id: String,
        /// What.
        what: CopyWhat,
        /// Where the herald shown takes events (for the curl command).
        ingest: String,
    },
    /// Leave.
    Quit,
}

/// What `y` copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyWhat {
    /// The event's id.
    Id,
    /// The payload as received (secrets removed).
    Payload,
    /// A `curl` command that posts the payload again.
    Curl,
}

/// How the console reaches the herald it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// The engine runs in this process.
    InProcess,
    /// Attached to a `serve` (its URL, masked).
    Attached(String),
    /// The connection dropped; trying again.
    Reconnecting {
        /// Where.
        at: String,
        /// Why it dropped.
        why: String,
    },
}

/// The whole state of the console.
#[derive(Debug, Clone)]
pub struct App {
    /// The webhooks configured in the herald shown.
    pub webhooks: Vec<Webhook>,
    /// How it is reached.
    pub link: Link,
    /// Actions are refused here (`--readonly`), whatever the token allows.
    pub readonly: bool,
    /// Per-webhook counters, by index.
    pub stats: Vec<WebhookStats>,
    /// Slack token state.
    pub slack: SlackAuth,
    /// Newest first: the newest [`WINDOW`], plus the older pages scrolled into.
    pub events: VecDeque<EventItem>,
    /// The cursor of the next older page in the journal; `None` when all is listed.
    pub older: Option<i64>,
    /// An older page is being fetched.
    pub loading_older: bool,
    /// The journal search the list shows (`/` then enter in the Events pane), if any.
    pub search: Option<String>,
    /// Events marked with `space` (by id), for a bulk replay.
    pub marked: Vec<String>,
    /// How many events the list keeps: [`WINDOW`], more once history is paged in.
    pub cap: usize,
    /// Focused pane.
    pub pane: Pane,
    /// Selected row per pane (in the filtered list).
    pub selected: [usize; 4],
    /// List filters per pane.
    pub filters: [Option<ListFilter>; 4],
    /// Keep the newest event selected as events arrive.
    pub follow: bool,
    /// The open dialog.
    pub overlay: Overlay,
    /// Journal counts.
    pub counts: StatusCounts,
    /// The ingest address.
    pub listen: String,
    /// Deliveries paused.
    pub paused: bool,
    /// A message for the user.
    pub toast: Option<Toast>,
    /// Terminal size.
    pub size: (u16, u16),
    /// Set when the user quits.
    pub quit: bool,
    /// Bundled and past payloads for test-fire (name, JSON).
    pub fixtures: Vec<(String, String)>,
    /// The drift scheduler's schedules and when repositories last reported.
    pub drift: wire::DriftWatch,
    /// The wall clock (Unix ms) as of the last look, for "3 h ago": rendering reads it
    /// here and never asks the clock itself.
    pub now_ms: i64,
}

impl App {
    /// A fresh state for these webhooks.
    pub fn new(webhooks: Vec<Webhook>, listen: String, fixtures: Vec<(String, String)>) -> Self {
        let slack = if webhooks.iter().any(|w| w.slack_token) {
            SlackAuth::Checking
        } else {
            SlackAuth::NotNeeded
        };
        Self {
            stats: webhooks.iter().map(WebhookStats::from_tally).collect(),
            webhooks,
            link: Link::InProcess,
            readonly: false,
            slack,
            events: VecDeque::new(),
            older: None,
            loading_older: false,
            search: None,
            marked: Vec::new(),
            cap: WINDOW,
            pane: Pane::Events,
            selected: [0; 4],
            filters: [None, None, None, None],
            follow: true,
            overlay: Overlay::None,
            counts: StatusCounts::default(),
            listen,
            paused: false,
            toast: None,
            size: (80, 24),
            quit: false,
            fixtures,
            drift: wire::DriftWatch::default(),
            now_ms: 0,
        }
    }

    /// Indexes into `events` of the rows the Events pane shows.
    pub fn event_rows(&self) -> Vec<usize> {
        // A filter that was sent to the journal as a search is not applied again here (its
        // field terms are not in the summary).
        let f = self.filters[Pane::Events.index()]
            .as_ref()
            .filter(|f| self.search.as_deref() != Some(f.input.value().trim()));
        (0..self.events.len())
            .filter(|&i| {
                f.as_ref()
                    .is_none_or(|f| f.passes(&self.events[i].summary()))
            })
            .collect()
    }

    /// Indexes into `events` of the drift reports the Drift pane shows.
    pub fn drift_rows(&self) -> Vec<usize> {
        let f = &self.filters[Pane::Drift.index()];
        (0..self.events.len())
            .filter(|&i| self.events[i].event.kind() == EventKind::Drift)
            .filter(|&i| {
                f.as_ref()
                    .is_none_or(|f| f.passes(&self.events[i].summary()))
            })
            .collect()
    }

    /// Indexes of the webhooks the Webhooks pane shows.
    pub fn webhook_rows(&self) -> Vec<usize> {
        let f = &self.filters[Pane::Webhooks.index()];
        self.webhooks
            .iter()
            .filter(|w| {
                f.as_ref().is_none_or(|f| {
                    f.passes(&format!(
                        "{} {} {} {}",
                        w.label,
                        w.event.as_str(),
                        w.kind,
                        w.target
                    ))
                })
            })
            .map(|w| w.index)
            .collect()
    }

    /// Indexes of the drift schedules the Schedules pane shows.
    pub fn schedule_rows(&self) -> Vec<usize> {
        let f = &self.filters[Pane::Schedules.index()];
        (0..self.drift.schedules.len())
            .filter(|&i| {
                let s = &self.drift.schedules[i];
                f.as_ref()
                    .is_none_or(|f| f.passes(&format!("{} {} {}", s.subject, s.atlantis, s.when)))
            })
            .collect()
    }

    /// The selected drift schedule (Schedules pane).
    pub fn selected_schedule(&self) -> Option<&wire::Schedule> {
        (self.pane == Pane::Schedules)
            .then(|| self.schedule_rows().get(self.selected()).copied())
            .flatten()
            .and_then(|i| self.drift.schedules.get(i))
    }

    /// When `subject` (`repository@ref`) last reported drift, and whether that is longer
    /// ago than `drift-stale-after`.
    pub fn last_report(&self, subject: &str) -> Option<&wire::Seen> {
        self.drift.seen.iter().find(|s| s.subject == subject)
    }

    fn rows(&self, pane: Pane) -> usize {
        match pane {
            Pane::Webhooks => self.webhook_rows().len(),
            Pane::Events => self.event_rows().len(),
            Pane::Drift => self.drift_rows().len(),
            Pane::Schedules => self.schedule_rows().len(),
        }
    }

    /// The ids of the events selected in the Events and Drift panes.
    fn selected_ids(&self) -> [Option<String>; 2] {
        let id = |rows: Vec<usize>, pane: Pane| {
            rows.get(self.selected[pane.index()])
                .map(|&i| self.events[i].id.clone())
        };
        [
            id(self.event_rows(), Pane::Events),
            id(self.drift_rows(), Pane::Drift),
        ]
    }

    /// Selects the rows of these events again after the lists changed.
    fn reselect(&mut self, ids: &[Option<String>; 2]) {
        for (pane, id) in [Pane::Events, Pane::Drift].into_iter().zip(ids) {
            let Some(id) = id else { continue };
            let rows = match pane {
                Pane::Events => self.event_rows(),
                _ => self.drift_rows(),
            };
            if let Some(row) = rows.iter().position(|&i| self.events[i].id == *id) {
                self.selected[pane.index()] = row;
            }
        }
    }

    /// The selected row of the focused pane.
    pub fn selected(&self) -> usize {
        self.selected[self.pane.index()]
    }

    /// The selected event (Events or Drift pane).
    pub fn selected_event(&self) -> Option<&EventItem> {
        let rows = match self.pane {
            Pane::Events => self.event_rows(),
            Pane::Drift => self.drift_rows(),
            Pane::Webhooks | Pane::Schedules => return None,
        };
        rows.get(self.selected()).map(|&i| &self.events[i])
    }

    /// Asks for the request delivery `n` of event `id` gets (its webhook's; the first of
    /// the event's kind when it has none).
    fn message_preview(&self, id: &str, n: usize) -> Option<Effect> {
        let item = self.events.iter().find(|e| e.id == id)?;
        let webhook = item
            .deliveries
            .get(n)
            .and_then(|dl| self.webhooks.iter().find(|w| w.label == dl.label))
            .or_else(|| self.webhooks.iter().find(|w| w.event == item.event.kind()))?;
        Some(Effect::Preview {
            webhook: webhook.index,
            what: Preview::Event(id.to_string()),
            // The detail is 92% of the screen, less its borders and margins.
            width: (usize::from(self.size.0) * 92 / 100).saturating_sub(6),
        })
    }

    /// The kind of the listed event `id`.
    fn event_kind(&self, id: &str) -> Option<EventKind> {
        self.events
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.event.kind())
    }

    /// The selected webhook's index (Webhooks pane).
    pub fn selected_webhook(&self) -> Option<usize> {
        (self.pane == Pane::Webhooks)
            .then(|| self.webhook_rows().get(self.selected()).copied())
            .flatten()
    }

    fn move_by(&mut self, delta: isize) {
        let n = self.rows(self.pane);
        let i = &mut self.selected[self.pane.index()];
        if n == 0 {
            *i = 0;
            return;
        }
        let next = (isize::try_from(*i).unwrap_or(0) + delta)
            .clamp(0, isize::try_from(n - 1).unwrap_or(0));
        *i = usize::try_from(next).unwrap_or(0);
        if self.pane == Pane::Events {
            // Moving away from the newest event stops following.
            self.follow = *i == 0;
        }
    }

    /// Rows a page moves.
    fn page(&self) -> isize {
        isize::try_from(self.size.1.saturating_sub(8))
            .unwrap_or(1)
            .max(1)
    }

    /// Applies a user intent.
    #[allow(clippy::too_many_lines)]
    pub fn update(&mut self, action: Action) -> Option<Effect> {
        if let Overlay::Confirm { .. } = self.overlay {
            return self.confirming(action);
        }
        let effect = self.step(action);
        // Nothing leaves the console without a yes, and the yes names the target.
        match effect.as_ref().and_then(|e| self.outward(e)) {
            Some(text) => {
                let then = std::mem::replace(&mut self.overlay, Overlay::None);
                self.overlay = Overlay::Confirm {
                    text,
                    effect: Box::new(effect?),
                    then: Box::new(then),
                };
                None
            }
            None => effect.or_else(|| self.page_in()),
        }
    }

    /// A confirmation's answer.
    fn confirming(&mut self, action: Action) -> Option<Effect> {
        let yes = matches!(action, Action::Confirm | Action::Enter);
        if !yes && !matches!(action, Action::Back) {
            return None;
        }
        let Overlay::Confirm { effect, then, .. } =
            std::mem::replace(&mut self.overlay, Overlay::None)
        else {
            return None;
        };
        self.overlay = *then;
        if yes && matches!(*effect, Effect::ReplayMany(_)) {
            self.marked.clear();
        }
        if !yes {
            // A test-fire waits for the answer of what was not sent.
            if let Overlay::Fire(f) = &mut self.overlay {
                f.busy = false;
            }
            self.toast = Some(Toast {
                text: "cancelled: nothing was sent".into(),
                error: false,
            });
            return None;
        }
        Some(*effect)
    }

    /// Runs a `:` command: aliases for what the keys do, and a few things they do not.
    fn command(&mut self, line: &str) -> Option<Effect> {
        let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        let search = |app: &mut Self, q: String| {
            app.pane = Pane::Events;
            app.filters[Pane::Events.index()] = Some(ListFilter {
                input: Input::new(q.clone()),
                editing: false,
            });
            Some(Effect::Search(q))
        };
        match (name, rest) {
            ("failed" | "f", "") => search(self, "status:failed".into()),
            ("webhook" | "wh", name) if !name.is_empty() => search(self, format!("webhook:{name}")),
            ("drift", "") => search(self, "kind:drift".into()),
            ("search" | "s", q) if !q.is_empty() => search(self, q.to_string()),
            ("replay", "failed") => Some(Effect::ReplayFailed),
            ("replay", "marked") if !self.marked.is_empty() => {
                Some(Effect::ReplayMany(self.marked.clone()))
            }
            ("reload", "") => Some(Effect::Reload),
            ("pause", "") => Some(Effect::Pause(true)),
            ("resume", "") => Some(Effect::Pause(false)),
            ("unmark", "") => {
                self.marked.clear();
                None
            }
            ("q" | "quit", "") => {
                self.quit = true;
                Some(Effect::Quit)
            }
            ("", "") => None,
            _ => {
                self.toast = Some(Toast {
                    text: format!(
                        "unknown command :{line} (:failed, :webhook NAME, :drift, :search Q, :replay failed, :replay marked, :unmark, :reload, :pause, :resume, :quit)"
                    ),
                    error: true,
                });
                None
            }
        }
    }

    /// For an action that reaches outside the console, the question that names it and its
    /// target; `None` for what only reads or only changes the view.
    fn outward(&self, effect: &Effect) -> Option<String> {
        let label = |i: &usize| {
            self.webhooks
                .get(*i)
                .map_or_else(|| format!("#{i}"), |w| w.label.clone())
        };
        Some(match effect {
            Effect::Replay { id, webhooks } => {
                let (what, own) = match self.events.iter().find(|e| e.id == *id) {
                    Some(e) => (format!("the event \"{}\"", e.summary()), {
                        let mut l: Vec<String> =
                            e.deliveries.iter().map(|d| d.label.clone()).collect();
                        l.dedup();
                        l
                    }),
                    None => {
                        let d = self
                            .events
                            .iter()
                            .flat_map(|e| e.deliveries.iter())
                            .find(|d| d.id == *id);
                        (
                            format!("delivery {id}"),
                            d.map(|d| vec![d.label.clone()]).unwrap_or_default(),
                        )
                    }
                };
                let to = if webhooks.is_empty() {
                    if own.is_empty() {
                        "the webhooks that take it now".to_string()
                    } else {
                        own.join(", ")
                    }
                } else {
                    webhooks.iter().map(label).collect::<Vec<_>>().join(", ")
                };
                format!("Replay {what} to {to}?")
            }
            Effect::RunSchedule(key) => {
                let s = self.drift.schedules.iter().find(|s| s.key == *key)?;
                format!(
                    "Ask Atlantis at {} to detect drift in {} now (it plans every project; the report goes to the drift webhooks)?",
                    s.atlantis, s.subject
                )
            }
            Effect::Fire { webhooks, .. } => format!(
                "Send the payload to {} (real deliveries, journaled)?",
                webhooks.iter().map(label).collect::<Vec<_>>().join(", ")
            ),
            Effect::WriteFilter {
                webhook,
                field,
                pattern,
            } => format!(
                "Write {}: {pattern:?} of webhook {} to the config file (a .bak is kept)?",
                field.key(),
                label(webhook)
            ),
            Effect::ReplayMany(ids) => {
                let first = self
                    .events
                    .iter()
                    .find(|e| ids.first() == Some(&e.id))
                    .map(EventItem::summary)
                    .unwrap_or_default();
                format!(
                    "Replay {} marked events (\"{first}\"{}) to the webhooks that take each now?",
                    ids.len(),
                    if ids.len() > 1 { ", …" } else { "" }
                )
            }
            Effect::ReplayFailed => {
                "Replay every failed delivery in the journal, each to its webhook?".to_string()
            }
            Effect::Pause(true) => {
                "Pause deliveries for every herald on this journal (events are still accepted)?"
                    .to_string()
            }
            _ => return None,
        })
    }

    /// Near the end of the Events list with more in the journal: fetch the next older page,
    /// so scrolling goes on into the whole history.
    fn page_in(&mut self) -> Option<Effect> {
        if self.pane != Pane::Events || self.loading_older || !matches!(self.overlay, Overlay::None)
        {
            return None;
        }
        let before = self.older?;
        let rows = self.event_rows().len();
        if self.selected() + 20 < rows {
            return None;
        }
        self.loading_older = true;
        Some(Effect::LoadOlder {
            before,
            q: self.search.clone().unwrap_or_default(),
        })
    }

    fn step(&mut self, action: Action) -> Option<Effect> {
        if let Action::Resize(w, h) = action {
            self.size = (w, h);
            return None;
        }
        if matches!(action, Action::Quit) {
            self.quit = true;
            return Some(Effect::Quit);
        }
        self.toast = None;
        // Dialogs take the keys first.
        match &mut self.overlay {
            // Answered in `update`, before any other key handling.
            Overlay::None | Overlay::Confirm { .. } => {}
            Overlay::Copy { event_id } => {
                let what = match action {
                    Action::Input(InputRequest::InsertChar('i')) => Some(CopyWhat::Id),
                    Action::Input(InputRequest::InsertChar('p')) => Some(CopyWhat::Payload),
                    Action::Input(InputRequest::InsertChar('c')) => Some(CopyWhat::Curl),
                    Action::Back => {
                        self.overlay = Overlay::None;
                        return None;
                    }
                    _ => None,
                };
                let event_id = event_id.clone();
                let ingest = match &self.link {
                    Link::InProcess => format!("http://{}", self.listen),
                    Link::Attached(at) | Link::Reconnecting { at, .. } => at.clone(),
                };
                return what.map(|what| {
                    self.overlay = Overlay::None;
                    Effect::Copy {
                        event_id,
                        what,
                        ingest,
                    }
                });
            }
            Overlay::Command(input) => {
                match action {
                    Action::Back => self.overlay = Overlay::None,
                    Action::Enter => {
                        let line = input.value().trim().to_string();
                        self.overlay = Overlay::None;
                        return self.command(&line);
                    }
                    Action::Input(req) => {
                        input.handle(req);
                    }
                    _ => {}
                }
                return None;
            }
            Overlay::Help(input) => {
                match action {
                    Action::Back | Action::Enter | Action::Help => self.overlay = Overlay::None,
                    Action::Input(req) => {
                        input.handle(req);
                    }
                    _ => {}
                }
                return None;
            }
            Overlay::Detail(d) => {
                // Typing a search takes every letter; nothing acts meanwhile.
                if let Some(f) = d.find.as_mut().filter(|f| f.editing) {
                    match action {
                        Action::Input(req) => {
                            f.input.handle(req);
                            f.hit = 0;
                        }
                        Action::Enter => f.editing = false,
                        Action::Back => d.find = None,
                        _ => {}
                    }
                    return None;
                }
                match action {
                    Action::Filter => {
                        d.find = Some(Find {
                            editing: true,
                            ..Find::default()
                        });
                    }
                    Action::FindNext | Action::FindPrev => {
                        if let Some(f) = &mut d.find {
                            f.hit = if action == Action::FindNext {
                                f.hit.wrapping_add(1)
                            } else {
                                f.hit.wrapping_sub(1)
                            };
                        }
                    }
                    Action::Back if d.find.is_some() => d.find = None,
                    Action::Back => self.overlay = Overlay::None,
                    Action::Next | Action::Prev => {
                        d.tab = match (d.tab, action == Action::Next) {
                            (DetailTab::Payload, true) | (DetailTab::Attempts, false) => {
                                DetailTab::Message
                            }
                            (DetailTab::Message, true) | (DetailTab::Payload, false) => {
                                DetailTab::Attempts
                            }
                            (DetailTab::Attempts, true) | (DetailTab::Message, false) => {
                                DetailTab::Payload
                            }
                        };
                        d.scroll = 0;
                        if d.tab == DetailTab::Message {
                            d.preview = None;
                            let (id, n) = (d.event_id.clone(), d.delivery);
                            return self.message_preview(&id, n);
                        }
                    }
                    Action::Down | Action::ScrollDown => d.scroll = d.scroll.saturating_add(1),
                    Action::Up | Action::ScrollUp => d.scroll = d.scroll.saturating_sub(1),
                    Action::PageDown => d.scroll = d.scroll.saturating_add(10),
                    Action::PageUp => d.scroll = d.scroll.saturating_sub(10),
                    Action::Top => d.scroll = 0,
                    Action::Input(InputRequest::InsertChar(c @ '1'..='9')) => {
                        d.delivery = (c as usize) - ('1' as usize);
                        if d.tab == DetailTab::Message {
                            d.preview = None;
                            let (id, n) = (d.event_id.clone(), d.delivery);
                            return self.message_preview(&id, n);
                        }
                    }
                    Action::Replay => {
                        let id = self
                            .events
                            .iter()
                            .find(|e| e.id == d.event_id)
                            .and_then(|e| e.deliveries.get(d.delivery))
                            .map_or_else(|| d.event_id.clone(), |x| x.id.clone());
                        return Some(Effect::Replay {
                            id,
                            webhooks: Vec::new(),
                        });
                    }
                    Action::ReplayTo => {
                        let id = d.event_id.clone();
                        if let Some(kind) = self.event_kind(&id) {
                            self.overlay = Overlay::ReplayTo {
                                id,
                                kind,
                                selected: 0,
                                warned: false,
                            };
                        }
                    }
                    _ => {}
                }
                return None;
            }
            Overlay::ReplayTo {
                id,
                kind,
                selected,
                warned,
            } => {
                let n = self.webhooks.len();
                match action {
                    Action::Back => self.overlay = Overlay::None,
                    Action::Down => {
                        *selected = (*selected + 1).min(n.saturating_sub(1));
                        *warned = false;
                    }
                    Action::Up => {
                        *selected = selected.saturating_sub(1);
                        *warned = false;
                    }
                    Action::Enter
                        if !*warned
                            && self
                                .webhooks
                                .get(*selected)
                                .is_some_and(|w| w.event != *kind) =>
                    {
                        *warned = true;
                    }
                    Action::Enter if n > 0 => {
                        let effect = Effect::Replay {
                            id: id.clone(),
                            webhooks: vec![*selected],
                        };
                        self.overlay = Overlay::None;
                        return Some(effect);
                    }
                    _ => {}
                }
                return None;
            }
            Overlay::Editor(editor) => {
                let events: Vec<&EventItem> = self.events.iter().collect();
                let effect = editor.update(action, &self.webhooks, &events);
                if editor.closed {
                    self.overlay = Overlay::None;
                }
                return effect;
            }
            Overlay::Fire(dialog) => {
                let effect = dialog.update(action, &self.webhooks);
                if dialog.closed {
                    self.overlay = Overlay::None;
                    return effect;
                }
                return effect.or_else(|| dialog.preview_request());
            }
        }
        // A list filter being typed takes text.
        let pane = self.pane.index();
        if let Some(f) = &mut self.filters[pane]
            && f.editing
        {
            match action {
                Action::Input(req) => {
                    f.input.handle(req);
                    self.selected[pane] = 0;
                }
                Action::Enter => {
                    f.editing = false;
                    // In the Events pane the filter also searches the whole journal, with
                    // its fields (kind:, status:, webhook:, error:).
                    if self.pane == Pane::Events {
                        return Some(Effect::Search(f.input.value().trim().to_string()));
                    }
                }
                Action::Back => {
                    self.filters[pane] = None;
                    if self.pane == Pane::Events && self.search.is_some() {
                        return Some(Effect::Search(String::new()));
                    }
                }
                _ => {}
            }
            return None;
        }
        match action {
            Action::Up | Action::ScrollUp => self.move_by(-1),
            Action::Down | Action::ScrollDown => self.move_by(1),
            Action::PageUp => self.move_by(-self.page()),
            Action::PageDown => self.move_by(self.page()),
            Action::Top => self.move_by(isize::MIN / 2),
            Action::Bottom => self.move_by(isize::MAX / 2),
            Action::Next | Action::Prev => {
                let (i, n) = (self.pane.index(), Pane::ALL.len());
                let next = if action == Action::Next {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.pane = Pane::ALL[next];
            }
            Action::Pane(p) => self.pane = p,
            Action::Help => self.overlay = Overlay::Help(Input::default()),
            Action::Command => self.overlay = Overlay::Command(Input::default()),
            Action::Yank => {
                if let Some(e) = self.selected_event() {
                    self.overlay = Overlay::Copy {
                        event_id: e.id.clone(),
                    };
                }
            }
            Action::Mark => {
                if let Some(id) = self.selected_event().map(|e| e.id.clone()) {
                    match self.marked.iter().position(|m| *m == id) {
                        Some(i) => {
                            self.marked.remove(i);
                        }
                        None => self.marked.push(id),
                    }
                    self.move_by(1);
                }
            }
            Action::Filter => {
                self.filters[pane] = Some(ListFilter {
                    input: Input::default(),
                    editing: true,
                });
            }
            Action::Back => {
                self.filters[pane] = None;
                if self.pane == Pane::Events && self.search.is_some() {
                    return Some(Effect::Search(String::new()));
                }
            }
            Action::ToggleFollow => {
                self.follow = !self.follow;
                if self.follow {
                    self.selected[Pane::Events.index()] = 0;
                }
            }
            Action::TogglePause => return Some(Effect::Pause(!self.paused)),
            Action::Enter => {
                if let Some(e) = self.selected_event() {
                    let id = e.id.clone();
                    self.overlay = Overlay::Detail(Detail {
                        event_id: id.clone(),
                        tab: DetailTab::Payload,
                        scroll: 0,
                        body: None,
                        attempts: Vec::new(),
                        delivery: 0,
                        preview: None,
                        find: None,
                    });
                    return Some(Effect::LoadDetail(id));
                }
                if let Some(w) = self.selected_webhook() {
                    self.overlay = Overlay::Editor(Box::new(Editor::open(
                        &self.webhooks,
                        w,
                        Subject::Workspace,
                        &self.events,
                    )));
                }
            }
            Action::EditFilter => match self.selected_webhook() {
                Some(w) => {
                    self.overlay = Overlay::Editor(Box::new(Editor::open(
                        &self.webhooks,
                        w,
                        Subject::Workspace,
                        &self.events,
                    )));
                }
                None => {
                    self.toast = Some(Toast {
                        text: "choose a webhook in the Webhooks pane (1) to edit its filters"
                            .into(),
                        error: false,
                    });
                }
            },
            Action::Replay if !self.marked.is_empty() => {
                return Some(Effect::ReplayMany(self.marked.clone()));
            }
            Action::Replay => {
                if let Some(s) = self.selected_schedule() {
                    return Some(Effect::RunSchedule(s.key.clone()));
                }
                if let Some(e) = self.selected_event() {
                    return Some(Effect::Replay {
                        id: e.id.clone(),
                        webhooks: Vec::new(),
                    });
                }
            }
            Action::ReplayTo => {
                if let Some(e) = self.selected_event() {
                    self.overlay = Overlay::ReplayTo {
                        id: e.id.clone(),
                        kind: e.event.kind(),
                        selected: 0,
                        warned: false,
                    };
                }
            }
            Action::Fire => {
                let past = self.selected_event().map(|e| e.event.as_ref().clone());
                let targets = self.selected_webhook();
                let mut dialog = FireDialog::open(&self.webhooks, &self.fixtures, past, targets);
                let preview = dialog.preview_request();
                self.overlay = Overlay::Fire(Box::new(dialog));
                return preview;
            }
            Action::Click(x, y) => return self.click(x, y),
            _ => {}
        }
        None
    }

    /// A click: on a tab switches pane, on a list row selects it.
    fn click(&mut self, x: u16, y: u16) -> Option<Effect> {
        let layout = super::view::layout(self.size);
        if y == layout.tabs.y {
            let mut left = layout.tabs.x;
            for p in Pane::ALL {
                let width = u16::try_from(p.title().len()).unwrap_or(0) + 6;
                if x >= left && x < left + width {
                    self.pane = p;
                }
                left += width;
            }
            return None;
        }
        let list = layout.list;
        // Rows start below the border and the header.
        if x > list.x && x < list.x + list.width && y > list.y + 1 && y < list.y + list.height - 1 {
            let row = usize::from(y - list.y - 2);
            let offset =
                super::view::offset(self.selected(), usize::from(list.height.saturating_sub(3)));
            let target = offset + row;
            if target < self.rows(self.pane) {
                self.selected[self.pane.index()] = target;
                if self.pane == Pane::Events {
                    self.follow = target == 0;
                }
            }
        }
        None
    }

    /// Applies an async result.
    pub fn apply(&mut self, message: Message) -> Option<Effect> {
        match message {
            Message::Loaded(events) => {
                if self.search.is_some() {
                    // A search is on screen; the live list comes back when it is left.
                    return None;
                }
                self.events = events.into_iter().take(WINDOW).collect();
                self.cap = WINDOW;
                self.recount();
            }
            Message::Cursor(next) => {
                if self.search.is_none() {
                    self.older = next;
                }
            }
            Message::Older { items, next } => {
                self.loading_older = false;
                self.older = next;
                for item in items {
                    if !self.events.iter().any(|e| e.id == item.id) {
                        self.events.push_back(item);
                        self.cap += 1;
                    }
                }
            }
            Message::Searched { q, items, next } => {
                self.loading_older = false;
                self.search = (!q.is_empty()).then_some(q);
                self.events = items.into_iter().collect();
                self.cap = WINDOW.max(self.events.len());
                self.older = next;
                self.selected[Pane::Events.index()] = 0;
                self.recount();
            }
            Message::Recorded(item) => {
                // Rows are keyed by id: an event already listed (the start-up load and the
                // live feed can both bring it) is updated, never listed twice.
                if let Some(e) = self.events.iter_mut().find(|e| e.id == item.id) {
                    *e = item;
                    return None;
                }
                if self.search.is_some() {
                    // The list shows a search's results, not the live feed.
                    return None;
                }
                let kept = (!self.follow).then(|| self.selected_ids());
                self.events.push_front(item);
                if self.events.len() > self.cap {
                    self.events.pop_back();
                }
                // Keep the same events selected while new ones arrive above them, whether
                // a filter shows the new ones or not.
                if let Some(kept) = kept {
                    self.reselect(&kept);
                }
            }
            Message::Attempted {
                event_id,
                delivery_id,
                label,
                status,
                attempts,
                error,
                hint,
            } => {
                if let Some(index) = self.webhooks.iter().position(|w| w.label == label) {
                    let s = &mut self.stats[index];
                    match status {
                        DeliveryStatus::Succeeded => s.delivered += 1,
                        DeliveryStatus::Failed => s.failed += 1,
                        _ => {}
                    }
                    s.last = Some((status, error.clone()));
                }
                if let Some(e) = self.events.iter_mut().find(|e| e.id == event_id) {
                    match e.deliveries.iter_mut().find(|d| d.id == delivery_id) {
                        Some(d) => {
                            d.status = status;
                            d.attempts = attempts;
                            d.error = error;
                            d.hint = hint;
                        }
                        None => e.deliveries.push(DeliveryItem {
                            id: delivery_id,
                            label,
                            status,
                            attempts,
                            error,
                            hint,
                        }),
                    }
                }
            }
            Message::Replayed {
                event_id,
                deliveries,
            } => {
                if let Some(e) = self.events.iter_mut().find(|e| e.id == event_id) {
                    for (id, label) in deliveries {
                        // Its attempt may have been reported first.
                        if e.deliveries.iter().any(|d| d.id == id) {
                            continue;
                        }
                        e.deliveries.push(DeliveryItem {
                            id,
                            label,
                            status: DeliveryStatus::Pending,
                            attempts: 0,
                            error: None,
                            hint: None,
                        });
                    }
                }
                self.toast = Some(Toast {
                    text: "replay queued".into(),
                    error: false,
                });
            }
            Message::Counts(c) => self.counts = c,
            Message::SlackAuth(s) => self.slack = s,
            Message::Detail {
                event_id,
                body,
                attempts,
            } => {
                if let Overlay::Detail(d) = &mut self.overlay
                    && d.event_id == event_id
                {
                    d.body = Some(body);
                    d.attempts = attempts;
                }
            }
            Message::Webhooks(w) => {
                self.stats = w.iter().map(WebhookStats::from_tally).collect();
                self.webhooks = w;
            }
            Message::Preview { webhook, answer } => match &mut self.overlay {
                Overlay::Fire(f) => f.set_preview(webhook, answer),
                Overlay::Detail(d) => d.preview = Some(answer),
                _ => {}
            },
            Message::Link(l) => self.link = l,
            Message::Fired(results) => {
                if let Overlay::Fire(f) = &mut self.overlay {
                    f.busy = false;
                    f.results = Some(results);
                }
            }
            Message::Edited(text) => {
                if let Overlay::Fire(f) = &mut self.overlay {
                    f.set_custom(text);
                    return f.preview_request();
                }
            }
            Message::Toast(t) => self.toast = Some(t),
            Message::Paused(p) => self.paused = p,
            Message::Drift { watch, now } => {
                self.drift = watch;
                self.now_ms = now;
                let n = self.schedule_rows().len();
                let i = &mut self.selected[Pane::Schedules.index()];
                *i = (*i).min(n.saturating_sub(1));
            }
        }
        None
    }

    /// Rebuilds the per-webhook counters from the events in memory.
    fn recount(&mut self) {
        self.stats = vec![WebhookStats::default(); self.webhooks.len()];
        for e in self.events.iter().rev() {
            for d in &e.deliveries {
                if let Some(i) = self.webhooks.iter().position(|w| w.label == d.label) {
                    let s = &mut self.stats[i];
                    match d.status {
                        DeliveryStatus::Succeeded => s.delivered += 1,
                        DeliveryStatus::Failed => s.failed += 1,
                        _ => continue,
                    }
                    s.last = Some((d.status, d.error.clone()));
                }
            }
        }
    }
}
