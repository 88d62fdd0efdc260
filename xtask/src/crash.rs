//! `cargo xtask crash [--engine] --cycles N [--dir DIR] [--seed S]`: the long process-crash
//! run of nexus-storage (or, with `--engine`, of nexus-engine: remember / forget with
//! background flushes and compactions). It builds and runs the crate's `crash` example (xtask
//! depends on no nexus crate) and passes its output through; the last line reads
//! `crash: N cycles, L lost, F failed opens`.

use crate::{Result, cargo, run_checked};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let engine = args.iter().any(|a| a == "--engine");
    let crate_name = if engine {
        "nexus-engine"
    } else {
        "nexus-storage"
    };
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "--quiet",
        "-p",
        crate_name,
        "--example",
        "crash",
        "--",
    ]);
    cmd.args(args.iter().filter(|a| *a != "--engine"));
    run_checked(&mut cmd)
}
