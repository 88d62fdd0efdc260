//! `cargo xtask bench`: builds `nexus-bench` with the bench profile, runs each suite, collects
//! the rows into one document with the host and git revision, prints a table, writes the JSON
//! and optionally compares it with a baseline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::baseline::{self, Better, fmt, key};
use crate::{Result, cargo, icount, project_root, run_checked};

const SCHEMA: u64 = 1;

/// The bench binary's suite flags (`SuiteFlags` in `benches/nexus-bench/src/context.rs`), passed
/// through to every suite: the flag and whether it takes a value. Any other flag is an error
/// here, before anything is built.
const SUITE_FLAGS: &[(&str, bool)] = &[
    ("--traces", true),
    ("--max-accesses", true),
    ("--impls", true),
    ("--no-throughput", false),
    ("--cache-seed", true),
    ("--open-memories", true),
    ("--no-anchors", false),
    ("--hnsw-only", false),
    ("--efs", true),
];

#[derive(Default)]
struct Options {
    suites: Vec<String>,
    quick: bool,
    dataset: Option<String>,
    json: Option<PathBuf>,
    /// `--baseline NAME|PATH`: compare with this document.
    baseline: Option<String>,
    /// `--save-baseline NAME`: also store the document as `target/bench/baselines/NAME.json`.
    save_baseline: Option<String>,
    /// `--threshold F`: one fixed relative threshold instead of the per-row noise model.
    threshold: Option<f64>,
    /// `--confirm N`: how many times the suites of regressed rows are run again before the
    /// regression is believed (default 2; 0 trusts one run).
    confirm: usize,
    /// The cargo profile the bench binary is built with (default `bench`). CI passes `test` so
    /// the quick benches reuse the test build's artifacts instead of compiling everything again.
    cargo_profile: String,
    /// `--profile`: a flamegraph SVG of each suite in `target/bench/`.
    flamegraph: bool,
    /// `--icount`: instruction counts under callgrind instead of timings.
    icount: bool,
    /// `--save` (with `--icount`): rewrite the committed counts.
    save: bool,
    passthrough: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        cargo_profile: "bench".into(),
        confirm: 2,
        ..Default::default()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().cloned().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--suite" => o.suites.push(value("--suite")?),
            "--quick" => o.quick = true,
            "--dataset" => o.dataset = Some(value("--dataset")?),
            "--json" => o.json = Some(value("--json")?.into()),
            "--baseline" => o.baseline = Some(value("--baseline")?),
            "--save-baseline" => {
                let name = value("--save-baseline")?;
                baseline::check_name(&name)?;
                o.save_baseline = Some(name);
            }
            "--cargo-profile" => o.cargo_profile = value("--cargo-profile")?,
            "--threshold" => {
                let v = value("--threshold")?;
                let t: f64 = v.parse().map_err(|e| format!("--threshold {v:?}: {e}"))?;
                if !(t.is_finite() && t >= 0.0) {
                    return Err(format!("--threshold {v:?}: a fraction ≥ 0 (0.05 = 5 %)"));
                }
                o.threshold = Some(t);
            }
            "--confirm" => {
                let v = value("--confirm")?;
                o.confirm = v.parse().map_err(|e| format!("--confirm {v:?}: {e}"))?;
            }
            "--profile" => o.flamegraph = true,
            "--icount" => o.icount = true,
            "--save" => o.save = true,
            other => {
                let name = other.split_once('=').map_or(other, |(name, _)| name);
                let Some(&(_, takes_value)) = SUITE_FLAGS.iter().find(|(f, _)| *f == name) else {
                    return Err(format!(
                        "bench: unknown argument {other:?} (suite flags: {}; see cargo xtask --help)",
                        SUITE_FLAGS
                            .iter()
                            .map(|(f, _)| *f)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                };
                o.passthrough.push(other.to_owned());
                if takes_value && name == other {
                    o.passthrough.push(value(name)?);
                }
            }
        }
    }
    if o.save && !o.icount {
        return Err("--save goes with --icount (timings: --save-baseline NAME)".into());
    }
    Ok(o)
}

