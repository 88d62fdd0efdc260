//! `nexus-bench`: the benchmark suites of Memory Nexus, one module per suite, each running our
//! crates side by side with the anchors (competitor crates, measured machine bounds) in the same
//! process and the same run.
//!
//! ```text
//! nexus-bench --suite NAME [--quick] [--dataset DIR] --json PATH|- [--flamegraph SVG]
//!             [suite flags…]
//! nexus-bench --list
//! nexus-bench --icount-list
//! nexus-bench --icount-workload NAME
//! ```
//!
//! It prints `{"dataset": …, "results": [rows]}`; `cargo xtask bench` runs it once per suite,
//! adds the host and git revision, prints the table and keeps the document. Progress and
//! suite summaries go to stderr. `--flamegraph SVG` samples the suite with pprof (SIGPROF,
//! ~1 kHz, every thread) and writes a flamegraph. `--icount-workload` runs one fixed small
//! workload for `cargo xtask bench --icount` (see `icount.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

mod alloc;
mod bound;
mod context;
mod icount;
mod report;
mod suites;
mod synthetic;

use context::Context;
use report::Row;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

pub(crate) type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A suite: its name and its entry point.
pub(crate) struct Suite {
    pub(crate) name: &'static str,
    pub(crate) run: fn(&Context) -> BenchResult<Vec<Row>>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nexus-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> BenchResult<()> {
    let mut args = std::env::args().skip(1);
    let (mut suite, mut quick, mut dataset, mut json) = (None, false, None, None);
    let mut flamegraph = None;
    let mut extra = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--list" => {
                for s in suites::ALL {
                    println!("{}", s.name);
                }
                return Ok(());
            }
            "--icount-list" => {
                for w in icount::WORKLOADS {
                    println!("{}", w.name);
                }
                return Ok(());
            }
            "--icount-workload" => return icount::run(&value("--icount-workload")?),
            "--flamegraph" => flamegraph = Some(PathBuf::from(value("--flamegraph")?)),
            "--suite" => suite = Some(value("--suite")?),
            "--quick" => quick = true,
            "--dataset" => dataset = Some(PathBuf::from(value("--dataset")?)),
            "--json" => json = Some(value("--json")?),
            "--bench" => {} // passed by `cargo bench`; harmless here
            _ => extra.push(arg),
        }
    }
    let suite = suite.ok_or("--suite NAME is required (or --list)")?;
    let json = json.ok_or("--json PATH|- is required")?;
    let entry = suites::ALL
        .iter()
        .find(|s| s.name == suite)
        .ok_or_else(|| {
            let names: Vec<_> = suites::ALL.iter().map(|s| s.name).collect();
            format!("unknown suite {suite:?}; suites: {}", names.join(", "))
        })?;
    let ctx = Context::new(quick, dataset, extra);
    let profiler = match &flamegraph {
        Some(_) => Some(
            pprof::ProfilerGuardBuilder::default()
                .frequency(997)
                .blocklist(&["libc", "libgcc", "pthread", "vdso"])
                .build()
                .map_err(|e| format!("--flamegraph: cannot start the profiler: {e}"))?,
        ),
        None => None,
    };
    let rows = (entry.run)(&ctx)?;
    if let (Some(guard), Some(svg)) = (profiler, &flamegraph) {
        let report = guard
            .report()
            .build()
            .map_err(|e| format!("--flamegraph: {e}"))?;
        let file = std::fs::File::create(svg).map_err(|e| format!("{}: {e}", svg.display()))?;
        report
            .flamegraph(std::io::BufWriter::new(file))
            .map_err(|e| format!("{}: {e}", svg.display()))?;
        eprintln!("flamegraph of suite {suite}: {}", svg.display());
    }
    let doc = serde_json::json!({ "dataset": ctx.dataset_id(), "results": rows });
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    if json == "-" {
        print!("{text}");
    } else {
        std::fs::write(&json, text).map_err(|e| format!("{json}: {e}"))?;
    }
    Ok(())
}
