//! The int8 codes and the index file stay byte for byte what they were before the symmetric
//! codec moved from this crate into nexus-quant (`nexus_quant::Int8Symmetric`): an HNSW index
//! with int8 traversal, built one insert at a time (deterministic) on fixed data, is saved
//! and the CRC32C of its bytes compared with the value the old in-crate codec produced (at commit
//! f4e86c2). The file holds the scales and every code, so any change to the codec's formula,
//! its training or the query side (which steers the graph's construction) shows here.

use nexus_index::{HnswIndex, HnswParams, Index, Metric, Traversal};

fn data(n: usize, dim: usize) -> Vec<f32> {
    // A small LCG: deterministic values in [-1, 1), with some larger dimensions.
    let mut s: u32 = 12_345;
    (0..n * dim)
        .map(|i| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let x = (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
            if i % dim < 2 { 3.0 * x } else { x }
        })
        .collect()
}

fn file(metric: Metric) -> Vec<u8> {
    let (n, dim) = (300, 24);
    let params = HnswParams {
        metric,
        traversal: Traversal::Int8,
        ..HnswParams::default()
    };
    let index = HnswIndex::new(dim, params).unwrap();
    for (id, v) in data(n, dim).chunks(dim).enumerate() {
        index.add(id as u64, v).unwrap();
    }
    index.to_bytes()
}

#[test]
fn int8_index_file_is_unchanged() {
    for (metric, expected) in [
        (Metric::InnerProduct, 0x7e70_d316u32),
        (Metric::Cosine, 0xa4ec_45b1),
        (Metric::L2, 0xf1e2_e8e3),
    ] {
        let bytes = file(metric);
        assert_eq!(
            bytes,
            file(metric),
            "{metric:?}: the build is deterministic"
        );
        // The checksum of everything but the 8-byte trailer (a CRC over data and its own CRC is a
        // constant, whatever the data).
        let crc = crc32c::crc32c(&bytes[..bytes.len() - 8]);
        eprintln!("{metric:?}: {} bytes, crc32c {crc:#010x}", bytes.len());
        assert_eq!(crc, expected, "{metric:?}");
    }
}
