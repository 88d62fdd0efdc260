//! The `Nexus` API against a brute-force model: recall, namespaces, filters, forget, restart,
//! read-only opens, concurrency and bad input.

mod support;

use std::sync::Arc;

use nexus_engine::{
    Durability, Error, Filter, IndexOptions, ManualClock, Memory, Metric, Nexus, Options, Query,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use support::{Model, ModelFilter, query, random_memories, random_query};

const DIM: usize = 24;

/// Small segments and graphs, no background thread: every code path on a few thousand rows.
fn small_options() -> Options {
    let mut index = IndexOptions::default();
    index.exact_below = 64;
    index.ef_search = 128;
    Options::new()
        .dimension(DIM)
        .index(index)
        .flush_rows(700)
        .background(false)
}

/// Builds a store of `n` random memories (some in the tail, most in segments), the model,
/// and forgets every seventh memory.
fn build(nexus: &Nexus, n: usize, seed: u64, namespaces: usize) -> Model {
    let mut model = Model::default();
    let items = random_memories(seed, n, DIM, namespaces);
    for chunk in items.chunks(250) {
        let ids = nexus
            .remember_batch(chunk.iter().map(|(m, _)| m.clone()))
            .unwrap();
        for (id, (_, e)) in ids.into_iter().zip(chunk) {
            model.live.insert(id, e.clone());
        }
    }
    let forget: Vec<u64> = model.live.keys().copied().step_by(7).collect();
    for id in forget {
        nexus.forget(id).unwrap();
        model.live.remove(&id);
    }
    model
}

/// Mean recall of the engine's top-k against the model's, over `queries` random queries;
/// also checks every hit passes the filter and is live, and the count is exact.
fn check_recall(nexus: &Nexus, model: &Model, seed: u64, ns: &[String], f: &ModelFilter) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut found, mut wanted) = (0usize, 0usize);
    let k = 10;
    for _ in 0..40 {
        let v = random_query(&mut rng, DIM);
        let want = model.top_k(&v, k, ns, f);
        let got = nexus.recall(&query(v.clone(), k, ns, f)).unwrap();
        assert_eq!(got.len(), want.len(), "recall returns k whenever k match");
        for w in got.windows(2) {
            assert!(w[0].score >= w[1].score, "best first");
        }
        for r in &got {
            let e = model.live.get(&r.id).expect("a recalled memory is live");
            assert!(
                Model::passes(e, ns, &f.to_filter(), f),
                "hit {} fails the filter",
                r.id
            );
            assert_eq!(r.memory.text(), e.text);
            let s = support::cosine(&v, &e.vector);
            assert!((f64::from(r.score) - s).abs() < 1e-3, "score is the cosine");
        }
        found += got.iter().filter(|r| want.contains(&r.id)).count();
        wanted += want.len();
    }
    if wanted == 0 {
        1.0
    } else {
        found as f64 / wanted as f64
    }
}

#[test]
fn recall_matches_brute_force_across_tail_segments_and_graphs() {
    let nexus = Nexus::in_memory(small_options()).unwrap();
    let model = build(&nexus, 3100, 1, 5);
    let stats = nexus.stats();
    assert!(stats.segments >= 3, "several flushed segments: {stats:?}");
    assert!(stats.tail_memories > 0, "and a tail");
    assert_eq!(nexus.len(), model.live.len() as u64);
    let r = check_recall(&nexus, &model, 2, &[], &ModelFilter::default());
    assert!(r >= 0.99, "recall {r}");
    nexus.flush().unwrap();
    assert_eq!(nexus.stats().indexed_segments, nexus.stats().segments);
    let r = check_recall(&nexus, &model, 3, &[], &ModelFilter::default());
    assert!(r >= 0.99, "recall after flush {r}");
    nexus.compact().unwrap();
    assert_eq!(nexus.stats().segments, 1);
    assert_eq!(nexus.len(), model.live.len() as u64);
    let r = check_recall(&nexus, &model, 4, &[], &ModelFilter::default());
    assert!(r >= 0.99, "recall after compaction {r}");
    nexus.verify().unwrap();
}

