//! One shard's W-TinyLFU policy, single-threaded (the cache wraps each in a lock).
//!
//! New entries enter an LRU *window*; an entry pushed out of the window becomes a *candidate* for
//! the main space (an SLRU of *probation* and *protected*) and is admitted only if the frequency
//! sketch says it is more popular than the main space's victim (with a 1/128 random admit for
//! popular candidates, so an attacker cannot pin a victim by hash flooding).
//!
//! The window's size adapts as ARC's target does, from *ghosts*: the hashes of the last
//! candidates refused admission and of the last victims evicted from the main space. A key
//! that returns while its refused-candidate ghost is remembered would have hit with a larger
//! window, so the window grows; one that returns as an evicted victim's ghost would have hit
//! with a larger main space, so the window shrinks. A large window behaves like LRU
//! (recency-heavy traces), a small one like TinyLFU (frequency-heavy traces); an empty one
//! is plain TinyLFU, where a new key contests the main space's victim on arrival. Measured over
//! the cache suite's 26 traces this replaced Caffeine's hill climber (mean hit/OPT 0.778 →
//! 0.81): the climber samples the hit rate every few thousand accesses and, on a flat
//! stretch of the hit-rate curve, wanders; the ghosts say on every miss which way to move.
//! Shards of 4 096 entries or more keep ghosts of one key in four only, chosen by hash, with
//! four times the step (see [`GHOST_SAMPLE_SHIFT`]): the same evidence, sampled, for a quarter
//! of the work on a miss.
//!
//! A hit changes nothing but the entry's own *pending-access count* (a saturating atomic byte,
//! written only when below its cap, so hot entries' lines are never written by readers; at
//! the cap the store goes to a byte of the reading thread's own): the lists
//! are repaired lazily. Whenever the policy examines an entry at a list's back (leaving the
//! window, as the main space's victim, or demoted from protected), it first adds the entry's
//! pending accesses to the sketch. A small window is then a FIFO (its accesses only raise the
//! candidate's frequency), a large one CLOCK-like (see [`CLOCK_WINDOW_FRACTION`]); probation
//! and protected are CLOCK-like: an entry with pending accesses goes from probation's back
//! into protected, or from protected's back to its front, instead of being evicted or
//! demoted. So admission compares candidate and victim with every access of theirs counted,
//! and a hit costs a reader about what it costs in a plain hash map (an exact LRU move per
//! hit, applied from a read buffer, cost a hit about twice quick_cache's).
//!
//! The sketch is allocated, and starts counting, when the shard is first half full, as
//! Caffeine's and moka's are: until the shard is full nothing is evicted, so nothing needs a
//! frequency, and a cache that stays small pays no sketch memory. This also leaves the
//! warm-up's counts out, which otherwise keep a finished phase's hot keys resident against
//! every newcomer until the sketch's halvings wear them down. Over the cache suite (8 hash
//! seeds), cells within 1 pp of the better competitor rose from 116.5 to 118.9 of 130 (the
//! worst seed from 113 to 117), and mean hit/OPT fell from 0.8177 to 0.8159. The largest
//! gains: cloudPhysicsIO at 10 and 25 %, +4.2 and +6.3 pp; P3 at 25 %, +3.7 pp. The largest
//! losses: gli at 25 %, −12.5 pp (a loop run 2.4 times, where the warm-up's counts are most of
//! the history); P6 at 25 %, −3.9 pp. Enabling at a quarter full or when full measured worse
//! (118.5 and 115.2 cells).
//!
//! Every operation is O(1) (amortized for the sketch's halving and growth, and for the second
//! chances, each of which consumes accesses), except expiry, which keeps entries with a time to
//! live in an ordered set: O(log n) for those entries only.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::deque::{Deque, Linked, Links};
use crate::ghost::Ghosts;
use crate::index::Index;
use crate::prefetch::prefetch;
use crate::sketch::Sketch;
use crate::stats::RemovalCause;

