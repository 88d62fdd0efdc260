//! Comparing a bench document with a baseline, row by row, with the noise each row measured.
//!
//! A row of ours (`impl: nexus`) regresses when it is worse than the baseline by more than
//! `max(3 × the larger of the two MADs, 3 %)` of the baseline value (the MAD is the row's
//! `spread`, in its unit), or by more than `--threshold` when one is given. Which way is worse
//! comes from the unit ([`direction`]), declared once in [`UNITS`].
//!
//! A row with a `bound` row of the same name (a machine limit measured interleaved with ours in
//! the same run, such as read bandwidth) is judged as a share of that bound, so a neighbour
//! that takes the machine's memory bandwidth between two runs does not read as a regression.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::Result;

/// Which way a unit improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Better {
    /// Times, latencies, bytes: less is better.
    Lower,
    /// Rates, recall, hit ratios: more is better.
    Higher,
}

/// Every unit a suite emits, with the direction in which it improves. A unit ending in `/s` is
/// a rate (more is better) without being listed; any other unit must be listed here, or its
/// rows are compared but never gate (and say so).
pub(crate) const UNITS: &[(&str, Better)] = &[
    // times and latencies (p50 / p99 rows carry the plain time unit)
    ("ns", Better::Lower),
    ("us", Better::Lower),
    ("ms", Better::Lower),
    ("s", Better::Lower),
    // bytes
    ("B", Better::Lower),
    ("KiB", Better::Lower),
    ("MiB", Better::Lower),
    ("GiB", Better::Lower),
    // rates that do not end in `/s`, recall and ratios
    ("qps", Better::Higher),
    ("recall", Better::Higher),
    ("ratio", Better::Higher),
];

/// The direction of `unit`: listed in [`UNITS`], or a rate (`…/s`); `None` if unknown.
pub(crate) fn direction(unit: &str) -> Option<Better> {
    UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|&(_, b)| b)
        .or_else(|| unit.ends_with("/s").then_some(Better::Higher))
}

/// The relative noise floor: a change smaller than this never counts, however quiet the row.
pub(crate) const MIN_NOISE: f64 = 0.03;
/// How many MADs a change must exceed to count.
pub(crate) const MADS: f64 = 3.0;

/// The verdict on one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the noise.
    Same,
    /// Better by more than the noise.
    Improved,
    /// Worse by more than the noise.
    Regressed,
    /// The unit has no declared direction: shown, never gated.
    Unknown,
}

/// One compared row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Judged {
    /// `new / old − 1` (signed, whatever the direction).
    pub(crate) change: f64,
    /// The relative change that counts, `max(3 × max(MAD) / |old|, 3 %)` or the override.
    pub(crate) noise: f64,
    pub(crate) verdict: Verdict,
}

/// Judges one row: `old` and `new` values with their MADs (0 when unknown), in `unit`.
pub(crate) fn judge(
    unit: &str,
    (old, old_mad): (f64, f64),
    (new, new_mad): (f64, f64),
    threshold: Option<f64>,
) -> Judged {
    let noise = threshold.unwrap_or_else(|| {
        let mads = MADS * old_mad.max(new_mad) / old.abs();
        if mads.is_finite() {
            mads.max(MIN_NOISE)
        } else {
            MIN_NOISE
        }
    });
    let change = if old == new { 0.0 } else { new / old - 1.0 };
    let verdict = match direction(unit) {
        None => Verdict::Unknown,
        Some(better) => {
            // How much worse, as a share of the old value (negative: better).
            let worse = if old == new {
                0.0
            } else if old == 0.0 {
                let up = if new > old {
                    f64::INFINITY
                } else {
                    -f64::INFINITY
                };
                if better == Better::Lower { up } else { -up }
            } else {
                let rel = (new - old) / old.abs();
                if better == Better::Lower { rel } else { -rel }
            };
            if worse.is_nan() {
                Verdict::Unknown
            } else if worse > noise {
                Verdict::Regressed
            } else if -worse > noise {
                Verdict::Improved
            } else {
                Verdict::Same
            }
        }
    };
    Judged {
        change,
        noise,
        verdict,
    }
}

