//! `nexus-bench`: the benchmark suites of Memory Nexus, one module per suite, each running our
//! crates side by side with the anchors (competitor crates, measured machine bounds) in the same
//! process and the same run.
//!
//! ```text
//! nexus-bench --suite NAME [--quick] [--dataset DIR] --json PATH|- [suite flags…]
//! nexus-bench --list
//! ```
//!
//! It prints `{"dataset": …, "results": [rows]}`; `cargo xtask bench` runs it once per suite,
//! adds the host and git revision, prints the table and keeps the document. Progress and
//! suite summaries go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

mod alloc;
mod bound;
mod context;
mod report;
mod suites;

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
    let rows = (entry.run)(&ctx)?;
    let doc = serde_json::json!({ "dataset": ctx.dataset_id(), "results": rows });
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    if json == "-" {
        print!("{text}");
    } else {
        std::fs::write(&json, text).map_err(|e| format!("{json}: {e}"))?;
    }
    Ok(())
}
