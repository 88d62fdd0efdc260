//! The crate tables of `README.md` and `docs/ARCHITECTURE.md` against `cargo metadata`.
//!
//! Each document holds one markdown table whose header has a `crate` column, a
//! `depends on (ours)` column and a `tests also use (ours)` column. A row names one crate of
//! `crates/` (`` `nexus-simd` ``); the two dependency cells list our crates without their
//! `nexus-` prefix, comma-separated, or `—` for none. The first cell must be exactly the crate's
//! normal and build dependencies among ours, the second exactly its dev-only ones (ours that
//! its tests, examples or benches use and its library does not). Every crate of `crates/` has
//! exactly one row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::Result;

/// Header of the column listing normal (and build) dependencies among ours.
const DEPS: &str = "depends on (ours)";
/// Header of the column listing dev-only dependencies among ours.
const DEV_DEPS: &str = "tests also use (ours)";
/// Our crates' common prefix, left out of the dependency cells.
const PREFIX: &str = "nexus-";

/// What one crate depends on among ours: normal and build edges, then dev-only edges.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Deps {
    pub(crate) normal: BTreeSet<String>,
    pub(crate) dev: BTreeSet<String>,
}

/// The truth: every crate under `crates/` and its edges to other workspace members, from
/// `cargo metadata --no-deps` output. Short names (`simd`), keyed by full crate name.
pub(crate) fn from_metadata(meta: &serde_json::Value) -> Result<BTreeMap<String, Deps>> {
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut out = BTreeMap::new();
    for p in packages {
        let name = p["name"]
            .as_str()
            .ok_or("cargo metadata: a package without a name")?;
        let in_crates = p["manifest_path"].as_str().is_some_and(|m| {
            Path::new(m)
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|d| d == "crates")
        });
        if !in_crates {
            continue;
        }
        let mut deps = Deps::default();
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let to = d["name"].as_str().unwrap_or_default();
            if !members.contains(to) || to == name {
                continue;
            }
            let short = to.strip_prefix(PREFIX).unwrap_or(to).to_owned();
            if d["kind"].as_str() == Some("dev") {
                deps.dev.insert(short);
            } else {
                deps.normal.insert(short);
            }
        }
        // A crate its library already depends on is not a tests-only dependency.
        deps.dev = deps.dev.difference(&deps.normal).cloned().collect();
        out.insert(name.to_owned(), deps);
    }
    Ok(out)
}

fn cells(line: &str) -> Vec<String> {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = line.strip_suffix('|').unwrap_or(line);
    line.split('|').map(|c| c.trim().to_owned()).collect()
}

fn names(cell: &str) -> BTreeSet<String> {
    if cell == "—" || cell == "-" {
        return BTreeSet::new();
    }
    cell.split(',')
        .map(|n| n.trim().trim_matches('`').to_owned())
        .collect()
}

/// The crate table of a markdown document: crate name → what the table says it depends on.
pub(crate) fn parse(doc: &str) -> Result<BTreeMap<String, Deps>> {
    let lines: Vec<&str> = doc.lines().collect();
    let header = lines
        .iter()
        .position(|l| {
            let c = cells(l);
            l.trim_start().starts_with('|')
                && c.iter().any(|c| c == "crate")
                && c.iter().any(|c| c == DEPS)
        })
        .ok_or_else(|| format!("no table with a `crate` and a `{DEPS}` column"))?;
    let head = cells(lines[header]);
    let col = |name: &str| {
        head.iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("the crate table has no `{name}` column"))
    };
    let (krate, deps, dev) = (col("crate")?, col(DEPS)?, col(DEV_DEPS)?);
    let mut out = BTreeMap::new();
    // Skip the `|---|` separator line, then read rows until the table ends.
    for line in lines[header + 2..]
        .iter()
        .take_while(|l| l.trim_start().starts_with('|'))
    {
        let row = cells(line);
        if row.len() != head.len() {
            return Err(format!(
                "crate table row {line:?}: {} cells, expected {}",
                row.len(),
                head.len()
            ));
        }
        let name = row[krate].trim_matches('`').to_owned();
        let entry = Deps {
            normal: names(&row[deps]),
            dev: names(&row[dev]),
        };
        if out.insert(name.clone(), entry).is_some() {
            return Err(format!("crate table: {name} has two rows"));
        }
    }
    Ok(out)
}

