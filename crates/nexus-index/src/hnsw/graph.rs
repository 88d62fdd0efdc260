//! The graph itself: one cache-line-aligned block per node holding its level-0 neighbour
//! list (atomics: readers never lock) and its traversal payload (int8 code or f32 vector),
//! upper-level lists apart, one small lock per node for writers, vectors (in the blocks, in a
//! flat array, or in a caller's source).

use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::Relaxed};

use nexus_quant::Int8Symmetric;
use parking_lot::Mutex;

use super::scorer::{F32Scorer, Int8Scorer, Scorer};
use super::visited::Visited;
use crate::int8_codes::{self, TRAIN_MAX};
use crate::kernels::prefetch;
use crate::metric::Metric;
use crate::source::VectorSource;
use crate::topk::Scored;

/// "No node" in the entry point and upper-slot arrays.
pub(crate) const NONE: u32 = u32::MAX;
/// Highest level a node may get.
pub(crate) const MAX_LEVEL: u8 = 15;

/// Where node vectors live.
pub(crate) enum Vectors {
    /// In a flat array of their own (int8 traversal: the blocks hold the codes).
    Owned(Vec<f32>),
    /// In the node blocks, right after the level-0 list (f32 traversal).
    Inline,
    /// In the caller's source; the index keeps row numbers.
    Source {
        source: Arc<dyn VectorSource>,
        rows: Vec<u32>,
    },
}

impl std::fmt::Debug for Vectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Vectors::Owned(v) => write!(f, "Owned({} floats)", v.len()),
            Vectors::Inline => write!(f, "Inline"),
            Vectors::Source { rows, .. } => write!(f, "Source({} rows)", rows.len()),
        }
    }
}

/// The int8 codec (nexus-quant's symmetric codes) and the decoded norms; the codes themselves
/// live in the node blocks.
#[derive(Debug)]
pub(crate) struct Codes {
    pub(crate) codec: Option<Int8Symmetric>,
    pub(crate) trained_on: usize,
    pub(crate) norms: Vec<f32>,
}

/// Words in a cache line.
pub(crate) const LINE_WORDS: usize = 16;

/// One 64-byte cache line of words: node blocks are whole, aligned lines.
#[repr(C, align(64))]
pub(crate) struct Line([AtomicU32; LINE_WORDS]);

impl Line {
    fn empty() -> Self {
        Self(std::array::from_fn(|_| AtomicU32::new(NONE)))
    }
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Line")
    }
}

