//! Process crash: a child process (this test binary, re-executed) remembers and forgets under
//! `Durability::Grouped`, with background flushes and compactions, while this process kills it
//! with SIGKILL at random moments, reopens the store and checks every acknowledged memory and
//! forget. A short run; `cargo xtask crash --engine --cycles N` is the long one
//! (`NEXUS_CRASH_CYCLES` here).

#[path = "support/crash.rs"]
mod crash;

const TEST_NAME: &str = "sigkill_loses_no_acknowledged_memory";

#[test]
fn sigkill_loses_no_acknowledged_memory() {
    if let Ok(spec) = std::env::var(crash::CHILD_ENV) {
        crash::child_main(&spec);
    }
    let cycles = std::env::var("NEXUS_CRASH_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let args = [TEST_NAME, "--exact", "--nocapture", "--test-threads=1"];
    let out = crash::run_parent(&dir.path().join("store"), cycles, &exe, &args, 11);
    eprintln!(
        "crash: {} cycles, {} lost, {} failed opens ({} memories acknowledged, {} forgets)",
        out.cycles, out.lost, out.failed_opens, out.acked, out.forgotten
    );
    assert_eq!((out.lost, out.failed_opens), (0, 0));
    assert!(out.acked > 0, "the child never acknowledged a memory");
}
