//! A fake Slack Web API: `auth.test`, `chat.postMessage` and `conversations.info`, plus
//! incoming webhooks under `/services/...`.
//!
//! It checks what real Slack checks (the bearer token, a JSON body with `attachments` as
//! an array), records every message, prints it as Slack would show it if asked to, and can
//! be told to answer with the failures users meet: `not_in_channel`, `channel_not_found`,
//! `invalid_auth`, 429 with `Retry-After`, a 500 with an HTML body, Slack's transient
//! errors, or no answer at all.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Value, json};

use crate::notify::slack::render;

/// How the fake answers a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    /// `{"ok": true, "ts": ...}`.
    Ok,
    /// `{"ok": false, "error": CODE}` with HTTP 200, Slack's way of failing.
    Error(String),
    /// HTTP 429 with `Retry-After: N` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited(u64),
    /// HTTP 500 with an HTML body, as Slack's front end sends.
    ServerError,
    /// Never answers (the connection stays open).
    Hang,
}

impl FromStr for Scenario {
    type Err = String;

    /// `ok`, `hang`, `500`, `429` or `429:N` (Retry-After seconds), or any Slack error
    /// code such as `not_in_channel`, `channel_not_found`, `invalid_auth`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Ok(match s {
            "" => return Err("empty scenario".to_string()),
            "ok" => Scenario::Ok,
            "hang" => Scenario::Hang,
            "500" | "html" => Scenario::ServerError,
            "429" | "ratelimited" => Scenario::RateLimited(1),
            _ => match s.strip_prefix("429:") {
                Some(n) => Scenario::RateLimited(
                    n.parse().map_err(|_| format!("bad Retry-After in {s:?}"))?,
                ),
                None if s.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                    Scenario::Error(s.to_string())
                }
                None => {
                    return Err(format!(
                        "unknown scenario {s:?} (ok, hang, 500, 429[:N] or a Slack error code)"
                    ));
                }
            },
        })
    }
}

/// A message the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `chat.postMessage` or `chat.update`; `incoming` for an incoming webhook.
    pub method: &'static str,
    /// `chat.postMessage` channel, or the `/services/...` path for an incoming webhook.
    pub channel: String,
    /// The JSON body.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
    /// What the fake answered.
    pub answered: Scenario,
}

#[derive(Debug)]
struct Inner {
    token: Option<String>,
    default: Scenario,
    queue: VecDeque<Scenario>,
    received: Vec<Received>,
    auth_tests: usize,
    print: Option<bool>,
    channels: Vec<(String, Scenario)>,
    seq: u64,
    /// Messages that exist, as (channel, ts): what `chat.update` can edit.
    messages: Vec<(String, String)>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake Slack on a loopback port; stops when dropped.
pub struct FakeSlack {
    addr: SocketAddr,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How to start the fake.
#[derive(Debug, Clone)]
pub struct Options {
    /// Port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// The only token `auth.test` and posts accept; `None` accepts any non-empty token.
    pub token: Option<String>,
    /// The answer when no queued answer is left.
    pub default: Scenario,
    /// Print each message as Slack shows it: `Some(color)`.
    pub print: Option<bool>,
    /// Fixed answers for some channels (the demo's "bot not invited" channel).
    pub channels: Vec<(String, Scenario)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            port: 0,
            token: None,
            default: Scenario::Ok,
            print: None,
            channels: Vec::new(),
        }
    }
}