/// `(suite, name, impl)` of a row.
pub(crate) fn key(row: &Value) -> (String, String, String) {
    let s = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
    (s("suite"), s("name"), s("impl"))
}

/// The rows of `imp`, by `(suite, name)`: `(value, spread, unit)`.
fn rows_of(results: &[Value], imp: &str) -> BTreeMap<(String, String), (f64, f64, String)> {
    results
        .iter()
        .filter(|r| r["impl"] == imp)
        .filter_map(|r| {
            let (suite, name, _) = key(r);
            let value = r["value"].as_f64()?;
            let spread = r["spread"].as_f64().unwrap_or(0.0);
            let unit = r["unit"].as_str().unwrap_or_default().to_owned();
            Some(((suite, name), (value, spread, unit)))
        })
        .collect()
}

/// The host fields that must match for timings to be comparable, and how they differ.
pub(crate) fn host_differences(old: &Value, new: &Value) -> Vec<String> {
    ["cpu", "features", "cores"]
        .iter()
        .filter(|f| old[**f] != new[**f])
        .map(|f| format!("{f}: {} (baseline) vs {} (now)", old[*f], new[*f]))
        .collect()
}

/// The outcome of a comparison: the printed report and the regressions in it.
pub(crate) struct Comparison {
    pub(crate) report: String,
    pub(crate) regressions: Vec<String>,
}

