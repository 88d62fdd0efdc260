//! The real file system.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use super::{Backend, FileWriter, LockGuard, LockMode, Mapping};

/// The operating system's file system (`std::fs`, `memmap2`, `File::lock`).
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

#[derive(Debug)]
struct RealFile(File);

impl FileWriter for RealFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        (&self.0).write_all(buf)
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Backend for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn FileWriter>> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        Ok(Arc::new(RealFile(f)))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn map(&self, path: &Path) -> io::Result<Mapping> {
        let f = File::open(path)?;
        if f.metadata()?.len() == 0 {
            return Ok(Mapping::from_bytes(&[]));
        }
        // SAFETY: the store writes a file completely, fsyncs it and only then maps it; it never
        // writes, truncates or renames over a mapped file again (replacements are new files plus
        // a manifest swap). Another process changing the file underneath would break this, and
        // is documented as unsupported (it can raise SIGBUS, as with every mmap-based store).
        let map = unsafe { memmap2::Mmap::map(&f)? };
        Ok(Mapping::from_mmap(map))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn lock(&self, path: &Path, mode: LockMode) -> io::Result<LockGuard> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        let taken = match mode {
            LockMode::Exclusive => f.try_lock(),
            LockMode::Shared => f.try_lock_shared(),
        };
        match taken {
            Ok(()) => Ok(LockGuard::new(f)),
            Err(fs::TryLockError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}
