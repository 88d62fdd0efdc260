//! The store on the real file system: locking, group commit across threads, attachments,
//! compaction, deferred deletion of mapped files.

use std::collections::BTreeMap;
use std::sync::Arc;

use nexus_storage::{Batch, Durability, Error, MemFs, Options, Store};

fn vec_of(id: u64, dim: usize) -> Vec<f32> {
    (0..dim).map(|j| (id as f32) + j as f32 / 8.0).collect()
}

#[test]
fn second_writer_is_refused_and_readers_share() {
    let dir = tempfile::tempdir().unwrap();
    let w = Store::open(dir.path(), Options::new(4)).unwrap();
    assert!(matches!(
        Store::open(dir.path(), Options::new(4)),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        Store::open(dir.path(), Options::new(4).read_only(true)),
        Err(Error::Locked { .. })
    ));
    drop(w);
    let r1 = Store::open(dir.path(), Options::new(4).read_only(true)).unwrap();
    let r2 = Store::open(dir.path(), Options::new(4).read_only(true)).unwrap();
    assert!(matches!(
        Store::open(dir.path(), Options::new(4)),
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        r1.commit(Batch::new(), Durability::Never),
        Err(Error::ReadOnly)
    ));
    drop((r1, r2));
    assert!(matches!(
        Store::open(dir.path(), Options::new(5)),
        Err(Error::ShapeMismatch { found_dim: 4, .. })
    ));
}

#[test]
fn grouped_commits_from_many_threads_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 16;
    {
        let store = Arc::new(Store::open(dir.path(), Options::new(dim)).unwrap());
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let store = store.clone();
                s.spawn(move || {
                    for k in 0..40u64 {
                        let id = t * 1000 + k;
                        let mut b = Batch::new();
                        b.put(id, &vec_of(id, dim), &[], &id.to_le_bytes());
                        let d = if k % 2 == 0 {
                            Durability::Grouped
                        } else {
                            Durability::Always
                        };
                        store.commit(b, d).unwrap();
                    }
                });
            }
        });
        store.flush().unwrap();
        let mut b = Batch::new();
        b.delete(3).delete(1005);
        store.commit(b, Durability::Grouped).unwrap();
    }
    let store = Store::open(dir.path(), Options::new(dim)).unwrap();
    let recs = store.records().unwrap();
    assert_eq!(recs.len(), 160 - 2);
    for r in recs {
        assert_eq!(r.vector, vec_of(r.id, dim));
        assert_eq!(r.meta, r.id.to_le_bytes());
    }
    assert!(store.segments().iter().all(|s| s.is_mapped()));
    store.verify().unwrap();
}

#[test]
fn compaction_drops_deleted_and_superseded_and_keeps_readers_mapped() {
    let fs = MemFs::new();
    let store = Store::open_with(Arc::new(fs.clone()), "/db", Options::new(2)).unwrap();
    let mut model = BTreeMap::new();
    for round in 0..4u64 {
        let mut b = Batch::new();
        for id in 0..10u64 {
            if (id + round) % 3 == 0 {
                b.delete(id);
                model.remove(&id);
            } else {
                let v = [id as f32, round as f32];
                b.put(id, &v, &[], &[round as u8]);
                model.insert(id, v.to_vec());
            }
        }
        store.commit(b, Durability::Never).unwrap();
        store.flush().unwrap();
    }
    let seg_id = store.segments()[0].id();
    store.attach(seg_id, "index", b"an index").unwrap();
    assert_eq!(
        store.attachment(seg_id, "index").unwrap().as_bytes(),
        b"an index"
    );
    store.attach(seg_id, "index", b"a better index").unwrap();
    assert!(matches!(
        store.attach(seg_id, "Bad Role", b""),
        Err(Error::InvalidRole { .. })
    ));

    let held = store.segments();
    let held_path = format!("/db/seg-{:08}.seg", held[0].id());
    store.compact().unwrap();
    let segs = store.segments();
    assert_eq!(segs.len(), 1);
    assert_eq!(
        segs[0].len(),
        model.len(),
        "tombstones and old versions dropped"
    );
    // A reader still holds the old segments: their files stay until it lets go.
    assert!(fs.file(held_path.as_ref()).is_some());
    assert_eq!(held[0].vector(0).len(), 2);
    drop(held);
    assert!(fs.file(held_path.as_ref()).is_none());
    assert!(
        store.attachment(seg_id, "index").is_none(),
        "attachments go with their segment"
    );

    let got: BTreeMap<u64, Vec<f32>> = store
        .records()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.vector))
        .collect();
    assert_eq!(got, model);
    drop(store);
    let store = Store::open_with(Arc::new(fs.clone()), "/db", Options::new(2)).unwrap();
    let got: BTreeMap<u64, Vec<f32>> = store
        .records()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.vector))
        .collect();
    assert_eq!(got, model);
    assert_eq!(store.verify().unwrap().segments, 1);
}

