//! `cargo xtask pgo`: a profile-guided optimized build of `nexus` and `nexus-bench`, with its
//! speedup measured against the plain build.
//!
//! 1. clear `target/pgo/profiles`;
//! 2. build with `-Cprofile-generate` and an explicit `--target <host>` (as cargo-pgo does, so
//!    build scripts and proc macros are not instrumented);
//! 3. run the training workload, [`SUITES`] on the bundled data (or `--dataset DIR`);
//! 4. merge the profiles with an `llvm-profdata` of rustc's LLVM major version (rustup's
//!    `llvm-tools` if installed, then `/usr/lib/llvm-<major>/bin`, then `PATH`; never a
//!    mismatched one);
//! 5. rebuild with `-Cprofile-use -Cllvm-args=-pgo-warn-missing-function` and count the
//!    functions without profile data;
//! 6. run the same suites on the plain and the PGO build interleaved (A B A B …) and print the
//!    change of every row of ours with its noise.
//!
//! The optimized binaries are copied to `target/pgo/bin/`. `llvm-tools` is never added to
//! `rust-toolchain.toml`: rustup cannot download components on these machines.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::baseline::{Verdict, fmt, judge, key, median_and_mad};
use crate::bench::{build_bench, profile_dir, run_suite, target_dir};
use crate::{Result, cargo, project_root};

/// The training and measuring workload: `(suite, its flags)`. The index suite runs without its
/// anchors (their code is not ours to optimize, and they take half its time); the engine suite
/// opens a 10k-memory store instead of building a 1M one. A suite added here is both trained
/// and measured.
pub(crate) const SUITES: &[(&str, &[&str])] = &[
    ("engine", &["--open-memories", "10000"]),
    ("index", &["--no-anchors"]),
    ("exact", &[]),
];

/// The packages built with PGO; their binaries are left in `target/pgo/bin/`.
const PACKAGES: &[(&str, &str)] = &[("nexus-cli", "nexus"), ("nexus-bench", "nexus-bench")];

const USAGE: &str = "usage: cargo xtask pgo [--dataset DIR] [--pairs N (default 5)] [--quick]
                       [--cargo-profile NAME (default bench)] [--measure-only]";

struct Options {
    dataset: Option<String>,
    pairs: usize,
    quick: bool,
    cargo_profile: String,
    /// `--measure-only`: skip the builds, compare the plain build with `target/pgo/bin/`.
    measure_only: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        dataset: None,
        pairs: 5,
        quick: false,
        cargo_profile: "bench".into(),
        measure_only: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().cloned().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--dataset" => o.dataset = Some(value("--dataset")?),
            "--quick" => o.quick = true,
            "--measure-only" => o.measure_only = true,
            "--cargo-profile" => o.cargo_profile = value("--cargo-profile")?,
            "--pairs" => {
                let v = value("--pairs")?;
                o.pairs = v
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(format!("--pairs {v:?}: a count ≥ 1"))?;
            }
            other => return Err(format!("pgo: unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(o)
}

/// What `rustc -vV` says about the toolchain.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rustc {
    pub(crate) host: String,
    pub(crate) llvm_major: u32,
}

/// Parses `rustc -vV`: the `host:` triple and the major of `LLVM version: 22.1.2`.
pub(crate) fn parse_rustc_vv(text: &str) -> Result<Rustc> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let host = field("host:").ok_or("rustc -vV printed no host: line")?;
    let llvm = field("LLVM version:").ok_or("rustc -vV printed no LLVM version: line")?;
    let llvm_major = major(&llvm).ok_or(format!("rustc's LLVM version {llvm:?}"))?;
    Ok(Rustc { host, llvm_major })
}

