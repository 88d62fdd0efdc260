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
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        rkyv::to_bytes::<rkyv::rancor::Error>(self)
            .expect("archiving strings and numbers cannot fail")
            .to_vec()
    }

    /// Decodes (and validates) record bytes read from the store.
    pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
        aligned.extend_from_slice(bytes);
        rkyv::from_bytes::<StoredMeta, rkyv::rancor::Error>(&aligned).map_err(|e| e.to_string())
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
        }
    }
}
