//! The manifest reader (header, checksum, rkyv validation) on arbitrary bytes: a value or an
//! error, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = nexus_storage::testing::parse::manifest(data);
});