/// The leading integer of a version such as `22.1.2`.
fn major(version: &str) -> Option<u32> {
    let digits: String = version
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The LLVM major version in `llvm-profdata --version` output (`LLVM version 22.1.2`,
/// `Ubuntu LLVM version 14.0.6`, `Debian LLVM version 22.1.0`).
pub(crate) fn parse_profdata_version(text: &str) -> Option<u32> {
    let at = text.find("LLVM version")?;
    major(&text[at + "LLVM version".len()..])
}

/// Where to look for `llvm-profdata`, in order: rustup's `llvm-tools` in the sysroot, the
/// Debian/Ubuntu `llvm-<major>` package, then `PATH` (the versioned name first).
pub(crate) fn profdata_candidates(sysroot: &Path, host: &str, major: u32) -> Vec<PathBuf> {
    let exe = std::env::consts::EXE_SUFFIX;
    let mut c = vec![
        sysroot
            .join("lib/rustlib")
            .join(host)
            .join("bin")
            .join(format!("llvm-profdata{exe}")),
        PathBuf::from(format!("/usr/lib/llvm-{major}/bin/llvm-profdata{exe}")),
    ];
    let names = [
        format!("llvm-profdata-{major}{exe}"),
        format!("llvm-profdata{exe}"),
    ];
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        for name in &names {
            c.push(dir.join(name));
        }
    }
    c
}

/// Picks the first candidate whose LLVM major is `major`. `found` holds every candidate that
/// exists, with the major it reported (`None`: it would not say). Never picks a mismatch.
pub(crate) fn pick_profdata(found: &[(PathBuf, Option<u32>)], major: u32) -> Result<PathBuf> {
    if let Some((path, _)) = found.iter().find(|(_, m)| *m == Some(major)) {
        return Ok(path.clone());
    }
    let seen = if found.is_empty() {
        "none was found".to_owned()
    } else {
        let list: Vec<String> = found
            .iter()
            .map(|(p, m)| {
                let v = m.map_or_else(|| "unknown version".to_owned(), |m| format!("LLVM {m}"));
                format!("{} ({v})", p.display())
            })
            .collect();
        format!(
            "found only {} — a profile merged by another LLVM version is unreadable or \
             silently wrong, so none of them is used",
            list.join(", ")
        )
    };
    Err(format!(
        "no llvm-profdata of LLVM {major} (rustc's LLVM major version): {seen}. Install one: \
         Debian/Ubuntu `apt-get install llvm-{major}` (gives /usr/lib/llvm-{major}/bin/\
         llvm-profdata), or `rustup component add llvm-tools` where rustup can download"
    ))
}

/// The flags cargo passes to rustc, as `CARGO_ENCODED_RUSTFLAGS` (0x1f-separated): the
/// caller's own (`CARGO_ENCODED_RUSTFLAGS`, else `RUSTFLAGS` split on whitespace), then `extra`.
pub(crate) fn encoded_rustflags(
    encoded: Option<&str>,
    plain: Option<&str>,
    extra: &[String],
) -> String {
    let mut flags: Vec<String> = match (encoded, plain) {
        (Some(e), _) if !e.is_empty() => e.split('\x1f').map(str::to_owned).collect(),
        (_, Some(p)) => p.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    flags.extend(extra.iter().cloned());
    flags.join("\x1f")
}

/// `cargo build` of [`PACKAGES`] for `host` with `profile` and the extra rustc `flags`, its
/// messages as JSON on stdout.
pub(crate) fn build_command(profile: &str, host: &str, flags: &[String]) -> Command {
    let mut cmd = cargo();
    cmd.args(["build", "--profile", profile, "--target", host]);
    for (package, _) in PACKAGES {
        cmd.args(["-p", package]);
    }
    // JSON messages on stdout, read by `build`: rustc warns once per function without profile
    // data, thousands of lines that are counted rather than shown.
    cmd.arg("--message-format=json");
    let encoded = encoded_rustflags(
        std::env::var("CARGO_ENCODED_RUSTFLAGS").ok().as_deref(),
        std::env::var("RUSTFLAGS").ok().as_deref(),
        flags,
    );
    cmd.env("CARGO_ENCODED_RUSTFLAGS", encoded)
        .env_remove("RUSTFLAGS");
    cmd
}

/// Runs a [`build_command`] and returns how many "no profile data" warnings rustc gave, per
/// crate. Cargo's rendered diagnostics go to stderr as usual.
fn build(cmd: &mut Command) -> Result<BTreeMap<String, usize>> {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed ({})", out.status));
    }
    Ok(count_missing_profiles(&String::from_utf8_lossy(
        &out.stdout,
    )))
}

/// Counts rustc messages "no profile data available for function …" per crate in cargo's
/// JSON message stream.
pub(crate) fn count_missing_profiles(json_lines: &str) -> BTreeMap<String, usize> {
    let mut by_crate = BTreeMap::new();
    for line in json_lines.lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-message" {
            continue;
        }
        let text = msg["message"]["message"].as_str().unwrap_or_default();
        if text.contains("no profile data available for function") {
            let name = msg["target"]["name"].as_str().unwrap_or("?").to_owned();
            *by_crate.entry(name).or_insert(0) += 1;
        }
    }
    by_crate
}

