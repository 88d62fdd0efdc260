//! The concurrent cache: shards of [`Policy`], each behind its own lock, plus single-flight
//! loading, weights, time to live, the eviction listener and statistics.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;
use parking_lot::{RwLock, RwLockWriteGuard};

use crate::clock::{Clock, SystemClock, now_nanos};
use crate::counter::Counter;
use crate::error::Error;
use crate::flight::Flight;
use crate::policy::{Entry, LATEST_EXPIRY, NEVER, Peek, Policy, Sink};
use crate::stats::{RemovalCause, Stats};

/// Shards are kept at least this large by default, so that sharding does not distort the policy.
const MIN_DEFAULT_SHARD_CAPACITY: u64 = 4096;
/// Most shards the default chooses.
const MAX_DEFAULT_SHARDS: usize = 64;
/// A cache without a weigher holds at most its capacity in entries, so each shard's index is
/// allocated up front for its share (up to this many keys a shard, 256 KiB): it then never
/// grows while the throughput suite times it. The cap keeps the up-front allocation of a huge,
/// mostly empty cache small; a weighted cache (entries of unknown count) grows its index on
/// demand, doubling.
const PRESIZED_INDEX_MAX_KEYS: u64 = 1 << 14;

type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u64 + Send + Sync>;
type Listener<K, V> = Box<dyn Fn(K, V, RemovalCause) + Send + Sync>;
type ShardCell<K, V> = CachePadded<RwLock<Shard<K, V>>>;

/// One shard: its policy, the loads in flight for its keys, and its counters, behind the
/// shard's own (cache-padded) reader-writer lock. A hit takes the lock shared, notes the
/// access in the entry itself (see [`Policy::peek`]) and counts itself in the cache's
/// [`Counter`] (in a cell of the calling thread's own): hits never wait for each other, and
/// hits on different shards write no shared cache line.
struct Shard<K, V> {
    policy: Policy<K, V>,
    /// The loads in flight, in no order. A list, not a hash table: it holds one entry per load
    /// running in this shard at the moment (one per loading thread, unless a loader nests
    /// loads; usually none or one), and a miss that finds, adds and removes its load in a
    /// list does a third of the work (callgrind).
    flights: Vec<FlightSlot<K, V>>,
    next_ticket: u64,
    rejected: u64,
}

/// What [`Cache::get_shared`] found.
enum Shared<V> {
    /// A live entry's value (its hit counted).
    Hit(V),
    /// An entry whose time to live has passed.
    Expired,
    /// No entry; the shard's count of added keys then ([`Policy::added`]).
    Absent(u64),
}

/// A load in flight: its key and hash, a ticket naming this load, and the waiters' rendezvous
/// (created only when a second caller arrives, so an uncontended miss allocates nothing for
/// it).
struct FlightSlot<K, V> {
    hash: u64,
    key: K,
    ticket: u64,
    waiters: Option<Arc<Flight<V>>>,
}

impl<K: Eq, V> Shard<K, V> {
    /// Removes the load of `ticket` from the in-flight list; its waiters, if any.
    fn take_flight(&mut self, ticket: u64) -> Option<Arc<Flight<V>>> {
        let at = self.flights.iter().position(|f| f.ticket == ticket)?;
        self.flights.swap_remove(at).waiters
    }
}

/// A concurrent, sharded cache bounded by total weight, with W-TinyLFU admission and an
/// adaptive window. See the [crate documentation](crate) for the policy and its limits.
///
/// All methods take `&self`; share it with `Arc` or scoped threads.
pub struct Cache<K, V> {
    shards: Box<[ShardCell<K, V>]>,
    /// Lookups that found a live entry.
    hits: Counter,
    /// Lookups that found none (counted like hits, so a miss needs no exclusive lock).
    misses: Counter,
    hasher: ahash::RandomState,
    shard_mask: u64,
    capacity: u64,
    max_entry_weight: u64,
    weigher: Option<Weigher<K, V>>,
    listener: Option<Listener<K, V>>,
    clock: Arc<dyn Clock>,
    time_to_live: Option<Duration>,
}

/// Configures a [`Cache`]: `Cache::builder(capacity)…build()`.
pub struct CacheBuilder<K, V> {
    capacity: u64,
    shards: Option<usize>,
    hash_seed: Option<u64>,
    weigher: Option<Weigher<K, V>>,
    listener: Option<Listener<K, V>>,
    clock: Arc<dyn Clock>,
    time_to_live: Option<Duration>,
}

impl<K, V> fmt::Debug for CacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards)
            .field("hash_seed", &self.hash_seed)
            .field("weigher", &self.weigher.is_some())
            .field("listener", &self.listener.is_some())
            .field("time_to_live", &self.time_to_live)
            .finish()
    }
}

