//! AVX2 + FMA kernels (and POPCNT, present on every AVX2 CPU).
//!
//! Same structure as the AVX-512 backend: safe `#[target_feature]` kernels, `unsafe` only for
//! loads and stores and in the wrappers that [`table`] hands out after checking the CPU. The
//! newer helpers are `#[inline(always)] unsafe fn`s without a `#[target_feature]` of their own
//! (as in memchr): they are inlined into the per-ISA entry points, and their `# Safety`
//! contract is the CPU feature.
//!
//! Binary one-to-many: AVX2 has no vector popcount, so the work is split between the
//! nibble-table popcount on the vector ports and scalar `popcnt` on the integer ports, which
//! run at the same time (either alone saturates first): 384-bit codes by whole codes (four of
//! six per pass on the vector ports, [`hamming_w6`]), other fixed lengths by words (the last
//! four words of each code by `popcnt`, [`hamming_fixed`]). Every binary scan touches a page
//! far ahead each time a run of its groups about a page long begins (`vector::PageTouches`):
//! codes read from DRAM came 1.3× faster on Zen 4. The one-to-one binary kernels keep the
//! scalar `popcnt` loop.
//!
//! The f32 kernels are the shared skeletons of `vector.rs` over `__m256` (two queries × four rows
//! per many-to-many tile). The f32 and i8 one-to-many scans read four rows per pass in memory order
//! and prefetch ahead of them (`vector::PREFETCH_F32_BYTES` or `vector::PREFETCH_PAGE_BYTES` as the
//! CPU prefers, `vector::PREFETCH_I8_BYTES`): the hardware prefetchers alone left the f32 scan at
//! 0.8–0.9 of the read bound on Zen 5 and Zen 4. i8 scans use `vpmaddubsw` with the sign trick when
//! the query holds no −128. The f32 × i8 scan prefetches too but stays row by row with the
//! one-to-one kernel, so that its scores are bit for bit those of `dot_f32_i8`.

use std::arch::x86_64::*;

use super::vector::{
    PF_LINES, PREFETCH_I8_BYTES, PREFETCH_I8_HINT, PageTouches, ahead_offsets, prefetch,
};
use crate::dispatch::Kernels;

// ---- loads ---------------------------------------------------------------------------------

