//! The agent features through the public API, each against an independent reference: TTL with
//! the injected clock, blended scoring against its formula by brute force, update, key
//! upsert, content dedup, BM25 keyword recall against a brute-force BM25, hybrid fusion, the
//! query cache never stale, and metrics.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use nexus_engine::{
    BlendWeights, Error, Filter, Fusion, IndexOptions, ManualClock, Memory, Nexus, Options, Patch,
    Query, Scoring,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIM: usize = 8;
const T0: i64 = 1_700_000_000_000;

/// No background thread, small flushes, exact search everywhere (so rankings are exact).
fn options(clock: &ManualClock) -> Options {
    let mut index = IndexOptions::default();
    index.exact_below = usize::MAX;
    Options::new()
        .dimension(DIM)
        .index(index)
        .flush_rows(50)
        .background(false)
        .clock(clock.clone())
}

fn random_vector(rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn ids(hits: &[nexus_engine::Recalled]) -> Vec<u64> {
    hits.iter().map(|h| h.id).collect()
}

fn export_texts(nexus: &Nexus) -> Vec<String> {
    let mut out = Vec::new();
    nexus.export_jsonl(&mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["text"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn expired_memories_are_never_returned_and_compaction_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(T0);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    let v = |x: f32| {
        let mut v = vec![0.1; DIM];
        v[0] = x;
        v
    };
    let short = nexus
        .remember(Memory::new("short-lived secret", v(1.0)).ttl(Duration::from_secs(10)))
        .unwrap();
    let at = nexus
        .remember(Memory::new("expires at a set time", v(0.9)).expires_at(T0 + 20_000))
        .unwrap();
    let keep = nexus.remember(Memory::new("kept forever", v(0.8))).unwrap();
    // One expiring memory in a segment, one in the tail.
    nexus.flush().unwrap();
    let tail = nexus
        .remember(Memory::new("tail memory", v(0.7)).ttl(Duration::from_secs(10)))
        .unwrap();
    let q = Query::new(v(1.0)).k(10);
    assert_eq!(ids(&nexus.recall(&q).unwrap()), [short, at, keep, tail]);
    assert_eq!(
        nexus.get(short).unwrap().unwrap().expires_at_ms(),
        Some(T0 + 10_000)
    );

    // The query above is cached; expiry must not serve it again.
    clock.advance(10_000);
    assert_eq!(ids(&nexus.recall(&q).unwrap()), [at, keep]);
    assert!(nexus.get(short).unwrap().is_none());
    assert!(nexus.get(tail).unwrap().is_none());
    assert_eq!(nexus.len(), 2);
    assert_eq!(
        export_texts(&nexus),
        ["expires at a set time", "kept forever"]
    );
    let keyword = nexus.recall(&Query::text("secret")).unwrap();
    assert!(
        keyword.is_empty(),
        "keyword recall returned an expired memory"
    );
    // Update cannot revive it.
    assert!(matches!(
        nexus.update(short, &Patch::new().no_expiry()),
        Err(Error::UnknownId { .. })
    ));

    clock.advance(10_000);
    assert_eq!(ids(&nexus.recall(&q).unwrap()), [keep]);
    nexus.compact().unwrap();
    drop(nexus);
    // Compaction dropped their bytes: no file holds the expired texts.
    for entry in std::fs::read_dir(&path).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for text in ["short-lived secret", "expires at a set time", "tail memory"] {
            assert!(
                !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                "{text:?} is still on disk after compaction"
            );
        }
    }
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    assert_eq!(ids(&nexus.recall(&q).unwrap()), [keep]);
    assert_eq!(nexus.len(), 1);
}

#[test]
fn expiry_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(T0);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    let a = nexus
        .remember(Memory::new("in the segment", vec![1.0; DIM]).ttl(Duration::from_secs(5)))
        .unwrap();
    nexus.flush().unwrap();
    let b = nexus
        .remember(Memory::new("in the wal", vec![0.5; DIM]).ttl(Duration::from_secs(5)))
        .unwrap();
    drop(nexus);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    assert_eq!(nexus.len(), 2);
    clock.advance(5_000);
    assert!(nexus.get(a).unwrap().is_none() && nexus.get(b).unwrap().is_none());
    assert!(
        nexus
            .recall(&Query::new(vec![1.0; DIM]))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn blended_scoring_follows_its_formula() {
    let clock = ManualClock::new(T0);
    let nexus = Nexus::in_memory(options(&clock)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut model: BTreeMap<u64, (Vec<f32>, i64, f32)> = BTreeMap::new();
    for i in 0..300 {
        let v = random_vector(&mut rng);
        let t = T0 - rng.random_range(0..30 * 86_400_000i64);
        let imp = rng.random_range(0.0f32..=1.0);
        let id = nexus
            .remember(
                Memory::new(format!("memory {i}"), v.clone())
                    .event_time(t)
                    .importance(imp),
            )
            .unwrap();
        model.insert(id, (v, t, imp));
    }
    let half_life = Duration::from_secs(7 * 86_400);
    let weights = BlendWeights {
        relevance: 1.0,
        recency: 0.5,
        importance: 0.3,
    };
    let formula = |q: &[f32], (v, t, imp): &(Vec<f32>, i64, f32)| {
        let age = (T0 - t).max(0) as f64;
        f64::from(weights.relevance) * cosine(q, v)
            + f64::from(weights.recency) * (-age / (half_life.as_secs_f64() * 1000.0)).exp2()
            + f64::from(weights.importance) * f64::from(*imp)
    };
    let scoring = Scoring::Blend {
        recency_half_life: half_life,
        weights,
    };
    for _ in 0..20 {
        let q = random_vector(&mut rng);
        // Candidates cover the store: the result is the brute-force top-k of the formula.
        let got = nexus
            .recall(
                &Query::new(q.clone())
                    .k(10)
                    .scoring(scoring)
                    .candidates(1000),
            )
            .unwrap();
        let mut want: Vec<(f64, u64)> = model.iter().map(|(&id, e)| (formula(&q, e), id)).collect();
        want.sort_by(|a, b| b.0.total_cmp(&a.0));
        assert_eq!(got.len(), 10);
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(g.score) - formula(&q, &model[&g.id])).abs() < 1e-4);
            // The same ranking, up to float noise on near-ties.
            assert!(
                g.id == w.1 || (f64::from(g.score) - w.0).abs() < 1e-4,
                "blended rank differs from brute force"
            );
        }
        // Default candidates: a rescored subset, still ordered by the formula.
        let got = nexus
            .recall(&Query::new(q.clone()).k(10).scoring(scoring))
            .unwrap();
        for pair in got.windows(2) {
            assert!(pair[0].score >= pair[1].score);
        }
        for g in &got {
            assert!((f64::from(g.score) - formula(&q, &model[&g.id])).abs() < 1e-4);
        }
    }
    let bad = Scoring::Blend {
        recency_half_life: Duration::ZERO,
        weights,
    };
    assert!(matches!(
        nexus.recall(&Query::new(vec![1.0; DIM]).scoring(bad)),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn update_changes_metadata_but_keeps_text_vector_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(T0);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let v = random_vector(&mut rng);
    let in_segment = nexus
        .remember(
            Memory::new("the user likes jazz", v.clone())
                .tag("music")
                .meta("source", "chat")
                .importance(0.2),
        )
        .unwrap();
    nexus.flush().unwrap();
    let in_tail = nexus
        .remember(Memory::new("buy milk", random_vector(&mut rng)).tag("todo"))
        .unwrap();
    let fav = Query::new(v.clone()).filter(Filter::new().tags_any(["favourite"]));
    assert!(nexus.recall(&fav).unwrap().is_empty()); // cached empty result
    let before = nexus.get(in_segment).unwrap().unwrap();

    nexus
        .update(
            in_segment,
            &Patch::new()
                .add_tag("favourite")
                .remove_tag("music")
                .meta("confirmed", true)
                .remove_meta("source")
                .importance(0.9)
                .ttl(Duration::from_secs(60)),
        )
        .unwrap();
    nexus
        .update(in_tail, &Patch::new().tags(["done"]).event_time(T0 - 5))
        .unwrap();
    // The cached empty result is not served after the update.
    assert_eq!(ids(&nexus.recall(&fav).unwrap()), [in_segment]);
    let check = |nexus: &Nexus| {
        let m = nexus.get(in_segment).unwrap().unwrap();
        assert_eq!(m.text(), "the user likes jazz");
        assert_eq!(
            m.vector(),
            before.vector(),
            "update must not touch the vector"
        );
        assert_eq!(m.tag_list(), ["favourite"]);
        assert_eq!(
            m.metadata().get("confirmed"),
            Some(&serde_json::json!(true))
        );
        assert!(m.metadata().get("source").is_none());
        assert_eq!(m.importance_value(), 0.9);
        assert_eq!(m.expires_at_ms(), Some(T0 + 60_000));
        assert_eq!(m.created_at_ms(), before.created_at_ms());
        let t = nexus.get(in_tail).unwrap().unwrap();
        assert_eq!(
            (t.tag_list(), t.event_time_ms()),
            (&["done".to_owned()][..], Some(T0 - 5))
        );
        let music = Query::new(v.clone()).filter(Filter::new().tags_any(["music"]));
        assert!(nexus.recall(&music).unwrap().is_empty());
        assert_eq!(nexus.len(), 2);
    };
    check(&nexus);
    drop(nexus);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    check(&nexus);
    nexus.compact().unwrap();
    check(&nexus);
    assert!(matches!(
        nexus.update(999, &Patch::new().importance(0.1)),
        Err(Error::UnknownId { id: 999 })
    ));
    assert!(matches!(
        nexus.update(in_tail, &Patch::new().importance(2.0)),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn a_key_makes_remember_an_upsert_within_its_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(T0);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (v1, v2, v3) = (
        random_vector(&mut rng),
        random_vector(&mut rng),
        random_vector(&mut rng),
    );
    let id = nexus
        .remember(
            Memory::new("lives in Paris", v1.clone())
                .namespace("u1")
                .key("city"),
        )
        .unwrap();
    let other_ns = nexus
        .remember(
            Memory::new("lives in Rome", v1.clone())
                .namespace("u2")
                .key("city"),
        )
        .unwrap();
    assert_ne!(id, other_ns);
    nexus.flush().unwrap();
    let old = Query::new(v1.clone()).namespace("u1");
    assert_eq!(ids(&nexus.recall(&old).unwrap()), [id]); // cached
    let again = nexus
        .remember(
            Memory::new("lives in Berlin", v2.clone())
                .namespace("u1")
                .key("city"),
        )
        .unwrap();
    assert_eq!(again, id, "the same key keeps its id");
    let m = nexus.get(id).unwrap().unwrap();
    assert_eq!((m.text(), m.key_name()), ("lives in Berlin", Some("city")));
    assert_eq!(nexus.len(), 2);
    // The old version is gone from recall (vector and keyword), the cache included.
    let hits = nexus.recall(&old).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].memory.text(), "lives in Berlin");
    assert!(nexus.recall(&Query::text("Paris")).unwrap().is_empty());

    // Twice in one batch: one memory, the later one wins.
    let batch = nexus
        .remember_batch([
            Memory::new("likes cats", v3.clone())
                .namespace("u1")
                .key("pet"),
            Memory::new("likes dogs", v3.clone())
                .namespace("u1")
                .key("pet"),
        ])
        .unwrap();
    assert_eq!(batch[0], batch[1]);
    assert_eq!(nexus.get(batch[0]).unwrap().unwrap().text(), "likes dogs");
    assert_eq!(nexus.len(), 3);

    drop(nexus);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    assert_eq!(nexus.get(id).unwrap().unwrap().text(), "lives in Berlin");
    let third = nexus
        .remember(Memory::new("lives in Oslo", v3).namespace("u1").key("city"))
        .unwrap();
    assert_eq!(third, id, "the key survives a restart");
    assert_eq!(nexus.len(), 3);
    nexus.compact().unwrap();
    assert_eq!(nexus.get(id).unwrap().unwrap().text(), "lives in Oslo");
    assert_eq!(
        nexus.get(other_ns).unwrap().unwrap().text(),
        "lives in Rome"
    );
}

#[test]
fn identical_content_is_remembered_once_unless_dedup_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(T0);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let v = random_vector(&mut rng);
    let a = nexus
        .remember(Memory::new("same words", v.clone()))
        .unwrap();
    assert_eq!(
        nexus
            .remember(Memory::new("same words", v.clone()))
            .unwrap(),
        a
    );
    let in_batch = nexus
        .remember_batch([
            Memory::new("fresh", v.clone()),
            Memory::new("fresh", v.clone()),
        ])
        .unwrap();
    assert_eq!(in_batch[0], in_batch[1]);
    assert_ne!(in_batch[0], a);
    // Another namespace, text or vector is another memory.
    let ns = nexus
        .remember(Memory::new("same words", v.clone()).namespace("other"))
        .unwrap();
    let text = nexus.remember(Memory::new("same word", v.clone())).unwrap();
    let mut w = v.clone();
    w[0] += 0.5;
    let vector = nexus.remember(Memory::new("same words", w)).unwrap();
    assert_eq!(
        [ns, text, vector]
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        3
    );
    assert!(![ns, text, vector].contains(&a));
    assert_eq!(nexus.len(), 5);
    nexus.flush().unwrap();
    drop(nexus);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    assert_eq!(
        nexus
            .remember(Memory::new("same words", v.clone()))
            .unwrap(),
        a,
        "dedup holds for flushed memories after a restart"
    );
    nexus.forget(a).unwrap();
    let b = nexus
        .remember(Memory::new("same words", v.clone()))
        .unwrap();
    assert!(b > a, "a forgotten memory is remembered anew");
    drop(nexus);
    let nexus = Nexus::open(&path, options(&clock).dedup(false)).unwrap();
    let c = nexus.remember(Memory::new("same words", v)).unwrap();
    assert_ne!(c, b);
    assert_eq!(nexus.len(), 6);
}

/// Words the stemmer keeps as they are (no suffix it strips).
const VOCAB: [&str; 8] = ["kot", "mab", "zun", "pel", "rix", "dov", "fam", "gul"];

/// BM25 (k1 = 1.2, b = 0.75) over `docs`, computed from scratch.
fn brute_bm25(docs: &HashMap<u64, Vec<&str>>, query: &[&str]) -> Vec<(f64, u64)> {
    let n = docs.len() as f64;
    let avg = docs.values().map(Vec::len).sum::<usize>() as f64 / n;
    let mut terms: Vec<&str> = query.to_vec();
    terms.sort_unstable();
    terms.dedup();
    let mut out = Vec::new();
    for (&id, words) in docs {
        let mut s = 0.0;
        for t in &terms {
            let tf = words.iter().filter(|w| *w == t).count() as f64;
            if tf == 0.0 {
                continue;
            }
            let df = docs.values().filter(|d| d.contains(t)).count() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            s += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * words.len() as f64 / avg));
        }
        if s > 0.0 {
            out.push((s, id));
        }
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    out
}

#[test]
fn keyword_recall_ranks_by_bm25_across_segments_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let clock = ManualClock::new(T0);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut docs: HashMap<u64, Vec<&str>> = HashMap::new();
    // 180 memories with flush_rows 50: three segments and a tail.
    for i in 0..180 {
        let words: Vec<&str> = (0..rng.random_range(1..10))
            .map(|_| VOCAB[rng.random_range(0..VOCAB.len())])
            .collect();
        let ns = if i % 3 == 0 { "odd" } else { "even" };
        let id = nexus
            .remember(Memory::new(words.join(" "), random_vector(&mut rng)).namespace(ns))
            .unwrap();
        docs.insert(id, words);
        if i % 50 == 49 {
            nexus.flush().unwrap();
        }
    }
    let check = |nexus: &Nexus, docs: &HashMap<u64, Vec<&str>>, rng: &mut ChaCha8Rng| {
        for _ in 0..30 {
            let q: Vec<&str> = (0..rng.random_range(1..3))
                .map(|_| VOCAB[rng.random_range(0..VOCAB.len())])
                .collect();
            let want = brute_bm25(docs, &q);
            let got = nexus.recall(&Query::text(q.join(" ")).k(10)).unwrap();
            assert_eq!(got.len(), want.len().min(10));
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (f64::from(g.score) - w.0).abs() < 1e-3 * w.0.max(1.0),
                    "score {} vs brute force {}",
                    g.score,
                    w.0
                );
            }
        }
    };
    check(&nexus, &docs, &mut rng);
    // Namespaces and filters apply to the keyword side too.
    let hits = nexus
        .recall(&Query::text("kot mab zun").namespace("odd").k(50))
        .unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h.memory.namespace_name() == "odd"));
    // Forgotten memories leave keyword recall; after compaction the statistics are exact
    // again (before it, forgotten rows still count in document frequencies).
    let gone: Vec<u64> = docs.keys().copied().filter(|id| id % 4 == 0).collect();
    for id in gone {
        nexus.forget(id).unwrap();
        docs.remove(&id);
    }
    for h in nexus.recall(&Query::text("kot").k(200)).unwrap() {
        assert!(docs.contains_key(&h.id));
    }
    nexus.compact().unwrap();
    check(&nexus, &docs, &mut rng);
    // Stored as attachments: a reopened store answers without re-tokenizing.
    drop(nexus);
    let nexus = Nexus::open(&path, options(&clock)).unwrap();
    let report = nexus.verify().unwrap();
    assert_eq!(
        report.attachments,
        2 * report.segments,
        "rows + terms per segment"
    );
    check(&nexus, &docs, &mut rng);
    assert!(nexus.recall(&Query::text("the of and")).unwrap().is_empty());
}

