//! The one way a body becomes an event: every path an event comes in by (the ingest API,
//! `fire`, `match`, the console's test-fire, the demo) reads it here, so none can store or
//! show what another would hide.
//!
//! Reading a body means: telling its shape (unless the route says it), parsing it into its
//! type, normalising it (clone-URL credentials redacted, env0 mapped onto a drift report),
//! scrubbing what must never be stored (env0's `oidcToken`, `vcsAccessToken`,
//! `tfPlanJson`), choosing the text that is journaled, and the key a repeat is known by.

use serde_json::Value;

use crate::event::{self, Env0Event, Event, EventError, Shape};

/// Where an event came from; journaled with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Posted as an Atlantis apply result.
    Apply,
    /// Posted as an Atlantis plan result.
    Plan,
    /// Posted as an Atlantis drift report.
    Drift,
    /// Posted as an env0 webhook.
    Env0,
    /// Sent by hand: `herald fire` or the console's test-fire.
    Fire,
    /// The demo's sample feed.
    Demo,
    /// herald's drift scheduler: a detection it asked Atlantis for, or a notice.
    Scheduler,
}

impl Source {
    /// The source of a body posted in `shape`.
    pub fn posted(shape: Shape) -> Self {
        match shape {
            Shape::Apply => Source::Apply,
            Shape::Plan => Source::Plan,
            Shape::Drift => Source::Drift,
            Shape::Env0 => Source::Env0,
            Shape::Notice => Source::Scheduler,
        }
    }

    /// The word journaled and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Apply => "apply",
            Source::Plan => "plan",
            Source::Drift => "drift",
            Source::Env0 => "env0",
            Source::Fire => "fire",
            Source::Demo => "demo",
            Source::Scheduler => "scheduler",
        }
    }

    /// Reads a journaled word.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Source::Apply,
            Source::Plan,
            Source::Drift,
            Source::Env0,
            Source::Fire,
            Source::Demo,
            Source::Scheduler,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether a repeat from this source is recognised and not sent again: posts are (env0
    /// may deliver an event twice); an explicit send is meant to go out each time.
    pub fn dedupes(self) -> bool {
        matches!(
            self,
            Source::Apply | Source::Plan | Source::Drift | Source::Env0
        )
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event read from a body, ready to journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The shape it came in.
    pub shape: Shape,
    /// The event.
    pub event: Event,
    /// The body as it is journaled: what was received, minus what must not be kept.
    pub body: String,
    /// What a repeat of the same event is known by: env0's event id, or a hash of the body
    /// for an env0 event without one (what its signature covers). Only posts use it.
    pub dedupe: Option<String>,
}

/// What a body amounts to. Short-lived (one per request), so the size difference between
/// variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// An event to route.
    Event(Received),
    /// env0's test event: acknowledged, not dispatched.
    Env0Test {
        /// The envelope id.
        id: String,
    },
    /// An env0 event type herald does not notify about.
    Ignored {
        /// Its type.
        kind: String,
    },
}

impl Inbound {
    /// Whether it came as an env0 webhook (whose signature herald may require).
    pub fn is_env0(&self) -> bool {
        match self {
            Inbound::Event(r) => r.shape == Shape::Env0,
            Inbound::Env0Test { .. } | Inbound::Ignored { .. } => true,
        }
    }

    /// The event to send, or why this body sends none.
    ///
    /// # Errors
    /// [`NotSent`] for env0's test event and env0 types herald does not notify about.
    pub fn into_event(self) -> Result<Received, NotSent> {
        match self {
            Inbound::Event(r) => Ok(r),
            Inbound::Env0Test { .. } => Err(NotSent::Env0Test),
            Inbound::Ignored { kind } => Err(NotSent::Ignored(kind)),
        }
    }
}

/// Why a body that is valid sends nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotSent {
    /// env0's test event.
    #[error("env0's test event is acknowledged, never sent on")]
    Env0Test,
    /// An env0 event type herald does not notify about.
    #[error("env0 {0} events are not sent")]
    Ignored(String),
}