/// `expires` of an entry that never expires.
pub(crate) const NEVER: u64 = u64::MAX;
/// The latest expiry time an entry may have (one below [`NEVER`]'s neighbour is given up so
/// that [`Expires`] can encode every time in a non-zero word).
pub(crate) const LATEST_EXPIRY: u64 = u64::MAX - 2;
/// Candidates at least this frequent may win a lost contest by chance (1/128).
const ADMIT_RANDOM_THRESHOLD: u8 = 6;
/// Share of the main space kept for protected entries. Caffeine uses 80; with the ghost-driven
/// window, 90 measured better over the cache suite (mean hit/OPT 0.813 vs 0.806 over repeated
/// runs; 60, 70 and 100 did worse, 85 and 95 no better).
const PROTECTED_PERCENT: u64 = 90;
/// The sketch grows with the entry count up to this many keys.
const MAX_SKETCH_ENTRIES: u64 = 1 << 24;
/// The sketch is allocated sized for at most this many keys, or for the keys held if more
/// (grows on demand).
const INITIAL_SKETCH_ENTRIES: u64 = 1 << 16;
/// The sketch is sized for at least this many keys, however small the shard: its counters are
/// halved every 10 × its size accesses, so this sets the shortest memory of popularity (5 120
/// accesses). A sketch sized to a tiny capacity forgets a key before it comes back and admits
/// every newcomer over the resident entries (LRU-like on loops and scans); measured over the
/// 26 traces of the cache suite, this floor raised the mean hit/OPT of small caches most.
const MIN_SKETCH_ENTRIES: u64 = 512;
/// Refused candidates remembered, per mille of the entries held, and evicted main-space
/// victims likewise. Short memories: a ghost counts only if its key returns about as soon as
/// the window or a slice of the main space would have kept it; longer ones (tried: 20 % to
/// 100 %) grow the window on loops and scans, where returning candidates are not worth it.
const WINDOW_GHOSTS_PER_MILLE: usize = 100;
const MAIN_GHOSTS_PER_MILLE: usize = 50;
/// A ghost's return moves the window by the returning entry's weight times the ghosts'
/// imbalance, times one more for every `WINDOW_STEP_UNIT` of the shard's capacity (rounded;
/// at least once). The ghosts hold a fixed share of the entries, so the returns needed to move
/// the window by a given share of the capacity would otherwise grow with the capacity: a large
/// shard's window then lagged behind the trace (measured on scarab-recs at 25 %, a
/// recency-heavy trace, 8 shards of 8 074: the window took the whole 1.2M accesses to reach a
/// quarter of the cache, and nexus stayed 1.2 pp below LRU; with this, within 1 pp). Shards
/// below 1.5 units (6 144) move as before. Beyond two units the multiplier grows with the
/// square root of the capacity instead (see [`window_step_scale`]).
const WINDOW_STEP_UNIT: u64 = 4096;
/// A window larger than `1 / CLOCK_WINDOW_FRACTION` of the capacity gives an entry with
/// pending accesses a second chance at its back (to its front), as LRU would keep it; a smaller
/// one is a FIFO. The window grows that large on recency-heavy traces, where the cache should
/// act as LRU: as a FIFO it fell below LRU (cpp at 10 %: 0.735 against LRU's 0.757), while a
/// second chance in every window lowered the suite's mean hit/OPT (0.807 against 0.811).
/// Measured over the cache suite, 4 seeds each: mean hit/OPT 0.8135 (FIFO: 0.810 over 5; a
/// threshold of 1/2: 0.811 over 3; 1/8: 0.8085 over 2), cpp at 10 % within 2 pp of
/// quick_cache instead of 8.
const CLOCK_WINDOW_FRACTION: u64 = 4;
/// Pending accesses of an entry saturate here (as the sketch's counters do, so nothing is lost
/// that the sketch could hold): a reader of a hot entry then only loads the count.
const MAX_PENDING: u8 = 15;

/// In shards of [`GHOST_SAMPLE_MIN_CAPACITY`] or more, one key in `2^GHOST_SAMPLE_SHIFT`
/// (chosen by its hash) leaves ghosts and is looked up among them; the ghost lists hold that
/// share of their limits (so they span the same stretch of the trace), and a ghost's return
/// moves the window that many times further. The ghosts' table work was the largest part of a
/// miss that quick_cache does not have: one key in 4 made the get-or-insert loop 8–10 % faster
/// at Zipf 0.9 and 1.1, 100k entries, one thread (one in 2: 1–7 %). Over the cache suite, 6
/// hash seeds: mean hit/OPT 0.8183 → 0.8179, cells within 1 pp of the better competitor
/// 117.3 → 117.2 of 130, none below LRU; cloudPhysicsIO at 10 and 25 % gave 0.8 and 1.1 pp.
/// One in 8 put recency cells below LRU in 3 seeds of 6.
const GHOST_SAMPLE_SHIFT: u32 = 2;
/// Shards smaller than this keep a ghost of every key: their ghost lists are short already,
/// and sampling them cost small caches up to 1.1 pp (one key in 2 in every shard: mean
/// hit/OPT 0.8138, against 0.8181 with this floor).
const GHOST_SAMPLE_MIN_CAPACITY: u64 = 4096;
/// Multiplier choosing the sampled hashes (the top bits of the product).
const GHOST_SAMPLE_MIX: u64 = 0xD6E8_FEB8_6659_FD93;

