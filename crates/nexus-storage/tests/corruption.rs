//! Corruption: flip every byte of a WAL, a segment and a manifest in turn. Open or verify must
//! report it every time (a typed error, or for the WAL's last sector a reported tail cut with
//! the records before it intact) — never a panic, never wrong data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nexus_storage::{Backend, Batch, Durability, Error, MemFs, Options, Record, Store};

const DIM: usize = 8;
const CODE: usize = 4;

fn options() -> Options {
    Options::new(DIM).code_bytes(CODE)
}

fn record(id: u64) -> (Vec<f32>, Vec<u8>, Vec<u8>) {
    let v = (0..DIM)
        .map(|j| (id * 10 + j as u64) as f32 * 0.5)
        .collect();
    let c = (0..CODE)
        .map(|j| (id as u8).wrapping_mul(3).wrapping_add(j as u8))
        .collect();
    let m = format!("meta-{id}").into_bytes();
    (v, c, m)
}

/// A store with a segment (ids 0..40, some deleted) and an unflushed WAL of 20 batches.
/// Returns the file system, and the model after each WAL batch (`[0]`: before the first).
fn build() -> (MemFs, Vec<BTreeMap<u64, Record>>) {
    let fs = MemFs::new();
    let store = Store::open_with(Arc::new(fs.clone()), "/db", options()).unwrap();
    let mut b = Batch::new();
    for id in 0..40 {
        let (v, c, m) = record(id);
        b.put(id, &v, &c, &m);
    }
    for id in (0..40).step_by(7) {
        b.delete(id);
    }
    store.commit(b, Durability::Always).unwrap();
    store.flush().unwrap();
    let mut models = vec![snapshot(&store)];
    for k in 0..20u64 {
        let mut b = Batch::new();
        let id = 100 + k;
        let (v, c, m) = record(id);
        b.put(id, &v, &c, &m).delete(k);
        store.commit(b, Durability::Grouped).unwrap();
        models.push(snapshot(&store));
    }
    (fs, models)
}

fn snapshot(store: &Store) -> BTreeMap<u64, Record> {
    store
        .records()
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r))
        .collect()
}

fn file_named(fs: &MemFs, prefix: &str) -> PathBuf {
    let name = fs
        .list(Path::new("/db"))
        .unwrap()
        .into_iter()
        .find(|n| n.starts_with(prefix))
        .unwrap();
    Path::new("/db").join(name)
}

/// Opens read-only (so that recovery writes nothing) and verifies.
fn open_and_verify(fs: &MemFs) -> Result<Store, Error> {
    let store = Store::open_with(Arc::new(fs.clone()), "/db", options().read_only(true))?;
    store.verify()?;
    Ok(store)
}

fn flip_each_byte(
    fs: &MemFs,
    path: &Path,
    mut check: impl FnMut(usize, Result<Store, Error>),
) -> usize {
    let original = fs.file(path).unwrap();
    for at in 0..original.len() {
        let mut bad = original.clone();
        bad[at] ^= 0x5A;
        fs.set_file(path, bad);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open_and_verify(fs)));
        match r {
            Ok(r) => check(at, r),
            Err(_) => panic!("{}: panic with byte {at} flipped", path.display()),
        }
    }
    let len = original.len();
    fs.set_file(path, original);
    len
}

#[test]
fn every_flipped_byte_is_reported() {
    let (fs, models) = build();
    let clean = open_and_verify(&fs).unwrap();
    assert!(clean.recovery().tail_cuts.is_empty());
    assert_eq!(&snapshot(&clean), models.last().unwrap());
    drop(clean);

    let mut cases = 0;
    let mut tail_cuts = 0;
    let wal = file_named(&fs, "wal-");
    let last_record = last_record_offset(&fs.file(&wal).unwrap());
    cases += flip_each_byte(&fs, &wal, |at, r| match r {
        Err(e) => assert!(e.is_corruption(), "WAL byte {at}: {e}"),
        Ok(store) => {
            // Only a torn-looking tail may open: it must be reported, and what remains must be
            // exactly the batches before it.
            let cut = store.recovery().tail_cuts.first().cloned();
            let cut = cut.unwrap_or_else(|| panic!("WAL byte {at} flipped: not reported"));
            assert_eq!(
                cut.offset, last_record,
                "WAL byte {at}: only the last record may read as a torn tail"
            );
            assert!(cut.offset <= at as u64, "WAL byte {at}: cut after the flip");
            let got = snapshot(&store);
            assert_eq!(
                &got,
                &models[models.len() - 2],
                "WAL byte {at}: contents are not every batch but the last"
            );
            tail_cuts += 1;
        }
    });
    let wal_len = fs.file(&wal).unwrap().len();
    assert!(
        wal_len > 1024,
        "{wal_len}: the WAL must be longer than its tail window"
    );

    for prefix in ["seg-", "MANIFEST"] {
        let path = file_named(&fs, prefix);
        cases += flip_each_byte(&fs, &path, |at, r| match r {
            Err(e) => assert!(e.is_corruption(), "{prefix} byte {at}: {e}"),
            Ok(_) => panic!("{prefix} byte {at} flipped: open and verify both passed"),
        });
    }
    eprintln!("corruption: {cases} flipped bytes, all reported ({tail_cuts} as a WAL tail cut)");
    assert!(
        tail_cuts > 0,
        "a flip in the last record reads as a tail cut"
    );
}

/// The offset of the WAL's last record (walking the record lengths from the 24-byte header).
fn last_record_offset(wal: &[u8]) -> u64 {
    let mut pos = 24;
    loop {
        let len = u32::from_le_bytes(wal[pos..pos + 4].try_into().unwrap()) as usize;
        let next = pos + 12 + len;
        if next == wal.len() {
            return pos as u64;
        }
        pos = next;
    }
}