/// What a node block holds after its level-0 list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payload {
    /// Nothing (f32 traversal on a caller's source).
    None,
    /// The node's int8 code (`dim` bytes).
    Code,
    /// The node's f32 vector (`dim` floats).
    Vector,
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
    /// Per node one block of `stride` words (whole cache lines, 64-byte aligned): the level-0
    /// list (`m0` words, empty slots hold `NONE`), then the payload — what one step of a walk
    /// touches sits in one block.
    pub(crate) blocks: Vec<Line>,
    /// Words per node block (a multiple of [`LINE_WORDS`]).
    pub(crate) stride: usize,
    pub(crate) payload: Payload,
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
        let (vectors, payload) = match (source, int8) {
            (Some(source), _) => (
                Vectors::Source {
                    source,
                    rows: Vec::new(),
                },
                if int8 { Payload::Code } else { Payload::None },
            ),
            (None, true) => (Vectors::Owned(Vec::new()), Payload::Code),
            (None, false) => (Vectors::Inline, Payload::Vector),
        };
        let m0 = 2 * m;
        let payload_words = match payload {
            Payload::None => 0,
            Payload::Code => dim.div_ceil(4),
            Payload::Vector => dim,
        };
        Self {
            dim,
            m,
            m0,
            metric,
            ids: Vec::new(),
            levels: Vec::new(),
            deleted: Vec::new(),
            blocks: Vec::new(),
            stride: (m0 + payload_words).next_multiple_of(LINE_WORDS),
            payload,
            upper_slot: Vec::new(),
            upper: Vec::new(),
            locks: Vec::new(),
            vectors,
            codes: int8.then(|| Codes {
                codec: None,
                trained_on: 0,
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

    /// The `stride` words of `node`'s block.
    #[inline]
    pub(crate) fn block(&self, node: u32) -> &[AtomicU32] {
        let lines = self.stride / LINE_WORDS;
        let b = &self.blocks[node as usize * lines..(node as usize + 1) * lines];
        // SAFETY: `Line` is `repr(C)` around `[AtomicU32; 16]`, 64 bytes with no padding, so
        // `b.len()` consecutive lines are `16 · b.len()` consecutive, initialised words of one
        // allocation, borrowed for as long as `b` is.
        unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<AtomicU32>(), b.len() * LINE_WORDS) }
    }

    /// The payload of `node`'s block as `len` bytes (`len` ≤ the payload's size).
    #[inline]
    fn payload_ptr(&self, node: u32, len: usize) -> *const u8 {
        let words = &self.block(node)[self.m0..];
        assert!(len <= words.len() * 4, "payload out of its block");
        words.as_ptr().cast::<u8>()
    }

    /// `node`'s int8 code (in its block; only with [`Payload::Code`]).
    #[inline]
    pub(crate) fn code(&self, node: u32) -> &[i8] {
        debug_assert_eq!(self.payload, Payload::Code);
        let p = self.payload_ptr(node, self.dim);
        // SAFETY: `payload_ptr` checked that `dim` bytes lie inside the block, which `self`
        // borrows. Payload words are written only through `&mut Store` (push, encode, load),
        // never through the shared atomics, so nothing mutates them while this borrow lives;
        // any bit pattern is a valid i8.
        unsafe { std::slice::from_raw_parts(p.cast::<i8>(), self.dim) }
    }

    #[inline]
    pub(crate) fn vector(&self, node: u32) -> &[f32] {
        let n = node as usize;
        match &self.vectors {
            Vectors::Owned(v) => &v[n * self.dim..(n + 1) * self.dim],
            Vectors::Inline => {
                let p = self.payload_ptr(node, self.dim * 4);
                // SAFETY: as in `code`: `dim` floats lie inside the block (checked), the
                // payload is written only through `&mut Store`; the block is 64-byte aligned
                // and the payload starts `m0` words in, so the pointer is 4-byte aligned; the
                // words were stored from f32 bits, and any bit pattern is a valid f32.
                unsafe { std::slice::from_raw_parts(p.cast::<f32>(), self.dim) }
            }
            Vectors::Source { source, rows } => source.row(rows[n] as usize),
        }
    }

    /// Writes `bytes` (at most the payload's size) into `node`'s payload.
    fn set_payload(&mut self, node: u32, bytes: &[u8]) {
        let m0 = self.m0;
        let lines = self.stride / LINE_WORDS;
        let start = node as usize * lines;
        let words = self.blocks[start..start + lines]
            .iter_mut()
            .flat_map(|l| l.0.iter_mut())
            .skip(m0);
        for (w, c) in words.zip(bytes.chunks(4)) {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            // The words are read back as bytes in memory order (`code`, `vector`).
            *w.get_mut() = bytemuck::pod_read_unaligned::<u32>(&b);
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
        self.blocks.reserve_exact(extra * self.stride / LINE_WORDS);
        crate::hugepages::advise(&self.blocks);
        self.upper_slot.reserve_exact(extra);
        self.locks.reserve_exact(extra);
        match &mut self.vectors {
            Vectors::Owned(v) => v.reserve_exact(extra * self.dim),
            Vectors::Inline => {}
            Vectors::Source { rows, .. } => rows.reserve_exact(extra),
        }
        if let Some(c) = self.codes.as_mut() {
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
        let capacity = self.blocks.capacity();
        self.blocks
            .extend((0..self.stride / LINE_WORDS).map(|_| Line::empty()));
        if self.blocks.capacity() != capacity {
            crate::hugepages::advise(&self.blocks);
        }
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
            Vectors::Inline => {
                let v = vector.expect("owned storage takes vectors");
                let bytes: Vec<u8> = bytemuck::cast_slice::<f32, u8>(v).to_vec();
                self.set_payload(node, &bytes);
            }
            Vectors::Source { rows, .. } => rows.push(row),
        }
        if let Some(c) = self.codes.as_mut() {
            c.norms.push(0.0);
        }
        node
    }

    /// Stores `code` as `node`'s code and its decoded norm (loading a file).
    pub(crate) fn set_code(&mut self, node: u32, code: &[i8], norm: f32) {
        let bytes: &[u8] = bytemuck::cast_slice(code);
        self.set_payload(node, bytes);
        if let Some(c) = self.codes.as_mut() {
            c.norms[node as usize] = norm;
        }
    }

    /// Encodes nodes `from..` (or retrains and re-encodes all, while the index is young).
    pub(crate) fn encode_from(&mut self, from: usize) {
        let n = self.len();
        let dim = self.dim;
        let Some(mut codes) = self.codes.take() else {
            return;
        };
        codes.norms.resize(n, 0.0);
        let mut start = from;
        if int8_codes::needs_training(codes.codec.as_ref(), codes.trained_on, n) {
            let take = n.min(TRAIN_MAX);
            let mut sample = Vec::with_capacity(take * dim);
            for u in 0..take {
                sample.extend_from_slice(self.vector(u as u32));
            }
            // Vectors are validated on entry (finite, at most MAX_ABS; the dimension at most
            // nexus_quant::MAX_DIM with int8 codes), so training succeeds; should it not (a
            // caller's source whose rows changed), the previous codec stays, or the walk
            // stays on f32 until one trains.
            if let Ok(codec) = Int8Symmetric::train(&sample, dim) {
                codes.codec = Some(codec);
                codes.trained_on = n;
                start = 0;
            }
        }
        if let Some(codec) = codes.codec.as_ref() {
            let mut code = vec![0i8; dim];
            for u in start..n {
                codes.norms[u] = int8_codes::encode_row(codec, self.vector(u as u32), &mut code);
                self.set_payload(u as u32, bytemuck::cast_slice(&code));
            }
        }
        self.codes = Some(codes);
    }

    /// The words of `node`'s list at a level ≥ 1: `[count, neighbours…]`.
    #[inline]
    fn upper_links(&self, node: u32, level: u8) -> &[AtomicU32] {
        let slot = self.upper_slot[node as usize] as usize;
        let w = 1 + self.m;
        let l = usize::from(level) - 1;
        &self.upper[slot][l * w..(l + 1) * w]
    }

    /// Starts loading `node`'s list at `level` into the cache.
    #[inline]
    pub(crate) fn prefetch_links(&self, node: u32, level: u8) {
        if level == 0 {
            prefetch(&self.block(node)[..self.m0], 2);
        } else {
            prefetch(self.upper_links(node, level), 2);
        }
    }

    /// Copies `node`'s neighbours at `level` into `out` (lock-free; a concurrent writer may
    /// make the copy slightly stale, never invalid: every stored id is a node).
    #[inline]
    pub(crate) fn neighbours_into(&self, node: u32, level: u8, out: &mut Vec<u32>) {
        out.clear();
        if level == 0 {
            out.extend(
                self.block(node)[..self.m0]
                    .iter()
                    .map(|w| w.load(Relaxed))
                    .take_while(|&v| v != NONE),
            );
        } else {
            let words = self.upper_links(node, level);
            let count = (words[0].load(Relaxed) as usize).min(words.len() - 1);
            out.extend(words[1..=count].iter().map(|w| w.load(Relaxed)));
        }
    }

    /// The neighbours of `node` at `level` not yet in `visited`, marked now, into `fresh`
    /// (`scratch` is a buffer for upper levels). Level 0 reads the block in place.
    #[inline]
    fn fresh_neighbours(
        &self,
        node: u32,
        level: u8,
        visited: &mut Visited,
        scratch: &mut Vec<u32>,
        fresh: &mut Vec<u32>,
    ) {
        fresh.clear();
        if level == 0 {
            for w in &self.block(node)[..self.m0] {
                let v = w.load(Relaxed);
                if v == NONE {
                    break;
                }
                if visited.insert(v) {
                    fresh.push(v);
                }
            }
        } else {
            self.neighbours_into(node, level, scratch);
            fresh.extend(scratch.iter().copied().filter(|&v| visited.insert(v)));
        }
    }

    /// Replaces `node`'s list at `level` (caller holds the node's lock).
    pub(crate) fn set_links(&self, node: u32, level: u8, list: &[u32]) {
        if level == 0 {
            let words = &self.block(node)[..self.m0];
            let count = list.len().min(words.len());
            for (i, w) in words.iter().enumerate() {
                w.store(if i < count { list[i] } else { NONE }, Relaxed);
            }
        } else {
            let words = self.upper_links(node, level);
            let count = list.len().min(words.len() - 1);
            for (w, &v) in words[1..].iter().zip(&list[..count]) {
                w.store(v, Relaxed);
            }
            words[0].store(count as u32, Relaxed);
        }
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
                self.prefetch_links(next.item, level);
            }
            self.fresh_neighbours(c.item, level, visited, &mut neigh, &mut fresh);
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
        let int8 = codes.and_then(|c| {
            c.codec
                .as_ref()
                .and_then(|k| Int8Scorer::new(self, c, k, query))
        });
        if let Some(mut scorer) = int8 {
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
            Vectors::Inline => 0,
            Vectors::Source { rows, .. } => rows.capacity() * 4,
        };
        let codes = self
            .codes
            .as_ref()
            .map_or(0, |c| c.norms.capacity() * 4 + self.dim * 4);
        let upper: usize =
            self.upper.iter().map(|b| b.len() * 4 + 16).sum::<usize>() + self.upper.capacity() * 16;
        self.ids.capacity() * 8
            + self.levels.capacity()
            + self.deleted.capacity()
            + self.blocks.capacity() * std::mem::size_of::<Line>()
            + self.upper_slot.capacity() * 4
            + self.locks.capacity() * std::mem::size_of::<Mutex<()>>()
            + upper
            + vectors
            + codes
    }

    pub(crate) fn mapped_bytes(&self) -> usize {
        match &self.vectors {
            Vectors::Owned(_) | Vectors::Inline => 0,
            Vectors::Source { source, rows } if source.mapped_bytes() > 0 => {
                rows.len() * self.dim * 4
            }
            Vectors::Source { .. } => 0,
        }
    }
}