#[test]
fn attachments_survive_reopen_and_are_checked() {
    let fs = MemFs::new();
    let store = Store::open_with(Arc::new(fs.clone()), "/db", Options::new(1)).unwrap();
    let mut b = Batch::new();
    b.put(1, &[1.0], &[], &[]);
    store.commit(b, Durability::Never).unwrap();
    let seg = store.flush().unwrap().unwrap();
    store.attach(seg, "graph", &[7; 100]).unwrap();
    assert!(matches!(
        store.attach(seg + 100, "graph", &[]),
        Err(Error::UnknownSegment { .. })
    ));
    drop(store);
    let store = Store::open_with(Arc::new(fs.clone()), "/db", Options::new(1)).unwrap();
    assert_eq!(
        store.attachment(seg, "graph").unwrap().as_bytes(),
        &[7; 100]
    );
    assert_eq!(store.verify().unwrap().attachments, 1);
    let path = format!("/db/att-{:08}.bin", seg + 2);
    let mut bytes = fs.file(path.as_ref()).expect("attachment file");
    bytes[50] ^= 1;
    fs.set_file(path.as_ref(), bytes);
    drop(store);
    let store = Store::open_with(Arc::new(fs), "/db", Options::new(1)).unwrap();
    assert!(store.verify().unwrap_err().is_corruption());
}

#[test]
fn bad_shapes_are_refused() {
    let store =
        Store::open_with(Arc::new(MemFs::new()), "/db", Options::new(3).code_bytes(2)).unwrap();
    let mut b = Batch::new();
    b.put(1, &[1.0, 2.0], &[0, 0], &[]);
    assert!(matches!(
        store.commit(b, Durability::Never),
        Err(Error::DimensionMismatch {
            expected: 3,
            got: 2
        })
    ));
    let mut b = Batch::new();
    b.put(1, &[1.0, 2.0, 3.0], &[0], &[]);
    assert!(matches!(
        store.commit(b, Durability::Never),
        Err(Error::CodeLengthMismatch {
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        Store::open_with(
            Arc::new(MemFs::new()),
            "/x",
            Options::new(3).create_if_missing(false)
        ),
        Err(Error::NotFound { .. })
    ));
}

/// Merging the newest segments keeps every id's newest state (a model of puts and deletes
/// checked after each merge and after a reopen), keeps delete rows while an older segment may
/// hold the id, and drops them once the merge reaches the oldest segment.
#[test]
fn compact_newest_merges_a_suffix_without_resurrecting_deletes() {
    let fs = Arc::new(MemFs::new());
    let dim = 3;
    let store = Store::open_with(fs.clone(), "/db", Options::new(dim)).unwrap();
    let mut model: BTreeMap<u64, Option<Vec<f32>>> = BTreeMap::new();
    // Five segments: puts of 0..40, then overwrites and deletes of older ids.
    for round in 0..5u64 {
        let mut b = Batch::new();
        for id in round * 8..round * 8 + 8 {
            b.put(id, &vec_of(id + round, dim), &[], b"m");
            model.insert(id, Some(vec_of(id + round, dim)));
        }
        if round > 0 {
            let old = round * 3;
            b.delete(old);
            model.insert(old, None);
            let over = round * 2 + 1;
            b.put(over, &vec_of(over * 10, dim), &[], b"o");
            model.insert(over, Some(vec_of(over * 10, dim)));
        }
        store.commit(b, Durability::Never).unwrap();
        store.flush().unwrap();
    }
    let check = |store: &Store| {
        for (&id, want) in &model {
            let got = store.get(id).unwrap().map(|r| r.vector);
            assert_eq!(&got, want, "id {id}");
        }
    };
    assert_eq!(store.segments().len(), 5);
    assert_eq!(
        store.compact_newest(1).unwrap(),
        None,
        "one segment of several is left alone"
    );
    let merged = store.compact_newest(3).unwrap().expect("a merged segment");
    assert_eq!(store.segments().len(), 3);
    assert_eq!(store.segments().last().unwrap().id(), merged);
    // A delete of an id that lives in an older segment survives as a delete row.
    let last = store.segments().last().unwrap().clone();
    assert!((0..last.len()).any(|r| !last.is_live(r)));
    check(&store);
    drop(last);
    store.compact_newest(10).unwrap();
    assert_eq!(store.segments().len(), 1);
    let only = store.segments()[0].clone();
    assert!(
        (0..only.len()).all(|r| only.is_live(r)),
        "deletes dropped at the oldest"
    );
    drop(only);
    check(&store);
    store.verify().unwrap();
    drop(store);
    let store = Store::open_with(fs, "/db", Options::new(dim)).unwrap();
    check(&store);
}
