//! Erasure: after `forget` (or `forget_where`) and `compact()`, a forgotten memory's text and
//! vector bytes occur in no file of the store — users delete personal data and expect it gone.

use nexus_engine::{Filter, IndexOptions, Memory, Nexus, Options};

const DIM: usize = 32;

fn vector(seed: u32) -> Vec<f32> {
    (0..DIM as u32)
        .map(|j| {
            ((seed.wrapping_mul(2_654_435_761) ^ j.wrapping_mul(40_503)) % 10_007) as f32 / 10_007.0
                + 0.001
        })
        .collect()
}

fn bytes_of(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if data.windows(needle.len()).any(|w| w == needle) {
            hits.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    hits
}

#[test]
fn forgotten_text_and_vector_leave_every_file_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let mut index = IndexOptions::default();
    index.exact_below = 100;
    let nexus = Nexus::open(
        &path,
        Options::new()
            .dimension(DIM)
            .index(index)
            .background(false)
            .flush_rows(400),
    )
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..1000u32 {
        let m = Memory::new(format!("ordinary memory number {i}"), vector(i))
            .namespace(format!("user-{}", i % 4));
        ids.push(nexus.remember(m).unwrap());
    }
    let secret = "SECRET: alice's passport number is X1234567";
    let secret_vector = vector(99_999);
    let secret_id = nexus
        .remember(Memory::new(secret, secret_vector.clone()).namespace("user-1"))
        .unwrap();
    let private = "PRIVATE: bob's diagnosis";
    let private_vector = vector(88_888);
    let private_id = nexus
        .remember(
            Memory::new(private, private_vector.clone())
                .namespace("user-2")
                .tag("health"),
        )
        .unwrap();
    nexus.flush().unwrap();
    // The bytes as stored (a cosine store keeps the normalised vector).
    let secret_vector = nexus.get(secret_id).unwrap().unwrap().vector().to_vec();
    let private_vector = nexus.get(private_id).unwrap().unwrap().vector().to_vec();
    // Before: both are on disk (the test can fail).
    assert!(!files_containing(&path, secret.as_bytes()).is_empty());
    assert!(!files_containing(&path, &bytes_of(&private_vector)).is_empty());

    nexus.forget(secret_id).unwrap();
    assert_eq!(
        nexus
            .forget_where("user-2", &Filter::new().tags_any(["health"]))
            .unwrap(),
        1
    );
    nexus.compact().unwrap();
    for needle in [
        secret.as_bytes().to_vec(),
        bytes_of(&secret_vector),
        private.as_bytes().to_vec(),
        bytes_of(&private_vector),
    ] {
        let hits = files_containing(&path, &needle);
        assert!(hits.is_empty(), "forgotten bytes still in {hits:?}");
    }
    // Everything else is still there.
    assert_eq!(nexus.len(), 1000);
    assert!(!files_containing(&path, b"ordinary memory number 999").is_empty());
    drop(nexus);
    let nexus = Nexus::open(&path, Options::new().background(false)).unwrap();
    assert_eq!(nexus.len(), 1000);
    assert!(nexus.get(secret_id).unwrap().is_none());
}