#[test]
fn truncated_files_are_reported() {
    let (fs, _) = build();
    for prefix in ["seg-", "MANIFEST"] {
        let path = file_named(&fs, prefix);
        let original = fs.file(&path).unwrap();
        for len in 0..original.len() {
            fs.set_file(&path, original[..len].to_vec());
            let e = open_and_verify(&fs).err();
            assert!(
                e.is_some_and(|e| e.is_corruption()),
                "{prefix} cut to {len}"
            );
        }
        fs.set_file(&path, original);
    }
}

#[test]
fn a_foreign_format_version_is_named() {
    let (fs, _) = build();
    let path = file_named(&fs, "MANIFEST");
    let mut m = fs.file(&path).unwrap();
    m[8..12].copy_from_slice(&2u32.to_le_bytes());
    let c = crc32c::crc32c(&m[..20]);
    m[20..24].copy_from_slice(&c.to_le_bytes());
    fs.set_file(&path, m);
    match open_and_verify(&fs) {
        Err(Error::Version {
            found: 2,
            supported: 1,
            ..
        }) => {}
        other => panic!("expected a version error, got {other:?}"),
    }
}

#[test]
fn a_lost_manifest_or_wal_is_reported_not_papered_over() {
    let (fs, models) = build();
    let manifest = file_named(&fs, "MANIFEST");
    let saved = fs.file(&manifest).unwrap();
    fs.remove(&manifest).unwrap();
    for read_only in [false, true] {
        let e = Store::open_with(Arc::new(fs.clone()), "/db", options().read_only(read_only))
            .expect_err("a store without its manifest must not open");
        assert!(e.is_corruption(), "{e}");
    }
    // Nothing was deleted or replaced: put the manifest back and everything is there.
    fs.create(&manifest).unwrap().write_all(&saved).unwrap();
    assert_eq!(
        &snapshot(&open_and_verify(&fs).unwrap()),
        models.last().unwrap()
    );

    let wal = file_named(&fs, "wal-");
    fs.remove(&wal).unwrap();
    let e = Store::open_with(Arc::new(fs.clone()), "/db", options()).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { path, .. } if *path == wal),
        "{e}"
    );
}

/// Flips every byte of the segment's large region and of the manifest's payload and then
/// *recomputes the checksums* (block, table and footer; payload and header), so that the
/// checks behind the checksums — bytecheck validation, manifest consistency, ids ascending,
/// flags, metadata offsets — see the bad bytes. Open, verify and reading every record must
/// return values or typed errors, never panic.
#[test]
fn rechecksummed_flips_never_panic() {
    let (fs, _) = build();
    let crc = crc32c::crc32c;
    let mut cases = 0;
    let mut rejected = 0;

    let seg = file_named(&fs, "seg-");
    let original = fs.file(&seg).unwrap();
    let n = original.len();
    let footer = n - 68;
    let info_len = u64::from_le_bytes(original[footer + 40..footer + 48].try_into().unwrap());
    // large_len + 4 * ceil(large_len / 64 KiB) = n - 68 - info_len
    let rest = footer - info_len as usize;
    let (large_len, blocks) = (1..)
        .map(|b: usize| (rest - 4 * b, b))
        .find(|&(l, b)| l.div_ceil(65536) == b)
        .unwrap();
    for at in 0..large_len {
        let mut bad = original.clone();
        bad[at] ^= 0x5A;
        let block = at / 65536;
        let end = ((block + 1) * 65536).min(large_len);
        let c = crc(&bad[block * 65536..end]);
        let entry = large_len + 4 * block;
        bad[entry..entry + 4].copy_from_slice(&c.to_le_bytes());
        let table_crc = crc(&bad[large_len..large_len + 4 * blocks]);
        bad[footer + 48..footer + 52].copy_from_slice(&table_crc.to_le_bytes());
        let footer_crc = crc(&bad[footer..footer + 64]);
        bad[footer + 64..footer + 68].copy_from_slice(&footer_crc.to_le_bytes());
        fs.set_file(&seg, bad);
        rejected += usize::from(open_verify_read(&fs, &format!("segment byte {at}")));
        cases += 1;
    }
    fs.set_file(&seg, original);

    let manifest = file_named(&fs, "MANIFEST");
    let original = fs.file(&manifest).unwrap();
    for at in 24..original.len() {
        let mut bad = original.clone();
        bad[at] ^= 0x5A;
        let payload_crc = crc(&bad[24..]);
        bad[16..20].copy_from_slice(&payload_crc.to_le_bytes());
        let header_crc = crc(&bad[..20]);
        bad[20..24].copy_from_slice(&header_crc.to_le_bytes());
        fs.set_file(&manifest, bad);
        rejected += usize::from(open_verify_read(&fs, &format!("manifest byte {at}")));
        cases += 1;
    }
    fs.set_file(&manifest, original);
    eprintln!(
        "corruption behind the checksums: {cases} re-checksummed flips, no panic ({rejected} rejected with an error)"
    );
    assert!(rejected > 0);
    assert!(
        rejected < cases,
        "every flip was rejected: the re-checksumming does not reach behind the checksums"
    );
}

/// Opens read-only, verifies and reads every record, catching panics; returns whether an
/// error was reported.
fn open_verify_read(fs: &MemFs, ctx: &str) -> bool {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let store = open_and_verify(fs)?;
        store.records().map(|_| ())
    }));
    match r {
        Ok(r) => r.is_err(),
        Err(_) => panic!("{ctx}: panic"),
    }
}
