//! Model-based test: the shard policy against a plain single-threaded reference of the same
//! W-TinyLFU policy (with accesses noted per entry and applied lazily at the lists' backs: the
//! window a FIFO up to a quarter of the capacity and CLOCK-like above, probation and protected
//! CLOCK-like) written with `Vec` lists, a map of pending counts and O(n) operations, step by
//! step.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;

use crate::policy::{Entry, NEVER, Policy, Sink};
use crate::sketch::Sketch;
use crate::stats::RemovalCause;
use crate::{Cache, Stats};

fn mix(k: u64) -> u64 {
    let mut z = k.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The reference: lists are `Vec`s with the most recent key first.
struct Model {
    window: Vec<u64>,
    probation: Vec<u64>,
    protected: Vec<u64>,
    entries: HashMap<u64, (u64, u64)>,
    capacity: u64,
    window_max: u64,
    protected_max: u64,
    sketch: Sketch,
    /// Hashes of refused candidates and of evicted main-space victims, oldest first.
    window_ghosts: VecDeque<u64>,
    main_ghosts: VecDeque<u64>,
    rng: u64,
    removed: Vec<(u64, RemovalCause)>,
    /// Accesses not yet given to the sketch, per key (at most 15; absent = 0).
    pending: HashMap<u64, u8>,
}

impl Model {
    fn new(capacity: u64, seed: u64) -> Self {
        let window_max = (capacity / 100).max(1);
        Self {
            window: vec![],
            probation: vec![],
            protected: vec![],
            entries: HashMap::new(),
            capacity,
            window_max,
            protected_max: (capacity - window_max) * 90 / 100,
            sketch: Sketch::unallocated(),
            window_ghosts: VecDeque::new(),
            main_ghosts: VecDeque::new(),
            rng: seed | 1,
            removed: vec![],
            pending: HashMap::new(),
        }
    }

    fn weight_of(&self, list: &[u64]) -> u64 {
        list.iter().map(|k| self.entries[k].1).sum()
    }

    fn total(&self) -> u64 {
        self.weight_of(&self.window)
            + self.weight_of(&self.probation)
            + self.weight_of(&self.protected)
    }

    fn get(&mut self, k: u64) -> Option<u64> {
        let v = self.entries.get(&k)?.0;
        self.note(k);
        Some(v)
    }

    fn insert(&mut self, k: u64, v: u64, w: u64) {
        if self.entries.insert(k, (v, w)).is_some() {
            self.removed.push((k, RemovalCause::Replaced));
            self.note(k);
        } else {
            self.adapt(mix(k), w);
            self.window.insert(0, k);
            // A new key counts once, at once, in a sketch that exists from when the model is
            // first half full and doubles whenever it holds more keys than it is sized for.
            if self.sketch.is_allocated() {
                if self.entries.len() as u64 > self.sketch.entries() {
                    self.sketch = Sketch::new(self.sketch.entries() * 2);
                }
                self.sketch.increment(mix(k));
            } else if 2 * self.total() >= self.capacity {
                let held = self.entries.len() as u64;
                self.sketch = Sketch::new(self.capacity.clamp(512, 1 << 16).max(held));
                self.sketch.increment(mix(k));
            }
        }
        self.evict();
    }

    /// An access is only counted, up to 15.
    fn note(&mut self, k: u64) {
        let c = self.pending.entry(k).or_default();
        *c = (*c + 1).min(15);
    }

    /// Gives `k`'s pending accesses to the sketch; whether it had any.
    fn flush(&mut self, k: u64) -> bool {
        let c = self.pending.remove(&k).unwrap_or(0);
        for _ in 0..c {
            self.sketch.increment(mix(k));
        }
        c > 0
    }

    /// Shards of 4096 or more keep ghosts of one key in four only, in lists a quarter as
    /// long, and a ghost's return moves the window four times as far: 4 there, else 1.
    fn sample(&self) -> u64 {
        if self.capacity >= 4096 { 4 } else { 1 }
    }

    /// Whether the key of `hash` takes part in the ghosts: always, or in sampling shards
    /// when its hash times the sampling multiplier has its top two bits clear.
    fn sampled(&self, hash: u64) -> bool {
        self.sample() == 1 || hash.wrapping_mul(0xD6E8_FEB8_6659_FD93) < 1 << 62
    }

    /// ARC's target rule, written out plainly: a returning refused candidate grows the
    /// window, a returning evicted victim shrinks it, by the weight times the imbalance of
    /// the two ghost lists' distinct hashes.
    fn adapt(&mut self, hash: u64, w: u64) {
        if !self.sampled(hash) {
            return;
        }
        let distinct = |g: &VecDeque<u64>| {
            let mut v: Vec<u64> = g.iter().copied().collect();
            v.sort_unstable();
            v.dedup();
            v.len() as u64
        };
        let (gw, gm) = (distinct(&self.window_ghosts), distinct(&self.main_ghosts));
        // One more step per 4096 of capacity, rounded, at least one, up to two; beyond, the
        // square root of the capacity in 2048s, rounded down.
        let units = ((self.capacity + 2048) / 4096).max(1);
        let w = w
            * self.sample()
            * if units <= 2 {
                units
            } else {
                ((self.capacity / 2048) as f64).sqrt().floor() as u64
            };
        if self.window_ghosts.contains(&hash) {
            self.window_max = (self.window_max + w * (gm / gw.max(1)).max(1)).min(self.capacity);
        } else if self.main_ghosts.contains(&hash) {
            self.window_max = self.window_max.saturating_sub(w * (gw / gm.max(1)).max(1));
        } else {
            return;
        }
        self.protected_max = (self.capacity - self.window_max) * 90 / 100;
        self.demote();
    }

    fn remember(ghosts: &mut VecDeque<u64>, hash: u64, limit: usize) {
        ghosts.push_back(hash);
        while ghosts.len() > limit.max(1) {
            ghosts.pop_front();
        }
    }

    /// Protected's oldest entries go to probation until it fits; one that was accessed since
    /// it was last looked at goes back to protected's front instead.
    fn demote(&mut self) {
        while self.weight_of(&self.protected) > self.protected_max {
            let Some(k) = self.protected.pop() else { break };
            if self.flush(k) {
                self.protected.insert(0, k);
            } else {
                self.probation.insert(0, k);
            }
        }
    }

    fn evict(&mut self) {
        let mut candidate: Option<u64> = None;
        while self.weight_of(&self.window) > self.window_max {
            let Some(k) = self.window.pop() else { break };
            // Up to a quarter of the capacity the window is a FIFO (its accesses only raise
            // the candidate's frequency); above, an accessed entry goes back to its front.
            if self.flush(k) && self.window_max > self.capacity / 4 {
                self.window.insert(0, k);
                continue;
            }
            self.probation.insert(0, k);
            candidate.get_or_insert(k);
        }
        while self.total() > self.capacity {
            let victim = match self.probation.last().copied() {
                Some(v) if Some(v) != candidate => {
                    if self.flush(v) {
                        // Accessed in probation: into protected (demoted later, below).
                        self.probation.pop();
                        self.protected.insert(0, v);
                        continue;
                    }
                    Some(v)
                }
                _ => match self.protected.last().copied() {
                    Some(p) if self.flush(p) => {
                        self.protected.pop();
                        self.protected.insert(0, p);
                        continue;
                    }
                    Some(p) => Some(p),
                    None => self.window.last().copied(),
                },
            };
            let next_of = |m: &Self, c: u64| {
                let p = m.probation.iter().position(|&x| x == c).unwrap();
                (p > 0).then(|| m.probation[p - 1])
            };
            match (victim, candidate) {
                (Some(v), None) => self.drop_key(v),
                (Some(v), Some(c)) => {
                    let next = next_of(self, c);
                    let cf = self.sketch.frequency(mix(c));
                    let vf = self.sketch.frequency(mix(v));
                    let admit = cf > vf || (cf >= 6 && self.random() & 127 == 0);
                    // Ghost lists hold 10 % (refused candidates) and 5 % (victims) of the
                    // entries held before the drop.
                    let held = self.entries.len();
                    let n = self.sample() as usize;
                    if admit && self.sampled(mix(v)) {
                        Self::remember(&mut self.main_ghosts, mix(v), held * 50 / 1000 / n);
                    } else if !admit && self.sampled(mix(c)) {
                        Self::remember(&mut self.window_ghosts, mix(c), held * 100 / 1000 / n);
                    }
                    self.drop_key(if admit { v } else { c });
                    candidate = next;
                }
                (None, Some(c)) => {
                    let next = next_of(self, c);
                    self.drop_key(c);
                    candidate = next;
                }
                (None, None) => break,
            }
        }
        self.demote();
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn drop_key(&mut self, k: u64) {
        // A leaving entry's accesses still count for its key.
        self.flush(k);
        for list in [&mut self.window, &mut self.probation, &mut self.protected] {
            list.retain(|&x| x != k);
        }
        self.entries.remove(&k);
        self.removed.push((k, RemovalCause::Capacity));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Get(u64),
    Insert(u64, u64),
    Remove(u64),
}

fn ops(keys: u64, max_weight: u64) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0..keys).prop_map(Op::Get),
        6 => (0..keys, 1..=max_weight).prop_map(|(k, w)| Op::Insert(k, w)),
        1 => (0..keys).prop_map(Op::Remove),
    ];
    // Skewed keys: squaring a uniform draw makes small keys hot, so frequency matters.
    proptest::collection::vec(op, 1..1500).prop_map(move |v| {
        v.into_iter()
            .map(|o| match o {
                Op::Get(k) => Op::Get(k * k / keys),
                Op::Insert(k, w) => Op::Insert(k * k / keys, w),
                Op::Remove(k) => Op::Remove(k),
            })
            .collect()
    })
}

