//! The operator API (`/api/v1`, on `serve`'s listener beside ingest): what the console and
//! scripts read and do, local or remote. JSON in and out, errors as ingest's.
//!
//! Who may do what: `herald.viewer-token` reads and streams, `herald.operator-token` also
//! acts, the ingest token only posts events. With neither configured the API answers
//! clients on this machine only (loopback), as before there were tokens.

mod act;
pub mod client;
mod drift;
mod filters;
mod preview;
mod read;
mod stream;
pub mod wire;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::LoadOptions;
use crate::dispatch::Engine;
use crate::ingest::Problem;

/// What the API works on.
#[derive(Clone)]
pub struct Api {
    engine: Engine,
    /// How the config file is read (`serve`): for `POST /reload` and filter writes.
    load: Option<LoadOptions>,
}

/// The remote address of a connection, which the server puts on every request.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Api {
    /// The API over `engine`; `load` reads the config file (none: there is no file to
    /// reload or write, and the API says so).
    pub fn new(engine: Engine, load: Option<LoadOptions>) -> Self {
        Self { engine, load }
    }

    /// A client of this API in this process (no socket): what the console uses when the
    /// engine runs beside it.
    pub fn local_client(self) -> client::Client {
        client::Client::local(Router::new().nest("/api/v1", self.router()))
    }

    /// Every route, to be nested under `/api/v1`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/status", get(read::status))
            .route("/webhooks", get(read::webhooks))
            .route("/webhooks/{id}/filters", axum::routing::put(filters::put))
            .route("/events", get(read::events))
            .route("/events/{id}", get(read::event))
            .route("/stream", get(stream::stream))
            .route("/events/{id}/replay", post(act::replay_event))
            .route("/deliveries/{id}/replay", post(act::replay_delivery))
            .route("/replay", post(act::replay_many))
            .route("/fire", post(act::fire))
            .route("/pause", post(act::pause))
            .route("/resume", post(act::resume))
            .route("/reload", post(act::reload))
            .route("/preview", post(preview::preview))
            .route("/slack", get(preview::slack))
            .route("/drift", get(drift::get))
            .route("/drift/run", post(drift::run))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                authorize,
            ))
            .with_state(self)
    }
}

/// Checks the bearer token against the route: reading needs the viewer or the operator
/// token, acting the operator token. Without tokens, loopback clients may do anything and
/// others nothing.
async fn authorize(State(api): State<Api>, req: Request, next: Next) -> Response {
    let settings = api.engine.config().herald.clone();
    // A preview builds a request without sending it: reading, though it is a POST.
    let reading = req.method() == Method::GET || req.uri().path().ends_with("/preview");
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let is = |token: &Option<crate::secret::Secret>| {
        matches!((token, bearer), (Some(t), Some(b))
            if crate::ingest::auth::constant_time_eq(b.as_bytes(), t.expose().as_bytes()))
    };
    let allowed = if settings.operator_token.is_none() && settings.viewer_token.is_none() {
        let local = req
            .extensions()
            .get::<Peer>()
            .is_none_or(|p| p.0.ip().is_loopback());
        if !local {
            return Problem::new(
                StatusCode::FORBIDDEN,
                "the operator API answers only this machine",
                "set herald.operator-token (and herald.viewer-token) in the config to use it from elsewhere",
            )
            .into_response();
        }
        true
    } else {
        is(&settings.operator_token) || (reading && is(&settings.viewer_token))
    };
    if allowed {
        return next.run(req).await;
    }
    if !reading && is(&settings.viewer_token) {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "the viewer token may only read",
            "acting (replay, fire, pause, reload, running a drift schedule) needs herald.operator-token",
        )
        .into_response();
    }
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "missing or wrong operator API token",
        "send Authorization: Bearer <herald.operator-token or herald.viewer-token>",
    )
    .into_response()
}

/// A journal error as an answer.
fn unavailable(e: &crate::store::StoreError) -> Response {
    tracing::error!("operator API: {e}");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the journal cannot answer now",
        e.to_string(),
    )
    .into_response()
}
