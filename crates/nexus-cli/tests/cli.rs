//! Every subcommand end to end through the real binary, including a missing, a locked and a
//! corrupt store and malformed input files.

use std::path::Path;
use std::process::{Command, Output};

use nexus_dataset::Vectors;

fn nexus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nexus"))
        .args(args)
        .output()
        .expect("run nexus")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exit 1, one line on stderr naming `what`, and no panic trace.
fn assert_fails(out: &Output, what: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains(what), "{err:?} does not mention {what:?}");
    assert!(!err.contains("panicked"), "a panic trace: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
}

/// A small .fvecs file of `n` 8-d vectors and its texts.
fn write_input(dir: &Path, n: usize) -> (String, String) {
    let rows: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            (0..8)
                .map(|j| ((i * 13 + j * 7) % 23) as f32 + 1.0)
                .collect()
        })
        .collect();
    let fvecs = dir.join("in.fvecs");
    Vectors::from_rows(&rows).unwrap().write(&fvecs).unwrap();
    let texts = dir.join("in.txt");
    let lines: Vec<String> = (0..n).map(|i| format!("text number {i}")).collect();
    std::fs::write(&texts, lines.join("\n") + "\n").unwrap();
    (
        fvecs.to_string_lossy().into_owned(),
        texts.to_string_lossy().into_owned(),
    )
}

#[test]
fn import_recall_stats_export_verify_compact() {
    let dir = tempfile::tempdir().unwrap();
    let (fvecs, texts) = write_input(dir.path(), 300);
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();

    let out = nexus(&[
        "import",
        store,
        &fvecs,
        "--texts",
        &texts,
        "--namespace",
        "alice",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 300 memories"));

    // Row 5's own vector recalls row 5 first (ids are assigned from 1 in file order).
    let out = nexus(&[
        "recall",
        store,
        "--vector-from",
        &format!("{fvecs}:5"),
        "-k",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let first = table.lines().nth(1).expect("a first row");
    assert!(first.contains("text number 5"), "{table}");

    let out = nexus(&[
        "recall",
        store,
        "--vector",
        "[1,2,3,4,5,6,7,8]",
        "--namespace",
        "alice",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 10);
    assert_eq!(hits[0]["namespace"], "alice");
    let out = nexus(&[
        "recall",
        store,
        "--vector",
        "[1,2,3,4,5,6,7,8]",
        "--namespace",
        "bob",
    ]);
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "only the header for an unknown namespace"
    );

    // Keyword recall (BM25): the one text with the word "42" comes first.
    let out = nexus(&["recall", store, "--keywords", "number 42", "-k", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table
            .lines()
            .nth(1)
            .expect("a first row")
            .contains("text number 42"),
        "{table}"
    );

    let out = nexus(&["stats", store, "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["memories"], 300);
    assert_eq!(stats["namespaces"]["alice"], 300);
    assert_eq!(stats["dimension"], 8);
    assert!(text(&nexus(&["stats", store]).stdout).contains("memories     300"));

    let jsonl = dir.path().join("out.jsonl");
    let out = nexus(&["export", store, jsonl.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&jsonl).unwrap().lines().count(),
        300
    );
    let copy = dir.path().join("copy");
    let out = nexus(&["import", copy.to_str().unwrap(), jsonl.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = nexus(&["export", copy.to_str().unwrap()]);
    let strip = |s: &str| -> Vec<serde_json::Value> {
        s.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("id");
                v
            })
            .collect()
    };
    assert_eq!(
        strip(&text(&out.stdout)),
        strip(&std::fs::read_to_string(&jsonl).unwrap())
    );

    let out = nexus(&["verify", store]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: 300 memories"));
    let out = nexus(&["compact", store]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("compacted"));

    let backup = dir.path().join("backup");
    let out = nexus(&["backup", store, backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("backed up 300 memories"));
    let out = nexus(&["export", backup.to_str().unwrap()]);
    assert_eq!(
        text(&out.stdout),
        std::fs::read_to_string(&jsonl).unwrap(),
        "the backup exports exactly what the store did, ids included"
    );
    assert_fails(
        &nexus(&["backup", store, backup.to_str().unwrap()]),
        "not empty",
    );
}

#[test]
fn missing_locked_and_corrupt_stores_fail_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let missing = missing.to_str().unwrap();
    for cmd in ["stats", "verify", "export"] {
        assert_fails(&nexus(&[cmd, missing]), "no store");
    }
    assert_fails(
        &nexus(&["recall", missing, "--vector", "[1,2]"]),
        "no store",
    );

    let (fvecs, _) = write_input(dir.path(), 3000);
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    assert!(nexus(&["import", s, &fvecs]).status.success());

    // Locked: a writer holds the store.
    let writer = nexus_engine::Nexus::open(&store, nexus_engine::Options::new()).unwrap();
    assert_fails(&nexus(&["compact", s]), "locked");
    assert_fails(&nexus(&["stats", s]), "locked");
    drop(writer);

    // Corrupt: one flipped byte in the middle of a segment.
    let seg = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&seg, bytes).unwrap();
    let out = nexus(&["verify", s]);
    assert_fails(&out, seg.file_name().unwrap().to_str().unwrap());
}

#[test]
fn malformed_input_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let garbage = dir.path().join("bad.fvecs");
    std::fs::write(&garbage, b"\x05\x00\x00\x00abc").unwrap();
    assert_fails(
        &nexus(&["import", s, garbage.to_str().unwrap()]),
        "bad.fvecs",
    );

    let jsonl = dir.path().join("bad.jsonl");
    std::fs::write(
        &jsonl,
        "{\"text\":\"a\",\"vector\":[1,2]}\n{\"text\":\"b\"}\n",
    )
    .unwrap();
    let other = dir.path().join("other");
    assert_fails(
        &nexus(&["import", other.to_str().unwrap(), jsonl.to_str().unwrap()]),
        "line 2",
    );

    let (fvecs, texts) = write_input(dir.path(), 10);
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "one line\n").unwrap();
    assert_fails(
        &nexus(&["import", s, &fvecs, "--texts", short.to_str().unwrap()]),
        "lines",
    );
    assert!(
        nexus(&["import", s, &fvecs, "--texts", &texts])
            .status
            .success()
    );
    assert_fails(&nexus(&["recall", s, "--vector", "[1,2,3]"]), "dimension");
    assert_fails(
        &nexus(&["recall", s, "--vector-from", &format!("{fvecs}:99")]),
        "row 99",
    );
    assert_fails(&nexus(&["recall", s, "--vector", "not json"]), "--vector");

    // Usage errors exit 2.
    for args in [
        &["frobnicate"][..],
        &["stats"][..],
        &["recall", s][..],
        &["stats", s, "--no-such-flag"][..],
    ] {
        assert_eq!(nexus(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn demo_prints_its_figures() {
    let out = nexus(&["demo"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for needle in [
        "recall@10 against exact search",
        "latency p50",
        "queries/s",
        "B per memory",
        "on disk",
        "within one namespace (user-3)",
    ] {
        assert!(
            stdout.contains(needle),
            "demo output lacks {needle:?}:\n{stdout}"
        );
    }
    let recall: f64 = stdout
        .split("recall@10 against exact search: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("a recall figure");
    assert!(recall >= 0.95, "demo recall {recall}");
}
