//! The keyword side of recall: texts become terms (Unicode words, lower-cased, common English
//! words dropped, Snowball-stemmed), each part keeps an inverted index of its rows, and a
//! keyword query is scored with BM25 over the statistics of all parts together. A segment's
//! index is stored as its `nexus-terms` attachment, so an open never re-tokenizes.

use std::collections::HashMap;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

use crate::error::{Error, Result};

/// Attachment role of a segment's keyword index.
pub(crate) const TERMS_ROLE: &str = "nexus-terms";
const TERMS_VERSION: u32 = 1;
/// BM25 term-frequency saturation.
const K1: f32 = 1.2;
/// BM25 length normalisation.
const B: f32 = 0.75;

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Words too common to tell texts apart (they would only make every query slow).
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "he",
    "her", "his", "i", "in", "is", "it", "its", "of", "on", "or", "she", "that", "the", "their",
    "them", "they", "this", "to", "was", "we", "were", "which", "with", "you",
];

/// The terms of `text`, in order (repeats kept: they are term frequencies).
pub(crate) fn terms(text: &str) -> Vec<String> {
    text.unicode_words()
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| STEMMER.stem(&w).into_owned())
        .collect()
}

/// One part's inverted index: per term the rows that hold it and how often.
#[derive(Debug, Default)]
pub(crate) struct TermIndex {
    /// Terms per row (0 for a row without text: dead when built, or all stop words).
    doc_len: Vec<u32>,
    total_len: u64,
    docs: u64,
    postings: HashMap<String, Posting>,
}

#[derive(Debug, Default)]
struct Posting {
    rows: Vec<u32>,
    tf: Vec<u16>,
}

/// The archived form of a [`TermIndex`].
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, Default)]
struct TermsFile {
    version: u32,
    doc_len: Vec<u32>,
    /// Term, its rows (ascending) and their term frequencies.
    terms: Vec<(String, Vec<u32>, Vec<u16>)>,
}

impl TermIndex {
    /// Rows indexed so far.
    pub(crate) fn rows(&self) -> usize {
        self.doc_len.len()
    }

    /// Adds row `row` (rows arrive in increasing order) with `text`.
    pub(crate) fn push(&mut self, row: usize, text: &str) {
        if self.doc_len.len() <= row {
            self.doc_len.resize(row + 1, 0);
        }
        let mut counts: HashMap<String, u16> = HashMap::new();
        let mut len = 0u32;
        for t in terms(text) {
            let c = counts.entry(t).or_default();
            *c = c.saturating_add(1);
            len += 1;
        }
        self.doc_len[row] = len;
        if len > 0 {
            self.docs += 1;
            self.total_len += u64::from(len);
        }
        for (t, tf) in counts {
            let p = self.postings.entry(t).or_default();
            p.rows.push(row as u32);
            p.tf.push(tf);
        }
    }

    /// Rows `0..n`, row `r` with `text(r)` (`None`: no text, a dead row).
    pub(crate) fn build<'a>(n: usize, mut text: impl FnMut(usize) -> Option<&'a str>) -> Self {
        let mut me = TermIndex {
            doc_len: vec![0; n],
            ..TermIndex::default()
        };
        for row in 0..n {
            if let Some(t) = text(row) {
                me.push(row, t);
            }
        }
        me
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut terms: Vec<(String, Vec<u32>, Vec<u16>)> = self
            .postings
            .iter()
            .map(|(t, p)| (t.clone(), p.rows.clone(), p.tf.clone()))
            .collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let file = TermsFile {
            version: TERMS_VERSION,
            doc_len: self.doc_len.clone(),
            terms,
        };
        rkyv::to_bytes::<rkyv::rancor::Error>(&file)
            .expect("archiving numbers and strings cannot fail")
            .to_vec()
    }

    /// Decodes a segment's attachment, checked against its `rows` rows (`what` names it).
    pub(crate) fn decode(bytes: &[u8], rows: usize, what: &std::path::Path) -> Result<Self> {
        let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
        aligned.extend_from_slice(bytes);
        let f = rkyv::from_bytes::<TermsFile, rkyv::rancor::Error>(&aligned)
            .map_err(|e| Error::corrupt(what, format!("keyword index: {e}")))?;
        if f.version > TERMS_VERSION {
            return Err(Error::NewerFormat {
                path: what.into(),
                found: f.version,
                supported: TERMS_VERSION,
            });
        }
        let bad = f.doc_len.len() != rows
            || f.terms.iter().any(|(_, r, tf)| {
                r.len() != tf.len()
                    || r.iter().any(|&x| x as usize >= rows)
                    || r.windows(2).any(|w| w[0] >= w[1])
            });
        if bad {
            return Err(Error::corrupt(
                what,
                "keyword index does not match its segment",
            ));
        }
        let mut me = TermIndex {
            total_len: f.doc_len.iter().map(|&l| u64::from(l)).sum(),
            docs: f.doc_len.iter().filter(|&&l| l > 0).count() as u64,
            doc_len: f.doc_len,
            postings: HashMap::with_capacity(f.terms.len()),
        };
        for (t, rows, tf) in f.terms {
            me.postings.insert(t, Posting { rows, tf });
        }
        Ok(me)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.doc_len.capacity() * 4
            + self
                .postings
                .iter()
                .map(|(t, p)| 48 + t.capacity() + p.rows.capacity() * 4 + p.tf.capacity() * 2)
                .sum::<usize>()
    }
}

