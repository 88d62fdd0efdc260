//! Byte-layout and serde round trips, and rejection of corrupt or untrained quantizers.

use nexus_quant::{
    BinaryQuantizer, Clip, CorruptReason, Error, Int8Quantizer, Int8Range, Matryoshka,
    RabitqQuantizer, Threshold,
};

const DIM: usize = 12;

fn sample() -> Vec<f32> {
    (0..30 * DIM)
        .map(|i| ((i * 7919 % 97) as f32 - 48.0) / 31.0)
        .collect()
}

/// `(name, bytes, parse)` for one quantizer of every kind and variant.
type Parse = fn(&[u8]) -> Result<(), Error>;

fn all_frames() -> Vec<(&'static str, Vec<u8>, Parse)> {
    let s = sample();
    let mut out: Vec<(&'static str, Vec<u8>, Parse)> = Vec::new();
    for t in [Threshold::Sign, Threshold::Mean, Threshold::Median] {
        let q = BinaryQuantizer::train(t, &s, DIM).unwrap();
        assert_eq!(BinaryQuantizer::from_bytes(&q.to_bytes()).unwrap(), q);
        out.push(("binary", q.to_bytes(), |b| {
            BinaryQuantizer::from_bytes(b).map(drop)
        }));
    }
    let r = RabitqQuantizer::train(&s, DIM, 0xDEAD_BEEF).unwrap();
    assert_eq!(RabitqQuantizer::from_bytes(&r.to_bytes()).unwrap(), r);
    out.push(("rabitq", r.to_bytes(), |b| {
        RabitqQuantizer::from_bytes(b).map(drop)
    }));
    for (range, clip) in [
        (Int8Range::PerDimension, Clip::MinMax),
        (Int8Range::PerDimension, Clip::Percentile(99.5)),
        (Int8Range::Global, Clip::MinMax),
        (Int8Range::Global, Clip::Percentile(90.0)),
    ] {
        let q = Int8Quantizer::train(range, clip, &s, DIM).unwrap();
        assert_eq!(Int8Quantizer::from_bytes(&q.to_bytes()).unwrap(), q);
        out.push(("int8", q.to_bytes(), |b| {
            Int8Quantizer::from_bytes(b).map(drop)
        }));
    }
    let m = Matryoshka::new(DIM, 5).unwrap();
    assert_eq!(Matryoshka::from_bytes(&m.to_bytes()).unwrap(), m);
    out.push(("mrl", m.to_bytes(), |b| Matryoshka::from_bytes(b).map(drop)));
    out
}

#[test]
fn byte_round_trips_and_reencoding_is_stable() {
    let frames = all_frames();
    assert_eq!(frames.len(), 9);
    let s = sample();
    // A reloaded quantizer encodes bit for bit as the original.
    let r = RabitqQuantizer::train(&s, DIM, 5).unwrap();
    let r2 = RabitqQuantizer::from_bytes(&r.to_bytes()).unwrap();
    assert_eq!(r.encode_batch(&s).unwrap(), r2.encode_batch(&s).unwrap());
    let q = Int8Quantizer::train(Int8Range::PerDimension, Clip::Percentile(95.0), &s, DIM).unwrap();
    let q2 = Int8Quantizer::from_bytes(&q.to_bytes()).unwrap();
    assert_eq!(q.encode_batch(&s).unwrap(), q2.encode_batch(&s).unwrap());
}

#[test]
fn header_is_the_documented_one() {
    let m = Matryoshka::new(DIM, 5).unwrap();
    let b = m.to_bytes();
    assert_eq!(&b[..8], b"NXQUANT\0");
    assert_eq!(u16::from_le_bytes([b[8], b[9]]), 2); // version
    assert_eq!(u16::from_le_bytes([b[10], b[11]]), 4); // kind
    assert_eq!(
        u32::from_le_bytes(b[12..16].try_into().unwrap()),
        DIM as u32
    );
    assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 4); // payload
    assert_eq!(u32::from_le_bytes(b[24..28].try_into().unwrap()), 5); // width
    assert_eq!(b.len(), 24 + 4 + 4);
    // The trailer is the CRC32C of everything before it.
    assert_eq!(
        u32::from_le_bytes(b[28..32].try_into().unwrap()),
        crc32c_reference(&b[..28])
    );
}

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: an independent reference
/// for the table-driven / hardware checksum the crate uses.
fn crc32c_reference(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_crc32c_reference_matches_the_standard_check_value() {
    // The check value of CRC-32C (iSCSI) for the ASCII digits "123456789".
    assert_eq!(crc32c_reference(b"123456789"), 0xE306_9283);
}

#[test]
fn a_version_1_frame_is_rejected_by_its_version() {
    // Version 1: the same header and payload, an FNV-1a 64 trailer of 8 bytes.
    let m = Matryoshka::new(DIM, 5).unwrap();
    let v2 = m.to_bytes();
    let mut v1 = v2[..v2.len() - 4].to_vec();
    v1[8..10].copy_from_slice(&1u16.to_le_bytes());
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in &v1 {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    v1.extend_from_slice(&h.to_le_bytes());
    let e = Matryoshka::from_bytes(&v1).unwrap_err();
    assert_eq!(
        e,
        Error::Corrupt {
            reason: CorruptReason::UnsupportedVersion(1)
        }
    );
    assert!(e.to_string().contains("version 1 (FNV-1a checksum)"), "{e}");
}

#[test]
fn serde_round_trips() {
    let s = sample();
    let b = BinaryQuantizer::train(Threshold::Median, &s, DIM).unwrap();
    let json = serde_json::to_string(&b).unwrap();
    assert_eq!(serde_json::from_str::<BinaryQuantizer>(&json).unwrap(), b);
    let r = RabitqQuantizer::train(&s, DIM, 9).unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<RabitqQuantizer>(&json).unwrap(), r);
    let q = Int8Quantizer::train(Int8Range::Global, Clip::Percentile(99.0), &s, DIM).unwrap();
    let json = serde_json::to_string(&q).unwrap();
    assert_eq!(serde_json::from_str::<Int8Quantizer>(&json).unwrap(), q);
    let m = Matryoshka::new(DIM, 3).unwrap();
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<Matryoshka>(&json).unwrap(), m);
}

