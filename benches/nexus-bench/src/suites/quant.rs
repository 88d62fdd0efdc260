//! The `quant` suite: what each code of `nexus-quant` costs in recall, and how fast it encodes.
//!
//! For every code, every query is scored against the whole base by the code's own score
//! (Hamming distance for `binary-sign|mean|median`, the asymmetric f32 · bits estimate for the
//! `-asym` rows, RaBitQ's unbiased estimator for `binary-rabitq`, f32 · i8 for int8, the f32
//! inner product of truncated, re-normalised vectors for `mrl<m>`). recall@10 against the
//! dataset's ground truth is then measured for the code alone (its top 10) and for a prefilter
//! of the code's top `10·r` followed by an exact f32 rerank, r ∈ {1, 2, 4, 10, 30}. Ties in the
//! code score go to the lower id.
//!
//! Rows (`impl: nexus`): `recall10/<code>/alone`, `recall10/<code>/r<r>` (recall) and
//! `encode/<code>` (vectors/s, median of repetitions of `encode_batch` over the whole base).
//! Quantizers are trained on the whole base. `--quick`: 50 queries, one encode repetition.

use nexus_dataset::{Dataset, Metric, recall_at_k};
use nexus_quant::{
    BinaryQuantizer, Clip, Int8Quantizer, Int8Range, Matryoshka, RabitqQuantizer, Threshold,
};
use rayon::prelude::*;

use crate::BenchResult;
use crate::context::Context;
use crate::report::{Row, median, progress, time_reps};

const SUITE: &str = "quant";
const K: usize = 10;
const OVERSAMPLING: [usize; 5] = [1, 2, 4, 10, 30];
const RABITQ_SEED: u64 = 0x5EED_0001;

/// Scores of one query against every base vector; larger is better.
type Scorer<'a> = Box<dyn Fn(&[f32], &mut [f32]) + Sync + 'a>;

/// The ids of the best `n` scores, best first, ties to the lower id.
fn top_n(scores: &[f32], n: usize) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..scores.len() as u32).collect();
    let order = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    let n = n.min(ids.len());
    if n < ids.len() {
        ids.select_nth_unstable_by(n, order);
        ids.truncate(n);
    }
    ids.sort_unstable_by(order);
    ids
}

/// recall@10 of the code alone and after an exact rerank of the top `10·r`, for each r.
fn recalls(
    ds: &Dataset,
    queries: usize,
    metric: Metric,
    scorer: &Scorer<'_>,
) -> BenchResult<(f64, Vec<f64>)> {
    let deepest = K * OVERSAMPLING[OVERSAMPLING.len() - 1];
    // Per query: the code's ranking of its top `deepest`.
    let shortlists: Vec<Vec<u32>> = (0..queries)
        .into_par_iter()
        .map_init(
            || vec![0f32; ds.base.len()],
            |scores, qi| {
                scorer(ds.queries.row(qi), scores);
                top_n(scores, deepest)
            },
        )
        .collect();
    let truth = ds.ground_truth.truncated(queries);
    let alone: Vec<Vec<u64>> = shortlists
        .iter()
        .map(|s| s[..K].iter().map(|&i| u64::from(i)).collect())
        .collect();
    let recall_alone = recall_at_k(&truth, &alone, K)?;
    let mut by_r = Vec::new();
    for r in OVERSAMPLING {
        let found: Vec<Vec<u64>> = shortlists
            .par_iter()
            .enumerate()
            .map(|(qi, s)| {
                let q = ds.queries.row(qi);
                let mut exact: Vec<(f64, u32)> = s[..K * r]
                    .iter()
                    .map(|&i| (metric.score(q, ds.base.row(i as usize)), i))
                    .collect();
                exact.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                exact.iter().take(K).map(|e| u64::from(e.1)).collect()
            })
            .collect();
        by_r.push(recall_at_k(&truth, &found, K)?);
    }
    Ok((recall_alone, by_r))
}

/// One code: its name, how it encodes the base (timed), and its scorer.
struct Code<'a> {
    name: String,
    encode_rate: Option<Vec<f64>>,
    scorer: Scorer<'a>,
}

fn encode_timed<T>(reps: usize, rows: usize, mut f: impl FnMut() -> T) -> (T, Vec<f64>) {
    let mut out = None;
    let secs = time_reps(reps, || out = Some(std::hint::black_box(f())));
    let rates = secs.iter().map(|s| rows as f64 / s).collect();
    (out.expect("at least one repetition"), rates)
}

