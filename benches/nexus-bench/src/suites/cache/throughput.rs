//! Throughput: get-or-insert on Zipf-distributed keys over 1M keys, capacity 100k, 1, 2 and 4
//! threads, nexus-cache vs moka vs quick_cache (sync caches), repetitions interleaved; and a
//! read-mostly mix at 2 threads (`t2_read95`): 95 % gets of the 50k hottest keys (held after
//! the warm-up), 5 % inserts of keys drawn over all 1M.

use std::convert::Infallible;
use std::time::Instant;

use super::zipf::Zipf;
use crate::BenchResult;
use crate::report::{Row, median, progress};

const KEYS: usize = 1_000_000;
const CAPACITY: u64 = 100_000;
/// The read-mostly mix reads the hottest `HOT` keys (ranks of the same Zipf law).
const HOT: usize = 50_000;
/// Threads of the widest get-or-insert row (and the streams drawn).
const MAX_THREADS: usize = 4;
pub(super) const IMPLS: [&str; 3] = ["nexus", "moka", "quick_cache"];

enum AnyCache {
    Nexus(nexus_cache::Cache<u64, u64>),
    Moka(moka::sync::Cache<u64, u64>),
    Quick(quick_cache::sync::Cache<u64, u64>),
}

impl AnyCache {
    fn new(which: &str) -> BenchResult<Self> {
        Ok(match which {
            "nexus" => Self::Nexus(nexus_cache::Cache::new(CAPACITY)?),
            "moka" => Self::Moka(moka::sync::Cache::new(CAPACITY)),
            _ => Self::Quick(quick_cache::sync::Cache::new(CAPACITY as usize)),
        })
    }

    /// Get-or-insert of every key; returns the number of hits (so nothing is optimized away).
    fn run(&self, keys: &[u64]) -> u64 {
        let mut hits = 0;
        match self {
            Self::Nexus(c) => {
                for &k in keys {
                    hits += u64::from(c.get_or_insert_with(k, || !k) == !k);
                }
            }
            Self::Moka(c) => {
                for &k in keys {
                    hits += u64::from(c.get_with(k, || !k) == !k);
                }
            }
            Self::Quick(c) => {
                for &k in keys {
                    let v = c.get_or_insert_with(&k, || Ok::<u64, Infallible>(!k));
                    hits += u64::from(v == Ok(!k));
                }
            }
        }
        hits
    }

    /// The read-mostly mix: a get of `k`, or an insert of it where `insert[i]`; returns hits.
    fn run_mix(&self, keys: &[u64], insert: &[bool]) -> u64 {
        let mut hits = 0;
        for (&k, &ins) in keys.iter().zip(insert) {
            match (self, ins) {
                (Self::Nexus(c), true) => drop(c.insert(k, !k)),
                (Self::Nexus(c), false) => hits += u64::from(c.get(&k).is_some()),
                (Self::Moka(c), true) => c.insert(k, !k),
                (Self::Moka(c), false) => hits += u64::from(c.get(&k).is_some()),
                (Self::Quick(c), true) => c.insert(k, !k),
                (Self::Quick(c), false) => hits += u64::from(c.get(&k).is_some()),
            }
        }
        hits
    }
}

