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
//! Arguments are parsed with clap: an unknown flag is an error, `--help` lists every flag,
//! the suite flags included (`SuiteFlags`; a suite ignores the ones of other suites, so one
//! command line can run every suite).
//!
//! It prints `{"dataset": …, "results": [rows]}`; `cargo xtask bench` runs it once per suite,
//! adds the host and git revision, prints the table and keeps the document. Progress and
//! suite summaries go to stderr. `--flamegraph SVG` samples the suite with pprof (SIGPROF,
//! ~1 kHz, every thread) and writes a flamegraph. `--icount-workload` runs one fixed small
//! workload for `cargo xtask bench --icount` (see `icount.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod alloc;
mod bound;
mod context;
mod icount;
mod report;
mod suites;
mod synthetic;

use context::{Context, SuiteFlags};
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

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "nexus-bench",
    about = "The benchmark suites of Memory Nexus, ours beside the anchors in one process \
             (usually run through `cargo xtask bench`)"
)]
struct Cli {
    /// The suite to run (see --list).
    #[arg(long, value_name = "NAME", required_unless_present_any = ["list", "icount_list", "icount_workload"])]
    suite: Option<String>,
    /// Seconds rather than minutes: small sizes, one repetition (what CI runs).
    #[arg(long)]
    quick: bool,
    /// A TEXMEX-style dataset directory (default: the bundled one).
    #[arg(long, value_name = "DIR")]
    dataset: Option<PathBuf>,
    /// Where to write the JSON document; `-` for stdout.
    #[arg(long, value_name = "PATH|-", required_unless_present_any = ["list", "icount_list", "icount_workload"])]
    json: Option<String>,
    /// Sample the suite with pprof and write a flamegraph SVG here.
    #[arg(long, value_name = "SVG")]
    flamegraph: Option<PathBuf>,
    /// Print the suite names, one a line.
    #[arg(long, exclusive = true)]
    list: bool,
    /// Print the instruction-count workloads, one a line.
    #[arg(long, exclusive = true)]
    icount_list: bool,
    /// Run one instruction-count workload (for `cargo xtask bench --icount`).
    #[arg(long, value_name = "NAME", exclusive = true)]
    icount_workload: Option<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    #[command(flatten)]
    suite_flags: SuiteFlags,
}

fn run() -> BenchResult<()> {
    let cli = Cli::parse();
    if cli.list {
        for s in suites::ALL {
            println!("{}", s.name);
        }
        return Ok(());
    }
    if cli.icount_list {
        for w in icount::WORKLOADS {
            println!("{}", w.name);
        }
        return Ok(());
    }
    if let Some(w) = &cli.icount_workload {
        return icount::run(w);
    }
    let (Some(suite), Some(json)) = (cli.suite, cli.json) else {
        unreachable!("clap requires --suite and --json without --list / --icount-*")
    };
    let (quick, dataset, flamegraph) = (cli.quick, cli.dataset, cli.flamegraph);
    let entry = suites::ALL
        .iter()
        .find(|s| s.name == suite)
        .ok_or_else(|| {
            let names: Vec<_> = suites::ALL.iter().map(|s| s.name).collect();
            format!("unknown suite {suite:?}; suites: {}", names.join(", "))
        })?;
    let ctx = Context::new(quick, dataset, cli.suite_flags);
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
