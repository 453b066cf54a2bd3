//! Test-fire: choose a payload (a bundled fixture, a past event, or an edited one), choose
//! webhooks, see the exact message, fire it through the engine and read the answer.

use super::app::{Action, Effect};
use crate::api::client::Preview as Ask;
use crate::api::wire::{PreviewAnswer, Webhook};
use crate::config::EventKind;
use crate::event::Event;
use crate::intake;
use crate::notify::{Preview, slack::render};

/// Which list has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The payloads.
    Source,
    /// The webhooks.
    Targets,
}

/// The answer to one delivery of a test-fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireResult {
    /// Webhook label.
    pub label: String,
    /// Delivered.
    pub ok: bool,
    /// HTTP status.
    pub status: Option<u16>,
    /// Error (a Slack code or a sentence).
    pub error: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
}

/// The dialog's state.
#[derive(Debug, Clone)]
pub struct FireDialog {
    /// Payloads: (name, JSON).
    pub sources: Vec<(String, String)>,
    /// Selected payload.
    pub source: usize,
    /// Selected webhooks, by index.
    pub targets: Vec<bool>,
    /// Cursor in the webhook list.
    pub cursor: usize,
    /// Which list has the keys.
    pub focus: Focus,
    /// The payload read as an event, or why it cannot be.
    pub parsed: Result<Event, String>,
    /// The exact message for the first selected webhook.
    pub preview: Vec<String>,
    /// The preview shown or asked for: (webhook, payload).
    asked: Option<(usize, String)>,
    /// A preview to ask for (taken by [`FireDialog::preview_request`]).
    want: Option<(usize, String)>,
    /// The answers, after firing.
    pub results: Option<Vec<FireResult>>,
    /// Firing.
    pub busy: bool,
    /// Set when closed.
    pub closed: bool,
}

impl FireDialog {
    /// Opens with the fixtures, the selected event (if any) first, and `target` chosen.
    pub fn open(
        webhooks: &[Webhook],
        fixtures: &[(String, String)],
        past: Option<Event>,
        target: Option<usize>,
    ) -> Self {
        let mut sources = Vec::new();
        if let Some(e) = past {
            sources.push((
                "selected event".to_string(),
                serde_json::to_string_pretty(&e.to_json()).unwrap_or_default(),
            ));
        }
        sources.extend(fixtures.iter().cloned());
        let mut d = Self {
            sources,
            source: 0,
            targets: vec![false; webhooks.len()],
            cursor: target.unwrap_or(0),
            focus: Focus::Source,
            parsed: Err(String::new()),
            preview: Vec::new(),
            asked: None,
            want: None,
            results: None,
            busy: false,
            closed: false,
        };
        d.reparse();
        match target {
            Some(t) if t < d.targets.len() => d.targets[t] = true,
            _ => d.select_matching(webhooks),
        }
        d.refresh_preview();
        d
    }

    fn reparse(&mut self) {
        self.parsed = match self.sources.get(self.source) {
            None => Err("no payload".into()),
            Some((_, body)) => intake::read(body.as_bytes(), None)
                .map_err(|e| e.to_string())
                .and_then(|i| i.into_event().map_err(|e| e.to_string()))
                .map(|r| r.event),
        };
        self.results = None;
    }

    /// Selects the webhooks for the payload's event.
    fn select_matching(&mut self, webhooks: &[Webhook]) {
        let kind = self.parsed.as_ref().map(Event::kind).ok();
        for (i, w) in webhooks.iter().enumerate() {
            self.targets[i] = Some(w.event) == kind;
        }
    }

    /// Replaces the payload with an edited one.
    pub fn set_custom(&mut self, text: String) {
        match self.sources.iter().position(|(n, _)| n == "edited") {
            Some(i) => {
                self.sources[i].1 = text;
                self.source = i;
            }
            None => {
                self.sources.insert(0, ("edited".into(), text));
                self.source = 0;
            }
        }
        self.reparse();
        self.refresh_preview();
    }

