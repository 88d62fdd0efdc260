//! The long process-crash run behind `cargo xtask crash --cycles N`: see
//! `tests/support/crash.rs`. Prints `crash: N cycles, L lost, F failed opens` last and exits
//! non-zero if anything was lost or failed to open.
//!
//! ```text
//! cargo run --release -p nexus-storage --example crash -- --cycles 1000 [--dir DIR] [--seed S]
//! ```

#[path = "../tests/support/crash.rs"]
mod crash;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Ok(spec) = std::env::var(crash::CHILD_ENV) {
        crash::child_main(&spec);
    }
    let mut cycles = 100;
    let mut seed = 1;
    let mut dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        match (a.as_str(), value) {
            ("--cycles", Some(v)) => cycles = v.parse().expect("--cycles N"),
            ("--seed", Some(v)) => seed = v.parse().expect("--seed S"),
            ("--dir", Some(v)) => dir = Some(v.into()),
            _ => {
                eprintln!("usage: crash [--cycles N] [--dir DIR] [--seed S]");
                return ExitCode::FAILURE;
            }
        }
    }
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = dir.unwrap_or_else(|| temp.path().join("store"));
    let exe = std::env::current_exe().expect("own path");
    let out = crash::run_parent(&dir, cycles, &exe, &[], seed);
    eprintln!(
        "crash: {} records acknowledged in total; {} of {} kills came after the child's first ack",
        out.acked, out.cycles_with_acks, out.cycles
    );
    println!(
        "crash: {} cycles, {} lost, {} failed opens",
        out.cycles, out.lost, out.failed_opens
    );
    if out.lost == 0 && out.failed_opens == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
