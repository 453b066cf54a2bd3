//! herald's integration tests: one test binary (they build faster as one), one module per
//! area. Everything talks to real servers on 127.0.0.1: the fake Slack of `herald::fake`
//! and the HTTP receiver of `support`.

mod api;
mod atlantis_config;
#[cfg(feature = "tui")]
mod bench_harness;
mod cli;
mod console;
mod destinations;
mod engine;
mod events;
mod faults;
mod forward;
mod fuzz;
mod hardening;
mod http_delivery;
mod ingest;
mod journal;
mod pg;
mod postgres;
mod regex_dialect;
mod schedule;
mod secrets;
mod serve;
mod slack;
mod support;
mod teams;
mod templates;
mod tmux;