fn rustc_info() -> Result<(Rustc, PathBuf)> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let run = |args: &[&str]| -> Result<String> {
        let out = Command::new(&rustc)
            .current_dir(project_root())
            .args(args)
            .output()
            .map_err(|e| format!("rustc: {e}"))?;
        if !out.status.success() {
            return Err(format!("rustc {args:?} failed ({})", out.status));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let info = parse_rustc_vv(&run(&["-vV"])?)?;
    let sysroot = PathBuf::from(run(&["--print", "sysroot"])?);
    Ok((info, sysroot))
}

/// Finds an `llvm-profdata` of LLVM `major`, asking each existing candidate its version.
fn find_profdata(sysroot: &Path, host: &str, major: u32) -> Result<PathBuf> {
    let mut found: Vec<(PathBuf, Option<u32>)> = Vec::new();
    for path in profdata_candidates(sysroot, host, major) {
        if !path.is_file() || found.iter().any(|(p, _)| *p == path) {
            continue;
        }
        let version = Command::new(&path)
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| parse_profdata_version(&String::from_utf8_lossy(&o.stdout)));
        found.push((path, version));
    }
    pick_profdata(&found, major)
}

/// One run of every suite in [`SUITES`] with the bench binary `exe`: the rows of ours
/// (`nexus`, and `nexus-scalar` for the suites that only have a scalar reference).
fn run_workload(exe: &Path, o: &Options, env: &[(&str, OsString)]) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    for (suite, flags) in SUITES {
        let extra: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
        let doc = run_suite_env(exe, suite, o, &extra, env)?;
        rows.extend(
            doc["results"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r["impl"] == "nexus" || r["impl"] == "nexus-scalar"),
        );
    }
    Ok(rows)
}

