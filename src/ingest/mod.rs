//! The ingest HTTP API: where Atlantis, env0 and scripts post events.
//!
//! A request is answered 202 only once its event and deliveries are committed to the
//! journal, and right after that (never after delivery): env0 waits at most 10 s and never
//! retries, Atlantis blocks its apply on a slow receiver. Everything a client can get wrong
//! gets a 4xx with a JSON body saying what and where.

pub mod auth;
pub mod server;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::dispatch::{Engine, Selection};
use crate::event::Shape;
use crate::intake::{self, Inbound, Source};
use crate::store::Recorded;

/// The largest body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

pub use server::Limits;

/// The router with every route of the ingest API, and the operator API under `/api/v1`.
pub fn router(engine: Engine) -> Router {
    router_with(engine, Limits::default(), None)
}

/// The router with explicit limits and how the config file is read (for the operator
/// API's reload and filter writes).
pub fn router_with(
    engine: Engine,
    limits: Limits,
    load: Option<crate::config::LoadOptions>,
) -> Router {
    let api = crate::api::Api::new(engine.clone(), load).router();
    Router::new()
        .route("/events", post(any_event))
        .route("/events/apply", post(apply))
        .route("/events/plan", post(plan))
        .route("/events/drift", post(drift))
        .route("/events/env0", post(env0))
        // Who may post is decided from the headers, before a byte of the body is read.
        .route_layer(axum::middleware::from_fn_with_state(engine.clone(), gate))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(engine)
        .nest("/api/v1", api)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(move |req, next| {
            server::guard(limits, req, next)
        }))
}

/// Serves the API on `listener` until `shutdown`; requests in progress are finished.
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Engine,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_with(listener, engine, shutdown, Limits::default(), None).await
}

/// [`serve`] with explicit limits.
///
/// # Errors
/// When the server fails.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    engine: Engine,
    shutdown: CancellationToken,
    limits: Limits,
    load: Option<crate::config::LoadOptions>,
) -> std::io::Result<()> {
    server::run(
        listener,
        router_with(engine, limits, load),
        limits,
        shutdown,
    )
    .await
}

/// A 4xx or 5xx answer: `{"error": WHAT, "detail": WHERE-OR-HOW}`, for ingest and the
/// operator API alike.
pub(crate) struct Problem {
    status: StatusCode,
    error: String,
    detail: String,
}

impl Problem {
    pub(crate) fn new(
        status: StatusCode,
        error: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error: error.into(),
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"error": self.error, "detail": self.detail})),
        )
            .into_response()
    }
}

async fn any_event(
    State(e): State<Engine>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(&e, None, &headers, body).await
}

async fn apply(
    State(e): State<Engine>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(&e, Some(Shape::Apply), &headers, body).await
}

async fn plan(
    State(e): State<Engine>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(&e, Some(Shape::Plan), &headers, body).await
}

async fn drift(
    State(e): State<Engine>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(&e, Some(Shape::Drift), &headers, body).await
}

async fn env0(
    State(e): State<Engine>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(&e, Some(Shape::Env0), &headers, body).await
}

async fn handle(
    engine: &Engine,
    route: Option<Shape>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match accept(engine, route, headers, body).await {
        Ok(r) => r,
        Err(p) => {
            if p.status.is_client_error() {
                engine
                    .metrics()
                    .rejected
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            p.into_response()
        }
    }
}

/// Refuses a post that cannot be authorised, from its headers alone: a client without the
/// token (or, for env0, without a signature header) costs no body read and no memory.
async fn gate(
    State(engine): State<Engine>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = match req.uri().path() {
        "/events/apply" => Some(Shape::Apply),
        "/events/plan" => Some(Shape::Plan),
        "/events/drift" => Some(Shape::Drift),
        "/events/env0" => Some(Shape::Env0),
        _ => None,
    };
    match authorize(&engine.config().herald, route, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(p) => {
            engine
                .metrics()
                .rejected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            p.into_response()
        }
    }
}

/// What the headers alone can tell: the bearer token matches, or the request carries an env0
/// signature to be checked against the body (on a route where an env0 event may come).
fn authorize(
    settings: &crate::config::HeraldSettings,
    route: Option<Shape>,
    headers: &HeaderMap,
) -> Result<(), Problem> {
    let may_be_env0 = matches!(route, None | Some(Shape::Env0));
    let signed = may_be_env0
        && settings.env0_secret.is_some()
        && header(headers, &["x-env0-signature", "x-env-zero-signature"]).is_some();
    if !bearer_ok(settings, headers) && !signed {
        return Err(no_token());
    }
    if route == Some(Shape::Env0) && settings.env0_secret.is_some() && !signed {
        return Err(env0_unsigned(false));
    }
    Ok(())
}

/// Whether the bearer token is the ingest token (or none is required).
fn bearer_ok(settings: &crate::config::HeraldSettings, headers: &HeaderMap) -> bool {
    settings.ingest_token.as_ref().is_none_or(|token| {
        header(headers, &["authorization"])
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|b| auth::constant_time_eq(b.as_bytes(), token.expose().as_bytes()))
    })
}

