//! `cargo xtask crash [--engine] --cycles N [--dir DIR] [--seed S]`: the long process-crash
//! run of nexus-storage (or, with `--engine`, of nexus-engine: remember / forget with
//! background flushes and compactions). It builds and runs the crate's crash example (`crash`,
//! the engine's `engine_crash`; xtask depends on no nexus crate) and passes its output
//! through; the last line reads `crash: N cycles, L lost, F failed opens`.

use crate::{Result, cargo, run_checked};

pub(crate) fn run(args: &[String]) -> Result<()> {
    check(args)?;
    let engine = args.iter().any(|a| a == "--engine");
    // The engine's example has its own name: two `crash` examples in one workspace collide
    // in `target/*/examples`.
    let (crate_name, example) = if engine {
        ("nexus-engine", "engine_crash")
    } else {
        ("nexus-storage", "crash")
    };
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "--quiet",
        "-p",
        crate_name,
        "--example",
        example,
        "--",
    ]);
    cmd.args(args.iter().filter(|a| *a != "--engine"));
    run_checked(&mut cmd)
}

/// Rejects an unknown flag or a missing value before anything is built.
fn check(args: &[String]) -> Result<()> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--engine" => {}
            "--cycles" | "--dir" | "--seed" => {
                it.next().ok_or(format!("crash: {a} needs a value"))?;
            }
            other => {
                return Err(format!(
                    "crash: unknown argument {other:?} (usage: cargo xtask crash [--engine] [--cycles N] [--dir DIR] [--seed S])"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn unknown_flags_and_missing_values_are_errors() {
        let args = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert!(super::check(&args("--engine --cycles 5 --dir /d --seed 3")).is_ok());
        assert!(super::check(&args("--cycle 5")).is_err());
        assert!(super::check(&args("--cycles")).is_err());
    }
}