#[test]
fn namespaces_are_isolated_and_filters_match_the_model() {
    let nexus = Nexus::in_memory(small_options()).unwrap();
    let model = build(&nexus, 2500, 5, 40);
    let ns = |i: usize| vec![format!("ns{i}")];
    // One namespace (~2.5 %), two namespaces, an unknown one.
    for (i, namespaces) in [ns(3), ns(17), vec!["ns1".into(), "ns2".into()]]
        .iter()
        .enumerate()
    {
        let r = check_recall(
            &nexus,
            &model,
            10 + i as u64,
            namespaces,
            &ModelFilter::default(),
        );
        assert!(r >= 0.99, "namespace recall {r}");
    }
    let unknown = nexus
        .recall(&Query::new(vec![1.0; DIM]).namespace("nobody"))
        .unwrap();
    assert!(unknown.is_empty());
    let filters = [
        ModelFilter {
            tags_any: vec!["red".into(), "gold".into()],
            ..Default::default()
        },
        ModelFilter {
            tags_all: vec!["red".into(), "green".into()],
            ..Default::default()
        },
        ModelFilter {
            meta_eq: vec![("kind".into(), "fact".into())],
            ..Default::default()
        },
        ModelFilter {
            event: Some((1_002_000, 1_004_500)),
            ..Default::default()
        },
        ModelFilter {
            tags_any: vec!["blue".into()],
            meta_eq: vec![("kind".into(), "event".into())],
            event: Some((1_000_000, 1_006_000)),
            ..Default::default()
        },
    ];
    for (i, f) in filters.iter().enumerate() {
        assert!(model.count(&[], f) >= 10);
        let r = check_recall(&nexus, &model, 20 + i as u64, &[], f);
        assert!(r >= 0.97, "filter {f:?}: recall {r}");
        let r = check_recall(&nexus, &model, 30 + i as u64, &ns(7), f);
        assert!(r >= 0.99, "filter {f:?} in a namespace: recall {r}");
    }
    // forget_where removes exactly the model's matches.
    let f = ModelFilter {
        tags_any: vec!["gold".into()],
        ..Default::default()
    };
    let want = model.count(&ns(4), &f) as u64;
    assert_eq!(nexus.forget_where("ns4", &f.to_filter()).unwrap(), want);
    let left = nexus
        .recall(&query(vec![0.5; DIM], 50, &ns(4), &f))
        .unwrap();
    assert!(left.is_empty());
    assert_eq!(nexus.len(), model.live.len() as u64 - want);
}

#[test]
fn forgotten_memories_never_come_back_and_ids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let nexus = Nexus::open(&path, small_options()).unwrap();
    let m = |i: usize| {
        Memory::new(
            format!("m{i}"),
            (0..DIM).map(|j| ((i * 31 + j) % 17) as f32 + 1.0).collect(),
        )
    };
    let ids = nexus.remember_batch((0..100).map(m)).unwrap();
    let top = *ids.last().unwrap();
    nexus.forget(top).unwrap();
    assert!(matches!(nexus.forget(top), Err(Error::UnknownId { id }) if id == top));
    assert!(nexus.get(top).unwrap().is_none());
    nexus.compact().unwrap();
    drop(nexus);
    let nexus = Nexus::open(&path, Options::new().background(false)).unwrap();
    // New content (the same content would be deduplicated to its live id).
    let again = nexus
        .remember(Memory::new("m7 again", m(7).vector().to_vec()))
        .unwrap();
    assert!(
        again > top,
        "id {again} reused after {top} was forgotten and compacted"
    );
    for r in nexus
        .recall(&Query::new(m(99).vector().to_vec()).k(100))
        .unwrap()
    {
        assert_ne!(r.id, top);
    }
}

#[test]
fn restart_keeps_flushed_and_unflushed_memories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(5_000);
    let (model, flushed_len) = {
        let nexus = Nexus::open(&path, small_options().clock(clock.clone())).unwrap();
        let model = build(&nexus, 2000, 9, 3);
        nexus.flush().unwrap();
        let flushed = nexus.len();
        // Unflushed: only in the WAL when the process goes away.
        let extra = nexus
            .remember(
                Memory::new("late", vec![0.25; DIM])
                    .namespace("ns0")
                    .importance(0.9),
            )
            .unwrap();
        assert_eq!(nexus.stats().tail_memories, 1);
        let mut model = model;
        model.live.insert(
            extra,
            support::Entry {
                text: "late".into(),
                vector: vec![0.25; DIM],
                namespace: "ns0".into(),
                tags: vec![],
                meta: Default::default(),
                event_time: 5_000,
                created_at: 5_000,
            },
        );
        (model, flushed)
    };
    let nexus = Nexus::open(&path, Options::new().background(false)).unwrap();
    assert_eq!(nexus.len(), flushed_len + 1);
    assert_eq!(nexus.len(), model.live.len() as u64);
    let late = nexus
        .get(*model.live.keys().last().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(late.text(), "late");
    assert_eq!(late.importance_value(), 0.9);
    assert_eq!(late.created_at_ms(), Some(5_000));
    assert_eq!(late.event_time_ms(), Some(5_000));
    let r = check_recall(&nexus, &model, 41, &[], &ModelFilter::default());
    assert!(r >= 0.99, "recall after reopen {r}");
    assert!(
        nexus.stats().indexed_segments >= 1,
        "graphs are loaded, not rebuilt"
    );
    nexus.verify().unwrap();
}