fn codes<'a>(ds: &'a Dataset, reps: usize) -> BenchResult<Vec<Code<'a>>> {
    let dim = ds.base.dim();
    let base = ds.base.as_flat();
    let n = ds.base.len();
    let mut out = Vec::new();

    for (name, t) in [
        ("binary-sign", Threshold::Sign),
        ("binary-mean", Threshold::Mean),
        ("binary-median", Threshold::Median),
    ] {
        let q = BinaryQuantizer::train(t, base, dim)?;
        let (bits, rate) = encode_timed(reps, n, || q.encode_batch(base));
        let bits = std::sync::Arc::new(bits?);
        let (qh, bh) = (q.clone(), bits.clone());
        out.push(Code {
            name: name.into(),
            encode_rate: Some(rate),
            scorer: Box::new(move |query, scores| {
                let p = qh.prepare_query(query).expect("a valid query");
                let mut ham = vec![0u32; scores.len()];
                p.hamming(&bh, &mut ham);
                for (s, h) in scores.iter_mut().zip(ham) {
                    *s = -(h as f32);
                }
            }),
        });
        out.push(Code {
            name: format!("{name}-asym"),
            encode_rate: None,
            scorer: Box::new(move |query, scores| {
                q.prepare_query(query)
                    .expect("a valid query")
                    .scores(&bits, scores);
            }),
        });
    }

    let q = RabitqQuantizer::train(base, dim, RABITQ_SEED)?;
    let (codes, rate) = encode_timed(reps, n, || q.encode_batch(base));
    let codes = codes?;
    out.push(Code {
        name: "binary-rabitq".into(),
        encode_rate: Some(rate),
        scorer: Box::new(move |query, scores| {
            q.prepare_query(query).expect("a valid query").estimates(
                &codes.bits,
                &codes.factors,
                scores,
            );
        }),
    });

    for (name, range) in [
        ("int8-affine", Int8Range::PerDimension),
        ("int8-global", Int8Range::Global),
    ] {
        let q = Int8Quantizer::train(range, Clip::MinMax, base, dim)?;
        let (codes, rate) = encode_timed(reps, n, || q.encode_batch(base));
        let codes = codes?;
        out.push(Code {
            name: name.into(),
            encode_rate: Some(rate),
            scorer: Box::new(move |query, scores| {
                q.prepare_query(query)
                    .expect("a valid query")
                    .scores(&codes, scores);
            }),
        });
    }

    for m in [64, 128, 192, 256] {
        let t = Matryoshka::new(dim, m)?;
        let (short, rate) = encode_timed(reps, n, || t.encode_batch(base));
        let short = short?;
        out.push(Code {
            name: format!("mrl{m}"),
            encode_rate: Some(rate),
            scorer: Box::new(move |query, scores| {
                let q = t.encode(query).expect("a valid query");
                nexus_simd::dot_one_to_many(&q, &short, scores);
            }),
        });
    }
    Ok(out)
}

pub(crate) fn run(ctx: &Context) -> BenchResult<Vec<Row>> {
    let ds = ctx.dataset()?;
    let metric = ds.search_metric();
    let queries = if ctx.quick {
        ds.queries.len().min(50)
    } else {
        ds.queries.len()
    };
    let reps = if ctx.quick { 1 } else { 5 };
    let codes = codes(ds, reps)?;

    let mut rows = Vec::new();
    let mut table = Vec::new();
    let bar = progress(codes.len() as u64, "quant recall");
    for code in &codes {
        let (alone, by_r) = recalls(ds, queries, metric, &code.scorer)?;
        let name = &code.name;
        rows.push(Row::new(
            SUITE,
            format!("recall10/{name}/alone"),
            "nexus",
            alone,
            "recall",
        ));
        for (r, recall) in OVERSAMPLING.iter().zip(&by_r) {
            rows.push(Row::new(
                SUITE,
                format!("recall10/{name}/r{r}"),
                "nexus",
                *recall,
                "recall",
            ));
        }
        if let Some(rate) = &code.encode_rate {
            rows.push(Row::from_samples(
                SUITE,
                format!("encode/{name}"),
                "nexus",
                rate,
                "vectors/s",
            ));
        }
        table.push((
            name.clone(),
            alone,
            by_r,
            code.encode_rate.as_deref().map(median),
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();

    eprintln!(
        "quant: recall@10 on {} ({queries} queries, {} base); prefilter 10·r by code score, exact rerank",
        ds.id(),
        ds.base.len()
    );
    eprint!("{:<22} {:>7}", "code", "alone");
    for r in OVERSAMPLING {
        eprint!(" {:>7}", format!("r{r}"));
    }
    eprintln!(" {:>12}", "encode/s");
    for (name, alone, by_r, rate) in &table {
        eprint!("{name:<22} {alone:>7.4}");
        for r in by_r {
            eprint!(" {r:>7.4}");
        }
        match rate {
            Some(rate) => eprintln!(" {rate:>12.0}"),
            None => eprintln!(" {:>12}", "-"),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_is_a_sorted_prefix_with_ties_to_lower_ids() {
        let scores = [0.5f32, 0.9, 0.5, 0.1, 0.9, 0.7];
        assert_eq!(top_n(&scores, 3), vec![1, 4, 5]);
        assert_eq!(top_n(&scores, 4), vec![1, 4, 5, 0]);
        assert_eq!(top_n(&scores, 10), vec![1, 4, 5, 0, 2, 3]);
    }
}