#[inline]
#[target_feature(enable = "avx")]
fn ld(c: &[f32; 8]) -> __m256 {
    // SAFETY: `c` is 8 readable f32; an unaligned load has no alignment requirement.
    unsafe { _mm256_loadu_ps(c.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx,avx2")]
fn ld_tail(t: &[f32]) -> __m256 {
    let n = t.len().min(8) as i32;
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
    // SAFETY: the mask selects the first n <= t.len() lanes; masked-off lanes are not read (a
    // masked load does not fault on them).
    unsafe { _mm256_maskload_ps(t.as_ptr(), mask) }
}

/// The sums of four vectors, as the four lanes of one `__m128`.
#[inline]
#[target_feature(enable = "avx")]
fn reduce4(a: __m256, b: __m256, c: __m256, d: __m256) -> __m128 {
    let ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    let cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
    let (abd, cdd) = (_mm256_castps_pd(ab), _mm256_castps_pd(cd));
    let abcd = _mm256_add_ps(
        _mm256_castpd_ps(_mm256_unpacklo_pd(abd, cdd)),
        _mm256_castpd_ps(_mm256_unpackhi_pd(abd, cdd)),
    );
    _mm_add_ps(
        _mm256_castps256_ps128(abcd),
        _mm256_extractf128_ps::<1>(abcd),
    )
}

#[inline]
#[target_feature(enable = "avx")]
fn reduce1(v: __m256) -> f32 {
    let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    let h = _mm_add_ss(h, _mm_movehdup_ps(h));
    _mm_cvtss_f32(h)
}

// ---- f32 ------------------------------------------------------------------------------------

f32_backend! {
    __m256, 8, "avx2,fma", tile: 2, prefetch: PF_LINES,
    zero: _mm256_setzero_ps, load: ld, load_tail: ld_tail, add: _mm256_add_ps,
    sub: _mm256_sub_ps, mul_add: _mm256_fmadd_ps, sum: reduce1, sum4: reduce4,
}

// ---- i8 -------------------------------------------------------------------------------------

#[inline]
#[target_feature(enable = "avx2")]
fn ld_i8x16(c: &[i8; 16]) -> __m256i {
    // SAFETY: `c` is 16 readable bytes; an unaligned load has no alignment requirement.
    let v = unsafe { _mm_loadu_si128(c.as_ptr().cast()) };
    _mm256_cvtepi8_epi16(v)
}

#[target_feature(enable = "avx2")]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    // Sign-extend to i16 and multiply-add pairs into i32: exact (|x·y| ≤ 2^14, pair ≤ 2^15).
    let mut acc = [_mm256_setzero_si256(); 2];
    let (ca, ta) = a.as_chunks::<16>();
    let (cb, tb) = b.as_chunks::<16>();
    for (k, (x, y)) in ca.iter().zip(cb).enumerate() {
        let p = _mm256_madd_epi16(ld_i8x16(x), ld_i8x16(y));
        acc[k & 1] = _mm256_add_epi32(acc[k & 1], p);
    }
    let v = _mm256_add_epi32(acc[0], acc[1]);
    let h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let h = _mm_add_epi32(h, _mm_shuffle_epi32::<0b01_00_11_10>(h));
    let h = _mm_add_epi32(h, _mm_shuffle_epi32::<0b10_11_00_01>(h));
    let tail = ta.iter().zip(tb).fold(0i32, |s, (&x, &y)| {
        s.wrapping_add(i32::from(x) * i32::from(y))
    });
    _mm_cvtsi128_si32(h).wrapping_add(tail)
}

/// The sums of four vectors of i32, as the four lanes of one `__m128i` (wrapping).
///
/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn reduce4_epi32(a: __m256i, b: __m256i, c: __m256i, d: __m256i) -> __m128i {
    // SAFETY: AVX2 is available (this function's contract); no memory is touched.
    unsafe {
        let ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
        let cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
        let abcd = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
        _mm_add_epi32(
            _mm256_castsi256_si128(abcd),
            _mm256_extracti128_si256::<1>(abcd),
        )
    }
}

/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn ld_i8x32(c: &[i8; 32]) -> __m256i {
    // SAFETY: AVX2 is available (this function's contract); `c` is 32 readable bytes and an
    // unaligned load has no alignment requirement.
    unsafe { _mm256_loadu_si256(c.as_ptr().cast()) }
}

/// Σ q·x over 32 bytes, as 8 i32 lane sums added to `acc`.
///
/// With `SIGN`, one `vpmaddubsw` does the 32 products: it multiplies |x| (as u8, 0..=128) by
/// q·sign(x) (as i8), which is exact when no byte of `q` is −128: then q·sign(x) fits in i8 and
/// a pair of products in i16 (|pair| ≤ 2 · 128 · 127 = 32 512, below the saturation at
/// 32 767). Without, both sides are widened to i16 first (`vpmaddwd`), exact for all bytes.
///
/// # Safety
/// The CPU must support AVX2; with `SIGN`, no byte of `q` is −128.
#[inline(always)]
unsafe fn i8_step<const SIGN: bool>(acc: __m256i, q: __m256i, x: __m256i) -> __m256i {
    // SAFETY: AVX2 is available (this function's contract); no memory is touched.
    unsafe {
        if SIGN {
            let pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(q, x));
            _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
        } else {
            let lo = _mm256_madd_epi16(
                _mm256_cvtepi8_epi16(_mm256_castsi256_si128(x)),
                _mm256_cvtepi8_epi16(_mm256_castsi256_si128(q)),
            );
            let hi = _mm256_madd_epi16(
                _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(x)),
                _mm256_cvtepi8_epi16(_mm256_extracti128_si256::<1>(q)),
            );
            _mm256_add_epi32(acc, _mm256_add_epi32(lo, hi))
        }
    }
}

/// The first `n <= 32` bytes of `t`, zero-padded to 32.
fn pad32(t: &[i8]) -> [i8; 32] {
    let mut p = [0i8; 32];
    let n = t.len().min(32);
    p[..n].copy_from_slice(&t[..n]);
    p
}

/// [`dot_i8_one_to_many`]: four rows per pass in memory order, each 32-byte query chunk
/// loaded once for the four, their lane sums reduced together, rows prefetched
/// `PREFETCH_I8_BYTES` ahead. `SIGN` as for [`i8_step`].
///
/// # Safety
/// The CPU must support AVX2; with `SIGN`, no byte of `query` is −128.
#[inline(always)]
unsafe fn dot_i8_rows4<const SIGN: bool>(query: &[i8], block: &[i8], out: &mut [i32]) {
    let dim = query.len().max(1);
    let (qc, qt) = query.as_chunks::<32>();
    let qt = pad32(qt);
    // SAFETY: AVX2 is available and, with `SIGN`, no query byte is −128 (this function's
    // contract, which is `i8_step`'s); loads are from fixed-size arrays and the store is to a
    // 4-element one.
    unsafe {
        let qt = ld_i8x32(&qt);
        let groups = block.chunks_exact(4 * dim);
        let rest = groups.remainder();
        let ahead = ahead_offsets(block.len(), 4 * dim, PREFETCH_I8_BYTES);
        let (outs, outs_rest) = out.as_chunks_mut::<4>();
        for ((g, o), ahead) in groups.zip(outs).zip(ahead) {
            // 4 rows × 32 bytes = two lines per step: the whole group, PREFETCH_I8_BYTES on.
            let ahead = block.as_ptr().wrapping_add(ahead);
            let (r0, g) = g.split_at(dim);
            let (r1, g) = g.split_at(dim);
            let (r2, r3) = g.split_at(dim);
            let rows = [r0, r1, r2, r3].map(|r| &r.as_chunks::<32>().0[..qc.len()]);
            let mut acc = [_mm256_setzero_si256(); 4];
            for (i, q) in qc.iter().enumerate() {
                prefetch::<PREFETCH_I8_HINT, _>(ahead.wrapping_add(128 * i));
                prefetch::<PREFETCH_I8_HINT, _>(ahead.wrapping_add(128 * i + 64));
                let q = ld_i8x32(q);
                for (a, r) in acc.iter_mut().zip(&rows) {
                    *a = i8_step::<SIGN>(*a, q, ld_i8x32(&r[i]));
                }
            }
            if !dim.is_multiple_of(32) {
                // Zero bytes past the row meet zero bytes past the query: they add nothing.
                for (a, r) in acc.iter_mut().zip([r0, r1, r2, r3]) {
                    *a = i8_step::<SIGN>(*a, qt, ld_i8x32(&pad32(&r[qc.len() * 32..])));
                }
            }
            let s = reduce4_epi32(acc[0], acc[1], acc[2], acc[3]);
            _mm_storeu_si128(o.as_mut_ptr().cast(), s);
        }
        for (o, row) in outs_rest.iter_mut().zip(rest.chunks_exact(dim)) {
            *o = dot_i8(query, row);
        }
    }
}

