//! Which webhooks an event goes to, and why: Atlantis' rules in one function.
//!
//! An apply (or plan) goes to a webhook of its event when `workspace-regex` matches the
//! workspace **and** `branch-regex` the PR's base branch **and** (Atlantis PR #5557)
//! `project-regex` the project name **and** `directory-regex` the directory (unanchored,
//! empty matches all). A drift report goes to every drift webhook; Atlantis ignores the
//! regex keys there. A report whose projects partly errored goes as `drift-errors:` says. The same
//! function returns the evidence (what was tested, what matched) for `herald match` and the
//! console's filter editor, so what users see is what the dispatcher does.

use std::ops::Range;

use serde::Serialize;

use crate::config::{EventKind, Filter, Webhook};
use crate::event::{Event, Subject};

/// One regex tested against one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Test {
    /// `workspace-regex` or `branch-regex`.
    pub key: &'static str,
    /// What the value is: `workspace` or `base branch`.
    pub subject: &'static str,
    /// The pattern (empty when unset).
    pub pattern: String,
    /// The value tested.
    pub value: String,
    /// Whether it matched.
    pub matched: bool,
    /// The matched byte range in `value` (empty for an unset pattern).
    pub span: Option<Range<usize>>,
}

/// Why a webhook does or does not get an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The webhook is for the other event.
    OtherEvent {
        /// The webhook's event.
        webhook: EventKind,
    },
    /// An event with filterable values (an apply), tested against its filters.
    Filters {
        /// The tests, in [`Subject::ALL`]'s order.
        tests: Vec<Test>,
    },
    /// An event kind with nothing to filter on (a drift report): its webhooks take every
    /// one, as in Atlantis.
    Drift,
    /// A drift report that the webhook's `drift-errors:` setting leaves out.
    DriftErrors {
        /// The webhook's setting.
        setting: &'static str,
        /// Whether the report has errored projects.
        errored: bool,
    },
}

/// The routing decision for one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The webhook's index.
    pub index: usize,
    /// Whether the event is sent to it.
    pub matched: bool,
    /// The evidence.
    #[serde(flatten)]
    pub reason: Reason,
}

/// Decides for one webhook.
pub fn decide(webhook: &Webhook, event: &Event) -> Decision {
    let (matched, reason) = if webhook.event != event.kind() {
        (
            false,
            Reason::OtherEvent {
                webhook: webhook.event,
            },
        )
    } else {
        let tests: Vec<Test> = Subject::ALL
            .into_iter()
            .filter_map(|s| event.subject(s).map(|v| test(s, webhook.filter(s), v)))
            .collect();
        let errored = event.has_errors();
        if !webhook.drift_errors.takes(errored) {
            (
                false,
                Reason::DriftErrors {
                    setting: webhook.drift_errors.as_str(),
                    errored,
                },
            )
        } else if tests.is_empty() {
            (true, Reason::Drift)
        } else {
            (tests.iter().all(|t| t.matched), Reason::Filters { tests })
        }
    };
    Decision {
        index: webhook.index,
        matched,
        reason,
    }
}

/// Decides for every webhook, in config order.
pub fn decide_all(webhooks: &[Webhook], event: &Event) -> Vec<Decision> {
    webhooks.iter().map(|w| decide(w, event)).collect()
}

/// Only the yes/no of [`decide`], without building the evidence: the hot path of the
/// dispatcher, which routes every event through every webhook.
pub fn matches(webhook: &Webhook, event: &Event) -> bool {
    passes(webhook.event, |s| webhook.filter(s), event)
        && webhook.drift_errors.takes(event.has_errors())
}

/// Whether a webhook for `kind` events with these filters takes `event`: the rule of
/// [`matches`], for filters that are not (yet) in a config (the console's filter editor
/// tests what is being typed).
pub fn passes<'a>(kind: EventKind, filter: impl Fn(Subject) -> &'a Filter, event: &Event) -> bool {
    kind == event.kind()
        && event.subjects().is_none_or(|values| {
            Subject::ALL
                .into_iter()
                .zip(values)
                .all(|(s, v)| filter(s).is_match(v))
        })
}

fn test(s: Subject, filter: &Filter, value: &str) -> Test {
    let span = filter.find(value);
    Test {
        key: s.key(),
        subject: s.noun(),
        pattern: filter.pattern().to_string(),
        value: value.to_string(),
        matched: span.is_some(),
        span,
    }
}

impl Test {
    /// The value with the matched part in brackets (`pre[prod]`), for plain-text output.
    pub fn marked(&self) -> String {
        match &self.span {
            Some(r) if !r.is_empty() => format!(
                "{}[{}]{}",
                &self.value[..r.start],
                &self.value[r.clone()],
                &self.value[r.end..]
            ),
            _ => self.value.clone(),
        }
    }
}
