//! The operator API's client: what the console (and any other face) reads and acts through.
//!
//! One client, two transports: in-process it hands each request to the API's router
//! directly (no socket), remotely it sends it over HTTP(S) with a bearer token. Either way
//! the same routes answer with the same [`wire`] types, so a console attached to a remote
//! `serve` is the same console as the one inside `herald` or `herald demo`.

use std::sync::Arc;

use axum::body::Body;
use eventsource_stream::Eventsource as _;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::wire;

/// The most of an answer read (a full page of a thousand events is well below it).
const ANSWER_LIMIT: usize = 64 * 1024 * 1024;

/// Why a call did not get its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered (refused, reset, timed out, TLS failed).
    #[error("cannot reach {at}: {why}")]
    Unreachable {
        /// Where (masked).
        at: String,
        /// What happened.
        why: String,
    },
    /// The API answered with an error.
    #[error("{error}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    Api {
        /// HTTP status.
        status: u16,
        /// What went wrong.
        error: String,
        /// What to do about it.
        detail: String,
    },
    /// The answer was not what this herald expects (another program, another version).
    #[error("unexpected answer from {at}: {why} (is it a herald serve of the same version?)")]
    Unexpected {
        /// Where (masked).
        at: String,
        /// What did not fit.
        why: String,
    },
}

impl ClientError {
    /// A wrong or missing token (401), or a token that may not do this (403).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ClientError::Api {
                status: 401 | 403,
                ..
            }
        )
    }
}

enum Transport {
    Local(axum::Router),
    Remote {
        http: reqwest::Client,
        base: String,
        token: Option<crate::secret::Secret>,
    },
}

/// A handle on one herald's operator API; cheap to clone.
#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("at", &self.at())
            .finish_non_exhaustive()
    }
}

/// One item of the stream with its position (`id:`), to resume from.
pub type Positioned = (String, wire::StreamItem);

impl Client {
    /// The API of an engine in this process: `router` is [`super::Api::router`].
    pub fn local(router: axum::Router) -> Self {
        Self {
            transport: Arc::new(Transport::Local(router)),
        }
    }