#[target_feature(enable = "avx2")]
fn dot_i8_one_to_many(query: &[i8], block: &[i8], out: &mut [i32]) {
    // SAFETY: AVX2 is enabled on this function, so on the CPU running it; the sign trick only
    // for a query with no −128 (checked here, once per call). Symmetric int8 codecs quantize
    // to −127..=127, so scans of their codes take the faster `SIGN` path.
    unsafe {
        if query.contains(&i8::MIN) {
            dot_i8_rows4::<false>(query, block, out)
        } else {
            dot_i8_rows4::<true>(query, block, out)
        }
    }
}

#[inline]
#[target_feature(enable = "avx2")]
fn ld_i8x8_as_ps(c: &[i8; 8]) -> __m256 {
    let v = _mm_cvtsi64_si128(i64::from_le_bytes(c.map(|x| x as u8)));
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v))
}

#[target_feature(enable = "avx2,fma")]
fn dot_f32_i8(query: &[f32], code: &[i8]) -> f32 {
    let mut acc = [_mm256_setzero_ps(); 4];
    let (cq, tq) = query.as_chunks::<8>();
    let (cc, tc) = code.as_chunks::<8>();
    for (k, (q, c)) in cq.iter().zip(cc).enumerate() {
        acc[k & 3] = _mm256_fmadd_ps(ld(q), ld_i8x8_as_ps(c), acc[k & 3]);
    }
    let s = reduce1(_mm256_add_ps(
        _mm256_add_ps(acc[0], acc[1]),
        _mm256_add_ps(acc[2], acc[3]),
    ));
    s + tq
        .iter()
        .zip(tc)
        .map(|(q, &c)| q * f32::from(c))
        .sum::<f32>()
}

#[target_feature(enable = "avx2,fma")]
fn dot_f32_i8_one_to_many(query: &[f32], block: &[i8], out: &mut [f32]) {
    // Row by row with the one-to-one kernel, so that every score is bit for bit the one
    // `dot_f32_i8` gives (nexus-quant relies on it); rows prefetched ahead, in memory order.
    let dim = query.len().max(1);
    let ahead = ahead_offsets(block.len(), dim, PREFETCH_I8_BYTES);
    for ((o, row), ahead) in out.iter_mut().zip(block.chunks_exact(dim)).zip(ahead) {
        let ahead = block.as_ptr().wrapping_add(ahead);
        for line in 0..dim.div_ceil(64) {
            // SAFETY: SSE is part of x86_64 (prefetch never faults, see `prefetch`).
            unsafe { prefetch::<PREFETCH_I8_HINT, _>(ahead.wrapping_add(64 * line)) };
        }
        *o = dot_f32_i8(query, row);
    }
}

// ---- binary ---------------------------------------------------------------------------------

#[target_feature(enable = "popcnt")]
fn hamming(a: &[u64], b: &[u64]) -> u32 {
    let mut acc = [0u32; 4];
    let (ca, ta) = a.as_chunks::<4>();
    let (cb, tb) = b.as_chunks::<4>();
    for (x, y) in ca.iter().zip(cb) {
        for k in 0..4 {
            acc[k] += (x[k] ^ y[k]).count_ones();
        }
    }
    let tail: u32 = ta.iter().zip(tb).map(|(x, y)| (x ^ y).count_ones()).sum();
    acc.iter().sum::<u32>() + tail
}

/// The 16-entry nibble table of [`popcount_bytes`]: `offset + weight · popcount(nibble)`
/// (weight 2: a byte of a carry-save "twos" vector counts double; weight −1 and an offset:
/// see [`NibbleTables`]).
///
/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn nibble_table(weight: i8, offset: i8) -> __m256i {
    let t = [0i8, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4].map(|c| offset + c * weight);
    // SAFETY: AVX2 is available (this function's contract); `t` is 16 readable bytes and an
    // unaligned load has no alignment requirement.
    unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(t.as_ptr().cast())) }
}

