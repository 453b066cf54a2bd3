//! Loopback stand-ins for the services herald delivers to, for tests, the example
//! `fake_slack` program and `herald demo` (and Atlantis' drift API, for the drift scheduler).
//! They never leave 127.0.0.1. Beside them, a
//! real PostgreSQL started for the tests and the benchmarks (`postgres`).

pub mod atlantis;
pub mod chat;
pub mod http;
pub mod postgres;
pub mod slack;
pub mod teams;

pub use slack::{FakeSlack, Received, Scenario};
