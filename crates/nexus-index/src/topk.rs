//! A bounded top-k collector: a min-heap of the best `k` so far, never a full sort.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A score with a payload, ordered by score (total order), then by payload (lower wins ties,
/// so the *greater* element under `Ord` is the better one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored<T> {
    pub(crate) score: f32,
    pub(crate) item: T,
}

impl<T: Ord> PartialEq for Scored<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T: Ord> Eq for Scored<T> {}
impl<T: Ord> PartialOrd for Scored<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Ord> Ord for Scored<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.item.cmp(&self.item))
    }
}

/// Keeps the best `k` items seen.
#[derive(Debug)]
pub(crate) struct TopK<T: Ord> {
    k: usize,
    // Min-heap via Reverse: the top is the worst kept.
    heap: BinaryHeap<std::cmp::Reverse<Scored<T>>>,
}

impl<T: Ord + Copy> TopK<T> {
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// The score an item must beat to enter (−∞ while not full).
    #[inline]
    pub(crate) fn threshold(&self) -> f32 {
        if self.heap.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.heap.peek().map_or(f32::NEG_INFINITY, |w| w.0.score)
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, score: f32, item: T) {
        let s = Scored { score, item };
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(s));
        } else if self.heap.peek().is_some_and(|w| s > w.0) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse(s));
        }
    }

    /// Best first.
    pub(crate) fn into_sorted(self) -> Vec<(T, f32)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|std::cmp::Reverse(s)| (s.item, s.score))
            .collect()
    }
}
