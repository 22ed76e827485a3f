//! Crates that bring a clock or a timer of their own: which follow the kit's virtual time
//! (backon with its tokio sleeper) and which do not (governor's `until_ready` and
//! futures-timer sleep in real time; moka's time-to-live reads a real clock), with the cure.

use std::time::Duration;

use async_testkit::time::elapsed;
use async_testkit::{Builder, FailureKind};
use async_testkit_integration::{FreshCache, VirtualClock, VirtualLimiter, quota, until_ready};
use backon::{ExponentialBuilder, Retryable};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(ms(100))
        .with_factor(2.0)
        .with_max_times(2)
}

#[test]
fn backon_multiplies_delays_in_f32_seconds() {
    use backon::BackoffBuilder;
    let delays: Vec<Duration> = backoff().build().collect();
    assert_eq!(delays, [ms(100), Duration::from_nanos(200_000_003)]);
}

#[async_testkit::test]
async fn backon_retries_on_virtual_time_with_its_f32_rounding() {
    let mut attempts = Vec::new();
    let result = (|| {
        attempts.push(elapsed());
        async { Err::<(), _>("busy") }
    })
    .retry(
        ExponentialBuilder::default()
            .with_min_delay(ms(100))
            .with_factor(2.0)
            .with_max_times(2),
    )
    .sleep(tokio::time::sleep)
    .await;
    assert_eq!(result, Err("busy"));
    // 100 ms, then 100 ms x 2.0: backon multiplies in f32 seconds, and the 200 ms comes
    // back as 200.000003 ms, which tokio rounds up to 201 ms. The true figure is 301 ms.
    assert_eq!(attempts, [ms(0), ms(100), ms(301)]);
}

#[async_testkit::test]
async fn governor_on_the_virtual_clock_spaces_cells_exactly() {
    let limiter = VirtualLimiter::direct_with_clock(quota(2, ms(1000)), VirtualClock::new());
    let mut granted = Vec::new();
    for _ in 0..5 {
        until_ready(&limiter).await;
        granted.push(elapsed());
    }
    assert_eq!(granted, [ms(0), ms(0), ms(500), ms(1000), ms(1500)]);
}

/// A timer the kit cannot see: every task waits and tokio has no timer to jump to.
fn assert_deadlock(failure: &async_testkit::Failure) {
    assert_eq!(failure.kind(), FailureKind::Deadlock, "{failure}");
    assert_eq!(
        failure.headline(),
        "deadlock: every task is waiting and no timer is pending (nothing has run since +0s)"
    );
}

#[test]
fn governors_own_until_ready_sleeps_on_futures_timer_and_is_reported_as_a_deadlock() {
    let failure = Builder::new()
        .try_run(|| async {
            let limiter = governor::RateLimiter::direct(quota(1, ms(1000)));
            limiter.until_ready().await;
            limiter.until_ready().await; // waits on a futures-timer `Delay`
        })
        .unwrap_err();
    assert_deadlock(&failure);
}

#[test]
fn a_futures_timer_delay_is_not_virtual_time() {
    let failure = Builder::new()
        .try_run(|| async { futures_timer::Delay::new(ms(100)).await })
        .unwrap_err();
    assert_deadlock(&failure);
}

#[async_testkit::test]
async fn moka_time_to_live_does_not_follow_virtual_time() {
    let cache = moka::sync::Cache::builder()
        .time_to_live(Duration::from_secs(60))
        .build();
    cache.insert("k", 1);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    // An hour of virtual time later, moka's real clock has moved microseconds.
    assert_eq!(cache.get(&"k"), Some(1));
}

#[async_testkit::test]
async fn fresh_cache_expires_on_virtual_time() {
    let cache = FreshCache::new(100, Duration::from_secs(60));
    cache.insert("k", 1);
    tokio::time::sleep(Duration::from_millis(59_999)).await;
    assert_eq!(cache.get(&"k"), Some(1));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(cache.get(&"k"), None);
}
