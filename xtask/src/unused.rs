//! Declared but never named: a dependency in a crate's manifest whose crate name no source
//! file of that crate mentions (a token search, as cargo-machete does). Normal and build
//! dependencies are looked for in the code (not the comments) of `src/` and `build.rs`;
//! dev-dependencies also in doc comments (doctests) and in `tests/`, `examples/` and `benches/`.
//! An entry of the root manifest's `[workspace.dependencies]` that no crate declares is unused too.

use std::path::{Path, PathBuf};

/// One declared dependency of a workspace crate.
#[derive(Debug)]
pub(crate) struct Declared {
    pub(crate) krate: String,
    /// The name code uses: the rename if any, else the package name with `-` → `_`.
    pub(crate) token: String,
    /// `normal`, `dev` or `build`.
    pub(crate) kind: String,
    /// The crate's directory.
    pub(crate) dir: PathBuf,
}

/// Every dependency of every workspace crate, from `cargo metadata --no-deps` output.
pub(crate) fn declared(meta: &serde_json::Value) -> Vec<Declared> {
    let mut out = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let krate = p["name"].as_str().unwrap_or_default().to_owned();
        let Some(dir) = p["manifest_path"]
            .as_str()
            .and_then(|m| Path::new(m).parent())
        else {
            continue;
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let name = d["rename"]
                .as_str()
                .or_else(|| d["name"].as_str())
                .unwrap_or_default();
            out.push(Declared {
                krate: krate.clone(),
                token: name.replace('-', "_"),
                kind: d["kind"].as_str().unwrap_or("normal").to_owned(),
                dir: dir.to_path_buf(),
            });
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Whether `text` holds `token` as a whole identifier.
fn names(text: &str, token: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(token).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + token.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The dependencies no source file of their crate names, described in a sentence each.
pub(crate) fn check(declared: &[Declared]) -> Vec<String> {
    let mut problems = Vec::new();
    for d in declared {
        let mut files = Vec::new();
        rust_files(&d.dir.join("src"), &mut files);
        files.push(d.dir.join("build.rs"));
        if d.kind == "dev" {
            for sub in ["tests", "examples", "benches"] {
                rust_files(&d.dir.join(sub), &mut files);
            }
        }
        // A doctest is a dev-dependency's use: comments count for dev-dependencies only.
        let code_only = d.kind != "dev";
        let used = files.iter().any(|f| {
            std::fs::read_to_string(f).is_ok_and(|text| {
                text.lines()
                    .filter(|l| !(code_only && l.trim_start().starts_with("//")))
                    .any(|l| names(l, &d.token))
            })
        });
        if !used {
            let kind = match d.kind.as_str() {
                "normal" => "dependency".to_owned(),
                k => format!("{k}-dependency"),
            };
            problems.push(format!(
                "{} declares {} ({kind}) but no source file of it names `{}`: remove it",
                d.krate, d.token, d.token
            ));
        }
    }
    problems
}

/// The entries of `[workspace.dependencies]` in the root manifest `text` that no workspace
/// crate declares, described in a sentence each.
pub(crate) fn check_workspace(text: &str, declared: &[Declared]) -> Vec<String> {
    let mut in_table = false;
    let mut problems = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[workspace.dependencies]";
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !in_table || key.is_empty() || key.starts_with('#') {
            continue;
        }
        let token = key.replace('-', "_");
        if !declared.iter().any(|d| d.token == token) {
            problems.push(format!(
                "the workspace declares {key} in [workspace.dependencies] but no crate uses it: remove it"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_whole_identifiers_only() {
        assert!(names("use serde_json::Value;", "serde_json"));
        assert!(names("#[derive(thiserror::Error)]", "thiserror"));
        assert!(!names("use serde_json::Value;", "serde"));
        assert!(!names("let my_rand = 1;", "rand"));
    }

    #[test]
    fn a_workspace_dependency_no_crate_declares_is_reported() {
        let root = "[workspace]\nmembers = [\"a\"]\n\n[workspace.dependencies]\n\
            # comment = 1\nserde_json = \"1\"\ncrossbeam-channel = \"0.5\"\n\
            crossbeam-utils = { version = \"0.8\" }\n\n[profile.release]\nlto = true\n";
        let d = |token: &str| Declared {
            krate: "a".into(),
            token: token.into(),
            kind: "normal".into(),
            dir: PathBuf::new(),
        };
        let problems = check_workspace(root, &[d("serde_json"), d("crossbeam_utils")]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("declares crossbeam-channel"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn an_injected_unused_dependency_is_reported() {
        let dir = std::env::temp_dir().join(format!("xtask-unused-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("tests")).unwrap();
        std::fs::write(
            dir.join("src/lib.rs"),
            "//! ```\n//! use rand::Rng;\n//! ```\nuse parking_lot::Mutex;\n",
        )
        .unwrap();
        std::fs::write(dir.join("tests/t.rs"), "use tempfile::tempdir;\n").unwrap();
        let manifest = dir.join("Cargo.toml");
        let meta = serde_json::json!({"packages": [{
            "name": "demo",
            "manifest_path": manifest.to_str().unwrap(),
            "dependencies": [
                {"name": "parking_lot", "kind": null},
                {"name": "crossbeam-channel", "kind": null},
                {"name": "tempfile", "kind": "dev"},
                {"name": "rand", "kind": "dev"},
                {"name": "rand", "kind": null},
                {"name": "tempfile", "kind": null}
            ]
        }]});
        let problems = check(&declared(&meta));
        let _ = std::fs::remove_dir_all(&dir);
        // crossbeam_channel is named nowhere; rand only in a doctest (a dev use, not a normal
        // one); tempfile only in tests, so as a normal dependency it is unused.
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("demo declares crossbeam_channel (dependency)"));
        assert!(problems[1].contains("rand (dependency)"));
        assert!(problems[2].contains("tempfile (dependency)"));
    }
}
