//! A backend wrapper that fails one chosen call.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Backend, FileWriter, LockGuard, LockMode, Mapping};

/// What goes wrong at the chosen call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The call fails without effect.
    Fail,
    /// A write stores the first half of its buffer, then fails (other calls: [`Fault::Fail`]).
    ShortWrite,
    /// An fsync (file or directory) fails after the data reached the inner backend but without
    /// making it durable (other calls: [`Fault::Fail`]).
    SyncError,
}

/// Wraps a backend and injects `fault` at the `n`-th call (counting every call, reads
/// included, from 0). Clones share the counter.
#[derive(Clone)]
pub struct FaultFs {
    inner: Arc<dyn Backend>,
    calls: Arc<AtomicU64>,
    fail_at: u64,
    fault: Fault,
}

impl fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultFs")
            .field("calls", &self.calls())
            .field("fail_at", &self.fail_at)
            .field("fault", &self.fault)
            .finish()
    }
}

fn injected() -> io::Error {
    io::Error::other("injected fault")
}

impl FaultFs {
    /// Injects `fault` at call `fail_at` (`u64::MAX`: never, to count the calls of a workload).
    pub fn new(inner: Arc<dyn Backend>, fail_at: u64, fault: Fault) -> Self {
        FaultFs {
            inner,
            calls: Arc::default(),
            fail_at,
            fault,
        }
    }

    /// How many calls were made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Counts a call; returns the fault if this is the chosen one.
    fn tick(&self) -> Option<Fault> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        (n == self.fail_at).then_some(self.fault)
    }

    fn check(&self) -> io::Result<()> {
        match self.tick() {
            Some(_) => Err(injected()),
            None => Ok(()),
        }
    }
}

#[derive(Debug)]
struct FaultFile {
    fs: FaultFs,
    inner: Arc<dyn FileWriter>,
}

impl FileWriter for FaultFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self.fs.tick() {
            None => self.inner.write_all(buf),
            Some(Fault::ShortWrite) => {
                self.inner.write_all(&buf[..buf.len() / 2])?;
                Err(injected())
            }
            Some(_) => Err(injected()),
        }
    }

    fn sync(&self) -> io::Result<()> {
        self.fs.check()?;
        self.inner.sync()
    }
}

impl Backend for FaultFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.check()?;
        self.inner.create_dir_all(dir)
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn FileWriter>> {
        self.check()?;
        let inner = self.inner.create(path)?;
        Ok(Arc::new(FaultFile {
            fs: self.clone(),
            inner,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.check()?;
        self.inner.read(path)
    }

    fn map(&self, path: &Path) -> io::Result<Mapping> {
        self.check()?;
        self.inner.map(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check()?;
        self.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.check()?;
        self.inner.remove(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.check()?;
        self.inner.list(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check()?;
        self.inner.sync_dir(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.check()?;
        self.inner.exists(path)
    }

    fn lock(&self, path: &Path, mode: LockMode) -> io::Result<LockGuard> {
        self.check()?;
        self.inner.lock(path, mode)
    }
}
