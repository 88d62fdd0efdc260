//! The engine's process-crash harness, shared by `tests/crash.rs` (a short run) and
//! `examples/engine_crash.rs` (`cargo xtask crash --engine --cycles N`).
//!
//! The parent re-executes its own binary in child mode (an environment variable). The child
//! opens the store with a background worker that flushes and compacts often, remembers from
//! three threads under `Durability::Grouped` and prints `ack <id> <key>` only after
//! `remember` returned; one thread also forgets every fifth memory it made, printing
//! `forgetting <id>` before and `forgot <id>` after `forget` returned (a memory whose forget
//! was begun but not acknowledged may be present or not). The parent kills it with SIGKILL at a random moment
//! (in one cycle of five while it opens and recovers), reopens the store and checks that every
//! acknowledged memory is there with its text, that no acknowledged forget came undone, and
//! (every few cycles) that `verify` passes.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nexus_engine::{Durability, IndexOptions, Memory, Nexus, Options};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Set in the child: `<store dir>|<first key>`.
pub const CHILD_ENV: &str = "NEXUS_ENGINE_CRASH_CHILD";
const DIM: usize = 16;
const THREADS: u64 = 3;

fn memory(key: u64) -> Memory {
    let v: Vec<f32> = (0..DIM)
        .map(|j| ((key % 9973) as f32) * 0.25 + j as f32 + 1.0)
        .collect();
    Memory::new(format!("memory {key}"), v).namespace(format!("ns{}", key % 7))
}

fn options() -> Options {
    let mut index = IndexOptions::default();
    index.exact_below = 64;
    index.ef_construction = 32;
    Options::new()
        .dimension(DIM)
        .index(index)
        .durability(Durability::Grouped)
        .flush_rows(50)
        .flush_interval(Duration::from_millis(20))
        .max_segments(3)
}

/// Child mode: remember and forget until killed (or a generous cap). Never returns.
pub fn child_main(spec: &str) -> ! {
    let (dir, start) = spec.split_once('|').expect("spec is dir|start");
    let start: u64 = start.parse().expect("start key");
    let nexus = Arc::new(Nexus::open(dir, options()).expect("child open"));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let nexus = nexus.clone();
            s.spawn(move || {
                let mut mine = Vec::new();
                for k in 0..100_000u64 {
                    let key = start + k * THREADS + t;
                    let id = nexus.remember(memory(key)).expect("remember");
                    let mut out = std::io::stdout().lock();
                    out.write_all(format!("ack {id} {key}\n").as_bytes())
                        .expect("stdout");
                    out.flush().expect("stdout");
                    drop(out);
                    mine.push(id);
                    if t == 0 && k % 5 == 4 {
                        let victim = mine[mine.len() / 2];
                        // Announced first: a kill between the forget and its ack leaves
                        // either state, and the parent must accept both.
                        let mut out = std::io::stdout().lock();
                        out.write_all(format!("forgetting {victim}\n").as_bytes())
                            .expect("stdout");
                        out.flush().expect("stdout");
                        drop(out);
                        if nexus.forget(victim).is_ok() {
                            let mut out = std::io::stdout().lock();
                            out.write_all(format!("forgot {victim}\n").as_bytes())
                                .expect("stdout");
                            out.flush().expect("stdout");
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
pub struct Outcome {
    pub cycles: usize,
    pub acked: usize,
    pub forgotten: usize,
    /// Cycles whose child acknowledged at least one memory before it was killed.
    pub cycles_with_acks: usize,
    pub lost: usize,
    pub failed_opens: usize,
}

/// Runs `cycles` kill-and-reopen cycles on a store in `dir`, re-executing `exe` with `args`
/// (and [`CHILD_ENV`] set) as the child.
pub fn run_parent(dir: &Path, cycles: usize, exe: &Path, args: &[&str], seed: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut forgotten: BTreeSet<u64> = BTreeSet::new();
    // Forgets begun but maybe not acknowledged: the memory may be there or not.
    let mut forgetting: BTreeSet<u64> = BTreeSet::new();
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
            std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        } else {
            let _ = first_rx.recv_timeout(Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        }
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        let text = reader.join().expect("reader thread");
        // Only complete lines: a line cut by the kill was not fully acknowledged.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        let before = acked.len();
        for line in complete.lines() {
            let mut words = line.split(' ');
            match (words.next(), words.next(), words.next()) {
                (Some("ack"), Some(id), Some(key)) => {
                    if let (Ok(id), Ok(key)) = (id.parse(), key.parse()) {
                        acked.insert(id, key);
                    }
                }
                (Some("forgetting"), Some(id), None) => {
                    if let Ok(id) = id.parse() {
                        forgetting.insert(id);
                    }
                }
                (Some("forgot"), Some(id), None) => {
                    if let Ok(id) = id.parse() {
                        forgotten.insert(id);
                    }
                }
                _ => {}
            }
        }
        out.cycles_with_acks += usize::from(acked.len() > before);
        out.cycles += 1;
        let nexus = match Nexus::open(dir, options().background(false)) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("crash: cycle {cycle}: open failed: {e}");
                out.failed_opens += 1;
                continue;
            }
        };
        for (&id, &key) in &acked {
            match nexus.get(id) {
                Ok(Some(m)) if forgotten.contains(&id) => {
                    eprintln!(
                        "crash: cycle {cycle}: forgotten memory {id} ({}) is back",
                        m.text()
                    );
                    out.lost += 1;
                }
                Ok(Some(m)) if m.text() != format!("memory {key}") => {
                    eprintln!("crash: cycle {cycle}: memory {id} has the wrong text");
                    out.lost += 1;
                }
                Ok(None) if !forgotten.contains(&id) && !forgetting.contains(&id) => {
                    eprintln!("crash: cycle {cycle}: acknowledged memory {id} lost");
                    out.lost += 1;
                }
                Err(e) => {
                    eprintln!("crash: cycle {cycle}: get {id}: {e}");
                    out.lost += 1;
                }
                _ => {}
            }
        }
        if (cycle % 5 == 4 || cycle + 1 == cycles)
            && let Err(e) = nexus.verify()
        {
            eprintln!("crash: cycle {cycle}: verify: {e}");
            out.failed_opens += 1;
        }
    }
    out.acked = acked.len();
    out.forgotten = forgotten.len();
    out
}
