//! An in-memory file system that also simulates power loss.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Backend, FileWriter, LockGuard, LockMode, Mapping};

/// The simulated disk's sector: un-synced data survives a power cut in whole sectors, and the
/// last surviving sector may be torn.
pub(crate) const SECTOR: usize = 512;

/// An in-memory file system and power-loss simulator.
///
/// It tracks, for every file, how much has been made durable by `sync`, and for every
/// directory, which creates, renames and deletes have been made durable by `sync_dir`.
/// [`MemFs::crash_image`] returns the file system a power cut at this instant could leave:
///
/// - a file's data written since its last `sync` survives only as a prefix, cut at a
///   512-byte sector boundary (or at its end), and the last surviving sector may be torn (filled
///   with garbage from some byte on);
/// - each create, rename and delete since the directory's last `sync_dir` may be lost: half
///   of the images keep a prefix of them in the order they were made (a journaling file
///   system's ordered metadata), the other half an arbitrary subset (no ordering at all). A
///   rename is atomic, and one whose source did not survive does nothing.
///
/// Directories themselves are treated as durable once created. Clones share the same state.
#[derive(Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
    hook: Arc<Mutex<Option<Hook>>>,
}

type Hook = Arc<dyn Fn(u64) + Send + Sync>;

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("MemFs")
            .field("files", &s.names.len())
            .field("mutating_calls", &s.calls)
            .finish()
    }
}

#[derive(Default)]
struct State {
    inodes: Vec<Inode>,
    names: BTreeMap<PathBuf, usize>,
    durable_names: BTreeMap<PathBuf, usize>,
    /// Per directory: namespace operations not yet made durable, oldest first.
    pending: BTreeMap<PathBuf, Vec<NsOp>>,
    dirs: BTreeSet<PathBuf>,
    locks: HashMap<PathBuf, (usize, bool)>,
    calls: u64,
}

#[derive(Default)]
struct Inode {
    data: Vec<u8>,
    synced_len: usize,
}

#[derive(Clone)]
enum NsOp {
    Link(PathBuf, usize),
    Unlink(PathBuf),
    Rename(PathBuf, PathBuf),
}

fn apply(names: &mut BTreeMap<PathBuf, usize>, op: &NsOp) {
    match op {
        NsOp::Link(p, ino) => {
            names.insert(p.clone(), *ino);
        }
        NsOp::Unlink(p) => {
            names.remove(p);
        }
        NsOp::Rename(from, to) => {
            if let Some(ino) = names.remove(from) {
                names.insert(to.clone(), ino);
            }
        }
    }
}