#[test]
fn hybrid_recall_finds_keyword_only_matches_and_fuses_both_sides() {
    let clock = ManualClock::new(T0);
    let nexus = Nexus::in_memory(options(&clock)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let q = random_vector(&mut rng);
    let near = |rng: &mut ChaCha8Rng, d: f32| -> Vec<f32> {
        q.iter().map(|x| x + rng.random_range(-d..d)).collect()
    };
    let mut filler = Vec::new();
    for i in 0..200 {
        filler.push(
            nexus
                .remember(Memory::new(
                    format!("note number {i} about weather"),
                    random_vector(&mut rng),
                ))
                .unwrap(),
        );
    }
    // Strong on both sides: near the query and says the keyword.
    let both = nexus
        .remember(Memory::new(
            "the invoice from Acme is overdue",
            near(&mut rng, 0.15),
        ))
        .unwrap();
    // Vector only: nearest of all, no keyword.
    let vector_only = nexus
        .remember(Memory::new("a reminder about lunch", near(&mut rng, 0.01)))
        .unwrap();
    // Keyword only: far from the query.
    let far: Vec<f32> = q.iter().map(|x| -x).collect();
    let keyword_only = nexus
        .remember(Memory::new("Acme invoice number 4471", far))
        .unwrap();
    nexus.flush().unwrap();

    // Vector recall misses the keyword-only memory; keyword recall finds it.
    let by_vector = ids(&nexus.recall(&Query::new(q.clone()).k(20)).unwrap());
    assert!(!by_vector.contains(&keyword_only));
    let by_text = ids(&nexus.recall(&Query::text("Acme invoice").k(5)).unwrap());
    assert!(by_text.contains(&keyword_only) && by_text.contains(&both));
    assert!(!by_text.contains(&vector_only));

    // Fusion: the memory strong on both sides comes first, and both single-side winners
    // are in the fused top 3.
    let hybrid = Query::new(q.clone()).keywords("Acme invoice").k(3);
    let fused = ids(&nexus.recall(&hybrid).unwrap());
    assert_eq!(fused[0], both);
    assert!(fused.contains(&vector_only) && fused.contains(&keyword_only));
    let weighted = ids(&nexus
        .recall(
            &hybrid
                .clone()
                .fusion(Fusion::Weighted { vector_weight: 0.5 }),
        )
        .unwrap());
    assert_eq!(weighted[0], both);
    // Reciprocal-rank scores: 1/(60 + rank) summed over the sides.
    let top = &nexus.recall(&hybrid).unwrap()[0];
    let v_rank = by_vector.iter().position(|&id| id == both).unwrap() + 1;
    let t_rank = by_text.iter().position(|&id| id == both).unwrap() + 1;
    let want = 1.0 / (60.0 + v_rank as f32) + 1.0 / (60.0 + t_rank as f32);
    assert!((top.score - want).abs() < 1e-6, "{} vs {want}", top.score);
    // Filters apply to both sides.
    let none = nexus.recall(&hybrid.clone().namespace("nobody")).unwrap();
    assert!(none.is_empty());
}

#[test]
fn metrics_count_recalls_remembers_and_flushes() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new(T0);
        let nexus = Nexus::in_memory(options(&clock)).unwrap();
        let ids = nexus
            .remember_batch((0..3).map(|i| Memory::new(format!("m{i}"), vec![i as f32 + 1.0; DIM])))
            .unwrap();
        nexus.forget(ids[0]).unwrap();
        let q = Query::new(vec![1.0; DIM]);
        nexus.recall(&q).unwrap();
        nexus.recall(&q).unwrap();
        nexus.flush().unwrap();
    });
    let mut counters = HashMap::new();
    let mut histograms = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let name = key.key().name().to_owned();
        match value {
            metrics_util::debugging::DebugValue::Counter(n) => {
                counters.insert(name, n);
            }
            metrics_util::debugging::DebugValue::Histogram(h) => {
                histograms.insert(name, h.len());
            }
            metrics_util::debugging::DebugValue::Gauge(_) => {}
        }
    }
    assert_eq!(counters.get("nexus_remembered_total"), Some(&3));
    assert_eq!(counters.get("nexus_forgotten_total"), Some(&1));
    assert_eq!(counters.get("nexus_recall_cache_hits_total"), Some(&1));
    assert_eq!(counters.get("nexus_recall_cache_misses_total"), Some(&1));
    assert_eq!(counters.get("nexus_flushes_total"), Some(&1));
    assert_eq!(histograms.get("nexus_recall_seconds"), Some(&1));
    assert_eq!(histograms.get("nexus_remember_seconds"), Some(&1));
}

