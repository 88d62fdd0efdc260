//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets'
//! entry points: every valid seed parses to what the store wrote, every damaged one (bit flip,
//! truncation) is rejected with a typed error (or, in the WAL, cut as a torn tail), and no
//! file panics.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nexus_storage::testing::parse;
use nexus_storage::{Backend, Batch, Durability, MemFs, Options, Store};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// What the seeds written by `regenerate_fuzz_corpus` hold: the WAL's batches (ids 20..26,
/// one commit each), the segment's rows (ids 0..12) and the manifest's live segments.
const WAL_BATCHES: usize = 6;
const SEGMENT_ROWS: usize = 12;
const MANIFEST_SEGMENTS: usize = 1;

/// Every corpus file of `target` by name, sorted.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<_> = std::fs::read_dir(corpus_dir(target))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let files: Vec<_> = entries
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    // The seeds: a valid file, a truncation, an empty file and five bit flips.
    let count = |prefix: &str| files.iter().filter(|(n, _)| n.starts_with(prefix)).count();
    assert!(count("valid") >= 1, "{target}: no valid seed");
    assert!(count("flip-") >= 5, "{target}: too few flipped seeds");
    assert!(count("truncated-") >= 1, "{target}: no truncated seed");
    files
}

/// A file called `valid*` is a seed the store wrote; `flip-*` and `truncated-*` are damaged
/// copies of it. Any other file (e.g. a crash a fuzz run found) only has to not panic.
fn is_damaged(name: &str) -> bool {
    name.starts_with("flip-") || name.starts_with("truncated-")
}

#[test]
fn wal_corpus() {
    for (name, bytes) in corpus("wal") {
        let got = parse::wal(&bytes, 4, 2);
        if name.starts_with("valid") {
            assert_eq!(got.unwrap(), (WAL_BATCHES, false), "{name}");
        } else if is_damaged(&name) {
            // The file is shorter than a sector, so damage anywhere in it may be a torn tail:
            // rejected means an error, or the damaged record and everything after it cut.
            match got {
                Err(e) => assert!(
                    matches!(e, nexus_storage::Error::Corrupt { .. }),
                    "{name}: {e}"
                ),
                Ok((batches, cut)) => assert!(
                    cut && batches < WAL_BATCHES,
                    "{name}: accepted as {batches} batches (tail cut: {cut})"
                ),
            }
        } else if name == "empty" {
            // A WAL file just created holds nothing yet.
            assert_eq!(got.unwrap(), (0, false), "{name}");
        }
    }
}

#[test]
fn segment_corpus() {
    for (name, bytes) in corpus("segment") {
        let got = parse::segment(&bytes, 2);
        if name.starts_with("valid") {
            assert_eq!(got.unwrap(), SEGMENT_ROWS, "{name}");
        } else if is_damaged(&name) || name == "empty" {
            let e = got.expect_err(&name);
            assert!(
                matches!(e, nexus_storage::Error::Corrupt { .. }),
                "{name}: {e}"
            );
        }
    }
}

#[test]
fn manifest_corpus() {
    for (name, bytes) in corpus("manifest") {
        let got = parse::manifest(&bytes);
        if name.starts_with("valid") {
            assert_eq!(got.unwrap(), MANIFEST_SEGMENTS, "{name}");
        } else if is_damaged(&name) || name == "empty" {
            let e = got.expect_err(&name);
            assert!(
                matches!(e, nexus_storage::Error::Corrupt { .. }),
                "{name}: {e}"
            );
        }
    }
}

/// Writes the seed corpus: real files from a small store, truncations and bit flips.
#[test]
#[ignore = "regenerates fuzz/corpus; run by hand"]
fn regenerate_fuzz_corpus() {
    let fs = MemFs::new();
    let store =
        Store::open_with(Arc::new(fs.clone()), "/db", Options::new(4).code_bytes(2)).unwrap();
    let mut b = Batch::new();
    for id in 0..12u64 {
        b.put(
            id,
            &[id as f32, 1.0, -1.0, 0.5],
            &[id as u8, 7],
            format!("m{id}").as_bytes(),
        );
    }
    b.delete(3);
    store.commit(b, Durability::Always).unwrap();
    let seg = store.flush().unwrap().unwrap();
    assert_eq!(seg, 2, "the fuzz target opens segment id 2");
    for id in 20..26u64 {
        let mut b = Batch::new();
        b.put(id, &[0.0; 4], &[0, 0], b"w").delete(id - 20);
        store.commit(b, Durability::Grouped).unwrap();
    }
    drop(store);
    let names = fs.list(Path::new("/db")).unwrap();
    for (target, prefix) in [
        ("wal", "wal-"),
        ("segment", "seg-"),
        ("manifest", "MANIFEST"),
    ] {
        let name = names.iter().find(|n| n.starts_with(prefix)).unwrap();
        let bytes = fs.file(&Path::new("/db").join(name)).unwrap();
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("valid"), &bytes).unwrap();
        std::fs::write(dir.join("truncated-half"), &bytes[..bytes.len() / 2]).unwrap();
        std::fs::write(dir.join("empty"), []).unwrap();
        for at in [0, 9, 30, bytes.len() / 3, bytes.len() - 5] {
            let mut bad = bytes.clone();
            bad[at.min(bytes.len() - 1)] ^= 0x41;
            std::fs::write(dir.join(format!("flip-{at}")), bad).unwrap();
        }
    }
}