#[test]
fn memories_round_trip_their_fields() {
    let nexus = Nexus::in_memory(Options::new().dimension(3).clock(ManualClock::new(42))).unwrap();
    let id = nexus
        .remember(
            Memory::new("text ✓", vec![3.0, 4.0, 0.0])
                .namespace("agent-1")
                .tags(["b", "a", "b"])
                .meta("n", 3)
                .meta("nested", serde_json::json!({"x": [1, 2]}))
                .event_time(7)
                .importance(0.25),
        )
        .unwrap();
    let m = nexus.get(id).unwrap().unwrap();
    assert_eq!(m.text(), "text ✓");
    assert_eq!(m.vector(), &[0.6, 0.8, 0.0], "cosine stores normalise");
    assert_eq!(m.namespace_name(), "agent-1");
    assert_eq!(m.tag_list(), &["a".to_string(), "b".to_string()]);
    assert_eq!(m.metadata()["nested"]["x"][1], 2);
    assert_eq!(m.event_time_ms(), Some(7));
    assert_eq!(m.created_at_ms(), Some(42));
    assert_eq!(m.importance_value(), 0.25);
    let f = Filter::new().created_at(40..50).tags_all(["a", "b"]);
    assert_eq!(
        nexus
            .recall(&Query::new(vec![1.0, 0.0, 0.0]).filter(f))
            .unwrap()
            .len(),
        1
    );
    let s = nexus.stats();
    assert_eq!(s.memories, 1);
    assert_eq!(s.namespaces.get("agent-1"), Some(&1));
}

