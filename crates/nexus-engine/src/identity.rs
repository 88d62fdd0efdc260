//! What makes two memories the same one: a caller key within a namespace (upsert) or equal
//! content (namespace, text and vector: dedup). Built from the parts' columns the first time
//! a write needs it, then kept current under the write lock.

use std::collections::HashMap;

use crate::part::{SegView, Tail};

/// Live memories by (namespace, key) and by content hash.
#[derive(Debug, Default)]
pub(crate) struct Identity {
    keys: HashMap<(String, String), u64>,
    /// One live id per content hash (a hash is checked against the memory before it is
    /// trusted, so a collision only costs a missed dedup).
    content: HashMap<u64, u64>,
}

impl Identity {
    /// From every live memory of `views` and `tail`.
    pub(crate) fn build(views: &[std::sync::Arc<SegView>], tail: &Tail) -> Self {
        let mut me = Identity::default();
        for v in views {
            let st = v.state.read();
            let ids = v.seg.ids();
            for (row, &id) in ids.iter().enumerate() {
                if st.postings.live.contains(id) {
                    me.content.insert(v.content_hash[row], id);
                }
            }
            for (row, ns, key) in &v.keys {
                let id = ids[*row as usize];
                if st.postings.live.contains(id) {
                    me.keys.insert((ns.clone(), key.clone()), id);
                }
            }
        }
        for id in tail.postings.live.iter() {
            let row = tail.row_of[&id];
            let m = &tail.metas[row];
            me.add(id, &m.namespace, m.key.as_deref(), tail.content_hash[row]);
        }
        me
    }

    pub(crate) fn add(&mut self, id: u64, namespace: &str, key: Option<&str>, hash: u64) {
        self.content.insert(hash, id);
        if let Some(k) = key {
            self.keys.insert((namespace.to_owned(), k.to_owned()), id);
        }
    }

    /// Drops the entries that point at `id`.
    pub(crate) fn remove(&mut self, id: u64, namespace: &str, key: Option<&str>, hash: u64) {
        if self.content.get(&hash) == Some(&id) {
            self.content.remove(&hash);
        }
        if let Some(k) = key {
            let entry = (namespace.to_owned(), k.to_owned());
            if self.keys.get(&entry) == Some(&id) {
                self.keys.remove(&entry);
            }
        }
    }

    pub(crate) fn by_key(&self, namespace: &str, key: &str) -> Option<u64> {
        self.keys
            .get(&(namespace.to_owned(), key.to_owned()))
            .copied()
    }

    pub(crate) fn by_content(&self, hash: u64) -> Option<u64> {
        self.content.get(&hash).copied()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.content.capacity() * 17
            + self
                .keys
                .keys()
                .map(|(n, k)| 64 + n.capacity() + k.capacity())
                .sum::<usize>()
    }
}