/// The target directory cargo builds into (`CARGO_TARGET_DIR` or `<root>/target`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| project_root().join("target"), PathBuf::from)
}

/// Builds `nexus-bench` with `profile` and returns the path of its binary. With
/// `non_incremental`, incremental compilation is off (`CARGO_INCREMENTAL=0`, as CI builds):
/// an incremental build splits crates into more codegen units and inlines differently, which
/// moved an instruction count by 7 %, so counts are always taken from a non-incremental build.
pub(crate) fn build_bench(profile: &str, non_incremental: bool) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--quiet",
        "--profile",
        profile,
        "-p",
        "nexus-bench",
    ]);
    if non_incremental {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
    run_checked(&mut cmd)?;
    Ok(target_dir()
        .join(profile_dir(profile))
        .join(format!("nexus-bench{}", std::env::consts::EXE_SUFFIX)))
}

/// Runs one suite of the bench binary `exe` and returns its document
/// (`{"dataset": …, "results": [rows]}`). `extra` goes to the binary as is.
pub(crate) fn run_suite(
    exe: &Path,
    suite: &str,
    quick: bool,
    dataset: Option<&str>,
    extra: &[String],
) -> Result<Value> {
    let mut cmd = Command::new(exe);
    cmd.current_dir(project_root())
        .args(["--suite", suite, "--json", "-"]);
    if quick {
        cmd.arg("--quick");
    }
    if let Some(d) = dataset {
        cmd.args(["--dataset", d]);
    }
    cmd.args(extra).stderr(Stdio::inherit());
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!("suite {suite} failed ({})", out.status));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("suite {suite} printed no valid JSON: {e}"))
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    if o.icount {
        return icount::run(&icount::Options {
            cargo_profile: o.cargo_profile.clone(),
            save: o.save,
            only: o.suites.clone(),
        });
    }
    let exe = build_bench(&o.cargo_profile, false)?;
    let target = target_dir();
    let (rev, dirty) = git_revision();

    let suites = if o.suites.is_empty() {
        list_suites(&exe)?
    } else {
        o.suites.clone()
    };
    let mut results = Vec::new();
    let mut dataset = Value::Null;
    let mut flamegraphs = Vec::new();
    for suite in &suites {
        eprintln!("== suite {suite}{}", if o.quick { " (quick)" } else { "" });
        let mut extra = o.passthrough.clone();
        if o.flamegraph {
            let svg = target
                .join("bench")
                .join(format!("flamegraph-{suite}-{rev}.svg"));
            std::fs::create_dir_all(target.join("bench"))
                .map_err(|e| format!("{}: {e}", target.join("bench").display()))?;
            extra.push("--flamegraph".into());
            extra.push(svg.display().to_string());
            flamegraphs.push(svg);
        }
        let doc = run_suite(&exe, suite, o.quick, o.dataset.as_deref(), &extra)?;
        if !doc["dataset"].is_null() {
            dataset = doc["dataset"].clone();
        }
        results.extend(doc["results"].as_array().cloned().unwrap_or_default());
    }

    let doc = json!({
        "schema": SCHEMA,
        "git_rev": rev,
        "dirty": dirty,
        "host": host(),
        "dataset": dataset,
        "quick": o.quick,
        "cargo_profile": o.cargo_profile,
        "results": results,
    });
    print_table(&results);
    let text = serde_json::to_string_pretty(&doc).expect("JSON values serialize") + "\n";
    let path = o
        .json
        .clone()
        .unwrap_or_else(|| target.join("bench").join(format!("{rev}.json")));
    if path.as_os_str() == "-" {
        print!("{text}");
    } else {
        write_file(&path, &text)?;
        eprintln!("wrote {} rows to {}", results.len(), path.display());
    }
    for svg in &flamegraphs {
        println!("flamegraph: {}", svg.display());
    }
    let mut verdict = Ok(());
    if let Some(name) = &o.baseline {
        let path = baseline::resolve(&target, name);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let known = list_baselines(&target);
            format!(
                "baseline {}: {e} (saved baselines: {known})",
                path.display()
            )
        })?;
        let base: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("\ncompared with baseline {}:", path.display());
        let mut c = baseline::compare(&base, &doc, o.threshold);
        // A regression must reproduce: rerun the suites concerned, keep each row's best run.
        let mut best = doc.clone();
        for attempt in 1..=o.confirm {
            if c.regressions.is_empty() {
                break;
            }
            let again = baseline::regressed_suites(&c.regressions);
            eprintln!(
                "{} row(s) regressed ({}); confirming: run {attempt}/{} of suite(s) {}",
                c.regressions.len(),
                c.regressions
                    .iter()
                    .map(|r| r.split(':').next().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(", "),
                o.confirm,
                again.join(", ")
            );
            for suite in &again {
                let rerun = run_suite(&exe, suite, o.quick, o.dataset.as_deref(), &o.passthrough)?;
                let rows = best["results"].as_array_mut().expect("results is an array");
                baseline::keep_best(rows, rerun["results"].as_array().unwrap_or(&Vec::new()));
            }
            c = baseline::compare(&base, &best, o.threshold);
            if attempt == o.confirm || c.regressions.is_empty() {
                println!("(each row's best of {} runs)", attempt + 1);
            }
        }
        print!("{}", c.report);
        if !c.regressions.is_empty() {
            verdict = Err(format!(
                "{} regression(s) against {}:\n  {}",
                c.regressions.len(),
                path.display(),
                c.regressions.join("\n  ")
            ));
        }
    }
    // Saved after the comparison: `--baseline x --save-baseline x` compares with the old x.
    if let Some(name) = &o.save_baseline {
        let path = baseline::resolve(&target, name);
        write_file(&path, &text)?;
        eprintln!("saved baseline {name:?} at {}", path.display());
    }
    verdict
}

