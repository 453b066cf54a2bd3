//! `GET /stream`: server-sent events of what the journal records (events, attempts) and of
//! the engine state, whichever process did it. Each item's `id:` is a feed position, so a
//! client that reconnects with `Last-Event-ID` gets exactly what it missed; one that is
//! too far behind (the rows were pruned) or ahead (another journal) gets `event: reset`
//! and reloads.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde_json::json;

use super::{Api, unavailable};
use crate::store::FeedPosition;

/// How often the journal is read for changes when nothing in this process announced one.
const POLL: Duration = Duration::from_millis(250);
/// The most changes read at once.
const BATCH: usize = 500;

struct Follow {
    api: Api,
    pos: FeedPosition,
    paused: Option<bool>,
    ready: VecDeque<Event>,
    wake: tokio::sync::broadcast::Receiver<crate::dispatch::CoreEvent>,
}

pub(super) async fn stream(State(api): State<Api>, headers: HeaderMap) -> Response {
    let journal = api.engine.reader();
    let (head, oldest) = match journal.head().await {
        Ok(h) => h,
        Err(e) => return unavailable(&e),
    };
    let mut ready = VecDeque::new();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(FeedPosition::parse);
    let pos = match resume {
        None => head,
        Some(p)
            if p.event >= oldest.saturating_sub(1)
                && p.event <= head.event
                && p.attempt <= head.attempt =>
        {
            p
        }
        Some(_) => {
            ready.push_back(
                Event::default()
                    .event("reset")
                    .id(head.to_id())
                    .json_data(
                        json!({"reason": "what was missed is no longer in the journal: reload"}),
                    )
                    .unwrap_or_default(),
            );
            head
        }
    };
    let follow = Follow {
        wake: api.engine.subscribe(),
        api,
        pos,
        paused: None,
        ready,
    };
    Sse::new(items(follow))
        .keep_alive(
            KeepAlive::new()
                .interval(Duration::from_secs(15))
                .text("heartbeat"),
        )
        .into_response()
}

fn items(follow: Follow) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(e) = f.ready.pop_front() {
                return Some((Ok(e), f));
            }
            f.fill().await;
            if f.ready.is_empty() {
                // Something this process did, or the poll for what others did.
                tokio::select! {
                    _ = f.wake.recv() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
    })
}

impl Follow {
    /// Reads what was recorded since the last position, and the pause state.
    async fn fill(&mut self) {
        let journal = self.api.engine.reader();
        if let Ok(p) = journal.paused().await
            && self.paused != Some(p)
        {
            // The first reading tells the client the state it starts from.
            self.paused = Some(p);
            self.ready.push_back(
                Event::default()
                    .event("state")
                    .id(self.pos.to_id())
                    .json_data(json!({"paused": p}))
                    .unwrap_or_default(),
            );
        }
        let Ok(changes) = journal.changes(self.pos, BATCH).await else {
            return;
        };
        // New events go out whole (the event and its deliveries), so a client lists them
        // without asking again; attempts as they are.
        let Ok(full) = super::read::full_events(journal, changes.events).await else {
            return;
        };
        for e in full {
            self.pos.event = e.summary.mark;
            self.ready.push_back(
                Event::default()
                    .event("recorded")
                    .id(self.pos.to_id())
                    .json_data(&e)
                    .unwrap_or_default(),
            );
        }
        for a in changes.attempts {
            self.pos.attempt = a.mark;
            self.ready.push_back(
                Event::default()
                    .event("attempted")
                    .id(self.pos.to_id())
                    .json_data(&a)
                    .unwrap_or_default(),
            );
        }
    }
}
