//! A fake Microsoft Teams Workflows webhook on loopback, answering as the real one does:
//! 202 with an empty body for a card it takes (rendering happens later, out of sight), 413
//! above Teams' 28 KB, 400 for a body that is not a `message` with an Adaptive Card, and,
//! on demand, legacy throttling (a 200 whose body says "HTTP error 429") or an outage.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Teams' documented limit for a whole message.
pub const LIMIT: usize = 28 * 1024;

/// How the fake answers the next post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamsAnswer {
    /// As Workflows does for a card it takes: 202, empty body.
    Accepted,
    /// A legacy endpoint's throttling: 200 with "HTTP error 429" in the body.
    Throttled,
    /// 429 with `Retry-After: 1`.
    TooMany,
    /// 502 from the gateway.
    Unavailable,
}

/// A post the fake got.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The path and query (the signature included).
    pub uri: String,
    /// The Content-Type header.
    pub content_type: String,
    /// The raw body.
    pub bytes: Bytes,
    /// The body as JSON.
    pub body: Value,
    /// When it came.
    pub at: std::time::Instant,
    /// What was answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    queue: Vec<TeamsAnswer>,
    posts: Vec<Posted>,
}

/// A running fake; stops when dropped.
pub struct FakeTeams {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTeams {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeTeams {
    /// Starts on a free loopback port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let app = Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, bytes: Bytes| {
                let st = st.clone();
                async move { answer(&st, &uri, &headers, bytes) }
            },
        );
        let task = tokio::spawn(async move {
            let _stopped = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// A workflow URL on the fake, shaped like a real one (its `sig` the credential).
    pub fn url(&self) -> String {
        format!(
            "http://{}/workflows/3f2a9c1d/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=PLANTED-sig-teams-0000",
            self.addr
        )
    }

    /// Queues answers for the next posts, in order (then [`TeamsAnswer::Accepted`]).
    pub fn push(&self, answers: impl IntoIterator<Item = TeamsAnswer>) {
        self.lock().queue.extend(answers);
    }

    /// Every post so far.
    pub fn posts(&self) -> Vec<Posted> {
        self.lock().posts.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn answer(st: &Mutex<State>, uri: &axum::http::Uri, headers: &HeaderMap, bytes: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let is_card = body["type"] == "message"
        && body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive";
    let mut s = st.lock().unwrap_or_else(PoisonError::into_inner);
    let next = if s.queue.is_empty() {
        TeamsAnswer::Accepted
    } else {
        s.queue.remove(0)
    };
    let (status, response) = if bytes.len() > LIMIT {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"error":{"code":"MessageSizeExceeded","message":"The message size exceeds the limit of 28 KB."}}"#.into_response(),
        )
    } else if !is_card {
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":{"code":"InvalidRequestContent","message":"The input body for trigger 'manual' of type 'Request' must be an Adaptive Card message."}}"#.into_response(),
        )
    } else {
        match next {
            TeamsAnswer::Accepted => (StatusCode::ACCEPTED, ().into_response()),
            TeamsAnswer::Throttled => (
                StatusCode::OK,
                "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deadbeef.0..".into_response(),
            ),
            TeamsAnswer::TooMany => (
                StatusCode::TOO_MANY_REQUESTS,
                ([("retry-after", "1")], r#"{"error":{"code":"TooManyRequests"}}"#).into_response(),
            ),
            TeamsAnswer::Unavailable => (StatusCode::BAD_GATEWAY, "Bad Gateway".into_response()),
        }
    };
    s.posts.push(Posted {
        uri: uri.to_string(),
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        bytes,
        body,
        at: std::time::Instant::now(),
        status: status.as_u16(),
    });
    let mut r = response;
    *r.status_mut() = status;
    r
}
