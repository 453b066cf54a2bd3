//! herald: a dispatcher and console for Atlantis and env0 notifications.
//!
//! The library is the one core that every face of herald (the console, `serve` and the
//! one-shot commands) calls. It knows nothing of terminals: configuration and its
//! validation ([`config`]), the inbound event shapes ([`event`]), Atlantis' routing rules
//! ([`route`]), building and sending Slack and HTTP requests ([`notify`]), and delivering an
//! event to every webhook with timeouts and retries ([`dispatch`]).

pub mod api;
pub mod clock;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod event;
pub mod fake;
pub mod ingest;
pub mod intake;
pub mod notify;
pub mod printable;
pub mod redact;
pub mod route;
pub mod schedule;
pub mod secret;
pub mod store;
#[cfg(feature = "tui")]
pub mod tui;

/// herald's version, sent as `User-Agent: herald/<version>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Installs rustls' *ring* provider for the whole process.
///
/// reqwest is built without a provider of its own (so no aws-lc and no OpenSSL is linked),
/// and `Client::build` panics when none is installed. Every constructor that builds a
/// client calls this; a second call is harmless.
pub fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}
