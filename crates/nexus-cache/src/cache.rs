//! The concurrent cache: shards of [`Policy`], each behind its own lock, plus single-flight
//! loading, weights, time to live, the eviction listener and statistics.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};

use crate::clock::{Clock, SystemClock, now_nanos};
use crate::error::Error;
use crate::flight::Flight;
use crate::policy::{Entry, NEVER, Policy, Sink};
use crate::stats::{RemovalCause, Stats};

/// Shards are kept at least this large by default, so that sharding does not distort the policy.
const MIN_DEFAULT_SHARD_CAPACITY: u64 = 4096;
/// Most shards the default chooses.
const MAX_DEFAULT_SHARDS: usize = 64;

type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u64 + Send + Sync>;
type Listener<K, V> = Box<dyn Fn(K, V, RemovalCause) + Send + Sync>;
type ShardCell<K, V> = CachePadded<Mutex<Shard<K, V>>>;

/// One shard: its policy, the loads in flight for its keys, and its counters. Everything a
/// hit touches lives here, behind the shard's own (cache-padded) lock: hits on different
/// shards write no shared cache line.
struct Shard<K, V> {
    policy: Policy<K, V>,
    flights: HashTable<(K, Arc<Flight<V>>)>,
    hits: u64,
    misses: u64,
    rejected: u64,
}

/// A concurrent, sharded cache bounded by total weight, with W-TinyLFU admission and an
/// adaptive window. See the [crate documentation](crate) for the policy and its limits.
///
/// All methods take `&self`; share it with `Arc` or scoped threads.
pub struct Cache<K, V> {
    shards: Box<[ShardCell<K, V>]>,
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
        let hasher = ahash::RandomState::new();
        let base = capacity / shards as u64;
        let extra = capacity % shards as u64;
        let shard_list: Vec<_> = (0..shards as u64)
            .map(|s| {
                let cap = base + u64::from(s < extra);
                let seed = hasher.hash_one(s);
                CachePadded::new(Mutex::new(Shard {
                    policy: Policy::new(cap, seed),
                    flights: HashTable::new(),
                    hits: 0,
                    misses: 0,
                    rejected: 0,
                }))
            })
            .collect();
        Ok(Cache {
            shards: shard_list.into_boxed_slice(),
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
struct LazyNow<'a> {
    clock: &'a dyn Clock,
    now: Option<u64>,
}

impl LazyNow<'_> {
    fn get(&mut self) -> u64 {
        *self.now.get_or_insert_with(|| now_nanos(self.clock))
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
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Mutex<Shard<K, V>> {
        // Bits 32.. choose the shard; hashbrown uses the low bits and the top 7.
        &self.shards[((hash >> 32) & self.shard_mask) as usize]
    }

    fn now(&self) -> LazyNow<'_> {
        LazyNow {
            clock: &*self.clock,
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
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut sink = self.sink();
        let mut now = self.now();
        let found = {
            let mut shard = self.shard(hash).lock();
            let found = shard
                .policy
                .get(hash, key, &mut || now.get(), &mut sink)
                .cloned();
            if found.is_some() {
                shard.hits += 1;
            } else {
                shard.misses += 1;
            }
            found
        };
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
            .lock()
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
            let mut shard = self.shard(hash).lock();
            self.store(&mut shard, hash, key, value, weight, ttl, &mut sink)
        };
        self.notify(sink);
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        shard: &mut MutexGuard<'_, Shard<K, V>>,
        hash: u64,
        key: K,
        value: V,
        weight: u64,
        ttl: Option<Duration>,
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
                .filter(|&e| e != NEVER)
                .ok_or(Error::TtlOverflow { ttl })?,
        };
        let entry = Entry {
            key,
            value,
            hash,
            weight,
            expires,
        };
        shard.policy.insert(entry, &mut || now.get(), sink);
        Ok(())
    }

