//! A query-result cache as Memory Nexus uses it: results weighed by their size, a time to live,
//! single-flight loading from several threads, and the statistics at the end.
//!
//! ```text
//! cargo run -p nexus-cache --example query_cache
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nexus_cache::{Cache, RemovalCause};

/// A stand-in for an expensive search: the ids of the "hits" of a query.
fn search(query: &str) -> Arc<[u64]> {
    std::thread::sleep(Duration::from_millis(5));
    query.bytes().map(u64::from).collect()
}

fn main() -> Result<(), nexus_cache::Error> {
    let evicted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&evicted);
    // At most 4096 result ids in total, each result for 10 minutes at most.
    let cache: Cache<String, Arc<[u64]>> = Cache::builder(4096)
        .weigher(|_query, ids: &Arc<[u64]>| ids.len() as u64)
        .time_to_live(Duration::from_secs(600))
        .eviction_listener(move |_query, _ids, cause| {
            if cause == RemovalCause::Capacity {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()?;

    let searches = AtomicUsize::new(0);
    let queries: Vec<String> = (0..400).map(|i| format!("query {}", i % 50)).collect();
    // Four threads ask overlapping questions; each distinct query is searched once.
    std::thread::scope(|s| {
        for chunk in queries.chunks(100) {
            let (cache, searches) = (&cache, &searches);
            s.spawn(move || {
                for q in chunk {
                    let ids = cache.get_or_insert_with(q.clone(), || {
                        searches.fetch_add(1, Ordering::Relaxed);
                        search(q)
                    });
                    assert_eq!(ids.len(), q.len());
                }
            });
        }
    });

    let stats = cache.stats();
    println!(
        "{} lookups, {} searches run, hit ratio {:.2}, {} entries weighing {} of {}, {} evicted",
        stats.hits + stats.misses,
        searches.load(Ordering::Relaxed),
        stats.hit_ratio(),
        stats.entries,
        stats.weight,
        cache.capacity(),
        evicted.load(Ordering::Relaxed),
    );
    assert_eq!(searches.load(Ordering::Relaxed), 50);
    Ok(())
}