fn run_suite_env(
    exe: &Path,
    suite: &str,
    o: &Options,
    extra: &[String],
    env: &[(&str, OsString)],
) -> Result<Value> {
    if env.is_empty() {
        return run_suite(exe, suite, o.quick, o.dataset.as_deref(), extra);
    }
    // The instrumented binary: where its profiles go.
    let mut cmd = Command::new(exe);
    cmd.current_dir(project_root())
        .args(["--suite", suite, "--json", "-"]);
    if o.quick {
        cmd.arg("--quick");
    }
    if let Some(d) = &o.dataset {
        cmd.args(["--dataset", d]);
    }
    cmd.args(extra).stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "training run of suite {suite} failed ({})",
            out.status
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("suite {suite}: {e}"))
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let started = Instant::now();
    let bin = target_dir().join("pgo/bin");
    let pgo_exe = bin.join(format!("nexus-bench{}", std::env::consts::EXE_SUFFIX));
    if o.measure_only {
        if !pgo_exe.is_file() {
            return Err(format!(
                "--measure-only: no PGO build at {} yet (run `cargo xtask pgo` once)",
                pgo_exe.display()
            ));
        }
        return measure(&o, &pgo_exe, &bin, started);
    }
    let (rustc, sysroot) = rustc_info()?;
    // Before any build: refuse early when no matching llvm-profdata exists.
    let profdata = find_profdata(&sysroot, &rustc.host, rustc.llvm_major)?;
    eprintln!(
        "pgo: host {}, rustc LLVM {}, {}",
        rustc.host,
        rustc.llvm_major,
        profdata.display()
    );
    let target = target_dir();
    let pgo_dir = target.join("pgo");
    let profiles = pgo_dir.join("profiles");
    if profiles.exists() {
        std::fs::remove_dir_all(&profiles).map_err(|e| format!("{}: {e}", profiles.display()))?;
    }
    std::fs::create_dir_all(&profiles).map_err(|e| format!("{}: {e}", profiles.display()))?;
    let built_dir = target.join(&rustc.host).join(profile_dir(&o.cargo_profile));
    let bench_exe = built_dir.join(format!("nexus-bench{}", std::env::consts::EXE_SUFFIX));

    eprintln!("pgo: 1/5 instrumented build ({})", o.cargo_profile);
    let generate = format!("-Cprofile-generate={}", profiles.display());
    build(&mut build_command(
        &o.cargo_profile,
        &rustc.host,
        &[generate],
    ))?;

    eprintln!("pgo: 2/5 training run: {}", suite_names());
    let profile_file = profiles.join("nexus-%p-%m.profraw");
    run_workload(
        &bench_exe,
        &o,
        &[("LLVM_PROFILE_FILE", profile_file.into_os_string())],
    )?;

    eprintln!("pgo: 3/5 merging with {}", profdata.display());
    let merged = pgo_dir.join("merged.profdata");
    let raw: Vec<PathBuf> = std::fs::read_dir(&profiles)
        .map_err(|e| format!("{}: {e}", profiles.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "profraw"))
        .collect();
    if raw.is_empty() {
        return Err(format!(
            "the training run wrote no profile to {}",
            profiles.display()
        ));
    }
    crate::run_checked(
        Command::new(&profdata)
            .arg("merge")
            .arg("-o")
            .arg(&merged)
            .args(&raw),
    )?;

    eprintln!("pgo: 4/5 optimized build");
    let use_flags = [
        format!("-Cprofile-use={}", merged.display()),
        "-Cllvm-args=-pgo-warn-missing-function".to_owned(),
    ];
    let missing = build(&mut build_command(
        &o.cargo_profile,
        &rustc.host,
        &use_flags,
    ))?;
    let total: usize = missing.values().sum();
    let per_crate: Vec<String> = missing.iter().map(|(c, n)| format!("{c} {n}")).collect();
    println!(
        "functions without profile data: {total}{}",
        if per_crate.is_empty() {
            String::new()
        } else {
            format!(" ({})", per_crate.join(", "))
        }
    );
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    for (_, name) in PACKAGES {
        let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
        std::fs::copy(built_dir.join(&file), bin.join(&file))
            .map_err(|e| format!("{}: {e}", built_dir.join(&file).display()))?;
    }
    measure(&o, &pgo_exe, &bin, started)
}