impl FakeSlack {
    /// Starts the fake.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(options: Options) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(Mutex::new(Inner {
            token: options.token,
            default: options.default,
            queue: VecDeque::new(),
            received: Vec::new(),
            auth_tests: 0,
            print: options.print,
            channels: options.channels,
            seq: 0,
            messages: Vec::new(),
        }));
        let app = Router::new()
            .route("/api/auth.test", post(auth_test))
            .route("/api/chat.postMessage", post(post_message))
            .route("/api/chat.update", post(update_message))
            .route("/api/conversations.info", any(conversations_info))
            .route("/services/{*path}", post(incoming))
            .route("/_fake/next", post(control_next))
            .route("/_fake/default", post(control_default))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _stopped = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Web API base to give herald as `--slack-api-url`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// An incoming-webhook URL served by the fake.
    pub fn incoming_url(&self) -> String {
        format!("http://{}/services/T000/B000/fakesecretpath", self.addr)
    }

    /// Queues answers for the next posts, in order.
    pub fn push(&self, scenarios: impl IntoIterator<Item = Scenario>) {
        lock(&self.state).queue.extend(scenarios);
    }

    /// Changes the answer given when the queue is empty.
    pub fn set_default(&self, s: Scenario) {
        lock(&self.state).default = s;
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// Deletes a message (in the channel named or numbered `channel`), as a person in the
    /// channel may: `chat.update` of it then answers `message_not_found`, and a reply in its
    /// thread `thread_not_found`.
    pub fn delete(&self, channel: &str, ts: &str) {
        let id = channel_id(channel);
        lock(&self.state)
            .messages
            .retain(|(c, t)| !(*c == id && t == ts));
    }

    /// How many `auth.test` calls arrived.
    pub fn auth_tests(&self) -> usize {
        lock(&self.state).auth_tests
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn slack_error(code: &str) -> Response {
    json_response(StatusCode::OK, &json!({"ok": false, "error": code}))
}

/// `Ok(())` when the request carries the token the fake accepts.
fn check_token(state: &Shared, headers: &HeaderMap) -> Result<(), &'static str> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty());
    let Some(given) = given else {
        return Err("not_authed");
    };
    match &lock(state).token {
        Some(expected) if expected != given => Err("invalid_auth"),
        _ => Ok(()),
    }
}

async fn auth_test(State(state): State<Shared>, headers: HeaderMap) -> Response {
    lock(&state).auth_tests += 1;
    if let Err(code) = check_token(&state, &headers) {
        return slack_error(code);
    }
    json_response(
        StatusCode::OK,
        &json!({"ok": true, "url": "https://example.slack.com/", "team": "Example", "user": "herald-bot",
                "team_id": "T0G9PQBBK", "user_id": "U23456789", "bot_id": "BZYBOTHED"}),
    )
}

async fn conversations_info(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(code) = check_token(&state, &headers) {
        return slack_error(code);
    }
    json_response(
        StatusCode::OK,
        &json!({"ok": true, "channel": {"id": "C0123456789", "name": "infra-alerts", "is_private": false, "is_archived": false, "is_member": true}}),
    )
}

/// Takes the next answer and records the message.
fn next_answer(state: &Shared, channel: String, body: Value) -> (Scenario, u64) {
    next_answer_to(state, "chat.postMessage", channel, body)
}

fn next_answer_to(
    state: &Shared,
    method: &'static str,
    channel: String,
    body: Value,
) -> (Scenario, u64) {
    let mut inner = lock(state);
    let fixed = inner
        .channels
        .iter()
        .find(|(c, _)| *c == channel)
        .map(|(_, s)| s.clone());
    let answer = match fixed {
        Some(s) => s,
        None => inner
            .queue
            .pop_front()
            .unwrap_or_else(|| inner.default.clone()),
    };
    inner.seq += 1;
    let seq = inner.seq;
    if let Some(color) = inner.print {
        let shown = render::render(&body, 72).to_terminal(color);
        println!("── {channel} ── answered {answer:?}\n{shown}");
    }
    inner.received.push(Received {
        method,
        channel,
        body,
        at: Instant::now(),
        answered: answer.clone(),
    });
    (answer, seq)
}

async fn answer(scenario: Scenario, ok: Response) -> Response {
    match scenario {
        Scenario::Ok => ok,
        Scenario::Error(code) => slack_error(&code),
        Scenario::RateLimited(secs) => {
            let mut r = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"ok": false, "error": "ratelimited"}),
            );
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Scenario::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>500 Internal Server Error</h1></body></html>",
        )
            .into_response(),
        Scenario::Hang => std::future::pending().await,
    }
}

async fn post_message(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(code) = check_token(&state, &headers) {
        return slack_error(code);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return slack_error("invalid_post_type");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return slack_error("invalid_json");
    };
    let channel = body
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if channel.is_empty() {
        return slack_error("channel_not_found");
    }
    let has_content = body
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
        || body.get("attachments").is_some_and(Value::is_array);
    if !has_content {
        return slack_error("no_text");
    }
    if body.get("attachments").is_some_and(|a| !a.is_array()) {
        return slack_error("invalid_attachments");
    }
    let (scenario, seq) = next_answer(&state, channel.clone(), body.clone());
    let ts = format!("1503435956.{seq:06}");
    // Slack answers with the channel's id whatever the post named it by; chat.update
    // takes only the id.
    let id = channel_id(&channel);
    let parent_gone = body
        .get("thread_ts")
        .and_then(Value::as_str)
        .is_some_and(|t| {
            !lock(&state)
                .messages
                .iter()
                .any(|(c, m)| *c == id && m == t)
        });
    if parent_gone {
        return slack_error("thread_not_found");
    }
    if scenario == Scenario::Ok {
        lock(&state).messages.push((id.clone(), ts.clone()));
    }
    let ok = (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        slack_json(&posted_answer(&id, &ts, &body)),
    )
        .into_response();
    answer(scenario, ok).await
}