/// Corpus statistics of a keyword query across every part.
#[derive(Debug)]
pub(crate) struct Bm25 {
    /// The query's distinct terms and their inverse document frequencies.
    terms: Vec<(String, f32)>,
    avg_len: f32,
}

impl Bm25 {
    /// Statistics of `query`'s terms over `parts`; `None` when the query has no term.
    pub(crate) fn new(query: &str, parts: &[&TermIndex]) -> Option<Self> {
        let mut q = terms(query);
        q.sort_unstable();
        q.dedup();
        if q.is_empty() {
            return None;
        }
        let docs: u64 = parts.iter().map(|p| p.docs).sum();
        let total: u64 = parts.iter().map(|p| p.total_len).sum();
        let n = docs as f32;
        let terms = q
            .into_iter()
            .map(|t| {
                let df: usize = parts
                    .iter()
                    .filter_map(|p| p.postings.get(&t))
                    .map(|p| p.rows.len())
                    .sum();
                let df = df as f32;
                let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                (t, idf)
            })
            .collect();
        Some(Bm25 {
            terms,
            avg_len: if docs == 0 {
                1.0
            } else {
                total as f32 / docs as f32
            },
        })
    }

    /// BM25 of every row of `part` holding a query term that `allowed(row)` lets through.
    pub(crate) fn score(
        &self,
        part: &TermIndex,
        allowed: impl Fn(usize) -> bool,
    ) -> Vec<(u32, f32)> {
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (t, idf) in &self.terms {
            let Some(p) = part.postings.get(t) else {
                continue;
            };
            for (&row, &tf) in p.rows.iter().zip(&p.tf) {
                let dl = part.doc_len[row as usize] as f32;
                let tf = f32::from(tf);
                let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * dl / self.avg_len));
                *scores.entry(row).or_default() += s;
            }
        }
        scores
            .into_iter()
            .filter(|&(row, _)| allowed(row as usize))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercased_stemmed_words_without_stop_words() {
        assert_eq!(
            terms("The Cats were RUNNING, to the cat's house!"),
            ["cat", "run", "cat", "hous"]
        );
        assert!(terms("the of and").is_empty());
    }

    #[test]
    fn bm25_matches_the_formula_and_round_trips() {
        let texts = ["green tea", "green green tea leaves", "black coffee", "tea"];
        let idx = TermIndex::build(texts.len(), |r| Some(texts[r]));
        let back = TermIndex::decode(&idx.encode(), texts.len(), "t".as_ref()).unwrap();
        let bm = Bm25::new("green", &[&back]).unwrap();
        let mut got = bm.score(&back, |_| true);
        got.sort_by_key(|x| x.0);
        // Reference: N = 4, df = 2, lengths 2, 4, 2, 1 (avg 2.25).
        let idf = (1.0f32 + (4.0 - 2.0 + 0.5) / (2.0 + 0.5)).ln();
        let f = |tf: f32, dl: f32| idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / 2.25));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 0);
        assert!((got[0].1 - f(1.0, 2.0)).abs() < 1e-5);
        assert_eq!(got[1].0, 1);
        assert!((got[1].1 - f(2.0, 4.0)).abs() < 1e-5);
        assert!(bm.score(&back, |r| r != 1).iter().all(|x| x.0 != 1));
        assert!(Bm25::new("the", &[&back]).is_none());
    }
}
