//! The journal on PostgreSQL: several `serve` replicas on one database.
//!
//! Each call is one transaction on a pooled connection (deadpool). Claims lock the rows
//! they take (`FOR UPDATE SKIP LOCKED`) and lease them; the in-flight cap holds for the
//! whole fleet because each replica keeps to its share of it (`heartbeat` counts the live
//! replicas); pruning runs on one replica at a time; the env0 dedupe is a unique
//! constraint.

mod read;
mod schema;
mod write;

use std::collections::HashMap;

use futures::FutureExt as _;

use super::backend::{Backend, Claim, Fut};
use super::{
    AttemptRecord, AttemptRow, Changes, Claimed, DeliveryFilter, DeliveryRow, DeliveryTally,
    EventRow, EventSummary, FeedPosition, KnownWebhook, NewDelivery, NewEvent, NextState, Recorded,
    Reschedule, StatusCounts, StoreError, Term,
};

pub use schema::VERSION;

/// Connections per replica: the engine's writers and claims, the API's reads.
const POOL_SIZE: usize = 16;

/// The channel replicas tell each other on (`NOTIFY`) that shared state changed.
const CHANNEL: &str = "herald";

/// The journal in a PostgreSQL database.
pub struct Postgres {
    pool: deadpool_postgres::Pool,
    /// The URL, credentials masked.
    shown: String,
    /// What the listening connection heard.
    heard: tokio::sync::broadcast::Sender<()>,
    /// Ends the listening connection with the journal.
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Keeps a connection of its own listening on [`CHANNEL`] and passes on what it hears;
/// reconnects after a second when the database goes away. A notification missed while
/// disconnected is made up for at once (one is passed on at each new start) and by the
/// engine's poll meanwhile.
fn listen(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    heard: tokio::sync::broadcast::Sender<()>,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::sync::oneshot::Receiver<()> {
    use futures::StreamExt as _;
    let (ready, listening) = tokio::sync::oneshot::channel();
    let mut ready = Some(ready);
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            if let Ok((client, mut conn)) = config.connect(tls.clone()).await {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
                    while let Some(Ok(m)) = messages.next().await {
                        if matches!(m, tokio_postgres::AsyncMessage::Notification(_))
                            && tx.send(()).is_err()
                        {
                            break;
                        }
                    }
                });
                if client
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .await
                    .is_ok()
                {
                    let _ = heard.send(());
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    loop {
                        tokio::select! {
                            () = stop.cancelled() => break,
                            m = rx.recv() => match m {
                                Some(()) => { let _ = heard.send(()); }
                                None => break,
                            },
                        }
                    }
                }
                driver.abort();
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
        }
    });
    listening
}

impl Postgres {
    /// Connects to `url` (`postgres://…`; TLS through rustls when the URL's `sslmode` asks
    /// for it, or tries it by default) and brings the schema up to date.
    ///
    /// # Errors
    /// A URL that does not parse, a database that cannot be reached or refuses, or a
    /// schema from a newer herald.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let shown = crate::redact::url_masked(url);
        let config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Postgres {
            at: shown.clone(),
            why: format!("not a PostgreSQL URL: {e}"),
        })?;
        crate::install_crypto_provider();
        let tls = {
            use rustls_platform_verifier::ConfigVerifierExt as _;
            let client = rustls::ClientConfig::with_platform_verifier().map_err(|e| {
                StoreError::Postgres {
                    at: shown.clone(),
                    why: format!("cannot set TLS up: {e}"),
                }
            })?;
            tokio_postgres_rustls::MakeRustlsConnect::new(client)
        };
        let (heard, _) = tokio::sync::broadcast::channel(16);
        let stop = tokio_util::sync::CancellationToken::new();
        let manager = deadpool_postgres::Manager::from_config(
            config.clone(),
            tls.clone(),
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Postgres {
                at: shown.clone(),
                why: e.to_string(),
            })?;
        let pg = Self {
            pool,
            shown,
            heard,
            stop,
        };
        schema::prepare(&pg).await?;
        let listening = listen(config, tls, pg.heard.clone(), pg.stop.clone());
        // Open once it hears the others (or without, after a while: the engine's poll
        // then stands in until the listener connects).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), listening).await;
        Ok(pg)
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Postgres {
            at: self.shown.clone(),
            why: match e {
                deadpool_postgres::PoolError::Backend(e) => why(&e),
                other => other.to_string(),
            },
        })
    }

    /// A database error, said with where.
    fn error(&self, e: &tokio_postgres::Error) -> StoreError {
        StoreError::Postgres {
            at: self.shown.clone(),
            why: why(e),
        }
    }
}