/// Step 5: the plain and the PGO build of the bench, interleaved, and the table of changes.
fn measure(o: &Options, pgo_exe: &Path, bin: &Path, started: Instant) -> Result<()> {
    eprintln!(
        "pgo: 5/5 plain vs PGO, {} interleaved pairs (A B A B …)",
        o.pairs
    );
    let plain_exe = build_bench(&o.cargo_profile, false)?;
    let (mut plain, mut pgo) = (Vec::new(), Vec::new());
    for pair in 1..=o.pairs {
        eprintln!("pgo: pair {pair}/{}: plain", o.pairs);
        plain.push(run_workload(&plain_exe, o, &[])?);
        eprintln!("pgo: pair {pair}/{}: pgo", o.pairs);
        pgo.push(run_workload(pgo_exe, o, &[])?);
    }
    print!("{}", changes(&plain, &pgo));
    println!(
        "optimized binaries: {} (nexus, nexus-bench; cargo profile {}); total {:.0} s",
        bin.display(),
        o.cargo_profile,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn suite_names() -> String {
    SUITES
        .iter()
        .map(|(s, f)| {
            if f.is_empty() {
                (*s).to_owned()
            } else {
                format!("{s} {}", f.join(" "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The per-row table: median of the plain runs, of the PGO runs, the change, the noise (the
/// regression model of `--baseline`: 3 × the larger MAD across runs, at least 3 %) and whether
/// the change is beyond it.
pub(crate) fn changes(plain: &[Vec<Value>], pgo: &[Vec<Value>]) -> String {
    use std::fmt::Write as _;
    type Samples = BTreeMap<(String, String, String), (String, Vec<f64>, Vec<f64>)>;
    let mut rows: Samples = BTreeMap::new();
    for (side, runs) in [(0, plain), (1, pgo)] {
        for run in runs {
            for r in run {
                let Some(v) = r["value"].as_f64() else {
                    continue;
                };
                let unit = r["unit"].as_str().unwrap_or_default().to_owned();
                let e = rows
                    .entry(key(r))
                    .or_insert_with(|| (unit, Vec::new(), Vec::new()));
                if side == 0 { &mut e.1 } else { &mut e.2 }.push(v);
            }
        }
    }
    // Rows with one value in every run of both builds (sizes, most recalls) say nothing here.
    let same = |(_, a, b): &(String, Vec<f64>, Vec<f64>)| a.iter().chain(b).all(|v| *v == a[0]);
    let constant = rows.values().filter(|v| !v.1.is_empty() && same(v)).count();
    rows.retain(|_, v| !v.1.is_empty() && !v.2.is_empty() && !same(v));
    let label = |(suite, name, imp): &(String, String, String)| {
        if imp == "nexus" {
            format!("{suite}/{name}")
        } else {
            format!("{suite}/{name} [{imp}]")
        }
    };
    let width = rows.keys().map(|k| label(k).len()).max().unwrap_or(3);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$} {:>12} {:>12} {:<9} {:>8} {:>7}  verdict (PGO vs plain)",
        "row", "plain", "pgo", "unit", "change", "noise"
    );
    let (mut better, mut worse, mut same) = (0, 0, 0);
    for (k, (unit, a, b)) in &rows {
        let (ma, da) = median_and_mad(a);
        let (mb, db) = median_and_mad(b);
        let j = judge(unit, (ma, da), (mb, db), None);
        let verdict = match j.verdict {
            Verdict::Improved => {
                better += 1;
                "faster/better"
            }
            Verdict::Regressed => {
                worse += 1;
                "slower/worse"
            }
            Verdict::Same => {
                same += 1;
                "within noise"
            }
            Verdict::Unknown => "?",
        };
        let _ = writeln!(
            out,
            "{:<width$} {:>12} {:>12} {unit:<9} {:>+7.1}% {:>6.1}%  {verdict}",
            label(k),
            fmt(ma),
            fmt(mb),
            j.change * 100.0,
            j.noise * 100.0
        );
    }
    let _ = writeln!(
        out,
        "PGO: {better} rows better beyond noise, {worse} worse, {same} within noise \
         (medians of {} plain and {} PGO runs; {constant} rows identical in every run not shown)",
        plain.len(),
        pgo.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_host_and_llvm_major_from_rustc() {
        let text = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\n\
                    commit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860\n\
                    commit-date: 2026-04-14\nhost: x86_64-unknown-linux-gnu\n\
                    release: 1.95.0\nLLVM version: 22.1.2\n";
        assert_eq!(
            parse_rustc_vv(text),
            Ok(Rustc {
                host: "x86_64-unknown-linux-gnu".into(),
                llvm_major: 22
            })
        );
        assert!(parse_rustc_vv("host: x\n").is_err());
    }

    #[test]
    fn reads_llvm_profdata_versions() {
        assert_eq!(
            parse_profdata_version("LLVM (http://llvm.org/):\n  LLVM version 22.1.2\n"),
            Some(22)
        );
        assert_eq!(
            parse_profdata_version(
                "Ubuntu LLVM version 14.0.6\n  Optimized build.\n  Default target: x"
            ),
            Some(14)
        );
        assert_eq!(
            parse_profdata_version("Debian LLVM version 22.1.0"),
            Some(22)
        );
        assert_eq!(
            parse_profdata_version("llvm-profdata: Unknown command!"),
            None
        );
    }

    #[test]
    fn picks_only_a_matching_major() {
        let p = |s: &str| PathBuf::from(s);
        let found = vec![
            (p("/usr/bin/llvm-profdata"), Some(14)),
            (p("/usr/lib/llvm-22/bin/llvm-profdata"), Some(22)),
            (p("/other/llvm-profdata"), Some(22)),
        ];
        assert_eq!(
            pick_profdata(&found, 22),
            Ok(p("/usr/lib/llvm-22/bin/llvm-profdata"))
        );
        // Only a mismatched one: refused, with the install hint.
        let err = pick_profdata(&found[..1], 22).expect_err("LLVM 14 must be refused");
        assert!(err.contains("apt-get install llvm-22"), "{err}");
        assert!(err.contains("/usr/bin/llvm-profdata (LLVM 14)"), "{err}");
        let err = pick_profdata(&[(p("/x"), None)], 22).expect_err("unknown version refused");
        assert!(err.contains("unknown version"), "{err}");
        let err = pick_profdata(&[], 22).expect_err("nothing found");
        assert!(err.contains("none was found"), "{err}");
    }

    #[test]
    fn looks_in_rustup_then_debian_then_path() {
        let c = profdata_candidates(Path::new("/sys"), "x86_64-unknown-linux-gnu", 22);
        assert_eq!(
            c[0],
            PathBuf::from("/sys/lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-profdata")
        );
        assert_eq!(c[1], PathBuf::from("/usr/lib/llvm-22/bin/llvm-profdata"));
        assert!(c[2..].iter().all(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name == "llvm-profdata-22" || name == "llvm-profdata"
        }));
    }

    #[test]
    fn builds_for_the_host_with_the_pgo_flags() {
        let flags = ["-Cprofile-generate=/t/pgo/profiles".to_owned()];
        let cmd = build_command("bench", "x86_64-unknown-linux-gnu", &flags);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "build",
                "--profile",
                "bench",
                "--target",
                "x86_64-unknown-linux-gnu",
                "-p",
                "nexus-cli",
                "-p",
                "nexus-bench",
                "--message-format=json",
            ]
        );
        let encoded = cmd
            .get_envs()
            .find(|(k, _)| *k == "CARGO_ENCODED_RUSTFLAGS")
            .and_then(|(_, v)| v)
            .map(|v| v.to_string_lossy().into_owned())
            .expect("flags are set");
        assert!(encoded.ends_with("-Cprofile-generate=/t/pgo/profiles"));
        // RUSTFLAGS would be ignored next to CARGO_ENCODED_RUSTFLAGS: it is removed.
        assert!(cmd.get_envs().any(|(k, v)| k == "RUSTFLAGS" && v.is_none()));
    }

    #[test]
    fn keeps_the_callers_rustflags() {
        let extra = ["-Cprofile-use=/m.profdata".to_owned()];
        assert_eq!(
            encoded_rustflags(None, Some(" -Cdebuginfo=1  -Cfoo "), &extra),
            "-Cdebuginfo=1\x1f-Cfoo\x1f-Cprofile-use=/m.profdata"
        );
        assert_eq!(
            encoded_rustflags(Some("-Ca b\x1f-Cc"), Some("-Cignored"), &extra),
            "-Ca b\x1f-Cc\x1f-Cprofile-use=/m.profdata"
        );
        assert_eq!(
            encoded_rustflags(None, None, &extra),
            "-Cprofile-use=/m.profdata"
        );
    }

    #[test]
    fn counts_functions_without_profile_data() {
        let msg = |krate: &str, text: &str| {
            json!({"reason": "compiler-message", "target": {"name": krate},
                   "message": {"message": text}})
            .to_string()
        };
        let lines = [
            msg("nexus_index", "no profile data available for function foo"),
            msg("nexus_index", "no profile data available for function bar"),
            msg("nexus_simd", "no profile data available for function baz"),
            msg("nexus_simd", "unused variable"),
            json!({"reason": "build-finished", "success": true}).to_string(),
            "not json".to_owned(),
        ]
        .join("\n");
        let counts = count_missing_profiles(&lines);
        assert_eq!(counts.get("nexus_index"), Some(&2));
        assert_eq!(counts.get("nexus_simd"), Some(&1));
        assert_eq!(counts.len(), 2);
    }

    #[test]
    fn the_change_table_uses_the_noise_model() {
        let row = |v: f64| json!({"suite": "index", "name": "q", "impl": "nexus", "value": v, "unit": "qps"});
        let size =
            json!({"suite": "index", "name": "b", "impl": "nexus", "value": 8.0, "unit": "B"});
        let run = |v: f64| vec![row(v), size.clone()];
        let plain = vec![run(100.0), run(101.0), run(99.0)];
        let pgo = vec![run(120.0), run(121.0), run(119.0)];
        let t = changes(&plain, &pgo);
        assert!(t.contains("+20.0%"), "{t}");
        assert!(t.contains("faster/better"), "{t}");
        assert!(t.contains("1 rows better beyond noise"), "{t}");
        assert!(t.contains("1 rows identical in every run not shown"), "{t}");
        assert!(!t.contains("index/b "), "{t}");
    }
}
