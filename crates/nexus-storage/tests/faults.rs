//! Fault injection: fail every I/O call index of a workload in turn (plain failure, short
//! write, fsync error). The store reports the error and refuses further writes, and after a
//! reopen — with or without a power cut — its contents equal the model of acknowledged steps
//! (the failed step all or nothing).

#[path = "support/workload.rs"]
mod workload;

use std::sync::Arc;

use nexus_storage::testing::{Fault, FaultFs};
use nexus_storage::{Batch, Durability, Error, MemFs, Options, Store};
use workload::{CODE, DIM, check_attachments, contents, generate, matching_prefix, models, run};

fn options() -> Options {
    Options::new(DIM).code_bytes(CODE)
}

#[test]
fn every_failed_call_is_reported_and_recovered() {
    // One workload by default; `NEXUS_FAULT_SEEDS=N` runs N of them.
    let seeds: u64 = std::env::var("NEXUS_FAULT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (mut cases, mut reported) = (0, 0);
    for seed in 42..42 + seeds {
        let (c, r) = check_workload(seed);
        cases += c;
        reported += r;
    }
    eprintln!(
        "fault injection: {cases} cases over {seeds} workloads (every call x 3 faults), {reported} reported an error"
    );
    assert!(reported > cases / 2);
}

/// Fails every call of one workload in turn with each fault; returns (cases, errors reported).
fn check_workload(seed: u64) -> (usize, usize) {
    let steps = generate(seed, 40);
    let models = models(&steps);

    // Count the calls of a clean run.
    let counter = FaultFs::new(Arc::new(MemFs::new()), u64::MAX, Fault::Fail);
    {
        let store = Store::open_with(Arc::new(counter.clone()), "/db", options()).unwrap();
        for s in &steps {
            run(&store, s).unwrap();
        }
    }
    let total = counter.calls();
    assert!(total > 50, "{total}");

    let mut cases = 0;
    let mut reported = 0;
    for fault in [Fault::Fail, Fault::ShortWrite, Fault::SyncError] {
        for n in 0..total {
            let mem = MemFs::new();
            let ffs = FaultFs::new(Arc::new(mem.clone()), n, fault);
            let ctx = format!("seed {seed}: {fault:?} at call {n}");
            let (mut acked, mut durable, mut failed) = (0, 0, false);
            match Store::open_with(Arc::new(ffs.clone()), "/db", options()) {
                Err(_) => failed = true,
                Ok(store) => {
                    for (i, s) in steps.iter().enumerate() {
                        match run(&store, s) {
                            Ok(()) => {
                                acked = i + 1;
                                if s.makes_durable() {
                                    durable = i + 1;
                                }
                            }
                            Err(e) => {
                                assert!(
                                    matches!(e, Error::Io { .. } | Error::Poisoned),
                                    "{ctx}: {e}"
                                );
                                failed = true;
                                // No write is retried after a failure.
                                let mut b = Batch::new();
                                b.delete(0);
                                assert!(
                                    matches!(
                                        store.commit(b, Durability::Never),
                                        Err(Error::Poisoned)
                                    ),
                                    "{ctx}: store accepted a write after a failure"
                                );
                                assert!(matches!(store.flush(), Err(Error::Poisoned)), "{ctx}");
                                break;
                            }
                        }
                    }
                }
            }
            cases += 1;
            reported += usize::from(failed);
            let hi = if failed { acked + 1 } else { acked };
            // The process lives on: everything written is still there.
            let store = Store::open_with(Arc::new(mem.clone()), "/db", options())
                .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
            let got = contents(&store);
            assert!(
                matching_prefix(&models, &got, acked, hi).is_some(),
                "{ctx}: contents are not the acknowledged prefix ({acked} acked)"
            );
            check_attachments(&store).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            drop(store);
            // Or the power is cut right after the failure.
            let image = mem.crash_image(n);
            let store = Store::open_with(Arc::new(image), "/db", options())
                .unwrap_or_else(|e| panic!("{ctx}: reopen after power cut failed: {e}"));
            let got = contents(&store);
            assert!(
                matching_prefix(&models, &got, durable, hi).is_some(),
                "{ctx}: contents after power cut are not a durable prefix"
            );
        }
    }
    (cases, reported)
}
