//! An event as received, kept whole for relaying, beside the typed view herald reads.
//!
//! Atlantis keeps adding fields to its payloads (`ResultMessage`, plan results' `Event`); a
//! receiver behind herald must get what Atlantis sent, field for field and in Atlantis'
//! order, with only the clone-URL credential redacted. So a received body is kept as its
//! JSON tree (serde_json keeps key order) and that tree is what is journaled and sent; the
//! typed fields are only read. An event built by herald itself (env0's drift, a `match`
//! probe) has no tree and serialises from its fields.

use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A typed event and, when it was received, the JSON tree it came as.
#[derive(Debug, Clone, PartialEq)]
pub struct Relayed<T> {
    parsed: T,
    raw: Option<Value>,
}

impl<T> Relayed<T> {
    /// An event herald built (no received tree).
    pub fn new(parsed: T) -> Self {
        Self { parsed, raw: None }
    }

    /// An event read from `raw` (already free of what must not be kept).
    pub fn received(parsed: T, raw: Value) -> Self {
        Self {
            parsed,
            raw: Some(raw),
        }
    }

    /// The typed view.
    pub fn parsed(&self) -> &T {
        &self.parsed
    }
}

impl<T> Deref for Relayed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.parsed
    }
}

impl<T: Serialize> Serialize for Relayed<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.raw {
            Some(raw) => raw.serialize(s),
            None => self.parsed.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Relayed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        let parsed = T::deserialize(&raw).map_err(serde::de::Error::custom)?;
        Ok(Self::received(parsed, raw))
    }
}