#[test]
fn other_metrics_score_as_documented() {
    for metric in [Metric::Dot, Metric::L2] {
        let nexus =
            Nexus::in_memory(Options::new().dimension(2).metric(metric).background(false)).unwrap();
        let a = nexus.remember(Memory::new("a", vec![1.0, 0.0])).unwrap();
        let b = nexus.remember(Memory::new("b", vec![3.0, 0.0])).unwrap();
        let hits = nexus.recall(&Query::new(vec![1.0, 0.0]).k(2)).unwrap();
        match metric {
            Metric::Dot => {
                assert_eq!((hits[0].id, hits[0].score), (b, 3.0));
                assert_eq!((hits[1].id, hits[1].score), (a, 1.0));
            }
            _ => {
                assert_eq!((hits[0].id, hits[0].score), (a, 0.0));
                assert_eq!((hits[1].id, hits[1].score), (b, -4.0));
            }
        }
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let nexus = Nexus::in_memory(Options::new().dimension(3)).unwrap();
    let err = |m: Memory| nexus.remember(m).unwrap_err();
    assert!(matches!(
        err(Memory::new("x", vec![1.0; 4])),
        Error::DimensionMismatch {
            expected: 3,
            got: 4
        }
    ));
    assert!(matches!(
        err(Memory::new("x", vec![1.0, f32::NAN, 0.0])),
        Error::NonFinite { index: 1, .. }
    ));
    assert!(matches!(
        err(Memory::new("x", vec![0.0; 3])),
        Error::ZeroVector
    ));
    assert!(matches!(
        err(Memory::new("", vec![1.0; 3])),
        Error::EmptyText
    ));
    assert!(matches!(
        err(Memory::new("x", vec![1.0; 3]).importance(1.5)),
        Error::InvalidArgument {
            name: "importance",
            ..
        }
    ));
    assert!(matches!(
        nexus.recall(&Query::new(vec![1.0; 3]).k(0)),
        Err(Error::ZeroK)
    ));
    assert!(matches!(
        nexus.recall(&Query::new(vec![f32::INFINITY, 0.0, 0.0])),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        nexus.forget(12345),
        Err(Error::UnknownId { id: 12345 })
    ));
    // A batch with one bad memory writes nothing.
    let before = nexus.len();
    assert!(
        nexus
            .remember_batch([
                Memory::new("ok", vec![1.0; 3]),
                Memory::new("bad", vec![1.0; 2])
            ])
            .is_err()
    );
    assert_eq!(nexus.len(), before);
    assert!(matches!(
        Nexus::in_memory(Options::new()),
        Err(Error::MissingDimension { .. })
    ));
}

#[test]
fn opening_checks_the_store_and_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    assert!(matches!(
        Nexus::open_read_only(&path),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        Nexus::open(&path, Options::new()),
        Err(Error::MissingDimension { .. })
    ));
    let nexus = Nexus::open(&path, Options::new().dimension(4)).unwrap();
    nexus.remember(Memory::new("x", vec![1.0; 4])).unwrap();
    assert!(matches!(
        Nexus::open(&path, Options::new()),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        Nexus::open_read_only(&path),
        Err(Error::Locked { .. })
    ));
    drop(nexus);
    assert!(matches!(
        Nexus::open(&path, Options::new().dimension(5)),
        Err(Error::OptionMismatch {
            name: "dimension",
            ..
        })
    ));
    assert!(matches!(
        Nexus::open(&path, Options::new().metric(Metric::L2)),
        Err(Error::OptionMismatch { name: "metric", .. })
    ));
    // Readers share the store with each other, not with a writer.
    let r1 = Nexus::open_read_only(&path).unwrap();
    let r2 = Nexus::open_read_only(&path).unwrap();
    assert_eq!((r1.len(), r2.len()), (1, 1));
    assert!(matches!(
        r1.remember(Memory::new("y", vec![1.0; 4])),
        Err(Error::ReadOnly)
    ));
    assert!(matches!(
        Nexus::open(&path, Options::new()),
        Err(Error::Locked { .. })
    ));
    drop((r1, r2));
    // A damaged settings file is corruption naming the file.
    std::fs::write(path.join("NEXUS"), b"{not json").unwrap();
    match Nexus::open(&path, Options::new()) {
        Err(e @ Error::Corrupt { .. }) => assert!(e.to_string().contains("NEXUS")),
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn read_only_open_sees_unflushed_memories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    {
        let nexus = Nexus::open(&path, small_options()).unwrap();
        let model = build(&nexus, 900, 12, 2);
        assert_eq!(nexus.len(), model.live.len() as u64);
        std::mem::forget(nexus); // a crash: no flush on close, the lock dies with the handle
    }
    // `forget` leaked the lock's file handle too; a read-only open needs it released, so
    // copy the directory as a crash leaves it.
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(&path).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let ro = Nexus::open_read_only(&copy).unwrap();
    let rw_len = {
        let rw = Nexus::open(dir.path().join("copy2"), Options::new().dimension(DIM)).unwrap();
        rw.len()
    };
    assert_eq!(rw_len, 0);
    let n = ro.len();
    assert!(n > 700, "segments and replayed tail: {n}");
    ro.verify().unwrap();
}

#[test]
fn concurrent_readers_and_writers_lose_nothing() {
    let nexus = Arc::new(
        Nexus::in_memory(
            Options::new()
                .dimension(DIM)
                .flush_rows(300)
                .flush_interval(std::time::Duration::from_millis(20))
                .max_segments(3)
                .index({
                    let mut i = IndexOptions::default();
                    i.exact_below = 100;
                    i
                })
                .durability(Durability::Grouped),
        )
        .unwrap(),
    );
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let nexus = Arc::clone(&nexus);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for (m, _) in random_memories(100 + t, 600, DIM, 4) {
                    ids.push(nexus.remember(m).unwrap());
                }
                ids
            })
        })
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let nexus = Arc::clone(&nexus);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(t);
                let mut seen = 0usize;
                // Until the writers are done, then a last round on the full store.
                let mut last = 0;
                while last < 20 {
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        last += 1;
                    }
                    let q = Query::new(random_query(&mut rng, DIM))
                        .k(5)
                        .namespace(format!("ns{}", rng.random_range(0..4)));
                    seen += nexus.recall(&q).unwrap().len();
                }
                seen
            })
        })
        .collect();
    let mut all: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 1800, "ids are unique");
    assert_eq!(nexus.len(), 1800);
    for &id in all.iter().step_by(37) {
        assert!(nexus.get(id).unwrap().is_some(), "memory {id} lost");
    }
    // Every memory is recallable by its own vector.
    for &id in all.iter().step_by(53) {
        let v = nexus.get(id).unwrap().unwrap().vector().to_vec();
        let hit = &nexus.recall(&Query::new(v).k(1)).unwrap()[0];
        assert!(hit.score > 0.999, "memory {id} not found by its own vector");
    }
    nexus.flush().unwrap();
    nexus.verify().unwrap();
    assert!(nexus.stats().background_error.is_none());
}

