//! A random workload of commits, flushes, compactions and attachments, and its model (a
//! BTreeMap of records; attachments are checked to be whole copies of what was attached).

#![allow(dead_code)]

use std::collections::BTreeMap;

use nexus_storage::{Batch, Durability, Record, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub(crate) const DIM: usize = 4;
pub(crate) const CODE: usize = 2;

/// A record's contents: (vector, code, meta).
pub(crate) type Contents = (Vec<f32>, Vec<u8>, Vec<u8>);

/// id → contents.
pub(crate) type Model = BTreeMap<u64, Contents>;

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Commit(Vec<(u64, Option<Contents>)>, Durability),
    Flush,
    Compact,
    /// Attach `attachment(k)` as the "idx" file of the newest segment (if any).
    Attach(u8),
}

/// The bytes of the `k`-th attachment: longer than a sector, so a torn one would show.
pub(crate) fn attachment(k: u8) -> Vec<u8> {
    vec![k; 700 + usize::from(k)]
}

/// Every "idx" attachment of every segment is a whole copy of some `attachment(k)`; returns
/// how many there are.
pub(crate) fn check_attachments(store: &Store) -> Result<usize, String> {
    let mut n = 0;
    for seg in store.segments() {
        if let Some(a) = store.attachment(seg.id(), "idx") {
            let b = a.as_bytes();
            let whole = b.first().is_some_and(|&k| b == attachment(k).as_slice());
            if !whole {
                return Err(format!(
                    "segment {}: attachment of {} bytes is not one that was attached",
                    seg.id(),
                    b.len()
                ));
            }
            n += 1;
        }
    }
    Ok(n)
}

impl Step {
    /// Whether every step up to and including this one is durable once it returns `Ok`.
    pub(crate) fn makes_durable(&self) -> bool {
        match self {
            Step::Commit(_, d) => *d != Durability::Never,
            Step::Flush => true,
            Step::Compact | Step::Attach(_) => false,
        }
    }
}

pub(crate) fn generate(seed: u64, steps: usize) -> Vec<Step> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..steps)
        .map(|_| match rng.random_range(0..11) {
            0 => Step::Flush,
            1 => Step::Compact,
            2 => Step::Attach(rng.random()),
            _ => {
                let n = rng.random_range(1..4);
                let ops = (0..n)
                    .map(|_| {
                        let id = rng.random_range(0..24u64);
                        if rng.random_bool(0.25) {
                            (id, None)
                        } else {
                            let v = (0..DIM).map(|_| rng.random_range(-1.0..1.0f32)).collect();
                            let c = (0..CODE).map(|_| rng.random()).collect();
                            let m_len = rng.random_range(0..12);
                            let m = (0..m_len).map(|_| rng.random()).collect();
                            (id, Some((v, c, m)))
                        }
                    })
                    .collect();
                let d = [Durability::Always, Durability::Grouped, Durability::Never]
                    [rng.random_range(0..3)];
                Step::Commit(ops, d)
            }
        })
        .collect()
}

/// `models[p]`: the contents after the first `p` steps.
pub(crate) fn models(steps: &[Step]) -> Vec<Model> {
    let mut m = Model::new();
    let mut out = vec![m.clone()];
    for s in steps {
        if let Step::Commit(ops, _) = s {
            for (id, put) in ops {
                match put {
                    Some(p) => m.insert(*id, p.clone()),
                    None => m.remove(id),
                };
            }
        }
        out.push(m.clone());
    }
    out
}

pub(crate) fn run(store: &Store, step: &Step) -> nexus_storage::Result<()> {
    match step {
        Step::Commit(ops, d) => {
            let mut b = Batch::new();
            for (id, put) in ops {
                match put {
                    Some((v, c, m)) => b.put(*id, v, c, m),
                    None => b.delete(*id),
                };
            }
            store.commit(b, *d)
        }
        Step::Flush => store.flush().map(|_| ()),
        Step::Compact => store.compact(),
        Step::Attach(k) => match store.segments().last() {
            Some(seg) => store.attach(seg.id(), "idx", &attachment(*k)),
            None => Ok(()),
        },
    }
}

pub(crate) fn contents(store: &Store) -> Model {
    store
        .records()
        .expect("records")
        .into_iter()
        .map(
            |Record {
                 id,
                 vector,
                 code,
                 meta,
             }| (id, (vector, code, meta)),
        )
        .collect()
}

/// The `p` in `lo..=hi` whose model equals `got`, if any.
pub(crate) fn matching_prefix(
    models: &[Model],
    got: &Model,
    lo: usize,
    hi: usize,
) -> Option<usize> {
    (lo..=hi.min(models.len() - 1)).find(|&p| &models[p] == got)
}
