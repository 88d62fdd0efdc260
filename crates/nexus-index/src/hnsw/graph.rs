//! The graph itself: flat neighbour arrays of atomics (readers never lock), one small lock
//! per node for writers, vectors (owned or in a caller's source) and optional int8 codes.

use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

use super::scorer::{F32Scorer, Int8Scorer, Scorer};
use super::visited::Visited;
use crate::codes::Int8Codec;
use crate::kernels::prefetch;
use crate::metric::Metric;
use crate::source::VectorSource;
use crate::topk::Scored;

/// "No node" in the entry point and upper-slot arrays.
pub(crate) const NONE: u32 = u32::MAX;
/// Highest level a node may get.
pub(crate) const MAX_LEVEL: u8 = 15;
/// Codes are retrained until this many vectors have been seen.
const TRAIN_MAX: usize = 16_384;

/// Where node vectors live.
pub(crate) enum Vectors {
    Owned(Vec<f32>),
    Source {
        source: Arc<dyn VectorSource>,
        rows: Vec<u32>,
    },
}

impl std::fmt::Debug for Vectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Vectors::Owned(v) => write!(f, "Owned({} floats)", v.len()),
            Vectors::Source { rows, .. } => write!(f, "Source({} rows)", rows.len()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Codes {
    pub(crate) codec: Option<Int8Codec>,
    pub(crate) trained_on: usize,
    pub(crate) codes: Vec<i8>,
    pub(crate) norms: Vec<f32>,
}

#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) dim: usize,
    pub(crate) m: usize,
    pub(crate) m0: usize,
    pub(crate) metric: Metric,
    pub(crate) ids: Vec<u64>,
    pub(crate) levels: Vec<u8>,
    pub(crate) deleted: Vec<AtomicBool>,
    /// Per node `1 + m0` words: the count, then the neighbours.
    pub(crate) level0: Vec<AtomicU32>,
    /// Per node: index into `upper`, or `NONE` for level-0-only nodes.
    pub(crate) upper_slot: Vec<u32>,
    /// Per node with levels 1..=L: `L · (1 + m)` words, level 1 first.
    pub(crate) upper: Vec<Box<[AtomicU32]>>,
    pub(crate) locks: Vec<Mutex<()>>,
    pub(crate) vectors: Vectors,
    pub(crate) codes: Option<Codes>,
    /// (entry node, its level); `NONE` when empty.
    pub(crate) entry: Mutex<(u32, u8)>,
    pub(crate) n_deleted: AtomicUsize,
}

