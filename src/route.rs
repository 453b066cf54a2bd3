//! Which webhooks an event goes to, and why: Atlantis' rules in one function.
//!
//! An apply goes to an apply webhook when `workspace-regex` matches the workspace **and**
//! `branch-regex` matches the PR's base branch (unanchored, empty matches all). A drift
//! report goes to every drift webhook; Atlantis ignores the regex keys there. The same
//! function returns the evidence (what was tested, what matched) for `herald match` and the
//! console's filter editor, so what users see is what the dispatcher does.

use std::ops::Range;

use serde::Serialize;

use crate::config::{EventKind, Filter, Webhook};
use crate::event::Event;

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
    /// An apply, tested against both filters.
    Filters {
        /// The two tests, workspace first.
        tests: Vec<Test>,
    },
    /// A drift report: drift webhooks take every one.
    Drift,
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
        match event {
            Event::Drift(_) => (true, Reason::Drift),
            Event::Apply(a) => {
                let ws = test(
                    "workspace-regex",
                    "workspace",
                    &webhook.workspace_regex,
                    &a.workspace,
                );
                let br = test(
                    "branch-regex",
                    "base branch",
                    &webhook.branch_regex,
                    &a.pull.base_branch,
                );
                (
                    ws.matched && br.matched,
                    Reason::Filters {
                        tests: vec![ws, br],
                    },
                )
            }
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
    webhook.event == event.kind()
        && match event {
            Event::Drift(_) => true,
            Event::Apply(a) => {
                webhook.workspace_regex.is_match(&a.workspace)
                    && webhook.branch_regex.is_match(&a.pull.base_branch)
            }
        }
}

fn test(key: &'static str, subject: &'static str, filter: &Filter, value: &str) -> Test {
    let span = filter.find(value);
    Test {
        key,
        subject,
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
