//! Sums of f32 products carried in f64: the norms and inner products behind RaBitQ's factors
//! (of codes and of queries) and Matryoshka's norms.

/// Σ a·b in f64 over slices of equal length, in 8 lanes summed at the end. One chain of
/// dependent f64 adds (a plain `sum`) was a third of RaBitQ's encoding time and most of the
/// Matryoshka truncation's.
pub(crate) fn dot64(a: &[f32], b: &[f32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    let mut lanes = [0.0f64; 8];
    for (x, y) in a8.iter().zip(b8) {
        for ((l, &x), &y) in lanes.iter_mut().zip(x).zip(y) {
            *l += f64::from(x) * f64::from(y);
        }
    }
    let rest: f64 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    lanes.iter().sum::<f64>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot64_matches_a_plain_sum_at_every_length() {
        let value = |i: usize| ((i * 7919 % 1013) as f32 - 506.0) / 97.0;
        for len in 0..=70 {
            let a: Vec<f32> = (0..len).map(value).collect();
            let b: Vec<f32> = (0..len).map(|i| value(i + 31)).collect();
            let plain: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            let got = dot64(&a, &b);
            // Either order rounds: the two agree to within a few f64 ulps of Σ|a·b|.
            let scale: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| (f64::from(x) * f64::from(y)).abs())
                .sum();
            assert!(
                (got - plain).abs() <= 1e-14 * scale.max(1.0),
                "len {len}: {got} vs {plain}"
            );
        }
    }
}