/// Whether the key of `hash` takes part in the ghosts of a shard sampling one key in
/// `2^shift` (see [`GHOST_SAMPLE_SHIFT`]).
#[inline]
fn ghost_sampled(hash: u64, shift: u32) -> bool {
    shift == 0 || hash.wrapping_mul(GHOST_SAMPLE_MIX) >> (64 - shift) == 0
}

/// Pushes `hash` into `ghosts` if its key is sampled, keeping `per_mille` of the `held`
/// entries' worth of ghosts, scaled down to the sampled share.
fn remember(ghosts: &mut Ghosts, hash: u64, held: usize, per_mille: usize, shift: u32) {
    if ghost_sampled(hash, shift) {
        ghosts.push(hash, (held * per_mille / 1000) >> shift);
    }
}

/// The multiplier of a window step for a shard of `capacity` (see [`WINDOW_STEP_UNIT`]): the
/// capacity in units, rounded, up to 2; beyond, `⌊√(capacity / (unit / 2))⌋`, which is 2 at
/// 2.5 units and grows as the square root. Steps in proportion to larger shards overshot on
/// frequency-heavy traces: with the cache suite's caches of 8 192 entries or more in 2 shards
/// instead of the default 8–16 (shards up to 53 000 entries, steps up to ×13), P2 at 10 and
/// 25 %, P3 and P6 at 25 % lost 3–7 pp; with this, they gain 1.8–3.0 pp back and
/// scarab-recs at 25 %, the trace the steps were scaled for, gives 0.6 pp (still above LRU
/// − 1 pp); in 1 shard, P2 and P6 gain 1.0–4.4 pp (6 hash seeds each). Shards of up to
/// 10 239 entries, as are all of the suite's default runs, step as before.
fn window_step_scale(capacity: u64) -> u64 {
    let units = (capacity.saturating_add(WINDOW_STEP_UNIT / 2) / WINDOW_STEP_UNIT).max(1);
    if units <= 2 {
        units
    } else {
        (capacity / (WINDOW_STEP_UNIT / 2)).isqrt().max(2)
    }
}

/// The protected segment's share of what the window leaves to the main space.
fn protected_max(capacity: u64, window_max: u64) -> u64 {
    (capacity - window_max) * PROTECTED_PERCENT / 100
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Region {
    Window,
    Probation,
    Protected,
}

/// What a lookup under a shared lock found.
#[derive(Debug)]
pub(crate) enum Peek<'a, V> {
    /// A live entry's value (its access is noted).
    Live(&'a V),
    /// An entry whose time to live has passed (removing it needs the write lock).
    Expired,
    /// No entry.
    Absent,
}

/// One cached entry: its key, value, hash, weight (>= 1) and expiry (ns, or [`NEVER`]).
#[derive(Debug)]
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    pub(crate) hash: u64,
    pub(crate) weight: u64,
    pub(crate) expires: u64,
}

/// An expiry time (ns, or [`NEVER`]) stored as a non-zero word: its spare value (0) is the
/// niche that lets `Option<Stored<K, V>>` need no separate tag, so a node of an 8-byte key and
/// value is 32 bytes (with a tag it was 40, and would pad to 64: see [`Node`]). Times up to
/// [`LATEST_EXPIRY`] and [`NEVER`] are representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expires(NonZeroU64);

impl Expires {
    /// The encoding: `expires + 2`, wrapping (so [`NEVER`] is 1; only `NEVER - 1` would be 0).
    #[inline]
    fn new(expires: u64) -> Self {
        debug_assert!(expires <= LATEST_EXPIRY || expires == NEVER);
        Self(NonZeroU64::new(expires.wrapping_add(2)).unwrap_or(NonZeroU64::MIN))
    }

    #[inline]
    fn get(self) -> u64 {
        self.0.get().wrapping_sub(2)
    }

    /// Whether the entry has expired; the clock is read only for entries that can expire.
    #[inline]
    fn passed(self, now: &mut dyn FnMut() -> u64) -> bool {
        let expires = self.get();
        expires != NEVER && expires <= now()
    }
}

thread_local! {
    /// Where [`Stored::note_access`] writes when the entry's count is at its cap: a byte of
    /// the thread's own, never read.
    static SCRATCH: AtomicU8 = const { AtomicU8::new(0) };
}

/// What a slab node keeps of an entry: what a lookup reads and writes. The hash and weight
/// live only in [`Meta`]; the pending-access count lives beside the key, so a hit touches no
/// cache line but the entry's own.
#[derive(Debug)]
struct Stored<K, V> {
    key: K,
    value: V,
    expires: Expires,
    /// Accesses since the policy last looked at the entry (at most [`MAX_PENDING`]). Written
    /// under the shared lock with a plain load and store: concurrent hits on one entry may
    /// count once, which only makes the frequency estimate a little low.
    pending: AtomicU8,
}

