//! A memory (what is remembered) and a recalled memory (what comes back), and their archived
//! form in the store.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The namespace of a memory that names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One memory: a text with its embedding vector and metadata. Built by chaining:
///
/// ```
/// use nexus_engine::Memory;
/// let m = Memory::new("the user prefers tea", vec![0.1, 0.9, 0.0])
///     .namespace("user-42")
///     .tag("preference")
///     .meta("source", "chat")
///     .importance(0.8);
/// assert_eq!(m.namespace_name(), "user-42");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    pub(crate) text: String,
    pub(crate) vector: Vec<f32>,
    pub(crate) namespace: String,
    pub(crate) tags: Vec<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) event_time: Option<i64>,
    pub(crate) created_at: Option<i64>,
    pub(crate) importance: f32,
    pub(crate) key: Option<String>,
    /// Absolute expiry (ms since the epoch), or a TTL resolved against the clock on remember.
    pub(crate) expiry: Option<Expiry>,
}

/// When a memory stops being recalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    At(i64),
    After(std::time::Duration),
}

impl Expiry {
    /// The expiry instant (ms since the epoch) for a memory remembered at `now`.
    pub(crate) fn resolve(self, now: i64) -> i64 {
        match self {
            Expiry::At(ms) => ms,
            Expiry::After(d) => {
                now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            }
        }
    }
}

impl Memory {
    /// A memory of `text` embedded as `vector`, in the default namespace, importance 0.5.
    pub fn new(text: impl Into<String>, vector: Vec<f32>) -> Self {
        Self {
            text: text.into(),
            vector,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            tags: Vec::new(),
            metadata: Map::new(),
            event_time: None,
            created_at: None,
            importance: 0.5,
            key: None,
            expiry: None,
        }
    }

    /// A memory of `text` whose vector the store's [`Embedder`](crate::Embedder) computes
    /// when it is remembered.
    pub fn from_text(text: impl Into<String>) -> Self {
        Self::new(text, Vec::new())
    }

    /// The namespace: one user, agent or session (default `"default"`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Adds tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Sets metadata `key` to `value` (any JSON value).
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// When the remembered thing happened, in milliseconds since the Unix epoch (default: when
    /// it is remembered).
    pub fn event_time(mut self, ms: i64) -> Self {
        self.event_time = Some(ms);
        self
    }

    /// Importance in `0.0..=1.0` (default 0.5).
    pub fn importance(mut self, importance: f32) -> Self {
        self.importance = importance;
        self
    }

    /// A caller key: remembering a memory whose key is already live in its namespace replaces
    /// that memory (text, vector, metadata) and keeps its id, so retries and re-syncs are
    /// idempotent.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Expires `ttl` after it is remembered (by the store's clock): from then on no recall,
    /// get or export returns it, and the background worker or the next compaction drops it.
    pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
        self.expiry = Some(Expiry::After(ttl));
        self
    }

    /// Expires at `ms` (milliseconds since the Unix epoch); see [`ttl`](Self::ttl).
    pub fn expires_at(mut self, ms: i64) -> Self {
        self.expiry = Some(Expiry::At(ms));
        self
    }

    /// The caller key, if any.
    pub fn key_name(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// When it expires (ms since the epoch): `None` for a memory that never does. A TTL set
    /// on a memory not yet remembered shows here once it is read back.
    pub fn expires_at_ms(&self) -> Option<i64> {
        match self.expiry {
            Some(Expiry::At(ms)) => Some(ms),
            _ => None,
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The vector (as stored: normalised in a cosine store).
    pub fn vector(&self) -> &[f32] {
        &self.vector
    }

    /// The namespace.
    pub fn namespace_name(&self) -> &str {
        &self.namespace
    }

    /// The tags, deduplicated and sorted once stored.
    pub fn tag_list(&self) -> &[String] {
        &self.tags
    }

    /// The metadata.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// When it happened (ms since the epoch); `None` on a memory not yet remembered that set
    /// none.
    pub fn event_time_ms(&self) -> Option<i64> {
        self.event_time
    }

    /// When it was remembered (ms since the epoch); `None` before it is.
    pub fn created_at_ms(&self) -> Option<i64> {
        self.created_at
    }

    /// The importance.
    pub fn importance_value(&self) -> f32 {
        self.importance
    }

    /// Checks everything but the vector (which needs the store's dimension).
    pub(crate) fn check_fields(&self) -> Result<()> {
        if self.text.is_empty() {
            return Err(Error::EmptyText);
        }
        if !(0.0..=1.0).contains(&self.importance) {
            return Err(Error::invalid(
                "importance",
                format!("{} is outside 0.0..=1.0", self.importance),
            ));
        }
        if self.namespace.is_empty() {
            return Err(Error::invalid("namespace", "must not be empty"));
        }
        if self.tags.iter().any(String::is_empty) {
            return Err(Error::invalid("tag", "must not be empty"));
        }
        if self.key.as_deref() == Some("") {
            return Err(Error::invalid("key", "must not be empty"));
        }
        Ok(())
    }
}

/// A memory returned by a recall, with its id and score (larger is better).
#[derive(Debug, Clone, PartialEq)]
pub struct Recalled {
    /// The memory's id.
    pub id: u64,
    /// Its similarity to the query under the store's metric.
    pub score: f32,
    /// The memory.
    pub memory: Memory,
}

/// Marks the current record layout: appended after the archive, so records written before
/// `expires_at` and `key` existed (which end in the archive itself) still decode.
const META_V2: &[u8; 4] = b"NXM\x02";
/// `expires_at` of a memory that never expires.
pub(crate) const NEVER: i64 = i64::MAX;

/// A memory's metadata as archived in the store record (`meta` bytes of a storage record).
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct StoredMeta {
    pub(crate) text: String,
    pub(crate) namespace: String,
    pub(crate) tags: Vec<String>,
    /// The metadata map as JSON text (rkyv cannot archive `serde_json::Value`).
    pub(crate) metadata: String,
    pub(crate) event_time: i64,
    pub(crate) created_at: i64,
    pub(crate) importance: f32,
    /// Ms since the epoch; [`NEVER`] for none.
    pub(crate) expires_at: i64,
    pub(crate) key: Option<String>,
}

/// The first record layout (no expiry, no key).
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Clone, PartialEq)]
struct StoredMetaV1 {
    text: String,
    namespace: String,
    tags: Vec<String>,
    metadata: String,
    event_time: i64,
    created_at: i64,
    importance: f32,
}

