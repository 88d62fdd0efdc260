//! The long process-crash run behind `cargo xtask crash --engine --cycles N`: see
//! `tests/support/crash.rs`. Prints `crash: N cycles, L lost, F failed opens` last and exits
//! non-zero if anything was lost or failed to open. (Named apart from nexus-storage's `crash`
//! example: two examples of one name in a workspace collide in `target/*/examples`.)
//!
//! ```text
//! cargo run --release -p nexus-engine --example engine_crash -- --cycles 200 [--dir DIR] [--seed S]
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
        match (a.as_str(), value.as_deref().map(str::parse::<u64>)) {
            ("--cycles", Some(Ok(v))) => cycles = v as usize,
            ("--seed", Some(Ok(v))) => seed = v,
            ("--dir", _) if value.is_some() => dir = value.map(PathBuf::from),
            _ => {
                eprintln!("usage: engine_crash [--cycles N] [--dir DIR] [--seed S]");
                return ExitCode::from(2);
            }
        }
    }
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = dir.unwrap_or_else(|| temp.path().join("store"));
    let exe = std::env::current_exe().expect("own path");
    let out = crash::run_parent(&dir, cycles, &exe, &[], seed);
    eprintln!(
        "crash: {} memories and {} forgets acknowledged in total; {} of {} kills came after the child's first ack",
        out.acked, out.forgotten, out.cycles_with_acks, out.cycles
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