/// Writes `text` to `path`, creating its directory.
pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The names of the saved baselines, for an error message.
fn list_baselines(target: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(target.join("bench/baselines"))
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        "none yet; --save-baseline NAME makes one".into()
    } else {
        names.join(", ")
    }
}

/// The directory under `target/` where cargo puts a profile's artifacts: `bench` shares
/// `release/`, `test` shares `debug/`, a custom profile has its own.
pub(crate) fn profile_dir(profile: &str) -> &str {
    match profile {
        "bench" | "release" => "release",
        "test" | "dev" => "debug",
        other => other,
    }
}

fn list_suites(exe: &Path) -> Result<Vec<String>> {
    let out = Command::new(exe)
        .arg("--list")
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!("{} --list failed", exe.display()));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

pub(crate) fn git_revision() -> (String, bool) {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(project_root())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let rev = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain"]).is_none_or(|s| !s.is_empty());
    (rev, dirty)
}

pub(crate) fn host() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    json!({ "cpu": cpu, "cores": cores, "features": cpu_features() })
}

#[cfg(target_arch = "x86_64")]
fn cpu_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    macro_rules! probe {
        ($($name:tt),*) => {$( if std::arch::is_x86_feature_detected!($name) { f.push($name); } )*};
    }
    probe!(
        "sse4.2",
        "popcnt",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512dq",
        "avx512vnni",
        "avx512vpopcntdq",
        "avx512bitalg",
        "avx512fp16",
        "avx512bf16"
    );
    f
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_features() -> Vec<&'static str> {
    Vec::new()
}

/// How much better `ours` is than `anchor` (> 1 = better): a plain ratio for rates, recall and
/// ratios, inverted for units where less is better (times and bytes).
fn advantage(unit: &str, ours: f64, anchor: f64) -> f64 {
    if baseline::direction(unit) == Some(Better::Lower) {
        anchor / ours
    } else {
        ours / anchor
    }
}