impl Store {
    pub(crate) fn new(
        dim: usize,
        m: usize,
        metric: Metric,
        int8: bool,
        source: Option<Arc<dyn VectorSource>>,
    ) -> Self {
        Self {
            dim,
            m,
            m0: 2 * m,
            metric,
            ids: Vec::new(),
            levels: Vec::new(),
            deleted: Vec::new(),
            level0: Vec::new(),
            upper_slot: Vec::new(),
            upper: Vec::new(),
            locks: Vec::new(),
            vectors: match source {
                None => Vectors::Owned(Vec::new()),
                Some(source) => Vectors::Source {
                    source,
                    rows: Vec::new(),
                },
            },
            codes: int8.then(|| Codes {
                codec: None,
                trained_on: 0,
                codes: Vec::new(),
                norms: Vec::new(),
            }),
            entry: Mutex::new((NONE, 0)),
            n_deleted: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn live(&self) -> usize {
        self.len() - self.n_deleted.load(Relaxed)
    }

    #[inline]
    pub(crate) fn vector(&self, node: u32) -> &[f32] {
        let n = node as usize;
        match &self.vectors {
            Vectors::Owned(v) => &v[n * self.dim..(n + 1) * self.dim],
            Vectors::Source { source, rows } => source.row(rows[n] as usize),
        }
    }

    #[inline]
    pub(crate) fn is_deleted(&self, node: u32) -> bool {
        self.deleted[node as usize].load(Relaxed)
    }

    /// Reserves room for `extra` more nodes (exactly, so memory reports stay honest).
    pub(crate) fn reserve(&mut self, extra: usize) {
        self.ids.reserve_exact(extra);
        self.levels.reserve_exact(extra);
        self.deleted.reserve_exact(extra);
        self.level0.reserve_exact(extra * (1 + self.m0));
        self.upper_slot.reserve_exact(extra);
        self.locks.reserve_exact(extra);
        match &mut self.vectors {
            Vectors::Owned(v) => v.reserve_exact(extra * self.dim),
            Vectors::Source { rows, .. } => rows.reserve_exact(extra),
        }
        if let Some(c) = self.codes.as_mut() {
            c.codes.reserve_exact(extra * self.dim);
            c.norms.reserve_exact(extra);
        }
    }

    /// Appends a node with no links (phase one of an insert, under the write lock).
    /// `vector` is for owned storage, `row` for a source.
    pub(crate) fn push_node(
        &mut self,
        id: u64,
        level: u8,
        vector: Option<&[f32]>,
        row: u32,
    ) -> u32 {
        let node = self.ids.len() as u32;
        self.ids.push(id);
        self.levels.push(level);
        self.deleted.push(AtomicBool::new(false));
        self.level0
            .extend((0..1 + self.m0).map(|_| AtomicU32::new(0)));
        if level > 0 {
            self.upper_slot.push(self.upper.len() as u32);
            let words = usize::from(level) * (1 + self.m);
            self.upper
                .push((0..words).map(|_| AtomicU32::new(0)).collect());
        } else {
            self.upper_slot.push(NONE);
        }
        self.locks.push(Mutex::new(()));
        match &mut self.vectors {
            Vectors::Owned(v) => v.extend_from_slice(vector.expect("owned storage takes vectors")),
            Vectors::Source { rows, .. } => rows.push(row),
        }
        node
    }

    /// Encodes nodes `from..` (or retrains and re-encodes all, while the index is young).
    pub(crate) fn encode_from(&mut self, from: usize) {
        let n = self.len();
        let dim = self.dim;
        let Some(mut codes) = self.codes.take() else {
            return;
        };
        codes.codes.resize(n * dim, 0);
        codes.norms.resize(n, 0.0);
        let mut start = from;
        if n > 0
            && (codes.codec.is_none()
                || (n >= 2 * codes.trained_on && codes.trained_on < TRAIN_MAX))
        {
            let take = n.min(TRAIN_MAX);
            let mut sample = Vec::with_capacity(take * dim);
            for u in 0..take {
                sample.extend_from_slice(self.vector(u as u32));
            }
            codes.codec = Some(Int8Codec::train(&sample, dim));
            codes.trained_on = n;
            start = 0;
        }
        if let Some(codec) = codes.codec.as_ref() {
            for u in start..n {
                let code = &mut codes.codes[u * dim..(u + 1) * dim];
                codec.encode(self.vector(u as u32), code);
                codes.norms[u] = codec.decoded_norm2(code);
            }
        }
        self.codes = Some(codes);
    }

    /// The words of `node`'s list at `level`: `[count, neighbours…]`.
    #[inline]
    pub(crate) fn links(&self, node: u32, level: u8) -> &[AtomicU32] {
        if level == 0 {
            let w = 1 + self.m0;
            &self.level0[node as usize * w..(node as usize + 1) * w]
        } else {
            let slot = self.upper_slot[node as usize] as usize;
            let w = 1 + self.m;
            let l = usize::from(level) - 1;
            &self.upper[slot][l * w..(l + 1) * w]
        }
    }

    /// Copies `node`'s neighbours at `level` into `out` (lock-free; a concurrent writer may
    /// make the copy slightly stale, never invalid: every stored id is a node).
    #[inline]
    pub(crate) fn neighbours_into(&self, node: u32, level: u8, out: &mut Vec<u32>) {
        out.clear();
        let words = self.links(node, level);
        let count = (words[0].load(Relaxed) as usize).min(words.len() - 1);
        out.extend(words[1..=count].iter().map(|w| w.load(Relaxed)));
    }

    /// Replaces `node`'s list at `level` (caller holds the node's lock).
    pub(crate) fn set_links(&self, node: u32, level: u8, list: &[u32]) {
        let words = self.links(node, level);
        let count = list.len().min(words.len() - 1);
        for (w, &v) in words[1..].iter().zip(&list[..count]) {
            w.store(v, Relaxed);
        }
        words[0].store(count as u32, Relaxed);
    }

    pub(crate) fn max_links(&self, level: u8) -> usize {
        if level == 0 { self.m0 } else { self.m }
    }

    /// Best-first search of one level from `entries`, keeping `ef` results that `accept`
    /// takes (all nodes are traversed). Returns results best first.
    pub(crate) fn search_level(
        &self,
        scorer: &mut impl Scorer,
        entries: &[(f32, u32)],
        ef: usize,
        level: u8,
        visited: &mut Visited,
        accept: &impl Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        visited.reset(self.len());
        let mut candidates: BinaryHeap<Scored<u32>> = BinaryHeap::with_capacity(ef * 2);
        let mut results: BinaryHeap<std::cmp::Reverse<Scored<u32>>> =
            BinaryHeap::with_capacity(ef + 1);
        for &(s, e) in entries {
            if visited.insert(e) {
                candidates.push(Scored { score: s, item: e });
                if accept(e) {
                    results.push(std::cmp::Reverse(Scored { score: s, item: e }));
                }
            }
        }
        // The score a node must beat to enter the results (−∞ while they are not full).
        let worst_of = |results: &BinaryHeap<std::cmp::Reverse<Scored<u32>>>| {
            if results.len() >= ef {
                results.peek().map_or(f32::NEG_INFINITY, |w| w.0.score)
            } else {
                f32::NEG_INFINITY
            }
        };
        let mut worst = worst_of(&results);
        let mut neigh = Vec::with_capacity(self.m0);
        let mut fresh = Vec::with_capacity(self.m0);
        let mut scores = Vec::with_capacity(self.m0);
        while let Some(c) = candidates.pop() {
            if c.score < worst {
                break;
            }
            if let Some(next) = candidates.peek() {
                prefetch(self.links(next.item, level), 2);
            }
            self.neighbours_into(c.item, level, &mut neigh);
            fresh.clear();
            fresh.extend(neigh.iter().copied().filter(|&v| visited.insert(v)));
            scorer.score_many(&fresh, &mut scores);
            for (&v, &s) in fresh.iter().zip(&scores) {
                if s > worst {
                    candidates.push(Scored { score: s, item: v });
                    if accept(v) {
                        results.push(std::cmp::Reverse(Scored { score: s, item: v }));
                        if results.len() > ef {
                            results.pop();
                        }
                        worst = worst_of(&results);
                    }
                }
            }
        }
        let mut out: Vec<(f32, u32)> = results
            .into_iter()
            .map(|std::cmp::Reverse(s)| (s.score, s.item))
            .collect();
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out
    }

    /// Greedy descent on one upper level: moves to the best neighbour until none is better.
    pub(crate) fn greedy(
        &self,
        scorer: &mut impl Scorer,
        mut cur: (f32, u32),
        level: u8,
    ) -> (f32, u32) {
        let mut neigh = Vec::with_capacity(self.m);
        let mut scores = Vec::with_capacity(self.m);
        loop {
            let mut moved = false;
            self.neighbours_into(cur.1, level, &mut neigh);
            scorer.score_many(&neigh, &mut scores);
            for (&v, &s) in neigh.iter().zip(&scores) {
                if s > cur.0 {
                    cur = (s, v);
                    moved = true;
                }
            }
            if !moved {
                return cur;
            }
        }
    }

    /// HNSW's neighbour-selection heuristic: keep a candidate only if it is closer to the
    /// base than to every neighbour kept so far (spreads links over directions).
    pub(crate) fn select(&self, sorted: &[(f32, u32)], max: usize) -> Vec<u32> {
        let mut kept: Vec<u32> = Vec::with_capacity(max);
        for &(s, c) in sorted {
            if kept.len() >= max {
                break;
            }
            let cv = self.vector(c);
            if kept
                .iter()
                .all(|&r| self.metric.score(cv, self.vector(r)) < s)
            {
                kept.push(c);
            }
        }
        kept
    }

    /// Phase two of an insert (under the read lock): links `node` into every level.
    /// Phase two of an insert (under the read lock): links `node` into every level. With
    /// int8 codes the candidate search walks the codes (as searches do); the neighbours are
    /// then chosen on exact f32 scores.
    pub(crate) fn link(&self, node: u32, ef_construction: usize, visited: &mut Visited) {
        let query = self.vector(node);
        let codes = self.codes.as_ref();
        if let Some((codes, codec)) = codes.and_then(|c| c.codec.as_ref().map(|k| (c, k))) {
            let mut scorer = Int8Scorer::new(codes, codec, query, self.metric);
            self.link_with(&mut scorer, node, ef_construction, visited);
        } else {
            let mut scorer = F32Scorer::new(self, query);
            self.link_with(&mut scorer, node, ef_construction, visited);
        }
    }

    fn link_with<S: Scorer>(
        &self,
        scorer: &mut S,
        node: u32,
        ef_construction: usize,
        visited: &mut Visited,
    ) {
        let level = self.levels[node as usize];
        let max_level = {
            let mut e = self.entry.lock();
            if e.0 == NONE {
                *e = (node, level);
                return;
            }
            *e
        };
        let (entry, max_level) = max_level;
        let mut exact = F32Scorer::new(self, self.vector(node));
        let mut cur = (scorer.score(entry), entry);
        let mut l = max_level;
        while l > level {
            cur = self.greedy(scorer, cur, l);
            l -= 1;
        }
        let mut eps = vec![cur];
        let mut nodes = Vec::with_capacity(ef_construction);
        let mut scores = Vec::with_capacity(ef_construction);
        for l in (0..=level.min(max_level)).rev() {
            let found =
                self.search_level(scorer, &eps, ef_construction, l, visited, &|u| u != node);
            let max = self.max_links(l);
            let chosen = if S::EXACT {
                self.select(&found, max)
            } else {
                // Choose neighbours on exact scores.
                nodes.clear();
                nodes.extend(found.iter().map(|c| c.1));
                exact.score_many(&nodes, &mut scores);
                let mut ranked: Vec<(f32, u32)> =
                    scores.iter().copied().zip(nodes.iter().copied()).collect();
                ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                self.select(&ranked, max)
            };
            {
                let _g = self.locks[node as usize].lock();
                self.set_links(node, l, &chosen);
            }
            for &nb in &chosen {
                self.add_back_link(nb, node, l);
            }
            if !found.is_empty() {
                eps = found;
            }
        }
        if level > max_level {
            let mut e = self.entry.lock();
            if level > e.1 {
                *e = (node, level);
            }
        }
    }

    /// Makes every live node reachable from the entry point at level 0. Parallel inserts and
    /// the neighbour heuristic can prune every in-link of a node (each neighbour list that
    /// held it dropped it when it overflowed), leaving it unfindable by any search. For each
    /// node a walk from the entry does not reach, this adds it to the list of its nearest
    /// reached out-neighbour (replacing that list's farthest entry when full), and walks
    /// again, a few rounds at most. Returns how many links were added. O(n · m) per round.
    pub(crate) fn repair_reachability(&self) -> usize {
        let n = self.len();
        let entry = self.entry.lock().0;
        if n == 0 || entry == NONE {
            return 0;
        }
        let mut added = 0;
        let mut list = Vec::with_capacity(self.m0 + 1);
        for _round in 0..4 {
            let mut seen = vec![false; n];
            let mut stack = vec![entry];
            seen[entry as usize] = true;
            while let Some(u) = stack.pop() {
                self.neighbours_into(u, 0, &mut list);
                for &v in &list {
                    if !seen[v as usize] {
                        seen[v as usize] = true;
                        stack.push(v);
                    }
                }
            }
            let mut changed = false;
            for u in 0..n as u32 {
                if seen[u as usize] || self.is_deleted(u) {
                    continue;
                }
                self.neighbours_into(u, 0, &mut list);
                let base = self.vector(u);
                let best = list
                    .iter()
                    .filter(|&&v| seen[v as usize])
                    .map(|&v| (self.metric.score(base, self.vector(v)), v))
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                if let Some((_, to)) = best {
                    self.force_link(to, u);
                    added += 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        added
    }

    /// Puts `node` into `to`'s level-0 list, replacing its farthest entry if the list is full.
    fn force_link(&self, to: u32, node: u32) {
        let _g = self.locks[to as usize].lock();
        let mut list = Vec::with_capacity(self.m0 + 1);
        self.neighbours_into(to, 0, &mut list);
        if list.contains(&node) {
            return;
        }
        if list.len() >= self.max_links(0) {
            let base = self.vector(to);
            let worst = list
                .iter()
                .enumerate()
                .map(|(i, &v)| (self.metric.score(base, self.vector(v)), i))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, i)| i);
            if let Some(i) = worst {
                list.swap_remove(i);
            }
        }
        list.push(node);
        self.set_links(to, 0, &list);
    }

    /// Adds `node` to `to`'s list at `level`, pruning with the heuristic when full.
    fn add_back_link(&self, to: u32, node: u32, level: u8) {
        let _g = self.locks[to as usize].lock();
        let mut list = Vec::with_capacity(self.m0 + 1);
        self.neighbours_into(to, level, &mut list);
        if list.contains(&node) {
            return;
        }
        let max = self.max_links(level);
        if list.len() < max {
            list.push(node);
            self.set_links(to, level, &list);
            return;
        }
        list.push(node);
        let base = self.vector(to);
        let mut scored: Vec<(f32, u32)> = list
            .iter()
            .map(|&u| (self.metric.score(base, self.vector(u)), u))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let kept = self.select(&scored, max);
        self.set_links(to, level, &kept);
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let vectors = match &self.vectors {
            Vectors::Owned(v) => v.capacity() * 4,
            Vectors::Source { rows, .. } => rows.capacity() * 4,
        };
        let codes = self.codes.as_ref().map_or(0, |c| {
            c.codes.capacity() + c.norms.capacity() * 4 + self.dim * 4
        });
        let upper: usize =
            self.upper.iter().map(|b| b.len() * 4 + 16).sum::<usize>() + self.upper.capacity() * 16;
        self.ids.capacity() * 8
            + self.levels.capacity()
            + self.deleted.capacity()
            + self.level0.capacity() * 4
            + self.upper_slot.capacity() * 4
            + self.locks.capacity() * std::mem::size_of::<Mutex<()>>()
            + upper
            + vectors
            + codes
    }

    pub(crate) fn mapped_bytes(&self) -> usize {
        match &self.vectors {
            Vectors::Owned(_) => 0,
            Vectors::Source { source, rows } if source.mapped_bytes() > 0 => {
                rows.len() * self.dim * 4
            }
            Vectors::Source { .. } => 0,
        }
    }
}