fn list(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "—".into()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Every difference between a document's table and the truth, described in a sentence.
pub(crate) fn compare(
    doc: &str,
    table: &BTreeMap<String, Deps>,
    truth: &BTreeMap<String, Deps>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for name in truth.keys().filter(|n| !table.contains_key(*n)) {
        problems.push(format!("{doc}: the crate table has no row for {name}"));
    }
    for (name, said) in table {
        let Some(real) = truth.get(name) else {
            problems.push(format!(
                "{doc}: the crate table lists {name}, which is no crate of crates/"
            ));
            continue;
        };
        for (column, said, real) in [
            (DEPS, &said.normal, &real.normal),
            (DEV_DEPS, &said.dev, &real.dev),
        ] {
            if said != real {
                problems.push(format!(
                    "{doc}: {name} `{column}` says {}, the manifest says {}",
                    list(said),
                    list(real)
                ));
            }
        }
    }
    problems
}

/// Checks both documents' tables against `cargo metadata --no-deps` output.
pub(crate) fn check(meta: &serde_json::Value, root: &Path) -> Result<Vec<String>> {
    let truth = from_metadata(meta)?;
    let mut problems = Vec::new();
    for doc in ["README.md", "docs/ARCHITECTURE.md"] {
        let text = std::fs::read_to_string(root.join(doc)).map_err(|e| format!("{doc}: {e}"))?;
        match parse(&text) {
            Ok(table) => problems.extend(compare(doc, &table, &truth)),
            Err(e) => problems.push(format!("{doc}: {e}")),
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real documents against the real manifests.
    #[test]
    fn readme_and_architecture_tables_match_cargo_metadata() {
        let meta = crate::layers::metadata().unwrap();
        let truth = from_metadata(&meta).unwrap();
        // The truth is read: our eight crates, and the edges every layer diagram has.
        assert!(truth.len() >= 8, "{truth:?}");
        assert!(truth["nexus-quant"].normal.contains("simd"));
        assert!(truth["nexus-cli"].normal.contains("engine"));
        let problems = check(&meta, &crate::project_root()).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    fn truth() -> BTreeMap<String, Deps> {
        let meta = serde_json::json!({"packages": [
            {"name": "nexus-simd", "manifest_path": "/w/crates/nexus-simd/Cargo.toml",
             "dependencies": [{"name": "thiserror", "kind": null}]},
            {"name": "nexus-quant", "manifest_path": "/w/crates/nexus-quant/Cargo.toml",
             "dependencies": [{"name": "nexus-simd", "kind": null},
                              {"name": "nexus-simd", "kind": "dev"},
                              {"name": "nexus-dataset", "kind": "dev"}]},
            {"name": "nexus-dataset", "manifest_path": "/w/crates/nexus-dataset/Cargo.toml",
             "dependencies": []},
            {"name": "nexus-bench", "manifest_path": "/w/benches/nexus-bench/Cargo.toml",
             "dependencies": [{"name": "nexus-quant", "kind": null}]}
        ]});
        from_metadata(&meta).unwrap()
    }

    const GOOD: &str = "intro\n\n\
        | crate | what | depends on (ours) | tests also use (ours) |\n\
        |---|---|---|---|\n\
        | `nexus-simd` | kernels | — | — |\n\
        | `nexus-quant` | codes | simd | dataset |\n\
        | `nexus-dataset` | data | — | — |\n\
        \nafter\n";

    #[test]
    fn reads_metadata_and_a_matching_table() {
        let t = truth();
        // Only crates/ members; a dev edge the library already has is not tests-only.
        assert_eq!(t.len(), 3);
        assert_eq!(t["nexus-quant"].dev, BTreeSet::from(["dataset".to_owned()]));
        let table = parse(GOOD).unwrap();
        assert_eq!(table, t);
        assert!(compare("doc", &table, &t).is_empty());
    }

    #[test]
    fn a_wrong_missing_or_extra_row_is_reported() {
        let t = truth();
        let wrong = GOOD.replace("| codes | simd | dataset |", "| codes | simd, index | — |");
        let p = compare("doc", &parse(&wrong).unwrap(), &t);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains(
                "nexus-quant `depends on (ours)` says index, simd, the manifest says simd"
            ),
            "{}",
            p[0]
        );
        assert!(p[1].contains("`tests also use (ours)` says —, the manifest says dataset"));

        let missing = GOOD.replace("| `nexus-dataset` | data | — | — |\n", "");
        let p = compare("doc", &parse(&missing).unwrap(), &t);
        assert_eq!(p, ["doc: the crate table has no row for nexus-dataset"]);

        let extra = GOOD.replace("\nafter", "| `nexus-gone` | x | — | — |\nafter");
        let p = compare("doc", &parse(&extra).unwrap(), &t);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("lists nexus-gone"));
    }

    #[test]
    fn a_malformed_table_is_an_error() {
        assert!(parse("no table here").is_err());
        assert!(parse(&GOOD.replace("tests also use (ours)", "tests")).is_err());
        assert!(
            parse(&GOOD.replace("| `nexus-simd` | kernels | — | — |", "| `nexus-simd` | — |"))
                .is_err()
        );
        assert!(parse(&GOOD.replace("`nexus-dataset`", "`nexus-simd`")).is_err());
    }
}