    /// Works out which preview is wanted: the exact request for the first selected
    /// webhook, asked of the herald shown (it holds the config and its secrets).
    fn refresh_preview(&mut self) {
        if let Err(e) = &self.parsed {
            self.preview = vec![format!("cannot send this payload: {e}")];
            self.asked = None;
            return;
        }
        let Some(index) = self.targets.iter().position(|t| *t) else {
            self.preview = vec!["choose a webhook (space) to see the exact message".into()];
            self.asked = None;
            return;
        };
        let wanted = (index, self.sources[self.source].1.clone());
        if self.asked.as_ref() != Some(&wanted) {
            self.preview = vec!["loading the exact message…".into()];
            self.asked = Some(wanted.clone());
            self.want = Some(wanted);
        }
    }

    /// The preview to ask for, once.
    pub fn preview_request(&mut self) -> Option<Effect> {
        let (webhook, body) = self.want.take()?;
        let payload = serde_json::from_str(&body).ok()?;
        Some(Effect::Preview {
            webhook,
            what: Ask::Payload(payload),
            width: 60,
        })
    }

    /// Shows a preview that arrived, if it is still the one wanted.
    pub fn set_preview(&mut self, webhook: usize, answer: Result<Box<PreviewAnswer>, String>) {
        if self.asked.as_ref().map(|(w, _)| *w) != Some(webhook) {
            return;
        }
        self.preview = match answer {
            Err(e) => vec![e],
            Ok(a) => preview_lines(&a),
        };
    }

    /// Handles an action.
    pub fn update(&mut self, action: Action, webhooks: &[Webhook]) -> Option<Effect> {
        if self.busy {
            if action == Action::Back {
                self.closed = true;
            }
            return None;
        }
        match action {
            Action::Back => self.closed = true,
            Action::Next | Action::Prev => {
                self.focus = if self.focus == Focus::Source {
                    Focus::Targets
                } else {
                    Focus::Source
                };
            }
            Action::Up | Action::Down => {
                let down = action == Action::Down;
                match self.focus {
                    Focus::Source => {
                        let n = self.sources.len();
                        self.source = if down {
                            (self.source + 1).min(n.saturating_sub(1))
                        } else {
                            self.source.saturating_sub(1)
                        };
                        self.reparse();
                        self.select_matching(webhooks);
                    }
                    Focus::Targets => {
                        let n = self.targets.len();
                        self.cursor = if down {
                            (self.cursor + 1).min(n.saturating_sub(1))
                        } else {
                            self.cursor.saturating_sub(1)
                        };
                    }
                }
                self.refresh_preview();
            }
            Action::Toggle => {
                if let Some(t) = self.targets.get_mut(self.cursor) {
                    *t = !*t;
                    self.focus = Focus::Targets;
                    self.results = None;
                    self.refresh_preview();
                }
            }
            Action::OpenEditor => {
                if let Some((_, body)) = self.sources.get(self.source) {
                    return Some(Effect::EditPayload(body.clone()));
                }
            }
            Action::Enter => {
                let webhooks: Vec<usize> = self
                    .targets
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| **t)
                    .map(|(i, _)| i)
                    .collect();
                if self.parsed.is_ok() && !webhooks.is_empty() {
                    self.busy = true;
                    self.results = None;
                    return Some(Effect::Fire {
                        body: self.sources[self.source].1.clone(),
                        webhooks,
                    });
                }
            }
            _ => {}
        }
        None
    }

    /// The kind of the chosen payload's event.
    pub fn kind(&self) -> Option<EventKind> {
        self.parsed.as_ref().ok().map(Event::kind)
    }
}

/// A preview as lines: where it goes, then the body as JSON or the message as its chat
/// lays it out.
pub fn preview_lines(a: &PreviewAnswer) -> Vec<String> {
    let mut out = vec![format!(
        "{} → {} {}",
        a.webhook, a.request.method, a.request.url
    )];
    match &a.preview {
        Preview::Json(body) => {
            let body = serde_json::to_string_pretty(body).unwrap_or_default();
            out.extend(body.lines().map(str::to_string));
        }
        Preview::Message(r) => {
            out.push(String::new());
            out.push(r.summary.clone());
            let bar = match r.bar {
                render::Bar::Good | render::Bar::Danger => "▌",
                _ => "│",
            };
            out.extend(r.lines.iter().map(|l| format!("{bar} {l}")));
        }
    }
    out
}