/// Compares the `impl: nexus` rows of `doc` with those of `base` (both whole bench documents).
/// Rows of suites that `doc` did not run are not listed as missing, only counted.
pub(crate) fn compare(base: &Value, doc: &Value, threshold: Option<f64>) -> Comparison {
    let empty = Vec::new();
    let old = rows_of(base["results"].as_array().unwrap_or(&empty), "nexus");
    let new = rows_of(doc["results"].as_array().unwrap_or(&empty), "nexus");
    let old_bound = rows_of(base["results"].as_array().unwrap_or(&empty), "bound");
    let new_bound = rows_of(doc["results"].as_array().unwrap_or(&empty), "bound");
    let mut out = String::new();
    let diffs = host_differences(&base["host"], &doc["host"]);
    if !diffs.is_empty() {
        let _ = writeln!(
            out,
            "warning: the baseline was measured on another host ({}); every row below is \
             compared anyway, and timings may differ for that reason alone",
            diffs.join("; ")
        );
    }
    for (field, what) in [("quick", "--quick"), ("dataset", "dataset")] {
        if base[field] != doc[field] {
            let _ = writeln!(
                out,
                "warning: {what} differs from the baseline's ({} vs {} now)",
                base[field], doc[field]
            );
        }
    }
    let suites: BTreeSet<&str> = new.keys().map(|(s, _)| s.as_str()).collect();
    let width = old
        .keys()
        .chain(new.keys())
        .map(|(s, n)| s.len() + n.len() + 1)
        .max()
        .unwrap_or(3)
        .max(3);
    let _ = writeln!(
        out,
        "{:<width$} {:>12} {:>12} {:<9} {:>8} {:>7}  verdict",
        "row", "old", "new", "unit", "change", "noise"
    );
    let mut regressions = Vec::new();
    let mut unknown_units = BTreeSet::new();
    let (mut compared, mut missing_now, mut not_run) = (0, Vec::new(), 0);
    for (k, &(o, o_mad, ref unit)) in &old {
        let row = format!("{}/{}", k.0, k.1);
        let Some(&(n, n_mad, _)) = new.get(k) else {
            if suites.contains(k.0.as_str()) {
                missing_now.push(row);
            } else {
                not_run += 1;
            }
            continue;
        };
        compared += 1;
        let bounds = old_bound.get(k).zip(new_bound.get(k));
        let j = match bounds {
            // A row measured beside the machine's bound in the same run is judged as a share
            // of it: a neighbour that takes memory bandwidth moves both, a slower kernel only
            // ours. Relative MADs of a ratio add.
            Some((&(ob, ob_mad, _), &(nb, nb_mad, _))) if ob > 0.0 && nb > 0.0 => {
                let share = |v: f64, mad: f64, b: f64, b_mad: f64| {
                    (v / b, (mad / v.abs() + b_mad / b) * (v / b).abs())
                };
                judge(
                    unit,
                    share(o, o_mad, ob, ob_mad),
                    share(n, n_mad, nb, nb_mad),
                    threshold,
                )
            }
            _ => judge(unit, (o, o_mad), (n, n_mad), threshold),
        };
        let shown_change = if o == n { 0.0 } else { n / o - 1.0 };
        let verdict = match j.verdict {
            Verdict::Same => "ok",
            Verdict::Improved => "improved",
            Verdict::Regressed => "REGRESSED",
            Verdict::Unknown => {
                unknown_units.insert(unit.clone());
                "? (unit without direction)"
            }
        };
        let against = bounds.map_or_else(String::new, |(ob, nb)| {
            format!(
                " (as a share of the bound: {:+.1}%; the bound moved {:+.1}%)",
                j.change * 100.0,
                (nb.0 / ob.0 - 1.0) * 100.0
            )
        });
        if j.verdict == Verdict::Regressed {
            regressions.push(format!(
                "{row}: {} -> {} {unit} ({:+.1}%, noise ±{:.1}%){against}",
                fmt(o),
                fmt(n),
                shown_change * 100.0,
                j.noise * 100.0
            ));
        }
        let _ = writeln!(
            out,
            "{row:<width$} {:>12} {:>12} {unit:<9} {:>+7.1}% {:>6.1}%  {verdict}{against}",
            fmt(o),
            fmt(n),
            shown_change * 100.0,
            j.noise * 100.0,
        );
    }
    let missing_before: Vec<String> = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .map(|(s, n)| format!("{s}/{n}"))
        .collect();
    let rule = threshold.map_or_else(
        || {
            format!(
                "noise = max({MADS} × the larger MAD, {:.0}%) per row",
                MIN_NOISE * 100.0
            )
        },
        |t| format!("fixed threshold {:.1}% (--threshold)", t * 100.0),
    );
    let _ = writeln!(
        out,
        "{compared} rows compared ({rule}); {} regressed",
        regressions.len()
    );
    if !missing_now.is_empty() {
        let _ = writeln!(
            out,
            "missing now (in the baseline, not in this run): {}",
            missing_now.join(", ")
        );
    }
    if !missing_before.is_empty() {
        let _ = writeln!(
            out,
            "new (not in the baseline): {}",
            missing_before.join(", ")
        );
    }
    if not_run > 0 {
        let _ = writeln!(
            out,
            "{not_run} baseline rows belong to suites this run did not include"
        );
    }
    if !unknown_units.is_empty() {
        let _ = writeln!(
            out,
            "warning: no direction declared for unit(s) {:?} (xtask/src/baseline.rs UNITS): \
             those rows do not gate",
            unknown_units
        );
    }
    Comparison {
        report: out,
        regressions,
    }
}

/// The suites of the rows named in `regressions` (`suite/name: …`).
pub(crate) fn regressed_suites(regressions: &[String]) -> Vec<String> {
    let mut suites: Vec<String> = regressions
        .iter()
        .filter_map(|r| r.split('/').next().map(str::to_owned))
        .collect();
    suites.sort();
    suites.dedup();
    suites
}

