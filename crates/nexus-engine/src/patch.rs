//! [`Patch`]: a change to a memory's metadata that keeps its text and vector (no re-embedding).

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::memory::{Expiry, NEVER, StoredMeta};

/// What [`Nexus::update`](crate::Nexus::update) changes; everything not named stays.
///
/// ```
/// use nexus_engine::Patch;
/// use std::time::Duration;
/// let p = Patch::new()
///     .importance(0.9)
///     .add_tag("pinned")
///     .remove_tag("draft")
///     .meta("status", "done")
///     .ttl(Duration::from_secs(3600));
/// # let _ = p;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    tags: Option<Vec<String>>,
    add_tags: Vec<String>,
    remove_tags: Vec<String>,
    meta_set: Map<String, Value>,
    meta_remove: Vec<String>,
    importance: Option<f32>,
    event_time: Option<i64>,
    /// `Some(None)`: never expire.
    expiry: Option<Option<Expiry>>,
}

impl Patch {
    /// Changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the tags (applied before `add_tag` / `remove_tag`).
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a tag.
    pub fn add_tag(mut self, tag: impl Into<String>) -> Self {
        self.add_tags.push(tag.into());
        self
    }

    /// Removes a tag (if present).
    pub fn remove_tag(mut self, tag: impl Into<String>) -> Self {
        self.remove_tags.push(tag.into());
        self
    }

    /// Sets metadata `key` to `value`.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.meta_set.insert(key.into(), value.into());
        self
    }

    /// Removes metadata `key` (applied before `meta`).
    pub fn remove_meta(mut self, key: impl Into<String>) -> Self {
        self.meta_remove.push(key.into());
        self
    }

    /// Sets the importance (0..=1).
    pub fn importance(mut self, importance: f32) -> Self {
        self.importance = Some(importance);
        self
    }

    /// Sets the event time (ms since the epoch).
    pub fn event_time(mut self, ms: i64) -> Self {
        self.event_time = Some(ms);
        self
    }

    /// Expires `ttl` after the update (by the store's clock).
    pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
        self.expiry = Some(Some(Expiry::After(ttl)));
        self
    }

    /// Expires at `ms` (ms since the epoch).
    pub fn expires_at(mut self, ms: i64) -> Self {
        self.expiry = Some(Some(Expiry::At(ms)));
        self
    }

    /// Never expires.
    pub fn no_expiry(mut self) -> Self {
        self.expiry = Some(None);
        self
    }

    /// `meta` with this patch applied at `now`.
    pub(crate) fn apply(&self, meta: &StoredMeta, now: i64) -> Result<StoredMeta> {
        let mut out = meta.clone();
        if let Some(i) = self.importance {
            if !(0.0..=1.0).contains(&i) {
                return Err(Error::invalid(
                    "importance",
                    format!("{i} is outside 0.0..=1.0"),
                ));
            }
            out.importance = i;
        }
        if let Some(tags) = &self.tags {
            out.tags = tags.clone();
        }
        out.tags.extend(self.add_tags.iter().cloned());
        out.tags.retain(|t| !self.remove_tags.contains(t));
        if out.tags.iter().any(String::is_empty) {
            return Err(Error::invalid("tag", "must not be empty"));
        }
        out.tags.sort_unstable();
        out.tags.dedup();
        if !self.meta_set.is_empty() || !self.meta_remove.is_empty() {
            let mut map = match serde_json::from_str::<Value>(&meta.metadata) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            for k in &self.meta_remove {
                map.remove(k);
            }
            map.extend(self.meta_set.clone());
            out.metadata = Value::Object(map).to_string();
        }
        if let Some(t) = self.event_time {
            out.event_time = t;
        }
        if let Some(e) = self.expiry {
            out.expires_at = e.map_or(NEVER, |e| e.resolve(now));
        }
        Ok(out)
    }
}