/// The number of set bits of each byte of `v` (times the weight of `table`, from
/// [`nibble_table`]): two lookups in a 16-entry nibble table (Muła, Kurz, Lemire, "Faster
/// population counts using AVX2 instructions").
///
/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn popcount_bytes(v: __m256i, table: __m256i) -> __m256i {
    // SAFETY: AVX2 is available (this function's contract); no memory is touched.
    unsafe {
        let (lo, hi) = nibbles(v);
        _mm256_add_epi8(
            _mm256_shuffle_epi8(table, lo),
            _mm256_shuffle_epi8(table, hi),
        )
    }
}

/// The low and the high nibble of each byte of `v`, as bytes: the indices of the nibble-table
/// lookups.
///
/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn nibbles(v: __m256i) -> (__m256i, __m256i) {
    // SAFETY: AVX2 is available (this function's contract); no memory is touched.
    unsafe {
        let nibble = _mm256_set1_epi8(0x0F);
        (
            _mm256_and_si256(v, nibble),
            _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble),
        )
    }
}

/// `popcnt` of one word, on the integer ports.
///
/// In `asm!` on purpose: LLVM turns `count_ones` over several independent words into the
/// same nibble-table vector code as [`popcount_bytes`], which then competes for the vector
/// ports that the scalar words are meant to relieve (measured: 0.22 instead of 0.66 of the
/// bound on 384-bit codes).
///
/// # Safety
/// The CPU must support POPCNT.
#[inline(always)]
unsafe fn popcnt(x: u64) -> u32 {
    let n: u64;
    // SAFETY: POPCNT is available (this function's contract); the instruction reads and
    // writes registers only (and the flags, which `asm!` assumes clobbered by default).
    unsafe {
        std::arch::asm!(
            "popcnt {n}, {x}",
            x = in(reg) x,
            n = lateout(reg) n,
            options(pure, nomem, nostack),
        );
    }
    n as u32
}

/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn ld_u64x4(c: &[u64; 4]) -> __m256i {
    // SAFETY: AVX2 is available (this function's contract); `c` is 32 readable bytes and an
    // unaligned load has no alignment requirement.
    unsafe { _mm256_loadu_si256(c.as_ptr().cast()) }
}