/// Replays `ops` on the policy and the model. Odd seeds run without collecting removed entries
/// (as a cache without a listener does: the policy then drops them unread); the lists still
/// show that the same entries left. Returns the smallest window size the run reached.
fn run(capacity: u64, seed: u64, ops: &[Op]) -> Result<u64, TestCaseError> {
    let mut policy: Policy<u64, u64> = Policy::new(capacity, seed, 0);
    let mut model = Model::new(capacity, seed);
    let mut smallest_window = u64::MAX;
    let mut now = || 0u64;
    let collect = seed.is_multiple_of(2);
    for (step, op) in ops.iter().enumerate() {
        let mut sink = Sink::new(collect);
        match *op {
            Op::Get(k) => {
                let got = policy.get(mix(k), &k, &mut now, &mut sink).copied();
                prop_assert_eq!(got, model.get(k), "step {} {:?}", step, op);
            }
            Op::Insert(k, w) => {
                let w = w.min(capacity);
                let entry = Entry {
                    key: k,
                    value: k + 1000 * step as u64,
                    hash: mix(k),
                    weight: w,
                    expires: NEVER,
                };
                policy.insert(entry, false, &mut now, &mut sink);
                model.insert(k, k + 1000 * step as u64, w);
            }
            Op::Remove(k) => {
                let held = policy.remove(mix(k), &k, &mut sink);
                prop_assert_eq!(held, model.entries.contains_key(&k));
                if held {
                    model.drop_key(k);
                    model.removed.pop();
                    model.removed.push((k, RemovalCause::Removed));
                }
            }
        }
        let removed: Vec<(u64, RemovalCause)> =
            sink.items.iter().map(|(k, _, c)| (*k, *c)).collect();
        if collect {
            prop_assert_eq!(&removed, &model.removed, "step {} {:?}", step, op);
        }
        model.removed.clear();
        let lists = policy.lists();
        let keys = |l: &Vec<u32>| l.iter().map(|&i| *policy.key_at(i)).collect::<Vec<u64>>();
        prop_assert_eq!(
            keys(&lists[0]),
            model.window.clone(),
            "window, step {}",
            step
        );
        prop_assert_eq!(
            keys(&lists[1]),
            model.probation.clone(),
            "probation, step {}",
            step
        );
        prop_assert_eq!(
            keys(&lists[2]),
            model.protected.clone(),
            "protected, step {}",
            step
        );
        prop_assert_eq!(policy.window_max(), model.window_max);
        prop_assert!(policy.weight() <= capacity);
        prop_assert_eq!(policy.weight(), model.total());
        prop_assert_eq!(policy.sketch().entries(), model.sketch.entries());
        smallest_window = smallest_window.min(policy.window_max());
    }
    Ok(smallest_window)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn policy_matches_reference_unit_weights(capacity in 1u64..40, seed: u64, ops in ops(100, 1)) {
        run(capacity, seed, &ops)?;
    }

    #[test]
    fn policy_matches_reference_weighted(capacity in 1u64..60, seed: u64, ops in ops(80, 7)) {
        run(capacity, seed, &ops)?;
    }
}

