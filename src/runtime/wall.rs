//! Wall-clock readings for timing polls: nanoseconds on the monotonic clock, from a fixed
//! point shared by the run thread and the watchdog.
//!
//! A precise reading (`CLOCK_MONOTONIC`) costs about as much as a tokio timer turn on a
//! virtual machine, and the kit times every poll. Where the kernel keeps a coarse clock
//! (`CLOCK_MONOTONIC_COARSE`, the same clock as of the last tick: a few milliseconds of
//! resolution, read without the time counter), polls are timed with it when the
//! slow-poll threshold is at least [`COARSE_FACTOR`] times its resolution, so a
//! reading is off by at most a twentieth of the threshold.

use std::time::Duration;

/// How many resolutions of the coarse clock a slow-poll threshold must span for polls
/// to be timed with it.
pub(crate) const COARSE_FACTOR: u32 = 20;

#[cfg(target_os = "linux")]
fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec the call may write; both clocks exist on every
    // Linux the standard library supports, and a failure leaves `ts` at zero.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// A precise reading.
#[cfg(target_os = "linux")]
pub(crate) fn precise() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// A reading of the coarse clock (same origin as [`precise`], never ahead of it).
#[cfg(target_os = "linux")]
pub(crate) fn coarse() -> u64 {
    read(libc::CLOCK_MONOTONIC_COARSE)
}

/// The coarse clock's resolution.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_resolution() -> Duration {
    static RES: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *RES.get_or_init(|| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: as in `read`; an error reports the resolution as unknown (`MAX`).
        let ok = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } == 0;
        if ok {
            Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
        } else {
            Duration::MAX
        }
    })
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn precise() -> u64 {
    static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    BASE.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse() -> u64 {
    precise()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_resolution() -> Duration {
    Duration::MAX
}

/// Whether polls may be timed with the coarse clock under `slow_poll`.
pub(crate) fn coarse_enough(slow_poll: Duration) -> bool {
    coarse_resolution()
        .checked_mul(COARSE_FACTOR)
        .is_some_and(|span| span <= slow_poll)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn the_coarse_clock_is_used_only_for_thresholds_it_can_time() {
        assert!(!super::coarse_enough(Duration::ZERO));
        let res = super::coarse_resolution();
        // The coarse clock is the precise one as of its last tick: never ahead of it.
        let (c, p) = (super::coarse(), super::precise());
        assert!(c <= p, "coarse {c} ahead of precise {p}");
        if res != Duration::MAX {
            assert!(super::coarse_enough(res * super::COARSE_FACTOR));
            assert!(!super::coarse_enough(
                res * super::COARSE_FACTOR - Duration::from_nanos(1)
            ));
            assert!(
                Duration::from_nanos(p - c) <= res * 2 + Duration::from_millis(1),
                "{p} {c}"
            );
        }
    }
}
