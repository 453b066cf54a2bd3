//! The filter editor: a webhook's four regex filters (`workspace-regex`, `branch-regex`,
//! and PR #5557's `project-regex` and `directory-regex`), re-evaluated on every keystroke
//! against the last events, through the same routing function the dispatcher uses.

use std::ops::Range;

use tui_input::{Input, InputRequest};

use super::app::{Action, Effect, EventItem};
use crate::api::wire::Webhook;
use crate::config::Filter;
use crate::config::filter::RegexProblem;
use crate::event::Subject;
use crate::route;

/// How many of the newest apply events the editor tests against.
pub const LAST_K: usize = 50;

/// One event tested against the edited filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The event's summary.
    pub summary: String,
    /// The value the edited filter is tested against.
    pub value: String,
    /// Every tested value, in [`Subject::ALL`]'s order (all four filters must match).
    pub values: [String; 4],
    /// The matched span in `value`.
    pub span: Option<Range<usize>>,
    /// The webhook would get the event with the edited filters.
    pub now: bool,
    /// It gets it with the filters in use.
    pub before: bool,
}

/// The evaluation of the patterns being typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Eval {
    /// A syntax error in the edited pattern.
    pub error: Option<RegexProblem>,
    /// The events tested, newest first.
    pub rows: Vec<Row>,
    /// Events the webhook would now get that it did not.
    pub gained: usize,
    /// Events it would no longer get.
    pub lost: usize,
}

/// The editor's state.
#[derive(Debug, Clone)]
pub struct Editor {
    /// The webhook's index.
    pub webhook: usize,
    /// The focused field.
    pub field: Subject,
    /// What is typed, per field.
    pub inputs: [Input; 4],
    /// The patterns in use when the editor opened (or was last applied).
    pub original: [String; 4],
    /// The evaluation.
    pub eval: Eval,
    /// Set when the editor is closed.
    pub closed: bool,
}

impl Editor {
    /// Opens the editor on a webhook.
    pub fn open<'a>(
        webhooks: &[Webhook],
        webhook: usize,
        field: Subject,
        events: impl IntoIterator<Item = &'a EventItem>,
    ) -> Self {
        let original = webhooks.get(webhook).map_or_else(Default::default, |w| {
            Subject::ALL.map(|s| w.pattern(s).to_string())
        });
        let mut e = Self {
            webhook,
            field,
            inputs: original.clone().map(Input::new),
            original,
            eval: Eval::default(),
            closed: false,
        };
        let events: Vec<&EventItem> = events.into_iter().collect();
        e.evaluate(webhooks, &events);
        e
    }

    /// The pattern being typed in the focused field.
    pub fn pattern(&self) -> &str {
        self.inputs[self.field.index()].value()
    }

    /// Handles an action.
    pub fn update(
        &mut self,
        action: Action,
        webhooks: &[Webhook],
        events: &[&EventItem],
    ) -> Option<Effect> {
        match action {
            Action::Back => self.closed = true,
            Action::Next | Action::Down => {
                let n = Subject::ALL.len();
                self.field = Subject::ALL[(self.field.index() + 1) % n];
                self.evaluate(webhooks, events);
            }
            Action::Prev | Action::Up => {
                let n = Subject::ALL.len();
                self.field = Subject::ALL[(self.field.index() + n - 1) % n];
                self.evaluate(webhooks, events);
            }
            Action::Input(req) => {
                self.inputs[self.field.index()].handle(req);
                self.evaluate(webhooks, events);
            }
            Action::Enter if self.eval.error.is_none() => {
                let pattern = self.pattern().to_string();
                self.original[self.field.index()].clone_from(&pattern);
                return Some(Effect::ApplyFilter {
                    webhook: self.webhook,
                    field: self.field,
                    pattern,
                });
            }
            Action::Write if self.eval.error.is_none() => {
                return Some(Effect::WriteFilter {
                    webhook: self.webhook,
                    field: self.field,
                    pattern: self.pattern().to_string(),
                });
            }
            _ => {}
        }
        None
    }

    /// Re-tests the last apply events.
    pub fn evaluate(&mut self, webhooks: &[Webhook], events: &[&EventItem]) {
        let Some(current) = webhooks.get(self.webhook) else {
            self.closed = true;
            return;
        };
        // The filters as applied now and as typed, compiled here in Atlantis' dialect (the
        // same code the engine compiles them with).
        let applied = Subject::ALL
            .map(|s| Filter::compile(current.pattern(s)).unwrap_or_else(|_| Filter::any()));
        let mut edited = applied.clone();
        let mut error = None;
        for field in Subject::ALL {
            match Filter::compile(self.inputs[field.index()].value()) {
                Ok(f) => edited[field.index()] = f,
                Err(p) if field == self.field => error = Some(p),
                Err(_) => {}
            }
        }
        let mut eval = Eval {
            error,
            ..Eval::default()
        };
        // The newest events of the webhook's kind that have the filtered value.
        let tested = events.iter().filter_map(|item| {
            let value = item.event.subject(self.field)?;
            (item.event.kind() == current.event).then(|| (item, value.to_string()))
        });
        for (item, value) in tested.take(LAST_K) {
            let before = route::passes(current.event, |s| &applied[s.index()], &item.event);
            let (now, span) = if eval.error.is_some() {
                (before, None)
            } else {
                (
                    route::passes(current.event, |s| &edited[s.index()], &item.event),
                    edited[self.field.index()].find(&value),
                )
            };
            eval.gained += usize::from(now && !before);
            eval.lost += usize::from(before && !now);
            let values =
                Subject::ALL.map(|s| item.event.subject(s).unwrap_or_default().to_string());
            eval.rows.push(Row {
                summary: item.summary(),
                value,
                values,
                span,
                now,
                before,
            });
        }
        self.eval = eval;
    }
}

/// Turns a typed key into an input request, for tests.
pub fn typed(c: char) -> Action {
    Action::Input(InputRequest::InsertChar(c))
}