impl<K, V> Stored<K, V> {
    /// Notes one access (a hit, or a replacing insert).
    ///
    /// Without a branch: whether a count is at its cap depends on the key (hot keys' are, the
    /// others' are not), so a branch on it mispredicted on about one hit in five (callgrind's
    /// branch model, Zipf 1.1 get-or-insert). The store goes to the entry below the cap and to
    /// the thread's scratch byte at it, chosen by a conditional move: a hot entry's line is
    /// still never written, so readers on other cores keep their copies (measured in-process
    /// A/B, one thread: +4 to +11 % gets, +3 to +6 % get-or-insert at Zipf 1.1).
    #[inline]
    fn note_access(&self) {
        let c = self.pending.load(Ordering::Relaxed);
        SCRATCH.with(|scratch| {
            let target = std::hint::select_unpredictable(c < MAX_PENDING, &self.pending, scratch);
            target.store(c.wrapping_add(1), Ordering::Relaxed);
        });
    }
}

/// A slab slot. Aligned to 32 bytes: a large `Vec` starts 16 bytes past a cache line (glibc
/// serves it from an `mmap` behind a 16-byte header), so every other node of 32 bytes
/// straddled two lines and half the hits loaded two. Aligned, such a node never straddles
/// (callgrind's cache model, Zipf 1.1 get-or-insert, 1 MiB L2: 16 % fewer L2 misses with
/// [`Meta`] aligned too, 10 points of them from the nodes; in-process A/B, one thread:
/// 0.97–1.06×, median 1.04×, over 6 runs of 30). A bigger node pads to a multiple of 32 bytes.
#[derive(Debug)]
#[repr(align(32))]
struct Node<K, V> {
    entry: Option<Stored<K, V>>,
}

/// What the policy's list moves, admission and eviction read of an entry, kept apart from
/// the (bigger, cold) entries in a compact array: moving, weighing and comparing entries
/// touches one small record each instead of a whole entry. `hash` and `weight` mirror the
/// entry's; `weight` is 0 while the slot is free (entries weigh at least 1). 32 bytes, aligned
/// as [`Node`] is, so that one never straddles two cache lines either.
#[derive(Clone, Copy, Debug)]
#[repr(align(32))]
struct Meta {
    links: Links,
    hash: u64,
    weight: u64,
    region: Region,
}

impl Linked for Vec<Meta> {
    #[inline]
    fn links(&mut self, i: u32) -> &mut Links {
        &mut self[i as usize].links
    }
}

/// Where removed entries go: to the eviction listener (collected, handed over after the
/// shard's lock is released) or dropped on the spot when there is no listener.
#[derive(Debug)]
pub(crate) struct Sink<K, V> {
    collect: bool,
    pub(crate) items: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Sink<K, V> {
    pub(crate) fn new(collect: bool) -> Self {
        Self {
            collect,
            items: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, key: K, value: V, cause: RemovalCause) {
        if self.collect {
            self.items.push((key, value, cause));
        }
    }
}

/// Counters kept by a shard's policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PolicyCounters {
    pub(crate) evictions: u64,
    pub(crate) expirations: u64,
}

/// One shard: W-TinyLFU over a slab of nodes, indexed by a hash table of slab indices.
#[derive(Debug)]
pub(crate) struct Policy<K, V> {
    index: Index,
    nodes: Vec<Node<K, V>>,
    /// `meta[i]`: the list links, hash, weight and region of `nodes[i]`.
    meta: Vec<Meta>,
    free: Vec<u32>,
    window: Deque,
    probation: Deque,
    protected: Deque,
    capacity: u64,
    window_max: u64,
    protected_max: u64,
    sketch: Sketch,
    /// Refused candidates' hashes: their return grows the window.
    window_ghosts: Ghosts,
    /// Evicted main-space victims' hashes: their return shrinks the window.
    main_ghosts: Ghosts,
    rng: u64,
    /// `(expires, slab index)` of the entries that have a time to live.
    expiry: BTreeSet<(u64, u32)>,
    pub(crate) counters: PolicyCounters,
    /// Keys added so far (see [`added`](Self::added)).
    added: u64,
}

impl<K: Eq, V> Policy<K, V> {
    /// A policy holding at most `capacity` weight (`capacity >= 1`), its index allocated for
    /// `index_capacity` keys up front (it grows past them on demand).
    pub(crate) fn new(capacity: u64, seed: u64, index_capacity: usize) -> Self {
        let window_max = (capacity / 100).max(1);
        Self {
            index: Index::with_capacity(index_capacity),
            nodes: Vec::new(),
            meta: Vec::new(),
            free: Vec::new(),
            window: Deque::EMPTY,
            probation: Deque::EMPTY,
            protected: Deque::EMPTY,
            capacity,
            window_max,
            protected_max: protected_max(capacity, window_max),
            sketch: Sketch::unallocated(),
            window_ghosts: Ghosts::default(),
            main_ghosts: Ghosts::default(),
            rng: seed | 1,
            expiry: BTreeSet::new(),
            counters: PolicyCounters::default(),
            added: 0,
        }
    }

