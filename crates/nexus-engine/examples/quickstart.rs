//! Quickstart: remember a few memories for two users, recall within one, filter by tag,
//! forget, and reopen the store.
//!
//! ```text
//! cargo run -p nexus-engine --example quickstart
//! ```
//!
//! The vectors here are toy 4-d embeddings; use your embedding model's output (e.g. 384-d
//! MiniLM sentence embeddings) in real code.

use nexus_engine::{Filter, Memory, Nexus, Options, Query};

fn main() -> Result<(), nexus_engine::Error> {
    let dir = std::env::temp_dir().join(format!("nexus-quickstart-{}", std::process::id()));
    let nexus = Nexus::open(&dir, Options::new().dimension(4))?;

    let facts = [
        (
            "alice",
            "Alice prefers green tea",
            [0.9, 0.1, 0.0, 0.0],
            "preference",
        ),
        (
            "alice",
            "Alice's meeting moved to Friday",
            [0.0, 0.1, 0.9, 0.1],
            "calendar",
        ),
        (
            "alice",
            "Alice is allergic to peanuts",
            [0.3, 0.8, 0.0, 0.1],
            "health",
        ),
        (
            "bob",
            "Bob prefers black coffee",
            [0.8, 0.2, 0.1, 0.0],
            "preference",
        ),
    ];
    for (user, text, vector, tag) in facts {
        let id = nexus.remember(
            Memory::new(text, vector.to_vec())
                .namespace(user)
                .tag(tag)
                .importance(0.7),
        )?;
        println!("remembered #{id}: {text}");
    }

    // "What does Alice like to drink?" — embedded near the preference memories.
    let question = vec![0.85, 0.15, 0.05, 0.0];
    println!("\nrecall for alice:");
    for r in nexus.recall(&Query::new(question.clone()).k(2).namespace("alice"))? {
        println!("  {:.3}  #{} {}", r.score, r.id, r.memory.text());
    }

    println!("\nrecall across users, tag = preference:");
    let tagged = Query::new(question).filter(Filter::new().tags_any(["preference"]));
    for r in nexus.recall(&tagged)? {
        println!(
            "  {:.3}  #{} [{}] {}",
            r.score,
            r.id,
            r.memory.namespace_name(),
            r.memory.text()
        );
    }

    let forgotten = nexus.forget_where("alice", &Filter::new().tags_any(["health"]))?;
    println!("\nforgot {forgotten} health memory of alice");
    drop(nexus);

    let nexus = Nexus::open(&dir, Options::new())?; // dimension and metric come from the store
    let stats = nexus.stats();
    println!(
        "reopened: {} memories in {:?}",
        stats.memories, stats.namespaces
    );
    nexus.verify()?;
    drop(nexus);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