/// The id Slack knows a channel by: an id as given, a name turned into a stable made-up id
/// (real Slack looks the name up; `chat.update` then needs that id, not the name).
pub fn channel_id(channel: &str) -> String {
    let is_id = channel.len() >= 9
        && channel.starts_with(['C', 'G', 'D'])
        && channel
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if is_id {
        return channel.to_string();
    }
    let hash = channel.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("C{:010X}", hash >> 24)
}

/// `chat.update`: edits a message that exists (`message_not_found` otherwise), answering
/// as Slack does: `ok`, the channel, the same `ts`, the new text.
async fn update_message(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(code) = check_token(&state, &headers) {
        return slack_error(code);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return slack_error("invalid_json");
    };
    let channel = body["channel"].as_str().unwrap_or_default().to_string();
    let ts = body["ts"].as_str().unwrap_or_default().to_string();
    let (scenario, _) = next_answer_to(&state, "chat.update", channel.clone(), body.clone());
    if ts.is_empty() || channel.is_empty() {
        return slack_error("cant_update_message");
    }
    if channel_id(&channel) != channel {
        // chat.update does not look names up.
        return slack_error("channel_not_found");
    }
    if !lock(&state)
        .messages
        .iter()
        .any(|(c, t)| *c == channel && *t == ts)
    {
        return slack_error("message_not_found");
    }
    let ok = (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        slack_json(&json!({
            "ok": true,
            "channel": channel,
            "ts": ts,
            "text": body.get("text").cloned().unwrap_or(json!("")),
            "message": posted_answer(&channel, &ts, &body)["message"].clone(),
        })),
    )
        .into_response();
    answer(scenario, ok).await
}

/// What real Slack answers to a successful `chat.postMessage`: the whole posted message
/// echoed back (text, attachments with their ids, the bot's profile), which makes the
/// answer to an ordinary Atlantis post several KiB.
fn posted_answer(channel: &str, ts: &str, body: &Value) -> Value {
    let attachments: Vec<Value> = body
        .get("attachments")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, att)| {
                    let mut att = att.clone();
                    if let Some(o) = att.as_object_mut() {
                        o.insert("id".into(), json!(i + 1));
                        if !o.contains_key("fallback") {
                            let fallback = o
                                .get("text")
                                .cloned()
                                .unwrap_or(json!("[no preview available]"));
                            o.insert("fallback".into(), fallback);
                        }
                    }
                    att
                })
                .collect()
        })
        .unwrap_or_default();
    let icons = json!({
        "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
        "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
        "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png"
    });
    json!({
        "ok": true,
        "channel": channel,
        "ts": ts,
        "message": {
            "user": "U0123ABCDEF",
            "type": "message",
            "ts": ts,
            "bot_id": "B123ABC456",
            "app_id": "A0123ABCDEF",
            "text": body.get("text").cloned().unwrap_or(json!("")),
            "team": "T0123ABCDEF",
            "bot_profile": {
                "id": "B123ABC456",
                "deleted": false,
                "name": "atlantis",
                "updated": 1_651_580_000,
                "app_id": "A0123ABCDEF",
                "icons": icons,
                "team_id": "T0123ABCDEF"
            },
            "attachments": attachments,
            "blocks": [{"type": "rich_text", "block_id": "herald", "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": body.get("text").cloned().unwrap_or(json!(""))}]}]}]
        },
        "response_metadata": {"warnings": []}
    })
}

/// JSON as Slack's servers write it: every non-ASCII character as a `\uXXXX` escape and
/// every `/` as `\/`, so a non-ASCII message comes back several times its size.
fn slack_json(v: &Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        match c {
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out
}

async fn incoming(
    State(state): State<Shared>,
    axum::extract::Path(path): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    let (scenario, _) = next_answer_to(&state, "incoming", format!("/services/{path}"), body);
    match scenario {
        Scenario::Error(code) => {
            let status = match code.as_str() {
                "no_service" | "channel_not_found" | "no_team" => StatusCode::NOT_FOUND,
                "invalid_token" | "action_prohibited" => StatusCode::FORBIDDEN,
                "channel_is_archived" | "team_disabled" => StatusCode::GONE,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, code).into_response()
        }
        other => answer(other, (StatusCode::OK, "ok").into_response()).await,
    }
}

async fn control_next(State(state): State<Shared>, body: String) -> Response {
    match body
        .split(',')
        .map(Scenario::from_str)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(list) => {
            lock(&state).queue.extend(list);
            (StatusCode::OK, "queued\n").into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

async fn control_default(State(state): State<Shared>, body: String) -> Response {
    match Scenario::from_str(&body) {
        Ok(s) => {
            lock(&state).default = s;
            (StatusCode::OK, "set\n").into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}