#[test]
fn concurrent_writers_agree_on_ids_for_the_same_content_and_key() {
    let clock = ManualClock::new(T0);
    let nexus = std::sync::Arc::new(Nexus::in_memory(options(&clock)).unwrap());
    let vector =
        |i: usize| -> Vec<f32> { (0..DIM).map(|j| ((i * 7 + j) % 11) as f32 + 1.0).collect() };
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let nexus = std::sync::Arc::clone(&nexus);
            std::thread::spawn(move || {
                let mut content = Vec::new();
                let mut keyed = Vec::new();
                for i in 0..120 {
                    // Same content from every thread, in a different order per thread.
                    let i = (i * (t + 1) * 7) % 120;
                    content.push((
                        i,
                        nexus
                            .remember(Memory::new(format!("fact {i}"), vector(i)))
                            .unwrap(),
                    ));
                    let k = i % 30;
                    let m = Memory::new(format!("thread {t} says {i}"), vector(i + 1000))
                        .key(format!("k{k}"));
                    keyed.push((k, nexus.remember(m).unwrap()));
                }
                (content, keyed)
            })
        })
        .collect();
    let mut by_content: HashMap<usize, u64> = HashMap::new();
    let mut by_key: HashMap<usize, u64> = HashMap::new();
    for t in threads {
        let (content, keyed) = t.join().unwrap();
        for (i, id) in content {
            assert_eq!(
                *by_content.entry(i).or_insert(id),
                id,
                "fact {i} got two ids"
            );
        }
        for (k, id) in keyed {
            assert_eq!(*by_key.entry(k).or_insert(id), id, "key k{k} got two ids");
        }
    }
    assert_eq!(nexus.len(), 120 + 30);
    nexus.flush().unwrap();
    for (k, id) in by_key {
        let m = nexus.get(id).unwrap().unwrap();
        assert_eq!(m.key_name(), Some(format!("k{k}").as_str()));
    }
}
