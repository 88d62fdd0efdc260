//! The WAL reader on arbitrary bytes (a store of dimension 4 with 2-byte codes, as in the
//! corpus): it must return a value or an error, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = nexus_storage::testing::parse::wal(data, 4, 2);
});
