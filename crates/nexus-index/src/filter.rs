//! "May this id be returned?" — closures and bitmaps.

/// Answers whether a caller id may appear in search results.
///
/// Implemented for closures `Fn(u64) -> bool`, for [`IdSet`] (a compressed bitmap of allowed
/// ids) and for [`AllowAll`]. A filter that knows how many ids it allows and can list them
/// ([`IdSet`]) lets an index switch to an exact scan of those ids when they are few.
pub trait Filter: Sync {
    /// Whether `id` may be returned.
    fn allows(&self, id: u64) -> bool;

    /// The allowed ids, if the filter can list them cheaply (in any order).
    fn allowed_ids(&self) -> Option<Box<dyn Iterator<Item = u64> + '_>> {
        None
    }

    /// How many ids the filter allows, if known.
    fn allowed_count(&self) -> Option<u64> {
        None
    }
}

impl<F: Fn(u64) -> bool + Sync> Filter for F {
    fn allows(&self, id: u64) -> bool {
        self(id)
    }
}

/// The filter that allows every id.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Filter for AllowAll {
    fn allows(&self, _id: u64) -> bool {
        true
    }
}

/// A set of allowed ids, stored as a compressed (roaring) bitmap.
///
/// ```
/// use nexus_index::{Filter, IdSet};
/// let set: IdSet = [3u64, 7, 1 << 40].into_iter().collect();
/// assert!(set.allows(7) && !set.allows(8));
/// assert_eq!(set.allowed_count(), Some(3));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdSet(roaring::RoaringTreemap);

impl IdSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds `id`; returns whether it was new.
    pub fn insert(&mut self, id: u64) -> bool {
        self.0.insert(id)
    }
    /// Removes `id`; returns whether it was present.
    pub fn remove(&mut self, id: u64) -> bool {
        self.0.remove(id)
    }
    /// Whether `id` is in the set.
    pub fn contains(&self, id: u64) -> bool {
        self.0.contains(id)
    }
    /// Number of ids.
    pub fn len(&self) -> u64 {
        self.0.len()
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<u64> for IdSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Filter for IdSet {
    fn allows(&self, id: u64) -> bool {
        self.0.contains(id)
    }
    fn allowed_ids(&self) -> Option<Box<dyn Iterator<Item = u64> + '_>> {
        Some(Box::new(self.0.iter()))
    }
    fn allowed_count(&self) -> Option<u64> {
        Some(self.0.len())
    }
}