/// `n` deterministic ops: `op(step, x)` for the xorshift64 sequence `x` seeded with `seed`.
fn xorshift_ops(seed: u64, n: u64, op: impl Fn(u64, u64) -> Op) -> Vec<Op> {
    let mut x = seed;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            op(i, x)
        })
        .collect()
}

/// A long deterministic run that crosses many window adaptations and sketch halvings.
#[test]
fn policy_matches_reference_long_run() {
    let ops = xorshift_ops(7, 20_000, |i, x| {
        // Phases: frequency-heavy, then a scan, then recency-heavy.
        let k = match i / 5000 {
            0 | 3 => (x % 300) * (x % 300) / 300,
            1 => i % 400,
            _ => (i / 3 + x % 20) % 500,
        };
        if x.is_multiple_of(2) {
            Op::Get(k)
        } else {
            Op::Insert(k, 1)
        }
    });
    // The frequency-heavy phases shrink the window to nothing, where new keys contest the
    // main space's victim as soon as they arrive.
    assert_eq!(run(50, 99, &ops).unwrap(), 0);
    assert_eq!(run(50, 98, &ops).unwrap(), 0);
}

/// A long run of heavy entries in a shard big enough for a window step of four times the
/// returning entry's weight (capacity 32 768: eight units of 4 096, a multiplier of
/// √(32 768 / 2 048) = 4).
#[test]
fn policy_matches_reference_large_capacity() {
    let ops = xorshift_ops(11, 20_000, |i, x| {
        // Recency-heavy, then frequency-heavy: the window moves both ways.
        let k = if i < 10_000 {
            (i / 2 + x % 8) % 40
        } else {
            (x % 60) * (x % 60) / 60
        };
        if x.is_multiple_of(3) {
            Op::Get(k)
        } else {
            Op::Insert(k, 500 + x % 1500)
        }
    });
    // The frequency-heavy half empties the window.
    assert_eq!(run(32_768, 5, &ops).unwrap(), 0);
}

