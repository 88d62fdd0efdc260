//! `cargo xtask bench`: builds `nexus-bench` with the bench profile, runs each suite, collects
//! the rows into one document with the host and git revision, prints a table, writes the JSON
//! and optionally compares it with a baseline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::{Result, cargo, project_root, run_checked};

const SCHEMA: u64 = 1;

/// Units where a smaller value is better; every other unit is better when larger.
const LOWER_IS_BETTER: &[&str] = &["ns", "us", "ms", "s", "B"];

#[derive(Default)]
struct Options {
    suites: Vec<String>,
    quick: bool,
    dataset: Option<String>,
    json: Option<PathBuf>,
    baseline: Option<PathBuf>,
    threshold: f64,
    /// The cargo profile the bench binary is built with (default `bench`). CI passes `test` so
    /// the quick benches reuse the test build's artifacts instead of compiling everything again.
    cargo_profile: String,
    passthrough: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        threshold: 0.10,
        cargo_profile: "bench".into(),
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
            "--baseline" => o.baseline = Some(value("--baseline")?.into()),
            "--cargo-profile" => o.cargo_profile = value("--cargo-profile")?,
            "--threshold" => {
                o.threshold = value("--threshold")?
                    .parse()
                    .map_err(|e| format!("--threshold: {e}"))?;
            }
            _ => o.passthrough.push(arg.clone()),
        }
    }
    Ok(o)
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    run_checked(cargo().args([
        "build",
        "--quiet",
        "--profile",
        &o.cargo_profile,
        "-p",
        "nexus-bench",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| project_root().join("target"), PathBuf::from);
    let exe = target
        .join(profile_dir(&o.cargo_profile))
        .join(format!("nexus-bench{}", std::env::consts::EXE_SUFFIX));

    let suites = if o.suites.is_empty() {
        list_suites(&exe)?
    } else {
        o.suites.clone()
    };
    let mut results = Vec::new();
    let mut dataset = Value::Null;
    for suite in &suites {
        eprintln!("== suite {suite}{}", if o.quick { " (quick)" } else { "" });
        let mut cmd = Command::new(&exe);
        cmd.current_dir(project_root())
            .args(["--suite", suite, "--json", "-"]);
        if o.quick {
            cmd.arg("--quick");
        }
        if let Some(d) = &o.dataset {
            cmd.args(["--dataset", d]);
        }
        cmd.args(&o.passthrough).stderr(Stdio::inherit());
        let out = cmd
            .output()
            .map_err(|e| format!("{}: {e}", exe.display()))?;
        if !out.status.success() {
            return Err(format!("suite {suite} failed ({})", out.status));
        }
        let doc: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("suite {suite} printed no valid JSON: {e}"))?;
        if !doc["dataset"].is_null() {
            dataset = doc["dataset"].clone();
        }
        results.extend(doc["results"].as_array().cloned().unwrap_or_default());
    }

    let (rev, dirty) = git_revision();
    let doc = json!({
        "schema": SCHEMA,
        "git_rev": rev,
        "dirty": dirty,
        "host": host(),
        "dataset": dataset,
        "quick": o.quick,
        "results": results,
    });
    print_table(&results);
    let path = o
        .json
        .clone()
        .unwrap_or_else(|| target.join("bench").join(format!("{rev}.json")));
    if path.as_os_str() == "-" {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values serialize")
        );
    } else {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&doc).expect("JSON values serialize") + "\n";
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {} rows to {}", results.len(), path.display());
    }
    if let Some(baseline) = &o.baseline {
        compare(baseline, &results, o.threshold)?;
    }
    Ok(())
}

/// The directory under `target/` where cargo puts a profile's artifacts: `bench` shares
/// `release/`, `test` shares `debug/`, a custom profile has its own.
fn profile_dir(profile: &str) -> &str {
    match profile {
        "bench" | "release" => "release",
        "test" | "dev" => "debug",
        other => other,
    }
}

fn list_suites(exe: &PathBuf) -> Result<Vec<String>> {
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

fn git_revision() -> (String, bool) {
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

fn host() -> Value {
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

fn key(row: &Value) -> (String, String, String) {
    let s = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
    (s("suite"), s("name"), s("impl"))
}

/// How much better `ours` is than `anchor` (> 1 = better): a plain ratio for rates, recall and
/// ratios, inverted for units where less is better (times and bytes).
fn advantage(unit: &str, ours: f64, anchor: f64) -> f64 {
    if LOWER_IS_BETTER.contains(&unit) {
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

fn fmt(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Flags every row of ours that got worse than the baseline by more than `threshold`.
fn compare(baseline: &PathBuf, results: &[Value], threshold: f64) -> Result<()> {
    let text =
        std::fs::read_to_string(baseline).map_err(|e| format!("{}: {e}", baseline.display()))?;
    let base: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", baseline.display()))?;
    let old: BTreeMap<_, f64> = base["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((key(r), r["value"].as_f64()?)))
        .collect();
    let mut regressions = Vec::new();
    let mut compared = 0;
    for r in results.iter().filter(|r| r["impl"] == "nexus") {
        let (Some(&before), Some(now)) = (old.get(&key(r)), r["value"].as_f64()) else {
            continue;
        };
        compared += 1;
        let lower_better = LOWER_IS_BETTER.contains(&r["unit"].as_str().unwrap_or_default());
        let change = if lower_better {
            before / now - 1.0
        } else {
            now / before - 1.0
        };
        if change < -threshold {
            regressions.push(format!(
                "{} {}: {} -> {} {} ({:+.1}%)",
                r["suite"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default(),
                fmt(before),
                fmt(now),
                r["unit"].as_str().unwrap_or_default(),
                change * 100.0
            ));
        }
    }
    eprintln!(
        "baseline {}: {compared} rows compared, threshold {:.0}%",
        baseline.display(),
        threshold * 100.0
    );
    if regressions.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} regression(s):\n  {}",
            regressions.len(),
            regressions.join("\n  ")
        ))
    }
}