#[test]
fn real_embeddings_recall_like_exact_search() {
    let data = nexus_dataset::Dataset::load(nexus_dataset::bundled_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    {
        let nexus = Nexus::open(
            &path,
            Options::new().dimension(data.base.dim()).background(false),
        )
        .unwrap();
        let memories = (0..data.base.len())
            .map(|i| Memory::new(format!("row {i}"), data.base.row(i).to_vec()));
        nexus.remember_batch(memories).unwrap();
        nexus.flush().unwrap();
    }
    let nexus = Nexus::open(&path, Options::new().background(false)).unwrap();
    let (mut hit, mut total) = (0, 0);
    for q in 0..data.queries.len() {
        let got = nexus
            .recall(&Query::new(data.queries.row(q).to_vec()).k(10))
            .unwrap();
        // Ids are assigned from 1 in row order.
        let want: Vec<u64> = data.ground_truth.row(q)[..10]
            .iter()
            .map(|&i| i as u64 + 1)
            .collect();
        hit += got.iter().filter(|r| want.contains(&r.id)).count();
        total += 10;
    }
    let recall = hit as f64 / total as f64;
    assert!(
        recall >= 0.99,
        "recall@10 on the bundled MiniLM data: {recall}"
    );
}

#[test]
fn nexus_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Nexus>();
}

#[test]
fn newer_and_damaged_stores_are_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    {
        let nexus = Nexus::open(&path, small_options()).unwrap();
        build(&nexus, 300, 3, 2);
        nexus.flush().unwrap();
    }
    // A settings file from a newer format.
    let settings = std::fs::read_to_string(path.join("NEXUS")).unwrap();
    std::fs::write(
        path.join("NEXUS"),
        settings.replace("\"format\": 1", "\"format\": 99"),
    )
    .unwrap();
    match Nexus::open(&path, Options::new()) {
        Err(Error::NewerFormat {
            found: 99, path: p, ..
        }) => assert!(p.ends_with("NEXUS")),
        other => panic!("expected a newer format, got {other:?}"),
    }
    std::fs::write(path.join("NEXUS"), settings).unwrap();
    // A flipped byte in a segment: open (which checks headers) or verify names the file.
    let seg = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&seg, bytes).unwrap();
    let err = match Nexus::open(&path, Options::new().background(false)) {
        Err(e) => e,
        Ok(n) => n.verify().unwrap_err(),
    };
    assert!(err.is_corruption(), "{err}");
    let name = seg.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        err.to_string().contains(&name),
        "{err} does not name {name}"
    );
}

#[test]
fn jsonl_export_import_round_trips_exactly() {
    let a = Nexus::in_memory(small_options()).unwrap();
    build(&a, 1500, 21, 3);
    a.remember(
        Memory::new(
            "odd values",
            [1e-30, -3.5, 0.1, 7e10, 1.0, 0.0, 0.0, 0.0].repeat(3),
        )
        .tags(["x"])
        .meta("nested", serde_json::json!({"a": [1, "two", null]})),
    )
    .unwrap();
    let mut out = Vec::new();
    let n = a.export_jsonl(&mut out).unwrap();
    assert_eq!(n, a.len());
    let b = Nexus::in_memory(small_options()).unwrap();
    let ids = b.import_jsonl(out.as_slice()).unwrap();
    assert_eq!(ids.len() as u64, n);
    let mut again = Vec::new();
    b.export_jsonl(&mut again).unwrap();
    // Equal line by line except for the ids, which are assigned anew.
    let strip = |text: &[u8]| -> Vec<serde_json::Value> {
        String::from_utf8(text.to_vec())
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("id");
                v
            })
            .collect()
    };
    let (x, y) = (strip(&out), strip(&again));
    assert_eq!(x, y);
    // Bit-equal vectors and equal times, memory by memory.
    let ids_a: Vec<u64> = String::from_utf8(out.clone())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let bits = |m: &Memory| m.vector().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for (&ia, &ib) in ids_a.iter().zip(&ids) {
        let (ma, mb) = (a.get(ia).unwrap().unwrap(), b.get(ib).unwrap().unwrap());
        assert_eq!(bits(&ma), bits(&mb));
        assert_eq!(ma.created_at_ms(), mb.created_at_ms());
        assert_eq!(ma.event_time_ms(), mb.event_time_ms());
    }
    // A malformed line is reported with its number.
    let bad = b"{\"text\":\"a\",\"vector\":[1,2]}\nnot json\n";
    match b.import_jsonl(&bad[..]) {
        Err(Error::InvalidArgument { reason, .. }) => assert!(
            reason.contains("line 1") || reason.contains("line 2"),
            "{reason}"
        ),
        other => panic!("expected a bad line, got {other:?}"),
    }
}