/// A notice of herald's own, read as every event is read.
///
/// # Errors
/// None in practice: a notice always serialises to what it reads back from.
pub fn notice(n: &crate::event::DriftNotice) -> Result<Received, EventError> {
    let body = serde_json::to_vec(n).unwrap_or_default();
    read(&body, Some(Shape::Notice))?
        .into_event()
        .map_err(|e| EventError {
            message: e.to_string(),
            detail: String::new(),
        })
}

/// Reads `body`, of the given shape or (with `None`) of whichever shape it has.
///
/// # Errors
/// Bad JSON, an unknown shape, or the shape's own errors, each naming where.
pub fn read(body: &[u8], shape: Option<Shape>) -> Result<Inbound, EventError> {
    // One parse: the tree tells the shape, is typed, and is what is kept and relayed.
    let tree = event::tree(body)?;
    let shape = match shape {
        Some(s) => s,
        None => event::detect(&tree).ok_or_else(|| EventError {
            message: "unknown event shape".into(),
            detail: "expected an Atlantis apply or plan result (Workspace, Pull, ...), an Atlantis drift payload (repository, detection_id, projects, ...) or an env0 webhook (type, data); or post to /events/apply, /events/plan, /events/drift or /events/env0".into(),
        })?,
    };
    match shape {
        Shape::Apply | Shape::Plan => {
            let a = event::apply_from_tree(tree)?;
            // A run says which it is (PR #5978); a route that says otherwise is a mistake
            // of the sender's, not something to guess about.
            let said = a.event.as_deref().unwrap_or(match shape {
                Shape::Plan => "plan",
                _ => "apply",
            });
            let want = if shape == Shape::Plan {
                "plan"
            } else {
                "apply"
            };
            if said != want {
                return Err(EventError {
                    message: format!(
                        "\"Event\" is {said:?} but this body was read as {want} result"
                    ),
                    detail: format!(
                        "Event; post it to /events (which reads \"Event\") or to /events/{said}"
                    ),
                });
            }
            // Stored as kept: the clone-URL credential is redacted in it.
            let stored = serde_json::to_string(&a).unwrap_or_default();
            Ok(Inbound::Event(Received {
                shape,
                event: if shape == Shape::Plan {
                    Event::Plan(a)
                } else {
                    Event::Apply(a)
                },
                body: stored,
                dedupe: None,
            }))
        }
        Shape::Drift => {
            let d = event::drift_from_tree(tree)?;
            Ok(Inbound::Event(Received {
                shape,
                event: Event::Drift(d),
                body: String::from_utf8_lossy(body).into_owned(),
                dedupe: None,
            }))
        }
        Shape::Notice => {
            let n: crate::event::DriftNotice = serde_path_to_error::deserialize(&tree)
                .map_err(|e| EventError::from_json_value(&e))?;
            Ok(Inbound::Event(Received {
                shape,
                event: Event::Notice(crate::event::Relayed::new(n)),
                body: String::from_utf8_lossy(body).into_owned(),
                dedupe: None,
            }))
        }
        Shape::Env0 => {
            if !tree.is_object() {
                return Err(EventError {
                    message: "an env0 webhook body must be a JSON object".into(),
                    detail: ".".into(),
                });
            }
            let event = match event::env0::parse(&tree)? {
                Env0Event::Test { id } => return Ok(Inbound::Env0Test { id }),
                Env0Event::Other { kind, .. } => return Ok(Inbound::Ignored { kind }),
                Env0Event::Run(a) => Event::Apply(crate::event::Relayed::new(a)),
                Env0Event::Drift(d) => Event::Drift(crate::event::Relayed::new(d)),
            };
            let dedupe = match tree.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => format!("env0:{id}"),
                _ => {
                    use sha2::Digest as _;
                    format!("env0:sha256:{}", hex::encode(sha2::Sha256::digest(body)))
                }
            };
            let mut scrubbed = tree;
            event::env0::scrub(&mut scrubbed);
            Ok(Inbound::Event(Received {
                shape,
                event,
                body: scrubbed.to_string(),
                dedupe: Some(dedupe),
            }))
        }
    }
}
