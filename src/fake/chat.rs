//! Loopback fakes of Discord, Google Chat, PagerDuty Events v2 and Mattermost's incoming
//! webhooks, each answering as the real service does: Discord 204 (its limits enforced with
//! its 400 "Invalid Form Body", 429 with `retry_after`), Google Chat 200 with the created
//! message and its thread, PagerDuty `202 {"status":"success"}` (and its 400 "invalid
//! event" for a malformed event), Mattermost 200 `ok` (Slack's answer).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Which service the fake plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// A Discord channel webhook.
    Discord,
    /// A Google Chat space webhook.
    GoogleChat,
    /// PagerDuty's Events API v2.
    PagerDuty,
    /// A Mattermost incoming webhook (Slack-compatible).
    Mattermost,
}

/// A post the fake got.
#[derive(Debug, Clone)]
pub struct Post {
    /// Path and query.
    pub uri: String,
    /// The JSON body.
    pub body: Value,
    /// The status answered.
    pub status: u16,
    /// When it came.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct State {
    posts: Vec<Post>,
    /// Answers 429 to this many posts first.
    throttle: usize,
}

/// A running fake; stops when dropped.
pub struct FakeChat {
    addr: SocketAddr,
    service: Service,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeChat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeChat {
    /// Starts `service` on a free loopback port.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(service: Service) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let app = Router::new().fallback(move |uri: axum::http::Uri, bytes: Bytes| {
            let st = st.clone();
            async move { answer(service, &st, &uri, &bytes) }
        });
        let task = tokio::spawn(async move {
            let _stopped = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            service,
            state,
            task,
        })
    }

    /// The webhook URL as the service hands it out.
    pub fn url(&self) -> String {
        let a = self.addr;
        match self.service {
            Service::Discord => {
                format!("http://{a}/api/webhooks/1180000000000000000/PLANTED-discord-token")
            }
            Service::GoogleChat => format!(
                "http://{a}/v1/spaces/AAAA1234/messages?key=PLANTED-gchat-key&token=PLANTED-gchat-token"
            ),
            Service::PagerDuty => format!("http://{a}/v2/enqueue"),
            Service::Mattermost => format!("http://{a}/hooks/PLANTEDmattermost1234567890"),
        }
    }

    /// Answers 429 to the next `n` posts.
    pub fn throttle(&self, n: usize) {
        self.lock().throttle = n;
    }

    /// Every post so far.
    pub fn posts(&self) -> Vec<Post> {
        self.lock().posts.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn answer(service: Service, st: &Mutex<State>, uri: &axum::http::Uri, bytes: &Bytes) -> Response {
    let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let mut s = st.lock().unwrap_or_else(PoisonError::into_inner);
    let throttled = s.throttle > 0;
    if throttled {
        s.throttle -= 1;
    }
    let (status, response) = if throttled {
        throttle(service)
    } else {
        match service {
            Service::Discord => discord(&body),
            Service::GoogleChat => google_chat(&body),
            Service::PagerDuty => pagerduty(&body, bytes.len()),
            Service::Mattermost => mattermost(&body),
        }
    };
    s.posts.push(Post {
        uri: uri.to_string(),
        body,
        status: status.as_u16(),
        at: std::time::Instant::now(),
    });
    let mut r = response;
    *r.status_mut() = status;
    r
}

fn throttle(service: Service) -> (StatusCode, Response) {
    let body = match service {
        Service::Discord => {
            json!({"message": "You are being rate limited.", "retry_after": 0.2, "global": false})
        }
        Service::GoogleChat => {
            json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}})
        }
        Service::PagerDuty | Service::Mattermost => json!({"message": "rate limited"}),
    };
    (
        StatusCode::TOO_MANY_REQUESTS,
        ([("retry-after", "1")], axum::Json(body)).into_response(),
    )
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn discord(body: &Value) -> (StatusCode, Response) {
    let e = &body["embeds"][0];
    let mut errors = Vec::new();
    if chars(&body["content"]) > 2_000 {
        errors.push("content: Must be 2000 or fewer in length.");
    }
    if chars(&e["title"]) > 256 {
        errors.push("embeds.0.title: Must be 256 or fewer in length.");
    }
    if chars(&e["description"]) > 4_096 {
        errors.push("embeds.0.description: Must be 4096 or fewer in length.");
    }
    if body["content"].is_null() && body["embeds"].is_null() {
        errors.push("Cannot send an empty message");
    }
    if errors.is_empty() {
        (StatusCode::NO_CONTENT, ().into_response())
    } else {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "Invalid Form Body", "code": 50035, "errors": errors}))
                .into_response(),
        )
    }
}

fn google_chat(body: &Value) -> (StatusCode, Response) {
    if chars(&body["text"]) > 4_096 || body["text"].is_null() {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"code": 400, "message": "Invalid JSON payload received. Message text is too long or empty.", "status": "INVALID_ARGUMENT"}})).into_response(),
        );
    }
    let key = body["thread"]["threadKey"].as_str().unwrap_or_default();
    let thread = format!("spaces/AAAA1234/threads/{:x}", key.len() * 7919 + 17);
    (
        StatusCode::OK,
        axum::Json(json!({
            "name": "spaces/AAAA1234/messages/m1.m1",
            "sender": {"name": "users/114022495153014004089", "displayName": "herald", "type": "BOT"},
            "text": body["text"],
            "thread": {"name": thread, "threadKey": key},
            "space": {"name": "spaces/AAAA1234", "type": "ROOM"},
            "createTime": "2026-12-06T10:00:00.000000Z",
        }))
        .into_response(),
    )
}

fn pagerduty(body: &Value, len: usize) -> (StatusCode, Response) {
    let mut errors: Vec<String> = Vec::new();
    if body["routing_key"].as_str().is_none_or(|k| k.len() != 32) {
        errors.push("'routing_key' must be a 32 character string.".into());
    }
    let action = body["event_action"].as_str().unwrap_or_default();
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        errors.push("'event_action' must be one of: trigger, acknowledge, resolve.".into());
    }
    if action == "trigger" {
        let p = &body["payload"];
        if chars(&p["summary"]) == 0 || chars(&p["summary"]) > 1_024 {
            errors
                .push("'payload.summary' is required and must be 1024 characters or fewer.".into());
        }
        if chars(&p["source"]) == 0 {
            errors.push("'payload.source' is required.".into());
        }
        if !["critical", "error", "warning", "info"]
            .contains(&p["severity"].as_str().unwrap_or_default())
        {
            errors
                .push("'payload.severity' must be one of: critical, error, warning, info.".into());
        }
    } else if body["dedup_key"].as_str().is_none_or(str::is_empty) {
        errors.push("'dedup_key' is required for resolve and acknowledge.".into());
    }
    if len > 512_000 {
        errors.push("Event is larger than 512KB.".into());
    }
    if errors.is_empty() {
        (
            StatusCode::ACCEPTED,
            axum::Json(json!({"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]})).into_response(),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors})).into_response(),
        )
    }
}

fn mattermost(body: &Value) -> (StatusCode, Response) {
    let has = body["text"].as_str().is_some_and(|t| !t.is_empty())
        || body["attachments"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
    if has {
        (
            StatusCode::OK,
            ([("content-type", "text/plain")], "ok").into_response(),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"id": "web.incoming_webhook.text.app_error", "message": "No text specified.", "status_code": 400})).into_response(),
        )
    }
}
