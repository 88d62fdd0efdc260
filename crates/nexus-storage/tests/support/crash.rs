//! The process-crash harness, shared by `tests/crash.rs` (a short run) and
//! `examples/crash.rs` (`cargo xtask crash --cycles N`).
//!
//! The parent re-executes its own binary in child mode (an environment variable). The child
//! writes records from three threads (one under `Durability::Always`, two under
//! `Durability::Grouped`; the first also flushes every 10 commits and compacts when there are
//! more than 4 segments, so kills land in flushes and compactions too) and prints `ack <id>` only
//! after a commit returned `Ok`. The parent kills it with SIGKILL at a random moment (in one
//! cycle of five while it opens and recovers, otherwise 0-250 ms after its first ack), reopens
//! the store and checks that every acknowledged record is there with the right bytes.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nexus_storage::{Batch, Durability, Options, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Set in the child: `<store dir>|<first id>`.
pub(crate) const CHILD_ENV: &str = "NEXUS_STORAGE_CRASH_CHILD";
const DIM: usize = 32;
const THREADS: u64 = 3;

fn vector(id: u64) -> Vec<f32> {
    (0..DIM)
        .map(|j| ((id % 9973) as f32) * 0.25 + j as f32)
        .collect()
}

fn meta(id: u64) -> Vec<u8> {
    format!("record {id}").into_bytes()
}

fn options() -> Options {
    Options::new(DIM)
}

/// Child mode: write and acknowledge until killed (or a generous cap). Never returns.
pub(crate) fn child_main(spec: &str) -> ! {
    let (dir, start) = spec.split_once('|').expect("spec is dir|start");
    let start: u64 = start.parse().expect("start id");
    let store = Arc::new(Store::open(dir, options()).expect("child open"));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = store.clone();
            s.spawn(move || {
                let durability = if t == 0 {
                    Durability::Always
                } else {
                    Durability::Grouped
                };
                for k in 0..100_000u64 {
                    let id = start + k * THREADS + t;
                    let mut b = Batch::new();
                    b.put(id, &vector(id), &[], &meta(id));
                    store.commit(b, durability).expect("commit");
                    let mut out = std::io::stdout().lock();
                    out.write_all(format!("ack {id}\n").as_bytes())
                        .expect("stdout");
                    out.flush().expect("stdout");
                    drop(out);
                    if t == 0 && k % 10 == 9 {
                        store.flush().expect("flush");
                        if store.segments().len() > 4 {
                            store.compact().expect("compact");
                        }
                    }
                }
            });
        }
    });
    std::process::exit(0)
}

/// What a run found.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) cycles: usize,
    pub(crate) acked: usize,
    /// Cycles whose child acknowledged at least one record before it was killed.
    pub(crate) cycles_with_acks: usize,
    pub(crate) lost: usize,
    pub(crate) failed_opens: usize,
}

/// Runs `cycles` kill-and-reopen cycles on a store in `dir`, re-executing `exe` with
/// `args` (and [`CHILD_ENV`] set) as the child.
pub(crate) fn run_parent(
    dir: &Path,
    cycles: usize,
    exe: &Path,
    args: &[&str],
    seed: u64,
) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut out = Outcome::default();
    for cycle in 0..cycles {
        let start = (cycle as u64 + 1) << 32;
        let mut child = Command::new(exe)
            .args(args)
            .env(CHILD_ENV, format!("{}|{start}", dir.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child");
        // The child's output, read on a thread that reports the first byte (the first ack).
        let mut stdout = child.stdout.take().expect("piped");
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if text.is_empty() {
                    let _ = first_tx.send(());
                }
                text.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&text).into_owned()
        });
        if rng.random_bool(0.2) {
            // Kill while the child starts up and recovers (its open flushes and swaps).
            std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        } else {
            // Kill while it writes: some time after its first acknowledgement.
            let _ = first_rx.recv_timeout(Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(rng.random_range(0..250)));
        }
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        let text = reader.join().expect("reader thread");
        // Only complete lines: a line cut by the kill was not fully acknowledged.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        let before = acked.len();
        for line in complete.lines() {
            if let Some(id) = line.strip_prefix("ack ").and_then(|s| s.parse().ok()) {
                acked.insert(id);
            }
        }
        out.cycles_with_acks += usize::from(acked.len() > before);
        out.cycles += 1;
        let store = match Store::open(dir, options()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("crash: cycle {cycle}: open failed: {e}");
                out.failed_opens += 1;
                continue;
            }
        };
        let records = match store.records() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("crash: cycle {cycle}: reading failed: {e}");
                out.failed_opens += 1;
                continue;
            }
        };
        let mut present = BTreeSet::new();
        for r in records {
            if r.vector != vector(r.id) || r.meta != meta(r.id) {
                eprintln!("crash: cycle {cycle}: record {} has wrong bytes", r.id);
                out.lost += 1;
            }
            present.insert(r.id);
        }
        let missing = acked.difference(&present).count();
        if missing > 0 {
            eprintln!("crash: cycle {cycle}: {missing} acknowledged records missing");
        }
        out.lost += missing;
        if cycle % 25 == 24
            && let Err(e) = store.verify()
        {
            eprintln!("crash: cycle {cycle}: verify: {e}");
            out.failed_opens += 1;
        }
    }
    out.acked = acked.len();
    out
}
