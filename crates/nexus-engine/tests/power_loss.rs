//! Power loss at the engine level: a workload of remember / update / forget / flush / compact runs on
//! the storage layer's in-memory file system, and a crash image is taken before every
//! mutating file-system call. Every image must open, hold every memory acknowledged before
//! the crash (unless a later, possibly in-flight step forgot it) with every acknowledged
//! update, never hold one whose forget was acknowledged, and pass `verify`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nexus_engine::storage::MemFs;
use nexus_engine::{Durability, IndexOptions, Memory, Nexus, Options, Patch};
use support_images::Images;

const DIM: usize = 8;

mod support_images {
    /// Crash images with the step counters at the moment each was taken.
    pub(crate) type Images = std::sync::Mutex<Vec<(nexus_engine::storage::MemFs, usize, usize)>>;
}

#[derive(Debug, Clone)]
enum Step {
    Remember(Vec<u64>),
    Forget(usize),
    Update(usize),
    Flush,
    Compact,
}

fn memory(key: u64) -> Memory {
    let v: Vec<f32> = (0..DIM)
        .map(|j| ((key * 7 + j as u64) % 11) as f32 + 0.5)
        .collect();
    Memory::new(format!("memory {key}"), v).namespace(format!("ns{}", key % 3))
}

fn options() -> Options {
    let mut index = IndexOptions::default();
    index.exact_below = 8;
    Options::new()
        .dimension(DIM)
        .index(index)
        .background(false)
        .flush_rows(1000)
        .durability(Durability::Grouped)
}

fn steps() -> Vec<Step> {
    let mut out = Vec::new();
    let mut key = 0;
    for round in 0..4 {
        for _ in 0..3 {
            out.push(Step::Remember((key..key + 4).collect()));
            key += 4;
        }
        out.push(Step::Forget(round * 5 + 1));
        // One memory of an earlier round (in a segment by now), one of this round (the tail).
        out.push(Step::Update(round * 12 + 2));
        if round > 0 {
            out.push(Step::Update((round - 1) * 12 + 3));
        }
        out.push(Step::Flush);
        if round % 2 == 1 {
            out.push(Step::Compact);
        }
    }
    out
}

#[test]
fn every_crash_image_keeps_every_acknowledged_memory() {
    let steps = steps();
    let fs = MemFs::new();
    let images: Arc<Images> = Arc::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    {
        let (fs2, images, in_flight, done) =
            (fs.clone(), images.clone(), in_flight.clone(), done.clone());
        fs.set_hook(move |call| {
            images.lock().unwrap().push((
                fs2.crash_image(call * 2_654_435_761),
                in_flight.load(Ordering::SeqCst),
                done.load(Ordering::SeqCst),
            ));
        });
    }
    let nexus = Nexus::open_on(Arc::new(fs.clone()), "/db", options(), false).unwrap();
    // key -> id, and the step at which each id was remembered / forgotten.
    let mut ids: BTreeMap<u64, u64> = BTreeMap::new();
    let mut remembered_at: BTreeMap<u64, usize> = BTreeMap::new();
    let mut forgotten_at: BTreeMap<u64, usize> = BTreeMap::new();
    let mut updated_at: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, step) in steps.iter().enumerate() {
        in_flight.store(i, Ordering::SeqCst);
        match step {
            Step::Remember(keys) => {
                let got = nexus
                    .remember_batch(keys.iter().map(|&k| memory(k)))
                    .unwrap();
                for (&k, id) in keys.iter().zip(got) {
                    ids.insert(k, id);
                    remembered_at.insert(id, i);
                }
            }
            Step::Forget(key) => {
                let id = ids[&(*key as u64)];
                nexus.forget(id).unwrap();
                forgotten_at.insert(id, i);
            }
            Step::Update(key) => {
                let id = ids[&(*key as u64)];
                nexus
                    .update(id, &Patch::new().importance(0.9).add_tag("updated"))
                    .unwrap();
                updated_at.insert(id, i);
            }
            Step::Flush => nexus.flush().unwrap(),
            Step::Compact => nexus.compact().unwrap(),
        }
        done.store(i + 1, Ordering::SeqCst);
    }
    drop(nexus);
    fs.clear_hook();
    let images = std::mem::take(&mut *images.lock().unwrap());
    assert!(images.len() > 50, "only {} crash points", images.len());
    eprintln!("{} crash images over {} steps", images.len(), steps.len());
    let key_of: BTreeMap<u64, u64> = ids.iter().map(|(&k, &id)| (id, k)).collect();
    for (n, (image, in_flight, done)) in images.into_iter().enumerate() {
        let reopen = Options::new().dimension(DIM).background(false);
        let nexus = Nexus::open_on(Arc::new(image), "/db", reopen, false)
            .unwrap_or_else(|e| panic!("image {n} (step {in_flight}) does not open: {e}"));
        for (&id, &at) in &remembered_at {
            let got = nexus.get(id).unwrap();
            let forgot = forgotten_at.get(&id).copied();
            if at < done && forgot.is_none_or(|f| f > in_flight) {
                let m = got
                    .as_ref()
                    .unwrap_or_else(|| panic!("image {n}: acknowledged memory {id} lost"));
                assert_eq!(m.text(), format!("memory {}", key_of[&id]));
                if updated_at.get(&id).is_some_and(|&u| u < done) {
                    assert_eq!(m.importance_value(), 0.9, "image {n}: update of {id} lost");
                    assert_eq!(m.tag_list(), ["updated"]);
                } else if updated_at.get(&id).is_none_or(|&u| u > in_flight) {
                    assert_eq!(m.importance_value(), 0.5, "image {n}: update of {id} early");
                }
            }
            if forgot.is_some_and(|f| f < done) {
                assert!(got.is_none(), "image {n}: forgotten memory {id} is back");
            }
        }
        nexus
            .verify()
            .unwrap_or_else(|e| panic!("image {n} (step {in_flight}): verify: {e}"));
        // New ids never collide with acknowledged ones.
        let fresh = nexus.remember(memory(999)).unwrap();
        assert!(!remembered_at.contains_key(&fresh) || remembered_at[&fresh] >= done);
    }
}