    /// The API of the herald at `url` (`http://` or `https://`, without `/api/v1`).
    ///
    /// # Errors
    /// When `url` is not an http(s) URL or TLS cannot be set up.
    pub fn remote(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let bad = |why: String| ClientError::Unreachable {
            at: crate::redact::url_masked(&base),
            why,
        };
        crate::notify::kind::check_url(&base).map_err(bad)?;
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .user_agent(format!("herald/{}", crate::VERSION))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            transport: Arc::new(Transport::Remote {
                http,
                base,
                token: token
                    .filter(|t| !t.is_empty())
                    .map(crate::secret::Secret::new),
            }),
        })
    }

    /// Where it points, as it may be shown: `in-process` or the URL, masked.
    pub fn at(&self) -> String {
        match &*self.transport {
            Transport::Local(_) => "in-process".into(),
            Transport::Remote { base, .. } => crate::redact::url_masked(base),
        }
    }

    /// Whether it talks to another process.
    pub fn is_remote(&self) -> bool {
        matches!(&*self.transport, Transport::Remote { .. })
    }

    /// Sends one request and returns the status and the body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        last_id: Option<&str>,
    ) -> Result<(u16, ResponseBody), ClientError> {
        let path = format!("/api/v1{path}");
        match &*self.transport {
            Transport::Local(router) => {
                let mut req = axum::http::Request::builder()
                    .method(method)
                    .uri(&path)
                    .header("content-type", "application/json");
                if let Some(id) = last_id {
                    req = req.header("last-event-id", id);
                }
                let req = req
                    .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
                    .map_err(|e| self.unexpected(e.to_string()))?;
                let resp = router
                    .clone()
                    .oneshot(req)
                    .await
                    .map_err(|e| self.unexpected(e.to_string()))?;
                let status = resp.status().as_u16();
                Ok((status, ResponseBody::Local(resp.into_body())))
            }
            Transport::Remote { http, base, token } => {
                let mut req = http.request(method, format!("{base}{path}"));
                if let Some(t) = token {
                    req = req.bearer_auth(t.expose());
                }
                if let Some(id) = last_id {
                    req = req.header("last-event-id", id);
                }
                if let Some(b) = body {
                    req = req
                        .header("content-type", "application/json")
                        .body(b.to_string());
                }
                let resp = req.send().await.map_err(|e| ClientError::Unreachable {
                    at: self.at(),
                    why: crate::notify::root_cause(&e),
                })?;
                Ok((resp.status().as_u16(), ResponseBody::Remote(resp)))
            }
        }
    }

    fn unexpected(&self, why: String) -> ClientError {
        ClientError::Unexpected { at: self.at(), why }
    }

    /// A call whose answer is JSON of type `T`; an error answer becomes [`ClientError::Api`].
    async fn json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ClientError> {
        let (status, answer) = self.call(method, path, body, None).await?;
        let bytes = answer.bytes().await.map_err(|why| match self.is_remote() {
            true => ClientError::Unreachable { at: self.at(), why },
            false => self.unexpected(why),
        })?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| self.unexpected(e.to_string()))
    }

    /// `GET /status`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn status(&self) -> Result<wire::Status, ClientError> {
        self.json(reqwest::Method::GET, "/status", None).await
    }

    /// `GET /webhooks`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn webhooks(&self) -> Result<Vec<wire::Webhook>, ClientError> {
        let w: wire::Webhooks = self.json(reqwest::Method::GET, "/webhooks", None).await?;
        Ok(w.webhooks)
    }

    /// `GET /events?full=true`: a page of events with their deliveries, newest first, older
    /// than `before`, meeting the search `q`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn events(
        &self,
        before: Option<i64>,
        limit: usize,
        q: &str,
    ) -> Result<wire::FullPage, ClientError> {
        let mut path = format!("/events?full=true&limit={limit}");
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        if !q.trim().is_empty() {
            path.push_str(&format!("&q={}", urlencoding(q)));
        }
        self.json(reqwest::Method::GET, &path, None).await
    }

    /// `GET /events/{id}`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn event(&self, id: &str) -> Result<wire::EventDetail, ClientError> {
        self.json(
            reqwest::Method::GET,
            &format!("/events/{}", urlencoding(id)),
            None,
        )
        .await
    }

    /// Replays an event or a delivery, to `webhooks` (names or indexes) or as routing
    /// decides (an event) or to its own webhook (a delivery).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn replay(
        &self,
        id: &str,
        webhooks: &[String],
    ) -> Result<wire::Created, ClientError> {
        // The engine takes an event's or a delivery's id on either replay route.
        let body = json!({ "webhooks": webhooks });
        self.json(
            reqwest::Method::POST,
            &format!("/events/{}/replay", urlencoding(id)),
            Some(&body),
        )
        .await
    }

    /// `POST /replay`: every failed delivery again (to `webhooks` instead, when given).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn replay_failed(&self, webhooks: &[String]) -> Result<wire::Created, ClientError> {
        let body = json!({"failed": true, "webhooks": webhooks});
        self.json(reqwest::Method::POST, "/replay", Some(&body))
            .await
    }

    /// `POST /fire`: sends `payload` to `webhooks` now; answers once attempted.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn fire(
        &self,
        payload: Value,
        webhooks: &[String],
    ) -> Result<wire::Fired, ClientError> {
        let body = json!({ "payload": payload, "webhooks": webhooks });
        self.json(reqwest::Method::POST, "/fire", Some(&body)).await
    }

    /// `POST /reload`: the serve re-reads its config file; answers how many webhooks it has.
    ///
    /// # Errors
    /// See [`ClientError`] (a file with errors is a 422 listing them).
    pub async fn reload(&self) -> Result<Value, ClientError> {
        self.json(reqwest::Method::POST, "/reload", None).await
    }

    /// `GET /drift`: the drift schedules, their runs, and when repositories last reported.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn drift(&self) -> Result<wire::DriftWatch, ClientError> {
        self.json(reqwest::Method::GET, "/drift", None).await
    }

    /// `POST /drift/run`: runs a drift schedule (by key or `repository@ref`) now.
    ///
    /// # Errors
    /// See [`ClientError`]; 409 when a run of it is going.
    pub async fn run_schedule(&self, schedule: &str) -> Result<Value, ClientError> {
        self.json(
            reqwest::Method::POST,
            "/drift/run",
            Some(&json!({"schedule": schedule})),
        )
        .await
    }

    /// `POST /pause` or `POST /resume`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn pause(&self, paused: bool) -> Result<(), ClientError> {
        let path = if paused { "/pause" } else { "/resume" };
        let _: Value = self.json(reqwest::Method::POST, path, None).await?;
        Ok(())
    }

    /// `PUT /webhooks/{index}/filters`: applies one filter (`workspace-regex` or
    /// `branch-regex`) to the running engine, and with `write` also writes it to the
    /// config file (with the other one, when that was applied but not saved).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn set_filter(
        &self,
        webhook: usize,
        key: &str,
        pattern: &str,
        write: bool,
    ) -> Result<Value, ClientError> {
        let mut body = json!({"write": write});
        body[key] = Value::String(pattern.to_string());
        self.json(
            reqwest::Method::PUT,
            &format!("/webhooks/{webhook}/filters"),
            Some(&body),
        )
        .await
    }

    /// `POST /preview`: what `webhook` would get for a journaled event or a payload.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn preview(
        &self,
        webhook: &str,
        what: Preview,
        width: usize,
    ) -> Result<wire::PreviewAnswer, ClientError> {
        let mut body = json!({"webhook": webhook, "width": width});
        match what {
            Preview::Event(id) => body["event_id"] = Value::String(id),
            Preview::Payload(p) => body["payload"] = p,
        }
        self.json(reqwest::Method::POST, "/preview", Some(&body))
            .await
    }

    /// `GET /slack`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn slack(&self) -> Result<wire::SlackAuth, ClientError> {
        self.json(reqwest::Method::GET, "/slack", None).await
    }

    /// `GET /stream` from `last_id` (or from now): each item with its position. The stream
    /// ends when the connection does; call again with the last position to resume.
    ///
    /// # Errors
    /// See [`ClientError`]: the stream could not be opened.
    pub async fn stream(
        &self,
        last_id: Option<&str>,
    ) -> Result<impl Stream<Item = Result<Positioned, ClientError>> + Send + use<>, ClientError>
    {
        let (status, answer) = self
            .call(reqwest::Method::GET, "/stream", None, last_id)
            .await?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &answer.bytes().await.unwrap_or_default()));
        }
        let at = self.at();
        let bytes = answer.into_stream();
        Ok(bytes.eventsource().map(move |item| {
            let e = item.map_err(|e| ClientError::Unreachable {
                at: at.clone(),
                why: e.to_string(),
            })?;
            let bad = |why: String| ClientError::Unexpected {
                at: at.clone(),
                why,
            };
            let item = match e.event.as_str() {
                "recorded" => wire::StreamItem::Recorded(Box::new(
                    serde_json::from_str(&e.data).map_err(|x| bad(x.to_string()))?,
                )),
                "attempted" => wire::StreamItem::Attempted(
                    serde_json::from_str(&e.data).map_err(|x| bad(x.to_string()))?,
                ),
                "state" => {
                    let v: Value = serde_json::from_str(&e.data).map_err(|x| bad(x.to_string()))?;
                    wire::StreamItem::State {
                        paused: v.get("paused").and_then(Value::as_bool).unwrap_or(false),
                    }
                }
                "reset" => wire::StreamItem::Reset,
                other => return Err(bad(format!("unknown stream item {other:?}"))),
            };
            Ok((e.id, item))
        }))
    }
}

