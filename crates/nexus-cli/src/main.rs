//! `nexus`: the command-line tool of Memory Nexus — a demo of the engine on real embeddings,
//! and commands to import into, look inside, query, check and compact a store.
//!
//! Errors are one line on stderr saying what went wrong; the exit code is 2 for usage errors
//! and 1 for failures.

#![forbid(unsafe_code)]

mod demo;

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nexus_engine::{Filter, Memory, Nexus, Options, Query};

#[derive(Parser, Debug)]
#[command(
    name = "nexus",
    version,
    about = "Memory Nexus: an embedded long-term memory for AI agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build a store from the bundled dataset (or DIR), reopen it, run every query and print
    /// recall, latency, QPS, memory and disk use, and example recalls as texts.
    Demo {
        /// A TEXMEX-style dataset directory (default: the bundled MiniLM set).
        #[arg(long)]
        dataset: Option<PathBuf>,
        /// Keep the store in DIR instead of a temporary directory.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Import memories from a `.fvecs` file (texts from --texts, one a line) or a `.jsonl`
    /// export; creates the store if needed.
    Import {
        store: PathBuf,
        file: PathBuf,
        /// One text per vector, in order (fvecs only; default "row N").
        #[arg(long)]
        texts: Option<PathBuf>,
        /// The namespace of every imported memory (fvecs only).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Write every memory as JSON Lines to FILE (default: standard output).
    Export {
        store: PathBuf,
        file: Option<PathBuf>,
    },
    /// Recall the memories nearest to a vector, matching keywords (BM25), or both (hybrid).
    Recall {
        store: PathBuf,
        /// Row ROW (from 0) of an .fvecs file, as FILE:ROW.
        #[arg(
            long,
            value_name = "FILE:ROW",
            conflicts_with = "vector",
            required_unless_present_any = ["vector", "keywords"]
        )]
        vector_from: Option<String>,
        /// The vector as a JSON array.
        #[arg(long)]
        vector: Option<String>,
        /// Words to match in memory texts: alone, keyword recall; with a vector, hybrid
        /// recall (reciprocal-rank fusion).
        #[arg(long)]
        keywords: Option<String>,
        /// How many memories.
        #[arg(short, long, default_value_t = 10)]
        k: usize,
        /// Only this namespace (repeatable).
        #[arg(long)]
        namespace: Vec<String>,
        /// Only memories with this tag (repeatable: any of them).
        #[arg(long)]
        tag: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Counts and sizes of a store.
    Stats {
        store: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every checksum and structure; exit 1 naming the first problem.
    Verify { store: PathBuf },
    /// Merge segments and drop forgotten memories.
    Compact { store: PathBuf },
    /// Write a consistent copy of the store to DIR (new or empty), which opens as an equal store.
    Backup { store: PathBuf, dir: PathBuf },
    /// Describe a dataset directory.
    Info { dataset: PathBuf },
}

/// A failure: the message printed, and a hint of what to do.
pub(crate) struct Failure(pub(crate) String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            eprintln!("nexus: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Demo { dataset, keep } => demo::run(dataset.as_deref(), keep.as_deref()),
        Command::Import {
            store,
            file,
            texts,
            namespace,
        } => import(&store, &file, texts.as_deref(), namespace),
        Command::Export { store, file } => {
            let nexus = Nexus::open_read_only(&store)?;
            let n = match file {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
                    nexus.export_jsonl(std::io::BufWriter::new(f))?
                }
                None => nexus.export_jsonl(std::io::stdout().lock())?,
            };
            eprintln!("exported {n} memories");
            Ok(())
        }
        Command::Recall {
            store,
            vector_from,
            vector,
            keywords,
            k,
            namespace,
            tag,
            json,
        } => {
            let v = match (vector_from, vector) {
                (Some(spec), _) => vector_from_file(&spec)?,
                (None, Some(text)) => serde_json::from_str::<Vec<f32>>(&text).map_err(|e| {
                    Failure(format!("--vector is not a JSON array of numbers: {e}"))
                })?,
                (None, None) if keywords.is_some() => Vec::new(),
                (None, None) => {
                    return Err(Failure("give --vector-from, --vector or --keywords".into()));
                }
            };
            let nexus = Nexus::open_read_only(&store)?;
            let mut q = Query::new(v).k(k).namespaces(namespace);
            if let Some(words) = keywords {
                q = q.keywords(words);
            }
            if !tag.is_empty() {
                q = q.filter(Filter::new().tags_any(tag));
            }
            let hits = nexus.recall(&q)?;
            let mut out = std::io::stdout().lock();
            if json {
                let rows: Vec<serde_json::Value> = hits
                    .iter()
                    .map(|r| {
                        let mut m = r.memory.to_json();
                        let obj = m.as_object_mut().expect("an object");
                        obj.remove("vector");
                        obj.insert("id".into(), r.id.into());
                        obj.insert("score".into(), r.score.into());
                        m
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                writeln!(
                    out,
                    "{:>4}  {:>8}  {:>10}  {:<16}  text",
                    "rank", "score", "id", "namespace"
                )?;
                for (i, r) in hits.iter().enumerate() {
                    writeln!(
                        out,
                        "{:>4}  {:>8.4}  {:>10}  {:<16}  {}",
                        i + 1,
                        r.score,
                        r.id,
                        r.memory.namespace_name(),
                        short(r.memory.text(), 90)
                    )?;
                }
            }
            Ok(())
        }
        Command::Stats { store, json } => {
            let nexus = Nexus::open_read_only(&store)?;
            let s = nexus.stats();
            if json {
                let doc = serde_json::json!({
                    "memories": s.memories,
                    "namespaces": s.namespaces,
                    "segments": s.segments,
                    "indexed_segments": s.indexed_segments,
                    "tail_memories": s.tail_memories,
                    "resident_bytes": s.resident_bytes,
                    "disk_bytes": s.disk_bytes,
                    "dimension": nexus.dimension(),
                });
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                println!("store        {}", store.display());
                println!("dimension    {} ({:?})", nexus.dimension(), nexus.metric());
                println!("memories     {}", s.memories);
                println!("namespaces   {}", s.namespaces.len());
                for (ns, n) in s.namespaces.iter().take(20) {
                    println!("  {ns:<24} {n}");
                }
                if s.namespaces.len() > 20 {
                    println!("  … and {} more", s.namespaces.len() - 20);
                }
                println!(
                    "segments     {} ({} indexed), {} memories not yet flushed",
                    s.segments, s.indexed_segments, s.tail_memories
                );
                println!("resident     {}", bytes(s.resident_bytes));
                println!("on disk      {}", bytes(s.disk_bytes));
            }
            Ok(())
        }
        Command::Verify { store } => {
            let nexus = Nexus::open_read_only(&store)?;
            let r = nexus.verify()?;
            println!(
                "ok: {} memories, {} segments, {} attachments, {} WAL batches checked",
                r.memories, r.segments, r.attachments, r.wal_batches
            );
            Ok(())
        }
        Command::Compact { store } => {
            let nexus = Nexus::open(&store, Options::new().background(false))?;
            let before = nexus.stats();
            nexus.compact()?;
            let after = nexus.stats();
            println!(
                "compacted: {} → {} segments, {} → {} on disk",
                before.segments,
                after.segments,
                bytes(before.disk_bytes),
                bytes(after.disk_bytes)
            );
            Ok(())
        }
        Command::Backup { store, dir } => {
            let nexus = Nexus::open_read_only(&store)?;
            let files = nexus.backup_to(&dir)?;
            println!(
                "backed up {} memories ({files} files) to {}",
                nexus.len(),
                dir.display()
            );
            Ok(())
        }
        Command::Info { dataset } => {
            let d = nexus_dataset::Dataset::load(&dataset)?;
            println!("{}", d.id());
            Ok(())
        }
    }
}

/// Reads row ROW of FILE (an .fvecs file), given as `FILE:ROW`.
fn vector_from_file(spec: &str) -> Result<Vec<f32>, Failure> {
    let (file, row) = spec
        .rsplit_once(':')
        .ok_or_else(|| Failure(format!("--vector-from {spec}: expected FILE:ROW")))?;
    let row: usize = row
        .parse()
        .map_err(|_| Failure(format!("--vector-from {spec}: ROW is not a number")))?;
    let vecs = nexus_dataset::read_fvecs(file)?;
    if row >= vecs.len() {
        return Err(Failure(format!(
            "{file} has {} rows; row {row} does not exist",
            vecs.len()
        )));
    }
    Ok(vecs.row(row).to_vec())
}

fn import(
    store: &Path,
    file: &Path,
    texts: Option<&Path>,
    namespace: Option<String>,
) -> Result<(), Failure> {
    let is_jsonl = file
        .extension()
        .is_some_and(|e| e == "jsonl" || e == "json" || e == "ndjson");
    if is_jsonl {
        if texts.is_some() || namespace.is_some() {
            return Err(Failure(
                "--texts and --namespace apply to .fvecs imports only".into(),
            ));
        }
        let f =
            std::fs::File::open(file).map_err(|e| Failure(format!("{}: {e}", file.display())))?;
        // The dimension comes from the store, or from the first line for a new store.
        let first = std::io::BufRead::lines(BufReader::new(
            std::fs::File::open(file).map_err(|e| Failure(format!("{}: {e}", file.display())))?,
        ))
        .find_map(|l| l.ok().filter(|l| !l.trim().is_empty()));
        let dim = first
            .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .and_then(|v| v["vector"].as_array().map(Vec::len));
        let nexus = open_for_import(store, dim)?;
        let ids = nexus.import_jsonl(BufReader::new(f))?;
        nexus.flush()?;
        println!(
            "imported {} memories into {} ({} in all)",
            ids.len(),
            store.display(),
            nexus.len()
        );
        return Ok(());
    }
    let vecs = nexus_dataset::read_fvecs(file)?;
    let lines: Option<Vec<String>> = match texts {
        Some(t) => {
            let text =
                std::fs::read_to_string(t).map_err(|e| Failure(format!("{}: {e}", t.display())))?;
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() != vecs.len() {
                return Err(Failure(format!(
                    "{} has {} lines but {} has {} vectors",
                    t.display(),
                    lines.len(),
                    file.display(),
                    vecs.len()
                )));
            }
            Some(lines)
        }
        None => None,
    };
    let nexus = open_for_import(store, Some(vecs.dim()))?;
    let bar = demo::bar(vecs.len() as u64, "importing");
    let mut imported = 0;
    for start in (0..vecs.len()).step_by(4096) {
        let end = (start + 4096).min(vecs.len());
        let batch = (start..end).map(|i| {
            let text = lines
                .as_ref()
                .map(|l| l[i].clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| format!("row {i}"));
            let m = Memory::new(text, vecs.row(i).to_vec());
            match &namespace {
                Some(ns) => m.namespace(ns.clone()),
                None => m,
            }
        });
        imported += nexus.remember_batch(batch)?.len();
        bar.set_position(end as u64);
    }
    bar.set_message("indexing");
    nexus.flush()?;
    bar.finish_and_clear();
    println!(
        "imported {imported} memories into {} ({} in all)",
        store.display(),
        nexus.len()
    );
    Ok(())
}

fn open_for_import(store: &Path, dim: Option<usize>) -> Result<Nexus, Failure> {
    let exists = store.join("NEXUS").exists();
    let mut options = Options::new().background(false);
    if !exists {
        let dim = dim.ok_or_else(|| {
            Failure("cannot tell the vectors' dimension from an empty file".into())
        })?;
        options = options.dimension(dim);
    }
    Ok(Nexus::open(store, options)?)
}

pub(crate) fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

pub(crate) fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", n / (1024.0 * 1024.0 * 1024.0))
    } else if n >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", n / (1024.0 * 1024.0))
    } else if n >= 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{n} B")
    }
}