/// Keeps, for every row of ours in `best` that `rerun` measured again, the better of the two
/// (by the unit's direction, as a share of the row's `bound` when it has one, which then comes
/// along), with that measurement's spread. On a shared machine another process only ever slows
/// a run down, so a row regresses only if even its best run does: a regression must reproduce
/// in every run.
pub(crate) fn keep_best(best: &mut [Value], rerun: &[Value]) {
    let index = |rows: &[Value], imp: &str| -> BTreeMap<(String, String), usize> {
        rows.iter()
            .enumerate()
            .filter(|(_, r)| r["impl"] == imp)
            .map(|(i, r)| {
                let (suite, name, _) = key(r);
                ((suite, name), i)
            })
            .collect()
    };
    let (ours_now, bound_now) = (index(best, "nexus"), index(best, "bound"));
    let (ours_again, bound_again) = (index(rerun, "nexus"), index(rerun, "bound"));
    for (k, &i) in &ours_now {
        let Some(&j) = ours_again.get(k) else {
            continue;
        };
        let bounds = bound_now.get(k).zip(bound_again.get(k));
        let score = |row: &Value, bound: Option<&Value>| {
            let v = row["value"].as_f64().unwrap_or(f64::NAN);
            bound
                .and_then(|b| b["value"].as_f64())
                .filter(|&b| b > 0.0)
                .map_or(v, |b| v / b)
        };
        let old = score(&best[i], bounds.map(|(&bi, _)| &best[bi]));
        let new = score(&rerun[j], bounds.map(|(_, &bj)| &rerun[bj]));
        let better = match direction(best[i]["unit"].as_str().unwrap_or_default()) {
            Some(Better::Lower) => new < old,
            Some(Better::Higher) => new > old,
            None => false,
        };
        if better {
            best[i] = rerun[j].clone();
            if let Some((&bi, &bj)) = bounds {
                best[bi] = rerun[bj].clone();
            }
        }
    }
}

