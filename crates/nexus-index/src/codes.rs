//! Int8 codes for graph traversal and prefiltering: one signed byte per dimension with a
//! per-dimension symmetric scale (`x[i] ≈ scale[i] · code[i]`), trained as the maximum
//! absolute value of each dimension over a sample. The query side folds the scales into the
//! query and quantizes it to i8 with one scale of its own, so scoring a code is one i8 × i8
//! (VNNI) dot product; the candidates are then reranked exactly on f32.

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Int8Codec {
    scales: Vec<f32>,
}

impl Int8Codec {
    /// Trains on `sample` (rows of `dim`); dimensions that are zero throughout get scale 1.
    pub(crate) fn train(sample: &[f32], dim: usize) -> Self {
        let mut max_abs = vec![0.0f32; dim];
        for row in sample.chunks_exact(dim) {
            for (m, &x) in max_abs.iter_mut().zip(row) {
                *m = m.max(x.abs());
            }
        }
        let scales = max_abs
            .into_iter()
            .map(|m| if m > 0.0 { m / 127.0 } else { 1.0 })
            .collect();
        Self { scales }
    }

    pub(crate) fn from_scales(scales: Vec<f32>) -> Option<Self> {
        scales
            .iter()
            .all(|s| s.is_finite() && *s > 0.0)
            .then_some(Self { scales })
    }

    pub(crate) fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// Encodes `v` into `out` (values beyond the trained range are clamped).
    pub(crate) fn encode(&self, v: &[f32], out: &mut [i8]) {
        for ((o, &x), &s) in out.iter_mut().zip(v).zip(&self.scales) {
            *o = (x / s).round().clamp(-127.0, 127.0) as i8;
        }
    }

    /// The squared norm of the vector a code stands for.
    pub(crate) fn decoded_norm2(&self, code: &[i8]) -> f32 {
        code.iter()
            .zip(&self.scales)
            .map(|(&c, &s)| {
                let x = f32::from(c) * s;
                x * x
            })
            .sum()
    }

    /// The query with the scales folded in and quantized to i8 with one scale of its own:
    /// `scale · Σ q8·code ≈ <query, x>`, one i8 × i8 (VNNI) dot product per code.
    pub(crate) fn query_i8(&self, query: &[f32]) -> (Vec<i8>, f32) {
        let weights = self.query_weights(query);
        let max = weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        let q8 = weights
            .iter()
            .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        (q8, scale)
    }

    /// The query with the scales folded in: `<weights, code> ≈ <query, x>`.
    fn query_weights(&self, query: &[f32]) -> Vec<f32> {
        query.iter().zip(&self.scales).map(|(q, s)| q * s).collect()
    }
}