impl<K, V> fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("capacity", &self.capacity)
            .field("shards", &self.shards.len())
            .field("max_entry_weight", &self.max_entry_weight)
            .field("time_to_live", &self.time_to_live)
            .finish_non_exhaustive()
    }
}

impl<K, V> CacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Splits the cache into `shards` independently locked parts (a power of two, at most the
    /// capacity). Each shard holds `capacity / shards` weight, which is also the largest entry
    /// weight the cache accepts. Default: enough shards for the machine's threads, but no shard
    /// smaller than 4096 (one shard below a capacity of 8192).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Seeds the key hashing with `seed` instead of a random seed per cache, so that the
    /// cache places keys and decides admissions the same way from one run to the next (within
    /// one build: ahash picks its algorithm by the compile target's features, and may change
    /// it between versions). For tests and benchmarks that compare runs; keep the random
    /// default where keys come from untrusted input, which could otherwise be chosen to
    /// collide.
    pub fn hash_seed(mut self, seed: u64) -> Self {
        self.hash_seed = Some(seed);
        self
    }

    /// How much of the capacity an entry uses (default: 1 each). A weight of 0 counts as 1.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// A time to live for every entry inserted without its own (default: none).
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = Some(ttl);
        self
    }

    /// Called with every entry that leaves the cache and why, after the shard's lock is
    /// released (so it may use the cache). A panic in it propagates to the caller of the
    /// operation that removed the entry; the cache stays consistent.
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(K, V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Box::new(listener));
        self
    }

    /// The clock for time to live (default: [`SystemClock`]); tests inject a
    /// [`ManualClock`](crate::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the cache.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`]; [`Error::BadShardCount`] for a shard count that is not a power
    /// of two in `1..=capacity`; [`Error::TtlOverflow`] for a default time to live of 2^63 ns
    /// (292 years) or more.
    pub fn build(self) -> Result<Cache<K, V>, Error> {
        let capacity = self.capacity;
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        let shards = self.shards.unwrap_or_else(|| default_shards(capacity));
        if !shards.is_power_of_two() || shards as u64 > capacity || shards > 1 << 16 {
            return Err(Error::BadShardCount { shards, capacity });
        }
        if let Some(ttl) = self.time_to_live
            && ttl.as_nanos() >= 1 << 63
        {
            return Err(Error::TtlOverflow { ttl });
        }
        let hasher = match self.hash_seed {
            Some(seed) => {
                // splitmix64: four well-mixed keys from one seed.
                let mut x = seed;
                let mut next = || {
                    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let z = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^ (z >> 31)
                };
                ahash::RandomState::with_seeds(next(), next(), next(), next())
            }
            None => ahash::RandomState::new(),
        };
        let base = capacity / shards as u64;
        let extra = capacity % shards as u64;
        let shard_list: Vec<_> = (0..shards as u64)
            .map(|s| {
                let cap = base + u64::from(s < extra);
                let seed = hasher.hash_one(s);
                let index_capacity = if self.weigher.is_none() {
                    cap.min(PRESIZED_INDEX_MAX_KEYS) as usize
                } else {
                    0
                };
                CachePadded::new(RwLock::new(Shard {
                    policy: Policy::new(cap, seed, index_capacity),
                    flights: Vec::new(),
                    next_ticket: 0,
                    rejected: 0,
                }))
            })
            .collect();
        Ok(Cache {
            shards: shard_list.into_boxed_slice(),
            hits: Counter::new(),
            misses: Counter::new(),
            hasher,
            shard_mask: shards as u64 - 1,
            capacity,
            max_entry_weight: base,
            weigher: self.weigher,
            listener: self.listener,
            clock: self.clock,
            time_to_live: self.time_to_live,
        })
    }
}

/// Shards for the machine's parallelism, none below [`MIN_DEFAULT_SHARD_CAPACITY`].
fn default_shards(capacity: u64) -> usize {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let wanted = (threads * 8)
        .next_power_of_two()
        .clamp(16, MAX_DEFAULT_SHARDS);
    let by_capacity = (capacity / MIN_DEFAULT_SHARD_CAPACITY).max(1);
    let by_capacity = 1usize << by_capacity.ilog2().min(16);
    wanted.min(by_capacity)
}

/// Reads the clock at most once per operation, and only if an entry with a TTL is involved.
/// (It borrows the `Arc`, not the clock: finding a `dyn` value inside its `Arc` takes a few
/// instructions that a hit, which almost never reads the clock, should not pay.)
struct LazyNow<'a> {
    clock: &'a Arc<dyn Clock>,
    now: Option<u64>,
}