/// Σ popcnt(c ^ q) over four words on the integer ports, both sides read from memory (one
/// `asm!` block, for the reason given at [`popcnt`]; as [`hamming_scalar_w6`]). It replaced
/// XORing the words in a vector register, storing them and letting `popcnt` read them back
/// (2.5 instructions a word instead of 4, which had measured faster than `popcnt` of XORs
/// written in Rust on Zen 5): on Zen 4 the four loads that read back one 32-byte store held
/// the scan up, and this form made `hamming/b1024/one_to_many_100k` at avx2 1.2–1.3× faster
/// (`kernels` suite, 3 interleaved pairs: 302–310 → 366–395 Mcodes/s). It repeats the pattern
/// of [`hamming_scalar_w6`] on purpose: built from one two-word block called twice (or three
/// times for six words), the scans ran slower (in-process, avx2: b1024 −17 %, b384 −8 %).
///
/// # Safety
/// The CPU must support POPCNT.
#[inline(always)]
unsafe fn xor_popcnt4(c: &[u64; 4], q: &[u64; 4]) -> u32 {
    let n: u64;
    // SAFETY: POPCNT is available (this function's contract); the block reads the 32 bytes of
    // `c` and of `q` and nothing else, and writes registers only (and the flags).
    unsafe {
        std::arch::asm!(
            "mov {a}, qword ptr [{c}]",
            "xor {a}, qword ptr [{q}]",
            "popcnt {a}, {a}",
            "mov {b}, qword ptr [{c} + 8]",
            "xor {b}, qword ptr [{q} + 8]",
            "popcnt {b}, {b}",
            "mov {d}, qword ptr [{c} + 16]",
            "xor {d}, qword ptr [{q} + 16]",
            "popcnt {d}, {d}",
            "add {a}, {b}",
            "mov {b}, qword ptr [{c} + 24]",
            "xor {b}, qword ptr [{q} + 24]",
            "popcnt {b}, {b}",
            "add {d}, {b}",
            "add {a}, {d}",
            c = in(reg) c.as_ptr(),
            q = in(reg) q.as_ptr(),
            a = out(reg) n,
            b = out(reg) _,
            d = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    n as u32
}

/// The 8 totals of 8 codes, from each code's `vpsadbw` vector (4 u64 lanes below 2^16).
///
/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn reduce8_sad(s: &[__m256i; 8]) -> __m256i {
    // SAFETY: AVX2 is available (this function's contract); no memory is touched.
    unsafe {
        // Every lane is below 2^16, so two codes share a u64 lane as (a, b << 32); then one
        // transpose-and-add gives, per 128-bit half, the partial sums of codes 0-3 (`lo`) and
        // 4-7 (`hi`); the halves are added last. (No closures here: they need not inherit
        // the caller's target features, and measured far slower when not inlined.)
        let p01 = _mm256_or_si256(s[0], _mm256_slli_epi64::<32>(s[1]));
        let p23 = _mm256_or_si256(s[2], _mm256_slli_epi64::<32>(s[3]));
        let p45 = _mm256_or_si256(s[4], _mm256_slli_epi64::<32>(s[5]));
        let p67 = _mm256_or_si256(s[6], _mm256_slli_epi64::<32>(s[7]));
        let lo = _mm256_add_epi32(
            _mm256_unpacklo_epi64(p01, p23),
            _mm256_unpackhi_epi64(p01, p23),
        );
        let hi = _mm256_add_epi32(
            _mm256_unpacklo_epi64(p45, p67),
            _mm256_unpackhi_epi64(p45, p67),
        );
        _mm256_add_epi32(
            _mm256_permute2x128_si256::<0x20>(lo, hi),
            _mm256_permute2x128_si256::<0x31>(lo, hi),
        )
    }
}

/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn store8_u32(out: &mut [u32; 8], v: __m256i) {
    // SAFETY: AVX2 is available (this function's contract); `out` is 32 writable bytes and an
    // unaligned store has no alignment requirement.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) }
}

/// [`hamming_one_to_many`] for codes of exactly `W` words, 8 codes per iteration.
///
/// The first `V` words of each code (a multiple of 4, at most 32) are counted with
/// [`popcount_bytes`] against the query held in `V / 4` registers, the other `W - V` (a
/// multiple of 4 too) by scalar `popcnt` ([`xor_popcnt4`]): the two run on different ports at
/// the same time, which is what brings the scan near the read bound (the vector ports alone
/// saturate first). Three vectors of a code at a time go through a carry-save adder first
/// (Harley–Seal: a + b + c = l + 2h bit by bit), so they cost two table popcounts instead of
/// three.
///
/// `V <= 32` keeps the query in 8 registers and a byte of counts at most 8 · 8 = 64.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[inline(always)]
unsafe fn hamming_fixed<const W: usize, const V: usize>(
    query: &[u64],
    codes: &[u64],
    out: &mut [u32],
) {
    const { assert!(V.is_multiple_of(4) && V <= W && V <= 32) };
    const { assert!((W - V).is_multiple_of(4) && W - V <= 32) };
    let q: &[u64; W] = query.try_into().expect("a query of W words");
    let (qv, _) = q[..V].as_chunks::<4>();
    // SAFETY: AVX2 and POPCNT are available (this function's contract).
    unsafe {
        let mut qr = [_mm256_setzero_si256(); 8];
        for (r, c) in qr.iter_mut().zip(qv) {
            *r = ld_u64x4(c);
        }
        let (ones, twos) = (nibble_table(1, 0), nibble_table(2, 0));
        let (qs, _) = q[V..].as_chunks::<4>();
        let zero = _mm256_setzero_si256();
        let (whole, _) = codes.as_chunks::<W>();
        let (groups, rest) = whole.as_chunks::<8>();
        let (outs, outs_rest) = out.as_chunks_mut::<8>();
        let mut pages = PageTouches::new(codes, size_of::<[[u64; W]; 8]>());
        for (g, o) in groups.iter().zip(outs) {
            pages.before(g);
            let mut sums = [zero; 8];
            let mut scalar = [0u32; 8];
            for ((code, sum), sc) in g.iter().zip(&mut sums).zip(&mut scalar) {
                let (cv, _) = code[..V].as_chunks::<4>();
                let mut bytes = zero;
                let mut j = 0;
                while j + 3 <= cv.len() {
                    let a = _mm256_xor_si256(ld_u64x4(&cv[j]), qr[j]);
                    let b = _mm256_xor_si256(ld_u64x4(&cv[j + 1]), qr[j + 1]);
                    let c = _mm256_xor_si256(ld_u64x4(&cv[j + 2]), qr[j + 2]);
                    let u = _mm256_xor_si256(a, b);
                    let l = _mm256_xor_si256(u, c);
                    let h = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c));
                    let lh = _mm256_add_epi8(popcount_bytes(l, ones), popcount_bytes(h, twos));
                    bytes = _mm256_add_epi8(bytes, lh);
                    j += 3;
                }
                for j in j..cv.len() {
                    let d = _mm256_xor_si256(ld_u64x4(&cv[j]), qr[j]);
                    bytes = _mm256_add_epi8(bytes, popcount_bytes(d, ones));
                }
                *sum = _mm256_sad_epu8(bytes, zero);
                for (c, qc) in code[V..].as_chunks::<4>().0.iter().zip(qs) {
                    *sc += xor_popcnt4(c, qc);
                }
            }
            let scalar = _mm256_loadu_si256(scalar.as_ptr().cast());
            store8_u32(o, _mm256_add_epi32(reduce8_sad(&sums), scalar));
        }
        for (o, c) in outs_rest.iter_mut().zip(rest) {
            *o = hamming(query, c);
        }
    }
}