/// A figure with a sensible number of digits.
pub(crate) fn fmt(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// The median of `samples` (NaN if empty).
pub(crate) fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// The median and the median absolute deviation of `samples`.
pub(crate) fn median_and_mad(samples: &[f64]) -> (f64, f64) {
    let m = median(samples);
    let dev: Vec<f64> = samples.iter().map(|x| (x - m).abs()).collect();
    (m, median(&dev))
}

/// Where `--baseline NAME|PATH` and `--save-baseline NAME` point: a bare name is
/// `<target>/bench/baselines/NAME.json`; anything with a path separator or a `.json` suffix is
/// a path.
pub(crate) fn resolve(target: &std::path::Path, name_or_path: &str) -> std::path::PathBuf {
    if name_or_path.contains(['/', '\\']) || name_or_path.ends_with(".json") {
        name_or_path.into()
    } else {
        target
            .join("bench/baselines")
            .join(format!("{name_or_path}.json"))
    }
}

/// Checks a name given to `--save-baseline` (a file name, not a path).
pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--save-baseline {name:?}: a name is letters, digits, '-', '_' and '.' (it becomes \
             target/bench/baselines/NAME.json)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn direction_is_declared_per_unit() {
        for unit in ["ns", "us", "ms", "s", "B", "KiB", "MiB", "GiB"] {
            assert_eq!(direction(unit), Some(Better::Lower), "{unit}");
        }
        for unit in [
            "qps",
            "recall",
            "ratio",
            "GB/s",
            "Mcodes/s",
            "Mscores/s",
            "Mops/s",
            "records/s",
            "vectors/s",
        ] {
            assert_eq!(direction(unit), Some(Better::Higher), "{unit}");
        }
        assert_eq!(direction("furlongs"), None);
        // Declared once: no unit appears twice in the table.
        let names: BTreeSet<&str> = UNITS.iter().map(|(u, _)| *u).collect();
        assert_eq!(names.len(), UNITS.len());
    }

    /// Every unit literal the bench suites pass to `Row::new` / `Row::from_samples` (the last
    /// argument of the call) has a direction, so no row of ours escapes the gate silently.
    #[test]
    fn every_unit_the_suites_emit_has_a_direction() {
        let dir = crate::project_root().join("benches/nexus-bench/src");
        let mut units = BTreeSet::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("bench sources") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("readable source");
                    units.extend(row_units(&text));
                }
            }
        }
        assert!(units.contains("ns") && units.contains("qps"), "{units:?}");
        for unit in &units {
            assert!(direction(unit).is_some(), "unit {unit:?} has no direction");
        }
    }

    /// The last argument of each `Row::new(…)` / `Row::from_samples(…)` call, when it is a
    /// string literal.
    fn row_units(text: &str) -> Vec<String> {
        let mut units = Vec::new();
        for start in ["Row::new(", "Row::from_samples("] {
            for (at, _) in text.match_indices(start) {
                let args = &text[at + start.len()..];
                let mut depth = 1;
                let end = args
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map_or(args.len(), |(i, _)| i);
                let last = args[..end].trim().trim_end_matches(',').trim();
                if let Some(unit) = last.rsplit(',').next().map(str::trim)
                    && unit.len() >= 2
                    && unit.starts_with('"')
                    && unit.ends_with('"')
                {
                    units.push(unit[1..unit.len() - 1].to_owned());
                }
            }
        }
        units
    }

    #[test]
    fn noise_is_per_row_with_a_floor() {
        // Quiet row: the 3 % floor applies.
        let j = judge("ns", (100.0, 0.1), (102.0, 0.1), None);
        assert_eq!(j.verdict, Verdict::Same);
        assert!((j.noise - 0.03).abs() < 1e-12);
        let j = judge("ns", (100.0, 0.1), (104.0, 0.1), None);
        assert_eq!(j.verdict, Verdict::Regressed);
        // Noisy row: 3 × the larger MAD (5 of 100) = 15 %.
        let j = judge("ns", (100.0, 1.0), (114.0, 5.0), None);
        assert_eq!(j.verdict, Verdict::Same);
        assert!((j.noise - 0.15).abs() < 1e-12);
        let j = judge("ns", (100.0, 5.0), (116.0, 1.0), None);
        assert_eq!(j.verdict, Verdict::Regressed);
        // An override replaces the model.
        let j = judge("ns", (100.0, 5.0), (116.0, 1.0), Some(0.2));
        assert_eq!(j.verdict, Verdict::Same);
    }

    #[test]
    fn direction_decides_what_is_worse() {
        assert_eq!(
            judge("qps", (100.0, 0.0), (90.0, 0.0), None).verdict,
            Verdict::Regressed
        );
        assert_eq!(
            judge("qps", (100.0, 0.0), (110.0, 0.0), None).verdict,
            Verdict::Improved
        );
        assert_eq!(
            judge("ms", (10.0, 0.0), (9.0, 0.0), None).verdict,
            Verdict::Improved
        );
        assert_eq!(
            judge("recall", (0.95, 0.0), (0.90, 0.0), None).verdict,
            Verdict::Regressed
        );
        // Zero before: any growth of a lower-is-better row is a regression.
        assert_eq!(
            judge("B", (0.0, 0.0), (8.0, 0.0), None).verdict,
            Verdict::Regressed
        );
        assert_eq!(
            judge("B", (0.0, 0.0), (0.0, 0.0), None).verdict,
            Verdict::Same
        );
        assert_eq!(
            judge("furlongs", (1.0, 0.0), (9.0, 0.0), None).verdict,
            Verdict::Unknown
        );
    }

    fn row(suite: &str, name: &str, imp: &str, value: f64, unit: &str) -> Value {
        json!({"suite": suite, "name": name, "impl": imp, "value": value, "unit": unit})
    }

    #[test]
    fn compare_lists_regressions_missing_rows_and_host_changes() {
        let host = json!({"cpu": "A", "cores": 2, "features": ["avx2"]});
        let base = json!({
            "host": host, "quick": true, "dataset": null,
            "results": [
                row("k", "dot", "nexus", 10.0, "ns"),
                row("k", "dot", "simsimd", 99.0, "ns"),
                row("k", "gone", "nexus", 1.0, "ns"),
                row("other", "x", "nexus", 1.0, "ns"),
            ],
        });
        let doc = json!({
            "host": {"cpu": "B", "cores": 2, "features": ["avx2"]}, "quick": true, "dataset": null,
            "results": [
                row("k", "dot", "nexus", 12.0, "ns"),
                row("k", "dot", "simsimd", 1.0, "ns"),
                row("k", "fresh", "nexus", 1.0, "ns"),
            ],
        });
        let c = compare(&base, &doc, None);
        assert_eq!(c.regressions.len(), 1, "{}", c.report);
        assert!(c.regressions[0].starts_with("k/dot:"));
        assert!(
            c.report
                .contains("warning: the baseline was measured on another host")
        );
        assert!(
            c.report
                .contains("missing now (in the baseline, not in this run): k/gone")
        );
        assert!(c.report.contains("new (not in the baseline): k/fresh"));
        assert!(
            c.report
                .contains("1 baseline rows belong to suites this run did not include")
        );
        // A row with a bound is judged as a share of it: the machine got 20 % slower.
        let with_bound = |v: f64, b: f64| {
            json!({"host": host, "quick": true, "dataset": null, "results": [
                row("k", "scan", "nexus", v, "GB/s"), row("k", "scan", "bound", b, "GB/s")]})
        };
        let c = compare(&with_bound(20.0, 30.0), &with_bound(16.4, 24.0), None);
        assert!(c.regressions.is_empty(), "{}", c.report);
        assert!(c.report.contains("the bound moved -20.0%"), "{}", c.report);
        let c = compare(&with_bound(20.0, 30.0), &with_bound(10.0, 30.0), None);
        assert_eq!(c.regressions.len(), 1, "{}", c.report);
        // The same document against itself: nothing regresses, no warning.
        let c = compare(&doc, &doc, None);
        assert!(c.regressions.is_empty());
        assert!(!c.report.contains("warning"));
    }

    #[test]
    fn reruns_keep_the_best_measurement() {
        let mut best = vec![
            row("k", "t", "nexus", 10.0, "ns"),
            row("k", "r", "nexus", 100.0, "qps"),
            row("k", "t", "simsimd", 10.0, "ns"),
        ];
        let rerun = vec![
            row("k", "t", "nexus", 9.0, "ns"),
            row("k", "r", "nexus", 90.0, "qps"),
            row("k", "t", "simsimd", 1.0, "ns"),
        ];
        keep_best(&mut best, &rerun);
        assert_eq!(best[0]["value"], 9.0);
        assert_eq!(best[1]["value"], 100.0);
        assert_eq!(best[2]["value"], 10.0, "only rows of ours are merged");
        // With a bound, the better share wins and its bound comes along.
        let mut best = vec![
            row("k", "s", "nexus", 20.0, "GB/s"),
            row("k", "s", "bound", 40.0, "GB/s"),
        ];
        keep_best(
            &mut best,
            &[
                row("k", "s", "nexus", 18.0, "GB/s"),
                row("k", "s", "bound", 30.0, "GB/s"),
            ],
        );
        assert_eq!(
            (best[0]["value"].clone(), best[1]["value"].clone()),
            (json!(18.0), json!(30.0))
        );
        assert_eq!(
            regressed_suites(&["k/t: 1 -> 2".into(), "a/x: 1 -> 2".into(), "k/r: …".into()]),
            ["a", "k"]
        );
    }

    #[test]
    fn baseline_names_and_paths() {
        let t = std::path::Path::new("/t");
        assert_eq!(
            resolve(t, "clean"),
            std::path::PathBuf::from("/t/bench/baselines/clean.json")
        );
        assert_eq!(resolve(t, "x/y.json"), std::path::PathBuf::from("x/y.json"));
        assert_eq!(resolve(t, "y.json"), std::path::PathBuf::from("y.json"));
        assert!(check_name("clean-1.2_x").is_ok());
        assert!(check_name("../x").is_err());
        assert!(check_name("").is_err());
    }
}
