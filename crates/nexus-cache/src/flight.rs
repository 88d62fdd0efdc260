//! Single-flight: the first thread to miss a key computes its value while later threads that
//! miss the same key wait for that value instead of computing it again.

use parking_lot::{Condvar, Mutex};

#[derive(Debug)]
enum Outcome<V> {
    Running,
    Done(V),
    /// The loader panicked (or its thread unwound): waiters retry, one becomes the new leader.
    Abandoned,
}

/// One in-progress computation, shared between its leader and its waiters.
#[derive(Debug)]
pub(crate) struct Flight<V> {
    outcome: Mutex<Outcome<V>>,
    finished: Condvar,
}

impl<V: Clone> Flight<V> {
    pub(crate) fn new() -> Self {
        Self {
            outcome: Mutex::new(Outcome::Running),
            finished: Condvar::new(),
        }
    }

    /// Blocks until the leader finishes: its value, or `None` if it was abandoned.
    pub(crate) fn wait(&self) -> Option<V> {
        let mut outcome = self.outcome.lock();
        loop {
            match &*outcome {
                Outcome::Running => self.finished.wait(&mut outcome),
                Outcome::Done(v) => return Some(v.clone()),
                Outcome::Abandoned => return None,
            }
        }
    }

    pub(crate) fn complete(&self, value: V) {
        *self.outcome.lock() = Outcome::Done(value);
        self.finished.notify_all();
    }

    pub(crate) fn abandon(&self) {
        *self.outcome.lock() = Outcome::Abandoned;
        self.finished.notify_all();
    }
}