fn parent(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn not_found(p: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{}", p.display()))
}

/// A small deterministic generator (the crash image must be reproducible from a seed).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What survives of one file's data after a power cut.
fn crash_content(inode: &Inode, rng: &mut SplitMix) -> Vec<u8> {
    let (data, synced) = (&inode.data, inode.synced_len.min(inode.data.len()));
    if data.len() == synced {
        return data.clone();
    }
    let mut cuts = vec![synced];
    let mut b = (synced / SECTOR + 1) * SECTOR;
    while b < data.len() {
        cuts.push(b);
        b += SECTOR;
    }
    cuts.push(data.len());
    let cut = cuts[rng.below(cuts.len())];
    let mut out = data[..cut].to_vec();
    if cut > synced && rng.below(2) == 0 {
        let sector_start = ((cut - 1) / SECTOR * SECTOR).max(synced);
        let from = sector_start + rng.below(cut - sector_start);
        let zeros = rng.below(2) == 0;
        for byte in &mut out[from..] {
            *byte = if zeros { 0 } else { rng.next() as u8 };
        }
    }
    out
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls `hook(n)` at the start of the `n`-th mutating call (create, write, sync, sync_dir,
    /// rename, remove), before it takes effect — the place to take a crash image.
    pub fn set_hook(&self, hook: impl Fn(u64) + Send + Sync + 'static) {
        *self.hook.lock() = Some(Arc::new(hook));
    }

    /// Removes the hook.
    pub fn clear_hook(&self) {
        *self.hook.lock() = None;
    }

    /// How many mutating calls were made so far.
    pub fn mutating_calls(&self) -> u64 {
        self.state.lock().calls
    }

    /// The file system a power cut at this instant could leave (one of the possible outcomes,
    /// chosen by `seed`). Everything in it is durable; it shares nothing with `self`.
    pub fn crash_image(&self, seed: u64) -> MemFs {
        let s = self.state.lock();
        let mut rng = SplitMix(seed);
        let mut names = s.durable_names.clone();
        for ops in s.pending.values() {
            if rng.below(2) == 0 {
                let keep = rng.below(ops.len() + 1);
                for op in &ops[..keep] {
                    apply(&mut names, op);
                }
            } else {
                for op in ops {
                    if rng.below(2) == 0 {
                        apply(&mut names, op);
                    }
                }
            }
        }
        let mut image = State {
            dirs: s.dirs.clone(),
            ..State::default()
        };
        let mut copied: HashMap<usize, usize> = HashMap::new();
        for (path, ino) in names {
            let new = *copied.entry(ino).or_insert_with(|| {
                let data = crash_content(&s.inodes[ino], &mut rng);
                image.inodes.push(Inode {
                    synced_len: data.len(),
                    data,
                });
                image.inodes.len() - 1
            });
            image.names.insert(path.clone(), new);
            image.durable_names.insert(path, new);
        }
        MemFs {
            state: Arc::new(Mutex::new(image)),
            hook: Arc::default(),
        }
    }

    /// The current bytes of a file (for tests that corrupt files).
    pub fn file(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state.lock();
        s.names.get(path).map(|&i| s.inodes[i].data.clone())
    }

    /// Replaces a file's bytes in place, durably (for tests that corrupt files).
    pub fn set_file(&self, path: &Path, bytes: Vec<u8>) {
        let mut s = self.state.lock();
        if let Some(&i) = s.names.get(path) {
            s.inodes[i] = Inode {
                synced_len: bytes.len(),
                data: bytes,
            };
        }
    }

    fn mutating(&self) {
        let n = {
            let mut s = self.state.lock();
            s.calls += 1;
            s.calls - 1
        };
        let hook = self.hook.lock().clone();
        if let Some(hook) = hook {
            hook(n);
        }
    }
}

#[derive(Debug)]
struct MemFile {
    fs: MemFs,
    ino: usize,
}

impl FileWriter for MemFile {
    fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.fs.mutating();
        self.fs.state.lock().inodes[self.ino]
            .data
            .extend_from_slice(buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.fs.mutating();
        let mut s = self.fs.state.lock();
        let inode = &mut s.inodes[self.ino];
        inode.synced_len = inode.data.len();
        Ok(())
    }
}

struct MemLock {
    fs: MemFs,
    path: PathBuf,
    mode: LockMode,
}

impl Drop for MemLock {
    fn drop(&mut self) {
        let mut s = self.fs.state.lock();
        if let Some(l) = s.locks.get_mut(&self.path) {
            match self.mode {
                LockMode::Exclusive => l.1 = false,
                LockMode::Shared => l.0 = l.0.saturating_sub(1),
            }
        }
    }
}

impl Backend for MemFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        for d in dir.ancestors() {
            s.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    fn create(&self, path: &Path) -> io::Result<Arc<dyn FileWriter>> {
        self.mutating();
        let mut s = self.state.lock();
        let dir = parent(path);
        if !s.dirs.contains(&dir) {
            return Err(not_found(&dir));
        }
        s.inodes.push(Inode::default());
        let ino = s.inodes.len() - 1;
        let op = NsOp::Link(path.to_path_buf(), ino);
        apply(&mut s.names, &op);
        s.pending.entry(dir).or_default().push(op);
        Ok(Arc::new(MemFile {
            fs: self.clone(),
            ino,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.file(path).ok_or_else(|| not_found(path))
    }

    fn map(&self, path: &Path) -> io::Result<Mapping> {
        let s = self.state.lock();
        let &ino = s.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(Mapping::from_bytes(&s.inodes[ino].data))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.mutating();
        let mut s = self.state.lock();
        if !s.names.contains_key(from) {
            return Err(not_found(from));
        }
        let op = NsOp::Rename(from.to_path_buf(), to.to_path_buf());
        apply(&mut s.names, &op);
        s.pending.entry(parent(to)).or_default().push(op);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.mutating();
        let mut s = self.state.lock();
        if !s.names.contains_key(path) {
            return Err(not_found(path));
        }
        let op = NsOp::Unlink(path.to_path_buf());
        apply(&mut s.names, &op);
        s.pending.entry(parent(path)).or_default().push(op);
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.state.lock();
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(s.names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.mutating();
        let mut s = self.state.lock();
        let ops = s.pending.remove(dir).unwrap_or_default();
        for op in &ops {
            apply(&mut s.durable_names, op);
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let s = self.state.lock();
        Ok(s.names.contains_key(path) || s.dirs.contains(path))
    }

    fn lock(&self, path: &Path, mode: LockMode) -> io::Result<LockGuard> {
        let mut s = self.state.lock();
        let l = s.locks.entry(path.to_path_buf()).or_insert((0, false));
        let free = match mode {
            LockMode::Exclusive => l.0 == 0 && !l.1,
            LockMode::Shared => !l.1,
        };
        if !free {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match mode {
            LockMode::Exclusive => l.1 = true,
            LockMode::Shared => l.0 += 1,
        }
        Ok(LockGuard::new(MemLock {
            fs: self.clone(),
            path: path.to_path_buf(),
            mode,
        }))
    }
}
