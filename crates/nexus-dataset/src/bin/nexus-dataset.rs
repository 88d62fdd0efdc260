//! `nexus-dataset`: cut the bundled subset, compute ground truth, describe a dataset.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nexus_dataset::{BundleOptions, Dataset, Metric, exact_top_k, read_fvecs};

#[derive(Parser)]
#[command(version, about = "Datasets for Memory Nexus")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the first N base / M query rows of a dataset, with exact ground truth, to OUT.
    Bundle {
        /// Source dataset directory.
        #[arg(long)]
        from: PathBuf,
        /// Destination directory.
        #[arg(long)]
        out: PathBuf,
        /// Base rows to keep.
        #[arg(long, default_value_t = BundleOptions::default().n_base)]
        base: usize,
        /// Queries to keep.
        #[arg(long, default_value_t = BundleOptions::default().n_query)]
        queries: usize,
        /// Neighbours per query in the ground truth.
        #[arg(long, default_value_t = BundleOptions::default().k)]
        k: usize,
    },
    /// Compute exact ground truth (f64, ties to the lower id) into an ivecs file.
    Truth {
        /// Base vectors (fvecs).
        #[arg(long)]
        base: PathBuf,
        /// Query vectors (fvecs).
        #[arg(long)]
        queries: PathBuf,
        /// Output (ivecs).
        #[arg(long)]
        out: PathBuf,
        /// Neighbours per query.
        #[arg(long, default_value_t = 100)]
        k: usize,
        /// inner_product, cosine or l2.
        #[arg(long, default_value = "inner_product")]
        metric: String,
    },
    /// Load, validate and describe a dataset directory.
    Info {
        /// Dataset directory.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nexus-dataset: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> nexus_dataset::Result<()> {
    match cli.command {
        Command::Bundle {
            from,
            out,
            base,
            queries,
            k,
        } => {
            nexus_dataset::bundle(
                &from,
                &out,
                BundleOptions {
                    n_base: base,
                    n_query: queries,
                    k,
                },
            )?;
            println!("wrote {}", Dataset::load(&out)?.id());
        }
        Command::Truth {
            base,
            queries,
            out,
            k,
            metric,
        } => {
            let meta = nexus_dataset::Meta {
                metric: Some(metric),
                ..Default::default()
            };
            let metric: Metric = meta.metric()?;
            let truth = exact_top_k(&read_fvecs(base)?, &read_fvecs(queries)?, k, metric)?;
            truth.write(&out)?;
            println!("wrote {} rows of {k} ids to {}", truth.len(), out.display());
        }
        Command::Info { dir } => {
            let d = Dataset::load(&dir)?;
            println!("{}", d.id());
            println!(
                "metric: {:?} (ranked as {:?})",
                d.meta.metric()?,
                d.search_metric()
            );
            println!("ground truth: top-{}", d.ground_truth.dim());
            println!(
                "texts: base {}, queries {}",
                d.base_texts.is_some(),
                d.query_texts.is_some()
            );
            if let Some(model) = &d.meta.model {
                println!("model: {model}");
            }
        }
    }
    Ok(())
}