/// What went wrong, in PostgreSQL's words when it said any (tokio-postgres' own text for a
/// server error is only "db error").
fn why(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// A row's `u32` column (INTEGER), read whatever its sign.
fn u32_of(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

impl Backend for Postgres {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn at(&self) -> String {
        self.shown.clone()
    }

    fn record_event(&self, event: NewEvent) -> Fut<'_, Recorded> {
        write::record_event(self, event).boxed()
    }

    fn add_deliveries(&self, event_id: String, deliveries: Vec<NewDelivery>) -> Fut<'_, ()> {
        write::add_deliveries(self, event_id, deliveries).boxed()
    }

    fn record_attempt(&self, attempt: AttemptRecord, next: NextState) -> Fut<'_, ()> {
        write::record_attempt(self, attempt, next).boxed()
    }

    fn claim_due(&self, claim: Claim) -> Fut<'_, Vec<Claimed>> {
        write::claim(self, claim).boxed()
    }

    fn give_up(&self, delivery_id: String, reason: String) -> Fut<'_, ()> {
        write::give_up(self, delivery_id, reason).boxed()
    }

    fn prune(&self, older_than: i64, max_events: u64) -> Fut<'_, usize> {
        write::prune(self, older_than, max_events).boxed()
    }

    fn reschedule(&self, r: Reschedule) -> Fut<'_, usize> {
        write::reschedule(self, r).boxed()
    }

    fn settle(&self, webhooks: Vec<KnownWebhook>) -> Fut<'_, usize> {
        write::settle(self, webhooks).boxed()
    }

    fn set_state(&self, key: &'static str, value: String) -> Fut<'_, ()> {
        write::set_state(self, key, value).boxed()
    }

    fn ping(&self) -> Fut<'_, ()> {
        write::ping(self).boxed()
    }

    fn claim_run(&self, key: String, occurrence: i64, lease_until: i64) -> Fut<'_, bool> {
        write::claim_run(self, key, occurrence, lease_until).boxed()
    }

    fn finish_run(&self, key: String, occurrence: i64, outcome: String) -> Fut<'_, ()> {
        write::finish_run(self, key, occurrence, outcome).boxed()
    }

    fn set_posted(&self, key: String, message: Option<crate::store::PostedMessage>) -> Fut<'_, ()> {
        write::set_posted(self, key, message).boxed()
    }

    fn heartbeat(&self, replica: String) -> Fut<'_, usize> {
        write::heartbeat(self, replica).boxed()
    }

    fn notifications(&self) -> Option<tokio::sync::broadcast::Receiver<()>> {
        Some(self.heard.subscribe())
    }

    fn reserve_slot(&self, key: String, interval_ms: i64) -> Fut<'_, Option<i64>> {
        write::reserve_slot(self, key, interval_ms).boxed()
    }

    fn deliveries(&self, filter: DeliveryFilter) -> Fut<'_, Vec<DeliveryRow>> {
        read::deliveries(self, filter).boxed()
    }

    fn event(&self, id: String) -> Fut<'_, Option<EventRow>> {
        read::event(self, id).boxed()
    }

    fn events_with_deliveries(
        &self,
        ids: Vec<String>,
    ) -> Fut<'_, Vec<(EventRow, Vec<DeliveryRow>)>> {
        read::events_with_deliveries(self, ids).boxed()
    }

    fn events(&self, limit: usize, before: Option<i64>) -> Fut<'_, Vec<EventRow>> {
        read::events(self, limit, before).boxed()
    }

    fn attempts(&self, delivery_id: String) -> Fut<'_, Vec<AttemptRow>> {
        read::attempts(self, delivery_id).boxed()
    }

    fn counts(&self) -> Fut<'_, StatusCounts> {
        read::counts(self).boxed()
    }

    fn events_page(
        &self,
        before: Option<i64>,
        limit: usize,
        terms: Vec<Term>,
    ) -> Fut<'_, Vec<EventSummary>> {
        read::events_page(self, before, limit, terms).boxed()
    }

    fn changes(&self, from: FeedPosition, limit: usize) -> Fut<'_, Changes> {
        read::changes(self, from, limit).boxed()
    }

    fn webhook_stats(&self) -> Fut<'_, HashMap<String, DeliveryTally>> {
        read::webhook_stats(self).boxed()
    }

    fn head(&self) -> Fut<'_, (FeedPosition, i64)> {
        read::head(self).boxed()
    }

    fn state(&self, key: &'static str) -> Fut<'_, Option<String>> {
        read::state(self, key).boxed()
    }

    fn posted(&self, key: String) -> Fut<'_, Option<crate::store::PostedMessage>> {
        read::posted(self, key).boxed()
    }

    fn runs(&self) -> Fut<'_, Vec<crate::store::RunRow>> {
        read::runs(self).boxed()
    }

    fn drift_seen(&self, since: i64) -> Fut<'_, Vec<crate::store::DriftSeen>> {
        read::drift_seen(self, since).boxed()
    }
}
