//! The PostgreSQL cluster the tests share (see `herald::fake::postgres`): started on first
//! use, stopped when the test process ends (its shell waits on a pipe from this process).
//! Each test gets a database of its own.

use std::sync::OnceLock;

pub use herald::fake::postgres::Cluster;

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The URL of a new, empty database on the cluster the tests share.
pub async fn database() -> String {
    CLUSTER.get_or_init(Cluster::start).database().await
}