#[test]
fn backup_is_an_equal_store_even_while_writers_continue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let nexus = Arc::new(Nexus::open(&path, small_options()).unwrap());
    build(&nexus, 1600, 31, 3);
    nexus.flush().unwrap();
    // Some memories only in the WAL (the tail).
    nexus
        .remember_batch(random_memories(32, 50, DIM, 3).into_iter().map(|(m, _)| m))
        .unwrap();
    let export = |n: &Nexus| {
        let mut out = Vec::new();
        n.export_jsonl(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    // Quiescent: the copy is equal, ids included.
    let quiet = dir.path().join("backup-quiet");
    assert!(nexus.backup_to(&quiet).unwrap() > 3);
    let copy = Nexus::open(&quiet, Options::new().background(false)).unwrap();
    copy.verify().unwrap();
    assert_eq!(export(&copy), export(&nexus));
    drop(copy);
    assert!(matches!(
        nexus.backup_to(&quiet),
        Err(Error::InvalidArgument { .. })
    ));
    // While a writer keeps remembering: the copy holds a prefix, each memory equal.
    let writer = {
        let nexus = Arc::clone(&nexus);
        std::thread::spawn(move || {
            for (m, _) in random_memories(33, 400, DIM, 3) {
                nexus.remember(m).unwrap();
            }
        })
    };
    let busy = dir.path().join("backup-busy");
    nexus.backup_to(&busy).unwrap();
    writer.join().unwrap();
    let copy = Nexus::open(&busy, Options::new().background(false)).unwrap();
    copy.verify().unwrap();
    assert!(copy.len() >= 1650 - 1600 / 7 - 1);
    let mut lines = Vec::new();
    copy.export_jsonl(&mut lines).unwrap();
    for line in String::from_utf8(lines).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_u64().unwrap();
        let original = nexus
            .get(id)
            .unwrap()
            .expect("a backed-up memory exists in the source");
        assert_eq!(v["text"], original.text());
    }
}

#[test]
fn a_huge_k_returns_every_memory_and_the_cache_is_never_stale() {
    let nexus = Nexus::in_memory(Options::new().dimension(3).background(false)).unwrap();
    let a = nexus
        .remember(Memory::new("a", vec![1.0, 0.0, 0.0]))
        .unwrap();
    nexus
        .remember(Memory::new("b", vec![0.0, 1.0, 0.0]))
        .unwrap();
    let all = Query::new(vec![1.0, 0.2, 0.0]).k(usize::MAX);
    assert_eq!(nexus.recall(&all).unwrap().len(), 2);
    // The same query twice: the second is a cache hit with the same answer.
    let q = Query::new(vec![0.9, 0.1, 0.0]).k(1);
    let first = nexus.recall(&q).unwrap();
    assert_eq!(first[0].id, a);
    let hits_before = nexus.stats().cache_hits;
    assert_eq!(nexus.recall(&q).unwrap(), first);
    assert_eq!(nexus.stats().cache_hits, hits_before + 1);
    // A remember that changes the answer is seen at once, and so is a forget.
    let c = nexus
        .remember(Memory::new("c", vec![0.9, 0.1, 0.0]))
        .unwrap();
    assert_eq!(nexus.recall(&q).unwrap()[0].id, c);
    nexus.forget(c).unwrap();
    assert_eq!(nexus.recall(&q).unwrap()[0].id, a);
    assert!(nexus.stats().cache_hit_rate() > 0.0);
}