/// The nibble tables of [`hamming_pair_w6`]: the sum of a carry-save adder's outputs `l + 2h`
/// is taken as `vpsadbw(x, y) = Σ |x − y|`, with `x = (32 + |l_lo|) + 2|h_lo|` and
/// `y = (32 − |l_hi|) − 2|h_hi|` byte by byte (lo / hi: the nibbles, |·| their popcounts). `x`
/// stays within 32..=44 and `y` within 20..=32, so no byte wraps and `x ≥ y`. Against
/// two [`popcount_bytes`] added and `vpsadbw` against zero, one instruction less per pair of
/// codes: `hamming/b384/one_to_many_100k` at avx2 1053 → 1095 Mcodes/s (Zen 4, `kernels`
/// suite, medians of 20 alternating runs).
#[derive(Clone, Copy)]
struct NibbleTables {
    /// 32 + popcount.
    up: __m256i,
    /// 32 − popcount.
    down: __m256i,
    /// 2 · popcount.
    twos: __m256i,
}

impl NibbleTables {
    /// # Safety
    /// The CPU must support AVX2.
    #[inline(always)]
    unsafe fn new() -> Self {
        // SAFETY: AVX2 is available (this function's contract).
        unsafe {
            NibbleTables {
                up: nibble_table(1, 32),
                down: nibble_table(-1, 32),
                twos: nibble_table(2, 0),
            }
        }
    }
}

/// Two 384-bit codes (12 words, three vectors) against the query: the `vpsadbw` vector
/// (code 0, code 0, code 1, code 1), whose lanes add up to the two distances.
///
/// With A, B, C the 128-bit thirds of a code, the three vectors are [0A|0B] [0C|1A] [1B|1C];
/// two lane swaps make them [0A|1B] [0B|1C] [0C|1A], where each 128-bit half belongs to one
/// code, so a carry-save adder (as in [`hamming_fixed`]) turns three table popcounts into two,
/// which [`NibbleTables`] adds up.
/// `q` is the query laid out the same way (words 0-3, 4-5 0-1, 2-5).
///
/// # Safety
/// The CPU must support AVX2.
#[inline(always)]
unsafe fn hamming_pair_w6(c: &[[u64; 4]; 3], q: &[__m256i; 3], t: NibbleTables) -> __m256i {
    // SAFETY: AVX2 is available (this function's contract); loads are from fixed-size arrays.
    unsafe {
        let y0 = _mm256_xor_si256(ld_u64x4(&c[0]), q[0]);
        let y1 = _mm256_xor_si256(ld_u64x4(&c[1]), q[1]);
        let y2 = _mm256_xor_si256(ld_u64x4(&c[2]), q[2]);
        let a = _mm256_permute2x128_si256::<0x20>(y0, y2);
        let b = _mm256_permute2x128_si256::<0x31>(y0, y2);
        let u = _mm256_xor_si256(a, b);
        let l = _mm256_xor_si256(u, y1);
        let h = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, y1));
        let (l_lo, l_hi) = nibbles(l);
        let (h_lo, h_hi) = nibbles(h);
        let x = _mm256_add_epi8(
            _mm256_shuffle_epi8(t.up, l_lo),
            _mm256_shuffle_epi8(t.twos, h_lo),
        );
        let y = _mm256_sub_epi8(
            _mm256_shuffle_epi8(t.down, l_hi),
            _mm256_shuffle_epi8(t.twos, h_hi),
        );
        _mm256_sad_epu8(x, y)
    }
}

