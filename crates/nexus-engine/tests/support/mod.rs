//! A brute-force model of the engine: what a recall must return, computed exactly in f64.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use nexus_engine::{Filter, Memory, Query};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// One remembered memory as the model holds it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub text: String,
    pub vector: Vec<f32>,
    pub namespace: String,
    pub tags: Vec<String>,
    pub meta: BTreeMap<String, Value>,
    pub event_time: i64,
    pub created_at: i64,
}

/// Live memories by id.
#[derive(Debug, Default)]
pub struct Model {
    pub live: BTreeMap<u64, Entry>,
}

pub fn normalized(v: &[f32]) -> Vec<f64> {
    let n: f64 = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    v.iter().map(|&x| f64::from(x) / n).collect()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (a, b) = (normalized(a), normalized(b));
    a.iter().zip(&b).map(|(x, y)| x * y).sum()
}

impl Model {
    pub fn passes(e: &Entry, namespaces: &[String], f: &Filter, q: &ModelFilter) -> bool {
        let _ = f;
        (namespaces.is_empty() || namespaces.contains(&e.namespace))
            && (q.tags_any.is_empty() || q.tags_any.iter().any(|t| e.tags.contains(t)))
            && q.tags_all.iter().all(|t| e.tags.contains(t))
            && q.meta_eq.iter().all(|(k, v)| e.meta.get(k) == Some(v))
            && q.event.is_none_or(|(a, b)| (a..b).contains(&e.event_time))
    }

    /// The exact top-k ids (cosine), ties to the lower id.
    pub fn top_k(
        &self,
        vector: &[f32],
        k: usize,
        namespaces: &[String],
        q: &ModelFilter,
    ) -> Vec<u64> {
        let f = q.to_filter();
        let mut scored: Vec<(f64, u64)> = self
            .live
            .iter()
            .filter(|(_, e)| Self::passes(e, namespaces, &f, q))
            .map(|(&id, e)| (cosine(vector, &e.vector), id))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(k).map(|(_, id)| id).collect()
    }

    pub fn count(&self, namespaces: &[String], q: &ModelFilter) -> usize {
        let f = q.to_filter();
        self.live
            .values()
            .filter(|e| Self::passes(e, namespaces, &f, q))
            .count()
    }
}

/// The model's view of a filter (mirrors [`Filter`]).
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    pub tags_any: Vec<String>,
    pub tags_all: Vec<String>,
    pub meta_eq: Vec<(String, Value)>,
    pub event: Option<(i64, i64)>,
}

impl ModelFilter {
    pub fn to_filter(&self) -> Filter {
        let mut f = Filter::new()
            .tags_any(self.tags_any.clone())
            .tags_all(self.tags_all.clone());
        for (k, v) in &self.meta_eq {
            f = f.meta_eq(k.clone(), v.clone());
        }
        if let Some((a, b)) = self.event {
            f = f.event_time(a..b);
        }
        f
    }
}

pub const TAGS: [&str; 4] = ["red", "green", "blue", "gold"];

/// Random memories in `namespaces` namespaces with clustered vectors (so neighbours are
/// meaningful), random tags, a `kind` metadata value and event times.
pub fn random_memories(seed: u64, n: usize, dim: usize, namespaces: usize) -> Vec<(Memory, Entry)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..16)
        .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect();
    (0..n)
        .map(|i| {
            let c = &centres[rng.random_range(0..centres.len())];
            let vector: Vec<f32> = c
                .iter()
                .map(|x| x + rng.random_range(-0.4f32..0.4))
                .collect();
            let namespace = format!("ns{}", rng.random_range(0..namespaces));
            let tags: Vec<String> = TAGS
                .iter()
                .filter(|_| rng.random_bool(0.3))
                .map(|t| t.to_string())
                .collect();
            let kind = ["note", "fact", "event"][rng.random_range(0..3)];
            let event_time = 1_000_000 + rng.random_range(0..10_000i64);
            let text = format!("memory {i} of kind {kind}");
            let m = Memory::new(text.clone(), vector.clone())
                .namespace(namespace.clone())
                .tags(tags.clone())
                .meta("kind", kind)
                .event_time(event_time);
            let mut meta = BTreeMap::new();
            meta.insert("kind".to_string(), Value::from(kind));
            let mut tags = tags;
            tags.sort();
            let e = Entry {
                text,
                vector,
                namespace,
                tags,
                meta,
                event_time,
                created_at: 0,
            };
            (m, e)
        })
        .collect()
}

pub fn random_query(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

pub fn query(vector: Vec<f32>, k: usize, namespaces: &[String], f: &ModelFilter) -> Query {
    Query::new(vector)
        .k(k)
        .namespaces(namespaces.iter().cloned())
        .filter(f.to_filter())
}