/// The cache notes hits taken under its shared lock in the entries themselves, as the policy's
/// own `get` does. Single-threaded, a one-shard cache and a bare policy must see the same
/// results and evict the same entries, op by op, and the cache's counters must add up.
fn cache_matches_policy(capacity: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let events: Arc<Mutex<Vec<(u64, RemovalCause)>>> = Arc::default();
    let log = Arc::clone(&events);
    let cache: Cache<u64, u64> = Cache::builder(capacity)
        .shards(1)
        .eviction_listener(move |k, _v, c| log.lock().unwrap().push((k, c)))
        .build()
        .unwrap();
    // Shard 0's policy is seeded with the hash of 0u64 (see `CacheBuilder::build`).
    let mut policy: Policy<u64, u64> = Policy::new(capacity, cache.hash(&0u64), 0);
    let mut now = || 0u64;
    let (mut hits, mut misses) = (0, 0);
    for (step, op) in ops.iter().enumerate() {
        let mut sink = Sink::new(true);
        match *op {
            Op::Get(k) => {
                let want = policy.get(cache.hash(&k), &k, &mut now, &mut sink).copied();
                prop_assert_eq!(cache.get(&k), want, "step {}", step);
                if want.is_some() {
                    hits += 1;
                } else {
                    misses += 1;
                }
            }
            Op::Insert(k, _) => {
                // A get-or-insert: the benchmark's access.
                let hash = cache.hash(&k);
                let want = match policy.get(hash, &k, &mut now, &mut sink).copied() {
                    Some(v) => {
                        hits += 1;
                        v
                    }
                    None => {
                        misses += 1;
                        let entry = Entry {
                            key: k,
                            value: k + 1,
                            hash,
                            weight: 1,
                            expires: NEVER,
                        };
                        policy.insert(entry, false, &mut now, &mut sink);
                        k + 1
                    }
                };
                prop_assert_eq!(cache.get_or_insert_with(k, || k + 1), want, "step {}", step);
            }
            Op::Remove(k) => {
                let held = policy.remove(cache.hash(&k), &k, &mut sink);
                prop_assert_eq!(cache.remove(&k), held, "step {}", step);
            }
        }
        let want: Vec<(u64, RemovalCause)> = sink.items.iter().map(|(k, _, c)| (*k, *c)).collect();
        let got = std::mem::take(&mut *events.lock().unwrap());
        prop_assert_eq!(got, want, "step {} {:?}", step, op);
    }
    let s: Stats = cache.stats();
    prop_assert_eq!((s.hits, s.misses), (hits, misses));
    prop_assert_eq!(s.entries, policy.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn cache_with_shared_lock_hits_matches_the_policy(capacity in 1u64..40, ops in ops(100, 1)) {
        cache_matches_policy(capacity, &ops)?;
    }
}

/// Long runs of hits saturate the entries' pending counts before evictions look at them.
#[test]
fn cache_matches_policy_across_saturated_counts() {
    let mut ops: Vec<Op> = (0..12).map(|k| Op::Insert(k, 1)).collect();
    ops.extend((0..500).map(|i| Op::Get(i % 12)));
    ops.extend((0..2000).map(|i| {
        if i % 3 == 0 {
            Op::Insert(i % 97, 1)
        } else {
            Op::Get(i % 13)
        }
    }));
    cache_matches_policy(16, &ops).unwrap();
}