    /// Total weight held.
    pub(crate) fn weight(&self) -> u64 {
        self.window.weight + self.probation.weight + self.protected.weight
    }

    /// Number of entries held (expired ones included until they are noticed).
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The window's current maximum weight (moved by the ghosts).
    #[cfg(test)]
    pub(crate) fn window_max(&self) -> u64 {
        self.window_max
    }

    /// One key in `2^ghost_shift()` takes part in the ghosts (see [`GHOST_SAMPLE_SHIFT`]).
    #[inline]
    fn ghost_shift(&self) -> u32 {
        if self.capacity >= GHOST_SAMPLE_MIN_CAPACITY {
            GHOST_SAMPLE_SHIFT
        } else {
            0
        }
    }

    /// Whether any entry has a time to live (only then is the clock read on writes).
    pub(crate) fn has_expiring(&self) -> bool {
        !self.expiry.is_empty()
    }

    #[inline]
    fn entry(&self, i: u32) -> &Stored<K, V> {
        self.nodes[i as usize]
            .entry
            .as_ref()
            .expect("indexed slab nodes are occupied")
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let nodes = &self.nodes;
        self.index.find(hash, |i| {
            nodes[i as usize]
                .entry
                .as_ref()
                .is_some_and(|e| e.key.borrow() == key)
        })
    }

