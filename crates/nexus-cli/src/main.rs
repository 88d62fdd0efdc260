//! `nexus`: the command-line tool of Memory Nexus. For now it describes a dataset directory;
//! the engine issue adds `demo`, `import`, `query`, `stats`, `verify` and `compact`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "info" => match nexus_dataset::Dataset::load(dir) {
            Ok(d) => {
                println!("{}", d.id());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("nexus: {e}");
                ExitCode::FAILURE
            }
        },
        [cmd] if cmd == "--version" => {
            println!(
                "nexus {} (engine layers: {})",
                env!("CARGO_PKG_VERSION"),
                layers()
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: nexus info DATASET_DIR | nexus --version");
            ExitCode::from(2)
        }
    }
}

fn layers() -> &'static str {
    // Naming a re-exported item keeps the dependency honest until the engine lands.
    let _ = nexus_engine::simd::dot;
    "simd, quant, index, cache, storage"
}
