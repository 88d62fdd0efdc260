//! Export and import as JSON Lines: one memory per line, vector included, round-tripping
//! exactly (f32 values are printed in their shortest exact form).

use std::io::{BufRead, Write};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::memory::Memory;
use crate::nexus::Nexus;

/// Memories per commit while importing.
const IMPORT_BATCH: usize = 4096;

impl Memory {
    /// The memory as one JSON object (the export line format; `id` is added by export).
    pub fn to_json(&self) -> Value {
        json!({
            "text": self.text,
            "namespace": self.namespace,
            "tags": self.tags,
            "metadata": Value::Object(self.metadata.clone()),
            "event_time": self.event_time,
            "created_at": self.created_at,
            "importance": self.importance,
            "key": self.key,
            "expires_at": self.expires_at_ms(),
            "vector": self.vector,
        })
    }

    /// A memory from a JSON object of the export format (`text` and `vector` required; every
    /// other field optional; `id` ignored).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the bad field.
    pub fn from_json(v: &Value) -> Result<Memory> {
        let bad = |field: &'static str, what: &str| Error::invalid(field, what.to_owned());
        let obj = v
            .as_object()
            .ok_or_else(|| bad("memory", "not a JSON object"))?;
        let text = obj
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("text", "missing or not a string"))?;
        let vector = obj
            .get("vector")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("vector", "missing or not an array"))?
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| bad("vector", "holds a value that is not a number"))?;
        let mut m = Memory::new(text, vector);
        if let Some(ns) = obj.get("namespace") {
            m.namespace = ns
                .as_str()
                .ok_or_else(|| bad("namespace", "not a string"))?
                .to_owned();
        }
        if let Some(tags) = obj.get("tags") {
            m.tags = tags
                .as_array()
                .and_then(|a| a.iter().map(|t| t.as_str().map(str::to_owned)).collect())
                .ok_or_else(|| bad("tags", "not an array of strings"))?;
        }
        if let Some(meta) = obj.get("metadata") {
            m.metadata = meta
                .as_object()
                .cloned()
                .ok_or_else(|| bad("metadata", "not an object"))?;
        }
        let time = |field: &'static str| -> Result<Option<i64>> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(t) => t
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| bad(field, "not an integer (ms since the epoch)")),
            }
        };
        m.event_time = time("event_time")?;
        m.created_at = time("created_at")?;
        m.expiry = time("expires_at")?.map(crate::memory::Expiry::At);
        match obj.get("key") {
            None | Some(Value::Null) => {}
            Some(k) => {
                m.key = Some(
                    k.as_str()
                        .ok_or_else(|| bad("key", "not a string"))?
                        .to_owned(),
                );
            }
        }
        if let Some(i) = obj.get("importance") {
            m.importance =
                i.as_f64()
                    .ok_or_else(|| bad("importance", "not a number"))? as f32;
        }
        Ok(m)
    }
}

impl Nexus {
    /// Writes every live memory as one JSON line (`id` first, vector included); returns how
    /// many.
    ///
    /// # Errors
    /// [`Error::Io`] from the writer, [`Error::Corrupt`] if a record cannot be read.
    pub fn export_jsonl(&self, mut out: impl Write) -> Result<u64> {
        let mut n = 0;
        self.for_each_memory(|id, m| {
            let mut line = Map::new();
            line.insert("id".into(), id.into());
            if let Value::Object(fields) = m.to_json() {
                line.extend(fields);
            }
            let mut text = Value::Object(line).to_string();
            text.push('\n');
            out.write_all(text.as_bytes()).map_err(|source| Error::Io {
                path: "<export>".into(),
                source,
            })?;
            n += 1;
            Ok(())
        })?;
        out.flush().map_err(|source| Error::Io {
            path: "<export>".into(),
            source,
        })?;
        Ok(n)
    }

    /// Remembers every memory of a JSON Lines stream (the export format; blank lines
    /// skipped), keeping `created_at` and `event_time`; returns the new ids in order. Ids
    /// are assigned anew.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the line and field, and the errors of
    /// [`remember`](Self::remember). Lines before a bad batch stay imported.
    pub fn import_jsonl(&self, input: impl BufRead) -> Result<Vec<u64>> {
        let mut ids = Vec::new();
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        for (i, line) in input.lines().enumerate() {
            let line = line.map_err(|source| Error::Io {
                path: "<import>".into(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let at = |e: Error| Error::invalid("jsonl", format!("line {}: {e}", i + 1));
            let value: Value = serde_json::from_str(&line)
                .map_err(|e| Error::invalid("jsonl", format!("line {}: {e}", i + 1)))?;
            let m = Memory::from_json(&value).map_err(at)?;
            batch.push(m);
            if batch.len() == IMPORT_BATCH {
                ids.extend(self.remember_batch(batch.drain(..))?);
            }
        }
        ids.extend(self.remember_batch(batch)?);
        Ok(ids)
    }
}
