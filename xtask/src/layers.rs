//! `cargo xtask layers`: every edge between our crates must point down the layer stack.
//!
//! The rule is a table (below), checked against `cargo metadata`, dev-dependencies included
//! (datafusion could not publish twice because of an upward dev-dependency). The same run
//! fails on a dependency a crate declares and never names (`unused.rs`) and on a crate table
//! of README or ARCHITECTURE that disagrees with the manifests (`tables.rs`).

use crate::{Result, cargo};

/// What each crate may depend on, among ours. Anything not listed is forbidden.
const ALLOWED: &[(&str, &[&str])] = &[
    ("nexus-simd", &[]),
    ("nexus-quant", &["nexus-simd"]),
    ("nexus-index", &["nexus-quant", "nexus-simd"]),
    ("nexus-storage", &["nexus-quant", "nexus-simd"]),
    ("nexus-cache", &[]),
    ("nexus-dataset", &[]),
    (
        "nexus-engine",
        &[
            "nexus-simd",
            "nexus-quant",
            "nexus-index",
            "nexus-cache",
            "nexus-storage",
        ],
    ),
    ("nexus-cli", &["nexus-engine", "nexus-dataset"]),
    // Orchestration depends on none of ours.
    ("xtask", &[]),
];

/// Crates that may depend on any of ours (they sit above everything, outside default-members).
const UNRESTRICTED: &[&str] = &["nexus-bench"];

/// `nexus-dataset` depends on nothing of ours, so any crate may use it in its tests.
const DEV_ANYWHERE: &str = "nexus-dataset";

/// One dependency edge between two workspace crates.
#[derive(Debug)]
pub(crate) struct Edge {
    pub(crate) from: String,
    pub(crate) to: String,
    /// `normal`, `dev` or `build`.
    pub(crate) kind: String,
}

/// `cargo metadata --no-deps` of the workspace, parsed.
pub(crate) fn metadata() -> Result<serde_json::Value> {
    let out = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))
}

pub(crate) fn run() -> Result<()> {
    let meta = metadata()?;
    let edges = workspace_edges(&meta)?;
    let mut violations = check(&edges);
    let declared = crate::unused::declared(&meta);
    violations.extend(crate::unused::check(&declared));
    let root_manifest = std::fs::read_to_string(crate::project_root().join("Cargo.toml"))
        .map_err(|e| format!("Cargo.toml: {e}"))?;
    violations.extend(crate::unused::check_workspace(&root_manifest, &declared));
    violations.extend(crate::tables::check(&meta, &crate::project_root())?);
    if violations.is_empty() {
        println!(
            "layers: ok ({} edges between workspace crates checked; {} declared dependencies all named in code; README and ARCHITECTURE crate tables match)",
            edges.len(),
            declared.len()
        );
        Ok(())
    } else {
        Err(format!(
            "layers: {} forbidden edge(s), unused dependencies or crate-table errors:\n  {}",
            violations.len(),
            violations.join("\n  ")
        ))
    }
}

/// The edges between workspace members found in `cargo metadata --no-deps` output.
pub(crate) fn workspace_edges(meta: &serde_json::Value) -> Result<Vec<Edge>> {
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut edges = Vec::new();
    for p in packages {
        let from = p["name"].as_str().unwrap_or_default();
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let to = d["name"].as_str().unwrap_or_default();
            // A crate's dev-dependency on itself (to turn on a test feature) is no edge.
            if members.contains(&to) && to != from {
                edges.push(Edge {
                    from: from.into(),
                    to: to.into(),
                    kind: d["kind"].as_str().unwrap_or("normal").into(),
                });
            }
        }
    }
    Ok(edges)
}

/// Every edge that breaks the layering, described in a sentence.
pub(crate) fn check(edges: &[Edge]) -> Vec<String> {
    let mut violations = Vec::new();
    for e in edges {
        if UNRESTRICTED.contains(&e.from.as_str()) || e.kind == "dev" && e.to == DEV_ANYWHERE {
            continue;
        }
        let kind = match e.kind.as_str() {
            "normal" => "dependency".to_owned(),
            k => format!("{k}-dependency"),
        };
        match ALLOWED.iter().find(|(name, _)| *name == e.from) {
            None => violations.push(format!(
                "{} -> {} ({kind}): {} has no layer rule; add it to xtask/src/layers.rs",
                e.from, e.to, e.from
            )),
            Some((_, allowed)) if !allowed.contains(&e.to.as_str()) => {
                let may = if allowed.is_empty() {
                    "nothing of ours".into()
                } else {
                    allowed.join(", ")
                };
                violations.push(format!(
                    "{} -> {} ({kind}) points up or sideways; {} may depend on: {may}",
                    e.from, e.to, e.from
                ));
            }
            Some(_) => {}
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: &str, to: &str, kind: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn downward_edges_pass() {
        let edges = [
            edge("nexus-quant", "nexus-simd", "normal"),
            edge("nexus-engine", "nexus-storage", "normal"),
            edge("nexus-index", "nexus-dataset", "dev"),
            edge("nexus-bench", "nexus-engine", "normal"),
        ];
        assert!(check(&edges).is_empty());
    }

    #[test]
    fn upward_and_sideways_edges_fail_with_their_names() {
        let v = check(&[edge("nexus-simd", "nexus-index", "dev")]);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].contains("nexus-simd -> nexus-index (dev-dependency)"),
            "{}",
            v[0]
        );
        assert_eq!(
            check(&[edge("nexus-cache", "nexus-storage", "normal")]).len(),
            1
        );
        // nexus-dataset is a dev-dependency exception, never a normal one.
        assert_eq!(
            check(&[edge("nexus-simd", "nexus-dataset", "normal")]).len(),
            1
        );
        assert_eq!(check(&[edge("nexus-new", "nexus-simd", "normal")]).len(), 1);
    }

    #[test]
    fn reads_cargo_metadata_shape() {
        let meta = serde_json::json!({"packages": [
            {"name": "nexus-simd", "dependencies": [
                {"name": "nexus-engine", "kind": "dev"}, {"name": "thiserror", "kind": null},
                {"name": "nexus-simd", "kind": "dev"}]},
            {"name": "nexus-engine", "dependencies": []}
        ]});
        let edges = workspace_edges(&meta).unwrap();
        assert_eq!(edges.len(), 1);
        assert_eq!(check(&edges).len(), 1);
    }
}