    /// Looks `key` up as an access: a live entry's access is noted and its value returned; an
    /// expired one is removed (cause `Expired`) and reported absent. `now` is called only for
    /// entries with a time to live.
    #[inline]
    pub(crate) fn get<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: &mut dyn FnMut() -> u64,
        sink: &mut Sink<K, V>,
    ) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let i = self.find(hash, key)?;
        if self.entry(i).expires.passed(now) {
            self.remove_node(i, RemovalCause::Expired, sink);
            return None;
        }
        let entry = self.entry(i);
        entry.note_access();
        Some(&entry.value)
    }

    /// Looks `key` up as an access under a shared lock: a live entry's access is noted (the
    /// only write: its pending count, while below the cap) and its value returned; an expired
    /// one is left for the exclusive lock to remove.
    #[inline]
    pub(crate) fn peek<Q>(&self, hash: u64, key: &Q, now: &mut dyn FnMut() -> u64) -> Peek<'_, V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(i) = self.find(hash, key) else {
            return Peek::Absent;
        };
        let entry = self.entry(i);
        if entry.expires.passed(now) {
            return Peek::Expired;
        }
        entry.note_access();
        Peek::Live(&entry.value)
    }

    /// Whether `key` is held and live, without counting as an access.
    pub(crate) fn contains<Q>(&self, hash: u64, key: &Q, now: &mut dyn FnMut() -> u64) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.find(hash, key)
            .is_some_and(|i| !self.entry(i).expires.passed(now))
    }

    /// How many keys have been added so far. Only an insert adds a key, so a key found
    /// absent is still absent while this count has not changed.
    pub(crate) fn added(&self) -> u64 {
        self.added
    }

    /// Asks for the cache lines that inserting a new key of `hash` will read: its sketch
    /// block, the records and nodes of the entries at the window's and probation's backs (the
    /// next candidate and victim), which no lookup has touched for long, and the victim's
    /// index bucket and sketch block (reading its hash waits for its record, but nothing else
    /// does).
    #[inline]
    pub(crate) fn prefetch_insert(&self, hash: u64) {
        self.sketch.prefetch(hash);
        if let Some(c) = self.window.back() {
            prefetch(&self.meta[c as usize]);
            prefetch(&self.nodes[c as usize]);
        }
        if let Some(v) = self.probation.back() {
            prefetch(&self.nodes[v as usize]);
            // Reading the victim's hash brings its record in: no hint needed for that line.
            let h = self.meta[v as usize].hash;
            self.index.prefetch(h);
            self.sketch.prefetch(h);
        }
    }

    /// Inserts or replaces; `weight <= capacity` is the caller's check. Evicts to capacity.
    /// `absent`: the caller knows the key is absent (found so while [`added`](Self::added) had
    /// the count it still has), which saves looking it up.
    pub(crate) fn insert(
        &mut self,
        new: Entry<K, V>,
        absent: bool,
        now: &mut dyn FnMut() -> u64,
        sink: &mut Sink<K, V>,
    ) {
        let Entry {
            key,
            value,
            hash,
            weight,
            expires,
        } = new;
        debug_assert!(weight <= self.capacity);
        if self.has_expiring() {
            self.remove_expired(now(), sink);
        }
        debug_assert!(!absent || self.find(hash, &key).is_none());
        let found = if absent { None } else { self.find(hash, &key) };
        if let Some(i) = found {
            let entry = self.nodes[i as usize]
                .entry
                .as_mut()
                .expect("indexed slab nodes are occupied");
            let old_key = std::mem::replace(&mut entry.key, key);
            let old_value = std::mem::replace(&mut entry.value, value);
            let old_expires = std::mem::replace(&mut entry.expires, Expires::new(expires)).get();
            let meta = &mut self.meta[i as usize];
            let old_weight = std::mem::replace(&mut meta.weight, weight);
            let list = match meta.region {
                Region::Window => &mut self.window,
                Region::Probation => &mut self.probation,
                Region::Protected => &mut self.protected,
            };
            list.weight = list.weight - old_weight + weight;
            if old_expires != NEVER {
                self.expiry.remove(&(old_expires, i));
            }
            if expires != NEVER {
                self.expiry.insert((expires, i));
            }
            entry.note_access();
            sink.push(old_key, old_value, RemovalCause::Replaced);
        } else {
            self.added += 1;
            self.adapt_window(hash, weight);
            let i = self.allocate(Entry {
                key,
                value,
                hash,
                weight,
                expires,
            });
            self.index.insert_unique(hash, i);
            self.window.push_front(&mut self.meta, i);
            self.window.weight += weight;
            if expires != NEVER {
                self.expiry.insert((expires, i));
            }
            self.count_new_key(hash);
        }
        self.evict(sink);
    }

    /// Counts a new key of `hash` (already added) in the sketch: allocates the sketch once the
    /// shard is half full (see the [module documentation](self)), then doubles it whenever
    /// it holds more keys than the sketch is sized for (the counts restart).
    fn count_new_key(&mut self, hash: u64) {
        let held = self.index.len() as u64;
        if !self.sketch.is_allocated() {
            if self.weight().saturating_mul(2) < self.capacity {
                return;
            }
            let entries = self
                .capacity
                .clamp(MIN_SKETCH_ENTRIES, INITIAL_SKETCH_ENTRIES);
            self.sketch = Sketch::new(entries.max(held).min(MAX_SKETCH_ENTRIES));
        } else if held > self.sketch.entries() && self.sketch.entries() < MAX_SKETCH_ENTRIES {
            self.sketch = Sketch::new(self.sketch.entries() * 2);
        }
        self.sketch.increment(hash);
    }

    /// Removes `key` (cause `Removed`); returns whether it was held.
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q, sink: &mut Sink<K, V>) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        match self.find(hash, key) {
            Some(i) => {
                self.remove_node(i, RemovalCause::Removed, sink);
                true
            }
            None => false,
        }
    }

    /// Removes every entry `pred` selects (cause `Removed`). O(entries): a bulk operation.
    pub(crate) fn remove_if(
        &mut self,
        mut pred: impl FnMut(&K, &V) -> bool,
        sink: &mut Sink<K, V>,
    ) {
        for i in 0..self.nodes.len() as u32 {
            if self.nodes[i as usize]
                .entry
                .as_ref()
                .is_some_and(|e| pred(&e.key, &e.value))
            {
                self.remove_node(i, RemovalCause::Removed, sink);
            }
        }
    }

    /// Removes every entry whose time to live has passed at `now` (cause `Expired`).
    pub(crate) fn remove_expired(&mut self, now: u64, sink: &mut Sink<K, V>) {
        while let Some(&(t, i)) = self.expiry.first() {
            if t > now {
                break;
            }
            self.remove_node(i, RemovalCause::Expired, sink);
        }
    }

    /// A slab slot for `entry`, in the window region, not yet linked.
    fn allocate(&mut self, entry: Entry<K, V>) -> u32 {
        let meta = Meta {
            links: Links::DETACHED,
            hash: entry.hash,
            weight: entry.weight,
            region: Region::Window,
        };
        let node = Node {
            entry: Some(Stored {
                key: entry.key,
                value: entry.value,
                expires: Expires::new(entry.expires),
                pending: AtomicU8::new(0),
            }),
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                self.meta[i as usize] = meta;
                i
            }
            None => {
                self.nodes.push(node);
                self.meta.push(meta);
                u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 entries per shard")
            }
        }
    }

    fn remove_node(&mut self, i: u32, cause: RemovalCause, sink: &mut Sink<K, V>) {
        // Its accesses still count for its key's popularity (it may come back).
        self.flush(i);
        let Meta {
            hash,
            weight,
            region,
            ..
        } = self.meta[i as usize];
        let list = match region {
            Region::Window => &mut self.window,
            Region::Probation => &mut self.probation,
            Region::Protected => &mut self.protected,
        };
        list.unlink(&mut self.meta, i);
        list.weight -= weight;
        self.meta[i as usize].weight = 0;
        let indexed = self.index.remove(hash, i);
        debug_assert!(indexed, "a held node is indexed under its hash");
        self.free.push(i);
        match cause {
            RemovalCause::Capacity => self.counters.evictions += 1,
            RemovalCause::Expired => self.counters.expirations += 1,
            _ => {}
        }
        let node = &mut self.nodes[i as usize].entry;
        if !sink.collect && self.expiry.is_empty() {
            // Nothing needs the entry (no listener; no expiry record, so it never expires):
            // overwrite it without reading it, which saves a cache miss per eviction when the
            // key and value need no drop.
            *node = None;
            return;
        }
        let entry = node.take().expect("indexed slab nodes are occupied");
        let expires = entry.expires.get();
        if expires != NEVER {
            self.expiry.remove(&(expires, i));
        }
        sink.push(entry.key, entry.value, cause);
    }

    /// Adds the pending accesses of node `i` to the sketch and clears them; whether it had any.
    // Always inlined: called several times per eviction, and as a call it cost more in frame
    // set-up than in work (callgrind, Zipf 1.1 get-or-insert: 70 instructions fewer a miss).
    #[inline(always)]
    fn flush(&mut self, i: u32) -> bool {
        let Some(stored) = self.nodes[i as usize].entry.as_mut() else {
            return false;
        };
        let pending = std::mem::take(stored.pending.get_mut());
        if pending != 0 {
            self.sketch.add(self.meta[i as usize].hash, pending);
        }
        pending != 0
    }

    /// Moves probation's node `i` to protected's front (its second chance). Protected may run
    /// over its share until the next [`demote_protected_overflow`](Self::demote_protected_overflow).
    fn promote(&mut self, i: u32) {
        let weight = self.meta[i as usize].weight;
        self.probation.unlink(&mut self.meta, i);
        self.probation.weight -= weight;
        self.protected.push_front(&mut self.meta, i);
        self.protected.weight += weight;
        self.meta[i as usize].region = Region::Protected;
    }

    /// A new key of `hash` arrives: if a ghost remembers it, move the window's size towards
    /// the side that would have kept it, by its weight times the ghosts' imbalance (ARC's
    /// rule: the rarer kind of ghost hit moves the target further). The window may shrink to
    /// nothing: a new key then contests the main space's victim as soon as it is inserted, as
    /// in plain TinyLFU. (A floor of weight 1 measured worse on small caches, where one entry
    /// is a tenth of the capacity: cache suite, 6 fixed hash seeds, mean hit/OPT 0.8111 →
    /// 0.8173, higher on every seed; `cpp` and `2_pools` at 0.1–1 % up 0.6–1.1 pp.)
    fn adapt_window(&mut self, hash: u64, weight: u64) {
        if !ghost_sampled(hash, self.ghost_shift()) {
            return;
        }
        let grow = if self.window_ghosts.contains(hash) {
            true
        } else if self.main_ghosts.contains(hash) {
            false
        } else {
            return;
        };
        // Only a ghost hit (rare) pays for the step's arithmetic.
        let (w, m) = (self.window_ghosts.len(), self.main_ghosts.len());
        let weight = weight.saturating_mul(window_step_scale(self.capacity) << self.ghost_shift());
        if grow {
            let step = weight.saturating_mul((m / w.max(1)).max(1) as u64);
            self.window_max = self.window_max.saturating_add(step).min(self.capacity);
        } else {
            let step = weight.saturating_mul((w / m.max(1)).max(1) as u64);
            self.window_max = self.window_max.saturating_sub(step);
        }
        self.protected_max = protected_max(self.capacity, self.window_max);
        self.demote_protected_overflow();
    }

    /// Demotes protected's least recently used entries to probation until protected fits its
    /// share; an entry with pending accesses goes back to protected's front instead.
    fn demote_protected_overflow(&mut self) {
        while self.protected.weight > self.protected_max {
            let Some(j) = self.protected.back() else {
                break;
            };
            if self.flush(j) {
                self.protected.move_to_front(&mut self.meta, j);
                continue;
            }
            let w = self.meta[j as usize].weight;
            self.protected.unlink(&mut self.meta, j);
            self.protected.weight -= w;
            self.probation.push_front(&mut self.meta, j);
            self.probation.weight += w;
            self.meta[j as usize].region = Region::Probation;
        }
    }

    /// Moves window overflow into probation as candidates, then evicts until the total weight
    /// fits: each candidate contests the main space's victim by frequency. Entries met at a
    /// list's back have their pending accesses added to the sketch first; in probation and
    /// protected, and in a window above [`CLOCK_WINDOW_FRACTION`], those that had any get a
    /// second chance (into protected; to their list's front).
    fn evict(&mut self, sink: &mut Sink<K, V>) {
        let mut candidate = None;
        while self.window.weight > self.window_max {
            let Some(i) = self.window.back() else { break };
            if self.flush(i) && self.window_max > self.capacity / CLOCK_WINDOW_FRACTION {
                self.window.move_to_front(&mut self.meta, i);
                continue;
            }
            let w = self.meta[i as usize].weight;
            self.window.unlink(&mut self.meta, i);
            self.window.weight -= w;
            self.probation.push_front(&mut self.meta, i);
            self.probation.weight += w;
            self.meta[i as usize].region = Region::Probation;
            candidate.get_or_insert(i);
        }
        while self.weight() > self.capacity {
            let victim = match self.probation.back() {
                Some(v) if Some(v) != candidate => {
                    if self.flush(v) {
                        self.promote(v);
                        continue;
                    }
                    Some(v)
                }
                _ => match self.protected.back() {
                    Some(p) if self.flush(p) => {
                        self.protected.move_to_front(&mut self.meta, p);
                        continue;
                    }
                    Some(p) => Some(p),
                    None => self.window.back(),
                },
            };
            match (victim, candidate) {
                (Some(v), None) => self.remove_node(v, RemovalCause::Capacity, sink),
                (Some(v), Some(c)) => {
                    let next = Deque::towards_front(&mut self.meta, c);
                    let (held, shift) = (self.index.len(), self.ghost_shift());
                    if self.admit(c, v) {
                        let hash = self.meta[v as usize].hash;
                        let ghosts = &mut self.main_ghosts;
                        remember(ghosts, hash, held, MAIN_GHOSTS_PER_MILLE, shift);
                        self.remove_node(v, RemovalCause::Capacity, sink);
                    } else {
                        let hash = self.meta[c as usize].hash;
                        let ghosts = &mut self.window_ghosts;
                        remember(ghosts, hash, held, WINDOW_GHOSTS_PER_MILLE, shift);
                        self.remove_node(c, RemovalCause::Capacity, sink);
                    }
                    candidate = next;
                }
                (None, Some(c)) => {
                    let next = Deque::towards_front(&mut self.meta, c);
                    self.remove_node(c, RemovalCause::Capacity, sink);
                    candidate = next;
                }
                (None, None) => break,
            }
        }
        // Promotions above may have overfilled protected; demoting now keeps the demoted
        // entries out of the candidates' run at probation's front.
        self.demote_protected_overflow();
    }

    /// TinyLFU admission: the candidate must be more frequent than the victim.
    fn admit(&mut self, candidate: u32, victim: u32) -> bool {
        let cf = self.sketch.frequency(self.meta[candidate as usize].hash);
        let vf = self.sketch.frequency(self.meta[victim as usize].hash);
        if cf > vf {
            true
        } else if cf >= ADMIT_RANDOM_THRESHOLD {
            self.next_random() & 127 == 0
        } else {
            false
        }
    }

    /// xorshift64: deterministic per shard, enough to break hash-flooding ties.
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Every held key, for tests: `(key, region)` from the window's front to the protected
    /// back... in list order: window, probation, protected (front to back each).
    #[cfg(test)]
    pub(crate) fn lists(&mut self) -> [Vec<u32>; 3] {
        let mut out: [Vec<u32>; 3] = Default::default();
        for (n, d) in [self.window, self.probation, self.protected]
            .iter()
            .enumerate()
        {
            let mut cur = d.back();
            while let Some(i) = cur {
                out[n].push(i);
                cur = Deque::towards_front(&mut self.meta, i);
            }
            out[n].reverse();
        }
        out
    }

    /// The key stored at slab index `i`, for tests.
    #[cfg(test)]
    pub(crate) fn key_at(&self, i: u32) -> &K {
        &self.entry(i).key
    }

    /// The sketch, for tests that replay the policy.
    #[cfg(test)]
    pub(crate) fn sketch(&self) -> &Sketch {
        &self.sketch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node of an 8-byte key and value fills half a cache line exactly.
    #[test]
    fn node_of_words_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Node<u64, u64>>(), 32);
        assert_eq!(std::mem::align_of::<Node<u64, u64>>(), 32);
        assert_eq!(std::mem::size_of::<Meta>(), 32);
        assert_eq!(std::mem::align_of::<Meta>(), 32);
    }

    #[test]
    fn expires_round_trips() {
        for e in [0, 1, 2, 1 << 40, LATEST_EXPIRY - 1, LATEST_EXPIRY, NEVER] {
            assert_eq!(Expires::new(e).get(), e);
        }
    }
}