/// One row of `reps` interleaved repetitions: `body(cache)` runs timed, after `warm(cache)`,
/// and does `ops` operations in all.
fn row(
    name: &str,
    reps: usize,
    ops: usize,
    only: &[String],
    warm: &dyn Fn(&AnyCache),
    body: &(dyn Fn(&AnyCache) + Sync),
) -> BenchResult<Vec<Row>> {
    let runs = |i: usize| only.is_empty() || only.iter().any(|o| o == IMPLS[i]);
    let active = (0..IMPLS.len()).filter(|&i| runs(i)).count();
    let bar = progress((reps * active) as u64, name);
    let mut samples = vec![Vec::new(); IMPLS.len()];
    for rep in 0..reps {
        // Rotate the order each repetition: no impl always runs first.
        for i in 0..IMPLS.len() {
            let which = (i + rep) % IMPLS.len();
            if !runs(which) {
                continue;
            }
            let cache = AnyCache::new(IMPLS[which])?;
            warm(&cache);
            let start = Instant::now();
            body(&cache);
            let secs = start.elapsed().as_secs_f64();
            samples[which].push(ops as f64 / secs / 1e6);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let m: Vec<String> = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| format!("{} {:.2}", IMPLS[i], median(s)))
        .collect();
    eprintln!("cache: {name}: {} Mops/s", m.join(", "));
    Ok(samples
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| Row::from_samples(super::SUITE, name, IMPLS[i], s, "Mops/s"))
        .collect())
}

/// Rows `mops/zipf<s>/t<threads>` and `mops/zipf0.9/t2_read95` for every impl in `only` (all
/// when empty).
pub(super) fn run(quick: bool, only: &[String]) -> BenchResult<Vec<Row>> {
    let ops_per_thread = if quick { 200_000 } else { 1_000_000 };
    let reps = if quick { 1 } else { 5 };
    let mut rows = Vec::new();
    for (s, label) in [(0.9, "zipf0.9"), (1.1, "zipf1.1")] {
        let zipf = Zipf::new(KEYS, s);
        let warm = zipf.keys(ops_per_thread, 1);
        let streams: Vec<Vec<u64>> = (0..MAX_THREADS as u64)
            .map(|t| zipf.keys(ops_per_thread, 100 + t))
            .collect();
        for threads in [1usize, 2, MAX_THREADS] {
            let name = format!("mops/{label}/t{threads}");
            let warm_up = |c: &AnyCache| {
                std::hint::black_box(c.run(&warm));
            };
            let body = |c: &AnyCache| {
                std::thread::scope(|sc| {
                    for stream in &streams[..threads] {
                        sc.spawn(move || std::hint::black_box(c.run(stream)));
                    }
                });
            };
            rows.extend(row(
                &name,
                reps,
                threads * ops_per_thread,
                only,
                &warm_up,
                &body,
            )?);
        }
        if label == "zipf0.9" {
            // Gets of the hottest keys (Zipf over `HOT` ranks: the same keys as the top ranks
            // of the full law), inserts over all keys.
            let hot = Zipf::new(HOT, s);
            let threads = 2;
            let mixes: Vec<(Vec<u64>, Vec<bool>)> = (0..threads as u64)
                .map(|t| {
                    let gets = hot.keys(ops_per_thread, 200 + t);
                    let puts = zipf.keys(ops_per_thread, 300 + t);
                    let mut state = 400 + t;
                    let insert: Vec<bool> = (0..ops_per_thread)
                        .map(|_| super::zipf::splitmix(&mut state) % 100 < 5)
                        .collect();
                    let keys = (0..ops_per_thread)
                        .map(|i| if insert[i] { puts[i] } else { gets[i] })
                        .collect();
                    (keys, insert)
                })
                .collect();
            let every_hot = hot.keys(ops_per_thread, 500);
            let warm_up = |c: &AnyCache| {
                std::hint::black_box(c.run(&warm));
                // Twice, so the hot keys are frequent enough to be admitted and stay.
                std::hint::black_box(c.run(&every_hot));
                std::hint::black_box(c.run(&every_hot));
            };
            let body = |c: &AnyCache| {
                std::thread::scope(|sc| {
                    for (keys, insert) in &mixes {
                        sc.spawn(move || std::hint::black_box(c.run_mix(keys, insert)));
                    }
                });
            };
            let name = format!("mops/{label}/t{threads}_read95");
            rows.extend(row(
                &name,
                reps,
                threads * ops_per_thread,
                only,
                &warm_up,
                &body,
            )?);
        }
    }
    Ok(rows)
}