    /// The value of `key`, computing it with `init` on a miss and inserting it (with the
    /// default time to live). Concurrent misses on one key run `init` once: the others wait
    /// for its value (single-flight). If `init` panics, the panic propagates to this caller,
    /// nothing is inserted, and one of the waiting threads runs its own `init` instead.
    ///
    /// The value is returned even when it is too heavy to store (it is then counted in
    /// [`Stats::rejected`] and not inserted).
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        let hash = self.hash(&key);
        let shard = self.shard(hash);
        let mut counted = false;
        let flight = loop {
            let mut sink = self.sink();
            let mut now = self.now();
            let mut guard = shard.lock();
            if let Some(v) = guard
                .policy
                .get(hash, &key, &mut || now.get(), &mut sink)
                .cloned()
            {
                if !counted {
                    guard.hits += 1;
                }
                drop(guard);
                self.notify(sink);
                return v;
            }
            if !counted {
                guard.misses += 1;
                counted = true;
            }
            let running = guard
                .flights
                .find(hash, |(k, _)| *k == key)
                .map(|(_, f)| Arc::clone(f));
            match running {
                Some(f) => {
                    drop(guard);
                    self.notify(sink);
                    if let Some(v) = f.wait() {
                        return v;
                    }
                    // The leader panicked: try again, perhaps as the new leader.
                }
                None => {
                    let flight = Arc::new(Flight::new());
                    let hasher = &self.hasher;
                    guard.flights.insert_unique(
                        hash,
                        (key.clone(), Arc::clone(&flight)),
                        |(k, _)| hasher.hash_one(k),
                    );
                    drop(guard);
                    self.notify(sink);
                    break flight;
                }
            }
        };
        let mut leader = Leader {
            shard,
            hash,
            flight: &flight,
            finished: false,
        };
        let value = init();
        leader.finished = true;
        let weight = self.weigh(&key, &value);
        let mut sink = self.sink();
        {
            let mut guard = shard.lock();
            remove_flight(&mut guard, hash, &flight);
            // Too heavy: counted as rejected, the value is still returned.
            let _ = self.store(
                &mut guard,
                hash,
                key,
                value.clone(),
                weight,
                self.time_to_live,
                &mut sink,
            );
        }
        // The flight left the table under the lock: no new waiter can join now.
        if Arc::strong_count(&flight) > 1 {
            flight.complete(value.clone());
        }
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
        let removed = self.shard(hash).lock().policy.remove(hash, key, &mut sink);
        self.notify(sink);
        removed
    }

    /// Removes every entry for which `pred` is true (cause `Removed`). This visits every
    /// entry, one shard at a time: O(entries), meant for rare bulk invalidation.
    pub fn invalidate_if(&self, mut pred: impl FnMut(&K, &V) -> bool) {
        for shard in self.shards.iter() {
            let mut sink = self.sink();
            shard.lock().policy.remove_if(&mut pred, &mut sink);
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
            shard.lock().policy.remove_expired(now, &mut sink);
            self.notify(sink);
        }
    }

    /// The counters and current size, summed over the shards (each read under its lock; the
    /// sum is not one atomic snapshot while other threads write).
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            s.hits += shard.hits;
            s.misses += shard.misses;
            s.rejected += shard.rejected;
            s.evictions += shard.policy.counters.evictions;
            s.expirations += shard.policy.counters.expirations;
            s.entries += shard.policy.len() as u64;
            s.weight += shard.policy.weight();
        }
        s
    }
}

/// Removes `flight` from its shard's table if it is still there.
fn remove_flight<K, V>(shard: &mut Shard<K, V>, hash: u64, flight: &Arc<Flight<V>>) {
    if let Ok(entry) = shard
        .flights
        .find_entry(hash, |(_, f)| Arc::ptr_eq(f, flight))
    {
        entry.remove();
    }
}

/// Abandons the flight if the loader unwinds, so that waiters retry instead of hanging.
struct Leader<'a, K, V: Clone> {
    shard: &'a Mutex<Shard<K, V>>,
    hash: u64,
    flight: &'a Arc<Flight<V>>,
    finished: bool,
}

impl<K, V: Clone> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        if !self.finished {
            remove_flight(&mut self.shard.lock(), self.hash, self.flight);
            self.flight.abandon();
        }
    }
}
