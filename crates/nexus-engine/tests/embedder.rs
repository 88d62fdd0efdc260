//! Text in, text out: memories and queries without vectors go through the store's embedder.

use nexus_engine::{Embedder, Error, Memory, Nexus, Options, Query};

/// A deterministic bag-of-words embedder: each word adds 1 to a hashed coordinate.
#[derive(Debug)]
struct Words(usize);

impl Embedder for Words {
    fn dim(&self) -> usize {
        self.0
    }
    fn embed(
        &self,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; self.0];
                v[0] = 0.01; // never all zeros
                for w in t.split_whitespace() {
                    let h = w
                        .to_lowercase()
                        .bytes()
                        .fold(1469598103934665603u64, |h, b| {
                            (h ^ u64::from(b)).wrapping_mul(1099511628211)
                        });
                    v[(h % self.0 as u64) as usize] += 1.0;
                }
                v
            })
            .collect())
    }
}

/// An embedder that breaks its contract.
#[derive(Debug)]
struct Broken;

impl Embedder for Broken {
    fn dim(&self) -> usize {
        8
    }
    fn embed(
        &self,
        _texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Vec::new())
    }
}

#[test]
fn text_memories_and_queries_use_the_embedder() {
    let nexus = Nexus::in_memory(Options::new().embedder(Words(256))).unwrap();
    assert_eq!(
        nexus.dimension(),
        256,
        "a new store takes the embedder's dimension"
    );
    let ids = nexus
        .remember_batch([
            Memory::from_text("the user drinks green tea every morning"),
            Memory::from_text("the meeting moved to friday afternoon"),
            Memory::from_text("the cat is called tiger").namespace("pets"),
        ])
        .unwrap();
    let hits = nexus
        .recall(&Query::for_text("which tea does the user drink").k(1))
        .unwrap();
    assert_eq!(hits[0].id, ids[0]);
    let hits = nexus
        .recall(&Query::for_text("tiger the cat").k(1).namespace("pets"))
        .unwrap();
    assert_eq!(hits[0].id, ids[2]);
    // The shorthands: remember_text / recall_text.
    let cat = nexus.remember_text("a second cat named smudge").unwrap();
    assert_eq!(nexus.recall_text("named smudge", 1).unwrap()[0].id, cat);
    // The stored vector is the embedder's (normalised, cosine store).
    let v = nexus.get(ids[1]).unwrap().unwrap().vector().to_vec();
    let mut want = Words(256)
        .embed(&["the meeting moved to friday afternoon"])
        .unwrap()
        .remove(0);
    nexus_engine::simd::normalize(&mut want).unwrap();
    assert_eq!(v, want);
}

#[test]
fn embedder_mistakes_are_typed_errors() {
    let plain = Nexus::in_memory(Options::new().dimension(8)).unwrap();
    assert!(matches!(
        plain.remember(Memory::from_text("x")),
        Err(Error::Embedder { .. })
    ));
    assert!(matches!(
        plain.recall(&Query::for_text("x")),
        Err(Error::Embedder { .. })
    ));
    let broken = Nexus::in_memory(Options::new().embedder(Broken)).unwrap();
    match broken.remember(Memory::from_text("x")) {
        Err(Error::Embedder { reason }) => assert!(reason.contains("0 vectors for 1 texts")),
        other => panic!("expected an embedder error, got {other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    drop(Nexus::open(dir.path().join("s"), Options::new().dimension(16)).unwrap());
    assert!(matches!(
        Nexus::open(dir.path().join("s"), Options::new().embedder(Words(32))),
        Err(Error::OptionMismatch {
            name: "embedder dimension",
            ..
        })
    ));
}