impl StoredMeta {
    pub(crate) fn from_memory(m: &Memory, now: i64) -> Self {
        let mut tags = m.tags.clone();
        tags.sort_unstable();
        tags.dedup();
        Self {
            text: m.text.clone(),
            namespace: m.namespace.clone(),
            tags,
            metadata: Value::Object(m.metadata.clone()).to_string(),
            event_time: m.event_time.unwrap_or(now),
            // Set only on memories read back from a store (re-remembered or imported).
            created_at: m.created_at.unwrap_or(now),
            importance: m.importance,
            expires_at: m.expiry.map_or(NEVER, |e| e.resolve(now)),
            key: m.key.clone(),
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = rkyv::to_bytes::<rkyv::rancor::Error>(self)
            .expect("archiving strings and numbers cannot fail")
            .to_vec();
        bytes.extend_from_slice(META_V2);
        bytes
    }

    /// Decodes (and validates) record bytes read from the store.
    pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let (body, v2) = match bytes.strip_suffix(META_V2.as_slice()) {
            Some(body) => (body, true),
            None => (bytes, false),
        };
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(body.len());
        aligned.extend_from_slice(body);
        if v2 {
            return rkyv::from_bytes::<StoredMeta, rkyv::rancor::Error>(&aligned)
                .map_err(|e| e.to_string());
        }
        let v1 = rkyv::from_bytes::<StoredMetaV1, rkyv::rancor::Error>(&aligned)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            text: v1.text,
            namespace: v1.namespace,
            tags: v1.tags,
            metadata: v1.metadata,
            event_time: v1.event_time,
            created_at: v1.created_at,
            importance: v1.importance,
            expires_at: NEVER,
            key: None,
        })
    }

    /// Whether it has expired at `now`.
    pub(crate) fn expired(&self, now: i64) -> bool {
        self.expires_at <= now
    }

    /// The dedup hash of a memory: namespace, text and vector (xxh3, stable across builds
    /// because it is persisted in the rows attachment).
    pub(crate) fn content_hash(&self, vector: &[f32]) -> u64 {
        content_hash(&self.namespace, &self.text, vector)
    }

    pub(crate) fn into_memory(self, vector: Vec<f32>) -> Memory {
        let metadata = match serde_json::from_str::<Value>(&self.metadata) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        Memory {
            text: self.text,
            vector,
            namespace: self.namespace,
            tags: self.tags,
            metadata,
            event_time: Some(self.event_time),
            created_at: Some(self.created_at),
            importance: self.importance,
            key: self.key,
            expiry: (self.expires_at != NEVER).then_some(Expiry::At(self.expires_at)),
        }
    }
}

/// See [`StoredMeta::content_hash`].
pub(crate) fn content_hash(namespace: &str, text: &str, vector: &[f32]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(namespace.len() as u64).to_le_bytes());
    h.update(namespace.as_bytes());
    h.update(&(text.len() as u64).to_le_bytes());
    h.update(text.as_bytes());
    for x in vector {
        h.update(&x.to_bits().to_le_bytes());
    }
    h.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_the_first_layout_still_decode() {
        let v1 = StoredMetaV1 {
            text: "tea".into(),
            namespace: "u".into(),
            tags: vec!["a".into()],
            metadata: "{}".into(),
            event_time: 5,
            created_at: 6,
            importance: 0.25,
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&v1).unwrap().to_vec();
        let m = StoredMeta::decode(&bytes).unwrap();
        assert_eq!(
            (m.text.as_str(), m.event_time, m.importance),
            ("tea", 5, 0.25)
        );
        assert_eq!((m.expires_at, m.key), (NEVER, None));
        let v2 = StoredMeta {
            expires_at: 9,
            key: Some("k".into()),
            ..m
        };
        assert_eq!(StoredMeta::decode(&v2.encode()).unwrap(), v2);
    }
}
