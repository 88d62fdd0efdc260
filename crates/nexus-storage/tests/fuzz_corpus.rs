//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets'
//! entry points: every file must parse to a value or a typed error, never panic.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nexus_storage::{Backend, Batch, Durability, MemFs, Options, Store, parse};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn replay(target: &str, f: impl Fn(&[u8]) -> bool) -> usize {
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(corpus_dir(target))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut ok = 0;
    for path in entries {
        let bytes = std::fs::read(&path).unwrap();
        ok += usize::from(f(&bytes));
        n += 1;
    }
    assert!(n >= 3, "{target}: corpus too small ({n})");
    assert!(
        ok >= 1,
        "{target}: no corpus file parses: the seeds are stale"
    );
    n
}

#[test]
fn wal_corpus() {
    replay("wal", |b| parse::wal(b, 4, 2).is_ok());
}

#[test]
fn segment_corpus() {
    replay("segment", |b| parse::segment(b, 2).is_ok());
}

#[test]
fn manifest_corpus() {
    replay("manifest", |b| parse::manifest(b).is_ok());
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
