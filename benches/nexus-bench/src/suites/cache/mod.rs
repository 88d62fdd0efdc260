//! The `cache` suite: nexus-cache side by side with moka, quick_cache, LRU and Bélády's OPT.
//!
//! ```text
//! cargo xtask bench --suite cache [--quick] [--traces DIR] [--max-accesses N] --json PATH
//! ```
//! - Hit ratio on the real traces in `--traces` (default `../shared/traces` beside the workspace;
//!   skipped, with a message, when absent): rows `hit_ratio/<trace>/<pct>` (unit `ratio`), impls
//!   `nexus`, `moka`, `quick_cache`, `lru`, `opt`; capacity `max(10, round(p · distinct))` for
//!   p = 0.1, 1, 5, 10, 25 %. Each trace is replayed from its start for at most
//!   `--max-accesses` accesses (default 2M: cuts P2, P3, P6 and orm-busy) and `distinct` counts
//!   the keys of what is replayed. `--quick`: the three smallest trace files only.
//! - Throughput: rows `mops/zipf{0.9,1.1}/t{1,2,4}` (get-or-insert) and `mops/zipf0.9/t2_read95`
//!   (95 % gets of hot keys, 5 % inserts; unit `Mops/s`), medians of 5 interleaved repetitions
//!   (1 when quick); `--no-throughput` skips them; `--impls` runs only the impls named (for
//!   quicker A/B runs; the summary's ratios then need quick_cache among them). `--cache-seed N`
//!   seeds nexus-cache's hashing (`CacheBuilder::hash_seed`), so that its hit ratios repeat
//!   from run to run: a policy change can then be compared over the same seeds, run against run.
//! - Summary on stderr: mean hit/OPT per impl, the share of cells where nexus is within 1 pp of
//!   the better of moka and quick_cache, nexus against LRU on the recency-heavy traces, and
//!   throughput ratios to quick_cache.

mod hit_ratio;
mod opt;
mod throughput;
mod traces;
mod zipf;

use std::path::PathBuf;

use crate::BenchResult;
use crate::context::Context;
use crate::report::Row;
use hit_ratio::{Cell, IMPLS};

pub(super) const SUITE: &str = "cache";
const DEFAULT_MAX_ACCESSES: usize = 2_000_000;
/// Traces where recency matters most (nexus must stay within 1 pp of LRU there).
const RECENCY_HEAVY: [&str; 5] = [
    "OLTP",
    "scarab-recs",
    "trace_vaultservice",
    "orm-busy",
    "cloudPhysicsIO",
];

pub(crate) fn run(ctx: &Context) -> BenchResult<Vec<Row>> {
    let dir = ctx.flags.traces.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces")
    });
    let max_accesses = ctx.flags.max_accesses.unwrap_or(DEFAULT_MAX_ACCESSES);
    let mut rows = Vec::new();
    if dir.is_dir() {
        let mut files = traces::list(&dir)?;
        if ctx.quick {
            files.sort_by_key(|f| f.bytes);
            files.truncate(3);
        }
        let mut loaded = Vec::new();
        for f in &files {
            let t = traces::read(f, max_accesses)?;
            if t.keys.len() < t.total_accesses {
                eprintln!(
                    "cache: {}: replaying the first {} of {} accesses ({} distinct keys in them)",
                    t.name,
                    t.keys.len(),
                    t.total_accesses,
                    t.distinct
                );
            }
            loaded.push(t);
        }
        // `--impls a,b`: run only these (for tuning; the rows of the others are left out).
        let only = &ctx.flags.impls;
        let cells = hit_ratio::run(&loaded, only, ctx.flags.cache_seed)?;
        for c in &cells {
            let name = format!("hit_ratio/{}/{}", c.trace, c.pct);
            for (i, r) in c.ratios.iter().enumerate().filter(|(_, r)| !r.is_nan()) {
                rows.push(Row::new(SUITE, name.clone(), IMPLS[i], *r, "ratio"));
            }
        }
        print_hit_ratio_summary(&cells);
    } else {
        eprintln!(
            "cache: traces directory {} not found: hit-ratio part skipped (throughput still runs)",
            dir.display()
        );
    }
    if ctx.flags.no_throughput {
        return Ok(rows);
    }
    let tp = throughput::run(ctx.quick, &ctx.flags.impls)?;
    print_throughput_summary(&tp);
    rows.extend(tp);
    Ok(rows)
}

fn print_hit_ratio_summary(cells: &[Cell]) {
    eprintln!(
        "\n{:<20} {:>5} {:>8}  {:>7} {:>7} {:>7} {:>7} {:>7}",
        "trace", "pct", "capacity", IMPLS[0], IMPLS[1], "quick", IMPLS[3], IMPLS[4]
    );
    for c in cells {
        let r = c.ratios;
        eprintln!(
            "{:<20} {:>5} {:>8}  {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>7.4}",
            c.trace, c.pct, c.capacity, r[0], r[1], r[2], r[3], r[4]
        );
    }
    // Mean hit/OPT over the cells where OPT hits at all.
    let scored: Vec<&Cell> = cells.iter().filter(|c| c.ratios[4] > 0.0).collect();
    let mean_of = |i: usize| {
        scored
            .iter()
            .map(|c| c.ratios[i] / c.ratios[4])
            .sum::<f64>()
            / scored.len().max(1) as f64
    };
    let means: Vec<String> = (0..4)
        .map(|i| format!("{} {:.3}", IMPLS[i], mean_of(i)))
        .collect();
    eprintln!(
        "\ncache: mean hit/OPT over {} cells: {}  (targets: nexus >= 0.81, stretch 0.85)",
        scored.len(),
        means.join(", ")
    );
    let within = cells
        .iter()
        .filter(|c| c.ratios[0] >= c.ratios[1].max(c.ratios[2]) - 0.01)
        .count();
    eprintln!(
        "cache: nexus >= max(moka, quick_cache) - 1pp in {within}/{} cells = {:.1}% (target >= 90%)",
        cells.len(),
        100.0 * within as f64 / cells.len().max(1) as f64
    );
    let recency: Vec<&Cell> = cells
        .iter()
        .filter(|c| RECENCY_HEAVY.contains(&c.trace.as_str()))
        .collect();
    let below: Vec<String> = recency
        .iter()
        .filter(|c| c.ratios[0] < c.ratios[3] - 0.01)
        .map(|c| {
            format!(
                "{}/{} ({:+.2}pp)",
                c.trace,
                c.pct,
                100.0 * (c.ratios[0] - c.ratios[3])
            )
        })
        .collect();
    eprintln!(
        "cache: recency-heavy cells where nexus is > 1pp below LRU: {}/{}{}{}",
        below.len(),
        recency.len(),
        if below.is_empty() { "" } else { ": " },
        below.join(", ")
    );
}

fn print_throughput_summary(rows: &[Row]) {
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.dedup();
    for name in names {
        let of = |imp: &str| {
            rows.iter()
                .find(|r| r.name == name && r.implementation == imp)
                .map_or(f64::NAN, |r| r.value)
        };
        let q = of("quick_cache");
        eprintln!(
            "cache: {name}: nexus/quick_cache {:.2}x, moka/quick_cache {:.2}x (quick_cache {:.2} Mops/s)",
            of("nexus") / q,
            of("moka") / q,
            q
        );
    }
}