/// One line per (suite, name): our value first, then each anchor with our ratio to it.
fn print_table(results: &[Value]) {
    let mut groups: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    let mut order = Vec::new();
    for r in results {
        let (suite, name, _) = key(r);
        let k = (suite, name);
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(r);
    }
    let width = order.iter().map(|(_, n)| n.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<8} {:<width$} {:>22} {:<9} anchors (ratio > 1x: ours is better)",
        "suite", "name", "ours", "unit"
    );
    for k in &order {
        let rows = &groups[k];
        let unit = rows[0]["unit"].as_str().unwrap_or_default();
        // Our figure: the `nexus` row, else our scalar reference.
        let main = ["nexus", "nexus-scalar"]
            .iter()
            .find_map(|name| rows.iter().find(|r| r["impl"] == *name))
            .copied();
        let ours = main.and_then(|r| r["value"].as_f64());
        let others: Vec<String> = rows
            .iter()
            .filter(|r| main.is_none_or(|m| r["impl"] != m["impl"]))
            .map(|r| {
                let v = r["value"].as_f64().unwrap_or(f64::NAN);
                let ratio = ours
                    .map(|o| format!(" ({:.2}x)", advantage(unit, o, v)))
                    .unwrap_or_default();
                format!("{}={}{ratio}", r["impl"].as_str().unwrap_or("?"), fmt(v))
            })
            .collect();
        let ours = match (main, ours) {
            (Some(m), Some(v)) if m["impl"] != "nexus" => {
                format!("{} [{}]", fmt(v), m["impl"].as_str().unwrap_or("?"))
            }
            (_, v) => v.map_or_else(|| "-".into(), fmt),
        };
        println!(
            "{:<8} {:<width$} {:>22} {:<9} {}",
            k.0,
            k.1,
            ours,
            unit,
            others.join("  ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn suite_flags_pass_through_with_their_values() {
        let o = parse(&args(
            "--suite cache --quick --traces /t --max-accesses=10 --no-throughput --impls a,b",
        ))
        .unwrap();
        assert_eq!(o.suites, ["cache"]);
        assert!(o.quick);
        assert_eq!(
            o.passthrough,
            args("--traces /t --max-accesses=10 --no-throughput --impls a,b")
        );
        // The flags of .ci/run.
        let o = parse(&args(
            "--quick --cargo-profile test --json target/bench/ci.json",
        ))
        .unwrap();
        assert_eq!(o.cargo_profile, "test");
        assert!(o.passthrough.is_empty());
        let o = parse(&args("--icount --cargo-profile test")).unwrap();
        assert!(o.icount);
    }

    #[test]
    fn an_unknown_flag_or_a_missing_value_is_an_error() {
        for bad in ["--quik", "--bogus 1", "--no-anchor", "extra", "--traces"] {
            assert!(parse(&args(bad)).is_err(), "{bad} accepted");
        }
        let e = parse(&args("--suite index --bogus")).err().unwrap();
        assert!(e.contains("unknown argument \"--bogus\""), "{e}");
    }

    #[test]
    fn the_flags_pgo_passes_are_suite_flags() {
        for (_, flags) in crate::pgo::SUITES {
            for f in flags.iter().filter(|f| f.starts_with("--")) {
                assert!(SUITE_FLAGS.iter().any(|(s, _)| s == f), "{f}");
            }
        }
    }

    /// `SUITE_FLAGS` against the bench binary's `SuiteFlags` (clap derives `--no-anchors` from
    /// the field `no_anchors`; a `bool` field takes no value).
    #[test]
    fn suite_flags_match_the_bench_binary() {
        let src =
            std::fs::read_to_string(project_root().join("benches/nexus-bench/src/context.rs"))
                .unwrap();
        let start = src.find("pub(crate) struct SuiteFlags {").unwrap();
        let body = &src[start..start + src[start..].find("\n}").unwrap()];
        let fields: Vec<(String, bool)> = body
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub(crate) "))
            .filter_map(|l| l.split_once(':'))
            .map(|(name, ty)| {
                (
                    format!("--{}", name.trim().replace('_', "-")),
                    ty.trim() != "bool,",
                )
            })
            .collect();
        let ours: Vec<(String, bool)> = SUITE_FLAGS
            .iter()
            .map(|&(f, v)| (f.to_owned(), v))
            .collect();
        assert_eq!(fields, ours);
    }
}
