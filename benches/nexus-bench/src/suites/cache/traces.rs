//! Readers for the real cache traces in `../shared/traces` (formats in its README): each file
//! becomes a sequence of keys, renumbered densely (`0..distinct`) so that OPT can use arrays.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::BenchResult;

/// How a file's records become keys (chosen by the file's directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// One decimal key per line; `*` and blank lines skipped.
    KeysText,
    /// `start_block block_count ignored request_no`: `block_count` consecutive keys.
    ArcBlocks,
    /// `op 0xADDRESS size`: the address.
    HexAddress,
    /// `time id size`: the id.
    TimeIdSize,
    /// Big-endian `i32`s back to back.
    BinI32Be,
    /// Big-endian `i64`s back to back.
    BinI64Be,
}

impl Format {
    pub(super) fn of_dir(dir: &str) -> Option<Self> {
        Some(match dir {
            "lirs" | "libcachesim" => Self::KeysText,
            "arc" => Self::ArcBlocks,
            "address" => Self::HexAddress,
            "adapt_size" => Self::TimeIdSize,
            "cache2k" => Self::BinI32Be,
            "corda" | "scarab" => Self::BinI64Be,
            _ => return None,
        })
    }
}

/// One trace file found in the traces directory.
#[derive(Clone, Debug)]
pub(super) struct TraceFile {
    pub(super) path: PathBuf,
    /// The file name without its extensions (`OLTP`, `gcc`, `cloudPhysicsIO`).
    pub(super) name: String,
    /// The directory it came from (`arc`, `lirs`, …).
    pub(super) dir: String,
    pub(super) format: Format,
    pub(super) bytes: u64,
}

/// A trace read into memory: dense key ids in access order.
#[derive(Debug)]
pub(super) struct Trace {
    pub(super) name: String,
    pub(super) dir: String,
    pub(super) keys: Vec<u32>,
    pub(super) distinct: usize,
    /// Accesses in the whole file (more than `keys.len()` when it was cut).
    pub(super) total_accesses: usize,
}

/// Every trace file under `root`, sorted by directory and name.
pub(super) fn list(root: &Path) -> BenchResult<Vec<TraceFile>> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root)? {
        let dir = dir?;
        if !dir.file_type()?.is_dir() {
            continue;
        }
        let dir_name = dir.file_name().to_string_lossy().into_owned();
        let Some(format) = Format::of_dir(&dir_name) else {
            continue;
        };
        for file in std::fs::read_dir(dir.path())? {
            let file = file?;
            let file_name = file.file_name().to_string_lossy().into_owned();
            let name = file_name.split('.').next().unwrap_or_default().to_owned();
            out.push(TraceFile {
                path: file.path(),
                name,
                dir: dir_name.clone(),
                format,
                bytes: file.metadata()?.len(),
            });
        }
    }
    out.sort_by(|a, b| (&a.dir, &a.name).cmp(&(&b.dir, &b.name)));
    Ok(out)
}

