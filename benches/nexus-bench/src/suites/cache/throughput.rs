//! Throughput: get-or-insert on Zipf-distributed keys over 1M keys, capacity 100k, 1 and 2
//! threads, nexus-cache vs moka vs quick_cache (sync caches), repetitions interleaved.

use std::convert::Infallible;
use std::time::Instant;

use super::zipf::Zipf;
use crate::BenchResult;
use crate::report::{Row, median, progress};

const KEYS: usize = 1_000_000;
const CAPACITY: u64 = 100_000;
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
}

/// Rows `mops/zipf<s>/t<threads>` for every impl.
pub(super) fn run(quick: bool) -> BenchResult<Vec<Row>> {
    let ops_per_thread = if quick { 200_000 } else { 1_000_000 };
    let reps = if quick { 1 } else { 5 };
    let mut rows = Vec::new();
    for (s, label) in [(0.9, "zipf0.9"), (1.1, "zipf1.1")] {
        let zipf = Zipf::new(KEYS, s);
        let warm = zipf.keys(ops_per_thread, 1);
        let streams: Vec<Vec<u64>> = (0..2).map(|t| zipf.keys(ops_per_thread, 100 + t)).collect();
        for threads in [1usize, 2] {
            let name = format!("mops/{label}/t{threads}");
            let bar = progress((reps * IMPLS.len()) as u64, &name);
            let mut samples = vec![Vec::new(); IMPLS.len()];
            for rep in 0..reps {
                // Rotate the order each repetition: no impl always runs first.
                for i in 0..IMPLS.len() {
                    let which = (i + rep) % IMPLS.len();
                    let cache = AnyCache::new(IMPLS[which])?;
                    std::hint::black_box(cache.run(&warm));
                    let start = Instant::now();
                    std::thread::scope(|sc| {
                        for stream in &streams[..threads] {
                            let cache = &cache;
                            sc.spawn(move || std::hint::black_box(cache.run(stream)));
                        }
                    });
                    let secs = start.elapsed().as_secs_f64();
                    samples[which].push((threads * ops_per_thread) as f64 / secs / 1e6);
                    bar.inc(1);
                }
            }
            bar.finish_and_clear();
            for (i, s) in samples.iter().enumerate() {
                rows.push(Row::from_samples(
                    super::SUITE,
                    &name,
                    IMPLS[i],
                    s,
                    "Mops/s",
                ));
            }
            let m: Vec<String> = samples
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{} {:.2}", IMPLS[i], median(s)))
                .collect();
            eprintln!("cache: {name}: {} Mops/s", m.join(", "));
        }
    }
    Ok(rows)
}
