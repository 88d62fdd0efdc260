//! Time as the cache sees it: monotonic nanoseconds from an arbitrary origin, injectable so that
//! tests can move time by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock. The cache reads it only when an entry has a time to live.
pub trait Clock: Send + Sync + 'static {
    /// The time elapsed since this clock's origin. Must never go backwards.
    fn now(&self) -> Duration;
}

/// The real monotonic clock (`std::time::Instant`), with its origin at creation.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to; clones share one time. For tests of expiry.
///
/// ```
/// use std::time::Duration;
/// use nexus_cache::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let seen_by_cache = clock.clone();
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(seen_by_cache.now(), Duration::from_secs(3));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` (saturating at the end of the clock's range).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

/// Nanoseconds of `clock.now()`, saturating (a clock running 584 years is out of scope).
pub(crate) fn now_nanos(clock: &dyn Clock) -> u64 {
    u64::try_from(clock.now().as_nanos()).unwrap_or(u64::MAX)
}
