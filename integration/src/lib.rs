//! async-testkit against real crates: the tests in `tests/` run tower, tokio-util, hyper,
//! backon, governor, moka, futures-timer, rstest and test-case under the kit, with exact
//! virtual timings. This crate is a workspace member of its own (`publish = false`) so that
//! the kit's own dependency tree stays lean.
//!
//! The library holds the recipes for crates that keep a clock of their own, which the
//! kit's virtual time cannot move:
//!
//! - governor: [`VirtualClock`] (a `governor::clock::Clock` on tokio's clock, so on the
//!   run's virtual time) and [`until_ready`] (governor's own `until_ready` sleeps on
//!   futures-timer, a real-time thread the kit cannot see: under the kit the test fails as
//!   a deadlock).
//! - moka: [`FreshCache`] (moka's time-to-live reads a real clock and has no hook for
//!   another: stamp each entry with a virtual deadline and check it on read).
//!
//! Copy them into your own test support code: they depend on nothing of the kit.

use std::hash::Hash;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

/// A `governor::clock::Clock` that reads tokio's clock: under the kit (or any paused tokio
/// runtime) it follows virtual time. Its instants are the time since the clock was made.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use async_testkit_integration::{VirtualClock, VirtualLimiter};
/// use governor::Quota;
///
/// async_testkit::run(async {
///     let limiter = VirtualLimiter::direct_with_clock(
///         Quota::per_second(NonZeroU32::new(1).unwrap()),
///         VirtualClock::new(),
///     );
///     assert!(limiter.check().is_ok());
///     assert!(limiter.check().is_err(), "one a second: the second call is refused");
///     tokio::time::sleep(Duration::from_secs(1)).await; // virtual: instant in real time
///     assert!(limiter.check().is_ok());
/// });
/// ```
#[derive(Clone, Debug)]
pub struct VirtualClock {
    start: Instant,
}

impl VirtualClock {
    /// A clock whose zero is tokio's `Instant::now()` at this call.
    ///
    /// ```
    /// use governor::clock::Clock;
    /// async_testkit::run(async {
    ///     let clock = async_testkit_integration::VirtualClock::new();
    ///     tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    ///     assert_eq!(clock.now().as_u64(), 5_000_000);
    /// });
    /// ```
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for VirtualClock {
    /// The same as [`VirtualClock::new`].
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let _clock = async_testkit_integration::VirtualClock::default();
    /// });
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.start.elapsed())
    }
}

/// A direct (unkeyed) governor rate limiter on [`VirtualClock`].
///
/// ```
/// use std::num::NonZeroU32;
/// use async_testkit_integration::{VirtualClock, VirtualLimiter};
/// async_testkit::run(async {
///     let quota = governor::Quota::per_second(NonZeroU32::new(10).unwrap());
///     let limiter = VirtualLimiter::direct_with_clock(quota, VirtualClock::new());
///     assert!(limiter.check().is_ok());
/// });
/// ```
pub type VirtualLimiter = RateLimiter<NotKeyed, InMemoryState, VirtualClock, NoOpMiddleware<Nanos>>;

/// Waits until `limiter` allows one cell, sleeping on tokio's timer (so on virtual time
/// under the kit). Use it instead of governor's `until_ready`, whose sleep is a
/// futures-timer `Delay`: a real-time timer thread the kit cannot see or advance.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use async_testkit_integration::{until_ready, VirtualClock, VirtualLimiter};
///
/// async_testkit::run(async {
///     let quota = governor::Quota::per_second(NonZeroU32::new(2).unwrap());
///     let limiter = VirtualLimiter::direct_with_clock(quota, VirtualClock::new());
///     for _ in 0..3 {
///         until_ready(&limiter).await;
///     }
///     // 2 per second with a burst of 2: two cells at once, the third 500 ms later.
///     assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(500));
/// });
/// ```
pub async fn until_ready(limiter: &VirtualLimiter) {
    loop {
        match limiter.check() {
            Ok(()) => return,
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// A quota of `per_period` cells every `period`, all of them available at once (a burst
/// of `per_period`). A shorthand for the tests.
///
/// ```
/// use std::time::Duration;
/// let quota = async_testkit_integration::quota(4, Duration::from_secs(1));
/// assert_eq!(quota.burst_size().get(), 4);
/// assert_eq!(quota.replenish_interval(), Duration::from_millis(250));
/// ```
///
/// # Panics
///
/// If `per_period` is zero or `period` is shorter than `per_period` nanoseconds.
pub fn quota(per_period: u32, period: Duration) -> Quota {
    let burst = std::num::NonZeroU32::new(per_period).expect("quota: per_period must not be 0");
    Quota::with_period(period / per_period)
        .expect("quota: period / per_period must be at least 1 ns")
        .allow_burst(burst)
}

/// A moka cache whose entries expire on tokio's clock: each value carries the virtual
/// instant it expires at, and [`get`](FreshCache::get) treats an expired one as absent
/// (and removes it). moka's own `time_to_live` reads a real clock that the kit cannot
/// move, and moka offers no clock hook, so under virtual time its entries never expire.
///
/// ```
/// use std::time::Duration;
/// use async_testkit_integration::FreshCache;
///
/// async_testkit::run(async {
///     let cache = FreshCache::new(100, Duration::from_secs(60));
///     cache.insert("k", 1);
///     tokio::time::sleep(Duration::from_secs(59)).await;
///     assert_eq!(cache.get(&"k"), Some(1));
///     tokio::time::sleep(Duration::from_secs(1)).await;
///     assert_eq!(cache.get(&"k"), None, "expired at 60 s of virtual time");
/// });
/// ```
pub struct FreshCache<K, V> {
    inner: moka::sync::Cache<K, (V, Instant)>,
    ttl: Duration,
}

impl<K, V> FreshCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache of at most `capacity` entries, each fresh for `ttl` of tokio time.
    ///
    /// ```
    /// let cache = async_testkit_integration::FreshCache::<u32, u32>::new(10, std::time::Duration::from_secs(1));
    /// assert_eq!(cache.entry_count(), 0);
    /// ```
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self {
            inner: moka::sync::Cache::new(capacity),
            ttl,
        }
    }

    /// Stores `value`, fresh until `ttl` from now.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let cache = async_testkit_integration::FreshCache::new(10, std::time::Duration::from_secs(1));
    ///     cache.insert(1, "one");
    ///     assert_eq!(cache.get(&1), Some("one"));
    /// });
    /// ```
    pub fn insert(&self, key: K, value: V) {
        self.inner.insert(key, (value, Instant::now() + self.ttl));
    }

    /// The value for `key` if it is there and fresh; an expired entry is removed.
    ///
    /// ```
    /// async_testkit::run(async {
    ///     let cache = async_testkit_integration::FreshCache::<u8, u8>::new(10, std::time::Duration::from_secs(1));
    ///     assert_eq!(cache.get(&1), None);
    /// });
    /// ```
    pub fn get(&self, key: &K) -> Option<V> {
        let (value, expires) = self.inner.get(key)?;
        if Instant::now() < expires {
            Some(value)
        } else {
            self.inner.invalidate(key);
            None
        }
    }

    /// moka's count of entries (approximate, as moka's own: expired ones count until read).
    ///
    /// ```
    /// let cache = async_testkit_integration::FreshCache::<u8, u8>::new(10, std::time::Duration::from_secs(1));
    /// assert_eq!(cache.entry_count(), 0);
    /// ```
    pub fn entry_count(&self) -> u64 {
        self.inner.entry_count()
    }
}