/// An API's error answer (`{"error", "detail"}`) as a [`ClientError::Api`].
fn api_error(status: u16, body: &[u8]) -> ClientError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let error = match text("error") {
        e if e.is_empty() => format!("the API answered {status}"),
        e => e,
    };
    ClientError::Api {
        status,
        error,
        detail: text("detail"),
    }
}

/// What to preview: a journaled event, or a payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Preview {
    /// By its id.
    Event(String),
    /// A payload in any shape herald takes.
    Payload(Value),
}

/// An answer's body, from either transport.
enum ResponseBody {
    Local(Body),
    Remote(reqwest::Response),
}

impl ResponseBody {
    async fn bytes(self) -> Result<axum::body::Bytes, String> {
        match self {
            ResponseBody::Local(b) => axum::body::to_bytes(b, ANSWER_LIMIT)
                .await
                .map_err(|e| e.to_string()),
            ResponseBody::Remote(r) => r.bytes().await.map_err(|e| e.to_string()),
        }
    }

    fn into_stream(
        self,
    ) -> std::pin::Pin<Box<dyn Stream<Item = Result<axum::body::Bytes, String>> + Send>> {
        match self {
            ResponseBody::Local(b) => Box::pin(b.into_data_stream().map_err(|e| e.to_string())),
            ResponseBody::Remote(r) => Box::pin(r.bytes_stream().map_err(|e| e.to_string())),
        }
    }
}

/// Percent-encodes a query or path value.
fn urlencoding(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