impl LazyNow<'_> {
    fn get(&mut self) -> u64 {
        *self.now.get_or_insert_with(|| now_nanos(&**self.clock))
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache holding at most `capacity` entries of weight 1, with the default options.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`] when `capacity` is 0.
    pub fn new(capacity: u64) -> Result<Self, Error> {
        Self::builder(capacity).build()
    }

    /// A builder for a cache holding at most `capacity` total weight.
    pub fn builder(capacity: u64) -> CacheBuilder<K, V> {
        CacheBuilder {
            capacity,
            shards: None,
            hash_seed: None,
            weigher: None,
            listener: None,
            clock: Arc::new(SystemClock::new()),
            time_to_live: None,
        }
    }

    /// The total weight the cache may hold.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The heaviest entry the cache stores (its capacity divided among its shards).
    pub fn max_entry_weight(&self) -> u64 {
        self.max_entry_weight
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    #[inline]
    pub(crate) fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<Shard<K, V>> {
        // Bits 32.. choose the shard; hashbrown uses the low bits and the top 7.
        &self.shards[((hash >> 32) & self.shard_mask) as usize]
    }

    /// The shard's exclusive lock.
    #[inline]
    fn write<'a>(&self, shard: &'a RwLock<Shard<K, V>>) -> RwLockWriteGuard<'a, Shard<K, V>> {
        shard.write()
    }

    /// The fast path of a lookup, under the shard's shared lock: a live entry's value, its
    /// access noted and its hit counted; otherwise whether the key is absent or expired (only
    /// an expired entry needs the exclusive lock, to be removed). Misses are not counted here.
    /// `LOADING`: the caller inserts the key if absent, so an absent key's insert has its
    /// cache lines asked for already ([`Policy::prefetch_insert`]).
    ///
    /// Always inlined, and every slower path of its callers is a separate function: a hit
    /// then runs in one small frame (callgrind, Zipf 1.1 gets with 89 % hits: 158 → 120
    /// instructions a `get`, with the changes to [`LazyNow`] and the counters' thread slot).
    #[inline(always)]
    fn get_shared<const LOADING: bool, Q>(
        &self,
        shard: &RwLock<Shard<K, V>>,
        hash: u64,
        key: &Q,
    ) -> Shared<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut now = self.now();
        let guard = shard.read();
        match guard.policy.peek(hash, key, &mut || now.get()) {
            Peek::Live(v) => {
                self.hits.add_one();
                Shared::Hit(v.clone())
            }
            Peek::Expired => Shared::Expired,
            Peek::Absent => {
                if LOADING {
                    guard.policy.prefetch_insert(hash);
                }
                Shared::Absent(guard.policy.added())
            }
        }
    }

    fn now(&self) -> LazyNow<'_> {
        LazyNow {
            clock: &self.clock,
            now: None,
        }
    }

    fn sink(&self) -> Sink<K, V> {
        Sink::new(self.listener.is_some())
    }

    /// Hands removed entries to the listener; call with no lock held.
    fn notify(&self, sink: Sink<K, V>) {
        if let Some(listener) = &self.listener {
            for (k, v, cause) in sink.items {
                listener(k, v, cause);
            }
        }
    }

    fn weigh(&self, key: &K, value: &V) -> u64 {
        self.weigher.as_ref().map_or(1, |w| w(key, value).max(1))
    }

    /// The value of `key`, if held and not expired. Counts a hit or a miss.
    // Inlined into the caller (its slow paths are separate functions): a hit then builds no
    // call frame. Measured at Zipf 1.1 with 89 % hits, one thread: 132 → 101 instructions a
    // `get` (callgrind, with the counter's fixed-size cells), about 10 % more gets a second.
    #[inline(always)]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let shard = self.shard(hash);
        match self.get_shared::<false, Q>(shard, hash, key) {
            Shared::Hit(v) => Some(v),
            Shared::Absent(_) => {
                self.misses.add_one();
                None
            }
            Shared::Expired => self.get_expired(shard, hash, key),
        }
    }

    /// [`get`](Self::get) of an entry found expired under the shared lock: looks again under
    /// the exclusive one, which removes it (another thread may have replaced it meanwhile).
    #[cold]
    #[inline(never)]
    fn get_expired<Q>(&self, shard: &RwLock<Shard<K, V>>, hash: u64, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut sink = self.sink();
        let mut now = self.now();
        let found = self
            .write(shard)
            .policy
            .get(hash, key, &mut || now.get(), &mut sink)
            .cloned();
        if found.is_some() {
            self.hits.add_one();
        } else {
            self.misses.add_one();
        }
        self.notify(sink);
        found
    }

    /// Whether `key` is held and not expired, without counting as an access.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut now = self.now();
        self.shard(hash)
            .read()
            .policy
            .contains(hash, key, &mut || now.get())
    }

    /// Inserts or replaces `key` (with the default time to live, if any). The policy may evict
    /// it again at once if it is less popular than what the cache holds.
    ///
    /// # Errors
    /// [`Error::WeightTooLarge`] when the entry weighs more than
    /// [`max_entry_weight`](Self::max_entry_weight); nothing changes then.
    pub fn insert(&self, key: K, value: V) -> Result<(), Error> {
        self.insert_inner(key, value, self.time_to_live)
    }

    /// Inserts or replaces `key` with its own time to live.
    ///
    /// # Errors
    /// [`Error::WeightTooLarge`] as for [`insert`](Self::insert); [`Error::TtlOverflow`] when
    /// now + `ttl` is past the clock's range (about 584 years).
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Result<(), Error> {
        self.insert_inner(key, value, Some(ttl))
    }

    fn insert_inner(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), Error> {
        let hash = self.hash(&key);
        let weight = self.weigh(&key, &value);
        let mut sink = self.sink();
        let result = {
            let mut shard = self.write(self.shard(hash));
            self.store(&mut shard, hash, key, value, weight, ttl, false, &mut sink)
        };
        self.notify(sink);
        result
    }

    /// Stores an entry in `shard` (see [`Policy::insert`] for `absent`).
    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        shard: &mut Shard<K, V>,
        hash: u64,
        key: K,
        value: V,
        weight: u64,
        ttl: Option<Duration>,
        absent: bool,
        sink: &mut Sink<K, V>,
    ) -> Result<(), Error> {
        if weight > self.max_entry_weight {
            shard.rejected += 1;
            return Err(Error::WeightTooLarge {
                weight,
                max: self.max_entry_weight,
            });
        }
        let mut now = self.now();
        let expires = match ttl {
            None => NEVER,
            Some(ttl) => u64::try_from(ttl.as_nanos())
                .ok()
                .and_then(|t| now.get().checked_add(t))
                .filter(|&e| e <= LATEST_EXPIRY)
                .ok_or(Error::TtlOverflow { ttl })?,
        };
        let entry = Entry {
            key,
            value,
            hash,
            weight,
            expires,
        };
        shard.policy.insert(entry, absent, &mut || now.get(), sink);
        Ok(())
    }

    /// The value of `key`, computing it with `init` on a miss and inserting it (with the
    /// default time to live). Concurrent misses on one key run `init` once: the others wait
    /// for its value (single-flight). If `init` panics, the panic propagates to this caller,
    /// nothing is inserted, and one of the waiting threads runs its own `init` instead.
    ///
    /// The value is returned even when it is too heavy to store (it is then counted in
    /// [`Stats::rejected`] and not inserted).
    // Inlined into the caller, as `get` is (the miss path, `load`, is not).
    #[inline(always)]
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        let hash = self.hash(&key);
        let shard = self.shard(hash);
        match self.get_shared::<true, K>(shard, hash, &key) {
            Shared::Hit(v) => v,
            Shared::Absent(added) => self.load(shard, hash, key, Some(added), init),
            Shared::Expired => self.load(shard, hash, key, None, init),
        }
    }

    /// [`get_or_insert_with`](Self::get_or_insert_with) after a miss under the shared lock:
    /// joins or leads the key's flight, then stores the value.
    ///
    /// A leader notes the shard's [`Policy::added`] count when it registers its flight (the
    /// key is absent then). If the count is the same when it stores, no key was added in
    /// between, so the key is still absent and the store skips looking it up (in-process A/B,
    /// one thread: +3 % get-or-insert at Zipf 1.1, +4 % at Zipf 0.9). The registration does
    /// the same with `absent_at`, the count under the shared lock that found the key absent
    /// (+1 to +3 % at Zipf 1.1, +5 to +8 % at Zipf 0.9).
    #[inline(never)]
    fn load(
        &self,
        shard: &RwLock<Shard<K, V>>,
        hash: u64,
        key: K,
        mut absent_at: Option<u64>,
        init: impl FnOnce() -> V,
    ) -> V {
        let mut counted = false;
        let (ticket, added) = loop {
            let mut sink = self.sink();
            let mut now = self.now();
            let mut guard = self.write(shard);
            // Found absent under the shared lock, with no key added since: still absent.
            let still_absent = absent_at.take() == Some(guard.policy.added());
            let found = if still_absent {
                None
            } else {
                guard
                    .policy
                    .get(hash, &key, &mut || now.get(), &mut sink)
                    .cloned()
            };
            if let Some(v) = found {
                if !counted {
                    self.hits.add_one();
                }
                drop(guard);
                self.notify(sink);
                return v;
            }
            if !counted {
                self.misses.add_one();
                counted = true;
            }
            match guard
                .flights
                .iter_mut()
                .find(|f| f.hash == hash && f.key == key)
            {
                Some(running) => {
                    let flight = Arc::clone(
                        running
                            .waiters
                            .get_or_insert_with(|| Arc::new(Flight::new())),
                    );
                    drop(guard);
                    self.notify(sink);
                    if let Some(v) = flight.wait() {
                        return v;
                    }
                    // The leader panicked: try again, perhaps as the new leader.
                }
                None => {
                    let ticket = guard.next_ticket;
                    guard.next_ticket += 1;
                    guard.flights.push(FlightSlot {
                        hash,
                        key: key.clone(),
                        ticket,
                        waiters: None,
                    });
                    // The key is absent now; it still is below while no key has been added.
                    let added = guard.policy.added();
                    drop(guard);
                    self.notify(sink);
                    break (ticket, added);
                }
            }
        };
        let mut leader = Leader {
            shard,
            ticket,
            waiters: None,
            finished: false,
        };
        let value = init();
        // The weigher is user code too: if it panics, the guard still abandons the flight.
        let weight = self.weigh(&key, &value);
        let mut sink = self.sink();
        {
            let mut guard = self.write(shard);
            // The flight leaves the list under the lock: no new waiter can join after this.
            leader.waiters = guard.take_flight(ticket);
            let absent = guard.policy.added() == added;
            // Too heavy: counted as rejected, the value is still returned.
            let _ = self.store(
                &mut guard,
                hash,
                key,
                value.clone(),
                weight,
                self.time_to_live,
                absent,
                &mut sink,
            );
        }
        if let Some(waiters) = &leader.waiters {
            waiters.complete(value.clone());
        }
        leader.finished = true;
        self.notify(sink);
        value
    }

    /// Removes `key` (the listener sees cause `Removed`); returns whether it was held.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut sink = self.sink();
        let removed = self
            .write(self.shard(hash))
            .policy
            .remove(hash, key, &mut sink);
        self.notify(sink);
        removed
    }

    /// Removes every entry for which `pred` is true (cause `Removed`). This visits every
    /// entry, one shard at a time: O(entries), meant for rare bulk invalidation.
    pub fn invalidate_if(&self, mut pred: impl FnMut(&K, &V) -> bool) {
        for shard in self.shards.iter() {
            let mut sink = self.sink();
            self.write(shard).policy.remove_if(&mut pred, &mut sink);
            self.notify(sink);
        }
    }

    /// Removes every entry (cause `Removed`). O(entries).
    pub fn clear(&self) {
        self.invalidate_if(|_, _| true);
    }

    /// Removes every expired entry now (cause `Expired`). Expired entries are otherwise
    /// removed when looked up or on the next insert into their shard; until then they count
    /// in the weight. O(expired · log entries).
    pub fn purge_expired(&self) {
        let now = now_nanos(&*self.clock);
        for shard in self.shards.iter() {
            let mut sink = self.sink();
            self.write(shard).policy.remove_expired(now, &mut sink);
            self.notify(sink);
        }
    }

    /// The counters and current size, summed over the shards (each read under its lock; the
    /// sum is not one atomic snapshot while other threads write).
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            hits: self.hits.sum(),
            misses: self.misses.sum(),
            ..Stats::default()
        };
        for shard in self.shards.iter() {
            let shard = self.write(shard);
            s.rejected += shard.rejected;
            s.evictions += shard.policy.counters.evictions;
            s.expirations += shard.policy.counters.expirations;
            s.entries += shard.policy.len() as u64;
            s.weight += shard.policy.weight();
        }
        s
    }
}

/// Abandons the flight if the leader unwinds before completing it (a panicking loader,
/// weigher, or key `Hash` / `Eq`), so that waiters retry instead of hanging.
struct Leader<'a, K: Eq, V: Clone> {
    shard: &'a RwLock<Shard<K, V>>,
    ticket: u64,
    /// The waiters, once the flight has left the list.
    waiters: Option<Arc<Flight<V>>>,
    finished: bool,
}

impl<K: Eq, V: Clone> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        if !self.finished {
            let waiters = self
                .waiters
                .take()
                .or_else(|| self.shard.write().take_flight(self.ticket));
            if let Some(waiters) = waiters {
                waiters.abandon();
            }
        }
    }
}