/// Σ popcnt(c ^ q) over six words on the integer ports, summed as a tree.
///
/// One `asm!` block (for the reason given at [`popcnt`]) that reads both sides from memory:
/// with the query in six registers as well, the loop ran out of registers and reloaded its
/// pointers from the stack before every load (measured 15 % slower).
///
/// # Safety
/// The CPU must support POPCNT.
#[inline(always)]
unsafe fn hamming_scalar_w6(c: &[u64; 6], q: &[u64; 6]) -> u32 {
    let n: u64;
    // SAFETY: POPCNT is available (this function's contract); the block reads the 48 bytes of
    // `c` and of `q` (offsets 0 to 40 of each) and nothing else, writes registers only (and
    // the flags, which `asm!` assumes clobbered by default).
    unsafe {
        std::arch::asm!(
            "mov {a}, qword ptr [{c}]",
            "xor {a}, qword ptr [{q}]",
            "popcnt {a}, {a}",
            "mov {b}, qword ptr [{c} + 8]",
            "xor {b}, qword ptr [{q} + 8]",
            "popcnt {b}, {b}",
            "mov {d}, qword ptr [{c} + 16]",
            "xor {d}, qword ptr [{q} + 16]",
            "popcnt {d}, {d}",
            "add {a}, {b}",
            "mov {b}, qword ptr [{c} + 24]",
            "xor {b}, qword ptr [{q} + 24]",
            "popcnt {b}, {b}",
            "add {d}, {b}",
            "mov {b}, qword ptr [{c} + 32]",
            "xor {b}, qword ptr [{q} + 32]",
            "popcnt {b}, {b}",
            "add {a}, {d}",
            "mov {d}, qword ptr [{c} + 40]",
            "xor {d}, qword ptr [{q} + 40]",
            "popcnt {d}, {d}",
            "add {b}, {d}",
            "add {a}, {b}",
            c = in(reg) c.as_ptr(),
            q = in(reg) q.as_ptr(),
            a = out(reg) n,
            b = out(reg) _,
            d = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    n as u32
}

/// [`hamming_one_to_many`] for 384-bit codes, 6 codes per iteration: four on the vector ports
/// (two [`hamming_pair_w6`]), two by scalar `popcnt` on the integer ports, at the same time.
/// (Measured on Zen 5 over 100k codes, best of 15: 1.36–1.52 Gcodes/s against 1.15–1.29 for
/// [`hamming_fixed`]`::<6, 4>`, which splits every code 4 + 2 words; four vector codes to one,
/// three or four scalar ones 1.17–1.39, all-vector 1.04, all-scalar 0.87. The vector ports
/// and the rename width are both near saturation here.)
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[inline(always)]
unsafe fn hamming_w6(query: &[u64], codes: &[u64], out: &mut [u32]) {
    // By value: the scalar codes then keep the query in registers, not reloaded after each
    // store to `out`.
    let q: [u64; 6] = query.try_into().expect("a query of 6 words");
    let qq: [u64; 12] = std::array::from_fn(|i| q[i % 6]);
    let (qv, _) = qq.as_chunks::<4>();
    // SAFETY: AVX2 and POPCNT are available (this function's contract); loads are from
    // fixed-size arrays and the one store is to the first 4 of a 6-element array.
    unsafe {
        let qv = [ld_u64x4(&qv[0]), ld_u64x4(&qv[1]), ld_u64x4(&qv[2])];
        let tables = NibbleTables::new();
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        let (groups, _) = codes.as_chunks::<36>();
        let (outs, outs_rest) = out.as_chunks_mut::<6>();
        let mut pages = PageTouches::new(codes, size_of::<[u64; 36]>());
        for (g, o) in groups.iter().zip(outs.iter_mut()) {
            pages.before(g);
            let (v, _) = g.as_chunks::<4>();
            let (w, _) = g.as_chunks::<6>();
            let s0 = hamming_pair_w6(v[0..3].try_into().expect("3"), &qv, tables);
            let s1 = hamming_pair_w6(v[3..6].try_into().expect("3"), &qv, tables);
            o[4] = hamming_scalar_w6(&w[4], &q);
            o[5] = hamming_scalar_w6(&w[5], &q);
            // (c0, c2, c0, c2 | c1, c3, c1, c3) halves, summed, then put in order.
            let t = _mm256_or_si256(s0, _mm256_slli_epi64::<32>(s1));
            let t = _mm256_add_epi32(t, _mm256_shuffle_epi32::<0b01_00_11_10>(t));
            let t = _mm256_permutevar8x32_epi32(t, order);
            _mm_storeu_si128(o.as_mut_ptr().cast(), _mm256_castsi256_si128(t));
        }
        let done = 6 * outs.len();
        for (o, c) in outs_rest
            .iter_mut()
            .zip(codes[6 * done..].as_chunks::<6>().0)
        {
            *o = hamming_scalar_w6(c, &q);
        }
    }
}

/// [`hamming_one_to_many`] for 128-bit codes: two codes per register, 8 codes per iteration.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[inline(always)]
unsafe fn hamming_pairs(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let q = [query[0], query[1], query[0], query[1]];
    // SAFETY: AVX2 and POPCNT are available (this function's contract).
    unsafe {
        let q = ld_u64x4(&q);
        let ones = nibble_table(1, 0);
        let zero = _mm256_setzero_si256();
        // After the transpose below, lane i holds code (0, 2, 4, 6, 1, 3, 5, 7)[i].
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        let (quads, _) = codes.as_chunks::<4>();
        let (groups, _) = quads.as_chunks::<4>();
        let done = 8 * (out.len() / 8);
        let (outs, outs_rest) = out.as_chunks_mut::<8>();
        let mut pages = PageTouches::new(codes, size_of::<[[u64; 4]; 4]>());
        for (g, o) in groups.iter().zip(outs) {
            pages.before(g);
            // s[k] = (code 2k, code 2k, code 2k+1, code 2k+1) partial sums.
            let mut s = [zero; 4];
            for (sk, c) in s.iter_mut().zip(g) {
                let d = _mm256_xor_si256(ld_u64x4(c), q);
                *sk = _mm256_sad_epu8(popcount_bytes(d, ones), zero);
            }
            let a = _mm256_or_si256(s[0], _mm256_slli_epi64::<32>(s[1]));
            let b = _mm256_or_si256(s[2], _mm256_slli_epi64::<32>(s[3]));
            let v = _mm256_add_epi32(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
            store8_u32(o, _mm256_permutevar8x32_epi32(v, order));
        }
        for (o, c) in outs_rest
            .iter_mut()
            .zip(codes[2 * done..].as_chunks::<2>().0)
        {
            *o = hamming(query, c);
        }
    }
}

/// [`hamming_one_to_many`] for any code length: whole 4-word chunks by [`popcount_bytes`]
/// (the query reloaded from L1), the last `len % 4` words by [`popcnt`], 8 codes per iteration.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[inline(always)]
unsafe fn hamming_any(query: &[u64], codes: &[u64], out: &mut [u32]) {
    let words = query.len().max(1);
    let (qv, qt) = query.as_chunks::<4>();
    // SAFETY: AVX2 and POPCNT are available (this function's contract).
    unsafe {
        let ones = nibble_table(1, 0);
        let zero = _mm256_setzero_si256();
        let groups = codes.chunks_exact(8 * words);
        let rest = groups.remainder();
        let (outs, outs_rest) = out.as_chunks_mut::<8>();
        let mut pages = PageTouches::new(codes, 64 * words);
        for (g, o) in groups.zip(outs) {
            pages.before(g.as_ptr());
            let mut sums = [zero; 8];
            let mut scalar = [0u32; 8];
            for ((code, sum), sc) in g.chunks_exact(words).zip(&mut sums).zip(&mut scalar) {
                let (cv, ct) = code.as_chunks::<4>();
                // One vpsadbw per chunk: no byte can overflow, however long the code.
                let mut acc = zero;
                for (c, qc) in cv.iter().zip(qv) {
                    let d = _mm256_xor_si256(ld_u64x4(c), ld_u64x4(qc));
                    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(popcount_bytes(d, ones), zero));
                }
                *sum = acc;
                for (c, q) in ct.iter().zip(qt) {
                    *sc += popcnt(c ^ q);
                }
            }
            let scalar = _mm256_loadu_si256(scalar.as_ptr().cast());
            store8_u32(o, _mm256_add_epi32(reduce8_sad(&sums), scalar));
        }
        for (o, c) in outs_rest.iter_mut().zip(rest.chunks_exact(words)) {
            *o = hamming(query, c);
        }
    }
}

#[target_feature(enable = "avx2,popcnt")]
fn hamming_one_to_many(query: &[u64], codes: &[u64], out: &mut [u32]) {
    // How many words go to the scalar ports (W - V) was measured on 128-, 384- and 1024-bit
    // codes (docs/ARCHITECTURE.md); the other lengths follow the same rule: the odd 2 words,
    // or one 4-word chunk.
    // SAFETY: AVX2 and POPCNT are enabled on this function, so on the CPU running it. (The
    // helpers stay in bounds whatever the lengths; the public API checked them anyway.)
    unsafe {
        match query.len() {
            2 => hamming_pairs(query, codes, out),
            4 => hamming_fixed::<4, 4>(query, codes, out),
            6 => hamming_w6(query, codes, out),
            8 => hamming_fixed::<8, 4>(query, codes, out),
            12 => hamming_fixed::<12, 8>(query, codes, out),
            16 => hamming_fixed::<16, 12>(query, codes, out),
            24 => hamming_fixed::<24, 20>(query, codes, out),
            32 => hamming_fixed::<32, 28>(query, codes, out),
            _ => hamming_any(query, codes, out),
        }
    }
}

// The bit-plane kernels are the scalar ones, compiled here with `popcnt` (AVX2 has no vector
// popcount that would beat it on these short codes).
#[target_feature(enable = "popcnt")]
fn and_popcount_planes(planes: &[u64], code: &[u64]) -> u32 {
    crate::scalar::and_popcount_planes(planes, code)
}

#[target_feature(enable = "popcnt")]
fn and_popcount_planes_one_to_many(planes: &[u64], bits: usize, codes: &[u64], out: &mut [u32]) {
    crate::scalar::and_popcount_planes_one_to_many(planes, bits, codes, out)
}

#[target_feature(enable = "avx2,fma")]
fn dot_f32_bits(query: &[f32], code: &[u64]) -> f32 {
    // Bit k of a byte selects lane k: broadcast the byte, AND with 1 << lane, compare.
    let lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    let select = |bits: u64| {
        let b = _mm256_and_si256(_mm256_set1_epi32((bits & 0xFF) as i32), lane_bits);
        _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, lane_bits))
    };
    let mut acc = [_mm256_setzero_ps(); 4];
    let (cq, tq) = query.as_chunks::<8>();
    for (m, q) in cq.iter().enumerate() {
        let Some(&w) = code.get(m / 8) else { break };
        let sel = select(w >> (8 * (m % 8)));
        acc[m % 4] = _mm256_add_ps(acc[m % 4], _mm256_and_ps(sel, ld(q)));
    }
    if let Some(&w) = code.get(cq.len() / 8) {
        let m = cq.len();
        // Lanes past the query load as 0, so stray code bits there add nothing.
        let sel = select(w >> (8 * (m % 8)));
        acc[0] = _mm256_add_ps(acc[0], _mm256_and_ps(sel, ld_tail(tq)));
    }
    reduce1(_mm256_add_ps(
        _mm256_add_ps(acc[0], acc[1]),
        _mm256_add_ps(acc[2], acc[3]),
    ))
}

#[target_feature(enable = "avx2,fma")]
fn dot_f32_bits_one_to_many(query: &[f32], codes: &[u64], out: &mut [f32]) {
    let words = query.len().div_ceil(64).max(1);
    for (o, code) in out.iter_mut().zip(codes.chunks_exact(words)) {
        *o = dot_f32_bits(query, code);
    }
}

// ---- the table ------------------------------------------------------------------------------

backend_table!(Avx2);
