//! `cargo xtask bench --icount [--suite NAME] [--save]`: instruction counts of fixed small
//! workloads under valgrind's callgrind, compared with the counts committed in
//! `benches/baselines/icount.json`; a rise above [`MAX_RISE_PERCENT`] fails.
//!
//! Timings on a shared 2-core machine move by several per cent from run to run; instruction
//! counts repeat to the instruction, so a small regression of the code itself shows. Callgrind
//! hides AVX-512 from the program, so the counts are of the AVX2 kernels. The workloads live in
//! `benches/nexus-bench/src/icount.rs` (the binary lists them with `--icount-list`); each runs
//! in its own callgrind process, counted only inside `icount_measured` (setup is not counted).
//!
//! Counts depend on the compiler and the cargo profile: the file keeps one set per profile. The
//! binary is always built without incremental compilation (as CI builds), so a developer's
//! incremental setting cannot move the counts.
//! `--save` rewrites the current profile's counts on purpose (commit the file with the change
//! that moved them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

use crate::bench::{build_bench, target_dir, write_file};
use crate::{Result, project_root};

/// The largest rise of a count that passes, in per cent.
pub(crate) const MAX_RISE_PERCENT: u64 = 2;

/// Whether `now` is more than [`MAX_RISE_PERCENT`] above `old` (or below), in exact integers.
fn beyond(from: u64, to: u64) -> bool {
    u128::from(to.saturating_sub(from)) * 100 > u128::from(from) * u128::from(MAX_RISE_PERCENT)
}

/// What `--icount` was asked to do.
pub(crate) struct Options {
    pub(crate) cargo_profile: String,
    pub(crate) save: bool,
    /// `--suite NAME`s: only the workloads named `NAME/…`.
    pub(crate) only: Vec<String>,
}

/// The committed counts.
fn counts_file() -> PathBuf {
    project_root().join("benches/baselines/icount.json")
}

pub(crate) fn run(o: &Options) -> Result<()> {
    let started = Instant::now();
    let valgrind = valgrind_version()?;
    let exe = build_bench(&o.cargo_profile, true)?;
    let workloads = list_workloads(&exe)?;
    let chosen: Vec<&String> = workloads
        .iter()
        .filter(|w| {
            o.only.is_empty()
                || o.only
                    .iter()
                    .any(|s| w.split('/').next() == Some(s.as_str()))
        })
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "no icount workload in suite(s) {:?}; workloads: {}",
            o.only,
            workloads.join(", ")
        ));
    }
    let out_dir = target_dir().join("bench/icount");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut counts = BTreeMap::new();
    for w in &chosen {
        let t = Instant::now();
        let n = count(&exe, w, &out_dir)?;
        eprintln!(
            "icount {w}: {n} instructions ({:.1} s under callgrind)",
            t.elapsed().as_secs_f64()
        );
        counts.insert((*w).clone(), n);
    }

    let path = counts_file();
    let mut file: Value = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({ "schema": 1 }),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let committed = &file["profiles"][&o.cargo_profile];
    let report = compare(committed, &counts, &valgrind);
    print!("{}", report.text);
    eprintln!(
        "icount: {} workloads in {:.0} s (cargo profile {}, {valgrind})",
        counts.len(),
        started.elapsed().as_secs_f64(),
        o.cargo_profile
    );
    if o.save {
        let mut all: BTreeMap<String, Value> = committed["counts"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        // Counts of workloads that no longer exist go; those not run this time stay.
        all.retain(|k, _| workloads.contains(k));
        for (k, n) in &counts {
            all.insert(k.clone(), json!(n));
        }
        file["schema"] = json!(1);
        file["profiles"][&o.cargo_profile] = json!({ "valgrind": valgrind, "counts": all });
        let text = serde_json::to_string_pretty(&file).expect("JSON values serialize") + "\n";
        write_file(&path, &text)?;
        eprintln!(
            "saved {} counts for profile {} to {}",
            counts.len(),
            o.cargo_profile,
            path.display()
        );
        return Ok(());
    }
    if committed["counts"].is_null() {
        return Err(format!(
            "{} has no counts for cargo profile {:?}: record them with \
             `cargo xtask bench --icount --save{}`",
            path.display(),
            o.cargo_profile,
            if o.cargo_profile == "bench" {
                String::new()
            } else {
                format!(" --cargo-profile {}", o.cargo_profile)
            }
        ));
    }
    if report.rises.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} instruction count(s) rose by more than {MAX_RISE_PERCENT}% (if on purpose: \
             `cargo xtask bench --icount --save` and commit {}):\n  {}",
            report.rises.len(),
            path.display(),
            report.rises.join("\n  ")
        ))
    }
}