fn no_token() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "missing or wrong ingest token",
        "send Authorization: Bearer <herald.ingest-token>",
    )
}

/// An env0 body without a valid signature (`present`: one was sent, and it is wrong).
fn env0_unsigned(present: bool) -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        if present {
            "env0 signature does not match"
        } else {
            "missing env0 signature"
        },
        "x-env0-signature must be the HMAC-SHA256 hex of the raw body with herald.env0-secret",
    )
}

fn header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
}

async fn accept(
    engine: &Engine,
    route: Option<Shape>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let config = engine.config();
    let settings = &config.herald;
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large",
                format!("the limit is {BODY_LIMIT} bytes"),
            )
        } else {
            Problem::new(r.status(), "cannot read the body", r.body_text())
        }
    })?;
    let signed_env0 = matches!(route, None | Some(Shape::Env0));
    let signature = header(headers, &["x-env0-signature", "x-env-zero-signature"]);
    let signature_ok = match (&settings.env0_secret, signature) {
        (Some(secret), Some(sig)) if signed_env0 => {
            auth::env0_signature_ok(secret.expose(), &body, sig)
        }
        _ => false,
    };
    // The gate let a signature header stand in for the token; now it must verify.
    if !signature_ok && !bearer_ok(settings, headers) {
        return Err(no_token());
    }
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if !(essence == "application/json" || essence.ends_with("+json"))
            || essence == "application/cloudevents-batch+json"
        {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON",
                format!("Content-Type is {essence:?}; send application/json"),
            ));
        }
    }
    if body.is_empty() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "empty body",
            "send the event as a JSON object",
        ));
    }
    if let Err(e) = std::str::from_utf8(&body) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "the body is not valid UTF-8",
            format!("byte {}", e.valid_up_to()),
        ));
    }
    let inbound = intake::read(&body, route)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.message, e.detail))?;
    if inbound.is_env0() && settings.env0_secret.is_some() && !signature_ok {
        return Err(env0_unsigned(signature.is_some()));
    }
    let received = match inbound {
        Inbound::Event(r) => r,
        Inbound::Env0Test { id } => {
            tracing::info!(id, "env0 test event acknowledged");
            return Ok((
                StatusCode::OK,
                axum::Json(json!({"status": "env0 test event acknowledged"})),
            )
                .into_response());
        }
        Inbound::Ignored { kind } => {
            tracing::info!(kind, "env0 event ignored");
            return Ok((StatusCode::ACCEPTED, axum::Json(json!({"ignored": kind}))).into_response());
        }
    };
    let source = Source::posted(received.shape);
    match engine.accept(source, received, &Selection::Route).await {
        Ok((
            Recorded::New {
                event_id,
                deliveries,
            },
            _,
        )) => Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"event_id": event_id, "deliveries": deliveries})),
        )
            .into_response()),
        Ok((Recorded::Duplicate { event_id }, _)) => Ok((
            StatusCode::OK,
            axum::Json(json!({"event_id": event_id, "deliveries": 0, "duplicate": true})),
        )
            .into_response()),
        Err(e) => {
            tracing::error!("cannot journal an event: {e}");
            Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the journal cannot take the event now",
                "nothing was stored; send it again",
            ))
        }
    }
}

async fn healthz(State(engine): State<Engine>) -> Response {
    match engine.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("journal not writable: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(engine): State<Engine>) -> Response {
    match engine.reader().counts().await {
        Ok(counts) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            engine.metrics().render(&counts, engine.in_flight()),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("journal unreadable: {e}\n"),
        )
            .into_response(),
    }
}
