//! `cargo xtask crash --cycles N [--dir DIR] [--seed S]`: the long process-crash run of
//! nexus-storage. It builds and runs the crate's `crash` example (xtask depends on no nexus
//! crate) and passes its output through; the last line reads
//! `crash: N cycles, L lost, F failed opens`.

use crate::{Result, cargo, run_checked};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "nexus-storage",
        "--example",
        "crash",
        "--",
    ]);
    cmd.args(args);
    run_checked(&mut cmd)
}