#[test]
fn every_flipped_bit_and_every_truncation_is_rejected() {
    for (name, bytes, parse) in all_frames() {
        assert!(parse(&bytes).is_ok());
        for i in 0..bytes.len() {
            for bit in [0, 3, 7] {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(
                    matches!(parse(&b), Err(Error::Corrupt { .. })),
                    "{name}: flip of byte {i} bit {bit} accepted"
                );
            }
        }
        for len in 0..bytes.len() {
            assert!(
                matches!(parse(&bytes[..len]), Err(Error::Corrupt { .. })),
                "{name}: truncation to {len} accepted"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(parse(&longer), Err(Error::Corrupt { .. })));
    }
}

/// Rewrites the checksum after an edit, so that field validation (not the checksum) must
/// catch it.
fn reseal(b: &mut [u8]) {
    let end = b.len() - 4;
    let sum = crc32c_reference(&b[..end]);
    b[end..].copy_from_slice(&sum.to_le_bytes());
}

fn reason(r: Result<(), Error>) -> CorruptReason {
    match r {
        Err(Error::Corrupt { reason }) => reason,
        other => panic!("expected a corrupt error, got {other:?}"),
    }
}

#[test]
fn resealed_bad_fields_are_rejected_by_validation() {
    let s = sample();
    let int8 = Int8Quantizer::train(Int8Range::PerDimension, Clip::MinMax, &s, DIM).unwrap();
    let parse = |b: &[u8]| Int8Quantizer::from_bytes(b).map(drop);

    // Wrong kind, version, magic.
    let mut b = int8.to_bytes();
    b[10] = 2;
    reseal(&mut b);
    assert_eq!(reason(parse(&b)), CorruptReason::WrongKind(2));
    let mut b = int8.to_bytes();
    b[8] = 3;
    reseal(&mut b);
    assert_eq!(reason(parse(&b)), CorruptReason::UnsupportedVersion(3));
    let mut b = int8.to_bytes();
    b[0] = b'X';
    reseal(&mut b);
    assert_eq!(reason(parse(&b)), CorruptReason::BadMagic);
    // A dimension that disagrees with the payload.
    let mut b = int8.to_bytes();
    b[12] = DIM as u8 + 1;
    reseal(&mut b);
    assert_eq!(reason(parse(&b)), CorruptReason::Truncated);
    // Zero dimension.
    let mut b = int8.to_bytes();
    b[12] = 0;
    reseal(&mut b);
    assert_eq!(reason(parse(&b)), CorruptReason::InvalidField("dim"));
    // A bad range tag, a NaN lo, a zero step.
    let payload = 24;
    let mut b = int8.to_bytes();
    b[payload] = 7;
    reseal(&mut b);
    assert_eq!(reason(parse(&b)), CorruptReason::InvalidField("range"));
    let lo0 = payload + 6;
    let mut b = int8.to_bytes();
    b[lo0..lo0 + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    reseal(&mut b);
    assert_eq!(reason(parse(&b)), CorruptReason::InvalidField("lo"));
    let step0 = lo0 + 4 * DIM;
    let mut b = int8.to_bytes();
    b[step0..step0 + 4].copy_from_slice(&0.0f32.to_le_bytes());
    reseal(&mut b);
    assert_eq!(reason(parse(&b)), CorruptReason::InvalidField("step"));

    // Binary: a sign quantizer with a non-zero threshold; a positive low level.
    let bin = BinaryQuantizer::train(Threshold::Sign, &s, DIM).unwrap();
    let mut b = bin.to_bytes();
    b[payload + 1..payload + 5].copy_from_slice(&0.5f32.to_le_bytes());
    reseal(&mut b);
    assert_eq!(
        reason(BinaryQuantizer::from_bytes(&b).map(drop)),
        CorruptReason::InvalidField("thresholds")
    );
    let mut b = bin.to_bytes();
    let low0 = payload + 1 + 4 * DIM;
    b[low0..low0 + 4].copy_from_slice(&0.5f32.to_le_bytes());
    reseal(&mut b);
    assert_eq!(
        reason(BinaryQuantizer::from_bytes(&b).map(drop)),
        CorruptReason::InvalidField("levels")
    );

    // RaBitQ: an unknown rotation scheme; Matryoshka: a width above the dimension.
    let r = RabitqQuantizer::train(&s, DIM, 1).unwrap();
    let mut b = r.to_bytes();
    b[payload] = 9;
    reseal(&mut b);
    assert_eq!(
        reason(RabitqQuantizer::from_bytes(&b).map(drop)),
        CorruptReason::InvalidField("rotation scheme")
    );
    let mut b = Matryoshka::new(DIM, 5).unwrap().to_bytes();
    b[payload] = DIM as u8 + 1;
    reseal(&mut b);
    assert_eq!(
        reason(Matryoshka::from_bytes(&b).map(drop)),
        CorruptReason::InvalidField("width")
    );
}

#[test]
fn untrained_or_invalid_serde_forms_are_rejected() {
    let untrained = [
        (
            serde_json::from_str::<BinaryQuantizer>(
                r#"{"threshold":"Mean","thresholds":[],"low":[],"high":[]}"#,
            )
            .map(drop),
            "thresholds",
        ),
        (
            serde_json::from_str::<RabitqQuantizer>(r#"{"seed":1,"centroid":[]}"#).map(drop),
            "centroid",
        ),
        (
            serde_json::from_str::<Int8Quantizer>(
                r#"{"range":"Global","clip":"MinMax","lo":[],"step":[]}"#,
            )
            .map(drop),
            "ranges",
        ),
    ];
    for (r, what) in untrained {
        let msg = r.unwrap_err().to_string();
        assert!(
            msg.contains(&Error::NotTrained { what }.to_string()),
            "{msg}"
        );
    }
    // Inconsistent lengths, a non-positive step, a global quantizer with two ranges.
    for json in [
        r#"{"range":"PerDimension","clip":"MinMax","lo":[0.0,1.0],"step":[1.0]}"#,
        r#"{"range":"PerDimension","clip":"MinMax","lo":[0.0],"step":[-1.0]}"#,
        r#"{"range":"Global","clip":"MinMax","lo":[0.0,1.0],"step":[1.0,1.0]}"#,
        r#"{"range":"Global","clip":{"Percentile":10.0},"lo":[0.0],"step":[1.0]}"#,
    ] {
        assert!(
            serde_json::from_str::<Int8Quantizer>(json).is_err(),
            "{json}"
        );
    }
    assert!(
        serde_json::from_str::<BinaryQuantizer>(
            r#"{"threshold":"Sign","thresholds":[0.0],"low":[-1.0,-1.0],"high":[1.0]}"#
        )
        .is_err()
    );
    assert!(serde_json::from_str::<Matryoshka>(r#"{"dim":4,"width":5}"#).is_err());
}
