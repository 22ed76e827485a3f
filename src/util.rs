//! Small helpers every layer of the crate uses.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Locks a mutex, ignoring poisoning: the kit's own state stays consistent across a
/// panic because every critical section is a few assignments.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How far past now a deadline that would overflow the clock is put instead: 30 years
/// of 365 days, past the end of any test.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// A duration as whole nanoseconds, saturating at `u64::MAX` (some 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_saturate() {
        assert_eq!(nanos(Duration::from_millis(3)), 3_000_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }
}