/// The file's bytes, decompressed by extension (`.gz`, `.xz`, `.zst`).
fn open(path: &Path) -> BenchResult<Box<dyn Read>> {
    let file = BufReader::new(File::open(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    Ok(match ext {
        "gz" => Box::new(flate2::read::MultiGzDecoder::new(file)),
        "xz" => Box::new(xz2::read::XzDecoder::new(file)),
        "zst" => Box::new(zstd::stream::read::Decoder::new(file)?),
        _ => Box::new(file),
    })
}

/// A decimal key, or a non-numeric token hashed to one (keys are opaque).
fn parse_key(token: &str) -> u64 {
    match token.parse::<i128>() {
        Ok(v) => v as u64,
        Err(_) => {
            use std::hash::{DefaultHasher, Hash, Hasher};
            let mut h = DefaultHasher::new();
            token.hash(&mut h);
            h.finish()
        }
    }
}

/// Reads at most `limit` accesses of `file`, renumbering keys densely.
pub(super) fn read(file: &TraceFile, limit: usize) -> BenchResult<Trace> {
    let mut raw: Vec<u64> = Vec::new();
    let mut total = 0usize;
    let mut push = |k: u64, raw: &mut Vec<u64>| {
        total += 1;
        if raw.len() < limit {
            raw.push(k);
        }
    };
    let bad = |line: usize, what: &str| format!("{}: line {line}: {what}", file.path.display());
    let mut reader = open(&file.path)?;
    match file.format {
        Format::BinI32Be | Format::BinI64Be => {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes)?;
            if file.format == Format::BinI32Be {
                for c in bytes.chunks_exact(4) {
                    push(
                        i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as i64 as u64,
                        &mut raw,
                    );
                }
            } else {
                for c in bytes.chunks_exact(8) {
                    let a: [u8; 8] = c.try_into().expect("chunks of 8");
                    push(u64::from_be_bytes(a), &mut raw);
                }
            }
        }
        text_format => {
            for (n, line) in BufReader::new(reader).lines().enumerate() {
                let line = line?;
                let line = line.trim();
                if line.is_empty() || line == "*" {
                    continue;
                }
                let mut fields = line.split_whitespace();
                match text_format {
                    Format::KeysText => push(parse_key(line), &mut raw),
                    Format::ArcBlocks => {
                        let start: u64 = fields
                            .next()
                            .and_then(|f| f.parse().ok())
                            .ok_or_else(|| bad(n + 1, "start block"))?;
                        let count: u64 = fields
                            .next()
                            .and_then(|f| f.parse().ok())
                            .ok_or_else(|| bad(n + 1, "block count"))?;
                        for b in start..start + count {
                            push(b, &mut raw);
                        }
                    }
                    Format::HexAddress => {
                        let addr = fields.nth(1).ok_or_else(|| bad(n + 1, "address"))?;
                        let hex = addr.trim_start_matches("0x").trim_start_matches("0X");
                        let key = u64::from_str_radix(hex, 16).map_err(|_| bad(n + 1, "hex"))?;
                        push(key, &mut raw);
                    }
                    Format::TimeIdSize => {
                        let id = fields.nth(1).ok_or_else(|| bad(n + 1, "id"))?;
                        push(parse_key(id), &mut raw);
                    }
                    Format::BinI32Be | Format::BinI64Be => unreachable!("binary handled above"),
                }
            }
        }
    }
    let mut ids: HashMap<u64, u32> = HashMap::with_capacity(raw.len() / 4);
    let keys: Vec<u32> = raw
        .iter()
        .map(|&k| {
            let next = ids.len() as u32;
            *ids.entry(k).or_insert(next)
        })
        .collect();
    Ok(Trace {
        name: file.name.clone(),
        dir: file.dir.clone(),
        distinct: ids.len(),
        keys,
        total_accesses: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, sub: &str, name: &str, bytes: &[u8]) -> TraceFile {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join(name), bytes).unwrap();
        list(dir)
            .unwrap()
            .into_iter()
            .find(|f| f.dir == sub)
            .unwrap()
    }

    #[test]
    fn every_format_reads_its_keys() {
        let dir = std::env::temp_dir().join(format!("nexus-traces-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let t = read(&write(&dir, "lirs", "a.trace", b"5\n*\n7\n\n5\n"), 100).unwrap();
        assert_eq!(
            (t.keys.clone(), t.distinct, t.name.as_str()),
            (vec![0, 1, 0], 2, "a")
        );
        let t = read(
            &write(&dir, "arc", "OLTP.lis", b"10 3 0 1\n11 1 0 2\n"),
            100,
        )
        .unwrap();
        assert_eq!(t.keys, vec![0, 1, 2, 1]);
        let t = read(
            &write(
                &dir,
                "address",
                "g.trace",
                b"l 0x1f 4\ns 0x20 4\nl 0x1F 1\n",
            ),
            100,
        )
        .unwrap();
        assert_eq!(t.keys, vec![0, 1, 0]);
        let t = read(
            &write(&dir, "adapt_size", "r.trace", b"1 77 10\n2 78 10\n3 77 5\n"),
            100,
        )
        .unwrap();
        assert_eq!(t.keys, vec![0, 1, 0]);
        let mut b = Vec::new();
        for k in [-1i32, 3, -1] {
            b.extend_from_slice(&k.to_be_bytes());
        }
        assert_eq!(
            read(&write(&dir, "cache2k", "o.trace", &b), 100)
                .unwrap()
                .keys,
            vec![0, 1, 0]
        );
        let mut b = Vec::new();
        for k in [9i64, 9, 1 << 40] {
            b.extend_from_slice(&k.to_be_bytes());
        }
        let t = read(&write(&dir, "scarab", "s.trace", &b), 2).unwrap();
        assert_eq!((t.keys, t.total_accesses), (vec![0, 0], 3));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
