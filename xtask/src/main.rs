//! `cargo xtask`: project automation for Memory Nexus. It only orchestrates: it runs cargo and
//! the bench binary, and reads `cargo metadata`; it depends on no nexus or competitor crate.
//!
//! ```text
//! cargo xtask bench [--suite NAME] [--quick] [--dataset DIR] [--json PATH]
//!                   [--save-baseline NAME] [--baseline NAME|PATH] [--threshold FRACTION]
//!                   [--confirm N]
//!                   [--profile] [--cargo-profile NAME] [suite flags…]
//! cargo xtask bench --icount [--suite NAME] [--save] [--cargo-profile NAME]
//! cargo xtask pgo [--dataset DIR] [--pairs N] [--quick] [--cargo-profile NAME] [--measure-only]
//! cargo xtask crash [--engine] [--cycles N] [--dir DIR] [--seed S]
//! cargo xtask layers
//! cargo xtask bundle-data --from DIR [--out DIR]
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod baseline;
mod bench;
mod crash;
mod icount;
mod layers;
mod pgo;
mod tables;
mod unused;

pub(crate) type Result<T, E = String> = std::result::Result<T, E>;

const USAGE: &str = "usage: cargo xtask <command>
  bench [--suite NAME] [--quick] [--dataset DIR] [--json PATH] [--save-baseline NAME]
        [--baseline NAME|PATH] [--threshold F] [--confirm N] [--profile] [--cargo-profile NAME (default bench)]
        [--traces DIR] [--max-accesses N] [--impls A,B] [--no-throughput] [--cache-seed N] (cache suite)
        [--open-memories N] (engine suite) [--no-anchors] (index suite)
        run benchmark suites (all when no --suite), print a table, write one JSON document
        (default target/bench/<git-rev>.json); --save-baseline keeps it as
        target/bench/baselines/NAME.json; --baseline compares every row of ours with one and
        fails on a regression beyond the row's noise (max(3 MADs, 3%), or --threshold F) that
        reproduces in --confirm N more runs (default 2; each row's best run counts);
        --profile writes a flamegraph SVG per suite to target/bench/
  bench --icount [--suite NAME] [--save] [--cargo-profile NAME]
        instruction counts of fixed small workloads under valgrind's callgrind, compared with
        benches/baselines/icount.json (fails on a rise above 2%); --save rewrites them
  pgo [--dataset DIR] [--pairs N (default 5)] [--quick] [--cargo-profile NAME (default bench)]
        profile-guided build of nexus and nexus-bench (needs llvm-profdata of rustc's LLVM
        major); prints the change per row against the plain build, leaves the binaries in
        target/pgo/bin/; --measure-only skips the builds and measures those binaries again
  crash [--engine] [--cycles N] [--dir DIR] [--seed S]
        kill a nexus-storage writer (or with --engine a nexus-engine one) with SIGKILL N times;
        check every acknowledged record (memory and forget)
  layers
        check that every crate depends only on the layers below it, names every dependency it
        declares, and that the README and ARCHITECTURE crate tables match the manifests
  bundle-data --from DIR [--out DIR]
        cut data/bundled/ out of a larger dataset, with exact ground truth";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo xtask bench --help` prints the usage; it does not run the suites.
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        Some("pgo") => pgo::run(&args[1..]),
        Some("layers") if args.len() == 1 => layers::run(),
        Some("layers") => Err(format!("layers takes no arguments\n{USAGE}")),
        Some("crash") => crash::run(&args[1..]),
        Some("bundle-data") => bundle_data(&args[1..]),
        Some("help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .into()
}

/// `cargo`, as the one running us.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(project_root());
    cmd
}

/// Runs a command to completion, failing with its name if it does not succeed.
pub(crate) fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

fn bundle_data(args: &[String]) -> Result<()> {
    let mut from = None;
    let mut out = project_root().join("data/bundled");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--from" => from = it.next().cloned(),
            "--out" => out = it.next().ok_or("--out needs a value")?.into(),
            other => return Err(format!("bundle-data: unknown argument {other:?}\n{USAGE}")),
        }
    }
    let from = from.ok_or("bundle-data needs --from DIR")?;
    let from = std::fs::canonicalize(&from).map_err(|e| format!("{from}: {e}"))?;
    run_checked(
        cargo()
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "nexus-dataset",
                "--features",
                "cli",
            ])
            .args(["--bin", "nexus-dataset", "--", "bundle", "--from"])
            .arg(&from)
            .arg("--out")
            .arg(&out),
    )
}
