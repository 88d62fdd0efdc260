//! Power loss: a crash image is taken before every mutating file-system call of a workload
//! (so at every sync point and every write between them) of commits, flushes, compactions and
//! attachments. Each image must open and hold the
//! model after some prefix of the steps that includes every step acknowledged as durable.

#[path = "support/workload.rs"]
mod workload;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nexus_storage::{MemFs, Options, Store};
use parking_lot::Mutex;
use workload::{CODE, DIM, check_attachments, contents, generate, matching_prefix, models, run};

fn options() -> Options {
    Options::new(DIM).code_bytes(CODE)
}

struct Image {
    fs: MemFs,
    /// The step in flight when the image was taken (`steps.len()`: after the last).
    in_flight: usize,
    /// Steps `..durable` were acknowledged durable.
    durable: usize,
}

/// Images that held at least one attachment (each checked to be whole).
static WITH_ATTACHMENTS: AtomicUsize = AtomicUsize::new(0);

/// Runs one workload, checks every image; returns how many images were checked.
fn check_workload(seed: u64, n_steps: usize) -> usize {
    let steps = generate(seed, n_steps);
    let models = models(&steps);
    let fs = MemFs::new();
    let images = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let durable = Arc::new(AtomicUsize::new(0));
    {
        let (fs2, images, in_flight, durable) = (
            fs.clone(),
            images.clone(),
            in_flight.clone(),
            durable.clone(),
        );
        fs.set_hook(move |call| {
            images.lock().push(Image {
                fs: fs2.crash_image(seed.wrapping_mul(1_000_003) ^ call),
                in_flight: in_flight.load(Ordering::SeqCst),
                durable: durable.load(Ordering::SeqCst),
            });
        });
    }
    let store = Store::open_with(Arc::new(fs.clone()), "/db", options()).expect("open");
    for (i, step) in steps.iter().enumerate() {
        in_flight.store(i, Ordering::SeqCst);
        run(&store, step).expect("no faults in this test");
        if step.makes_durable() {
            durable.store(i + 1, Ordering::SeqCst);
        }
    }
    assert_eq!(contents(&store), models[steps.len()]);
    fs.clear_hook();
    images.lock().push(Image {
        fs: fs.crash_image(seed),
        in_flight: steps.len(),
        durable: durable.load(Ordering::SeqCst),
    });
    drop(store);

    let images = std::mem::take(&mut *images.lock());
    for (k, img) in images.iter().enumerate() {
        let ctx = format!("seed {seed} image {k} (step {} in flight)", img.in_flight);
        let store = Store::open_with(Arc::new(img.fs.clone()), "/db", options())
            .unwrap_or_else(|e| panic!("{ctx}: open failed: {e}"));
        let got = contents(&store);
        let p =
            matching_prefix(&models, &got, img.durable, img.in_flight + 1).unwrap_or_else(|| {
                panic!(
                    "{ctx}: contents match no prefix in {}..={}",
                    img.durable,
                    img.in_flight + 1
                )
            });
        store
            .verify()
            .unwrap_or_else(|e| panic!("{ctx}: verify: {e}"));
        let n = check_attachments(&store).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        WITH_ATTACHMENTS.fetch_add(usize::from(n > 0), Ordering::Relaxed);
        // Recovery itself must be crash-safe: cut power right after it and reopen.
        let again = img.fs.crash_image(k as u64);
        drop(store);
        let store = Store::open_with(Arc::new(again), "/db", options())
            .unwrap_or_else(|e| panic!("{ctx}: reopen after recovery failed: {e}"));
        assert_eq!(
            contents(&store),
            models[p],
            "{ctx}: recovery was not durable"
        );
    }
    images.len()
}

#[test]
fn every_crash_image_recovers_a_durable_prefix() {
    let seeds: u64 = std::env::var("NEXUS_POWER_LOSS_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let mut total = 0;
    for seed in 0..seeds {
        total += check_workload(seed, 60);
    }
    let attached = WITH_ATTACHMENTS.load(Ordering::Relaxed);
    eprintln!(
        "power loss: {total} crash images checked over {seeds} workloads ({attached} held attachments)"
    );
    assert!(attached > 0, "the workloads never left an attachment");
    assert!(total > seeds as usize * 60);
}

#[test]
fn unsynced_dir_entries_can_vanish() {
    // The simulator itself: a created and fsynced file is lost without a directory fsync.
    use nexus_storage::Backend;
    let fs = MemFs::new();
    fs.create_dir_all("/d".as_ref()).unwrap();
    let f = fs.create("/d/x".as_ref()).unwrap();
    f.write_all(&[1; 1000]).unwrap();
    f.sync().unwrap();
    let lost = (0..32).any(|s| !fs.crash_image(s).exists("/d/x".as_ref()).unwrap());
    assert!(lost, "an unsynced create must sometimes be lost");
    fs.sync_dir("/d".as_ref()).unwrap();
    f.write_all(&[2; 1500]).unwrap();
    for s in 0..32 {
        let data = fs.crash_image(s).file("/d/x".as_ref()).unwrap();
        assert!(data.len() >= 1000 && data.len() <= 2500, "{}", data.len());
        assert!(
            data[..1000].iter().all(|&b| b == 1),
            "synced bytes must survive"
        );
        assert!(data.len() == 2500 || data.len().is_multiple_of(512) || data.len() == 1000);
    }
}