/// `valgrind --version` (`valgrind-3.19.0`), or how to get it.
fn valgrind_version() -> Result<String> {
    let out = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|e| format!("valgrind: {e} (Debian: apt-get install valgrind)"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn list_workloads(exe: &Path) -> Result<Vec<String>> {
    let out = Command::new(exe)
        .arg("--icount-list")
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!("{} --icount-list failed", exe.display()));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The callgrind command that counts workload `name` into `out`.
pub(crate) fn callgrind_command(exe: &Path, name: &str, out: &Path) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.current_dir(project_root())
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        // Count only inside the workload's measured function, not setup or process start.
        .arg("--collect-atstart=no")
        .arg("--toggle-collect=*icount_measured*")
        .arg(exe)
        .args(["--icount-workload", name]);
    cmd
}

/// Runs one workload under callgrind and returns its instruction count.
fn count(exe: &Path, name: &str, dir: &Path) -> Result<u64> {
    let file: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let out = dir.join(format!("{file}.callgrind.out"));
    let mut cmd = callgrind_command(exe, name, &out);
    let run = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !run.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}):\n{}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let n =
        parse_total(&text).ok_or_else(|| format!("{}: no summary/totals line", out.display()))?;
    if n == 0 {
        return Err(format!(
            "callgrind counted nothing for {name}: the symbol icount_measured was not found \
             (a stripped binary?)"
        ));
    }
    Ok(n)
}

/// The instruction count (the first event, `Ir`) of a callgrind out file: its `totals:` line,
/// else its `summary:` line.
pub(crate) fn parse_total(text: &str) -> Option<u64> {
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    line("totals:").or_else(|| line("summary:"))
}

/// The comparison's printed text and its failures.
pub(crate) struct Report {
    pub(crate) text: String,
    pub(crate) rises: Vec<String>,
}

/// Compares fresh counts with a profile's committed entry (`{"valgrind", "counts"}`).
pub(crate) fn compare(committed: &Value, now: &BTreeMap<String, u64>, valgrind: &str) -> Report {
    use std::fmt::Write as _;
    let mut text = String::new();
    let mut rises = Vec::new();
    if let Some(v) = committed["valgrind"].as_str()
        && v != valgrind
    {
        let _ = writeln!(
            text,
            "warning: the committed counts were taken with {v}, now {valgrind}"
        );
    }
    let width = now.keys().map(String::len).max().unwrap_or(8).max(8);
    let _ = writeln!(
        text,
        "{:<width$} {:>14} {:>14} {:>8}  verdict",
        "workload", "committed", "now", "change"
    );
    for (name, &n) in now {
        let Some(old) = committed["counts"][name].as_u64() else {
            let _ = writeln!(
                text,
                "{name:<width$} {:>14} {n:>14} {:>8}  new (no committed count)",
                "-", "-"
            );
            continue;
        };
        let change = n as f64 / old as f64 - 1.0;
        let verdict = if beyond(old, n) {
            rises.push(format!("{name}: {old} -> {n} ({:+.2}%)", change * 100.0));
            "ROSE"
        } else if beyond(n, old) {
            "fell (record it: --icount --save)"
        } else {
            "ok"
        };
        let _ = writeln!(
            text,
            "{name:<width$} {old:>14} {n:>14} {:>+7.2}%  {verdict}",
            change * 100.0
        );
    }
    if let Some(old) = committed["counts"].as_object() {
        let gone: Vec<&str> = old
            .keys()
            .filter(|k| !now.contains_key(*k))
            .map(String::as_str)
            .collect();
        if !gone.is_empty() {
            let _ = writeln!(text, "not run now: {}", gone.join(", "));
        }
    }
    Report { text, rises }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_callgrind_totals() {
        let text = "# callgrind format\nversion: 1\ncmd: x\nevents: Ir\nsummary: 12345\n\
                    fn=(1) f\n3 5\ntotals: 12345\n";
        assert_eq!(parse_total(text), Some(12345));
        assert_eq!(parse_total("events: Ir\nsummary: 77\n"), Some(77));
        assert_eq!(parse_total("events: Ir Dr\ntotals: 5 9\n"), Some(5));
        assert_eq!(parse_total("events: Ir\n"), None);
    }

    #[test]
    fn a_rise_above_two_percent_fails() {
        let committed = json!({
            "valgrind": "valgrind-3.19.0",
            "counts": {"a": 1000, "b": 1000, "c": 1000, "gone": 5},
        });
        let now: BTreeMap<String, u64> = [("a", 1020), ("b", 1021), ("c", 900), ("new", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let r = compare(&committed, &now, "valgrind-3.19.0");
        assert_eq!(r.rises, vec!["b: 1000 -> 1021 (+2.10%)".to_owned()]);
        assert!(r.text.contains("fell"));
        assert!(r.text.contains("new (no committed count)"));
        assert!(r.text.contains("not run now: gone"));
        assert!(!r.text.contains("warning"));
        let r = compare(&committed, &now, "valgrind-3.22.0");
        assert!(
            r.text
                .contains("warning: the committed counts were taken with")
        );
    }

    #[test]
    fn callgrind_counts_only_the_measured_function() {
        let cmd = callgrind_command(Path::new("/b/nexus-bench"), "kernels/x", Path::new("/o"));
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "valgrind");
        assert_eq!(
            args,
            [
                "--tool=callgrind",
                "--callgrind-out-file=/o",
                "--collect-atstart=no",
                "--toggle-collect=*icount_measured*",
                "/b/nexus-bench",
                "--icount-workload",
                "kernels/x",
            ]
        );
    }
}
